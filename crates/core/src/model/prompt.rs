//! The prompt itself: [`Prompt`] (the content a person writes), its [`PromptFormat`],
//! [`Metadata`] and [`ModelConfig`], and the rules [`Prompt::validate`] checks.
//!
//! The template it holds is in [`chat`](super::chat), its declared variables in
//! [`schema`](super::schema); versions of it and their numbers are in [`version`](super::version).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{ChatItem, ContentHash, InputSchema, Template, VariableSpec};
use crate::error::Error;
use crate::id::PromptId;

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

wire_names!(PromptFormat, "format", [
    Text => "text",
    Chat => "chat",
    Completion => "completion",
    Instruction => "instruction",
]);

impl PromptFormat {
    /// Whether the format takes a list of messages rather than one text.
    pub fn is_chat(self) -> bool {
        matches!(self, PromptFormat::Chat)
    }
}

/// The template language a prompt is written in. Jinja is the default and is left out of the
/// stored form (and so of the content hash), so prompts written before there was a choice keep
/// their hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TemplateSyntax {
    /// Jinja (`{{ name }}`, `{% if %}`, `{% include "…" %}`): the default.
    #[default]
    Jinja,
    /// Handlebars (`{{name}}`, `{{#if}}`, `{{> partial}}`), with Dotprompt's helpers.
    Handlebars,
}

wire_names!(TemplateSyntax, "template syntax", [
    Jinja => "jinja",
    Handlebars => "handlebars",
]);

impl TemplateSyntax {
    /// Whether this is the default (Jinja), which the stored form leaves out.
    pub fn is_default(&self) -> bool {
        *self == TemplateSyntax::Jinja
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

/// A prompt: the versioned content a person writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPrompt")]
pub struct Prompt {
    /// The id.
    pub id: PromptId,
    /// How it is sent to a model.
    pub format: PromptFormat,
    /// The template language of its sources (Jinja unless set).
    #[serde(default, skip_serializing_if = "TemplateSyntax::is_default")]
    pub syntax: TemplateSyntax,
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
    #[serde(default)]
    syntax: TemplateSyntax,
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
            syntax: raw.syntax,
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
            syntax: TemplateSyntax::Jinja,
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
            syntax: TemplateSyntax::Jinja,
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

    /// Sets the template syntax.
    pub fn with_syntax(mut self, syntax: TemplateSyntax) -> Self {
        self.syntax = syntax;
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

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VariableType;

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
    fn format_names_are_the_serde_names() {
        crate::model::tests::assert_wire_names(PromptFormat::ALL, PromptFormat::as_str);
        crate::model::tests::assert_wire_names(TemplateSyntax::ALL, TemplateSyntax::as_str);
    }
}
