//! Chat templates and messages: [`Role`], [`ChatMessage`] with its [`ToolCall`]s,
//! [`MessagePlaceholder`], [`ChatItem`] and the [`Template`] of a prompt (one text, or a list
//! of chat entries), with the serde shapes a prompt file is written in.
//!
//! What a render makes of them is in [`output`](super::output).

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The author of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// A function result (legacy OpenAI).
    Function,
    /// A tool result.
    Tool,
}

wire_names!(Role, "role", [
    System => "system",
    User => "user",
    Assistant => "assistant",
    Function => "function",
    Tool => "tool",
]);

/// One chat message: a template in a prompt, or rendered text in a render's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// The message text (a template inside a prompt; plain text once rendered).
    pub content: String,
    /// An optional participant name (for a `function` message, the function's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a `tool` message: the id of the tool call it answers (OpenAI's `tool_call_id`,
    /// Anthropic's `tool_use_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For an `assistant` message: the tools it called, in order. Kept as written, never
    /// rendered as templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl ChatMessage {
    /// A message with a role and content.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            name: None,
            tool_call_id: None,
            tool_calls: Vec::new(),
        }
    }

    /// A `tool` message: the result of the tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(call_id.into()),
            ..ChatMessage::new(Role::Tool, content)
        }
    }

    /// This message with `calls` as its tool calls (for an `assistant` message).
    pub fn with_tool_calls(mut self, calls: impl IntoIterator<Item = ToolCall>) -> Self {
        self.tool_calls = calls.into_iter().collect();
        self
    }

    /// Why the tool fields do not fit the role, if they do not: only a `tool` message answers a
    /// call, and only an `assistant` message makes calls.
    pub fn tool_fields_problem(&self) -> Option<String> {
        if self.tool_call_id.is_some() && self.role != Role::Tool {
            return Some(format!(
                "`tool_call_id` belongs on a tool message, not on a {} message",
                self.role
            ));
        }
        if !self.tool_calls.is_empty() && self.role != Role::Assistant {
            return Some(format!(
                "`tool_calls` belong on an assistant message, not on a {} message",
                self.role
            ));
        }
        if let Some(call) = self.tool_calls.iter().find(|c| !c.arguments.is_object()) {
            return Some(format!(
                "the arguments of tool call `{}` must be a JSON object",
                call.id
            ));
        }
        None
    }
}

/// A tool an assistant message called: the call's id (which the `tool` message answering it
/// names), the tool's name and its arguments (a JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The call's id, unique in the conversation (`call_1`).
    pub id: String,
    /// The tool's (function's) name.
    pub name: String,
    /// The arguments, as a JSON object.
    #[serde(default = "empty_object")]
    pub arguments: serde_json::Value,
}

impl ToolCall {
    /// A call of tool `name` with `arguments` (a JSON object).
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: serde_json::Value) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A slot in a chat template that expands a variable holding a list of earlier messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePlaceholder {
    /// The variable that holds the messages.
    pub variable: String,
    /// Whether a missing variable expands to nothing instead of an error.
    pub optional: bool,
}

/// One entry of a chat template: a message or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawChatItem", into = "RawChatItem")]
pub enum ChatItem {
    /// A message whose content is a template.
    Message(ChatMessage),
    /// A list of messages taken from a variable, inserted as they are (never rendered as templates).
    Placeholder(MessagePlaceholder),
}

impl ChatItem {
    /// A templated message.
    pub fn message(role: Role, content: impl Into<String>) -> Self {
        ChatItem::Message(ChatMessage::new(role, content))
    }

    /// A required placeholder for the list of messages in `variable`.
    pub fn placeholder(variable: impl Into<String>) -> Self {
        ChatItem::Placeholder(MessagePlaceholder {
            variable: variable.into(),
            optional: false,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChatItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    optional: bool,
}

impl TryFrom<RawChatItem> for ChatItem {
    type Error = String;
    fn try_from(raw: RawChatItem) -> Result<Self, String> {
        match (raw.role, raw.content, raw.placeholder) {
            (Some(role), Some(content), None) => {
                if raw.optional {
                    return Err("`optional` applies to placeholders only".into());
                }
                let message = ChatMessage {
                    role,
                    content,
                    name: raw.name,
                    tool_call_id: raw.tool_call_id,
                    tool_calls: raw.tool_calls,
                };
                match message.tool_fields_problem() {
                    Some(problem) => Err(problem),
                    None => Ok(ChatItem::Message(message)),
                }
            }
            (None, None, Some(variable)) => {
                if raw.name.is_some() || raw.tool_call_id.is_some() || !raw.tool_calls.is_empty() {
                    return Err("a placeholder takes `placeholder` and `optional`, not `name` or tool fields".into());
                }
                Ok(ChatItem::Placeholder(MessagePlaceholder {
                    variable,
                    optional: raw.optional,
                }))
            }
            (_, _, Some(_)) => {
                Err("an entry is either a message (`role`, `content`) or a `placeholder`, not both".into())
            }
            (None, _, None) => Err("a message needs a `role` (system, user, assistant, function or tool)".into()),
            (Some(_), None, None) => Err("a message needs a `content`".into()),
        }
    }
}

impl From<ChatItem> for RawChatItem {
    fn from(item: ChatItem) -> Self {
        match item {
            ChatItem::Message(m) => RawChatItem {
                role: Some(m.role),
                content: Some(m.content),
                name: m.name,
                tool_call_id: m.tool_call_id,
                tool_calls: m.tool_calls,
                placeholder: None,
                optional: false,
            },
            ChatItem::Placeholder(p) => RawChatItem {
                role: None,
                content: None,
                name: None,
                tool_call_id: None,
                tool_calls: Vec::new(),
                placeholder: Some(p.variable),
                optional: p.optional,
            },
        }
    }
}

/// The template of a prompt: one text, or a list of chat entries.
///
/// Serialized as a string or a list, so a prompt file reads naturally:
/// `template: "Hello {{ name }}"` or `template: [{role: system, content: …}, {placeholder: history}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// A text template.
    Text(String),
    /// A chat template.
    Chat(Vec<ChatItem>),
}

impl Template {
    /// The sources with a name for each, for messages: the text as `unit`, or each message's
    /// content as `unit message N`, where N counts every entry (placeholders too) from 1.
    pub fn named_sources(&self, unit: &str) -> Vec<(String, &str)> {
        match self {
            Template::Text(t) => vec![(unit.to_owned(), t.as_str())],
            Template::Chat(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    ChatItem::Message(m) => Some((format!("{unit} message {}", i + 1), m.content.as_str())),
                    ChatItem::Placeholder(_) => None,
                })
                .collect(),
        }
    }

    /// The template sources in order: the text, or each message's content (placeholders skipped).
    pub fn sources(&self) -> Vec<&str> {
        match self {
            Template::Text(t) => vec![t.as_str()],
            Template::Chat(items) => items
                .iter()
                .filter_map(|i| match i {
                    ChatItem::Message(m) => Some(m.content.as_str()),
                    ChatItem::Placeholder(_) => None,
                })
                .collect(),
        }
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Template::Text(t) => s.serialize_str(t),
            Template::Chat(items) => items.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TemplateVisitor;
        impl<'de> Visitor<'de> for TemplateVisitor {
            type Value = Template;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a template string or a list of chat messages")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Template, E> {
                Ok(Template::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Template, E> {
                Ok(Template::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Template, A::Error> {
                Vec::<ChatItem>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Template::Chat)
            }
        }
        d.deserialize_any(TemplateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Prompt, PromptFormat};

    #[test]
    fn chat_items_read_naturally_from_yaml() {
        let yaml = r#"
id: support/triage
template:
  - role: system
    content: "You are {{ bot }}."
  - placeholder: history
    optional: true
  - role: user
    content: "{{ question }}"
    name: alice
"#;
        let p: Prompt = serde_yaml_ng::from_str(yaml).expect("valid prompt");
        assert_eq!(p.format, PromptFormat::Chat);
        let Template::Chat(items) = &p.template else {
            panic!("chat expected")
        };
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[1],
            ChatItem::Placeholder(MessagePlaceholder {
                variable: "history".into(),
                optional: true
            })
        );
    }

    #[test]
    fn tool_calls_and_their_answers_round_trip_as_written() {
        let yaml = r#"
id: support/rates
template:
  - role: user
    content: "Rates for {{ years }} years?"
  - role: assistant
    content: ""
    tool_calls:
      - {id: call_1, name: get_rates, arguments: {years: 30}}
  - role: tool
    content: '{"fixed": 4.1}'
    tool_call_id: call_1
"#;
        let p: Prompt = serde_yaml_ng::from_str(yaml).expect("valid prompt");
        let Template::Chat(items) = &p.template else {
            panic!("chat expected")
        };
        assert_eq!(
            items[1],
            ChatItem::Message(ChatMessage::new(Role::Assistant, "").with_tool_calls([ToolCall::new(
                "call_1",
                "get_rates",
                serde_json::json!({"years": 30})
            )]))
        );
        assert_eq!(
            items[2],
            ChatItem::Message(ChatMessage::tool_result("call_1", "{\"fixed\": 4.1}"))
        );
        let again: Prompt = serde_json::from_value(serde_json::to_value(&p).expect("json")).expect("reads back");
        assert_eq!(again, p);
        // A message without tool fields serializes as before, so existing content hashes hold.
        let plain = serde_json::to_value(ChatItem::message(Role::User, "hi")).expect("json");
        assert_eq!(plain, serde_json::json!({"role": "user", "content": "hi"}));
    }

    #[test]
    fn bad_chat_items_say_what_is_missing() {
        for (yaml, expected) in [
            ("id: a\ntemplate: [{content: x}]", "needs a `role`"),
            ("id: a\ntemplate: [{role: user}]", "needs a `content`"),
            (
                "id: a\ntemplate: [{role: wizard, content: x}]",
                "unknown variant `wizard`",
            ),
            (
                "id: a\ntemplate: [{role: user, content: x, placeholder: h}]",
                "not both",
            ),
            ("id: a\ntemplate: 42", "a template string or a list of chat messages"),
            (
                "id: a\nformat: chat\ntemplate: hi",
                "format is `chat` but the template is a text",
            ),
            ("id: A\ntemplate: hi", "uppercase"),
            ("id: a\ntemplate: hi\ncolour: red", "unknown field `colour`"),
            (
                "id: a\ntemplate: [{role: user, content: x, tool_call_id: c1}]",
                "`tool_call_id` belongs on a tool message",
            ),
            (
                "id: a\ntemplate: [{role: tool, content: x, tool_calls: [{id: c1, name: f}]}]",
                "`tool_calls` belong on an assistant message",
            ),
            (
                "id: a\ntemplate: [{placeholder: h, tool_call_id: c1}]",
                "not `name` or tool fields",
            ),
        ] {
            let err = serde_yaml_ng::from_str::<Prompt>(yaml).expect_err(yaml).to_string();
            assert!(err.contains(expected), "{yaml}: {err}");
        }
    }

    #[test]
    fn role_names_are_the_serde_names() {
        crate::model::tests::assert_wire_names(Role::ALL, Role::as_str);
    }
}
