//! # prompt-manager-interop
//!
//! Prompts in other tools' formats, in and out: [`Format::Langfuse`] (its prompt JSON, as its
//! public API returns it), [`Format::Prompty`] (`.prompty` files) and [`Format::Mlflow`] (MLflow
//! prompt registry versions, as its `PromptVersion` holds them) and [`Format::Dotprompt`]
//! (`.prompt` files, Handlebars templates). [`import`] reads a file of
//! the format into [`Imported`] versions, ready to be saved; [`export`] writes versions as files
//! of the format. Both say what they could not carry ([`Import::warnings`], [`Export::warnings`])
//! rather than drop it silently, and a round trip ours → theirs → ours gives back the same
//! content hash wherever the format can say what the prompt says (`docs/interop.md` lists, per
//! format, what maps and what does not).
//!
//! The crate sits beside the storage backends: it depends on `prompt-manager-core` only.
//!
//! ```
//! use prompt_manager_interop::{Format, import};
//!
//! let json = r#"{"name": "movie-critic", "version": 2, "type": "text",
//!                "prompt": "As a {{level}} critic, do you like {{movie}}?",
//!                "config": {"model": "gpt-4o", "temperature": 0.7},
//!                "labels": ["production", "latest"], "tags": ["movies"]}"#;
//! let read = import(Format::Langfuse, json, "critic.json")?;
//! let entry = &read.entries[0];
//! assert_eq!(entry.prompt.id.as_str(), "movie-critic");
//! assert_eq!(entry.version.as_ref().map(|v| v.to_string()).as_deref(), Some("2.0.0"));
//! assert_eq!(entry.labels.len(), 1, "`latest` is Langfuse's own");
//! assert_eq!(entry.prompt.model_config.model.as_deref(), Some("gpt-4o"));
//! # Ok::<(), prompt_manager_core::Error>(())
//! ```

use std::path::Path;

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{Error, LabelName, Prompt, Result, TemplateSyntax};
use serde_json::Value;

mod dotprompt;
mod langfuse;
mod mlflow;
mod mustache;
mod prompty;

/// A format of another tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Langfuse's prompt JSON: one object per version, or an array of them.
    Langfuse,
    /// Prompty's `.prompty` file: YAML front matter and a Jinja body with role markers.
    Prompty,
    /// MLflow's prompt registry: a prompt version as MLflow's `PromptVersion` holds it (`name`,
    /// `version`, `template`, `commit_message`, `tags`, `aliases`, `model_config`, …), one object
    /// per version, or an array of them.
    Mlflow,
    /// Dotprompt's `.prompt` file (Genkit's): YAML front matter and a Handlebars body whose
    /// `{{role "…"}}` and `{{history}}` markers start messages.
    Dotprompt,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 4] = [Format::Langfuse, Format::Prompty, Format::Mlflow, Format::Dotprompt];

    /// Its name on the command line and in the API (`langfuse`, `prompty`).
    pub const fn name(self) -> &'static str {
        match self {
            Format::Langfuse => "langfuse",
            Format::Prompty => "prompty",
            Format::Mlflow => "mlflow",
            Format::Dotprompt => "dotprompt",
        }
    }

    /// The format named `name`; an unknown name is an error listing the known ones.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::invalid_argument(
                    "format",
                    name,
                    format!("use one of: {}", Self::ALL.map(Format::name).join(", ")),
                )
            })
    }

    /// The extension of its files, without the dot.
    pub const fn extension(self) -> &'static str {
        match self {
            Format::Langfuse | Format::Mlflow => "json",
            Format::Prompty => "prompty",
            Format::Dotprompt => "prompt",
        }
    }

    /// The template syntax its files hold: Handlebars for Dotprompt, Jinja for the others
    /// (Langfuse's and MLflow's double-brace variables are read into Jinja).
    pub const fn syntax(self) -> TemplateSyntax {
        match self {
            Format::Dotprompt => TemplateSyntax::Handlebars,
            _ => TemplateSyntax::Jinja,
        }
    }

    /// Whether a file holds every version of a prompt (Langfuse, MLflow) or one (Prompty and Dotprompt, which have no
    /// versions: an export writes the version chosen by label, else the latest).
    pub const fn keeps_versions(self) -> bool {
        matches!(self, Format::Langfuse | Format::Mlflow)
    }

    /// The format of the file at `path` with content `text`, by extension and then content: a
    /// `.prompty` file, or a `.json` file whose object (or first array item) has Langfuse's
    /// `name`, `type` and `prompt`, or MLflow's `name` and `template`. `None` for anything else
    /// (our own YAML and JSON included).
    pub fn detect(path: &Path, text: &str) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "prompty" => Some(Format::Prompty),
            "prompt" => Some(Format::Dotprompt),
            "json" if langfuse::looks_like(text) => Some(Format::Langfuse),
            "json" if mlflow::looks_like(text) => Some(Format::Mlflow),
            _ => None,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One version read from another tool's file.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The content.
    pub prompt: Prompt,
    /// Its number, when the format has one (Langfuse's version `N` is `N.0.0`).
    pub version: Option<Version>,
    /// Labels to point at it.
    pub labels: Vec<LabelName>,
    /// What changed (Langfuse's commit message).
    pub changelog: String,
    /// Who wrote it.
    pub author: Option<String>,
    /// When it was written.
    pub created_at: Option<DateTime<Utc>>,
    /// Where it starts in its file, 1-based `(line, column)`.
    pub position: (usize, usize),
}

/// A field left behind by an import, at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file, as the import was given it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was left behind, and why.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// What [`import`] read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Import {
    /// The versions, in the file's order.
    pub entries: Vec<Imported>,
    /// Each field left behind, with its file and place.
    pub warnings: Vec<Warning>,
}

/// Reads `text`, the content of `file` (named in errors and warnings), as `format`. Every
/// problem is an [`Error::InvalidFile`] with its line and column.
pub fn import(format: Format, text: &str, file: &str) -> Result<Import> {
    match format {
        Format::Langfuse => langfuse::import(text, file),
        Format::Prompty => prompty::import(text, file),
        Format::Mlflow => mlflow::import(text, file),
        Format::Dotprompt => dotprompt::import(text, file),
    }
}

/// One version to export.
#[derive(Debug, Clone, Copy)]
pub struct Exportable<'a> {
    /// The content.
    pub prompt: &'a Prompt,
    /// Its number.
    pub version: Option<&'a Version>,
    /// The labels on it.
    pub labels: &'a [LabelName],
    /// What changed.
    pub changelog: &'a str,
    /// Who wrote it.
    pub author: Option<&'a str>,
    /// When it was written.
    pub created_at: Option<DateTime<Utc>>,
}

/// One file an export writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// Its path relative to the export's folder (`support/triage.json`): the prompt's id and the
    /// format's extension.
    pub path: String,
    /// Its content.
    pub text: String,
}

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Export {
    /// One file per prompt.
    pub files: Vec<ExportFile>,
    /// Each field left behind, with its prompt.
    pub warnings: Vec<String>,
}

/// Writes `versions` (grouped by prompt, each prompt's in version order) as `format`. A prompt
/// the format cannot express (a Jinja loop for Langfuse) is an error naming it and what stands in
/// the way: an export never writes a file that means something else.
pub fn export(format: Format, versions: &[Exportable<'_>]) -> Result<Export> {
    for v in versions {
        if v.prompt.syntax != format.syntax() {
            return Err(Error::InvalidPrompt {
                id: v.prompt.id.to_string(),
                reason: format!(
                    "it is written in {} and {format} files hold {} templates; nothing translates one into the other",
                    v.prompt.syntax,
                    format.syntax()
                ),
            });
        }
    }
    match format {
        Format::Langfuse => langfuse::export(versions),
        Format::Prompty => prompty::export(versions),
        Format::Mlflow => mlflow::export(versions),
        Format::Dotprompt => dotprompt::export(versions),
    }
}

/// Puts `value` in `config`'s field for `key` (our name: `model`, `temperature`, `max_tokens`,
/// `top_p`, `stop`, `tools`, `response_format`) when it fits the field; `false` when the key has
/// no field or the value does not fit, for the caller to keep it in `extra` as it is.
fn fit_option(config: &mut prompt_manager_core::ModelConfig, key: &str, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match key {
        "model" => value.as_str().map(|m| config.model = Some(m.to_owned())).is_some(),
        "temperature" => value.as_f64().map(|t| config.temperature = Some(t)).is_some(),
        "top_p" => value.as_f64().map(|t| config.top_p = Some(t)).is_some(),
        "max_tokens" => value
            .as_u64()
            .and_then(|t| u32::try_from(t).ok())
            .map(|t| config.max_tokens = Some(t))
            .is_some(),
        "stop" => serde_json::from_value::<Vec<String>>(value.clone())
            .ok()
            .filter(|s| !s.is_empty())
            .map(|s| config.stop = s)
            .is_some(),
        "tools" => serde_json::from_value::<Vec<Value>>(value.clone())
            .ok()
            .filter(|t| !t.is_empty())
            .map(|t| config.tools = t)
            .is_some(),
        "response_format" if !value.is_null() => {
            config.response_format = Some(value.clone());
            true
        }
        _ => false,
    }
}

/// One object of a JSON file of versions (Langfuse's, MLflow's), with where it starts, for
/// messages.
pub(crate) struct JsonEntry<'a> {
    /// The file's text.
    pub(crate) text: &'a str,
    /// The file's name.
    pub(crate) file: &'a str,
    /// Where the object starts (its `"name"` key).
    pub(crate) at: usize,
    /// How messages name it (`` `greeting` ``, `item 3`).
    pub(crate) what: String,
}

impl JsonEntry<'_> {
    /// The labels in the array `value` of `field` (`labels`, `aliases`; each one a `noun`),
    /// without `latest`: the other tools resolve it to the newest version themselves, as a
    /// reference without a label does here.
    pub(crate) fn labels(&self, value: Option<Value>, field: &str, noun: &str) -> Result<Vec<LabelName>> {
        let items = match value {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(self.error(format!("`{field}` must be an array, not {}", json_kind(&other))));
            }
        };
        let mut out = Vec::new();
        for item in items {
            let Value::String(label) = item else {
                return Err(self.error(format!("a {noun} must be a string, not {}", json_kind(&item))));
            };
            if label == "latest" {
                continue;
            }
            out.push(LabelName::new(&label).map_err(|e| self.error(format!("{noun} `{label}`: {e}")))?);
        }
        Ok(out)
    }

    /// The role of message `index` (0-based), from its `role` field.
    pub(crate) fn role(&self, index: usize, value: Option<Value>) -> Result<prompt_manager_core::Role> {
        let role = match value {
            Some(Value::String(role)) => role,
            _ => return Err(self.error(format!("message {}: no `role`", index + 1))),
        };
        serde_json::from_value(Value::String(role.clone())).map_err(|_| {
            self.error(format!(
                "message {}: the role `{role}` is not one of system, user, assistant, tool, function",
                index + 1
            ))
        })
    }

    /// An error at the object.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> Error {
        file_error(self.file, self.text, self.at, format!("{}: {message}", self.what))
    }

    /// A warning at the object.
    pub(crate) fn warn(&self, warnings: &mut Vec<Warning>, message: impl std::fmt::Display) {
        warnings.push(warning(
            self.file,
            self.text,
            self.at,
            format!("{}: {message}", self.what),
        ));
    }
}

/// Reads `text` as JSON holding one object (`noun`: what it is, for messages) or an array of
/// them, and hands each object to `read` with its place.
pub(crate) fn json_objects(
    text: &str,
    file: &str,
    noun: &str,
    mut read: impl FnMut(&JsonEntry<'_>, serde_json::Map<String, Value>, &mut Vec<Warning>) -> Result<Imported>,
) -> Result<Import> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::InvalidFile {
        file: file.to_owned(),
        line: Some(e.line()),
        column: Some(e.column()),
        message: format!("not JSON: {e}"),
    })?;
    let items = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        other => {
            return Err(file_error(
                file,
                text,
                0,
                format!(
                    "expected {noun} (an object) or an array of them, found {}",
                    json_kind(&other)
                ),
            ));
        }
    };
    let mut out = Import::default();
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(file_error(
                file,
                text,
                0,
                format!(
                    "item {}: expected {noun} (an object), found {}",
                    index + 1,
                    json_kind(&item)
                ),
            ));
        };
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let n = seen.entry(name.clone()).or_default();
        let at = json_entry_offset(text, &name, *n);
        *n += 1;
        let entry = JsonEntry {
            text,
            file,
            at,
            what: if name.is_empty() {
                format!("item {}", index + 1)
            } else {
                format!("`{name}`")
            },
        };
        let imported = read(&entry, object, &mut out.warnings)?;
        out.entries.push(imported);
    }
    Ok(out)
}

/// The JSON type of `value`, for messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Where the `n`-th object named `name` starts in `text` (its `"name"` key), or the start.
pub(crate) fn json_entry_offset(text: &str, name: &str, n: usize) -> usize {
    let encoded = Value::String(name.to_owned()).to_string();
    let mut seen = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find("\"name\"") {
        let key = from + i;
        let rest = text[key + 6..].trim_start();
        if let Some(rest) = rest.strip_prefix(':')
            && rest.trim_start().starts_with(&encoded)
        {
            if seen == n {
                return key;
            }
            seen += 1;
        }
        from = key + 6;
    }
    0
}

/// The offset in `text` of byte `at` of the string `content`, found after `from` as JSON.
pub(crate) fn json_content_offset(text: &str, from: usize, content: &str, at: usize) -> usize {
    let encoded = Value::String(content.to_owned()).to_string();
    match text[from..].find(&encoded) {
        Some(i) => {
            let prefix = Value::String(content[..at].to_owned()).to_string();
            from + i + prefix.len() - 1
        }
        None => from,
    }
}

/// The numbers a tool that counts versions 1, 2, 3 (Langfuse, MLflow) gets for a prompt's
/// `versions` (in order): their majors when every version is `N.0.0` (as such an import makes
/// them), else 1, 2, 3; the version travels in the file where it is not `N.0.0` of its number.
fn tool_numbers(versions: &[&Exportable<'_>]) -> Vec<u64> {
    let majors: Option<Vec<u64>> = versions
        .iter()
        .map(|v| {
            v.version
                .filter(|v| v.minor == 0 && v.patch == 0 && v.pre.is_empty() && v.major > 0)
                .map(|v| v.major)
        })
        .collect();
    match majors {
        Some(majors) if majors.windows(2).all(|w| w[0] < w[1]) => majors,
        _ => (1..=versions.len() as u64).collect(),
    }
}

/// Whether a Jinja `source` has a statement that loads another template (`include`, `import`,
/// `from`, `extends`), which no other tool's file can load.
fn includes_another(source: &str) -> bool {
    let mut from = 0;
    while let Some(open) = source[from..].find("{%").map(|i| from + i) {
        let Some(close) = source[open + 2..].find("%}").map(|i| open + 2 + i) else {
            return false;
        };
        let inner = source[open + 2..close].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let word = inner
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default();
        if matches!(word, "include" | "import" | "from" | "extends") {
            return true;
        }
        from = close + 2;
    }
    false
}

/// A file's id: its path without `extension` (`.prompty`), `\\` as `/`, without a leading `./`.
fn path_id(file: &str, extension: &str) -> String {
    let file = file.replace('\\', "/");
    let file = file.strip_prefix("./").unwrap_or(&file);
    file.strip_suffix(extension).unwrap_or(file).to_owned()
}

/// What a file of one version without labels (Prompty's, Dotprompt's) imports as.
fn one_version(prompt: Prompt, version: Option<Version>, warnings: Vec<Warning>) -> Import {
    Import {
        entries: vec![Imported {
            prompt,
            version,
            labels: Vec::new(),
            changelog: String::new(),
            author: None,
            created_at: None,
            position: (1, 1),
        }],
        warnings,
    }
}

/// A warning at byte `at` of `text`, the content of `file`.
fn warning(file: &str, text: &str, at: usize, message: String) -> Warning {
    let (line, column) = mustache::position(text, at);
    Warning {
        file: file.to_owned(),
        line,
        column,
        message,
    }
}

/// An error at byte `at` of `text`, the content of `file`.
fn file_error(file: &str, text: &str, at: usize, message: String) -> Error {
    let (line, column) = mustache::position(text, at);
    Error::InvalidFile {
        file: file.to_owned(),
        line: Some(line),
        column: Some(column),
        message,
    }
}
