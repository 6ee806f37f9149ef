//! Langfuse's prompt JSON, as its public API returns a prompt version (`GET
//! /api/public/v2/prompts/{name}`): `name`, `version`, `type` (`text` or `chat`), `prompt` (a text,
//! or messages and placeholders), `config`, `labels`, `tags`, `commitMessage`. A file holds one
//! such object or an array of them.
//!
//! What Langfuse has no field for (a description, declared variables, free metadata, an optional
//! placeholder, the `completion`/`instruction` formats) travels in `config.prompt_manager`, so
//! that a round trip through Langfuse gives back the same content hash; Langfuse keeps `config`
//! as it is given.

use std::collections::{BTreeMap, BTreeSet};

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ChatItem, ChatMessage, Error, InputSchema, LabelName, MessagePlaceholder, ModelConfig, Prompt, PromptFormat,
    PromptId, Result, Role, Template,
};
use serde_json::{Map, Value, json};

use crate::mustache::{self, Composition, Problem};
use crate::{Export, ExportFile, Exportable, Import, Imported, Warning, file_error};

/// The key of `config` that carries what Langfuse has no field for.
const OURS: &str = "prompt_manager";

/// Langfuse's bookkeeping, which an import has no use for.
const BOOKKEEPING: &[&str] = &[
    "id",
    "projectId",
    "createdAt",
    "updatedAt",
    "createdBy",
    "isActive",
    "resolutionGraph",
];

/// Whether `text` is JSON whose object (or first array item) has `name`, `type` and `prompt`.
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
        .is_some_and(|o| o.contains_key("name") && o.contains_key("type") && o.contains_key("prompt"))
}

/// Langfuse's composition tag, `@@@langfusePrompt:name=NAME|label=LABEL@@@` (or `|version=N`),
/// as our include of `NAME@LABEL` (`NAME@N.0.0`).
struct Tags;

const TAG_OPEN: &str = "@@@langfusePrompt:";
const TAG_CLOSE: &str = "@@@";

impl Composition for Tags {
    fn find(&self, text: &str, from: usize) -> Option<std::result::Result<(usize, usize, String), Problem>> {
        let start = from + text[from..].find(TAG_OPEN)?;
        let body_start = start + TAG_OPEN.len();
        let Some(body_len) = text[body_start..].find(TAG_CLOSE) else {
            return Some(Err(Problem {
                at: start,
                message: "a composition tag without its closing `@@@`".into(),
            }));
        };
        let end = body_start + body_len + TAG_CLOSE.len();
        let mut name = None;
        let mut selector = None;
        let bad = |message: String| Some(Err(Problem { at: start, message }));
        for part in text[body_start..body_start + body_len].split('|') {
            match part.split_once('=') {
                Some(("name", value)) if PromptId::new(value).is_ok() => name = Some(value.to_owned()),
                Some(("label", value)) if LabelName::new(value).is_ok() => selector = Some(value.to_owned()),
                Some(("version", value)) if value.parse::<u64>().is_ok_and(|v| v > 0) => {
                    selector = Some(format!("{value}.0.0"));
                }
                Some((key @ ("name" | "label" | "version"), value)) => {
                    return bad(format!("`{key}={value}` in a composition tag is not a valid {key}"));
                }
                _ => {
                    return Some(Err(Problem {
                        at: start,
                        message: format!("`{part}` in a composition tag: expected name=, label= or version="),
                    }));
                }
            }
        }
        let Some(name) = name else {
            return Some(Err(Problem {
                at: start,
                message: "a composition tag without `name=`".into(),
            }));
        };
        Some(Ok((
            start,
            end,
            match selector {
                Some(selector) => format!("{name}@{selector}"),
                None => format!("{name}@production"),
            },
        )))
    }

    fn write(&self, reference: &str) -> std::result::Result<String, String> {
        let Some((name, selector)) = reference.split_once('@') else {
            return Ok(format!("{TAG_OPEN}name={reference}|label=production{TAG_CLOSE}"));
        };
        match Version::parse(selector) {
            // An export numbers versions 1, 2, 3 afresh, so a number would point elsewhere.
            Ok(_) => Err(format!(
                "`{{% include \"{reference}\" %}}`: an include of an exact version cannot be written, because an \
                 export numbers Langfuse versions afresh; include a label"
            )),
            Err(_) if selector.contains(['*', '^', '~', '>', '<', '=']) => Err(format!(
                "`{{% include \"{reference}\" %}}`: Langfuse has no version ranges; include a label"
            )),
            Err(_) => Ok(format!("{TAG_OPEN}name={name}|label={selector}{TAG_CLOSE}")),
        }
    }
}

pub(crate) fn import(text: &str, file: &str) -> Result<Import> {
    crate::json_objects(text, file, "a Langfuse prompt", |entry, object, warnings| {
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

    /// A template of the prompt as our source, errors placed in the file.
    fn template(&self, content: &str) -> Result<String> {
        mustache::to_jinja(content, &Tags).map_err(|problem| {
            let at = crate::json_content_offset(self.at.text, self.at.at, content, problem.at);
            file_error(
                self.at.file,
                self.at.text,
                at,
                format!("{}: {}", self.at.what, problem.message),
            )
        })
    }

    fn read(&self, mut object: Map<String, Value>, warnings: &mut Vec<Warning>) -> Result<Imported> {
        let name = match object.remove("name") {
            Some(Value::String(name)) => name,
            Some(other) => return Err(self.error(format!("`name` must be a string, not {}", crate::json_kind(&other)))),
            None => return Err(self.error("no `name`")),
        };
        let id = PromptId::new(&name).map_err(|e| self.error(format!("the name cannot be a prompt id: {e}")))?;
        let version = match object.remove("version") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => {
                Some(Version::new(n.as_u64().unwrap_or_default(), 0, 0))
            }
            Some(other) => return Err(self.error(format!("`version` must be a whole number above 0, not {other}"))),
        };
        let mut config = match object.remove("config") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(config)) => config,
            Some(other) => {
                return Err(self.error(format!("`config` must be an object, not {}", crate::json_kind(&other))));
            }
        };
        let ours = match config.remove(OURS) {
            None => Map::new(),
            Some(Value::Object(ours)) => ours,
            Some(other) => {
                return Err(self.error(format!(
                    "`config.{OURS}` must be an object, not {}",
                    crate::json_kind(&other)
                )));
            }
        };
        let carried = Carried::read(ours, self, warnings)?;
        let version = carried.version.clone().or(version);
        let kind_name = object.remove("type");
        let prompt_value = object.remove("prompt").ok_or_else(|| self.error("no `prompt`"))?;
        let (format, template) = match (kind_name.as_ref().and_then(Value::as_str), prompt_value) {
            (Some("text") | None, Value::String(content)) => {
                let mut source = self.template(&content)?;
                if content.ends_with('\n') || carried.newlines.contains(&0) {
                    source.push('\n');
                }
                (carried.format.unwrap_or(PromptFormat::Text), Template::Text(source))
            }
            (Some("chat") | None, Value::Array(messages)) => {
                let mut items = Vec::with_capacity(messages.len());
                for (i, message) in messages.into_iter().enumerate() {
                    items.push(self.chat_item(i, message, &carried, warnings)?);
                }
                (PromptFormat::Chat, Template::Chat(items))
            }
            (Some(kind_name), value) => {
                return Err(self.error(format!(
                    "`type` is `{kind_name}` but `prompt` is {}: a text prompt is a string, a chat prompt an array",
                    crate::json_kind(&value)
                )));
            }
            (None, value) => {
                return Err(self.error(format!(
                    "`prompt` must be a string or an array, not {}",
                    crate::json_kind(&value)
                )));
            }
        };
        let labels = self.labels(object.remove("labels"))?;
        let tags = match object.remove("tags") {
            None | Some(Value::Null) => BTreeSet::new(),
            Some(Value::Array(tags)) => tags
                .into_iter()
                .map(|t| match t {
                    Value::String(t) => Ok(t),
                    other => Err(self.error(format!("a tag must be a string, not {}", crate::json_kind(&other)))),
                })
                .collect::<Result<_>>()?,
            Some(other) => return Err(self.error(format!("`tags` must be an array, not {}", crate::json_kind(&other)))),
        };
        let changelog = match object.remove("commitMessage") {
            Some(Value::String(message)) => message,
            _ => String::new(),
        };
        let mut left: Vec<String> = Vec::new();
        for (key, value) in &object {
            if value.is_null() {
                continue;
            }
            if BOOKKEEPING.contains(&key.as_str()) {
                continue;
            }
            left.push(format!("`{key}`"));
        }
        if !left.is_empty() {
            self.warn(
                warnings,
                format!("left behind (no such field here): {}", left.join(", ")),
            );
        }
        let prompt = Prompt {
            syntax: prompt_manager_core::TemplateSyntax::Jinja,
            id,
            format,
            template,
            metadata: prompt_manager_core::Metadata {
                description: carried.description,
                tags,
                extra: carried.metadata,
            },
            model_config: model_config(config),
            input_schema: carried.input_schema,
        };
        prompt.validate().map_err(|e| self.error(e))?;
        Ok(Imported {
            prompt,
            version,
            labels,
            changelog,
            author: object.get("createdBy").and_then(Value::as_str).map(str::to_owned),
            created_at: object
                .get("createdAt")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
            position: mustache::position(self.at.text, self.at.at),
        })
    }

    fn labels(&self, value: Option<Value>) -> Result<Vec<LabelName>> {
        self.at.labels(value, "labels", "label")
    }

    fn chat_item(
        &self,
        index: usize,
        message: Value,
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
        let kind_name = message.remove("type");
        if kind_name.as_ref().and_then(Value::as_str) == Some("placeholder") {
            let name = message
                .remove("name")
                .and_then(|n| n.as_str().map(str::to_owned))
                .ok_or_else(|| self.error(format!("message {}: a placeholder without a `name`", index + 1)))?;
            if !mustache::is_name(&name) {
                return Err(self.error(format!(
                    "message {}: the placeholder `{name}` cannot be a prompt-manager variable (letters, digits and _)",
                    index + 1
                )));
            }
            self.leftovers(warnings, &format!("placeholder {}", index + 1), &message);
            return Ok(ChatItem::Placeholder(MessagePlaceholder {
                optional: carried.optional.contains(&name),
                variable: name,
            }));
        }
        let role: Role = self.at.role(index, message.remove("role"))?;
        let content = match message.remove("content") {
            Some(Value::String(content)) => content,
            Some(Value::Null) | None => String::new(),
            Some(other) => {
                return Err(self.error(format!(
                    "message {}: `content` must be a string, not {}",
                    index + 1,
                    crate::json_kind(&other)
                )));
            }
        };
        self.leftovers(warnings, &format!("message {}", index + 1), &message);
        let mut source = self.template(&content)?;
        if content.ends_with('\n') || carried.newlines.contains(&index) {
            source.push('\n');
        }
        Ok(ChatItem::Message(ChatMessage::new(role, source)))
    }

    fn leftovers(&self, warnings: &mut Vec<Warning>, what: &str, rest: &Map<String, Value>) {
        let keys: Vec<String> = rest
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| format!("`{k}`"))
            .collect();
        if !keys.is_empty() {
            self.warn(warnings, format!("{what}: left behind: {}", keys.join(", ")));
        }
    }
}

/// What `config.prompt_manager` carries.
#[derive(Default)]
struct Carried {
    format: Option<PromptFormat>,
    description: Option<String>,
    metadata: BTreeMap<String, Value>,
    input_schema: InputSchema,
    /// The text (0) or the messages (by index) whose source ended with a newline that the
    /// template engine drops when it renders, and Langfuse's text therefore lacks.
    newlines: BTreeSet<usize>,
    optional: BTreeSet<String>,
    /// Our version number, when it is not the `N.0.0` of Langfuse's `N`.
    version: Option<Version>,
}

impl Carried {
    fn read(mut ours: Map<String, Value>, entry: &Entry<'_, '_>, warnings: &mut Vec<Warning>) -> Result<Self> {
        let mut take = |key: &str| ours.remove(key).filter(|v| !v.is_null());
        let bad = |key: &str, e: serde_json::Error| entry.error(format!("`config.{OURS}.{key}`: {e}"));
        let carried = Carried {
            format: take("format")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| bad("format", e))?,
            description: take("description")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| bad("description", e))?,
            metadata: take("metadata")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| bad("metadata", e))?
                .unwrap_or_default(),
            input_schema: take("input_schema")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| bad("input_schema", e))?
                .unwrap_or_default(),
            newlines: take("newlines")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| bad("newlines", e))?
                .unwrap_or_default(),
            optional: take("optional_placeholders")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| bad("optional_placeholders", e))?
                .unwrap_or_default(),
            version: take("version")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| bad("version", e))?,
        };
        if !ours.is_empty() {
            let keys: Vec<String> = ours.keys().map(|k| format!("`{k}`")).collect();
            entry.warn(warnings, format!("config.{OURS}: left behind: {}", keys.join(", ")));
        }
        Ok(carried)
    }
}

/// Langfuse's `config` as model parameters: the ones we know by name in their fields when they
/// fit, everything else as it is in `extra`.
fn model_config(config: Map<String, Value>) -> ModelConfig {
    let mut out = ModelConfig::default();
    for (key, value) in config {
        if !crate::fit_option(&mut out, &key, &value) {
            out.extra.insert(key, value);
        }
    }
    out
}

/// Our model parameters as Langfuse's `config`.
fn config_of(model: &ModelConfig) -> Map<String, Value> {
    let mut config = Map::new();
    if let Some(m) = &model.model {
        config.insert("model".into(), json!(m));
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
        config.insert("stop".into(), json!(model.stop));
    }
    if !model.tools.is_empty() {
        config.insert("tools".into(), json!(model.tools));
    }
    if let Some(r) = &model.response_format {
        config.insert("response_format".into(), r.clone());
    }
    for (k, v) in &model.extra {
        config.insert(k.clone(), v.clone());
    }
    config
}

/// A source's text for Langfuse: the newline the engine drops at its end dropped, and whether
/// that took one that Langfuse's text does not show.
fn export_text(source: &str, id: &PromptId, what: &str) -> Result<(String, bool)> {
    let (body, dropped) = match source.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (source, false),
    };
    let text = mustache::from_jinja(body, &Tags).map_err(|problem| Error::InvalidPrompt {
        id: id.to_string(),
        reason: format!("cannot be written for Langfuse: {what}: {}", problem.message),
    })?;
    let flag = dropped && !text.ends_with('\n');
    Ok((text, flag))
}

pub(crate) fn export(versions: &[Exportable<'_>]) -> Result<Export> {
    let mut by_prompt: BTreeMap<&PromptId, Vec<&Exportable<'_>>> = BTreeMap::new();
    for v in versions {
        by_prompt.entry(&v.prompt.id).or_default().push(v);
    }
    let mut out = Export::default();
    for (id, versions) in by_prompt {
        let newest = versions.len();
        let numbers = crate::tool_numbers(&versions);
        let mut objects = Vec::with_capacity(versions.len());
        for (ordinal, v) in versions.into_iter().enumerate() {
            objects.push(object_of(v, numbers[ordinal], ordinal + 1 == newest)?);
        }
        let text = serde_json::to_string_pretty(&objects).map_err(|e| Error::InvalidPrompt {
            id: id.to_string(),
            reason: format!("cannot be written as JSON: {e}"),
        })?;
        out.files.push(ExportFile {
            path: format!("{id}.json"),
            text: text + "\n",
        });
    }
    Ok(out)
}

/// One version as Langfuse's object; `ordinal` is its Langfuse version number.
fn object_of(v: &Exportable<'_>, ordinal: u64, newest: bool) -> Result<Value> {
    let prompt = v.prompt;
    let id = &prompt.id;
    let mut ours = Map::new();
    let mut newlines = Vec::new();
    let (kind_name, body) = match &prompt.template {
        Template::Text(source) => {
            let (text, flag) = export_text(source, id, "the template")?;
            if flag {
                newlines.push(0);
            }
            if !matches!(prompt.format, PromptFormat::Text) {
                ours.insert("format".into(), json!(prompt.format));
            }
            ("text", Value::String(text))
        }
        Template::Chat(items) => {
            let mut messages = Vec::with_capacity(items.len());
            let mut optional = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    ChatItem::Message(m) => {
                        if m.name.is_some() || m.tool_call_id.is_some() || !m.tool_calls.is_empty() {
                            return Err(Error::InvalidPrompt {
                                id: id.to_string(),
                                reason: format!(
                                    "cannot be written for Langfuse: message {} has a name or tool calls, and Langfuse's \
                                     messages have a role and a content only",
                                    i + 1
                                ),
                            });
                        }
                        let (text, flag) = export_text(&m.content, id, &format!("message {}", i + 1))?;
                        if flag {
                            newlines.push(i);
                        }
                        messages.push(json!({ "role": m.role, "content": text }));
                    }
                    ChatItem::Placeholder(p) => {
                        if p.optional {
                            optional.push(p.variable.clone());
                        }
                        messages.push(json!({ "type": "placeholder", "name": p.variable }));
                    }
                }
            }
            if !optional.is_empty() {
                ours.insert("optional_placeholders".into(), json!(optional));
            }
            ("chat", Value::Array(messages))
        }
    };
    if !newlines.is_empty() {
        ours.insert("newlines".into(), json!(newlines));
    }
    // Langfuse numbers versions 1, 2, 3: ours travels when it is not `N.0.0` of that number.
    if let Some(version) = v.version
        && *version != Version::new(ordinal, 0, 0)
    {
        ours.insert("version".into(), json!(version.to_string()));
    }
    let metadata = &prompt.metadata;
    if let Some(d) = &metadata.description {
        ours.insert("description".into(), json!(d));
    }
    if !metadata.extra.is_empty() {
        ours.insert("metadata".into(), json!(metadata.extra));
    }
    if !prompt.input_schema.is_empty() {
        ours.insert("input_schema".into(), json!(prompt.input_schema));
    }
    let mut config = config_of(&prompt.model_config);
    if config.contains_key(OURS) {
        return Err(Error::InvalidPrompt {
            id: id.to_string(),
            reason: format!(
                "cannot be written for Langfuse: its model config has a `{OURS}` key, which the export uses"
            ),
        });
    }
    if !ours.is_empty() {
        config.insert(OURS.into(), Value::Object(ours));
    }
    let mut labels: Vec<String> = v.labels.iter().map(ToString::to_string).collect();
    if newest {
        labels.push("latest".into());
    }
    Ok(json!({
        "name": id.as_str(),
        "version": ordinal,
        "type": kind_name,
        "prompt": body,
        "config": config,
        "labels": labels,
        "tags": metadata.tags,
        "commitMessage": (!v.changelog.is_empty()).then_some(v.changelog),
    }))
}
