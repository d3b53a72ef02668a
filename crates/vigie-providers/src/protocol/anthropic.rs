//! Anthropic Messages. Extended thinking is `thinking: {type: enabled,
//! budget_tokens}` with `max_tokens` = the answer's budget + the thinking
//! budget; thinking blocks come back with signatures (or redacted, as opaque
//! data) and are sent back as they came on later turns, as the API checks
//! them. Tool calls are `tool_use` blocks and their results `tool_result`
//! blocks in the next user turn.

use serde_json::{json, Map, Value};
use vigie_core::{
    ContentPart, GenerateRequest, ModelError, ModelOutput, Reasoning, Role, StopReason, ToolChoice,
    Usage,
};

use super::{
    arguments_object, bad_request, count, object_call, put, system_text, text_at, word_at,
    Conversation,
};
use crate::profile::Sent;

/// Anthropic requires `max_tokens`; the answer's budget when the task sets none.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The content blocks of an assistant turn, as Anthropic and Bedrock's
/// Anthropic models take them back.
pub(super) fn assistant_blocks(
    message: &vigie_core::ChatMessage,
    i: usize,
) -> Result<Vec<Value>, ModelError> {
    let mut blocks = Vec::with_capacity(message.content.len());
    for part in &message.content {
        match part {
            ContentPart::Reasoning(r) if r.redacted => match &r.encrypted {
                Some(data) => blocks.push(json!({"type": "redacted_thinking", "data": data})),
                None => {
                    return Err(bad_request(format!(
                        "messages[{i}]: a redacted reasoning block without its data cannot be sent back"
                    )))
                }
            },
            ContentPart::Reasoning(r) => match &r.signature {
                Some(signature) => blocks.push(json!({"type": "thinking", "thinking": r.text, "signature": signature})),
                None => {
                    return Err(bad_request(format!(
                        "messages[{i}]: a reasoning block without its signature cannot be sent back to Anthropic, which checks it (set reasoning_history = \"none\" to leave earlier reasoning out)"
                    )))
                }
            },
            ContentPart::Text { text } if !text.is_empty() => {
                blocks.push(json!({"type": "text", "text": text}))
            }
            ContentPart::Text { .. } => {}
            ContentPart::ToolCall(call) => blocks.push(json!({
                "type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(call, i)?,
            })),
            ContentPart::ToolResult(_) => {}
        }
    }
    Ok(blocks)
}

pub(super) fn body(
    model: &str,
    conversation: &Conversation<'_>,
    request: &GenerateRequest,
    sent: &Sent,
) -> Result<Value, ModelError> {
    let config = &sent.config;
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if let Some(system) = system_text(conversation.messages) {
        body.insert("system".into(), json!(system));
    }
    // Tool results go in a user turn; consecutive ones share it, and a user
    // message right after them joins it (the API wants turns to alternate).
    let mut messages: Vec<Value> = Vec::with_capacity(conversation.messages.len());
    let mut pending: Vec<Value> = Vec::new();
    for (i, message) in conversation.messages.iter().enumerate() {
        match message.role {
            Role::System => {}
            Role::Tool => {
                for part in &message.content {
                    if let ContentPart::ToolResult(r) = part {
                        pending.push(json!({"type": "tool_result", "tool_use_id": r.call_id, "content": r.content, "is_error": r.is_error}));
                    }
                }
            }
            Role::User => {
                if pending.is_empty() {
                    messages.push(json!({"role": "user", "content": message.text()}));
                } else {
                    let mut content = std::mem::take(&mut pending);
                    content.push(json!({"type": "text", "text": message.text()}));
                    messages.push(json!({"role": "user", "content": content}));
                }
            }
            Role::Assistant => {
                if !pending.is_empty() {
                    messages.push(json!({"role": "user", "content": std::mem::take(&mut pending)}));
                }
                messages
                    .push(json!({"role": "assistant", "content": assistant_blocks(message, i)?}));
            }
        }
    }
    if !pending.is_empty() {
        messages.push(json!({"role": "user", "content": pending}));
    }
    body.insert("messages".into(), Value::Array(messages));
    let answer = config.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    match sent.reasoning {
        Some(plan) => {
            // The API's least budget is 1,024 tokens.
            let budget = plan.budget.max(1024);
            body.insert("max_tokens".into(), json!(answer.saturating_add(budget)));
            body.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget}),
            );
        }
        None => {
            body.insert("max_tokens".into(), json!(answer));
        }
    }
    if !config.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(config.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert(
            "tool_choice".into(),
            match &request.tool_choice {
                ToolChoice::Auto => json!({"type": "auto"}),
                ToolChoice::None => json!({"type": "none"}),
                ToolChoice::Required => json!({"type": "any"}),
                ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
            },
        );
    }
    put(&mut body, "temperature", config.temperature);
    put(&mut body, "top_p", config.top_p);
    put(&mut body, "top_k", config.top_k);
    Ok(Value::Object(body))
}

/// Reads a content block list (Anthropic's answer's `content`).
pub(super) fn read_blocks(content: &[Value], output: &mut ModelOutput) {
    let mut text = String::new();
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => output.reasoning.push(Reasoning {
                text: text_at(block, "thinking"),
                signature: block
                    .get("signature")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                ..Reasoning::default()
            }),
            Some("redacted_thinking") => output.reasoning.push(Reasoning {
                redacted: true,
                encrypted: block
                    .get("data")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                ..Reasoning::default()
            }),
            Some("tool_use") => {
                output
                    .tool_calls
                    .push(object_call(text_at(block, "id"), block, "input"))
            }
            _ => {}
        }
    }
    output.text = text;
}

pub(super) fn parse(value: &Value) -> Option<ModelOutput> {
    let content = value.get("content")?.as_array()?;
    let mut output = ModelOutput::default();
    read_blocks(content, &mut output);
    output.stop_reason = word_at(value, "stop_reason");
    output.stop = StopReason::from_api(&output.stop_reason);
    if let Some(u) = value.get("usage") {
        // `input_tokens` counts only what the cache did not hold.
        let cached = count(u, "cache_read_input_tokens");
        let input = count(u, "input_tokens") + cached + count(u, "cache_creation_input_tokens");
        let out = count(u, "output_tokens");
        output.usage = Usage {
            input_tokens: input,
            output_tokens: out,
            total_tokens: input + out,
            cached_input_tokens: cached,
            ..Usage::default()
        };
    }
    Some(output)
}
