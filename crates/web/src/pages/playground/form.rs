//! The playground's form: one field per variable (declared in the input schema, or read by the
//! template), the values typed into it turned into render variables, and a render's problems put
//! back on the field they concern.

use std::collections::{BTreeMap, BTreeSet};

use prompt_manager::{Error, InputSchema, VariableProblem, VariableType, Variables};
use prompt_manager_server::ApiError;
use serde::Serialize;
use serde_json::{Map, Value};

/// One variable's field.
#[derive(Debug, Serialize)]
pub(crate) struct Field {
    /// The variable.
    pub(crate) name: String,
    /// The declared type, as the schema names it (`string`, `messages`, …).
    kind: &'static str,
    /// How it is typed in: `text`, `number`, `integer`, `checkbox` or `json`.
    input: &'static str,
    /// Whether a render fails without it.
    required: bool,
    /// The default, as JSON, when declared.
    default: Option<String>,
    description: Option<String>,
    /// Whether the input schema declares it (otherwise the template reads it).
    declared: bool,
    /// What the field shows.
    value: String,
    /// For a checkbox: whether it is ticked.
    checked: bool,
    /// An example of what the field takes.
    placeholder: Option<&'static str>,
    /// What is wrong with the value, shown next to the field.
    pub(crate) error: Option<String>,
    #[serde(skip)]
    type_: VariableType,
    #[serde(skip)]
    default_value: Option<Value>,
}

/// What a message placeholder takes, as an example.
const MESSAGES_EXAMPLE: &str = r#"[{"role": "user", "content": "…"}]"#;

/// The fields of a version: its declared variables in order, then those its template reads that
/// the schema does not declare (a message placeholder's as a list of messages).
pub(crate) fn fields(
    schema: &InputSchema,
    read: Option<&BTreeSet<String>>,
    placeholders: &[(String, bool)],
) -> Vec<Field> {
    let placeholder = |name: &str| placeholders.iter().find(|(p, _)| p == name);
    let mut out: Vec<Field> = schema
        .variables
        .iter()
        .map(|spec| {
            let kind = match spec.kind {
                VariableType::Any if placeholder(&spec.name).is_some() => VariableType::Messages,
                kind => kind,
            };
            let mut field = Field::new(&spec.name, kind, spec.required && spec.default.is_none(), true);
            field.default = spec.default.as_ref().map(Value::to_string);
            field.default_value = spec.default.clone();
            field.description = spec.description.clone();
            field
        })
        .collect();
    for name in read.into_iter().flatten() {
        if schema.get(name).is_some() {
            continue;
        }
        let field = match placeholder(name) {
            Some((_, optional)) => Field::new(name, VariableType::Messages, !optional, false),
            None => Field::new(name, VariableType::String, true, false),
        };
        out.push(field);
    }
    out
}

impl Field {
    fn new(name: &str, kind: VariableType, required: bool, declared: bool) -> Self {
        let input = match kind {
            VariableType::String => "text",
            VariableType::Number => "number",
            VariableType::Integer => "integer",
            VariableType::Boolean => "checkbox",
            VariableType::Any | VariableType::Array | VariableType::Object | VariableType::Messages => "json",
        };
        let placeholder = match kind {
            VariableType::Messages => Some(MESSAGES_EXAMPLE),
            VariableType::Array => Some("[1, 2, 3]"),
            VariableType::Object => Some(r#"{"key": "value"}"#),
            VariableType::Any => Some(r#"JSON, or plain text for a string"#),
            _ => None,
        };
        Field {
            name: name.to_owned(),
            kind: kind.as_str(),
            input,
            required,
            default: None,
            description: None,
            declared,
            value: String::new(),
            checked: false,
            placeholder,
            error: None,
            type_: kind,
            default_value: None,
        }
    }

    /// Shows `value` in the field.
    fn show(&mut self, value: &Value) {
        match (self.type_, value) {
            (VariableType::Boolean, Value::Bool(b)) => self.checked = *b,
            (
                VariableType::String | VariableType::Number | VariableType::Integer | VariableType::Boolean,
                Value::String(s),
            ) => {
                self.value = s.clone();
            }
            (VariableType::String | VariableType::Number | VariableType::Integer | VariableType::Boolean, other) => {
                self.value = other.to_string();
            }
            (_, other) => self.value = serde_json::to_string_pretty(other).unwrap_or_default(),
        }
    }

    /// The variable's value from what was typed (`None`: not given), noting on the field what
    /// cannot be read. A value that cannot be read is passed on as the text it is, so the render
    /// reports the rest of the problems too.
    fn read(&mut self, typed: &str) -> Option<Value> {
        self.value = typed.to_owned();
        let text = typed.trim();
        match self.type_ {
            VariableType::Boolean => {
                self.checked = typed == "true";
                return Some(Value::Bool(self.checked));
            }
            _ if text.is_empty() => return None,
            VariableType::String => return Some(Value::String(typed.to_owned())),
            _ => {}
        }
        let parsed = match self.type_ {
            VariableType::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`{text}` is not a whole number")),
            VariableType::Number => match text.parse::<i64>() {
                Ok(n) => Ok(Value::from(n)),
                Err(_) => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("`{text}` is not a number")),
            },
            VariableType::Any => Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(typed.to_owned()))),
            _ => serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}")),
        };
        match parsed {
            Ok(value) => Some(value),
            Err(problem) => {
                self.error = Some(problem);
                Some(Value::String(typed.to_owned()))
            }
        }
    }
}

/// Where a render's variables come from.
#[derive(Debug)]
pub(crate) enum FieldValues {
    /// A JSON object (a shared URL, the JSON editor): rendered as it is.
    Json(Map<String, Value>),
    /// JSON text that is not an object of variables: nothing renders.
    RawJson(String),
    /// The form's fields, `(variable, typed text)` in form order (the last of a name wins).
    Form(Vec<(String, String)>),
}

impl FieldValues {
    /// The text of the JSON editor when it did not parse.
    pub(crate) fn raw_json(&self) -> Option<&str> {
        match self {
            FieldValues::RawJson(text) => Some(text),
            _ => None,
        }
    }

    /// Fills `fields` with these values (and the defaults of what is not given) and returns the
    /// variables to render.
    pub(crate) fn apply(&self, fields: &mut [Field]) -> Variables {
        match self {
            FieldValues::Json(map) => {
                for field in fields.iter_mut() {
                    if let Some(value) = map.get(&field.name).or(field.default_value.as_ref()) {
                        let value = value.clone();
                        field.show(&value);
                    }
                }
                Variables::from(map.clone())
            }
            FieldValues::RawJson(_) => {
                for field in fields.iter_mut() {
                    if let Some(value) = field.default_value.clone() {
                        field.show(&value);
                    }
                }
                Variables::new()
            }
            FieldValues::Form(pairs) => {
                let typed: BTreeMap<&str, &str> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let mut vars = Map::new();
                for field in fields.iter_mut() {
                    if let Some(value) = typed.get(field.name.as_str()).and_then(|t| field.read(t)) {
                        vars.insert(field.name.clone(), value);
                    }
                }
                // Fields of another version of the form (the reference changed): kept as text.
                for (name, text) in typed {
                    if !vars.contains_key(name) && !fields.iter().any(|f| f.name == name) && !text.is_empty() {
                        vars.insert(name.to_owned(), Value::String(text.to_owned()));
                    }
                }
                Variables::from(vars)
            }
        }
    }
}

/// Puts the problems of a failed render on the fields they concern (a field keeps a problem
/// found while reading it) and returns the rest, for the summary.
pub(crate) fn place_error(error: Error, fields: &mut [Field]) -> Vec<String> {
    let Error::InvalidVariables { problems, .. } = error else {
        return vec![problem_text(error)];
    };
    let mut rest = Vec::new();
    for problem in problems {
        let message = problem_message(&problem);
        match fields.iter_mut().find(|f| f.name == problem.name()) {
            Some(field) => {
                field.error.get_or_insert(message);
            }
            None => rest.push(format!("{}: {message}", problem.name())),
        }
    }
    rest
}

/// A variable's problem, worded for its field.
fn problem_message(problem: &VariableProblem) -> String {
    match problem {
        VariableProblem::Missing { line, message, .. } => {
            let place = match (message, line) {
                (Some(m), Some(l)) => format!(" (message {m} reads it at line {l})"),
                (None, Some(l)) => format!(" (the template reads it at line {l})"),
                (Some(m), None) => format!(" (message {m} reads it)"),
                (None, None) => String::new(),
            };
            format!("required, but not given{place}")
        }
        VariableProblem::WrongType { expected, found, .. } => format!("expected {expected}, got {found}"),
        VariableProblem::BadMessages { reason, .. } => format!("not a list of messages: {reason}"),
        other => other.to_string(),
    }
}

/// What a failed render says to the person who asked for it (a server fault says nothing of its
/// cause; the log does).
pub(crate) fn problem_text(error: Error) -> String {
    ApiError::from(error).problem().detail
}

/// The JSON type name of a value, as problems name it.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
