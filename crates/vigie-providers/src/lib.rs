//! vigie's HTTP model providers. [`resolve`] turns a model name such as
//! `openai/gpt-4o-mini` or `anthropic/claude-sonnet-4-5` into a
//! `dyn ModelApi` that adds a per-model connection limit with adaptive
//! concurrency, a request timeout, retries with exponential backoff and
//! jitter (honouring `Retry-After`), token accounting and an optional
//! on-disk response cache.
//!
//! | prefix | API | base URL (flag, then env) | key env |
//! |---|---|---|---|
//! | `openai/` | OpenAI chat completions | `OPENAI_BASE_URL`, else OpenAI's | `OPENAI_API_KEY` |
//! | `mistral/` | same | `MISTRAL_BASE_URL`, else Mistral's | `MISTRAL_API_KEY` |
//! | `vllm/` | same | `VLLM_BASE_URL`, else `http://127.0.0.1:8000/v1` | `VLLM_API_KEY` |
//! | `ollama/` | same | `OLLAMA_BASE_URL`, else `http://127.0.0.1:11434/v1` | none |
//! | `llamacpp/` | same | `LLAMACPP_BASE_URL`, else `http://127.0.0.1:8080/v1` | none |
//! | `anthropic/` | Anthropic messages | `ANTHROPIC_BASE_URL`, else Anthropic's | `ANTHROPIC_API_KEY` |

mod cache;
mod http;
mod limiter;
mod protocol;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

pub use cache::ResponseCache;
pub use http::HttpModel;
pub use limiter::AdaptiveLimiter;
pub use protocol::Protocol;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff ceiling.
    pub base: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
}

/// Counters a provider keeps as it works, for progress displays.
#[derive(Debug, Default)]
pub struct ProviderStats {
    /// HTTP requests sent (attempts).
    pub requests: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
    /// Requests in flight now.
    pub in_flight: AtomicU64,
    /// Answers served from the cache.
    pub cache_hits: AtomicU64,
}

/// Settings of a provider connection.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Base URL overriding the provider's (and its env var).
    pub base_url: Option<String>,
    /// API key overriding the provider's env var.
    pub api_key: Option<String>,
    /// Most requests in flight.
    pub max_connections: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Response cache, when enabled.
    pub cache: Option<ResponseCache>,
}

/// A model name that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No `provider/` prefix, or an unknown one.
    #[error("unknown model provider in `{0}` (expected openai/, anthropic/, mistral/, vllm/, ollama/ or llamacpp/ followed by the model name)")]
    UnknownProvider(String),
    /// The provider needs a key and none was given.
    #[error("no API key for `{model}`: set {env} or pass --api-key")]
    MissingKey {
        /// The model.
        model: String,
        /// The env var to set.
        env: &'static str,
    },
    /// The base URL is not a URL.
    #[error("bad base URL `{base}`: {reason}")]
    BadBaseUrl {
        /// The base URL given.
        base: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
}

struct ProviderInfo {
    protocol: Protocol,
    base_env: &'static str,
    default_base: &'static str,
    key_env: Option<&'static str>,
    /// Whether the default endpoint refuses requests without a key.
    key_required_by_default: bool,
}

fn provider_info(prefix: &str) -> Option<ProviderInfo> {
    let openai = |base_env, default_base, key_env, required| ProviderInfo {
        protocol: Protocol::OpenAiChat,
        base_env,
        default_base,
        key_env,
        key_required_by_default: required,
    };
    Some(match prefix {
        "openai" => openai(
            "OPENAI_BASE_URL",
            "https://api.openai.com/v1",
            Some("OPENAI_API_KEY"),
            true,
        ),
        "mistral" => openai(
            "MISTRAL_BASE_URL",
            "https://api.mistral.ai/v1",
            Some("MISTRAL_API_KEY"),
            true,
        ),
        "vllm" => openai(
            "VLLM_BASE_URL",
            "http://127.0.0.1:8000/v1",
            Some("VLLM_API_KEY"),
            false,
        ),
        "ollama" => openai("OLLAMA_BASE_URL", "http://127.0.0.1:11434/v1", None, false),
        "llamacpp" => openai("LLAMACPP_BASE_URL", "http://127.0.0.1:8080/v1", None, false),
        "anthropic" => ProviderInfo {
            protocol: Protocol::AnthropicMessages,
            base_env: "ANTHROPIC_BASE_URL",
            default_base: "https://api.anthropic.com/v1",
            key_env: Some("ANTHROPIC_API_KEY"),
            key_required_by_default: true,
        },
        _ => return None,
    })
}

/// Whether `name` is served by this crate (has a known HTTP provider prefix).
pub fn is_http_model(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(prefix, _)| provider_info(prefix).is_some())
}

/// The base URL a model name resolves to, without building a client.
pub fn base_url_for(name: &str, flag: Option<&str>) -> Option<String> {
    let (prefix, _) = name.split_once('/')?;
    let info = provider_info(prefix)?;
    Some(resolve_base(&info, flag))
}

fn resolve_base(info: &ProviderInfo, flag: Option<&str>) -> String {
    let base = flag
        .map(str::to_string)
        .or_else(|| std::env::var(info.base_env).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| info.default_base.to_string());
    base.trim_end_matches('/').to_string()
}

/// Builds an HTTP model from its name; returns it with its live counters.
pub fn resolve(
    name: &str,
    options: &ProviderOptions,
) -> Result<(Arc<HttpModel>, Arc<ProviderStats>), ProviderError> {
    let (prefix, model_id) = name
        .split_once('/')
        .filter(|(_, id)| !id.is_empty())
        .ok_or_else(|| ProviderError::UnknownProvider(name.to_string()))?;
    let info =
        provider_info(prefix).ok_or_else(|| ProviderError::UnknownProvider(name.to_string()))?;
    let base = resolve_base(&info, options.base_url.as_deref());
    let api_key = options.api_key.clone().or_else(|| {
        info.key_env
            .and_then(|env| std::env::var(env).ok())
            .filter(|k| !k.is_empty())
    });
    if api_key.is_none() && info.key_required_by_default && base == info.default_base {
        return Err(ProviderError::MissingKey {
            model: name.to_string(),
            env: info.key_env.unwrap_or("an API key variable"),
        });
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.max_connections.max(1))
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(30).min(options.timeout))
        .build()
        .map_err(|e| ProviderError::Client(e.to_string()))?;
    let stats = Arc::new(ProviderStats::default());
    let endpoint = format!("{base}{}", info.protocol.path());
    let url = reqwest::Url::parse(&endpoint).map_err(|e| ProviderError::BadBaseUrl {
        base: base.clone(),
        reason: e.to_string(),
    })?;
    let model = HttpModel {
        name: name.to_string(),
        model_id: model_id.to_string(),
        endpoint,
        url,
        api_key,
        protocol: info.protocol,
        client,
        limiter: AdaptiveLimiter::new(options.max_connections),
        timeout: options.timeout,
        retry: options.retry,
        cache: options.cache.clone(),
        stats: stats.clone(),
    };
    Ok((Arc::new(model), stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ProviderOptions {
        ProviderOptions {
            base_url: None,
            api_key: None,
            max_connections: 4,
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_retries: 1,
                base: Duration::from_millis(10),
                max_delay: Duration::from_secs(1),
            },
            cache: None,
        }
    }

    #[test]
    fn names_resolve_or_say_what_is_wrong() {
        assert!(matches!(
            resolve("gpt-4o", &options()),
            Err(ProviderError::UnknownProvider(_))
        ));
        assert!(matches!(
            resolve("foo/bar", &options()),
            Err(ProviderError::UnknownProvider(_))
        ));
        assert!(matches!(
            resolve("ollama/", &options()),
            Err(ProviderError::UnknownProvider(_))
        ));
        let with_base = ProviderOptions {
            base_url: Some("http://127.0.0.1:9/v1/".into()),
            ..options()
        };
        let (model, _) = resolve("openai/llama3", &with_base).unwrap();
        assert_eq!(model.endpoint, "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!(model.model_id, "llama3");
        let (model, _) = resolve(
            "anthropic/claude",
            &ProviderOptions {
                api_key: Some("k".into()),
                ..options()
            },
        )
        .unwrap();
        assert!(model.endpoint.ends_with("/v1/messages"));
        assert!(is_http_model("vllm/x") && !is_http_model("local/smollm2"));
    }
}
