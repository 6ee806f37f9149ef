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
        // As JSON Schema has it: a number with no fractional part (`3.0`) is an integer.
        VariableType::Integer => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
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

    #[test]
    fn json_types_are_named_as_errors_show_them() {
        let cases = [
            (json!(null), "null"),
            (json!(true), "boolean"),
            (json!(3), "integer"),
            (json!(u64::MAX), "integer"),
            (json!(1.5), "number"),
            (json!("x"), "string"),
            (json!([1]), "array"),
            (json!({"a": 1}), "object"),
        ];
        for (value, name) in cases {
            assert_eq!(json_type(&value), name, "{value}");
        }
    }

    #[test]
    fn each_variable_type_accepts_its_values_and_names_what_it_found() {
        let messages = json!([{"role": "user", "content": "hi"}]);
        let accepted = [
            (VariableType::Any, json!(null)),
            (VariableType::String, json!("x")),
            (VariableType::Number, json!(1.5)),
            (VariableType::Number, json!(2)),
            (VariableType::Integer, json!(-2)),
            (VariableType::Boolean, json!(false)),
            (VariableType::Array, json!([])),
            (VariableType::Object, json!({})),
            (VariableType::Messages, messages),
        ];
        for (kind, value) in accepted {
            assert_eq!(type_mismatch(kind, &value), None, "{kind:?} {value}");
        }
        let refused = [
            (VariableType::String, json!(1), "integer"),
            (VariableType::Number, json!("1"), "string"),
            (VariableType::Integer, json!(1.5), "number"),
            (VariableType::Boolean, json!(0), "integer"),
            (VariableType::Array, json!({}), "object"),
            (VariableType::Object, json!([]), "array"),
            (VariableType::Messages, json!("hi"), "string"),
            (VariableType::Messages, json!([{"role": "user"}]), "array"),
        ];
        for (kind, value, found) in refused {
            assert_eq!(type_mismatch(kind, &value), Some(found), "{kind:?} {value}");
        }
    }

    #[test]
    fn a_list_that_is_not_messages_says_which_item_is_wrong() {
        let schema = InputSchema {
            variables: vec![
                VariableSpec::new("history", VariableType::Messages),
                VariableSpec::new("examples", VariableType::Messages),
            ],
        };
        let vars = Variables::new()
            .with(
                "history",
                json!([{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]),
            )
            .with("examples", "not a list");
        let mut problems = Vec::new();
        let _ = apply_schema(&schema, &vars, &mut problems);
        assert_eq!(
            problems,
            vec![
                VariableProblem::BadMessages {
                    name: "history".into(),
                    reason: "item 2: invalid role `robot`: use system, user, assistant, function or tool".into(),
                },
                VariableProblem::WrongType {
                    name: "examples".into(),
                    expected: VariableType::Messages,
                    found: "string",
                },
            ]
        );
        assert_eq!(
            problems[0].to_string(),
            "`history` item 2: invalid role `robot`: use system, user, assistant, function or tool"
        );
    }

    #[test]
    fn built_from_pairs_maps_and_serializable_values() {
        let vars: Variables = [("b", json!(2)), ("a", json!("x"))].into_iter().collect();
        assert_eq!(vars.len(), 2);
        assert!(!vars.is_empty());
        assert!(Variables::new().is_empty());
        assert_eq!(
            vars.as_map().keys().collect::<Vec<_>>(),
            ["b", "a"],
            "insertion order is kept"
        );

        let mut map = Map::new();
        map.insert("k".into(), json!([1]));
        assert_eq!(Variables::from(map).get("k"), Some(&json!([1])));

        #[derive(Serialize)]
        struct Ticket<'a> {
            title: &'a str,
            priority: u8,
        }
        let vars = Variables::from_serialize(&Ticket {
            title: "Refund",
            priority: 2,
        })
        .expect("a struct is an object");
        assert_eq!(vars.get("title"), Some(&json!("Refund")));
        assert_eq!(vars.get("priority"), Some(&json!(2)));

        let err = Variables::from_serialize(&[1, 2]).expect_err("a list is not an object");
        assert!(err.to_string().contains("must be object, got array"), "{err}");

        // JSON objects have string keys only: a map keyed by lists cannot become variables.
        let bad: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        let err = Variables::from_serialize(&bad)
            .expect_err("non-string keys")
            .to_string();
        assert!(err.contains("cannot be converted to JSON"), "{err}");
        assert!(err.contains("<root>"), "{err}");
    }
}
