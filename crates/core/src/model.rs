//! The domain model: prompts, their templates and configuration, versions, labels and renders.
//!
//! A [`Prompt`] is the content a person writes; a [`PromptVersion`] is an immutable snapshot of
//! it with a semver number. Status and labels are prompt-level state that moves without creating
//! versions, so they live in [`PromptSummary`] and [`LabelEvent`], not in the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use semver::Version;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::id::{LabelName, PromptId};

/// How a prompt is meant to be sent to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PromptFormat {
    /// One text (the default for text templates).
    #[default]
    Text,
    /// A list of role-tagged messages.
    Chat,
    /// A completion-style text prompt.
    Completion,
    /// An instruction-style text prompt.
    Instruction,
}

impl PromptFormat {
    /// Whether the format takes a list of messages rather than one text.
    pub fn is_chat(self) -> bool {
        matches!(self, PromptFormat::Chat)
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptFormat::Text => "text",
            PromptFormat::Chat => "chat",
            PromptFormat::Completion => "completion",
            PromptFormat::Instruction => "instruction",
        }
    }
}

impl fmt::Display for PromptFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

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

impl Role {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Function => "function",
            Role::Tool => "tool",
        }
    }

    /// Parses a lowercase role name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "function" => Role::Function,
            "tool" => Role::Tool,
            _ => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

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

/// Descriptive metadata. It is part of the versioned content: changing it makes a (patch) version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// What the prompt is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags for filtering (`support`, `billing`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub tags: BTreeSet<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Metadata {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.description.is_none() && self.tags.is_empty() && self.extra.is_empty()
    }
}

/// Model parameters stored with the prompt and mapped to each provider's request by plugins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The model name (`gpt-4o`, `claude-sonnet-4`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Upper bound of generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Tool definitions, in OpenAI's function-tool shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<serde_json::Value>,
    /// A response format (`{"type": "json_object"}`, a JSON schema, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<serde_json::Value>,
    /// Any other provider parameter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ModelConfig {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == ModelConfig::default()
    }
}

/// The type of a declared variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VariableType {
    /// Any JSON value.
    #[default]
    Any,
    /// A string.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A list.
    Array,
    /// A map.
    Object,
    /// A list of chat messages (`{role, content}`), for placeholders.
    Messages,
}

impl VariableType {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            VariableType::Any => "any",
            VariableType::String => "string",
            VariableType::Number => "number",
            VariableType::Integer => "integer",
            VariableType::Boolean => "boolean",
            VariableType::Array => "array",
            VariableType::Object => "object",
            VariableType::Messages => "messages",
        }
    }
}

impl fmt::Display for VariableType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The declaration of one template variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    /// The variable name as used in the template.
    pub name: String,
    /// Its type.
    #[serde(rename = "type", default, skip_serializing_if = "is_any")]
    pub kind: VariableType,
    /// Whether a render without it fails (ignored when a default is set).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub required: bool,
    /// The value used when the variable is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What the variable means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn is_any(t: &VariableType) -> bool {
    *t == VariableType::Any
}
fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

impl VariableSpec {
    /// A required variable of a type.
    pub fn new(name: impl Into<String>, kind: VariableType) -> Self {
        VariableSpec {
            name: name.into(),
            kind,
            required: true,
            default: None,
            description: None,
        }
    }

    /// Sets a default (which makes the variable optional).
    pub fn with_default(mut self, value: impl Into<serde_json::Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Marks the variable optional.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

/// The declared variables of a prompt, checked at every render.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InputSchema {
    /// The declarations, in order.
    pub variables: Vec<VariableSpec>,
}

impl InputSchema {
    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.variables.is_empty()
    }

    /// The declaration of `name`.
    pub fn get(&self, name: &str) -> Option<&VariableSpec> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// A prompt: the versioned content a person writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPrompt")]
pub struct Prompt {
    /// The id.
    pub id: PromptId,
    /// How it is sent to a model.
    pub format: PromptFormat,
    /// The template.
    pub template: Template,
    /// Description, tags, free metadata.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// Model parameters.
    #[serde(default, skip_serializing_if = "ModelConfig::is_empty")]
    pub model_config: ModelConfig,
    /// Declared variables.
    #[serde(default, skip_serializing_if = "InputSchema::is_empty")]
    pub input_schema: InputSchema,
}

/// The shape a prompt is read from; `format` may be left out and follows the template.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrompt {
    id: PromptId,
    #[serde(default)]
    format: Option<PromptFormat>,
    template: Template,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    model_config: ModelConfig,
    #[serde(default)]
    input_schema: InputSchema,
}

impl TryFrom<RawPrompt> for Prompt {
    type Error = Error;
    fn try_from(raw: RawPrompt) -> Result<Self, Error> {
        let format = raw.format.unwrap_or(match raw.template {
            Template::Text(_) => PromptFormat::Text,
            Template::Chat(_) => PromptFormat::Chat,
        });
        let prompt = Prompt {
            id: raw.id,
            format,
            template: raw.template,
            metadata: raw.metadata,
            model_config: raw.model_config,
            input_schema: raw.input_schema,
        };
        prompt.validate()?;
        Ok(prompt)
    }
}

/// Longest accepted tag, in bytes.
pub const MAX_TAG_LEN: usize = 64;

impl Prompt {
    /// A text prompt.
    pub fn text(id: impl AsRef<str>, template: impl Into<String>) -> Result<Self, Error> {
        Ok(Prompt {
            id: PromptId::new(id)?,
            format: PromptFormat::Text,
            template: Template::Text(template.into()),
            metadata: Metadata::default(),
            model_config: ModelConfig::default(),
            input_schema: InputSchema::default(),
        })
    }

    /// A chat prompt.
    pub fn chat(id: impl AsRef<str>, items: impl IntoIterator<Item = ChatItem>) -> Result<Self, Error> {
        Ok(Prompt {
            id: PromptId::new(id)?,
            format: PromptFormat::Chat,
            template: Template::Chat(items.into_iter().collect()),
            metadata: Metadata::default(),
            model_config: ModelConfig::default(),
            input_schema: InputSchema::default(),
        })
    }

    /// Sets the description.
    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        self.metadata.description = Some(text.into());
        self
    }

    /// Adds tags.
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.metadata.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Sets the model configuration.
    pub fn with_model_config(mut self, config: ModelConfig) -> Self {
        self.model_config = config;
        self
    }

    /// Declares a variable.
    pub fn with_variable(mut self, spec: VariableSpec) -> Self {
        self.input_schema.variables.push(spec);
        self
    }

    /// Sets the format (for `completion` and `instruction` text prompts).
    pub fn with_format(mut self, format: PromptFormat) -> Self {
        self.format = format;
        self
    }

    /// Checks the rules a prompt must follow, naming the field that breaks one.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: String| Error::InvalidPrompt {
            id: self.id.to_string(),
            reason,
        };
        match (&self.template, self.format.is_chat()) {
            (Template::Text(_), true) => {
                return Err(bad(
                    "format is `chat` but the template is a text; give a list of messages".into(),
                ));
            }
            (Template::Chat(_), false) => {
                return Err(bad(format!(
                    "format is `{}` but the template is a list of messages; use format `chat`",
                    self.format
                )));
            }
            (Template::Chat(items), true) => {
                if items.is_empty() {
                    return Err(bad("a chat template needs at least one message".into()));
                }
                for (i, item) in items.iter().enumerate() {
                    if let ChatItem::Placeholder(p) = item
                        && !is_identifier(&p.variable)
                    {
                        return Err(bad(format!(
                            "message {}: placeholder variable `{}` is not a valid variable name",
                            i + 1,
                            p.variable
                        )));
                    }
                }
            }
            (Template::Text(_), false) => {}
        }
        for tag in &self.metadata.tags {
            if tag.is_empty() || tag.len() > MAX_TAG_LEN || tag.chars().any(|c| c.is_control() || c == ',') {
                return Err(bad(format!(
                    "tag `{}` must be 1 to {MAX_TAG_LEN} bytes without commas or control characters",
                    tag.escape_debug()
                )));
            }
        }
        let mut seen = BTreeSet::new();
        for spec in &self.input_schema.variables {
            if !is_identifier(&spec.name) {
                return Err(bad(format!(
                    "input_schema: `{}` is not a valid variable name",
                    spec.name
                )));
            }
            if !seen.insert(spec.name.as_str()) {
                return Err(bad(format!("input_schema: `{}` is declared twice", spec.name)));
            }
            if let Some(default) = &spec.default
                && let Some(found) = crate::variables::type_mismatch(spec.kind, default)
            {
                return Err(bad(format!(
                    "input_schema: the default of `{}` must be {}, got {found}",
                    spec.name, spec.kind
                )));
            }
        }
        let config = &self.model_config;
        for (name, value) in [("temperature", config.temperature), ("top_p", config.top_p)] {
            if let Some(v) = value
                && (!v.is_finite() || v < 0.0)
            {
                return Err(bad(format!("model_config.{name} must be a finite number ≥ 0, got {v}")));
            }
        }
        if config.max_tokens == Some(0) {
            return Err(bad("model_config.max_tokens must be at least 1".into()));
        }
        Ok(())
    }

    /// The content hash of this prompt: equal content, equal hash.
    pub fn content_hash(&self) -> ContentHash {
        crate::hash::content_hash(self)
    }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A SHA-256 of a prompt's canonical content, as `sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(pub String);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lifecycle of a prompt: `draft → active → deprecated → archived`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum PromptStatus {
    /// Being written; renders normally.
    #[default]
    Draft,
    /// In use.
    Active,
    /// Still renders, with a logged warning; move callers away.
    Deprecated,
    /// Refuses to render.
    Archived,
}

impl PromptStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptStatus::Draft => "draft",
            PromptStatus::Active => "active",
            PromptStatus::Deprecated => "deprecated",
            PromptStatus::Archived => "archived",
        }
    }

    /// Parses a lowercase status name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => PromptStatus::Draft,
            "active" => PromptStatus::Active,
            "deprecated" => PromptStatus::Deprecated,
            "archived" => PromptStatus::Archived,
            _ => return None,
        })
    }

    /// Whether a prompt may move from `self` to `to`; `Err` says why not.
    ///
    /// Moves go forward (skipping steps is fine); a deprecated or archived prompt can be
    /// restored to `active`; nothing goes back to `draft`.
    pub fn check_transition(self, to: PromptStatus) -> Result<(), &'static str> {
        use PromptStatus::*;
        match (self, to) {
            (a, b) if a == b => Err("it already has that status"),
            (_, Draft) => Err("a prompt that left draft cannot go back to draft"),
            (Draft, _) | (Active, _) | (Deprecated, _) => Ok(()),
            (Archived, Active) => Ok(()),
            (Archived, _) => Err("an archived prompt can only be restored to active"),
        }
    }
}

impl fmt::Display for PromptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// An immutable snapshot of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptVersion {
    /// The content.
    pub prompt: Prompt,
    /// The semver number.
    pub version: Version,
    /// What changed and why.
    #[serde(default)]
    pub changelog: String,
    /// Who saved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// The version it was derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Version>,
    /// The hash of the content.
    pub content_hash: ContentHash,
}

impl PromptVersion {
    /// The version's description without the content.
    pub fn info(&self) -> VersionInfo {
        VersionInfo {
            version: self.version.clone(),
            changelog: self.changelog.clone(),
            author: self.author.clone(),
            created_at: self.created_at,
            parent: self.parent.clone(),
            content_hash: self.content_hash.clone(),
        }
    }

    /// `id@version`, the exact reference of this version.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.prompt.id, self.version)
    }

    /// Checks that the content still hashes to the recorded [`content_hash`](Self::content_hash),
    /// as every backend does when it loads a version: a version is immutable, and one whose file
    /// or row was changed after it was saved is an [`Error::ContentHashMismatch`]. `location`
    /// names where the version is stored (a file, a row), for the error.
    pub fn verify_content_hash(&self, location: impl FnOnce() -> String) -> Result<(), Error> {
        let actual = self.prompt.content_hash();
        if actual == self.content_hash {
            return Ok(());
        }
        Err(Error::ContentHashMismatch(Box::new(crate::error::HashMismatch {
            id: self.prompt.id.clone(),
            version: self.version.clone(),
            location: location(),
            expected: self.content_hash.clone(),
            actual,
        })))
    }
}

/// One entry of a prompt's history: a version without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionInfo {
    /// The semver number.
    pub version: Version,
    /// What changed and why.
    #[serde(default)]
    pub changelog: String,
    /// Who saved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// The version it was derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Version>,
    /// The hash of the content.
    pub content_hash: ContentHash,
}

/// How a label moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelEventKind {
    /// Set or moved explicitly.
    Set,
    /// Moved back to where it pointed before the current assignment.
    Rollback,
    /// Removed.
    Remove,
}

/// One recorded move of a label: who, when, from, to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelEvent {
    /// The label.
    pub label: LabelName,
    /// Where it pointed before (none when new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Version>,
    /// Where it points now (none when removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Version>,
    /// Set, rollback or remove.
    pub kind: LabelEventKind,
    /// Who moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a store knows about a prompt without loading its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptSummary {
    /// The id.
    pub id: PromptId,
    /// The lifecycle status.
    pub status: PromptStatus,
    /// The format of the latest version.
    pub format: PromptFormat,
    /// The newest version.
    pub latest_version: Version,
    /// How many versions exist.
    pub version_count: u64,
    /// Labels and the versions they point to.
    pub labels: BTreeMap<LabelName, Version>,
    /// Protected labels: moving, removing or rolling them back needs the admin role (a label may
    /// be protected before it is set).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub protected: BTreeSet<LabelName>,
    /// Tags of the latest version.
    pub tags: BTreeSet<String>,
    /// Description of the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the prompt was created.
    pub created_at: DateTime<Utc>,
    /// When a version, label or status last changed.
    pub updated_at: DateTime<Utc>,
}

/// The outcome of one render, as observers see it. Variables are not kept: they may hold personal data.
///
/// It borrows what it names from the render's resolution, so telling the observers costs no
/// copies and no reference counting on the hot path; an observer that keeps something past the
/// call clones the fields it needs (or serializes the whole record, e.g. to a queue).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptExecution<'a> {
    /// A process-unique id of this render.
    pub id: u64,
    /// The reference as the caller wrote it.
    pub reference: &'a str,
    /// The prompt, when the reference resolved.
    pub prompt_id: Option<&'a PromptId>,
    /// The exact version rendered, when the reference resolved.
    pub version: Option<&'a Version>,
    /// The label used, if the reference named one.
    pub label: Option<&'a LabelName>,
    /// How long the render took.
    pub duration: Duration,
    /// `None` on success, else the error's code (`invalid_variables`, `archived`, …).
    pub error: Option<std::borrow::Cow<'static, str>>,
    /// Bytes of output.
    pub output_bytes: usize,
    /// A rough token count of the output (bytes / 4).
    pub token_estimate: usize,
}

/// What a render produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RenderOutput {
    /// The text of a text prompt.
    Text(String),
    /// The messages of a chat prompt.
    Messages(Vec<ChatMessage>),
}

impl RenderOutput {
    /// Total bytes of text.
    pub fn len_bytes(&self) -> usize {
        match self {
            RenderOutput::Text(t) => t.len(),
            RenderOutput::Messages(ms) => ms.iter().map(|m| m.content.len()).sum(),
        }
    }
}

/// A rendered prompt with what plugins need to build a provider request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedPrompt {
    /// The prompt.
    pub id: PromptId,
    /// The exact version rendered.
    pub version: Version,
    /// The format.
    pub format: PromptFormat,
    /// The output.
    pub output: RenderOutput,
    /// The model parameters of the version.
    pub model_config: ModelConfig,
    /// The content hash of the version.
    pub content_hash: ContentHash,
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn validation_names_the_field() {
        let p = Prompt::text("a", "x")
            .expect("valid")
            .with_variable(VariableSpec::new("n", VariableType::Integer).with_default("ten"));
        let err = p.validate().expect_err("bad default").to_string();
        assert!(err.contains("the default of `n` must be integer, got string"), "{err}");

        let mut p = Prompt::text("a", "x").expect("valid");
        p.model_config.temperature = Some(f64::NAN);
        assert!(
            p.validate()
                .expect_err("nan")
                .to_string()
                .contains("model_config.temperature")
        );
    }

    #[test]
    fn status_moves_forward_and_can_be_restored() {
        use PromptStatus::*;
        assert!(Draft.check_transition(Active).is_ok());
        assert!(Active.check_transition(Archived).is_ok());
        assert!(Archived.check_transition(Active).is_ok());
        assert!(Active.check_transition(Draft).is_err());
        assert!(Archived.check_transition(Deprecated).is_err());
        assert!(Active.check_transition(Active).is_err());
    }
}

/// A semver bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// `1.2.3 → 1.2.4`: whitespace and other changes that do not alter meaning.
    Patch,
    /// `1.2.3 → 1.3.0`: changed wording, config or metadata.
    Minor,
    /// `1.2.3 → 2.0.0`: a changed variable set or schema — callers must change.
    Major,
}

impl Bump {
    /// The next version after `v`; `None` when a number would overflow.
    pub fn apply(self, v: &Version) -> Option<Version> {
        Some(match self {
            Bump::Major => Version::new(v.major.checked_add(1)?, 0, 0),
            Bump::Minor => Version::new(v.major, v.minor.checked_add(1)?, 0),
            Bump::Patch => Version::new(v.major, v.minor, v.patch.checked_add(1)?),
        })
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::Major => "major",
            Bump::Minor => "minor",
            Bump::Patch => "patch",
        }
    }
}

impl fmt::Display for Bump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Bump {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "major" => Ok(Bump::Major),
            "minor" => Ok(Bump::Minor),
            "patch" => Ok(Bump::Patch),
            other => Err(Error::Unsupported(format!(
                "unknown bump `{other}`; use major, minor or patch"
            ))),
        }
    }
}
