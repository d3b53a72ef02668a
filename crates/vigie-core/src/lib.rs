//! The shared vocabulary of vigie: what a model is asked ([`GenerateRequest`]),
//! what it answers ([`ModelOutput`]), how it fails ([`ModelError`]) and the
//! [`ModelApi`] trait every provider implements.
//!
//! This crate is an API boundary: providers, the engine and the log format all
//! speak these types. It has no async runtime and does no I/O.
//!
//! ```
//! use vigie_core::{ChatMessage, GenerateConfig, GenerateRequest};
//! let request = GenerateRequest {
//!     messages: vec![ChatMessage::system("Answer with a number only."), ChatMessage::user("What is 2+2?")],
//!     config: GenerateConfig { max_tokens: Some(8), ..GenerateConfig::default() },
//! };
//! assert_eq!(request.messages.len(), 2);
//! ```
#![deny(missing_docs)]

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

mod message;
mod stream;
pub use message::{ChatMessage, ContentPart, Role};
pub use stream::{BoxStream, StreamEvent};

/// A boxed future, the return type of the object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Generation settings. Every field is optional so that a task, the command
/// line and a solver can each override only what they name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling (honoured by providers that support it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Added to the logits of these token ids before sampling (OpenAI's
    /// `logit_bias`; honoured by the embedded model and OpenAI-compatible servers).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub logit_bias: std::collections::BTreeMap<u32, f32>,
    /// Keep generating past the end-of-turn token, to `max_tokens` exactly
    /// (llama.cpp's and vLLM's `ignore_eos`, for fixed-length benchmarks).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_eos: bool,
}

impl GenerateConfig {
    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn merged(&self, over: &GenerateConfig) -> GenerateConfig {
        GenerateConfig {
            temperature: over.temperature.or(self.temperature),
            top_p: over.top_p.or(self.top_p),
            top_k: over.top_k.or(self.top_k),
            max_tokens: over.max_tokens.or(self.max_tokens),
            seed: over.seed.or(self.seed),
            logit_bias: if over.logit_bias.is_empty() {
                self.logit_bias.clone()
            } else {
                over.logit_bias.clone()
            },
            ignore_eos: over.ignore_eos || self.ignore_eos,
            stop: if over.stop.is_empty() {
                self.stop.clone()
            } else {
                over.stop.clone()
            },
        }
    }

    /// Sets one field from a `key=value` pair as given on the command line
    /// (`-M temperature=0.5`). `stop` may be given several times.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |expected: &'static str| ConfigError::BadValue {
            key: key.to_string(),
            value: value.to_string(),
            expected,
        };
        match key {
            "temperature" => self.temperature = Some(value.parse().map_err(|_| bad("a number"))?),
            "top_p" => self.top_p = Some(value.parse().map_err(|_| bad("a number"))?),
            "top_k" => self.top_k = Some(value.parse().map_err(|_| bad("a whole number"))?),
            "max_tokens" => {
                self.max_tokens = Some(value.parse().map_err(|_| bad("a whole number"))?)
            }
            "seed" => self.seed = Some(value.parse().map_err(|_| bad("a whole number"))?),
            "stop" => self.stop.push(value.to_string()),
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }
}

/// A bad `key=value` generation setting.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// The key names no generation setting.
    #[error("unknown generation setting `{0}` (expected one of temperature, top_p, top_k, max_tokens, seed, stop)")]
    UnknownKey(String),
    /// The value does not parse as the setting's type.
    #[error("generation setting `{key}` = `{value}`: expected {expected}")]
    BadValue {
        /// The setting.
        key: String,
        /// The value given.
        value: String,
        /// What it should have been.
        expected: &'static str,
    },
}

/// Token counts of one or more generations.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Usage {
    /// Tokens read.
    pub input_tokens: u64,
    /// Tokens written.
    pub output_tokens: u64,
    /// Their sum (as the provider reported it, when it did).
    pub total_tokens: u64,
}

impl Usage {
    /// Adds another usage to this one.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// One request to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Generation settings.
    pub config: GenerateConfig,
}

/// What a model answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutput {
    /// The completion text.
    pub text: String,
    /// Why generation stopped, as the provider said it (`stop`, `length`, ...).
    pub stop_reason: String,
    /// Token counts.
    pub usage: Usage,
    /// Attempts beyond the first that this answer needed.
    #[serde(default)]
    pub retries: u32,
    /// Whether the answer came from the response cache.
    #[serde(default)]
    pub cached: bool,
}

/// What kind of failure a model call ended in; decides whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelErrorKind {
    /// HTTP 429 or an equivalent "slow down".
    RateLimited,
    /// A 5xx answer or an overloaded service.
    Server,
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed or was dropped.
    Connection,
    /// The body was not the JSON the API promises (truncated, HTML, ...).
    BadResponse,
    /// The request itself was refused (4xx other than 408/409/429); retrying cannot help.
    Rejected,
    /// The prompt does not fit the model's context window.
    ContextLength,
    /// Anything else that retrying cannot help (bad configuration, missing key).
    Fatal,
}

impl ModelErrorKind {
    /// Whether a later attempt of the same request may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ModelErrorKind::RateLimited
                | ModelErrorKind::Server
                | ModelErrorKind::Timeout
                | ModelErrorKind::Connection
                | ModelErrorKind::BadResponse
        )
    }
}

/// A failed model call.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{message}{}", retry_note(*.retries))]
pub struct ModelError {
    /// What kind of failure.
    pub kind: ModelErrorKind,
    /// A human-readable account, naming the status and the provider's words.
    pub message: String,
    /// Seconds the provider asked us to wait (`Retry-After`), if it did.
    pub retry_after: Option<f64>,
    /// Attempts beyond the first made before giving up.
    pub retries: u32,
}

fn retry_note(retries: u32) -> String {
    if retries == 0 {
        String::new()
    } else {
        format!(" (after {retries} retries)")
    }
}

impl ModelError {
    /// A new error of `kind` with no retries recorded yet.
    pub fn new(kind: ModelErrorKind, message: impl Into<String>) -> Self {
        ModelError {
            kind,
            message: message.into(),
            retry_after: None,
            retries: 0,
        }
    }
}

/// A model that answers chat requests. Providers implement it; the engine and
/// the solvers only ever see `dyn ModelApi`.
pub trait ModelApi: Send + Sync {
    /// The model's name as the user gave it (`openai/gpt-4o-mini`).
    fn name(&self) -> &str;

    /// Answers one request. Implementations that retry record the attempts in
    /// [`ModelOutput::retries`] or [`ModelError::retries`].
    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<ModelOutput, ModelError>>;

    /// Answers one request as a stream: pieces of text as they are decoded,
    /// then the whole output. Models that cannot stream answer in one piece.
    /// Dropping the stream abandons the request.
    fn generate_stream<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxStream<'a, Result<StreamEvent, ModelError>> {
        stream::in_one_piece(self.generate(request))
    }

    /// Continues raw text, with no chat template (the legacy completions
    /// API), as a stream. Only models that run their own template can; the
    /// others say so.
    fn complete_stream<'a>(
        &'a self,
        prompt: &'a str,
        config: &'a GenerateConfig,
    ) -> BoxStream<'a, Result<StreamEvent, ModelError>> {
        let _ = (prompt, config);
        let name = self.name().to_string();
        stream::in_one_piece(Box::pin(async move {
            Err(ModelError::new(
                ModelErrorKind::Rejected,
                format!("{name} continues chats only, not raw text; use the chat API"),
            ))
        }))
    }

    /// Whether [`ModelApi::loglikelihood`] works for this model, so that
    /// likelihood-scored tasks can be skipped up front rather than fail per sample.
    fn gives_loglikelihoods(&self) -> bool {
        false
    }

    /// The log-likelihood of each continuation as the model's reply to
    /// `messages` (the sum of its tokens' log-probabilities), for scoring
    /// multiple choice by likelihood. Models that cannot tell say so.
    fn loglikelihood<'a>(
        &'a self,
        messages: &'a [ChatMessage],
        continuations: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<f64>, ModelError>> {
        let _ = (messages, continuations);
        Box::pin(async move {
            Err(ModelError::new(
                ModelErrorKind::Fatal,
                format!("{} does not give log-likelihoods of continuations (local/ models do); use method = \"generate\"", self.name()),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_prefers_the_override_and_keeps_the_rest() {
        let base = GenerateConfig {
            temperature: Some(0.0),
            max_tokens: Some(10),
            stop: vec!["x".into()],
            ..Default::default()
        };
        let over = GenerateConfig {
            max_tokens: Some(99),
            ..Default::default()
        };
        let merged = base.merged(&over);
        assert_eq!(merged.temperature, Some(0.0));
        assert_eq!(merged.max_tokens, Some(99));
        assert_eq!(merged.stop, vec!["x".to_string()]);
    }

    #[test]
    fn set_parses_values_and_names_bad_ones() {
        let mut config = GenerateConfig::default();
        config.set("temperature", "0.7").unwrap();
        config.set("stop", "###").unwrap();
        config.set("stop", "END").unwrap();
        assert_eq!(config.temperature, Some(0.7));
        assert_eq!(config.stop, vec!["###", "END"]);
        let err = config.set("max_tokens", "lots").unwrap_err();
        assert_eq!(
            err.to_string(),
            "generation setting `max_tokens` = `lots`: expected a whole number"
        );
        assert!(matches!(
            config.set("temprature", "1"),
            Err(ConfigError::UnknownKey(_))
        ));
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        assert!(ModelErrorKind::RateLimited.is_retryable());
        assert!(ModelErrorKind::Connection.is_retryable());
        assert!(!ModelErrorKind::Rejected.is_retryable());
        assert!(!ModelErrorKind::ContextLength.is_retryable());
    }
}
