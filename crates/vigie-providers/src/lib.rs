//! vigie's HTTP model providers. [`resolve`] turns a model name such as
//! `openai/gpt-4o-mini` or `anthropic/claude-sonnet-4-5` into a
//! `dyn ModelApi` that adds a per-model connection limit with adaptive
//! concurrency, a request timeout, retries with exponential backoff and
//! jitter (honouring `Retry-After`), token accounting, an optional on-disk
//! response cache, and the model's profile ([`profile`]): which settings it
//! accepts, whether it reasons, what it costs.
//!
//! | prefix | API | base URL (flag, then env) | credentials |
//! |---|---|---|---|
//! | `openai/` | OpenAI Chat Completions, or the Responses API (`OPENAI_API=responses`, or a profile's `api`) | `OPENAI_BASE_URL`, else OpenAI's | `OPENAI_API_KEY` |
//! | `azure/DEPLOYMENT` | Azure OpenAI (chat completions of a deployment) | `AZURE_OPENAI_ENDPOINT` (`https://NAME.openai.azure.com`) | `AZURE_OPENAI_API_KEY` (`api-key` header) or `AZURE_OPENAI_AD_TOKEN` (bearer); `AZURE_OPENAI_API_VERSION` (default `2024-10-21`) |
//! | `mistral/` | OpenAI Chat Completions | `MISTRAL_BASE_URL`, else Mistral's | `MISTRAL_API_KEY` |
//! | `vllm/` | same | `VLLM_BASE_URL`, else `http://127.0.0.1:8000/v1` | `VLLM_API_KEY` |
//! | `ollama/` | same | `OLLAMA_BASE_URL`, else `http://127.0.0.1:11434/v1` | none |
//! | `llamacpp/` | same | `LLAMACPP_BASE_URL`, else `http://127.0.0.1:8080/v1` | none |
//! | `anthropic/` | Anthropic Messages | `ANTHROPIC_BASE_URL`, else Anthropic's | `ANTHROPIC_API_KEY` |
//! | `google/` | Gemini `generateContent` | `GOOGLE_BASE_URL`, else Google's `v1beta` | `GOOGLE_API_KEY` or `GEMINI_API_KEY` (`x-goog-api-key`), or `GOOGLE_ACCESS_TOKEN` (bearer) |
//! | `bedrock/MODEL_ID` | AWS Bedrock Converse, SigV4-signed | `BEDROCK_BASE_URL`, else `https://bedrock-runtime.REGION.amazonaws.com` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, or the profile files (`AWS_PROFILE`) |

mod aws;
mod cache;
mod http;
mod limiter;
pub mod profile;
mod protocol;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

pub use cache::ResponseCache;
pub use http::HttpModel;
pub use limiter::AdaptiveLimiter;
pub use profile::{Profile, Profiles};
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
    /// The model profiles to look the model up in.
    pub profiles: Arc<Profiles>,
}

/// A model name that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No `provider/` prefix, or an unknown one.
    #[error("unknown model provider in `{0}` (expected openai/, azure/, anthropic/, google/, bedrock/, mistral/, vllm/, ollama/ or llamacpp/ followed by the model name)")]
    UnknownProvider(String),
    /// A provider whose endpoint has no default was given none.
    #[error("no endpoint for `{model}`: set {env} or pass --base-url")]
    MissingBase {
        /// The model.
        model: String,
        /// The env var to set.
        env: &'static str,
    },
    /// No AWS credentials were found.
    #[error("no AWS credentials for Bedrock: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile `{profile}` keys in ~/.aws/credentials (AWS_PROFILE picks another)")]
    MissingAwsCredentials {
        /// The profile looked in.
        profile: String,
    },
    /// No AWS region was found.
    #[error("no AWS region for Bedrock: set AWS_REGION, or `region` in ~/.aws/config")]
    MissingAwsRegion,
    /// A profile file could not be read.
    #[error("model profiles {path}: {message}")]
    Profiles {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
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

/// How a provider is reached.
struct ProviderInfo {
    protocol: Protocol,
    base_env: &'static str,
    /// The endpoint when neither flag nor env gives one (`None`: one is needed).
    default_base: Option<&'static str>,
    /// The key env vars, in order of preference.
    key_env: &'static [&'static str],
    /// Whether the default endpoint refuses requests without a key.
    key_required_by_default: bool,
}

fn provider_info(prefix: &str) -> Option<ProviderInfo> {
    let openai = |base_env, default_base, key_env, required| ProviderInfo {
        protocol: Protocol::OpenAiChat,
        base_env,
        default_base: Some(default_base),
        key_env,
        key_required_by_default: required,
    };
    Some(match prefix {
        "openai" => openai(
            "OPENAI_BASE_URL",
            "https://api.openai.com/v1",
            &["OPENAI_API_KEY"],
            true,
        ),
        "azure" => ProviderInfo {
            protocol: Protocol::OpenAiChat,
            base_env: "AZURE_OPENAI_ENDPOINT",
            default_base: None,
            key_env: &["AZURE_OPENAI_API_KEY"],
            key_required_by_default: false,
        },
        "mistral" => openai(
            "MISTRAL_BASE_URL",
            "https://api.mistral.ai/v1",
            &["MISTRAL_API_KEY"],
            true,
        ),
        "vllm" => openai(
            "VLLM_BASE_URL",
            "http://127.0.0.1:8000/v1",
            &["VLLM_API_KEY"],
            false,
        ),
        "ollama" => openai("OLLAMA_BASE_URL", "http://127.0.0.1:11434/v1", &[], false),
        "llamacpp" => openai("LLAMACPP_BASE_URL", "http://127.0.0.1:8080/v1", &[], false),
        "anthropic" => ProviderInfo {
            protocol: Protocol::AnthropicMessages,
            base_env: "ANTHROPIC_BASE_URL",
            default_base: Some("https://api.anthropic.com/v1"),
            key_env: &["ANTHROPIC_API_KEY"],
            key_required_by_default: true,
        },
        "google" => ProviderInfo {
            protocol: Protocol::Gemini,
            base_env: "GOOGLE_BASE_URL",
            default_base: Some("https://generativelanguage.googleapis.com/v1beta"),
            key_env: &["GOOGLE_API_KEY", "GEMINI_API_KEY"],
            key_required_by_default: false,
        },
        "bedrock" => ProviderInfo {
            protocol: Protocol::BedrockConverse,
            base_env: "BEDROCK_BASE_URL",
            default_base: None,
            key_env: &[],
            key_required_by_default: false,
        },
        _ => return None,
    })
}

/// The environment variables that hold the credentials of the model `name`
/// (keys, or AWS's for Bedrock), for a job file to take from a secret store;
/// empty for a provider that needs none or a name this crate does not serve.
pub fn credential_env(name: &str) -> Vec<&'static str> {
    let Some((prefix, _)) = name.split_once('/') else {
        return Vec::new();
    };
    match prefix {
        "bedrock" => vec![
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
        ],
        _ => provider_info(prefix).map_or(Vec::new(), |i| i.key_env.to_vec()),
    }
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
    resolve_base(&info, flag).or_else(|| {
        (prefix == "bedrock")
            .then(|| aws::AwsSources::from_process().region().ok())
            .flatten()
            .map(|region| bedrock_base(&region))
    })
}

fn bedrock_base(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

fn resolve_base(info: &ProviderInfo, flag: Option<&str>) -> Option<String> {
    let base = flag
        .map(str::to_string)
        .or_else(|| env(info.base_env))
        .or_else(|| info.default_base.map(str::to_string))?;
    Some(base.trim_end_matches('/').to_string())
}

/// How a request is authenticated.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// Nothing.
    None,
    /// `Authorization: Bearer KEY`.
    Bearer(String),
    /// A header of the provider's (`x-api-key`, `api-key`, `x-goog-api-key`).
    Header(&'static str, String),
    /// AWS SigV4.
    SigV4(aws::Signer),
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
    let profile = options.profiles.find(name).cloned();
    let mut protocol = info.protocol;
    if prefix == "openai" {
        let api = profile
            .as_ref()
            .and_then(|p| p.api.clone())
            .or_else(|| env("OPENAI_API"));
        if api.as_deref() == Some("responses") {
            protocol = Protocol::OpenAiResponses;
        }
    }
    let key = options
        .api_key
        .clone()
        .or_else(|| info.key_env.iter().find_map(|e| env(e)));
    let (base, auth) = match prefix {
        "bedrock" => {
            let sources = aws::AwsSources::from_process();
            let region = sources.region()?;
            let base = resolve_base(&info, options.base_url.as_deref())
                .unwrap_or_else(|| bedrock_base(&region));
            let signer = aws::Signer {
                credentials: sources.credentials()?,
                region,
                service: "bedrock",
            };
            (base, Auth::SigV4(signer))
        }
        _ => {
            let base = resolve_base(&info, options.base_url.as_deref()).ok_or_else(|| {
                ProviderError::MissingBase {
                    model: name.to_string(),
                    env: info.base_env,
                }
            })?;
            if key.is_none()
                && info.key_required_by_default
                && Some(base.as_str()) == info.default_base
            {
                return Err(ProviderError::MissingKey {
                    model: name.to_string(),
                    env: info
                        .key_env
                        .first()
                        .copied()
                        .unwrap_or("an API key variable"),
                });
            }
            let auth = match (prefix, key) {
                ("azure", Some(key)) => Auth::Header("api-key", key),
                ("azure", None) => match env("AZURE_OPENAI_AD_TOKEN") {
                    Some(token) => Auth::Bearer(token),
                    None => {
                        return Err(ProviderError::MissingKey {
                            model: name.to_string(),
                            env: "AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN)",
                        })
                    }
                },
                ("anthropic", Some(key)) => Auth::Header("x-api-key", key),
                ("google", Some(key)) => Auth::Header("x-goog-api-key", key),
                ("google", None) => env("GOOGLE_ACCESS_TOKEN").map_or(Auth::None, Auth::Bearer),
                (_, Some(key)) => Auth::Bearer(key),
                (_, None) => Auth::None,
            };
            (base, auth)
        }
    };
    let endpoint = if prefix == "azure" {
        let version = env("AZURE_OPENAI_API_VERSION").unwrap_or_else(|| "2024-10-21".into());
        let base = base.trim_end_matches("/openai");
        format!("{base}/openai/deployments/{model_id}/chat/completions?api-version={version}")
    } else {
        format!("{base}{}", protocol.path(model_id))
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.max_connections.max(1))
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(30).min(options.timeout))
        .build()
        .map_err(|e| ProviderError::Client(e.to_string()))?;
    let stats = Arc::new(ProviderStats::default());
    let url = reqwest::Url::parse(&endpoint).map_err(|e| ProviderError::BadBaseUrl {
        base: base.clone(),
        reason: e.to_string(),
    })?;
    let model = HttpModel {
        name: name.to_string(),
        model_id: model_id.to_string(),
        endpoint,
        url,
        auth,
        protocol,
        profile,
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
            profiles: Arc::new(Profiles::builtin()),
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
