//! The declared variables of a prompt: [`VariableType`], [`VariableSpec`] and the
//! [`InputSchema`] that lists them.
//!
//! Checking given variables against a schema is in `crate::variables`, not here.

use serde::{Deserialize, Serialize};

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

wire_names!(VariableType, "variable type", [
    Any => "any",
    String => "string",
    Number => "number",
    Integer => "integer",
    Boolean => "boolean",
    Array => "array",
    Object => "object",
    Messages => "messages",
]);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_type_names_are_the_serde_names() {
        crate::model::tests::assert_wire_names(VariableType::ALL, VariableType::as_str);
    }
}
