//! The shared vocabulary of vigie: what a model is asked ([`GenerateRequest`]),
//! what it answers ([`ModelOutput`]), how it fails ([`ModelError`]) and the
//! [`ModelApi`] trait every provider implements.
//!
//! This crate is an API boundary: providers, the engine and the log format all
//! speak these types. It has no async runtime and does no I/O.
//!
//! ```
//! use vigie_core::{ChatMessage, GenerateConfig, GenerateRequest};
//! let request = GenerateRequest::new(
//!     vec![ChatMessage::system("Answer with a number only."), ChatMessage::user("What is 2+2?")],
//!     GenerateConfig { max_tokens: Some(8), ..GenerateConfig::default() },
//! );
//! assert_eq!(request.messages.len(), 2);
//! ```
#![deny(missing_docs)]

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

mod message;
mod reasoning;
mod stream;
mod tool;
pub use message::{ChatMessage, ContentPart, Reasoning, Role, ToolCall, ToolResult};
pub use reasoning::{ReasoningEffort, ReasoningHistory, ReasoningSummary};
pub use stream::{BoxStream, StreamEvent};
pub use tool::{ToolChoice, ToolDef};

/// A boxed future, the return type of the object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Generation settings. Every field is optional so that a task, the command
/// line and a solver can each override only what they name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Most tokens of the answer. For a model that reasons, its reasoning
    /// budget is sent on top (see `reasoning_tokens`), so that a task's
    /// budget means the same on every model.
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
    /// How hard a reasoning model thinks (OpenAI's `reasoning_effort`; a
    /// budget, [`ReasoningEffort::budget`], for APIs that take one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// The reasoning budget in tokens (Anthropic's `budget_tokens`, Gemini's
    /// `thinkingBudget`), added to `max_tokens` for models that reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u32>,
    /// Whether the API returns a summary of its reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_summary: Option<ReasoningSummary>,
    /// Which earlier reasoning goes back to the model on later turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_history: Option<ReasoningHistory>,
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
            reasoning_effort: over.reasoning_effort.or(self.reasoning_effort),
            reasoning_tokens: over.reasoning_tokens.or(self.reasoning_tokens),
            reasoning_summary: over.reasoning_summary.or(self.reasoning_summary),
            reasoning_history: over.reasoning_history.or(self.reasoning_history),
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
        // `KEY=none` unsets a setting a task gave, so that it is not sent.
        if value == "none" && key != "reasoning_summary" && key != "reasoning_history" {
            match key {
                "temperature" => self.temperature = None,
                "top_p" => self.top_p = None,
                "top_k" => self.top_k = None,
                "max_tokens" => self.max_tokens = None,
                "seed" => self.seed = None,
                "stop" => self.stop.clear(),
                "reasoning_effort" => self.reasoning_effort = None,
                "reasoning_tokens" => self.reasoning_tokens = None,
                _ => return Err(ConfigError::UnknownKey(key.to_string())),
            }
            return Ok(());
        }
        match key {
            "temperature" => self.temperature = Some(value.parse().map_err(|_| bad("a number"))?),
            "top_p" => self.top_p = Some(value.parse().map_err(|_| bad("a number"))?),
            "top_k" => self.top_k = Some(value.parse().map_err(|_| bad("a whole number"))?),
            "max_tokens" => {
                self.max_tokens = Some(value.parse().map_err(|_| bad("a whole number"))?)
            }
            "seed" => self.seed = Some(value.parse().map_err(|_| bad("a whole number"))?),
            "stop" => self.stop.push(value.to_string()),
            "reasoning_effort" => {
                self.reasoning_effort =
                    Some(from_word(value).map_err(|_| bad("minimal, low, medium or high"))?)
            }
            "reasoning_tokens" => {
                self.reasoning_tokens = Some(value.parse().map_err(|_| bad("a whole number"))?)
            }
            "reasoning_summary" => {
                self.reasoning_summary =
                    Some(from_word(value).map_err(|_| bad("none, auto, concise or detailed"))?)
            }
            "reasoning_history" => {
                self.reasoning_history =
                    Some(from_word(value).map_err(|_| bad("auto, all, last or none"))?)
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }
}

/// A one-word enum value as serde spells it.
fn from_word<T: serde::de::DeserializeOwned>(word: &str) -> Result<T, serde_json::Error> {
    serde_json::from_value(serde_json::Value::String(word.to_string()))
}

/// A bad `key=value` generation setting.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// The key names no generation setting.
    #[error("unknown generation setting `{0}` (expected one of temperature, top_p, top_k, max_tokens, seed, stop, reasoning_effort, reasoning_tokens, reasoning_summary, reasoning_history)")]
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
    /// Of `output_tokens`, those spent reasoning (not in the answer).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_tokens: u64,
    /// Of `input_tokens`, those the API read from its prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_input_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Usage {
    /// Adds another usage to this one.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
    }
}

/// What a model's tokens cost, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input tokens read fresh.
    pub input: f64,
    /// Per million output tokens (reasoning included).
    pub output: f64,
    /// Per million input tokens read from the API's prompt cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}

impl Price {
    /// The cost of `usage` in US dollars.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let fresh = usage.input_tokens - cached;
        (fresh as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + usage.output_tokens as f64 * self.output)
            / 1e6
    }
}

/// How a model will be sent a run's generation settings: the profile that
/// decided it, the settings it does not accept (dropped, not sent), whether
/// it reasons, and what its tokens cost. The planner turns it into one
/// warning per dropped setting, instead of a failed request per sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adaptation {
    /// The profile's name, when one matched the model.
    pub profile: Option<String>,
    /// Settings that are not sent, each with why (`temperature`: "reasoning models take no sampling settings").
    pub dropped: Vec<(String, String)>,
    /// Whether the model reasons with these settings.
    pub reasons: bool,
    /// The most tokens the answer and its reasoning may take together, as sent.
    pub max_tokens_sent: Option<u32>,
    /// What its tokens cost, when known.
    pub price: Option<Price>,
    /// Its context window in tokens, when known.
    pub context_tokens: Option<u64>,
}

/// One request to a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Generation settings.
    pub config: GenerateConfig,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDef>,
    /// Whether and which it must call (when there are tools).
    #[serde(default)]
    pub tool_choice: ToolChoice,
}

impl GenerateRequest {
    /// A request of these messages with these settings and no tools.
    pub fn new(messages: Vec<ChatMessage>, config: GenerateConfig) -> Self {
        GenerateRequest {
            messages,
            config,
            ..GenerateRequest::default()
        }
    }
}

/// Why a model stopped, in the same words for every API; the API's own word
/// is kept beside it ([`ModelOutput::stop_reason`]).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It finished its answer (or met a stop sequence).
    #[default]
    Stop,
    /// It ran out of tokens.
    MaxTokens,
    /// It called tools and waits for their results.
    ToolCalls,
    /// The API's content filter stopped it.
    ContentFilter,
    /// The model refused (an API that says so: Anthropic's `refusal`).
    Refusal,
    /// The API gave a reason vigie does not know.
    Unknown,
}

impl StopReason {
    /// The reason as logs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Stop => "stop",
            StopReason::MaxTokens => "max_tokens",
            StopReason::ToolCalls => "tool_calls",
            StopReason::ContentFilter => "content_filter",
            StopReason::Refusal => "refusal",
            StopReason::Unknown => "unknown",
        }
    }

    /// Reads any API's word for why it stopped: OpenAI's `finish_reason`,
    /// Anthropic's `stop_reason`, Gemini's `finishReason`, Bedrock's `stopReason`.
    pub fn from_api(word: &str) -> StopReason {
        match word {
            "stop" | "end_turn" | "stop_sequence" | "STOP" | "completed" | "eos" => {
                StopReason::Stop
            }
            "length" | "max_tokens" | "MAX_TOKENS" | "max_output_tokens" | "incomplete" => {
                StopReason::MaxTokens
            }
            "tool_calls" | "tool_use" | "function_call" => StopReason::ToolCalls,
            "content_filter"
            | "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "guardrail_intervened"
            | "content_filtered" => StopReason::ContentFilter,
            "refusal" => StopReason::Refusal,
            _ => StopReason::Unknown,
        }
    }
}

/// What a model answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOutput {
    /// The answer's text: what scorers read.
    pub text: String,
    /// The model's reasoning before it answered, as the API returned it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning: Vec<Reasoning>,
    /// Tools it called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped, in vigie's words.
    #[serde(default)]
    pub stop: StopReason,
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

impl ModelOutput {
    /// An answer of text alone, with the API's word for why it stopped.
    pub fn of_text(text: impl Into<String>, stop_reason: impl Into<String>, usage: Usage) -> Self {
        let stop_reason = stop_reason.into();
        ModelOutput {
            text: text.into(),
            stop: StopReason::from_api(&stop_reason),
            stop_reason,
            usage,
            ..ModelOutput::default()
        }
    }

    /// The answer as the assistant's turn of a conversation: its reasoning,
    /// its text, then its tool calls, so the next request carries them all.
    pub fn message(&self) -> ChatMessage {
        let mut content = Vec::with_capacity(self.reasoning.len() + 1 + self.tool_calls.len());
        content.extend(self.reasoning.iter().cloned().map(ContentPart::Reasoning));
        if !self.text.is_empty() || self.tool_calls.is_empty() {
            content.push(ContentPart::Text {
                text: self.text.clone(),
            });
        }
        content.extend(self.tool_calls.iter().cloned().map(ContentPart::ToolCall));
        ChatMessage {
            role: Role::Assistant,
            content,
        }
    }
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
    /// The API refused a parameter or setting of the request itself (HTTP 400
    /// naming it), so every request like it will fail the same way.
    Unsupported,
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

    /// How this model will be sent `config`: what it drops, whether it
    /// reasons, its price. Models without profiles send everything as is.
    fn adaptation(&self, config: &GenerateConfig) -> Adaptation {
        Adaptation {
            max_tokens_sent: config.max_tokens,
            ..Adaptation::default()
        }
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
        config.set("reasoning_effort", "high").unwrap();
        config.set("reasoning_history", "none").unwrap();
        assert_eq!(
            (config.reasoning_effort, config.reasoning_history),
            (Some(ReasoningEffort::High), Some(ReasoningHistory::None))
        );
        let err = config.set("reasoning_effort", "max").unwrap_err();
        assert_eq!(
            err.to_string(),
            "generation setting `reasoning_effort` = `max`: expected minimal, low, medium or high"
        );
        config.set("temperature", "none").unwrap();
        config.set("stop", "none").unwrap();
        assert_eq!(
            (config.temperature, config.stop.len()),
            (None, 0),
            "`none` unsets"
        );
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        assert!(ModelErrorKind::RateLimited.is_retryable());
        assert!(ModelErrorKind::Connection.is_retryable());
        assert!(!ModelErrorKind::Rejected.is_retryable());
        assert!(!ModelErrorKind::ContextLength.is_retryable());
    }
}
