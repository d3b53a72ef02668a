//! AWS Bedrock's Converse API, `POST /model/{modelId}/converse`, one shape
//! for every model Bedrock hosts. Reasoning is `reasoningContent` blocks
//! (text with a signature, or redacted bytes); Anthropic models on Bedrock
//! are asked to think through `additionalModelRequestFields.thinking`.
//! Tools are `toolConfig.tools[].toolSpec`, calls `toolUse` blocks and
//! results `toolResult` blocks. Requests are signed with SigV4
//! ([`crate::aws`]).

use serde_json::{json, Map, Value};
use vigie_core::{
    ContentPart, GenerateRequest, ModelError, ModelOutput, Reasoning, Role, StopReason, ToolChoice,
    Usage,
};

use super::{
    arguments_object, bad_request, count, object_call, push_turn, put, system_text, text_at,
    word_at, Conversation,
};
use crate::profile::Sent;

pub(super) fn body(
    conversation: &Conversation<'_>,
    request: &GenerateRequest,
    sent: &Sent,
) -> Result<Value, ModelError> {
    let config = &sent.config;
    let mut body = Map::new();
    if let Some(system) = system_text(conversation.messages) {
        body.insert("system".into(), json!([{"text": system}]));
    }
    let mut messages: Vec<Value> = Vec::with_capacity(conversation.messages.len());
    for (i, message) in conversation.messages.iter().enumerate() {
        let (role, blocks) = match message.role {
            Role::System => continue,
            Role::User => ("user", vec![json!({"text": message.text()})]),
            Role::Tool => {
                let blocks = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        ContentPart::ToolResult(r) => Some(json!({"toolResult": {
                            "toolUseId": r.call_id,
                            "content": [{"text": r.content}],
                            "status": if r.is_error { "error" } else { "success" },
                        }})),
                        _ => None,
                    })
                    .collect();
                ("user", blocks)
            }
            Role::Assistant => {
                let mut blocks = Vec::new();
                for part in &message.content {
                    blocks.push(match part {
                        ContentPart::Reasoning(r) if r.redacted => match &r.encrypted {
                            Some(data) => json!({"reasoningContent": {"redactedContent": data}}),
                            None => return Err(bad_request(format!("messages[{i}]: a redacted reasoning block without its data cannot be sent back"))),
                        },
                        ContentPart::Reasoning(r) => match &r.signature {
                            Some(signature) => json!({"reasoningContent": {"reasoningText": {"text": r.text, "signature": signature}}}),
                            None => return Err(bad_request(format!("messages[{i}]: a reasoning block without its signature cannot be sent back to Bedrock (set reasoning_history = \"none\" to leave earlier reasoning out)"))),
                        },
                        ContentPart::Text { text } if text.is_empty() => continue,
                        ContentPart::Text { text } => json!({"text": text}),
                        ContentPart::ToolCall(call) => json!({"toolUse": {"toolUseId": call.id, "name": call.name, "input": arguments_object(call, i)?}}),
                        ContentPart::ToolResult(_) => continue,
                    });
                }
                ("assistant", blocks)
            }
        };
        push_turn(&mut messages, role, "content", blocks);
    }
    body.insert("messages".into(), Value::Array(messages));
    let mut inference = Map::new();
    put(&mut inference, "maxTokens", sent.max_tokens);
    put(&mut inference, "temperature", config.temperature);
    put(&mut inference, "topP", config.top_p);
    if !config.stop.is_empty() {
        inference.insert("stopSequences".into(), json!(config.stop));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if let Some(plan) = sent.reasoning {
        let budget = plan.budget.max(1024);
        if sent.max_tokens.is_none() {
            body.insert(
                "inferenceConfig".into(),
                json!({"maxTokens": super::anthropic::DEFAULT_MAX_TOKENS + budget}),
            );
        }
        body.insert(
            "additionalModelRequestFields".into(),
            json!({"thinking": {"type": "enabled", "budget_tokens": budget}}),
        );
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": t.parameters}}}))
            .collect();
        let mut tool_config = json!({"tools": tools});
        // Converse has no "none": the tools stay defined (earlier turns may use them) and the choice is left out.
        match &request.tool_choice {
            ToolChoice::Auto => tool_config["toolChoice"] = json!({"auto": {}}),
            ToolChoice::None => {}
            ToolChoice::Required => tool_config["toolChoice"] = json!({"any": {}}),
            ToolChoice::Tool(name) => tool_config["toolChoice"] = json!({"tool": {"name": name}}),
        }
        body.insert("toolConfig".into(), tool_config);
    }
    Ok(Value::Object(body))
}

pub(super) fn parse(value: &Value) -> Option<ModelOutput> {
    let content = value
        .get("output")?
        .get("message")?
        .get("content")?
        .as_array()?;
    let mut output = ModelOutput::default();
    let mut text = String::new();
    for block in content {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(reasoning) = block.get("reasoningContent") {
            if let Some(r) = reasoning.get("reasoningText") {
                output.reasoning.push(Reasoning {
                    text: text_at(r, "text"),
                    signature: r
                        .get("signature")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    ..Reasoning::default()
                });
            } else if let Some(data) = reasoning.get("redactedContent").and_then(Value::as_str) {
                output.reasoning.push(Reasoning {
                    redacted: true,
                    encrypted: Some(data.to_string()),
                    ..Reasoning::default()
                });
            }
        } else if let Some(call) = block.get("toolUse") {
            output
                .tool_calls
                .push(object_call(text_at(call, "toolUseId"), call, "input"));
        }
    }
    output.text = text;
    output.stop_reason = word_at(value, "stopReason");
    output.stop = StopReason::from_api(&output.stop_reason);
    if let Some(u) = value.get("usage") {
        let (input, out) = (count(u, "inputTokens"), count(u, "outputTokens"));
        output.usage = Usage {
            input_tokens: input + count(u, "cacheReadInputTokens"),
            output_tokens: out,
            total_tokens: u
                .get("totalTokens")
                .and_then(Value::as_u64)
                .unwrap_or(input + out),
            cached_input_tokens: count(u, "cacheReadInputTokens"),
            ..Usage::default()
        };
    }
    Some(output)
}
