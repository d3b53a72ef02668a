//! The APIs the test server speaks — OpenAI Chat Completions, the OpenAI
//! Responses API, Anthropic Messages, Gemini `generateContent` and Bedrock
//! Converse — each read into one neutral [`Asked`] and answered in its own
//! shape, with reasoning and tool calls. Requests are checked as the real
//! APIs check them, so that a client regression fails a test here rather
//! than in front of a real model: reasoning-model names refuse `max_tokens`
//! and sampling settings, Anthropic's thinking refuses `temperature`,
//! reasoning blocks must come back with the signature this server gave them,
//! a tool result must answer a call, Bedrock requests must be signed.

use serde_json::{json, Value};

/// Which API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    OpenAi,
    Responses,
    Anthropic,
    Gemini,
    Bedrock,
}

/// A request, read: what the answer depends on.
#[derive(Debug, Default)]
pub(crate) struct Asked {
    pub model: String,
    /// The text of every message (and the system prompt), for directives.
    pub texts: Vec<String>,
    /// The conversation ends with tool results: the model answers them.
    pub after_tool_results: bool,
    /// The model reasons on this request.
    pub reasons: bool,
    /// A summary of the reasoning was asked for.
    pub summary: bool,
    /// Tools were offered.
    pub tools: bool,
    /// Assistant turns already in the conversation (OpenAI chat), for `[[step:...]]`.
    pub turns: usize,
}

/// A refusal, as the real API would send it: status and message.
pub(crate) type Refusal = (u16, String);

fn refuse<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err((400, message.into()))
}

/// OpenAI's reasoning models, by name.
pub(crate) fn is_openai_reasoning_name(model: &str) -> bool {
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|prefix| model.starts_with(prefix))
        || model.contains("deepseek-r1")
        || model.contains("reasoner")
}

/// What this server signs a reasoning text with, so that it can tell when a
/// client sends reasoning back altered or without its signature.
pub(crate) fn signature_of(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("sig-{:016x}", hasher.finish())
}

fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

pub(crate) fn read(api: Api, request: &Value, signed: bool) -> Result<Asked, Refusal> {
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut asked = Asked {
        model,
        ..Asked::default()
    };
    match api {
        Api::OpenAi => read_openai(request, &mut asked)?,
        Api::Responses => read_responses(request, &mut asked)?,
        Api::Anthropic => read_anthropic(request, &mut asked)?,
        Api::Gemini => read_gemini(request, &mut asked)?,
        Api::Bedrock => {
            if !signed {
                return Err((403, "Missing Authentication Token".into()));
            }
            read_bedrock(request, &mut asked)?
        }
    }
    Ok(asked)
}

fn read_openai(request: &Value, asked: &mut Asked) -> Result<(), Refusal> {
    let reasoning = is_openai_reasoning_name(&asked.model);
    if reasoning {
        if request.get("max_tokens").is_some() {
            return refuse("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.");
        }
        if let Some(t) = request
            .get("temperature")
            .and_then(Value::as_f64)
            .filter(|t| *t != 1.0)
        {
            return refuse(format!("Unsupported value: 'temperature' does not support {t} with this model. Only the default (1) value is supported."));
        }
        for key in ["top_p", "stop", "logit_bias"] {
            if request.get(key).is_some() {
                return refuse(format!(
                    "Unsupported parameter: '{key}' is not supported with this model."
                ));
            }
        }
    }
    asked.reasons = reasoning;
    asked.tools = request.get("tools").is_some();
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or((400, "Missing required parameter: 'messages'.".to_string()))?;
    let mut calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        asked.texts.push(text_of(m.get("content")));
        for call in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            calls.push(
                call.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
        }
        if m.get("role").and_then(Value::as_str) == Some("tool") {
            let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
            if !calls.iter().any(|c| c == id) {
                return refuse(format!("Invalid parameter: messages[{i}]: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (no call `{id}`)."));
            }
        }
    }
    asked.after_tool_results = messages
        .last()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        == Some("tool");
    asked.turns = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .count();
    Ok(())
}

fn read_responses(request: &Value, asked: &mut Asked) -> Result<(), Refusal> {
    let reasoning = is_openai_reasoning_name(&asked.model);
    for key in ["max_tokens", "messages", "stop", "logit_bias", "seed"] {
        if request.get(key).is_some() {
            return refuse(format!("Unsupported parameter: '{key}'."));
        }
    }
    if reasoning && request.get("temperature").is_some() {
        return refuse("Unsupported parameter: 'temperature' is not supported with this model.");
    }
    asked.reasons = reasoning;
    asked.summary = request
        .get("reasoning")
        .and_then(|r| r.get("summary"))
        .is_some();
    asked.tools = request.get("tools").is_some();
    let items: Vec<Value> = match request.get("input") {
        Some(Value::String(text)) => vec![json!({"role": "user", "content": text})],
        Some(Value::Array(items)) => items.clone(),
        _ => return refuse("Missing required parameter: 'input'."),
    };
    let mut calls: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
        {
            "message" => asked.texts.push(text_of(item.get("content"))),
            "reasoning" => {
                let encrypted = item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !encrypted.starts_with("enc-") {
                    return refuse(format!(
                        "input[{i}]: the reasoning item's encrypted_content could not be verified."
                    ));
                }
            }
            "function_call" => calls.push(
                item.get("call_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
            ),
            "function_call_output" => {
                let id = item.get("call_id").and_then(Value::as_str).unwrap_or("");
                if !calls.iter().any(|c| c == id) {
                    return refuse(format!(
                        "No tool call found for function call output with call_id {id}."
                    ));
                }
            }
            other => return refuse(format!("input[{i}]: unknown item type '{other}'.")),
        }
    }
    asked.after_tool_results = items
        .last()
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
        == Some("function_call_output");
    Ok(())
}

fn read_anthropic(request: &Value, asked: &mut Asked) -> Result<(), Refusal> {
    let Some(max_tokens) = request.get("max_tokens").and_then(Value::as_u64) else {
        return refuse("max_tokens: Field required");
    };
    if let Some(thinking) = request.get("thinking").filter(|t| t["type"] == "enabled") {
        let budget = thinking
            .get("budget_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if budget < 1024 {
            return refuse(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            );
        }
        if budget >= max_tokens {
            return refuse("`max_tokens` must be greater than `thinking.budget_tokens`.");
        }
        if request
            .get("temperature")
            .and_then(Value::as_f64)
            .is_some_and(|t| t != 1.0)
        {
            return refuse("`temperature` may only be set to 1 when thinking is enabled.");
        }
        if request.get("top_k").is_some() {
            return refuse("`top_k` is not compatible with thinking.");
        }
        asked.reasons = true;
    }
    for key in ["seed", "logit_bias", "stop"] {
        if request.get(key).is_some() {
            return refuse(format!("{key}: Extra inputs are not permitted"));
        }
    }
    asked.tools = request.get("tools").is_some();
    if let Some(system) = request.get("system") {
        asked.texts.push(text_of(Some(system)));
    }
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        asked.texts.push(text_of(m.get("content")));
        for (j, block) in m
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match block.get("type").and_then(Value::as_str) {
                Some("thinking") => {
                    let text = block.get("thinking").and_then(Value::as_str).unwrap_or("");
                    match block.get("signature").and_then(Value::as_str) {
                        None => {
                            return refuse(format!(
                                "messages.{i}.content.{j}.thinking.signature: Field required"
                            ))
                        }
                        Some(sig) if sig != signature_of(text) => {
                            return refuse(format!(
                                "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                            ))
                        }
                        Some(_) => {}
                    }
                }
                Some("tool_use") => {
                    calls.push(block.get("id").and_then(Value::as_str).unwrap_or("").into())
                }
                Some("tool_result") => {
                    let id = block
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !calls.iter().any(|c| c == id) {
                        return refuse(format!("messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."));
                    }
                }
                _ => {}
            }
        }
    }
    asked.after_tool_results = messages
        .last()
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
    Ok(())
}

fn read_gemini(request: &Value, asked: &mut Asked) -> Result<(), Refusal> {
    const KNOWN: &[&str] = &[
        "contents",
        "systemInstruction",
        "generationConfig",
        "tools",
        "toolConfig",
        "safetySettings",
    ];
    if let Some(unknown) = request
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| !KNOWN.contains(&k.as_str()))
    {
        return refuse(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        ));
    }
    let generation = request
        .get("generationConfig")
        .cloned()
        .unwrap_or(json!({}));
    for key in generation.as_object().into_iter().flatten().map(|(k, _)| k) {
        if ![
            "maxOutputTokens",
            "temperature",
            "topP",
            "topK",
            "seed",
            "stopSequences",
            "thinkingConfig",
            "candidateCount",
        ]
        .contains(&key.as_str())
        {
            return refuse(format!("Invalid JSON payload received. Unknown name \"{key}\" at 'generation_config': Cannot find field."));
        }
    }
    let thinking = generation.get("thinkingConfig");
    asked.reasons =
        asked.model.contains("pro") || thinking.is_some_and(|t| t["thinkingBudget"] != 0);
    asked.summary = thinking.is_some_and(|t| t["includeThoughts"] == true);
    asked.tools = request.get("tools").is_some();
    if let Some(system) = request.get("systemInstruction") {
        asked.texts.push(text_of(system.get("parts")));
    }
    let contents = request
        .get("contents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for content in &contents {
        asked.texts.push(text_of(content.get("parts")));
    }
    asked.after_tool_results = contents
        .last()
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()));
    Ok(())
}

fn read_bedrock(request: &Value, asked: &mut Asked) -> Result<(), Refusal> {
    for key in ["max_tokens", "temperature", "model", "seed"] {
        if request.get(key).is_some() {
            return Err((
                400,
                format!("Malformed input request: extraneous key [{key}] is not permitted"),
            ));
        }
    }
    asked.reasons =
        request.pointer("/additionalModelRequestFields/thinking/type") == Some(&json!("enabled"));
    asked.tools = request.get("toolConfig").is_some();
    if let Some(system) = request.get("system") {
        asked.texts.push(text_of(Some(system)));
    }
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, m) in messages.iter().enumerate() {
        asked.texts.push(text_of(m.get("content")));
        for block in m
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = block.pointer("/reasoningContent/reasoningText") {
                let text = r.get("text").and_then(Value::as_str).unwrap_or("");
                if r.get("signature").and_then(Value::as_str) != Some(signature_of(text).as_str()) {
                    return Err((
                        400,
                        format!(
                            "messages.{i}: the reasoning content's signature is missing or invalid"
                        ),
                    ));
                }
            }
        }
    }
    asked.after_tool_results = messages
        .last()
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .is_some_and(|blocks| blocks.iter().any(|b| b.get("toolResult").is_some()));
    Ok(())
}

/// What the server answers, before it is put in an API's shape.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub text: String,
    pub reasoning: Option<String>,
    /// (name, arguments as JSON text).
    pub tool_calls: Vec<(String, String)>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub reasoning_tokens: usize,
}

pub(crate) fn answer(api: Api, asked: &Asked, reply: &Reply, number: u64) -> Value {
    let model = asked.model.as_str();
    let calls = &reply.tool_calls;
    let (input, output, thought) = (
        reply.prompt_tokens,
        reply.completion_tokens + reply.reasoning_tokens,
        reply.reasoning_tokens,
    );
    let reasoning = reply.reasoning.as_deref();
    match api {
        Api::OpenAi => {
            let mut message = json!({"role": "assistant", "content": if reply.text.is_empty() && !calls.is_empty() { Value::Null } else { json!(reply.text) }});
            // OpenAI's own reasoning models show no reasoning in Chat
            // Completions; the servers that do (vLLM, DeepSeek) say `reasoning_content`.
            if let Some(text) =
                reasoning.filter(|_| !model.starts_with('o') && !model.starts_with("gpt-5"))
            {
                message["reasoning_content"] = json!(text);
            }
            if !calls.is_empty() {
                message["tool_calls"] = json!(calls.iter().enumerate().map(|(i, (name, args))| json!({"id": format!("call_{number}_{i}"), "type": "function", "function": {"name": name, "arguments": args}})).collect::<Vec<_>>());
            }
            json!({
                "id": format!("chatcmpl-{number}"), "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": if calls.is_empty() { "stop" } else { "tool_calls" }}],
                "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output,
                          "completion_tokens_details": {"reasoning_tokens": thought}},
            })
        }
        Api::Responses => {
            let mut items = Vec::new();
            if let Some(text) = reasoning {
                let summary: Vec<Value> = if asked.summary {
                    vec![json!({"type": "summary_text", "text": text})]
                } else {
                    vec![]
                };
                items.push(json!({"type": "reasoning", "id": format!("rs_{number}"), "summary": summary, "encrypted_content": format!("enc-{number}")}));
            }
            if !reply.text.is_empty() || calls.is_empty() {
                items.push(json!({"type": "message", "id": format!("msg_{number}"), "status": "completed", "role": "assistant",
                                  "content": [{"type": "output_text", "text": reply.text, "annotations": []}]}));
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                items.push(json!({"type": "function_call", "id": format!("fc_{number}_{i}"), "call_id": format!("call_{number}_{i}"), "name": name, "arguments": args, "status": "completed"}));
            }
            json!({
                "id": format!("resp_{number}"), "object": "response", "status": "completed", "model": model, "output": items,
                "usage": {"input_tokens": input, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": output,
                          "output_tokens_details": {"reasoning_tokens": thought}, "total_tokens": input + output},
            })
        }
        Api::Anthropic => {
            let mut content = Vec::new();
            if let Some(text) = reasoning {
                content.push(
                    json!({"type": "thinking", "thinking": text, "signature": signature_of(text)}),
                );
            }
            if !reply.text.is_empty() || calls.is_empty() {
                content.push(json!({"type": "text", "text": reply.text}));
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                let input: Value = serde_json::from_str(args).unwrap_or(json!({}));
                content.push(json!({"type": "tool_use", "id": format!("toolu_{number}_{i}"), "name": name, "input": input}));
            }
            json!({
                "id": format!("msg_{number}"), "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" },
                "usage": {"input_tokens": input, "output_tokens": output},
            })
        }
        Api::Gemini => {
            let mut parts = Vec::new();
            if let Some(text) = reasoning.filter(|_| asked.summary) {
                parts.push(json!({"text": text, "thought": true}));
            }
            if !reply.text.is_empty() || calls.is_empty() {
                parts.push(json!({"text": reply.text}));
            }
            for (name, args) in calls {
                let args: Value = serde_json::from_str(args).unwrap_or(json!({}));
                let mut part = json!({"functionCall": {"name": name, "args": args}});
                if reasoning.is_some() && parts.iter().all(|p| p.get("functionCall").is_none()) {
                    part["thoughtSignature"] = json!(format!("gsig-{number}"));
                }
                parts.push(part);
            }
            json!({
                "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": input, "candidatesTokenCount": reply.completion_tokens, "thoughtsTokenCount": thought, "totalTokenCount": input + output},
                "modelVersion": model,
            })
        }
        Api::Bedrock => {
            let mut content = Vec::new();
            if let Some(text) = reasoning {
                content.push(json!({"reasoningContent": {"reasoningText": {"text": text, "signature": signature_of(text)}}}));
            }
            if !reply.text.is_empty() || calls.is_empty() {
                content.push(json!({"text": reply.text}));
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                let input: Value = serde_json::from_str(args).unwrap_or(json!({}));
                content.push(json!({"toolUse": {"toolUseId": format!("tooluse_{number}_{i}"), "name": name, "input": input}}));
            }
            json!({
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": if calls.is_empty() { "end_turn" } else { "tool_use" },
                "usage": {"inputTokens": input, "outputTokens": output, "totalTokens": input + output},
                "metrics": {"latencyMs": 1},
            })
        }
    }
}
