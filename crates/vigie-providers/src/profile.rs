//! Model profiles: what a model accepts, whether it reasons, its context and
//! its prices, read from a data file (`data/profiles.toml`, built in, after
//! the user's own), and [`adapt`], which turns a task's settings into what is
//! sent to one model on one API. Tasks stay the same for every model: a
//! setting the model refuses is dropped (and the planner warns once), and a
//! reasoning model gets its reasoning budget on top of the answer's.

use std::path::Path;

use serde::Deserialize;
use vigie_core::{GenerateConfig, Price, ReasoningEffort, ReasoningSummary};

use crate::protocol::Protocol;
use crate::ProviderError;

/// Settings a profile may list as unsupported: those a task can set.
const SETTINGS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "stop",
    "logit_bias",
    "ignore_eos",
    "reasoning_effort",
    "reasoning_tokens",
    "reasoning_summary",
];

/// The reasoning budget when neither the task nor the profile gives one.
const DEFAULT_REASONING_TOKENS: u32 = 8192;

/// Whether a model reasons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningMode {
    /// It does not; reasoning settings are dropped.
    #[default]
    Never,
    /// When a task asks (`reasoning_effort` or `reasoning_tokens`).
    Optional,
    /// Always.
    Always,
}

/// What one kind of model accepts and costs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name, recorded in logs.
    pub name: String,
    /// Patterns of `provider/model` names (`*` matches any run of characters).
    pub models: Vec<String>,
    /// Whether its models reason.
    #[serde(default)]
    pub reasoning: ReasoningMode,
    /// Settings its API refuses.
    #[serde(default)]
    pub unsupported: Vec<String>,
    /// Its context window in tokens.
    #[serde(default)]
    pub context_tokens: Option<u64>,
    /// The reasoning budget when a task gives none.
    #[serde(default)]
    pub reasoning_tokens: Option<u32>,
    /// What its tokens cost.
    #[serde(default)]
    pub price: Option<Price>,
    /// For `openai/` models: `chat` (Chat Completions) or `responses`.
    #[serde(default)]
    pub api: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default, rename = "profile")]
    profiles: Vec<Profile>,
}

/// The profiles a run knows, the user's first.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    list: Vec<Profile>,
}

impl Default for Profiles {
    fn default() -> Self {
        Profiles::builtin()
    }
}

impl Profiles {
    /// The built-in profiles.
    pub fn builtin() -> Profiles {
        let list = parse(include_str!("../data/profiles.toml"), "built-in profiles")
            .expect("the built-in profiles parse (tested)");
        Profiles { list }
    }

    /// The user's profiles from `path`, ahead of the built-in ones.
    pub fn with_user_file(path: &Path) -> Result<Profiles, ProviderError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProviderError::Profiles {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut list = parse(&text, &path.display().to_string())?;
        list.extend(Profiles::builtin().list);
        Ok(Profiles { list })
    }

    /// The first profile whose pattern matches `name` (`provider/model`).
    pub fn find(&self, name: &str) -> Option<&Profile> {
        self.list
            .iter()
            .find(|p| p.models.iter().any(|pattern| glob_match(pattern, name)))
    }
}

fn parse(text: &str, origin: &str) -> Result<Vec<Profile>, ProviderError> {
    let bad = |message: String| ProviderError::Profiles {
        path: origin.to_string(),
        message,
    };
    let file: ProfileFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    for profile in &file.profiles {
        if profile.models.is_empty() {
            return Err(bad(format!(
                "profile `{}`: `models` is empty",
                profile.name
            )));
        }
        if let Some(setting) = profile
            .unsupported
            .iter()
            .find(|s| !SETTINGS.contains(&s.as_str()))
        {
            return Err(bad(format!(
                "profile `{}`: unsupported setting `{setting}` is not a generation setting (one of {})",
                profile.name,
                SETTINGS.join(", ")
            )));
        }
        if let Some(api) = profile
            .api
            .as_deref()
            .filter(|a| !matches!(*a, "chat" | "responses"))
        {
            return Err(bad(format!(
                "profile `{}`: api `{api}` is not `chat` or `responses`",
                profile.name
            )));
        }
    }
    Ok(file.profiles)
}

/// Whether `name` matches `pattern`, where `*` matches any run of
/// characters. Written here because model patterns need nothing more than
/// `*`, and a glob crate would bring path semantics they do not want.
fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// How reasoning is asked for on one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReasoningPlan {
    /// Tokens for reasoning (Anthropic's and Gemini's budget).
    pub budget: u32,
    /// The effort asked for, when asked (OpenAI's setting).
    pub effort: Option<ReasoningEffort>,
    /// The summary asked for, when asked.
    pub summary: Option<ReasoningSummary>,
}

/// A request's settings as they will be sent to one model on one API.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sent {
    /// The settings, without those the model does not accept.
    pub config: GenerateConfig,
    /// Reasoning, when the model reasons on this request.
    pub reasoning: Option<ReasoningPlan>,
    /// The most tokens to send as the limit: the answer's budget plus, for a
    /// reasoning model, the reasoning budget.
    pub max_tokens: Option<u32>,
    /// What was dropped, and why.
    pub dropped: Vec<(String, String)>,
}

/// Decides what of `config` is sent to the model named `name` on `protocol`.
pub(crate) fn adapt(
    profile: Option<&Profile>,
    protocol: Protocol,
    config: &GenerateConfig,
) -> Sent {
    let asked = config.reasoning_effort.is_some() || config.reasoning_tokens.is_some();
    // A model no profile knows reasons when the task asks: its API decides.
    let mode = profile.map_or(ReasoningMode::Optional, |p| p.reasoning);
    let reasons = match mode {
        ReasoningMode::Never => false,
        ReasoningMode::Optional => asked,
        ReasoningMode::Always => true,
    };
    let mut config = config.clone();
    let mut dropped = Vec::new();
    let mut drop = |config: &mut GenerateConfig, setting: &str, why: String| {
        if clear(config, setting) {
            dropped.push((setting.to_string(), why));
        }
    };
    if let Some(profile) = profile {
        for setting in &profile.unsupported {
            drop(
                &mut config,
                setting,
                format!("not accepted by models of profile `{}`", profile.name),
            );
        }
        if !reasons {
            for setting in ["reasoning_effort", "reasoning_tokens", "reasoning_summary"] {
                drop(
                    &mut config,
                    setting,
                    format!("models of profile `{}` do not reason", profile.name),
                );
            }
        }
    }
    for (setting, why) in protocol.refuses(reasons) {
        drop(&mut config, setting, why.to_string());
    }
    let reasoning = reasons.then(|| ReasoningPlan {
        budget: config
            .reasoning_tokens
            .or(config.reasoning_effort.map(ReasoningEffort::budget))
            .or(profile.and_then(|p| p.reasoning_tokens))
            .unwrap_or(DEFAULT_REASONING_TOKENS),
        effort: config.reasoning_effort,
        summary: config.reasoning_summary,
    });
    let max_tokens = match (config.max_tokens, reasoning) {
        (Some(answer), Some(plan)) => Some(answer.saturating_add(plan.budget)),
        (answer, _) => answer,
    };
    Sent {
        config,
        reasoning,
        max_tokens,
        dropped,
    }
}

/// Unsets `setting` in `config`; whether it was set.
fn clear(config: &mut GenerateConfig, setting: &str) -> bool {
    fn take<T>(value: &mut Option<T>) -> bool {
        value.take().is_some()
    }
    match setting {
        "temperature" => take(&mut config.temperature),
        "top_p" => take(&mut config.top_p),
        "top_k" => take(&mut config.top_k),
        "seed" => take(&mut config.seed),
        "reasoning_effort" => take(&mut config.reasoning_effort),
        "reasoning_tokens" => take(&mut config.reasoning_tokens),
        "reasoning_summary" => take(&mut config.reasoning_summary),
        "stop" => !std::mem::take(&mut config.stop).is_empty(),
        "logit_bias" => !std::mem::take(&mut config.logit_bias).is_empty(),
        "ignore_eos" => std::mem::take(&mut config.ignore_eos),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_with_stars_only() {
        assert!(glob_match("openai/o3*", "openai/o3-mini"));
        assert!(glob_match("openai/o3*", "openai/o3"));
        assert!(!glob_match("openai/o3*", "openai/gpt-4o"));
        assert!(glob_match("*/deepseek-r1*", "vllm/deepseek-r1-distill"));
        assert!(glob_match(
            "bedrock/*anthropic.claude-sonnet-4*",
            "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0"
        ));
        assert!(glob_match("a*b*c", "aXbYc") && !glob_match("a*b*c", "aXcYb"));
        assert!(glob_match("exact", "exact") && !glob_match("exact", "exactly"));
        assert!(!glob_match("ab*ba", "aba"), "the ends may not overlap");
    }

    #[test]
    fn builtin_profiles_parse_and_the_first_match_wins() {
        let profiles = Profiles::builtin();
        assert_eq!(profiles.find("openai/gpt-5").unwrap().name, "openai-gpt-5");
        assert_eq!(
            profiles.find("openai/gpt-5-mini").unwrap().name,
            "openai-gpt-5-mini"
        );
        assert_eq!(
            profiles.find("openai/o1-preview").unwrap().name,
            "openai-reasoning"
        );
        assert_eq!(
            profiles
                .find("anthropic/claude-opus-4-5-20251101")
                .unwrap()
                .name,
            "anthropic-opus-4-5"
        );
        assert_eq!(
            profiles.find("anthropic/claude-opus-4-1").unwrap().name,
            "anthropic-opus-4"
        );
        assert_eq!(
            profiles
                .find("anthropic/claude-3-5-haiku-latest")
                .unwrap()
                .name,
            "anthropic"
        );
        assert!(profiles.find("vllm/llama-3").is_none());
    }

    #[test]
    fn a_user_file_comes_first_and_bad_ones_say_where_and_what() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "[[profile]]\nname = \"mine\"\nmodels = [\"openai/gpt-5*\"]\nreasoning = \"never\"\n",
        )
        .unwrap();
        let profiles = Profiles::with_user_file(&path).unwrap();
        assert_eq!(profiles.find("openai/gpt-5").unwrap().name, "mine");
        assert_eq!(profiles.find("openai/o1").unwrap().name, "openai-reasoning");
        std::fs::write(
            &path,
            "[[profile]]\nname = \"bad\"\nmodels = [\"x/*\"]\nunsupported = [\"temprature\"]\n",
        )
        .unwrap();
        let err = Profiles::with_user_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("mine.toml") && err.contains("`temprature` is not a generation setting"),
            "{err}"
        );
        std::fs::write(&path, "[[profile]]\nname = \"bad\"\nmodel = [\"x/*\"]\n").unwrap();
        let err = Profiles::with_user_file(&path).unwrap_err().to_string();
        assert!(err.contains("unknown field `model`"), "{err}");
    }

    fn task_settings() -> GenerateConfig {
        GenerateConfig {
            temperature: Some(0.0),
            max_tokens: Some(16),
            stop: vec!["\n".into()],
            ..GenerateConfig::default()
        }
    }

    #[test]
    fn a_reasoning_model_drops_sampling_and_gets_its_budget_on_top() {
        let profiles = Profiles::builtin();
        let sent = adapt(
            profiles.find("openai/o3"),
            Protocol::OpenAiChat,
            &task_settings(),
        );
        assert_eq!(sent.config.temperature, None);
        assert!(sent.config.stop.is_empty());
        assert_eq!(
            sent.dropped
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>(),
            ["temperature", "stop"]
        );
        assert_eq!(sent.max_tokens, Some(16 + 8192));
        let mut asked = task_settings();
        asked.reasoning_tokens = Some(1000);
        let sent = adapt(profiles.find("openai/o3"), Protocol::OpenAiChat, &asked);
        assert_eq!(
            sent.max_tokens,
            Some(1016),
            "reasoning_tokens overrides the budget"
        );
    }

    #[test]
    fn optional_reasoning_is_on_when_asked_and_thinking_drops_temperature() {
        let profiles = Profiles::builtin();
        let claude = profiles.find("anthropic/claude-sonnet-4-5");
        let plain = adapt(claude, Protocol::AnthropicMessages, &task_settings());
        assert_eq!(
            (plain.reasoning, plain.config.temperature),
            (None, Some(0.0))
        );
        let mut asked = task_settings();
        asked.reasoning_effort = Some(ReasoningEffort::Low);
        let thinking = adapt(claude, Protocol::AnthropicMessages, &asked);
        assert_eq!(thinking.reasoning.unwrap().budget, 2048);
        assert_eq!(thinking.config.temperature, None);
        assert_eq!(thinking.max_tokens, Some(2048 + 16));
        let haiku = profiles.find("anthropic/claude-3-5-haiku");
        let never = adapt(haiku, Protocol::AnthropicMessages, &asked);
        assert_eq!(never.reasoning, None);
        assert!(never.dropped.iter().any(|(s, why)| s == "reasoning_effort"
            && why == "models of profile `anthropic` do not reason"));
    }
}
