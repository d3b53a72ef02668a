//! OpenAI Chat Completions, as OpenAI, Azure OpenAI and the
//! OpenAI-compatible servers (vLLM, llama.cpp, Ollama, DeepSeek, Mistral)
//! speak it. Reasoning models get `max_completion_tokens` and
//! `reasoning_effort`; the reasoning that vLLM, DeepSeek, llama.cpp and
//! Ollama return (`reasoning_content`, `reasoning`) is read, and not sent
//! back unless `reasoning_history = "all"` (DeepSeek refuses it).

use serde_json::{json, Map, Value};
use vigie_core::{
    ContentPart, GenerateRequest, ModelError, ModelOutput, Reasoning, Role, StopReason, ToolCall,
    ToolChoice, Usage,
};

use super::{count, Conversation};
use crate::profile::Sent;

pub(super) fn body(
    model: &str,
    conversation: &Conversation<'_>,
    request: &GenerateRequest,
    sent: &Sent,
) -> Result<Value, ModelError> {
    let config = &sent.config;
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let mut messages = Vec::with_capacity(conversation.messages.len());
    for message in conversation.messages {
        match message.role {
            Role::Tool => {
                for part in &message.content {
                    if let ContentPart::ToolResult(result) = part {
                        messages.push(json!({"role": "tool", "tool_call_id": result.call_id, "content": result.content}));
                    }
                }
            }
            Role::Assistant => {
                let mut out = Map::new();
                out.insert("role".into(), json!("assistant"));
                let calls: Vec<Value> = message
                    .tool_calls()
                    .map(|call| {
                        json!({"id": call.id, "type": "function",
                               "function": {"name": call.name, "arguments": call.arguments_text()}})
                    })
                    .collect();
                let text = message.text();
                out.insert(
                    "content".into(),
                    if text.is_empty() && !calls.is_empty() {
                        Value::Null
                    } else {
                        json!(text)
                    },
                );
                if conversation.explicit_history {
                    let reasoning: Vec<&str> = message
                        .reasoning()
                        .map(|r| r.text.as_str())
                        .filter(|t| !t.is_empty())
                        .collect();
                    if !reasoning.is_empty() {
                        out.insert("reasoning_content".into(), json!(reasoning.join("\n")));
                    }
                }
                if !calls.is_empty() {
                    out.insert("tool_calls".into(), Value::Array(calls));
                }
                messages.push(Value::Object(out));
            }
            Role::System | Role::User => {
                messages.push(json!({"role": message.role.as_str(), "content": message.text()}))
            }
        }
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert(
            "tool_choice".into(),
            match &request.tool_choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            },
        );
    }
    if let Some(max) = sent.max_tokens {
        // Reasoning models refuse `max_tokens`; the others take either, and
        // older OpenAI-compatible servers know only `max_tokens`.
        let key = if sent.reasoning.is_some() {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(key.into(), json!(max));
    }
    if let Some(effort) = sent.reasoning.and_then(|r| r.effort) {
        body.insert("reasoning_effort".into(), json!(effort.as_str()));
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
    if let Some(v) = config.temperature {
        body.insert("temperature".into(), json!(v));
    }
    if let Some(v) = config.top_p {
        body.insert("top_p".into(), json!(v));
    }
    if let Some(v) = config.top_k {
        body.insert("top_k".into(), json!(v));
    }
    Ok(Value::Object(body))
}

pub(super) fn parse(value: &Value) -> Option<ModelOutput> {
    let choice = value.get("choices")?.get(0)?;
    let message = choice.get("message")?;
    let mut text = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let refusal = message.get("refusal").and_then(Value::as_str);
    if let (true, Some(refusal)) = (text.is_empty(), refusal) {
        text = refusal.to_string();
    }
    // vLLM before 0.10, DeepSeek and llama.cpp say `reasoning_content`; vLLM
    // since and Ollama say `reasoning`.
    let reasoning = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|k| message.get(*k).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .map(|t| Reasoning {
            text: t.to_string(),
            ..Reasoning::default()
        });
    let tool_calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let function = call.get("function").unwrap_or(&Value::Null);
                    let arguments = match function.get("arguments") {
                        Some(Value::String(text)) => text.clone(),
                        Some(Value::Null) | None => String::new(),
                        // Some servers send the arguments as an object.
                        Some(other) => other.to_string(),
                    };
                    ToolCall::from_text(
                        call.get("id")
                            .and_then(Value::as_str)
                            .map_or_else(|| format!("call_{i}"), str::to_string),
                        function.get("name").and_then(Value::as_str).unwrap_or(""),
                        &arguments,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let stop_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let stop = match StopReason::from_api(&stop_reason) {
        _ if refusal.is_some() => StopReason::Refusal,
        StopReason::Stop if !Vec::<ToolCall>::is_empty(&tool_calls) => StopReason::ToolCalls,
        stop => stop,
    };
    let usage = value.get("usage").map_or(Usage::default(), |u| {
        let (input, output) = (count(u, "prompt_tokens"), count(u, "completion_tokens"));
        Usage {
            input_tokens: input,
            output_tokens: output,
            total_tokens: u
                .get("total_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(input + output),
            reasoning_tokens: u
                .get("completion_tokens_details")
                .map_or(0, |d| count(d, "reasoning_tokens")),
            cached_input_tokens: u
                .get("prompt_tokens_details")
                .map_or(0, |d| count(d, "cached_tokens")),
        }
    });
    Some(ModelOutput {
        text,
        reasoning: reasoning.into_iter().collect(),
        tool_calls,
        stop,
        stop_reason,
        usage,
        ..ModelOutput::default()
    })
}
