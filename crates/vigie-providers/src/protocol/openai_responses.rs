//! The OpenAI Responses API (`/v1/responses`), a choice of the `openai/`
//! provider. Requests are sent with `store: false`, so nothing is kept on
//! OpenAI's side: reasoning comes back as encrypted items
//! (`include: ["reasoning.encrypted_content"]`) that vigie keeps and sends
//! back on later turns, with their summaries when asked for.

use serde_json::{json, Map, Value};
use vigie_core::{
    ContentPart, GenerateRequest, ModelError, ModelOutput, Reasoning, Role, StopReason, ToolCall,
    ToolChoice, Usage,
};

use super::{count, put, Conversation};
use crate::profile::Sent;

pub(super) fn body(
    model: &str,
    conversation: &Conversation<'_>,
    request: &GenerateRequest,
    sent: &Sent,
) -> Result<Value, ModelError> {
    let config = &sent.config;
    let mut input = Vec::with_capacity(conversation.messages.len());
    for message in conversation.messages {
        match message.role {
            Role::System | Role::User => input.push(json!({
                "type": "message", "role": if message.role == Role::System { "developer" } else { "user" },
                "content": [{"type": "input_text", "text": message.text()}],
            })),
            Role::Assistant => {
                for part in &message.content {
                    match part {
                        ContentPart::Reasoning(r) => {
                            // Only items OpenAI returned can go back; others are left out.
                            if let Some(id) = &r.id {
                                let summary: Vec<Value> = if r.summary && !r.text.is_empty() {
                                    vec![json!({"type": "summary_text", "text": r.text})]
                                } else {
                                    vec![]
                                };
                                let mut item = json!({"type": "reasoning", "id": id, "summary": summary});
                                if let Some(encrypted) = &r.encrypted {
                                    item["encrypted_content"] = json!(encrypted);
                                }
                                input.push(item);
                            }
                        }
                        ContentPart::Text { text } => input.push(json!({
                            "type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": text, "annotations": []}],
                        })),
                        ContentPart::ToolCall(call) => input.push(json!({
                            "type": "function_call", "call_id": call.id, "name": call.name,
                            "arguments": call.arguments_text(),
                        })),
                        ContentPart::ToolResult(_) => {}
                    }
                }
            }
            Role::Tool => {
                for part in &message.content {
                    if let ContentPart::ToolResult(result) = part {
                        input.push(json!({"type": "function_call_output", "call_id": result.call_id, "output": result.content}));
                    }
                }
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("input".into(), Value::Array(input));
    body.insert("store".into(), json!(false));
    if let Some(plan) = sent.reasoning {
        let mut reasoning = Map::new();
        if let Some(effort) = plan.effort {
            reasoning.insert("effort".into(), json!(effort.as_str()));
        }
        if let Some(summary) = plan
            .summary
            .filter(|s| *s != vigie_core::ReasoningSummary::None)
        {
            reasoning.insert("summary".into(), json!(summary.as_str()));
        }
        body.insert("reasoning".into(), Value::Object(reasoning));
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    }
    put(&mut body, "max_output_tokens", sent.max_tokens);
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters, "strict": false}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert(
            "tool_choice".into(),
            match &request.tool_choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
            },
        );
    }
    put(&mut body, "temperature", config.temperature);
    put(&mut body, "top_p", config.top_p);
    Ok(Value::Object(body))
}

pub(super) fn parse(value: &Value) -> Option<ModelOutput> {
    let items = value.get("output")?.as_array()?;
    let mut output = ModelOutput::default();
    let mut texts = Vec::new();
    let mut refused = false;
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") => {
                let summary: Vec<&str> = item
                    .get("summary")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("text").and_then(Value::as_str))
                    .collect();
                let full: Vec<&str> = item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("text").and_then(Value::as_str))
                    .collect();
                let (text, summary) = if full.is_empty() {
                    (summary.join("\n\n"), !summary.is_empty())
                } else {
                    (full.join("\n\n"), false)
                };
                let encrypted = item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                output.reasoning.push(Reasoning {
                    redacted: text.is_empty() && encrypted.is_some(),
                    text,
                    summary,
                    encrypted,
                    id: item.get("id").and_then(Value::as_str).map(str::to_string),
                    signature: None,
                });
            }
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => {
                            texts.push(part.get("text").and_then(Value::as_str).unwrap_or(""))
                        }
                        Some("refusal") => {
                            refused = true;
                            texts.push(part.get("refusal").and_then(Value::as_str).unwrap_or(""));
                        }
                        _ => {}
                    }
                }
            }
            Some("function_call") => output.tool_calls.push(ToolCall::from_text(
                item.get("call_id").and_then(Value::as_str).unwrap_or(""),
                item.get("name").and_then(Value::as_str).unwrap_or(""),
                item.get("arguments").and_then(Value::as_str).unwrap_or(""),
            )),
            _ => {}
        }
    }
    output.text = texts.concat();
    let status = value
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let incomplete = value
        .get("incomplete_details")
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str);
    output.stop_reason = incomplete.unwrap_or(status).to_string();
    output.stop = if refused {
        StopReason::Refusal
    } else if !output.tool_calls.is_empty() {
        StopReason::ToolCalls
    } else {
        StopReason::from_api(&output.stop_reason)
    };
    if let Some(u) = value.get("usage") {
        let (input, out) = (count(u, "input_tokens"), count(u, "output_tokens"));
        output.usage = Usage {
            input_tokens: input,
            output_tokens: out,
            total_tokens: u
                .get("total_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(input + out),
            reasoning_tokens: u
                .get("output_tokens_details")
                .map_or(0, |d| count(d, "reasoning_tokens")),
            cached_input_tokens: u
                .get("input_tokens_details")
                .map_or(0, |d| count(d, "cached_tokens")),
        };
    }
    Some(output)
}
