//! Messages: who spoke ([`Role`]) and what, as a list of typed parts
//! ([`ContentPart`]). Text is the only part today; reasoning, tool calls and
//! tool results are further variants of the same enum, so a log keeps one
//! shape as they arrive.
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
}

impl Role {
    /// The role's name as chat APIs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
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

    /// The message's text: its text parts, joined by newlines.
    pub fn text(&self) -> String {
        let mut texts = self.content.iter().map(|part| match part {
            ContentPart::Text { text } => text.as_str(),
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
                .contains("unknown variant `image`, expected `text`"),
            "{err}"
        );
        let err =
            serde_json::from_str::<ChatMessage>(r#"{"role":"robot","content":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `robot`"), "{err}");
    }

    #[test]
    fn set_text_replaces_every_part() {
        let mut message = ChatMessage::user("a");
        message.content.push(ContentPart::Text { text: "b".into() });
        message.set_text("c");
        assert_eq!(message, ChatMessage::user("c"));
    }
}
