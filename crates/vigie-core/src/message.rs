//! Messages: who spoke ([`Role`]) and what, as a list of typed parts
//! ([`ContentPart`]): text, a model's reasoning ([`Reasoning`]), the tools it
//! called ([`ToolCall`]) and what they returned ([`ToolResult`]). Every
//! provider reads its API's answer into these parts and writes them back in
//! its own form on later turns, so a log keeps one shape whatever the API.
//!
//! On disk and in JSON outputs a message whose content is one text part is
//! written as a plain string (`{"role":"user","content":"Hi"}`), as chat APIs
//! write it; any other content is an array of parts, each tagged by `type`
//! (`[{"type":"text","text":"Hi"}]`). Both forms read back to the same value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who spoke a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the operator.
    System,
    /// The user's turn.
    User,
    /// The model's turn.
    Assistant,
    /// What the tools the model called returned ([`ToolResult`] parts).
    Tool,
}

impl Role {
    /// The role's name as chat APIs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// The model's reasoning before it answered.
    Reasoning(Reasoning),
    /// A tool the model asked to run.
    ToolCall(ToolCall),
    /// What a tool returned, for one call.
    ToolResult(ToolResult),
}

/// A model's reasoning: its full text, a summary of it, or only an opaque
/// payload when the API redacts it. Whatever the API needs to accept it back
/// on a later turn (a signature, an encrypted payload, an item id) is kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reasoning {
    /// The reasoning (or its summary) as text; empty when redacted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// `text` is a summary the API wrote, not the reasoning itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub summary: bool,
    /// The API withheld the reasoning; `encrypted` holds what it returned instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// The API's signature over the reasoning (Anthropic's `signature`,
    /// Gemini's `thoughtSignature`), which it checks when the block comes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// An opaque payload (Anthropic's redacted `data`, OpenAI's `encrypted_content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<String>,
    /// The API's id of the reasoning item (OpenAI Responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A tool call as the model made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The call's id, which its result names.
    pub id: String,
    /// The tool.
    pub name: String,
    /// The arguments, as JSON. When the model's arguments were not valid JSON
    /// this is the raw text, as a JSON string, and `parse_error` says why.
    pub arguments: serde_json::Value,
    /// Why the arguments could not be read, when they could not; never guessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

impl ToolCall {
    /// A call whose arguments arrive as text (as most APIs send them): parsed
    /// as JSON, or kept raw with the parse error.
    pub fn from_text(id: impl Into<String>, name: impl Into<String>, arguments: &str) -> ToolCall {
        let (arguments, parse_error) = if arguments.trim().is_empty() {
            (serde_json::Value::Object(Default::default()), None)
        } else {
            match serde_json::from_str(arguments) {
                Ok(value) => (value, None),
                Err(e) => (
                    serde_json::Value::String(arguments.to_string()),
                    Some(format!("the arguments are not JSON: {e}")),
                ),
            }
        };
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
            parse_error,
        }
    }

    /// The arguments as text, as OpenAI-style APIs take them back.
    pub fn arguments_text(&self) -> String {
        match (&self.arguments, &self.parse_error) {
            (serde_json::Value::String(raw), Some(_)) => raw.clone(),
            (value, _) => value.to_string(),
        }
    }
}

/// What one tool call returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolResult {
    /// The id of the call this answers.
    pub call_id: String,
    /// The tool's output (or the error the model is shown).
    pub content: String,
    /// The call failed (bad arguments, a timeout, a non-zero exit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatMessage {
    /// Who spoke.
    pub role: Role,
    /// What was said, in order.
    #[serde(serialize_with = "write_content", deserialize_with = "read_content")]
    #[schemars(schema_with = "content_schema")]
    pub content: Vec<ContentPart>,
}

impl ChatMessage {
    /// A message of one text part.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: vec![ContentPart::Text { text: text.into() }],
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        ChatMessage::new(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        ChatMessage::new(Role::User, text)
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        ChatMessage::new(Role::Assistant, text)
    }

    /// A tool message answering one call.
    pub fn tool_result(
        call_id: impl Into<String>,
        content: impl Into<String>,
        is_error: bool,
    ) -> Self {
        ChatMessage {
            role: Role::Tool,
            content: vec![ContentPart::ToolResult(ToolResult {
                call_id: call_id.into(),
                content: content.into(),
                is_error,
            })],
        }
    }

    /// The tool calls in this message, in order.
    pub fn tool_calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.content.iter().filter_map(|part| match part {
            ContentPart::ToolCall(call) => Some(call),
            _ => None,
        })
    }

    /// The reasoning parts of this message, in order.
    pub fn reasoning(&self) -> impl Iterator<Item = &Reasoning> {
        self.content.iter().filter_map(|part| match part {
            ContentPart::Reasoning(reasoning) => Some(reasoning),
            _ => None,
        })
    }

    /// The message's text: its text parts, joined by newlines (reasoning,
    /// tool calls and tool results are not text).
    pub fn text(&self) -> String {
        let mut texts = self.content.iter().filter_map(|part| match part {
            ContentPart::Text { text } => Some(text.as_str()),
            _ => None,
        });
        match (texts.next(), texts.next()) {
            (None, _) => String::new(),
            (Some(only), None) => only.to_string(),
            (Some(first), Some(second)) => {
                let mut out = format!("{first}\n{second}");
                for text in texts {
                    out.push('\n');
                    out.push_str(text);
                }
                out
            }
        }
    }

    /// Replaces the content with one text part.
    pub fn set_text(&mut self, text: impl Into<String>) {
        self.content = vec![ContentPart::Text { text: text.into() }];
    }
}

/// The schema of `content`: one text as a string, or a list of parts.
fn content_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let parts = generator.subschema_for::<Vec<ContentPart>>();
    schemars::json_schema!({ "anyOf": [{ "type": "string" }, parts] })
}

fn write_content<S: Serializer>(parts: &[ContentPart], serializer: S) -> Result<S::Ok, S::Error> {
    match parts {
        [ContentPart::Text { text }] => serializer.serialize_str(text),
        parts => parts.serialize(serializer),
    }
}

fn read_content<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ContentPart>, D::Error> {
    // A visitor rather than an untagged enum, so that a bad part is reported
    // as itself (`unknown variant `image``) and not as "matched no variant".
    struct Content;
    impl<'de> serde::de::Visitor<'de> for Content {
        type Value = Vec<ContentPart>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a list of content parts")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(vec![ContentPart::Text {
                text: text.to_string(),
            }])
        }

        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(vec![ContentPart::Text { text }])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
            while let Some(part) = seq.next_element()? {
                parts.push(part);
            }
            Ok(parts)
        }
    }
    deserializer.deserialize_any(Content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_part_is_written_as_a_string_and_both_forms_read_back() {
        let message = ChatMessage::user("Hi");
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(json, r#"{"role":"user","content":"Hi"}"#);
        assert_eq!(serde_json::from_str::<ChatMessage>(&json).unwrap(), message);
        let parts = r#"{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"there"}]}"#;
        let read: ChatMessage = serde_json::from_str(parts).unwrap();
        assert_eq!(read.content.len(), 2);
        assert_eq!(read.text(), "Hi\nthere");
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            parts,
            "several parts stay an array"
        );
        let empty: ChatMessage =
            serde_json::from_str(r#"{"role":"assistant","content":[]}"#).unwrap();
        assert_eq!(
            (empty.text(), serde_json::to_string(&empty).unwrap()),
            (
                String::new(),
                r#"{"role":"assistant","content":[]}"#.to_string()
            )
        );
    }

    #[test]
    fn unknown_parts_and_roles_are_errors_that_name_them() {
        let err = serde_json::from_str::<ChatMessage>(
            r#"{"role":"user","content":[{"type":"image","url":"x"}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown variant `image`, expected one of `text`"),
            "{err}"
        );
        let err =
            serde_json::from_str::<ChatMessage>(r#"{"role":"robot","content":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `robot`"), "{err}");
    }

    #[test]
    fn reasoning_tool_calls_and_results_round_trip_and_are_not_text() {
        let message = ChatMessage {
            role: Role::Assistant,
            content: vec![
                ContentPart::Reasoning(Reasoning {
                    text: "Add them.".into(),
                    signature: Some("sig".into()),
                    ..Reasoning::default()
                }),
                ContentPart::Text {
                    text: "Calling.".into(),
                },
                ContentPart::ToolCall(ToolCall::from_text("c1", "add", r#"{"a":1}"#)),
            ],
        };
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(
            json,
            r#"{"role":"assistant","content":[{"type":"reasoning","text":"Add them.","signature":"sig"},{"type":"text","text":"Calling."},{"type":"tool_call","id":"c1","name":"add","arguments":{"a":1}}]}"#
        );
        assert_eq!(serde_json::from_str::<ChatMessage>(&json).unwrap(), message);
        assert_eq!(message.text(), "Calling.");
        assert_eq!(message.tool_calls().count(), 1);
        let result = ChatMessage::tool_result("c1", "2", false);
        let json = serde_json::to_string(&result).unwrap();
        assert_eq!(
            json,
            r#"{"role":"tool","content":[{"type":"tool_result","call_id":"c1","content":"2"}]}"#
        );
        assert_eq!(result.text(), "");
    }

    #[test]
    fn tool_arguments_that_are_not_json_are_kept_raw_with_the_error() {
        let call = ToolCall::from_text("c", "bash", r#"{"cmd": "ls"#);
        assert_eq!(call.arguments, serde_json::json!(r#"{"cmd": "ls"#));
        assert!(
            call.parse_error
                .as_deref()
                .unwrap()
                .starts_with("the arguments are not JSON"),
            "{call:?}"
        );
        assert_eq!(
            call.arguments_text(),
            r#"{"cmd": "ls"#,
            "sent back as the model wrote it"
        );
        let empty = ToolCall::from_text("c", "now", "");
        assert_eq!(
            (empty.arguments, empty.parse_error),
            (serde_json::json!({}), None)
        );
    }

    #[test]
    fn set_text_replaces_every_part() {
        let mut message = ChatMessage::user("a");
        message.content.push(ContentPart::Text { text: "b".into() });
        message.set_text("c");
        assert_eq!(message, ChatMessage::user("c"));
    }
}
