//! Each protocol's bodies and answers against the shapes its API documents
//! (the examples of OpenAI's, Anthropic's, Google's and AWS's references).

use serde_json::json;
use vigie_core::{
    ChatMessage, ContentPart, GenerateConfig, GenerateRequest, ModelErrorKind, Reasoning,
    ReasoningEffort, ReasoningSummary, Role, StopReason, ToolCall, ToolChoice, ToolDef,
};

use super::*;
use crate::profile::{adapt, Profiles};

fn request() -> GenerateRequest {
    GenerateRequest::new(
        vec![ChatMessage::system("Be brief."), ChatMessage::user("2+2?")],
        GenerateConfig {
            temperature: Some(0.0),
            max_tokens: Some(5),
            stop: vec!["\n".into()],
            ..Default::default()
        },
    )
}

fn body_for(protocol: Protocol, name: &str, request: &GenerateRequest) -> Value {
    let profiles = Profiles::builtin();
    let sent = adapt(profiles.find(name), protocol, &request.config);
    let model = name.split_once('/').map_or(name, |(_, m)| m);
    protocol.body(model, request, &sent).unwrap()
}

fn weather_tool() -> ToolDef {
    ToolDef {
        name: "get_weather".into(),
        description: "Weather in a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

/// A conversation in which the model reasoned, called a tool and got its result.
fn tool_conversation(reasoning: Reasoning) -> GenerateRequest {
    let mut request = GenerateRequest::new(
        vec![
            ChatMessage::user("Weather in Paris?"),
            ChatMessage {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Reasoning(reasoning),
                    ContentPart::ToolCall(ToolCall::from_text(
                        "call_1",
                        "get_weather",
                        r#"{"city":"Paris"}"#,
                    )),
                ],
            },
            ChatMessage::tool_result("call_1", "18C, clear", false),
        ],
        GenerateConfig {
            max_tokens: Some(100),
            ..Default::default()
        },
    );
    request.tools = vec![weather_tool()];
    request
}

#[test]
fn openai_chat_body_and_answer() {
    let body = body_for(Protocol::OpenAiChat, "vllm/gpt", &request());
    assert_eq!(
        body,
        json!({"model": "gpt", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
               "max_tokens": 5, "stop": ["\n"], "temperature": 0.0})
    );
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}});
    let out = Protocol::OpenAiChat
        .parse(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        (out.text.as_str(), out.stop, out.usage.total_tokens),
        ("4", StopReason::Stop, 8)
    );
}

#[test]
fn openai_reasoning_models_get_max_completion_tokens_and_effort_and_no_sampling() {
    let mut request = request();
    request.config.reasoning_effort = Some(ReasoningEffort::Low);
    let body = body_for(Protocol::OpenAiChat, "openai/o3-mini", &request);
    assert_eq!(
        body,
        json!({"model": "o3-mini", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
               "max_completion_tokens": 5 + 2048, "reasoning_effort": "low"})
    );
    // As OpenAI documents a reasoning model's answer: reasoning tokens in the details.
    let answer = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "4", "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 200, "total_tokens": 209,
                  "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 192}}});
    let out = Protocol::OpenAiChat
        .parse(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        (out.usage.reasoning_tokens, out.usage.cached_input_tokens),
        (192, 4)
    );
}

#[test]
fn openai_chat_tools_round_trip_and_reasoning_content_is_read() {
    let body = body_for(
        Protocol::OpenAiChat,
        "vllm/qwen",
        &tool_conversation(Reasoning {
            text: "Look it up.".into(),
            ..Default::default()
        }),
    );
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": weather_tool().parameters}}])
    );
    assert_eq!(body["tool_choice"], json!("auto"));
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}),
        "reasoning is not sent back to Chat Completions by default"
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "18C, clear"})
    );
    // vLLM's and DeepSeek's answer shape, with one call's arguments cut short.
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": null, "reasoning_content": "The user wants weather.",
        "tool_calls": [{"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                       {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": "}}]},
        "finish_reason": "tool_calls"}]});
    let out = Protocol::OpenAiChat
        .parse(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(out.reasoning[0].text, "The user wants weather.");
    assert_eq!(out.stop, StopReason::ToolCalls);
    assert_eq!(out.tool_calls[0].arguments, json!({"city": "Paris"}));
    assert!(
        out.tool_calls[1].parse_error.is_some(),
        "{:?}",
        out.tool_calls[1]
    );
    assert_eq!(out.tool_calls[1].arguments, json!("{\"city\": "));
}

#[test]
fn openai_responses_carries_encrypted_reasoning_across_turns() {
    let mut conversation = tool_conversation(Reasoning {
        text: "Need the weather tool.".into(),
        summary: true,
        encrypted: Some("gAAAA-opaque".into()),
        id: Some("rs_1".into()),
        ..Default::default()
    });
    conversation.config.reasoning_effort = Some(ReasoningEffort::High);
    conversation.config.reasoning_summary = Some(ReasoningSummary::Auto);
    conversation.tool_choice = ToolChoice::Tool("get_weather".into());
    let body = body_for(Protocol::OpenAiResponses, "openai/o4-mini", &conversation);
    assert_eq!(body["store"], json!(false));
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(
        body["reasoning"],
        json!({"effort": "high", "summary": "auto"})
    );
    assert_eq!(body["max_output_tokens"], json!(100 + 24576));
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
    assert_eq!(
        body["input"],
        json!([
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need the weather tool."}], "encrypted_content": "gAAAA-opaque"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C, clear"},
        ])
    );
    // The answer shape of OpenAI's reference for a reasoning model with a summary.
    let answer = json!({"id": "resp_1", "object": "response", "status": "completed", "output": [
        {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "**Answering**"}], "encrypted_content": "gAAAB"},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": "It is 18C.", "annotations": []}]}],
        "usage": {"input_tokens": 50, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 256}, "total_tokens": 350}});
    let out = Protocol::OpenAiResponses
        .parse(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(out.text, "It is 18C.");
    assert_eq!(
        out.reasoning,
        vec![Reasoning {
            text: "**Answering**".into(),
            summary: true,
            encrypted: Some("gAAAB".into()),
            id: Some("rs_2".into()),
            ..Default::default()
        }]
    );
    assert_eq!(
        (out.stop, out.usage.reasoning_tokens),
        (StopReason::Stop, 256)
    );
    let cut = json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": [
        {"type": "function_call", "call_id": "c9", "name": "get_weather", "arguments": "{}"}]});
    let out = Protocol::OpenAiResponses
        .parse(cut.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        (out.stop_reason.as_str(), out.tool_calls.len()),
        ("max_output_tokens", 1)
    );
}

#[test]
fn anthropic_thinking_budget_blocks_and_tools() {
    let mut conversation = tool_conversation(Reasoning {
        text: "I should call the tool.".into(),
        signature: Some("EqQBCgIYAhIM".into()),
        ..Default::default()
    });
    conversation.config.reasoning_tokens = Some(2000);
    conversation.config.temperature = Some(0.0);
    let body = body_for(
        Protocol::AnthropicMessages,
        "anthropic/claude-sonnet-4-5",
        &conversation,
    );
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2000})
    );
    assert_eq!(
        body["max_tokens"],
        json!(2100),
        "the answer's budget plus the thinking budget"
    );
    assert!(
        body.get("temperature").is_none(),
        "thinking refuses temperature: {body}"
    );
    assert_eq!(
        body["tools"],
        json!([{"name": "get_weather", "description": "Weather in a city", "input_schema": weather_tool().parameters}])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBCgIYAhIM"},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "18C, clear", "is_error": false}]},
        ])
    );
    // Anthropic's documented answer with thinking, a redacted block and a tool call.
    let answer = json!({"id": "msg_1", "type": "message", "role": "assistant", "content": [
        {"type": "thinking", "thinking": "Let me check.", "signature": "WaUjzkyp"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 40}});
    let out = Protocol::AnthropicMessages
        .parse(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(out.reasoning[0].signature.as_deref(), Some("WaUjzkyp"));
    assert!(
        out.reasoning[1].redacted
            && out.reasoning[1].encrypted.as_deref() == Some("EmwKAhgBEgy3va3p")
    );
    assert_eq!(
        (out.text.as_str(), out.stop),
        ("Checking.", StopReason::ToolCalls)
    );
    assert_eq!(
        (out.usage.input_tokens, out.usage.cached_input_tokens),
        (100, 90)
    );
    // Sent back, the blocks come back as they were.
    let mut next = conversation.clone();
    next.messages.insert(1, out.message());
    next.messages
        .insert(2, ChatMessage::tool_result("toolu_01", "18C", false));
    let body = body_for(
        Protocol::AnthropicMessages,
        "anthropic/claude-sonnet-4-5",
        &next,
    );
    assert_eq!(
        body["messages"][1]["content"][1],
        json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"})
    );
}

#[test]
fn a_reasoning_block_without_its_signature_is_a_clear_error_unless_left_out() {
    let mut conversation = tool_conversation(Reasoning {
        text: "unsigned".into(),
        ..Default::default()
    });
    let profiles = Profiles::builtin();
    let sent = adapt(
        profiles.find("anthropic/claude-sonnet-4"),
        Protocol::AnthropicMessages,
        &conversation.config,
    );
    let err = Protocol::AnthropicMessages
        .body("claude", &conversation, &sent)
        .unwrap_err();
    assert_eq!(err.kind, ModelErrorKind::Fatal);
    assert!(
        err.message
            .starts_with("messages[1]: a reasoning block without its signature"),
        "{}",
        err.message
    );
    conversation.config.reasoning_history = Some(vigie_core::ReasoningHistory::None);
    let body = Protocol::AnthropicMessages
        .body("claude", &conversation, &sent)
        .unwrap();
    assert_eq!(
        body["messages"][1]["content"].as_array().unwrap().len(),
        1,
        "only the tool call: {body}"
    );
}

#[test]
fn bad_conversations_are_errors_that_say_where() {
    let mut unknown = tool_conversation(Reasoning::default());
    unknown
        .messages
        .push(ChatMessage::tool_result("call_9", "?", false));
    for protocol in [
        Protocol::OpenAiChat,
        Protocol::OpenAiResponses,
        Protocol::AnthropicMessages,
        Protocol::Gemini,
        Protocol::BedrockConverse,
    ] {
        let sent = adapt(None, protocol, &unknown.config);
        let err = protocol.body("m", &unknown, &sent).unwrap_err();
        assert_eq!(
            err.message,
            "messages[3]: a tool result for call `call_9`, which no earlier tool call made",
            "{protocol:?}"
        );
    }
    let mut raw = tool_conversation(Reasoning {
        signature: Some("s".into()),
        ..Default::default()
    });
    raw.messages[1].content[1] =
        ContentPart::ToolCall(ToolCall::from_text("call_1", "get_weather", "{city"));
    let sent = adapt(None, Protocol::AnthropicMessages, &raw.config);
    let err = Protocol::AnthropicMessages
        .body("m", &raw, &sent)
        .unwrap_err();
    assert!(
        err.message
            .contains("tool call `call_1` cannot be sent back: the arguments are not JSON"),
        "{}",
        err.message
    );
    // OpenAI takes arguments as text: the model's own text goes back.
    let sent = adapt(None, Protocol::OpenAiChat, &raw.config);
    let body = Protocol::OpenAiChat.body("m", &raw, &sent).unwrap();
    assert_eq!(
        body["messages"][1]["tool_calls"][0]["function"]["arguments"],
        json!("{city")
    );
}

#[test]
fn gemini_thinking_tools_and_signatures() {
    let mut conversation = tool_conversation(Reasoning {
        signature: Some("CiQB0e2Kb".into()),
        redacted: true,
        ..Default::default()
    });
    conversation
        .messages
        .insert(0, ChatMessage::system("You are terse."));
    conversation.config.reasoning_summary = Some(ReasoningSummary::Auto);
    let body = body_for(Protocol::Gemini, "google/gemini-2.5-pro", &conversation);
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "You are terse."}]})
    );
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}, "thoughtSignature": "CiQB0e2Kb"}]},
            {"role": "user", "parts": [{"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"content": "18C, clear"}}}]},
        ])
    );
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather in a city", "parameters": weather_tool().parameters}]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        body["generationConfig"],
        json!({"maxOutputTokens": 100 + 8192, "thinkingConfig": {"thinkingBudget": 8192, "includeThoughts": true}})
    );
    // Google's documented answer with a thought summary and a signed call.
    let answer = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "**Planning** the lookup", "thought": true},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQB0e2Kc"}]},
        "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 10, "thoughtsTokenCount": 100, "totalTokenCount": 130}});
    let out = Protocol::Gemini
        .parse(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(out.stop, StopReason::ToolCalls);
    assert_eq!(
        (out.usage.output_tokens, out.usage.reasoning_tokens),
        (110, 100)
    );
    assert!(out.reasoning[0].summary && out.reasoning[0].text == "**Planning** the lookup");
    assert_eq!(out.reasoning[1].signature.as_deref(), Some("CiQB0e2Kc"));
    assert_eq!(out.tool_calls[0].id, "gemini-call-0");
    let mut strict = conversation.clone();
    strict.tools[0].parameters = json!({"$schema": "x", "type": "object", "additionalProperties": false,
        "properties": {"where": {"type": "object", "additionalProperties": false, "properties": {}},
                       "additionalProperties": {"type": "string"}}});
    let body = body_for(Protocol::Gemini, "google/gemini-2.5-pro", &strict);
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0]["parameters"],
        json!({"type": "object", "properties": {"where": {"type": "object", "properties": {}}, "additionalProperties": {"type": "string"}}}),
        "Gemini's Schema refuses additionalProperties and $schema"
    );
    let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}});
    let out = Protocol::Gemini
        .parse(blocked.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        (out.stop, out.text.as_str()),
        (StopReason::ContentFilter, "")
    );
}

#[test]
fn bedrock_converse_body_and_answer() {
    let mut conversation = tool_conversation(Reasoning {
        text: "Tool time.".into(),
        signature: Some("sig".into()),
        ..Default::default()
    });
    conversation.config.reasoning_effort = Some(ReasoningEffort::Minimal);
    conversation.tool_choice = ToolChoice::Required;
    let body = body_for(
        Protocol::BedrockConverse,
        "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0",
        &conversation,
    );
    assert_eq!(
        body,
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Weather in Paris?"}]},
                {"role": "assistant", "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Tool time.", "signature": "sig"}}},
                    {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C, clear"}], "status": "success"}}]},
            ],
            "inferenceConfig": {"maxTokens": 100 + 1024},
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather in a city", "inputSchema": {"json": weather_tool().parameters}}}], "toolChoice": {"any": {}}},
        })
    );
    assert_eq!(
        Protocol::BedrockConverse.path("us.anthropic.claude-sonnet-4-20250514-v1:0"),
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    );
    // AWS's documented Converse answer.
    let answer = json!({"output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "s2"}}},
        {"text": "Let me look."},
        {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Lyon"}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 30, "outputTokens": 20, "totalTokens": 50}, "metrics": {"latencyMs": 900}});
    let out = Protocol::BedrockConverse
        .parse(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        (out.text.as_str(), out.stop, out.usage.total_tokens),
        ("Let me look.", StopReason::ToolCalls, 50)
    );
    assert_eq!(out.tool_calls[0].arguments, json!({"city": "Lyon"}));
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
        Protocol::Gemini.parse(b"{}").unwrap_err().kind,
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
    let e = Protocol::OpenAiChat.classify(400, br#"{"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "param": "max_tokens"}}"#);
    assert_eq!(e.kind, ModelErrorKind::Unsupported);
    let e = Protocol::AnthropicMessages.classify(400, br#"{"type": "error", "error": {"type": "invalid_request_error", "message": "`temperature` may only be set to 1 when thinking is enabled."}}"#);
    assert_eq!(e.kind, ModelErrorKind::Unsupported);
    let e = Protocol::Gemini.classify(400, br#"[{"error": {"code": 400, "message": "Invalid JSON payload received. Unknown name \"logit_bias\": Cannot find field.", "status": "INVALID_ARGUMENT"}}]"#);
    assert_eq!(
        (e.kind, e.message.contains("Unknown name")),
        (ModelErrorKind::Unsupported, true)
    );
    assert_eq!(
        Protocol::OpenAiChat
            .classify(401, b"{\"error\": {\"message\": \"bad key\"}}")
            .kind,
        ModelErrorKind::Rejected
    );
}
