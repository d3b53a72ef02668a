//! The two wire protocols: OpenAI chat completions and Anthropic messages.
//! Each builds a request body and reads an answer; neither does I/O.

use serde_json::{json, Map, Value};
use vigie_core::{
    ChatMessage, GenerateRequest, ModelError, ModelErrorKind, ModelOutput, Role, Usage,
};

/// Which API an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST {base}/chat/completions`.
    OpenAiChat,
    /// `POST {base}/messages`.
    AnthropicMessages,
}

/// Anthropic requires `max_tokens`; this is what we send when the task sets none.
const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 4096;

impl Protocol {
    /// The endpoint path under the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Protocol::OpenAiChat => "/chat/completions",
            Protocol::AnthropicMessages => "/messages",
        }
    }

    /// The JSON body for a request to `model` (the provider's own model name).
    pub fn body(self, model: &str, request: &GenerateRequest) -> Value {
        let config = &request.config;
        let mut body = Map::new();
        body.insert("model".into(), json!(model));
        match self {
            Protocol::OpenAiChat => {
                let messages: Vec<Value> = request
                    .messages
                    .iter()
                    .map(|m| json!({"role": m.role.as_str(), "content": m.text()}))
                    .collect();
                body.insert("messages".into(), Value::Array(messages));
                if let Some(v) = config.max_tokens {
                    body.insert("max_tokens".into(), json!(v));
                }
                if let Some(v) = config.seed {
                    body.insert("seed".into(), json!(v));
                }
                if !config.stop.is_empty() {
                    body.insert("stop".into(), json!(config.stop));
                }
                if !config.logit_bias.is_empty() {
                    let bias: Map<String, Value> = config
                        .logit_bias
                        .iter()
                        .map(|(t, b)| (t.to_string(), json!(b)))
                        .collect();
                    body.insert("logit_bias".into(), Value::Object(bias));
                }
                if config.ignore_eos {
                    // vLLM's and llama.cpp's servers take it; OpenAI's own API refuses it (a 400, recorded).
                    body.insert("ignore_eos".into(), json!(true));
                }
            }
            Protocol::AnthropicMessages => {
                let system: Vec<String> = request
                    .messages
                    .iter()
                    .filter(|m| m.role == Role::System)
                    .map(ChatMessage::text)
                    .collect();
                if !system.is_empty() {
                    body.insert("system".into(), json!(system.join("\n\n")));
                }
                let messages: Vec<Value> = request
                    .messages
                    .iter()
                    .filter(|m| m.role != Role::System)
                    .map(|m| json!({"role": m.role.as_str(), "content": m.text()}))
                    .collect();
                body.insert("messages".into(), Value::Array(messages));
                body.insert(
                    "max_tokens".into(),
                    json!(config.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS)),
                );
                if !config.stop.is_empty() {
                    body.insert("stop_sequences".into(), json!(config.stop));
                }
            }
        }
        if let Some(v) = config.temperature {
            body.insert("temperature".into(), json!(v));
        }
        if let Some(v) = config.top_p {
            body.insert("top_p".into(), json!(v));
        }
        if let Some(v) = config.top_k {
            body.insert("top_k".into(), json!(v));
        }
        Value::Object(body)
    }

    /// Reads a 200 answer.
    pub fn parse(self, body: &[u8]) -> Result<ModelOutput, ModelError> {
        let bad = |why: String| ModelError::new(ModelErrorKind::BadResponse, why);
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad(format!("the answer is not JSON ({e}): {}", snippet(body))))?;
        let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        match self {
            Protocol::OpenAiChat => {
                let choice = value.get("choices").and_then(|c| c.get(0)).ok_or_else(|| {
                    bad(format!("the answer has no `choices`: {}", snippet(body)))
                })?;
                let text = choice
                    .get("message")
                    .and_then(|m| m.get("content"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let stop_reason = choice
                    .get("finish_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_string();
                let usage = value.get("usage").map_or(Usage::default(), |u| {
                    let (input, output) =
                        (count(u, "prompt_tokens"), count(u, "completion_tokens"));
                    Usage {
                        input_tokens: input,
                        output_tokens: output,
                        total_tokens: u
                            .get("total_tokens")
                            .and_then(Value::as_u64)
                            .unwrap_or(input + output),
                    }
                });
                Ok(ModelOutput {
                    text,
                    stop_reason,
                    usage,
                    retries: 0,
                    cached: false,
                })
            }
            Protocol::AnthropicMessages => {
                let content = value
                    .get("content")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        bad(format!("the answer has no `content`: {}", snippet(body)))
                    })?;
                let text = content
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect::<String>();
                let stop_reason = value
                    .get("stop_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_string();
                let usage = value.get("usage").map_or(Usage::default(), |u| {
                    let (input, output) = (count(u, "input_tokens"), count(u, "output_tokens"));
                    Usage {
                        input_tokens: input,
                        output_tokens: output,
                        total_tokens: input + output,
                    }
                });
                Ok(ModelOutput {
                    text,
                    stop_reason,
                    usage,
                    retries: 0,
                    cached: false,
                })
            }
        }
    }

    /// Classifies a non-200 answer.
    pub fn classify(self, status: u16, body: &[u8]) -> ModelError {
        let message = error_message(body);
        let kind = match status {
            429 => ModelErrorKind::RateLimited,
            408 | 409 | 500..=599 => ModelErrorKind::Server,
            400 | 413 if looks_like_context_overflow(&message) => ModelErrorKind::ContextLength,
            _ => ModelErrorKind::Rejected,
        };
        ModelError::new(kind, format!("HTTP {status}: {message}"))
    }
}

fn looks_like_context_overflow(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("context length")
        || m.contains("context_length")
        || m.contains("maximum context")
        || m.contains("prompt is too long")
}

/// The provider's own words from an error body, or the start of the body.
fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let error = value.get("error").unwrap_or(&value);
        if let Some(text) = error
            .get("message")
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
mod tests {
    use super::*;
    use vigie_core::{ChatMessage, GenerateConfig};

    fn request() -> GenerateRequest {
        GenerateRequest {
            messages: vec![ChatMessage::system("Be brief."), ChatMessage::user("2+2?")],
            config: GenerateConfig {
                temperature: Some(0.0),
                max_tokens: Some(5),
                stop: vec!["\n".into()],
                ..Default::default()
            },
        }
    }

    #[test]
    fn openai_body_and_answer() {
        let body = Protocol::OpenAiChat.body("gpt", &request());
        assert_eq!(
            body,
            json!({"model": "gpt", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
                   "max_tokens": 5, "stop": ["\n"], "temperature": 0.0})
        );
        let answer = br#"{"choices": [{"message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}}"#;
        let out = Protocol::OpenAiChat.parse(answer).unwrap();
        assert_eq!(
            (
                out.text.as_str(),
                out.stop_reason.as_str(),
                out.usage.total_tokens
            ),
            ("4", "stop", 8)
        );
    }

    #[test]
    fn anthropic_body_moves_the_system_message() {
        let body = Protocol::AnthropicMessages.body("claude", &request());
        assert_eq!(body["system"], json!("Be brief."));
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "2+2?"}])
        );
        assert_eq!(body["stop_sequences"], json!(["\n"]));
        let answer = br#"{"content": [{"type": "text", "text": "4"}], "stop_reason": "end_turn", "usage": {"input_tokens": 9, "output_tokens": 1}}"#;
        let out = Protocol::AnthropicMessages.parse(answer).unwrap();
        assert_eq!((out.text.as_str(), out.usage.total_tokens), ("4", 10));
    }

    #[test]
    fn bad_answers_and_statuses_are_classified() {
        assert_eq!(
            Protocol::OpenAiChat
                .parse(b"<html>oops</html>")
                .unwrap_err()
                .kind,
            ModelErrorKind::BadResponse
        );
        assert_eq!(
            Protocol::OpenAiChat
                .parse(b"{\"choices\": [{\"mess")
                .unwrap_err()
                .kind,
            ModelErrorKind::BadResponse
        );
        assert_eq!(
            Protocol::OpenAiChat.classify(429, b"").kind,
            ModelErrorKind::RateLimited
        );
        assert_eq!(
            Protocol::OpenAiChat.classify(503, b"").kind,
            ModelErrorKind::Server
        );
        assert_eq!(
            Protocol::AnthropicMessages
                .classify(529, b"{\"error\": {\"message\": \"Overloaded\"}}")
                .message,
            "HTTP 529: Overloaded"
        );
        let e = Protocol::OpenAiChat.classify(
            400,
            br#"{"error": {"message": "This model's maximum context length is 8192 tokens"}}"#,
        );
        assert_eq!(e.kind, ModelErrorKind::ContextLength);
        assert_eq!(
            Protocol::OpenAiChat
                .classify(401, b"{\"error\": {\"message\": \"bad key\"}}")
                .kind,
            ModelErrorKind::Rejected
        );
    }
}
