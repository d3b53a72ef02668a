//! The wire protocols: each builds a request body from vigie's messages and
//! settings as sent ([`crate::profile::Sent`]) and reads an answer into a
//! [`ModelOutput`]; none does I/O. One module per API:
//! [`openai_chat`], [`openai_responses`], [`anthropic`], [`gemini`],
//! [`bedrock`]. What they share (checking a conversation's tool results,
//! classifying errors) is here.

mod anthropic;
mod bedrock;
mod gemini;
mod openai_chat;
mod openai_responses;

use std::collections::HashMap;

use serde_json::Value;
use vigie_core::{
    ChatMessage, ContentPart, GenerateRequest, ModelError, ModelErrorKind, ModelOutput, Role,
};

use crate::profile::Sent;

/// Which API an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI Chat Completions, `POST {base}/chat/completions` (and every
    /// OpenAI-compatible server; Azure OpenAI's deployments).
    OpenAiChat,
    /// The OpenAI Responses API, `POST {base}/responses`.
    OpenAiResponses,
    /// Anthropic Messages, `POST {base}/messages`.
    AnthropicMessages,
    /// Google Gemini, `POST {base}/models/{model}:generateContent`.
    Gemini,
    /// AWS Bedrock Converse, `POST {base}/model/{model}/converse`.
    BedrockConverse,
}

impl Protocol {
    /// The endpoint path under the base URL, for the provider's model id.
    pub fn path(self, model_id: &str) -> String {
        match self {
            Protocol::OpenAiChat => "/chat/completions".into(),
            Protocol::OpenAiResponses => "/responses".into(),
            Protocol::AnthropicMessages => "/messages".into(),
            Protocol::Gemini => format!("/models/{model_id}:generateContent"),
            Protocol::BedrockConverse => format!("/model/{}/converse", path_escape(model_id)),
        }
    }

    /// The settings this API refuses, whatever the model (with `reasons`:
    /// while the model reasons), and why.
    pub(crate) fn refuses(self, reasons: bool) -> Vec<(&'static str, &'static str)> {
        const NO_SEED: (&str, &str) = ("seed", "this API takes no seed");
        const NO_BIAS: (&str, &str) = ("logit_bias", "this API takes no logit_bias");
        const NO_EOS: (&str, &str) = ("ignore_eos", "this API takes no ignore_eos");
        let mut refused = match self {
            Protocol::OpenAiChat => vec![],
            Protocol::OpenAiResponses => vec![
                NO_SEED,
                NO_BIAS,
                NO_EOS,
                ("top_k", "the Responses API takes no top_k"),
                ("stop", "the Responses API takes no stop sequences"),
            ],
            Protocol::AnthropicMessages => vec![NO_SEED, NO_BIAS, NO_EOS],
            Protocol::Gemini => vec![NO_BIAS, NO_EOS],
            Protocol::BedrockConverse => vec![
                NO_SEED,
                NO_BIAS,
                NO_EOS,
                ("top_k", "Bedrock Converse takes no top_k"),
            ],
        };
        match self {
            Protocol::OpenAiChat => refused.push((
                "reasoning_summary",
                "OpenAI Chat Completions returns no reasoning summaries (the Responses API does)",
            )),
            Protocol::AnthropicMessages | Protocol::BedrockConverse => refused.push((
                "reasoning_summary",
                "Anthropic's thinking is returned as it is, with no summary setting",
            )),
            Protocol::OpenAiResponses | Protocol::Gemini => {}
        }
        if reasons
            && matches!(
                self,
                Protocol::AnthropicMessages | Protocol::BedrockConverse
            )
        {
            let why = "Anthropic's extended thinking takes no sampling settings";
            refused.extend([("temperature", why), ("top_p", why), ("top_k", why)]);
        }
        refused
    }

    /// The JSON body of a request to `model` (the provider's own model name).
    pub(crate) fn body(
        self,
        model: &str,
        request: &GenerateRequest,
        sent: &Sent,
    ) -> Result<Value, ModelError> {
        let calls = check_conversation(&request.messages)?;
        let history = request.config.reasoning_history.unwrap_or_default();
        let messages = history.apply(&request.messages);
        let conversation = Conversation {
            messages: &messages,
            calls: &calls,
            explicit_history: request.config.reasoning_history
                == Some(vigie_core::ReasoningHistory::All),
        };
        match self {
            Protocol::OpenAiChat => openai_chat::body(model, &conversation, request, sent),
            Protocol::OpenAiResponses => {
                openai_responses::body(model, &conversation, request, sent)
            }
            Protocol::AnthropicMessages => anthropic::body(model, &conversation, request, sent),
            Protocol::Gemini => gemini::body(&conversation, request, sent),
            Protocol::BedrockConverse => bedrock::body(&conversation, request, sent),
        }
    }

    /// Reads a 200 answer.
    pub(crate) fn parse(self, body: &[u8]) -> Result<ModelOutput, ModelError> {
        let read: fn(&Value) -> Option<ModelOutput> = match self {
            // The hot path of most evaluations: read into typed fields at once.
            Protocol::OpenAiChat => {
                return openai_chat::parse(body).map_err(|e| {
                    let what = if e.is_syntax() || e.is_eof() {
                        format!("the answer is not JSON ({e})")
                    } else {
                        format!("the answer is not a chat completion answer ({e})")
                    };
                    bad_response(format!("{what}: {}", snippet(body)))
                })
            }
            Protocol::OpenAiResponses => openai_responses::parse,
            Protocol::AnthropicMessages => anthropic::parse,
            Protocol::Gemini => gemini::parse,
            Protocol::BedrockConverse => bedrock::parse,
        };
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            bad_response(format!("the answer is not JSON ({e}): {}", snippet(body)))
        })?;
        read(&value).ok_or_else(|| {
            bad_response(format!(
                "the answer is not a {} answer: {}",
                self.api_name(),
                snippet(body)
            ))
        })
    }

    /// The API's name, for messages.
    pub fn api_name(self) -> &'static str {
        match self {
            Protocol::OpenAiChat => "chat completion",
            Protocol::OpenAiResponses => "Responses API",
            Protocol::AnthropicMessages => "Anthropic message",
            Protocol::Gemini => "Gemini generateContent",
            Protocol::BedrockConverse => "Bedrock Converse",
        }
    }

    /// Classifies a non-200 answer.
    pub fn classify(self, status: u16, body: &[u8]) -> ModelError {
        let message = error_message(body);
        let kind = match status {
            429 => ModelErrorKind::RateLimited,
            408 | 409 | 500..=599 => ModelErrorKind::Server,
            400 | 413 if looks_like_context_overflow(&message) => ModelErrorKind::ContextLength,
            400 | 422 if names_a_parameter(&message) => ModelErrorKind::Unsupported,
            _ => ModelErrorKind::Rejected,
        };
        ModelError::new(kind, format!("HTTP {status}: {message}"))
    }
}

/// A conversation ready to write: its messages after the reasoning-history
/// setting, and each tool call's name by id (Gemini answers by name).
pub(crate) struct Conversation<'a> {
    pub messages: &'a [ChatMessage],
    pub calls: &'a HashMap<String, String>,
    /// `reasoning_history = "all"` was asked for explicitly.
    pub explicit_history: bool,
}

/// Checks what no API would accept, before sending: a tool result must
/// answer a call an earlier assistant turn made. Returns call names by id.
fn check_conversation(messages: &[ChatMessage]) -> Result<HashMap<String, String>, ModelError> {
    let mut calls = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        for part in &message.content {
            match part {
                ContentPart::ToolCall(call) if message.role == Role::Assistant => {
                    calls.insert(call.id.clone(), call.name.clone());
                }
                ContentPart::ToolResult(result) if !calls.contains_key(&result.call_id) => {
                    return Err(bad_request(format!(
                        "messages[{i}]: a tool result for call `{}`, which no earlier tool call made",
                        result.call_id
                    )));
                }
                ContentPart::ToolCall(call) => {
                    return Err(bad_request(format!(
                        "messages[{i}]: a tool call (`{}`) in a {} message; only the assistant calls tools",
                        call.id,
                        message.role.as_str()
                    )))
                }
                _ => {}
            }
        }
    }
    Ok(calls)
}

/// A request that cannot be written for this API; no retry can help.
pub(crate) fn bad_request(message: String) -> ModelError {
    ModelError::new(ModelErrorKind::Fatal, message)
}

fn bad_response(message: String) -> ModelError {
    ModelError::new(ModelErrorKind::BadResponse, message)
}

/// The text of a system message's parts, for APIs that take the system
/// prompt apart from the conversation.
pub(crate) fn system_text(messages: &[ChatMessage]) -> Option<String> {
    let system: Vec<String> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(ChatMessage::text)
        .collect();
    (!system.is_empty()).then(|| system.join("\n\n"))
}

/// Appends a turn to `turns` (`{"role": ..., field: items}`); a user turn
/// right after another (tool results, then the user's words) joins it, as
/// Gemini and Bedrock want turns to alternate.
pub(crate) fn push_turn(turns: &mut Vec<Value>, role: &str, field: &str, items: Vec<Value>) {
    let last = turns
        .last_mut()
        .filter(|last| role == "user" && last["role"] == role);
    match last.and_then(|last| last[field].as_array_mut()) {
        Some(existing) => existing.extend(items),
        None => turns.push(serde_json::json!({"role": role, field: items})),
    }
}

/// Sets `key` in a request body when the setting has a value.
pub(crate) fn put<T: serde::Serialize>(
    body: &mut serde_json::Map<String, Value>,
    key: &str,
    value: Option<T>,
) {
    if let Some(value) = value {
        body.insert(key.into(), serde_json::json!(value));
    }
}

/// A string field of an answer, or empty.
pub(crate) fn text_at(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The API's word for why it stopped, or `unknown`.
pub(crate) fn word_at(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string()
}

/// A tool call whose arguments arrive as a JSON object under `arguments`
/// (Anthropic's `input`, Gemini's `args`, Bedrock's `input`).
pub(crate) fn object_call(id: String, call: &Value, arguments: &str) -> vigie_core::ToolCall {
    vigie_core::ToolCall {
        id,
        name: text_at(call, "name"),
        arguments: call
            .get(arguments)
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default())),
        parse_error: None,
    }
}

/// A JSON number as a token count (absent: 0).
pub(crate) fn count(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// A tool call's arguments as a JSON object, for APIs that take an object
/// back (Anthropic, Gemini, Bedrock): arguments that were not JSON cannot be.
pub(crate) fn arguments_object(call: &vigie_core::ToolCall, i: usize) -> Result<Value, ModelError> {
    match (&call.parse_error, &call.arguments) {
        (None, Value::Object(_)) => Ok(call.arguments.clone()),
        (Some(why), _) => Err(bad_request(format!(
            "messages[{i}]: tool call `{}` cannot be sent back: {why}",
            call.id
        ))),
        (None, other) => Err(bad_request(format!(
            "messages[{i}]: tool call `{}` has arguments that are not an object ({other})",
            call.id
        ))),
    }
}

fn path_escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn looks_like_context_overflow(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("context length")
        || m.contains("context_length")
        || m.contains("maximum context")
        || m.contains("prompt is too long")
}

/// Whether an API's refusal names a parameter of the request (OpenAI's
/// "Unsupported parameter: 'max_tokens'…", Anthropic's "`temperature` may
/// only be set to 1 when thinking is enabled", Gemini's "Invalid JSON
/// payload received. Unknown name…"), so every request like it fails.
fn names_a_parameter(message: &str) -> bool {
    let m = message.to_lowercase();
    [
        "unsupported parameter",
        "unsupported value",
        "unrecognized request argument",
        "unknown parameter",
        "unknown name",
        "not supported with this model",
        "is not supported",
        "does not support",
        "extra inputs are not permitted",
        "may only be set to",
        "is not compatible with",
    ]
    .iter()
    .any(|phrase| m.contains(phrase))
}

/// The provider's own words from an error body, or the start of the body.
fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        // Gemini answers a list of one error object.
        let value = value.get(0).unwrap_or(&value);
        let error = value.get("error").unwrap_or(value);
        if let Some(text) = error
            .get("message")
            .or_else(|| error.get("Message"))
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
        {
            return text.to_string();
        }
    }
    snippet(body)
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
