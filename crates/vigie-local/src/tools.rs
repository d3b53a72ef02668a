//! Tool calling for the embedded model. A GGUF chat template that knows
//! tools (it reads a `tools` variable: Qwen's, Hermes', SmolLM3's) is given
//! them, with earlier calls and results, as Hugging Face templates take
//! them. Any other template gets vigie's documented prompt format
//! (docs/models.md): the tools listed in the system prompt, a call written
//! as `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, a result given
//! back as `<tool_response>…</tool_response>` in a user turn. Either way
//! calls are read from the output by that same tag; a call that cannot be
//! read is returned with its parse error, never guessed.

use serde_json::{json, Value};
use vigie_core::{
    ChatMessage, ContentPart, GenerateRequest, ModelOutput, Role, StopReason, ToolCall, ToolChoice,
    ToolDef,
};

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// Whether a chat template renders tools itself.
pub(crate) fn template_takes_tools(template: &str) -> bool {
    template.contains("tools")
}

/// Whether a request asks for tool calls at all.
pub(crate) fn offered(request: &GenerateRequest) -> bool {
    !request.tools.is_empty() && request.tool_choice != ToolChoice::None
}

/// The tools as Hugging Face chat templates take them.
pub(crate) fn template_tools(tools: &[ToolDef]) -> Vec<Value> {
    tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
        .collect()
}

/// The conversation in vigie's prompt format, for templates without tools.
pub(crate) fn in_prompt_format(request: &GenerateRequest) -> Vec<ChatMessage> {
    let mut instructions = String::from(
        "You can call tools. To call one, write only\n<tool_call>{\"name\": \"TOOL\", \"arguments\": {ARGUMENTS}}</tool_call>\n(one line per call) and stop; each result comes back in <tool_response> tags. Without a tool, answer as usual.\nTools, with a JSON Schema of their arguments:\n",
    );
    for tool in &request.tools {
        instructions.push_str(
            &json!({"name": tool.name, "description": tool.description, "parameters": tool.parameters})
                .to_string(),
        );
        instructions.push('\n');
    }
    match &request.tool_choice {
        ToolChoice::Required => instructions.push_str("You must call a tool now.\n"),
        ToolChoice::Tool(name) => instructions.push_str(&format!("You must call `{name}` now.\n")),
        ToolChoice::Auto | ToolChoice::None => {}
    }
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    match request.messages.first() {
        Some(first) if first.role == Role::System => {
            messages.push(ChatMessage::system(format!(
                "{}\n\n{instructions}",
                first.text()
            )));
        }
        _ => messages.push(ChatMessage::system(instructions)),
    }
    let skip = usize::from(
        request
            .messages
            .first()
            .is_some_and(|m| m.role == Role::System),
    );
    for message in &request.messages[skip..] {
        match message.role {
            Role::Assistant => {
                let mut text = message.text();
                for call in message.tool_calls() {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&format!(
                        "{OPEN}{}{CLOSE}",
                        json!({"name": call.name, "arguments": call.arguments})
                    ));
                }
                messages.push(ChatMessage::assistant(text));
            }
            Role::Tool => {
                let results: Vec<String> = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        ContentPart::ToolResult(r) if r.is_error => Some(format!(
                            "<tool_response error=\"true\">\n{}\n</tool_response>",
                            r.content
                        )),
                        ContentPart::ToolResult(r) => {
                            Some(format!("<tool_response>\n{}\n</tool_response>", r.content))
                        }
                        _ => None,
                    })
                    .collect();
                // Consecutive results share one user turn.
                match messages.last_mut() {
                    Some(last)
                        if last.role == Role::User && last.text().starts_with("<tool_response") =>
                    {
                        let joined = format!("{}\n{}", last.text(), results.join("\n"));
                        last.set_text(joined);
                    }
                    _ => messages.push(ChatMessage::user(results.join("\n"))),
                }
            }
            Role::System | Role::User => messages.push(message.clone()),
        }
    }
    messages
}

/// Reads the tool calls out of an answer: the text outside the tags stays
/// the answer; each tagged call becomes a [`ToolCall`], or carries why it
/// could not be read.
pub(crate) fn read_calls(output: &mut ModelOutput) {
    if !output.text.contains(OPEN) {
        return;
    }
    let mut rest = output.text.as_str();
    let mut text = String::new();
    let mut calls = Vec::new();
    while let Some(start) = rest.find(OPEN) {
        text.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let id = format!("call_{}", calls.len());
        match after.find(CLOSE) {
            Some(end) => {
                calls.push(read_call(id, after[..end].trim()));
                rest = &after[end + CLOSE.len()..];
            }
            None => {
                calls.push(ToolCall {
                    id,
                    name: String::new(),
                    arguments: Value::String(after.to_string()),
                    parse_error: Some(format!("the call is not closed with {CLOSE} (the answer may have run out of tokens)")),
                });
                rest = "";
            }
        }
    }
    text.push_str(rest);
    output.text = text.trim().to_string();
    output.tool_calls = calls;
    output.stop = StopReason::ToolCalls;
    output.stop_reason = "tool_calls".into();
}

fn read_call(id: String, inside: &str) -> ToolCall {
    let raw = || Value::String(inside.to_string());
    let bad = |why: String| ToolCall {
        id: id.clone(),
        name: String::new(),
        arguments: raw(),
        parse_error: Some(why),
    };
    let value: Value = match serde_json::from_str(inside) {
        Ok(value) => value,
        Err(e) => return bad(format!("the call is not JSON: {e}")),
    };
    let Some(name) = value.get("name").and_then(Value::as_str) else {
        return bad("the call names no tool (`name`)".into());
    };
    let arguments = match value.get("arguments").or_else(|| value.get("parameters")) {
        None => json!({}),
        // Some models write the arguments as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                return ToolCall {
                    name: name.to_string(),
                    ..bad(format!("the arguments are not JSON: {e}"))
                }
            }
        },
        Some(other) => other.clone(),
    };
    ToolCall {
        id,
        name: name.to_string(),
        arguments,
        parse_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_core::GenerateConfig;

    fn weather() -> ToolDef {
        ToolDef {
            name: "get_weather".into(),
            description: "Weather in a city".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        }
    }

    #[test]
    fn calls_are_read_from_the_tags_and_bad_ones_keep_their_error() {
        let mut output = ModelOutput::of_text(
            "Let me check.\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": </tool_call><tool_call>{\"name\": \"x\"",
            "stop",
            Default::default(),
        );
        read_calls(&mut output);
        assert_eq!(output.text, "Let me check.");
        assert_eq!(output.stop, StopReason::ToolCalls);
        assert_eq!(output.tool_calls.len(), 3);
        assert_eq!(output.tool_calls[0].arguments, json!({"city": "Paris"}));
        assert_eq!(output.tool_calls[0].parse_error, None);
        assert!(output.tool_calls[1]
            .parse_error
            .as_deref()
            .unwrap()
            .starts_with("the call is not JSON"));
        assert_eq!(
            output.tool_calls[1].arguments,
            json!("{\"name\": \"get_weather\", \"arguments\": {\"city\":")
        );
        assert!(output.tool_calls[2]
            .parse_error
            .as_deref()
            .unwrap()
            .contains("not closed"));
        let mut plain = ModelOutput::of_text("No tools needed.", "stop", Default::default());
        read_calls(&mut plain);
        assert!(plain.tool_calls.is_empty() && plain.stop == StopReason::Stop);
    }

    #[test]
    fn the_prompt_format_lists_tools_and_writes_calls_and_results_back() {
        let mut request = GenerateRequest::new(
            vec![
                ChatMessage::system("Be brief."),
                ChatMessage::user("Weather in Paris?"),
                ChatMessage {
                    role: Role::Assistant,
                    content: vec![ContentPart::ToolCall(ToolCall::from_text(
                        "c1",
                        "get_weather",
                        r#"{"city":"Paris"}"#,
                    ))],
                },
                ChatMessage::tool_result("c1", "18C", false),
            ],
            GenerateConfig::default(),
        );
        request.tools = vec![weather()];
        request.tool_choice = ToolChoice::Tool("get_weather".into());
        let messages = in_prompt_format(&request);
        assert_eq!(messages.len(), 4);
        let system = messages[0].text();
        assert!(
            system.starts_with("Be brief.\n\nYou can call tools."),
            "{system}"
        );
        assert!(
            system.contains(r#"{"name":"get_weather","description":"Weather in a city""#),
            "{system}"
        );
        assert!(system.contains("You must call `get_weather` now."));
        assert_eq!(
            messages[2].text(),
            r#"<tool_call>{"name":"get_weather","arguments":{"city":"Paris"}}</tool_call>"#
        );
        assert_eq!(
            (messages[3].role, messages[3].text()),
            (
                Role::User,
                "<tool_response>\n18C\n</tool_response>".to_string()
            )
        );
    }
}
