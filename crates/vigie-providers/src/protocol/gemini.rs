//! Google Gemini's own API, `models/{model}:generateContent`. Reasoning is
//! `generationConfig.thinkingConfig` (`thinkingBudget`, and
//! `includeThoughts` for thought summaries); thought summaries come back as
//! parts marked `thought`, and `thoughtSignature`s ride on the parts they
//! sign — vigie keeps each as a reasoning part before the part it signed,
//! and puts it back there on later turns. Tools are `functionDeclarations`;
//! calls are `functionCall` parts (Gemini gives them no id unless it does;
//! vigie numbers them) and results `functionResponse` parts, named by the
//! call's function.

use serde_json::{json, Map, Value};
use vigie_core::{
    ContentPart, GenerateRequest, ModelError, ModelOutput, Reasoning, ReasoningSummary, Role,
    StopReason, ToolChoice, Usage,
};

use super::{
    arguments_object, count, object_call, push_turn, put, system_text, text_at, word_at,
    Conversation,
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
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    let mut contents: Vec<Value> = Vec::with_capacity(conversation.messages.len());
    for (i, message) in conversation.messages.iter().enumerate() {
        let (role, parts) = match message.role {
            Role::System => continue,
            Role::User => ("user", vec![json!({"text": message.text()})]),
            Role::Tool => {
                let parts = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        ContentPart::ToolResult(r) => Some(json!({"functionResponse": {
                            "id": r.call_id,
                            "name": conversation.calls.get(&r.call_id).cloned().unwrap_or_default(),
                            "response": if r.is_error { json!({"error": r.content}) } else { json!({"content": r.content}) },
                        }})),
                        _ => None,
                    })
                    .collect();
                ("user", parts)
            }
            Role::Assistant => {
                let mut parts = Vec::new();
                let mut signature: Option<&str> = None;
                // Gemini signs a turn's first function call; vigie keeps the
                // signature before the text, so it moves to the call.
                let has_calls = message.tool_calls().next().is_some();
                for part in &message.content {
                    let mut out = match part {
                        // Thought summaries are not sent back; signatures are.
                        ContentPart::Reasoning(r) => {
                            signature = r.signature.as_deref().or(signature);
                            continue;
                        }
                        ContentPart::Text { text } if text.is_empty() => continue,
                        ContentPart::Text { text } => json!({"text": text}),
                        ContentPart::ToolCall(call) => {
                            let mut call_json =
                                json!({"name": call.name, "args": arguments_object(call, i)?});
                            if !call.id.starts_with(GENERATED_ID) {
                                call_json["id"] = json!(call.id);
                            }
                            json!({"functionCall": call_json})
                        }
                        ContentPart::ToolResult(_) => continue,
                    };
                    let signs = !has_calls || matches!(part, ContentPart::ToolCall(_));
                    if let Some(sig) = signature.filter(|_| signs) {
                        out["thoughtSignature"] = json!(sig);
                        signature = None;
                    }
                    parts.push(out);
                }
                ("model", parts)
            }
        };
        push_turn(&mut contents, role, "parts", parts);
    }
    body.insert("contents".into(), Value::Array(contents));
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parameters": gemini_schema(&t.parameters)}))
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
        let calling = match &request.tool_choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": calling}),
        );
    }
    let mut generation = Map::new();
    put(&mut generation, "maxOutputTokens", sent.max_tokens);
    put(&mut generation, "temperature", config.temperature);
    put(&mut generation, "topP", config.top_p);
    put(&mut generation, "topK", config.top_k);
    put(&mut generation, "seed", config.seed);
    if !config.stop.is_empty() {
        generation.insert("stopSequences".into(), json!(config.stop));
    }
    if let Some(plan) = sent.reasoning {
        let mut thinking = Map::new();
        thinking.insert("thinkingBudget".into(), json!(plan.budget));
        if plan.summary.is_some_and(|s| s != ReasoningSummary::None) {
            thinking.insert("includeThoughts".into(), json!(true));
        }
        generation.insert("thinkingConfig".into(), Value::Object(thinking));
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    Ok(Value::Object(body))
}

/// A JSON Schema as Gemini's `parameters` take it: its Schema is an OpenAPI
/// subset that refuses `additionalProperties` and `$schema` (a 400 naming
/// them), which other APIs' tool definitions carry (Inspect sends
/// `additionalProperties: false`), so they are left out, at every depth.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "additionalProperties" | "$schema" | "$id"))
                .map(|(k, v)| match (k.as_str(), v) {
                    // Property names are the tool's own: only their schemas are cleaned.
                    ("properties", Value::Object(properties)) => (
                        k.clone(),
                        Value::Object(
                            properties
                                .iter()
                                .map(|(name, s)| (name.clone(), gemini_schema(s)))
                                .collect(),
                        ),
                    ),
                    _ => (k.clone(), gemini_schema(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// The prefix of the ids vigie gives calls Gemini sent without one; such
/// ids are not sent back.
const GENERATED_ID: &str = "gemini-call-";

pub(super) fn parse(value: &Value) -> Option<ModelOutput> {
    let mut output = ModelOutput::default();
    if let Some(u) = value.get("usageMetadata") {
        let input = count(u, "promptTokenCount");
        let thoughts = count(u, "thoughtsTokenCount");
        let out = count(u, "candidatesTokenCount") + thoughts;
        output.usage = Usage {
            input_tokens: input,
            output_tokens: out,
            total_tokens: u
                .get("totalTokenCount")
                .and_then(Value::as_u64)
                .unwrap_or(input + out),
            reasoning_tokens: thoughts,
            cached_input_tokens: count(u, "cachedContentTokenCount"),
        };
    }
    let Some(candidate) = value.get("candidates").and_then(|c| c.get(0)) else {
        // A prompt blocked before any candidate: the reason is all there is.
        let reason = value.get("promptFeedback")?.get("blockReason")?.as_str()?;
        output.stop_reason = reason.to_string();
        output.stop = StopReason::ContentFilter;
        return Some(output);
    };
    let parts = candidate
        .get("content")
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut text = String::new();
    for part in parts {
        let signature = part.get("thoughtSignature").and_then(Value::as_str);
        let thought = part.get("thought").and_then(Value::as_bool) == Some(true);
        if thought {
            output.reasoning.push(Reasoning {
                text: text_at(part, "text"),
                summary: true,
                signature: signature.map(str::to_string),
                ..Reasoning::default()
            });
            continue;
        }
        if let Some(sig) = signature {
            output.reasoning.push(Reasoning {
                signature: Some(sig.to_string()),
                redacted: true,
                ..Reasoning::default()
            });
        }
        if let Some(t) = part.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(call) = part.get("functionCall") {
            let id = call.get("id").and_then(Value::as_str).map_or_else(
                || format!("{GENERATED_ID}{}", output.tool_calls.len()),
                str::to_string,
            );
            output.tool_calls.push(object_call(id, call, "args"));
        }
    }
    output.text = text;
    output.stop_reason = word_at(candidate, "finishReason");
    output.stop = match StopReason::from_api(&output.stop_reason) {
        StopReason::Stop if !output.tool_calls.is_empty() => StopReason::ToolCalls,
        stop => stop,
    };
    Some(output)
}
