//! [`Variables`]: the values a template is rendered with, and their check against an
//! [`InputSchema`] (missing required variables, wrong types, defaults).

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, VariableProblem};
use crate::model::{InputSchema, VariableType};

/// The variables of one render: a JSON object. Cloning is cheap (the map is shared), so an
/// engine can hold on to it for the length of a render without copying values it never reads.
///
/// ```
/// use prompt_manager_core::Variables;
/// let vars = Variables::new().with("name", "Ada").with("count", 3);
/// assert_eq!(vars.get("name").and_then(|v| v.as_str()), Some("Ada"));
/// let from_json = Variables::try_from(serde_json::json!({"name": "Ada"}))?;
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Variables(Arc<Map<String, Value>>);

impl Variables {
    /// No variables.
    pub fn new() -> Self {
        Variables(Arc::default())
    }

    /// Adds a variable (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        Arc::make_mut(&mut self.0).insert(name.into(), value.into());
        self
    }

    /// Sets a variable.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        Arc::make_mut(&mut self.0).insert(name.into(), value.into())
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Whether a variable is set.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over names and values.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// The underlying JSON map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Converts any serializable value that serializes to a JSON object.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        let value = serde_json::to_value(value).map_err(|e| Error::InvalidVariables {
            reference: "variables".into(),
            problems: vec![VariableProblem::BadMessages {
                name: "<root>".into(),
                reason: format!("cannot be converted to JSON: {e}"),
            }],
        })?;
        Variables::try_from(value)
    }
}

impl From<Map<String, Value>> for Variables {
    fn from(map: Map<String, Value>) -> Self {
        Variables(Arc::new(map))
    }
}

impl TryFrom<Value> for Variables {
    type Error = Error;
    fn try_from(value: Value) -> Result<Self, Error> {
        match value {
            Value::Object(map) => Ok(Variables(Arc::new(map))),
            other => Err(Error::InvalidVariables {
                reference: "variables".into(),
                problems: vec![VariableProblem::WrongType {
                    name: "<root>".into(),
                    expected: VariableType::Object,
                    found: json_type(&other),
                }],
            }),
        }
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Variables {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Variables(Arc::new(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect()))
    }
}

/// The JSON type name of a value, as errors show it.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `Some(found type)` when `value` does not have type `kind`.
pub(crate) fn type_mismatch(kind: VariableType, value: &Value) -> Option<&'static str> {
    let ok = match kind {
        VariableType::Any => true,
        VariableType::String => value.is_string(),
        VariableType::Number => value.is_number(),
        VariableType::Integer => value.is_i64() || value.is_u64(),
        VariableType::Boolean => value.is_boolean(),
        VariableType::Array => value.is_array(),
        VariableType::Object => value.is_object(),
        VariableType::Messages => {
            return crate::render::parse_messages(value).err().map(|_| json_type(value));
        }
    };
    if ok { None } else { Some(json_type(value)) }
}

/// Checks `vars` against `schema`: every problem is collected; defaults are applied to a copy
/// only when one is needed (the common case borrows).
pub(crate) fn apply_schema<'v>(
    schema: &InputSchema,
    vars: &'v Variables,
    problems: &mut Vec<VariableProblem>,
) -> Cow<'v, Variables> {
    let mut out = Cow::Borrowed(vars);
    for spec in &schema.variables {
        match vars.get(&spec.name) {
            Some(value) => {
                if let Some(found) = type_mismatch(spec.kind, value) {
                    if spec.kind == VariableType::Messages && value.is_array() {
                        let reason = crate::render::parse_messages(value).err().unwrap_or_default();
                        problems.push(VariableProblem::BadMessages {
                            name: spec.name.clone(),
                            reason,
                        });
                    } else {
                        problems.push(VariableProblem::WrongType {
                            name: spec.name.clone(),
                            expected: spec.kind,
                            found,
                        });
                    }
                }
            }
            None => {
                if let Some(default) = &spec.default {
                    out.to_mut().insert(spec.name.clone(), default.clone());
                } else if spec.required {
                    problems.push(VariableProblem::Missing {
                        name: spec.name.clone(),
                        expected: (spec.kind != VariableType::Any).then_some(spec.kind),
                        line: None,
                        message: None,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VariableSpec;
    use serde_json::json;

    #[test]
    fn schema_collects_every_problem_and_applies_defaults() {
        let schema = InputSchema {
            variables: vec![
                VariableSpec::new("name", VariableType::String),
                VariableSpec::new("age", VariableType::Integer),
                VariableSpec::new("tone", VariableType::String).with_default("friendly"),
                VariableSpec::new("extra", VariableType::Any).optional(),
                VariableSpec::new("flag", VariableType::Boolean),
            ],
        };
        let vars = Variables::new().with("age", "forty").with("flag", true);
        let mut problems = Vec::new();
        let applied = apply_schema(&schema, &vars, &mut problems);
        assert_eq!(
            problems,
            vec![
                VariableProblem::Missing {
                    name: "name".into(),
                    expected: Some(VariableType::String),
                    line: None,
                    message: None,
                },
                VariableProblem::WrongType {
                    name: "age".into(),
                    expected: VariableType::Integer,
                    found: "string"
                },
            ]
        );
        assert_eq!(applied.get("tone"), Some(&json!("friendly")));
        assert!(!applied.contains("extra"));
    }

    #[test]
    fn no_defaults_needed_means_no_copy() {
        let schema = InputSchema {
            variables: vec![VariableSpec::new("a", VariableType::Number)],
        };
        let vars = Variables::new().with("a", 1.5);
        let mut problems = Vec::new();
        assert!(matches!(apply_schema(&schema, &vars, &mut problems), Cow::Borrowed(_)));
        assert!(problems.is_empty());
    }

    #[test]
    fn root_must_be_an_object() {
        let err = Variables::try_from(json!([1, 2])).expect_err("array").to_string();
        assert!(err.contains("must be object, got array"), "{err}");
    }
}
