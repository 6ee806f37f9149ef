//! MLflow's prompt registry: a prompt version as MLflow's `PromptVersion` holds it — `name`,
//! `version`, `template` (a text, or chat messages of `role` and `content`), `commit_message`,
//! `tags`, `aliases`, `model_config`, `response_format`, `creation_timestamp`, `user_id` — one
//! object per version, a file holding one or an array. The keys are `PromptVersion`'s own
//! constructor arguments: `scripts/mlflow-prompts.py` dumps a registry to such files and registers
//! them into one, with MLflow's client.
//!
//! MLflow reads a template in one of two ways. With a `{% … %}` tag anywhere (in any message of a
//! chat), the whole prompt is Jinja, rendered by Jinja2's sandbox: it imports as it is. Otherwise
//! only `{{ name }}` means anything (its pattern: an identifier, dotted parts allowed, spaces
//! around) and the rest is text: it imports with every other `{` that Jinja would read escaped.
//! An export writes the second form when it says the same, the first otherwise (marking a prompt
//! that has no `{% %}` tag of its own with an empty `{% raw %}{% endraw %}`, which an import takes
//! off again).
//!
//! What MLflow has no field for (a description, our tags, declared variables, structured
//! metadata, the prompt's format, folders in its id, newlines the engine drops) travels in the
//! version tag `prompt_manager` as JSON, so a round trip gives back the same content hash.

use std::collections::{BTreeMap, BTreeSet};

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ChatItem, ChatMessage, Error, InputSchema, LabelName, ModelConfig, Prompt, PromptFormat, PromptId, Result, Role,
    Template,
};
use serde_json::{Map, Value, json};

use crate::mustache::{self, Problem};
use crate::{Export, ExportFile, Exportable, Import, Imported, Warning, file_error};

/// The version tag that carries what MLflow has no field for.
const OURS: &str = "prompt_manager";

/// What an export puts first in a prompt that must be read as Jinja but has no `{% %}` tag.
const MARKER: &str = "{% raw %}{% endraw %}";

/// MLflow's own tags on a version, which its `tags` property leaves out too.
fn is_mlflow_tag(key: &str) -> bool {
    key.starts_with("mlflow.") || key.starts_with("_mlflow_")
}

/// Bookkeeping a dump may carry that an import has no use for.
const BOOKKEEPING: &[&str] = &["last_updated_timestamp", "uri", "variables", "description"];

/// `model_config` keys of MLflow and ours, where the names differ or the field is ours.
const MODEL_FIELDS: [(&str, &str); 5] = [
    ("model_name", "model"),
    ("temperature", "temperature"),
    ("max_tokens", "max_tokens"),
    ("top_p", "top_p"),
    ("stop_sequences", "stop"),
];

/// Whether `text` is JSON whose object (or first array item) has `name` and `template`.
pub(crate) fn looks_like(text: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let first = match &value {
        Value::Array(items) => items.first(),
        other => Some(other),
    };
    first
        .and_then(Value::as_object)
        .is_some_and(|o| o.contains_key("name") && o.contains_key("template"))
}

/// Whether MLflow renders `pieces` (the text, or every message's content) with Jinja: one of
/// them holds both `{%` and `%}`.
fn is_jinja<'a>(mut pieces: impl Iterator<Item = &'a str>) -> bool {
    pieces.any(|p| p.contains("{%") && p.contains("%}"))
}

/// The variables MLflow finds in `text`, as its pattern
/// `\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}` matches them, left to
/// right: each `(start, end, name)`.
fn variables(text: &str) -> Vec<(usize, usize, &str)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        match variable_at(text, open) {
            Some((end, name)) => {
                found.push((open, end, name));
                from = end;
            }
            None => from = open + 1,
        }
        if from >= bytes.len() {
            break;
        }
    }
    found
}

/// The variable MLflow's pattern matches at `open` (a `{{`): where it ends and its name.
fn variable_at(text: &str, open: usize) -> Option<(usize, &str)> {
    let skip_space = |mut at: usize| {
        // Python's `\s`: Unicode whitespace and the separators \x1c to \x1f.
        while let Some(c) = text[at..]
            .chars()
            .next()
            .filter(|c| c.is_whitespace() || ('\x1c'..='\x1f').contains(c))
        {
            at += c.len_utf8();
        }
        at
    };
    let ident = |at: usize| {
        let bytes = text.as_bytes();
        if at < bytes.len() && (bytes[at].is_ascii_alphabetic() || bytes[at] == b'_') {
            let mut end = at + 1;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            Some(end)
        } else {
            None
        }
    };
    let start = skip_space(open + 2);
    let mut end = ident(start)?;
    while text[end..].starts_with('.') {
        match ident(end + 1) {
            Some(next) => end = next,
            None => break,
        }
    }
    let close = skip_space(end);
    text[close..].starts_with("}}").then(|| (close + 2, &text[start..end]))
}

/// MLflow's double-brace text as a Jinja source that renders the same.
fn to_jinja(text: &str) -> std::result::Result<String, Problem> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (start, end, name) in variables(text) {
        if !mustache::is_name(name) {
            return Err(Problem {
                at: start,
                message: format!(
                    "the variable `{name}` cannot be a prompt-manager variable: a name is letters, digits and _, \
                     not a keyword and without dots (rename it in the source)"
                ),
            });
        }
        mustache::push_literal(&mut out, &text[at..start], Some('{'));
        out.push_str(&text[start..end]);
        at = end;
    }
    mustache::push_literal(&mut out, &text[at..], None);
    Ok(out)
}

/// Our source as MLflow's double-brace text, when it says exactly the same there.
fn to_double_brace(source: &str) -> Option<String> {
    let (text, _) = mustache::from_jinja_unchecked(source, &mustache::NoComposition).ok()?;
    (to_jinja(&text).ok()? == source).then_some(text)
}

pub(crate) fn import(text: &str, file: &str) -> Result<Import> {
    crate::json_objects(text, file, "an MLflow prompt version", |entry, object, warnings| {
        Entry { at: entry }.read(object, warnings)
    })
}

/// One object being read, with its place for messages.
struct Entry<'e, 'a> {
    at: &'e crate::JsonEntry<'a>,
}

impl Entry<'_, '_> {
    fn error(&self, message: impl std::fmt::Display) -> Error {
        self.at.error(message)
    }

    fn warn(&self, warnings: &mut Vec<Warning>, message: impl std::fmt::Display) {
        self.at.warn(warnings, message);
    }

    /// A double-brace text as our source, an error placed in the file.
    fn template(&self, content: &str, newline: bool) -> Result<String> {
        let mut source = to_jinja(content).map_err(|problem| {
            let at = crate::json_content_offset(self.at.text, self.at.at, content, problem.at);
            file_error(
                self.at.file,
                self.at.text,
                at,
                format!("{}: {}", self.at.what, problem.message),
            )
        })?;
        if content.ends_with('\n') || newline {
            // The engine drops a source's last newline; MLflow's text keeps it.
            source.push('\n');
        }
        Ok(source)
    }

    fn read(&self, mut object: Map<String, Value>, warnings: &mut Vec<Warning>) -> Result<Imported> {
        let name = match object.remove("name") {
            Some(Value::String(name)) => name,
            Some(other) => return Err(self.error(format!("`name` must be a string, not {}", crate::json_kind(&other)))),
            None => return Err(self.error("no `name`")),
        };
        let version = match object.remove("version") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => Some(n.as_u64().unwrap_or_default()),
            Some(Value::String(s)) if s.parse::<u64>().is_ok_and(|n| n > 0) => s.parse::<u64>().ok(),
            Some(other) => return Err(self.error(format!("`version` must be a whole number above 0, not {other}"))),
        }
        .map(|n| Version::new(n, 0, 0));
        let (tags, carried) = self.tags(object.remove("tags"), warnings)?;
        let version = carried.version.clone().or(version);
        let id = match &carried.id {
            Some(id) if id.replace('/', ".") == name => id.clone(),
            Some(id) => {
                return Err(self.error(format!(
                    "the tag `{OURS}` names the prompt `{id}`, which is not this version's name `{name}`"
                )));
            }
            None => name.clone(),
        };
        let id = PromptId::new(&id).map_err(|e| self.error(format!("the name cannot be a prompt id: {e}")))?;
        let template = object.remove("template").ok_or_else(|| self.error("no `template`"))?;
        let (format, template) = match template {
            Value::String(content) => {
                let source = if is_jinja(std::iter::once(content.as_str())) {
                    let unmarked = unmark(&content);
                    if is_jinja(std::iter::once(unmarked)) {
                        content
                    } else {
                        unmarked.to_owned()
                    }
                } else {
                    self.template(&content, carried.newlines.contains(&0))?
                };
                (carried.format.unwrap_or(PromptFormat::Text), Template::Text(source))
            }
            Value::Array(messages) if !messages.is_empty() => {
                let contents: Vec<String> = messages
                    .iter()
                    .map(|m| m.get("content").and_then(Value::as_str).unwrap_or_default().to_owned())
                    .collect();
                let jinja = is_jinja(contents.iter().map(String::as_str));
                let mut items = Vec::with_capacity(messages.len());
                for (i, message) in messages.into_iter().enumerate() {
                    items.push(self.message(i, message, jinja, &carried, warnings)?);
                }
                if jinja && let Some(ChatItem::Message(first)) = items.first_mut() {
                    let unmarked = unmark(&first.content);
                    if unmarked.len() != first.content.len() {
                        let rest = std::iter::once(unmarked).chain(contents.iter().skip(1).map(String::as_str));
                        if !is_jinja(rest) {
                            first.content = unmarked.to_owned();
                        }
                    }
                }
                (PromptFormat::Chat, Template::Chat(items))
            }
            Value::Array(_) => return Err(self.error("`template` is an empty list of messages")),
            other => {
                return Err(self.error(format!(
                    "`template` must be a string or a list of messages, not {}",
                    crate::json_kind(&other)
                )));
            }
        };
        let labels = self.labels(object.remove("aliases"))?;
        let mut model_config = self.model_config(object.remove("model_config"))?;
        match object.remove("response_format") {
            None | Some(Value::Null) => {}
            Some(format @ Value::Object(_)) => model_config.response_format = Some(format),
            Some(other) => {
                return Err(self.error(format!(
                    "`response_format` must be an object, not {}",
                    crate::json_kind(&other)
                )));
            }
        }
        let changelog = match object.remove("commit_message") {
            Some(Value::String(message)) => message,
            None | Some(Value::Null) => String::new(),
            Some(other) => {
                return Err(self.error(format!(
                    "`commit_message` must be a string, not {}",
                    crate::json_kind(&other)
                )));
            }
        };
        let author = match object.remove("user_id") {
            Some(Value::String(user)) if !user.is_empty() => Some(user),
            _ => None,
        };
        let created_at = object
            .remove("creation_timestamp")
            .and_then(|t| t.as_i64())
            .filter(|t| *t > 0)
            .and_then(chrono::DateTime::from_timestamp_millis);
        let left: Vec<String> = object
            .iter()
            .filter(|(key, value)| !value.is_null() && !BOOKKEEPING.contains(&key.as_str()))
            .map(|(key, _)| format!("`{key}`"))
            .collect();
        if !left.is_empty() {
            self.warn(
                warnings,
                format!("left behind (no such field here): {}", left.join(", ")),
            );
        }
        let mut extra = carried.metadata;
        for (key, value) in tags {
            extra.insert(key, Value::String(value));
        }
        let prompt = Prompt {
            syntax: prompt_manager_core::TemplateSyntax::Jinja,
            id,
            format,
            template,
            metadata: prompt_manager_core::Metadata {
                description: carried.description,
                tags: carried.tags,
                extra,
            },
            model_config,
            input_schema: carried.input_schema,
        };
        prompt.validate().map_err(|e| self.error(e))?;
        Ok(Imported {
            prompt,
            version,
            labels,
            changelog,
            author,
            created_at,
            position: mustache::position(self.at.text, self.at.at),
        })
    }

    /// The version's own tags (MLflow's left out) and what `prompt_manager` carries.
    fn tags(&self, value: Option<Value>, warnings: &mut Vec<Warning>) -> Result<(BTreeMap<String, String>, Carried)> {
        let tags = match value {
            None | Some(Value::Null) => return Ok((BTreeMap::new(), Carried::default())),
            Some(Value::Object(tags)) => tags,
            Some(other) => {
                return Err(self.error(format!("`tags` must be an object, not {}", crate::json_kind(&other))));
            }
        };
        let mut own = BTreeMap::new();
        let mut carried = Carried::default();
        for (key, value) in tags {
            let Value::String(value) = value else {
                return Err(self.error(format!(
                    "the tag `{key}` must be a string, not {}",
                    crate::json_kind(&value)
                )));
            };
            if key == OURS {
                carried = Carried::read(&value, self, warnings)?;
            } else if !is_mlflow_tag(&key) {
                own.insert(key, value);
            }
        }
        Ok((own, carried))
    }

    fn labels(&self, value: Option<Value>) -> Result<Vec<LabelName>> {
        self.at.labels(value, "aliases", "alias")
    }

    fn model_config(&self, value: Option<Value>) -> Result<ModelConfig> {
        let config = match value {
            None | Some(Value::Null) => return Ok(ModelConfig::default()),
            Some(Value::Object(config)) => config,
            Some(other) => {
                return Err(self.error(format!(
                    "`model_config` must be an object, not {}",
                    crate::json_kind(&other)
                )));
            }
        };
        let mut out = ModelConfig::default();
        for (key, value) in config {
            let ours = MODEL_FIELDS
                .iter()
                .find(|(theirs, _)| *theirs == key)
                .map(|(_, ours)| *ours)
                .or((key == "tools").then_some("tools"));
            if !ours.is_some_and(|ours| crate::fit_option(&mut out, ours, &value)) {
                out.extra.insert(key, value);
            }
        }
        Ok(out)
    }

    fn message(
        &self,
        index: usize,
        message: Value,
        jinja: bool,
        carried: &Carried,
        warnings: &mut Vec<Warning>,
    ) -> Result<ChatItem> {
        let Value::Object(mut message) = message else {
            return Err(self.error(format!(
                "message {}: expected an object, found {}",
                index + 1,
                crate::json_kind(&message)
            )));
        };
        let role: Role = self.at.role(index, message.remove("role"))?;
        let content = match message.remove("content") {
            Some(Value::String(content)) => content,
            Some(Value::Null) | None => String::new(),
            Some(other) => {
                return Err(self.error(format!(
                    "message {}: `content` must be a string, not {} (MLflow formats a text content only)",
                    index + 1,
                    crate::json_kind(&other)
                )));
            }
        };
        let keys: Vec<String> = message
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| format!("`{k}`"))
            .collect();
        if !keys.is_empty() {
            self.warn(
                warnings,
                format!(
                    "message {}: left behind (MLflow formats a role and a content only): {}",
                    index + 1,
                    keys.join(", ")
                ),
            );
        }
        let source = if jinja {
            content
        } else {
            self.template(&content, carried.newlines.contains(&index))?
        };
        Ok(ChatItem::Message(ChatMessage::new(role, source)))
    }
}

/// `source` without the marker an export puts first.
fn unmark(source: &str) -> &str {
    source.strip_prefix(MARKER).unwrap_or(source)
}

/// What the tag `prompt_manager` carries.
#[derive(Default)]
struct Carried {
    id: Option<String>,
    /// Our version number, when it is not the `N.0.0` of MLflow's `N`.
    version: Option<Version>,
    format: Option<PromptFormat>,
    description: Option<String>,
    tags: BTreeSet<String>,
    metadata: BTreeMap<String, Value>,
    input_schema: InputSchema,
    /// The text (0) or the messages (by index) whose source ended with a newline that the
    /// engine drops when it renders, and MLflow's text therefore lacks.
    newlines: BTreeSet<usize>,
}

impl Carried {
    fn read(text: &str, entry: &Entry<'_, '_>, warnings: &mut Vec<Warning>) -> Result<Self> {
        let mut ours: Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| entry.error(format!("the tag `{OURS}` must be a JSON object: {e}")))?;
        let mut take = |key: &str| ours.remove(key).filter(|v| !v.is_null());
        let bad = |key: &str, e: serde_json::Error| entry.error(format!("the tag `{OURS}`: `{key}`: {e}"));
        macro_rules! field {
            ($key:literal) => {
                take($key)
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| bad($key, e))?
            };
        }
        let carried = Carried {
            id: field!("id"),
            version: field!("version"),
            format: field!("format"),
            description: field!("description"),
            tags: field!("tags").unwrap_or_default(),
            metadata: field!("metadata").unwrap_or_default(),
            input_schema: field!("input_schema").unwrap_or_default(),
            newlines: field!("newlines").unwrap_or_default(),
        };
        if !ours.is_empty() {
            let keys: Vec<String> = ours.keys().map(|k| format!("`{k}`")).collect();
            entry.warn(warnings, format!("the tag `{OURS}`: left behind: {}", keys.join(", ")));
        }
        Ok(carried)
    }
}

fn cannot(id: &PromptId, reason: impl std::fmt::Display) -> Error {
    Error::InvalidPrompt {
        id: id.to_string(),
        reason: format!("cannot be written for MLflow: {reason}"),
    }
}

pub(crate) fn export(versions: &[Exportable<'_>]) -> Result<Export> {
    let mut by_prompt: BTreeMap<&PromptId, Vec<&Exportable<'_>>> = BTreeMap::new();
    for v in versions {
        by_prompt.entry(&v.prompt.id).or_default().push(v);
    }
    let mut out = Export::default();
    // MLflow's names have no folders: `a/b` is written `a.b`, which must not be another prompt's.
    let mut names: BTreeMap<String, &PromptId> = BTreeMap::new();
    for id in by_prompt.keys() {
        if let Some(other) = names.insert(id.as_str().replace('/', "."), id) {
            return Err(cannot(
                id,
                format!(
                    "its MLflow name `{}` is also `{other}`'s (MLflow names have no `/`)",
                    id.as_str().replace('/', ".")
                ),
            ));
        }
    }
    for (id, versions) in by_prompt {
        let numbers = crate::tool_numbers(&versions);
        let mut objects = Vec::with_capacity(versions.len());
        for (ordinal, v) in versions.into_iter().enumerate() {
            objects.push(object_of(v, numbers[ordinal])?);
        }
        let text = serde_json::to_string_pretty(&objects).map_err(|e| cannot(id, format!("as JSON: {e}")))?;
        out.files.push(ExportFile {
            path: format!("{id}.json"),
            text: text + "\n",
        });
    }
    Ok(out)
}

/// The pieces of a template (the text, or each message's content), as MLflow will hold them,
/// and the pieces whose source's last newline had to be recorded.
fn pieces_of(id: &PromptId, sources: &[&str]) -> Result<(Vec<String>, Vec<usize>)> {
    let double: Option<Vec<(String, bool)>> = sources
        .iter()
        .map(|source| {
            let (body, dropped) = match source.strip_suffix('\n') {
                Some(body) => (body, true),
                None => (*source, false),
            };
            to_double_brace(body).map(|text| {
                let flag = dropped && !text.ends_with('\n');
                (text, flag)
            })
        })
        .collect();
    if let Some(double) = double
        && !is_jinja(double.iter().map(|(t, _)| t.as_str()))
    {
        let newlines = double
            .iter()
            .enumerate()
            .filter(|(_, (_, flag))| *flag)
            .map(|(i, _)| i)
            .collect();
        return Ok((double.into_iter().map(|(t, _)| t).collect(), newlines));
    }
    // Jinja, as MLflow renders a prompt with a `{% %}` tag: our sources as they are.
    if let Some(i) = sources.iter().position(|s| crate::includes_another(s)) {
        return Err(cannot(
            id,
            format!(
                "{} includes another prompt, and MLflow's templates have no includes",
                if sources.len() == 1 {
                    "the template".to_owned()
                } else {
                    format!("message {}", i + 1)
                }
            ),
        ));
    }
    let mut pieces: Vec<String> = sources.iter().map(|s| (*s).to_owned()).collect();
    if !is_jinja(sources.iter().copied())
        && let Some(first) = pieces.first_mut()
    {
        first.insert_str(0, MARKER);
    }
    Ok((pieces, Vec::new()))
}

/// One version as MLflow's object; `ordinal` is its MLflow version number.
fn object_of(v: &Exportable<'_>, ordinal: u64) -> Result<Value> {
    let prompt = v.prompt;
    let id = &prompt.id;
    let mut ours = Map::new();
    let template = match &prompt.template {
        Template::Text(source) => {
            let (mut pieces, newlines) = pieces_of(id, &[source.as_str()])?;
            if !newlines.is_empty() {
                ours.insert("newlines".into(), json!(newlines));
            }
            if !matches!(prompt.format, PromptFormat::Text) {
                ours.insert("format".into(), json!(prompt.format));
            }
            Value::String(pieces.remove(0))
        }
        Template::Chat(items) => {
            let mut sources = Vec::with_capacity(items.len());
            let mut roles = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    ChatItem::Message(m) => {
                        if m.name.is_some() || m.tool_call_id.is_some() || !m.tool_calls.is_empty() {
                            return Err(cannot(
                                id,
                                format!(
                                    "message {} has a name or tool calls, and MLflow formats a role and a content only",
                                    i + 1
                                ),
                            ));
                        }
                        sources.push(m.content.as_str());
                        roles.push(m.role);
                    }
                    ChatItem::Placeholder(p) => {
                        return Err(cannot(
                            id,
                            format!(
                                "message {} is the placeholder `{}`, and MLflow's chat templates have no placeholder \
                                 for a list of messages",
                                i + 1,
                                p.variable
                            ),
                        ));
                    }
                }
            }
            let (pieces, newlines) = pieces_of(id, &sources)?;
            if !newlines.is_empty() {
                ours.insert("newlines".into(), json!(newlines));
            }
            Value::Array(
                roles
                    .into_iter()
                    .zip(pieces)
                    .map(|(role, content)| json!({ "role": role, "content": content }))
                    .collect(),
            )
        }
    };
    if id.as_str().contains('/') {
        // MLflow's names have no folders (letters, digits, `_`, `.`, `-`).
        ours.insert("id".into(), json!(id.as_str()));
    }
    // MLflow numbers versions 1, 2, 3: ours travels when it is not `N.0.0` of that number.
    if let Some(version) = v.version
        && *version != Version::new(ordinal, 0, 0)
    {
        ours.insert("version".into(), json!(version.to_string()));
    }
    let metadata = &prompt.metadata;
    if let Some(d) = &metadata.description {
        ours.insert("description".into(), json!(d));
    }
    if !metadata.tags.is_empty() {
        ours.insert("tags".into(), json!(metadata.tags));
    }
    let mut tags = Map::new();
    let mut structured = Map::new();
    for (key, value) in &metadata.extra {
        match value {
            Value::String(s) if key != OURS && !is_mlflow_tag(key) => {
                tags.insert(key.clone(), json!(s));
            }
            other => {
                structured.insert(key.clone(), other.clone());
            }
        }
    }
    if !structured.is_empty() {
        ours.insert("metadata".into(), Value::Object(structured));
    }
    if !prompt.input_schema.is_empty() {
        ours.insert("input_schema".into(), json!(prompt.input_schema));
    }
    if !ours.is_empty() {
        tags.insert(OURS.into(), json!(Value::Object(ours).to_string()));
    }
    let config = model_config_of(id, &prompt.model_config)?;
    let mut object = Map::new();
    object.insert("name".into(), json!(id.as_str().replace('/', ".")));
    object.insert("version".into(), json!(ordinal));
    object.insert("template".into(), template);
    object.insert(
        "commit_message".into(),
        (!v.changelog.is_empty()).then_some(v.changelog).into(),
    );
    object.insert("tags".into(), Value::Object(tags));
    object.insert(
        "aliases".into(),
        json!(v.labels.iter().map(ToString::to_string).collect::<Vec<_>>()),
    );
    object.insert(
        "model_config".into(),
        if config.is_empty() {
            Value::Null
        } else {
            Value::Object(config)
        },
    );
    object.insert(
        "response_format".into(),
        prompt.model_config.response_format.clone().unwrap_or(Value::Null),
    );
    if let Some(t) = v.created_at {
        object.insert("creation_timestamp".into(), json!(t.timestamp_millis()));
    }
    if let Some(author) = v.author {
        object.insert("user_id".into(), json!(author));
    }
    Ok(Value::Object(object))
}

/// Our model parameters as MLflow's `model_config` (its `PromptModelConfig`: named fields, and
/// every other key kept as it is among its extra parameters).
fn model_config_of(id: &PromptId, model: &ModelConfig) -> Result<Map<String, Value>> {
    if let Some(r) = &model.response_format
        && !r.is_object()
    {
        return Err(cannot(
            id,
            "its response format is not an object, and MLflow's is a JSON schema object",
        ));
    }
    let mut config = Map::new();
    if let Some(m) = &model.model {
        config.insert("model_name".into(), json!(m));
    }
    if let Some(t) = model.temperature {
        config.insert("temperature".into(), json!(t));
    }
    if let Some(t) = model.max_tokens {
        config.insert("max_tokens".into(), json!(t));
    }
    if let Some(t) = model.top_p {
        config.insert("top_p".into(), json!(t));
    }
    if !model.stop.is_empty() {
        config.insert("stop_sequences".into(), json!(model.stop));
    }
    if !model.tools.is_empty() {
        config.insert("tools".into(), json!(model.tools));
    }
    for (k, v) in &model.extra {
        if config.contains_key(k) || MODEL_FIELDS.iter().any(|(theirs, _)| theirs == k) {
            return Err(cannot(
                id,
                format!("its model config has an extra `{k}`, which MLflow reads as its own field"),
            ));
        }
        config.insert(k.clone(), v.clone());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn variables_are_found_as_mlflow_finds_them() {
        let names = |text: &str| {
            variables(text)
                .into_iter()
                .map(|(_, _, n)| n.to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("Hi {{name}}, {{ city }}!"), ["name", "city"]);
        assert_eq!(names("{{{x}}}"), ["x"]);
        assert_eq!(names("{{ user.name }} {{ a. }} {{1x}} {{ x | upper }}"), ["user.name"]);
        assert_eq!(names("{{a}}{{b}}"), ["a", "b"]);
        assert_eq!(names("{{\n  multi\t}}"), ["multi"]);
    }

    #[test]
    fn double_brace_texts_import_and_export_unchanged() {
        for text in [
            "Hello {{name}}, {{ city }}!",
            "{\"a\": {{ n }}}",
            "{{{x}}}",
            "Literal {# and {{ 1 + 2 }} and {%",
            "ends with {",
        ] {
            let source = to_jinja(text).unwrap();
            assert_eq!(to_double_brace(&source).as_deref(), Some(text), "{source}");
        }
        assert!(
            to_jinja("Hi {{ user.name }}")
                .unwrap_err()
                .message
                .contains("user.name")
        );
        assert!(to_jinja("{{ if }}").is_err());
        // What MLflow's double braces cannot say goes the Jinja way.
        assert_eq!(to_double_brace("{{ x | upper }}"), None);
        assert_eq!(to_double_brace("{% if x %}a{% endif %}"), None);
    }
}
