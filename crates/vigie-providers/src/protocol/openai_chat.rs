//! OpenAI Chat Completions, as OpenAI, Azure OpenAI and the
//! OpenAI-compatible servers (vLLM, llama.cpp, Ollama, DeepSeek, Mistral)
//! speak it. Reasoning models get `max_completion_tokens` and
//! `reasoning_effort`; the reasoning that vLLM, DeepSeek, llama.cpp and
//! Ollama return (`reasoning_content`, `reasoning`) is read, and not sent
//! back unless `reasoning_history = "all"` (DeepSeek refuses it).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use vigie_core::{
    ContentPart, GenerateRequest, ModelError, ModelOutput, Reasoning, Role, StopReason, ToolCall,
    ToolChoice, Usage,
};

use super::{put, Conversation};
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
    put(&mut body, "seed", config.seed);
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
    put(&mut body, "temperature", config.temperature);
    put(&mut body, "top_p", config.top_p);
    put(&mut body, "top_k", config.top_k);
    Ok(Value::Object(body))
}

/// A chat completion answer, read straight from the bytes into borrowed
/// fields: building a `serde_json::Value` tree of it first cost about ten
/// times as many instructions, on the path every sample takes.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<AnswerUsage>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    message: AnswerMessage<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct AnswerMessage<'a> {
    #[serde(default, deserialize_with = "text_or_parts")]
    content: Option<String>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    /// vLLM before 0.10, DeepSeek and llama.cpp say `reasoning_content`; vLLM
    /// since and Ollama say `reasoning`.
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<AnswerCall>>,
}

#[derive(Deserialize)]
struct AnswerCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<AnswerFunction>,
}

#[derive(Deserialize)]
struct AnswerFunction {
    #[serde(default)]
    name: Option<String>,
    /// A string as OpenAI sends it; some servers send an object.
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize)]
struct AnswerUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens_details: Option<Details>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// `content` is a string, null, or (some servers) a list of text parts.
fn text_or_parts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Array(parts)) => Ok(Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        )),
        Some(other) => Err(serde::de::Error::custom(format!(
            "`content` is neither text nor parts: {other}"
        ))),
    }
}

/// Reads a 200 answer's bytes; `Err` says whether they were JSON at all.
pub(super) fn parse(body: &[u8]) -> Result<ModelOutput, serde_json::Error> {
    let answer: Answer<'_> = serde_json::from_slice(body)?;
    let Some(choice) = answer.choices.into_iter().next() else {
        return Err(serde::de::Error::custom("`choices` is empty"));
    };
    let message = choice.message;
    let refused = message.refusal.is_some();
    let mut text = message.content.unwrap_or_default();
    if let (true, Some(refusal)) = (text.is_empty(), &message.refusal) {
        text = refusal.to_string();
    }
    let reasoning = message
        .reasoning_content
        .or(message.reasoning)
        .filter(|t| !t.is_empty())
        .map(|t| Reasoning {
            text: t.into_owned(),
            ..Reasoning::default()
        });
    let tool_calls: Vec<ToolCall> = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, call)| {
            let (name, arguments) = match call.function {
                Some(f) => (f.name.unwrap_or_default(), f.arguments),
                None => (String::new(), None),
            };
            let arguments = match arguments {
                Some(Value::String(text)) => text,
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            ToolCall::from_text(
                call.id.unwrap_or_else(|| format!("call_{i}")),
                name,
                &arguments,
            )
        })
        .collect();
    let stop_reason = choice
        .finish_reason
        .map_or_else(|| "unknown".to_string(), Cow::into_owned);
    let stop = match StopReason::from_api(&stop_reason) {
        _ if refused => StopReason::Refusal,
        StopReason::Stop if !tool_calls.is_empty() => StopReason::ToolCalls,
        stop => stop,
    };
    let usage = answer.usage.map_or(Usage::default(), |u| {
        let (input, output) = (
            u.prompt_tokens.unwrap_or(0),
            u.completion_tokens.unwrap_or(0),
        );
        Usage {
            input_tokens: input,
            output_tokens: output,
            total_tokens: u.total_tokens.unwrap_or(input + output),
            reasoning_tokens: u
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            cached_input_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        }
    });
    Ok(ModelOutput {
        text,
        reasoning: reasoning.into_iter().collect(),
        tool_calls,
        stop,
        stop_reason,
        usage,
        ..ModelOutput::default()
    })
}
