//! The reasoning settings a task or `-M` may give, in vigie's own words; each
//! provider maps them to its API (OpenAI's `reasoning_effort`, Anthropic's
//! `thinking.budget_tokens`, Gemini's `thinkingConfig`).

use serde::{Deserialize, Serialize};

/// How hard a reasoning model should think.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    /// As little as the model allows.
    Minimal,
    /// Little.
    Low,
    /// The usual default.
    Medium,
    /// Much.
    High,
}

impl ReasoningEffort {
    /// The effort as APIs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }

    /// The reasoning budget in tokens vigie gives an effort for APIs that
    /// take a budget rather than an effort (Anthropic, Gemini), and adds on
    /// top of a task's `max_tokens` for models that reason: 1,024 (minimal),
    /// 2,048 (low), 8,192 (medium), 24,576 (high).
    pub fn budget(self) -> u32 {
        match self {
            ReasoningEffort::Minimal => 1024,
            ReasoningEffort::Low => 2048,
            ReasoningEffort::Medium => 8192,
            ReasoningEffort::High => 24576,
        }
    }
}

/// Whether, and how fully, the API should return a summary of its reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningSummary {
    /// No summary.
    None,
    /// The API's choice.
    Auto,
    /// A short one.
    Concise,
    /// A long one.
    Detailed,
}

impl ReasoningSummary {
    /// The value as APIs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningSummary::None => "none",
            ReasoningSummary::Auto => "auto",
            ReasoningSummary::Concise => "concise",
            ReasoningSummary::Detailed => "detailed",
        }
    }
}

/// Which earlier reasoning is sent back to the model on later turns.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningHistory {
    /// What the API needs: every block for APIs that check them (Anthropic,
    /// OpenAI Responses, Gemini), none for OpenAI Chat Completions, which
    /// takes no reasoning back.
    #[default]
    Auto,
    /// All of it.
    All,
    /// Only the last assistant turn's.
    Last,
    /// None of it.
    None,
}

impl ReasoningHistory {
    /// The value as task files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningHistory::Auto => "auto",
            ReasoningHistory::All => "all",
            ReasoningHistory::Last => "last",
            ReasoningHistory::None => "none",
        }
    }

    /// `messages` with the reasoning this setting keeps; `auto` keeps it all
    /// (a provider whose API takes none back drops it when it writes the body).
    pub fn apply(
        self,
        messages: &[crate::ChatMessage],
    ) -> std::borrow::Cow<'_, [crate::ChatMessage]> {
        use crate::{ContentPart, Role};
        let last_assistant = messages.iter().rposition(|m| m.role == Role::Assistant);
        let keep = |i: usize| match self {
            ReasoningHistory::Auto | ReasoningHistory::All => true,
            ReasoningHistory::Last => Some(i) == last_assistant,
            ReasoningHistory::None => false,
        };
        let strips = messages.iter().enumerate().any(|(i, m)| {
            !keep(i)
                && m.content
                    .iter()
                    .any(|p| matches!(p, ContentPart::Reasoning(_)))
        });
        if !strips {
            return std::borrow::Cow::Borrowed(messages);
        }
        let mut kept = messages.to_vec();
        for (i, message) in kept.iter_mut().enumerate() {
            if !keep(i) {
                message
                    .content
                    .retain(|p| !matches!(p, ContentPart::Reasoning(_)));
            }
        }
        std::borrow::Cow::Owned(kept)
    }
}
