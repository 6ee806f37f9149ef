//! Prompty's `.prompty` files: YAML front matter between `---` lines, then a Jinja body whose
//! lines `system:`, `user:`, `assistant:` (and `developer:`) start messages.
//!
//! Both generations of the front matter import: Prompty 2's (`model: {id, provider, apiType,
//! options: {temperature, maxOutputTokens, …}}`, `inputs:` a list of `{name, kind, …}`,
//! `metadata: {authors, tags}`) and Prompty 1's (`model: {api, configuration: {name |
//! azure_deployment}, parameters: {max_tokens, …}}`, `inputs:` a map, `sample:`, `authors:` and
//! `tags:` at the top). Exports write Prompty 2's, which the `prompty` package reads.
//!
//! Prompty renders the whole body, then splits it at the role lines; we split first and render
//! each message on its own, which is the same for every template whose `{% %}` blocks do not
//! span a role line (an import refuses one that does) — and safer: a value holding a line
//! `user:` stays text instead of starting a message. What Prompty has no field for (the `text`
//! format, declared types it lacks, newlines at the ends of a message) travels in
//! `metadata.prompt_manager`, so a round trip gives back the same content hash.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use prompt_manager_core::{
    ChatItem, ChatMessage, Error, InputSchema, Metadata, ModelConfig, Prompt, PromptFormat, PromptId, Result, Role,
    Template, VariableSpec, VariableType,
};
use serde_json::{Map, Value, json};

use crate::mustache;
use crate::{Export, ExportFile, Exportable, Import, Warning, file_error, warning};

/// The key of `metadata` that carries what Prompty has no field for.
const OURS: &str = "prompt_manager";

/// The roles a line can start, as Prompty's parser knows them.
const ROLES: [&str; 4] = ["system", "user", "assistant", "developer"];

/// Prompty's model options and ours: (Prompty 2's name, Prompty 1's and ours).
const OPTIONS: [(&str, &str); 8] = [
    ("temperature", "temperature"),
    ("maxOutputTokens", "max_tokens"),
    ("topP", "top_p"),
    ("stopSequences", "stop"),
    ("frequencyPenalty", "frequency_penalty"),
    ("presencePenalty", "presence_penalty"),
    ("seed", "seed"),
    ("topK", "top_k"),
];

/// The wrapper that strips newlines from the ends of a rendered message, as Prompty does.
const TRIM_OPEN: &str = "{% filter trim(\"\\n\") %}";
const TRIM_CLOSE: &str = "{% endfilter %}";

/// Whether `content` starts or ends with a `{% … %}` statement.
fn starts_or_ends_with_a_block(content: &str) -> bool {
    content.starts_with("{%") || content.ends_with("%}")
}

/// A role line: its role and the name in `role[name="…"]:`, if any.
fn role_line(line: &str) -> Option<(&'static str, Option<String>, Vec<String>)> {
    let trimmed = line.trim();
    let trimmed = trimmed.strip_prefix('#').map_or(trimmed, str::trim_start);
    let body = trimmed.strip_suffix(':')?.trim_end();
    let (role, attrs) = match body.find('[') {
        Some(open) if body.ends_with(']') => (&body[..open], Some(&body[open + 1..body.len() - 1])),
        Some(_) => return None,
        None => (body, None),
    };
    let role = ROLES.into_iter().find(|r| r.eq_ignore_ascii_case(role.trim_end()))?;
    let mut name = None;
    let mut others = Vec::new();
    for pair in attrs.unwrap_or("").split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair.split_once('=')?;
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim() {
            "name" => name = Some(value),
            other => others.push(other.to_owned()),
        }
    }
    Some((role, name, others))
}

/// The openers and closers of Jinja blocks in `source`, counted: zero when balanced.
fn open_blocks(source: &str) -> i64 {
    const BLOCKS: [&str; 8] = ["if", "for", "macro", "call", "filter", "raw", "block", "with"];
    let mut depth = 0;
    let mut from = 0;
    while let Some(i) = source[from..].find("{%") {
        let start = from + i + 2;
        let Some(end) = source[start..].find("%}").map(|e| start + e) else {
            break;
        };
        let word = source[start..end]
            .trim_start_matches(['-', '+'])
            .split_whitespace()
            .next()
            .unwrap_or("");
        if BLOCKS.contains(&word) {
            depth += 1;
        } else if word.strip_prefix("end").is_some_and(|w| BLOCKS.contains(&w)) {
            depth -= 1;
        }
        from = end + 2;
    }
    depth
}

/// Splits `text` into its front matter and body, with the body's byte offset.
fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let rest = text.strip_prefix("\u{feff}").unwrap_or(text);
    let skipped = text.len() - rest.len();
    let first = rest.lines().next()?;
    if first.trim_end() != "---" {
        return None;
    }
    let start = first.len() + 1;
    let mut at = start;
    for line in rest[start.min(rest.len())..].split_inclusive('\n') {
        if line.trim_end() == "---" {
            let body = at + line.len();
            return Some((&rest[start..at], &rest[body.min(rest.len())..], skipped + body));
        }
        at += line.len();
    }
    None
}

/// The file's id: its path without the extension, `\` as `/`.
fn id_of(file: &str) -> String {
    crate::path_id(file, ".prompty")
}

pub(crate) fn import(text: &str, file: &str) -> Result<Import> {
    let (front, body, body_at) = split_front_matter(text).unwrap_or(("", text, 0));
    let matter: Value = if front.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_saphyr::from_str(front).map_err(|e| {
            let location = e.location();
            Error::InvalidFile {
                file: file.to_owned(),
                line: location.map(|l| l.line() as usize + 1),
                column: location.map(|l| l.column() as usize),
                message: format!("the front matter: {}", e.without_snippet()),
            }
        })?
    };
    let Value::Object(mut matter) = matter else {
        return Err(file_error(file, text, 0, "the front matter must be a YAML map".into()));
    };
    let mut warnings = Vec::new();
    let at_front = |message: String| file_error(file, text, 0, message);
    let mut warn = |message: String| warnings.push(warning(file, text, 0, message));

    let mut metadata = match matter.remove("metadata") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(at_front("`metadata` must be a map".into())),
    };
    let ours = match metadata.remove(OURS) {
        Some(Value::Object(ours)) => ours,
        _ => Map::new(),
    };
    let name = matter.remove("name").and_then(|n| n.as_str().map(str::to_owned));
    let id_text = ours
        .get("id")
        .and_then(Value::as_str)
        .map_or_else(|| id_of(file), str::to_owned);
    let id = PromptId::new(&id_text).map_err(|e| at_front(format!("the file's name cannot be a prompt id: {e}")))?;
    let description = matter
        .remove("description")
        .and_then(|d| d.as_str().map(str::to_owned))
        .filter(|d| !d.is_empty());

    let mut extra: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(name) = name.filter(|n| *n != id_text) {
        extra.insert("prompty_name".into(), json!(name));
    }
    // Prompty 1 keeps authors and tags at the top, Prompty 2 in metadata.
    for key in ["authors", "tags"] {
        if let Some(value) = matter.remove(key) {
            metadata.entry(key.to_owned()).or_insert(value);
        }
    }
    let tags = match metadata.remove("tags") {
        Some(Value::Array(tags)) => tags
            .into_iter()
            .map(|t| match t {
                Value::String(t) => Ok(t),
                other => Err(at_front(format!("a tag must be a string, not {other}"))),
            })
            .collect::<Result<_>>()?,
        None | Some(Value::Null) => Default::default(),
        Some(_) => return Err(at_front("`tags` must be a list".into())),
    };
    for (key, value) in metadata {
        extra.insert(key, value);
    }

    let model_config = model(matter.remove("model"), &mut extra, &at_front)?;
    let mut input_schema = inputs(matter.remove("inputs"), &at_front)?;
    if let Some(Value::Object(sample)) = matter.remove("sample") {
        extra.insert("sample".into(), Value::Object(sample));
    }
    if let Some(declared) = ours.get("input_schema") {
        input_schema = serde_json::from_value(declared.clone())
            .map_err(|e| at_front(format!("`metadata.{OURS}.input_schema`: {e}")))?;
    }
    match matter.remove("template") {
        None | Some(Value::Null) => {}
        Some(Value::Object(template)) => {
            let kind = |key: &str| {
                template.get(key).and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o.get("kind").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                })
            };
            if let Some(format) = kind("format").filter(|f| f != "jinja2") {
                return Err(at_front(format!(
                    "the template format `{format}`: only jinja2 templates import (prompt-manager templates are Jinja)"
                )));
            }
            if let Some(parser) = kind("parser").filter(|p| p != "prompty") {
                return Err(at_front(format!(
                    "the parser `{parser}`: only Prompty's own role-line parser imports"
                )));
            }
        }
        Some(Value::String(format)) if format == "jinja2" => {}
        Some(other) => {
            return Err(at_front(format!(
                "the template `{other}`: only jinja2 templates import"
            )));
        }
    }
    let left: Vec<String> = matter
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    if !left.is_empty() {
        // Kept as they are, for an export to write back.
        warn(format!(
            "not used by prompt-manager, kept in the prompt's metadata (`prompty`): {}",
            left.join(", ")
        ));
        extra.insert("prompty".into(), Value::Object(matter));
    }

    let text_format = match ours.get("format").and_then(Value::as_str) {
        None | Some("chat") => None,
        Some(f) => Some(
            serde_json::from_value::<PromptFormat>(json!(f))
                .map_err(|e| at_front(format!("`metadata.{OURS}.format`: {e}")))?,
        ),
    };
    let padding: BTreeMap<String, (usize, usize)> = ours
        .get("padding")
        .map(|p| serde_json::from_value(p.clone()))
        .transpose()
        .map_err(|e| at_front(format!("`metadata.{OURS}.padding`: {e}")))?
        .unwrap_or_default();
    let pad = |i: usize, content: String| match padding.get(&i.to_string()) {
        Some((leading, trailing)) => format!("{}{content}{}", "\n".repeat(*leading), "\n".repeat(*trailing)),
        None => content,
    };

    let (format, template) = match text_format {
        Some(format) => (format, Template::Text(pad(0, body.trim_matches('\n').to_owned()))),
        None => (
            PromptFormat::Chat,
            Template::Chat(messages(body, body_at, text, file, &pad, &mut warnings)?),
        ),
    };
    let prompt = Prompt {
        syntax: prompt_manager_core::TemplateSyntax::Jinja,
        id,
        format,
        template,
        metadata: Metadata {
            description,
            tags,
            extra,
        },
        model_config,
        input_schema,
    };
    prompt.validate().map_err(|e| at_front(e.to_string()))?;
    Ok(crate::one_version(prompt, None, warnings))
}

/// The body's messages, split at its role lines.
fn messages(
    body: &str,
    body_at: usize,
    text: &str,
    file: &str,
    pad: &dyn Fn(usize, String) -> String,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<ChatItem>> {
    struct Open {
        role: &'static str,
        name: Option<String>,
        at: usize,
        lines: Vec<String>,
        /// Whether a role line started it (the text before the first one has none).
        explicit: bool,
    }
    let mut out = Vec::new();
    let mut current = Open {
        role: "system",
        name: None,
        at: body_at,
        lines: Vec::new(),
        explicit: false,
    };
    let close = |open: Open, out: &mut Vec<ChatItem>| -> Result<()> {
        let content = open.lines.join("\n");
        let content = content.trim_matches('\n').to_owned();
        // Prompty reads the body trimmed: blank lines before the first role line are no message.
        if !open.explicit && content.trim().is_empty() {
            return Ok(());
        }
        if open_blocks(&content) != 0 {
            return Err(file_error(
                file,
                text,
                open.at,
                "a `{% … %}` block spans a role line: Prompty renders the body before it splits it into messages, \
                 prompt-manager renders each message; close the block inside the message"
                    .into(),
            ));
        }
        let role = match open.role {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => {
                return Err(file_error(
                    file,
                    text,
                    open.at,
                    "the `developer` role: prompt-manager's roles are system, user, assistant and tool; use `system:`"
                        .into(),
                ));
            }
        };
        let index = out.len();
        // Prompty strips newlines from the ends of each rendered message; a block at an end of
        // the message leaves one there, so the import strips it the same way.
        let content = if starts_or_ends_with_a_block(&content) {
            format!("{TRIM_OPEN}{content}{TRIM_CLOSE}")
        } else {
            content
        };
        let mut message = ChatMessage::new(role, pad(index, content));
        message.name = open.name;
        out.push(ChatItem::Message(message));
        Ok(())
    };
    let mut at = body_at;
    for line in body.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let bare = bare.strip_suffix('\r').unwrap_or(bare);
        if let Some((role, name, others)) = role_line(bare) {
            if !others.is_empty() {
                warnings.push(warning(
                    file,
                    text,
                    at,
                    format!(
                        "the role line's attributes {} are left behind (only `name` maps)",
                        others.join(", ")
                    ),
                ));
            }
            let next = Open {
                role,
                name,
                at,
                lines: Vec::new(),
                explicit: true,
            };
            close(std::mem::replace(&mut current, next), &mut out)?;
        } else {
            current.lines.push(bare.to_owned());
        }
        at += line.len();
    }
    close(current, &mut out)?;
    Ok(out)
}

/// The front matter's `model` (Prompty 2's or 1's) as our model parameters; what has no field
/// here goes in `extra` under `prompty_model`.
fn model(
    value: Option<Value>,
    extra: &mut BTreeMap<String, Value>,
    at_front: &dyn Fn(String) -> Error,
) -> Result<ModelConfig> {
    let mut out = ModelConfig::default();
    let mut model = match value {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::String(id)) => {
            out.model = Some(id);
            return Ok(out);
        }
        Some(Value::Object(model)) => model,
        Some(_) => return Err(at_front("`model` must be a map or a model name".into())),
    };
    if let Some(Value::String(id)) = model.remove("id") {
        out.model = Some(id);
    }
    // Prompty 1: configuration.name or azure_deployment names the model.
    if let Some(Value::Object(mut configuration)) = model.remove("configuration") {
        for key in ["name", "azure_deployment", "model"] {
            if out.model.is_none()
                && let Some(Value::String(name)) = configuration.remove(key)
            {
                out.model = Some(name);
            }
        }
        if !configuration.is_empty() {
            model.insert("configuration".into(), Value::Object(configuration));
        }
    }
    let mut options = Map::new();
    for key in ["options", "parameters"] {
        match model.remove(key) {
            Some(Value::Object(o)) => options.extend(o),
            None | Some(Value::Null) => {}
            Some(_) => return Err(at_front(format!("`model.{key}` must be a map"))),
        }
    }
    if let Some(Value::Object(more)) = options.remove("additionalProperties") {
        options.extend(more);
    }
    for (key, value) in options {
        let ours = OPTIONS
            .iter()
            .find(|(theirs, ours)| key == *theirs || key == *ours)
            .map_or(key.as_str(), |(_, ours)| ours);
        let fitted = ours != "model" && crate::fit_option(&mut out, ours, &value);
        if !fitted {
            out.extra.insert(ours.to_owned(), value);
        }
    }
    if !model.is_empty() {
        extra.insert("prompty_model".into(), Value::Object(model));
    }
    Ok(out)
}

/// The front matter's `inputs` (Prompty 2's list, or a map of name to declaration) as declared
/// variables.
fn inputs(value: Option<Value>, at_front: &dyn Fn(String) -> Error) -> Result<InputSchema> {
    let items: Vec<(String, Value)> = match value {
        None | Some(Value::Null) => return Ok(InputSchema::default()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| {
                let name = item.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                (name, item)
            })
            .collect(),
        Some(Value::Object(map)) => map.into_iter().collect(),
        Some(_) => return Err(at_front("`inputs` must be a list or a map".into())),
    };
    let mut schema = InputSchema::default();
    for (name, declaration) in items {
        if !mustache::is_name(&name) {
            return Err(at_front(format!(
                "the input `{name}` cannot be a prompt-manager variable (letters, digits and _)"
            )));
        }
        let declaration = match declaration {
            Value::Object(d) => d,
            // Prompty 1's shorthand: `name: default value`.
            other => Map::from_iter([("default".to_owned(), other)]),
        };
        let kind = declaration
            .get("kind")
            .or_else(|| declaration.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = match kind {
            "string" => VariableType::String,
            "number" | "float" => VariableType::Number,
            "integer" | "int" => VariableType::Integer,
            "boolean" | "bool" => VariableType::Boolean,
            "array" | "list" => VariableType::Array,
            "object" => VariableType::Object,
            "thread" => VariableType::Messages,
            _ => VariableType::Any,
        };
        let mut spec = VariableSpec::new(&name, kind);
        spec.description = declaration
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned);
        spec.default = declaration.get("default").filter(|d| !d.is_null()).cloned();
        spec.required = declaration
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(spec.default.is_none());
        schema.variables.push(spec);
    }
    Ok(schema)
}

pub(crate) fn export(versions: &[Exportable<'_>]) -> Result<Export> {
    // One file per prompt: the last version given of each.
    let mut chosen: BTreeMap<&PromptId, &Exportable<'_>> = BTreeMap::new();
    for v in versions {
        chosen.insert(&v.prompt.id, v);
    }
    let mut out = Export::default();
    for (id, v) in chosen {
        let text = file_of(v.prompt, &mut out.warnings)?;
        out.files.push(ExportFile {
            path: format!("{id}.prompty"),
            text,
        });
    }
    Ok(out)
}

fn cannot(id: &PromptId, reason: impl std::fmt::Display) -> Error {
    Error::InvalidPrompt {
        id: id.to_string(),
        reason: format!("cannot be written as a .prompty file: {reason}"),
    }
}

/// A message's content as the body holds it (newlines at its ends taken off, and recorded), or
/// why it cannot be.
fn body_part(
    id: &PromptId,
    what: &str,
    source: &str,
    index: usize,
    padding: &mut Map<String, Value>,
) -> Result<String> {
    let trimmed = source.trim_matches('\n');
    let trimmed = trimmed
        .strip_prefix(TRIM_OPEN)
        .and_then(|t| t.strip_suffix(TRIM_CLOSE))
        .filter(|t| starts_or_ends_with_a_block(t))
        .unwrap_or(trimmed);
    let leading = source.len() - source.trim_start_matches('\n').len();
    let trailing = if trimmed.is_empty() {
        0
    } else {
        source.len() - source.trim_end_matches('\n').len()
    };
    if leading + trailing > 0 {
        padding.insert(index.to_string(), json!([leading, trailing]));
    }
    if crate::includes_another(trimmed) {
        return Err(cannot(
            id,
            format!("{what} includes another prompt, which Prompty cannot load from a file"),
        ));
    }
    if let Some(line) = trimmed.lines().find(|l| role_line(l).is_some()) {
        return Err(cannot(
            id,
            format!("{what} has the line `{line}`, which Prompty would read as the start of a message"),
        ));
    }
    Ok(trimmed.to_owned())
}

fn file_of(prompt: &Prompt, warnings: &mut Vec<String>) -> Result<String> {
    let id = &prompt.id;
    let mut ours = Map::new();
    let mut padding = Map::new();
    let mut body = String::new();
    match &prompt.template {
        Template::Text(source) => {
            ours.insert("format".into(), json!(prompt.format));
            body = body_part(id, "the template", source, 0, &mut padding)?;
            body.push('\n');
        }
        Template::Chat(items) => {
            for (i, item) in items.iter().enumerate() {
                let ChatItem::Message(m) = item else {
                    return Err(cannot(
                        id,
                        format!(
                            "item {} is a placeholder, which Prompty has no place for in a file",
                            i + 1
                        ),
                    ));
                };
                if m.tool_call_id.is_some() || !m.tool_calls.is_empty() {
                    return Err(cannot(id, format!("message {} has tool calls", i + 1)));
                }
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    other => return Err(cannot(id, format!("message {} has the role {other:?}", i + 1))),
                };
                let content = body_part(id, &format!("message {}", i + 1), &m.content, i, &mut padding)?;
                if starts_or_ends_with_a_block(&content) {
                    warnings.push(format!(
                        "{id}: message {}: Prompty strips the newlines a `{{% … %}}` block leaves at the ends of a \
                         message, which prompt-manager keeps",
                        i + 1
                    ));
                }
                if !body.is_empty() {
                    body.push('\n');
                }
                match &m.name {
                    Some(name)
                        if name.is_empty()
                            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                    {
                        return Err(cannot(
                            id,
                            format!(
                                "message {} is named `{name}`; a role line holds names of letters, digits, _ and - only",
                                i + 1
                            ),
                        ));
                    }
                    Some(name) => {
                        let _ = writeln!(body, "{role}[name=\"{name}\"]:");
                    }
                    None => {
                        let _ = writeln!(body, "{role}:");
                    }
                }
                body.push_str(&content);
                body.push('\n');
            }
        }
    }
    if !padding.is_empty() {
        ours.insert("padding".into(), Value::Object(padding));
    }

    let mut matter = Map::new();
    let mut extra = prompt.metadata.extra.clone();
    let name = extra
        .remove("prompty_name")
        .and_then(|n| n.as_str().map(str::to_owned))
        .unwrap_or_else(|| id.to_string());
    matter.insert("name".into(), json!(name));
    if let Some(d) = &prompt.metadata.description {
        matter.insert("description".into(), json!(d));
    }
    let mut metadata = Map::new();
    let prompty = extra.remove("prompty");
    let prompty_model = extra.remove("prompty_model");
    let sample = extra.remove("sample");
    for (k, v) in extra {
        metadata.insert(k, v);
    }
    if !prompt.metadata.tags.is_empty() {
        metadata.insert("tags".into(), json!(prompt.metadata.tags));
    }
    if !prompt.input_schema.is_empty()
        && prompt
            .input_schema
            .variables
            .iter()
            .any(|v| v.kind == VariableType::Any)
    {
        // Prompty's inputs always have a kind: keep ours exactly.
        ours.insert("input_schema".into(), json!(prompt.input_schema));
    }
    if !ours.is_empty() {
        metadata.insert(OURS.into(), Value::Object(ours));
    }
    if !metadata.is_empty() {
        matter.insert("metadata".into(), Value::Object(metadata));
    }
    let mut model = match prompty_model {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let config = &prompt.model_config;
    if let Some(m) = &config.model {
        model.insert("id".into(), json!(m));
    }
    let mut options = Map::new();
    let mut put = |ours: &str, value: Value| {
        let theirs = OPTIONS.iter().find(|(_, o)| *o == ours).map_or(ours, |(t, _)| t);
        options.insert(theirs.to_owned(), value);
    };
    if let Some(t) = config.temperature {
        put("temperature", json!(t));
    }
    if let Some(t) = config.max_tokens {
        put("max_tokens", json!(t));
    }
    if let Some(t) = config.top_p {
        put("top_p", json!(t));
    }
    if !config.stop.is_empty() {
        put("stop", json!(config.stop));
    }
    let mut additional = Map::new();
    for (k, v) in &config.extra {
        if OPTIONS.iter().any(|(_, o)| o == k) {
            put(k, v.clone());
        } else {
            additional.insert(k.clone(), v.clone());
        }
    }
    if !config.tools.is_empty() {
        additional.insert("tools".into(), json!(config.tools));
    }
    if let Some(r) = &config.response_format {
        additional.insert("response_format".into(), r.clone());
    }
    if !additional.is_empty() {
        options.insert("additionalProperties".into(), Value::Object(additional));
    }
    if !options.is_empty() {
        model.insert("options".into(), Value::Object(options));
    }
    if !model.is_empty() {
        matter.insert("model".into(), Value::Object(model));
    }
    if !prompt.input_schema.is_empty() {
        let inputs: Vec<Value> = prompt
            .input_schema
            .variables
            .iter()
            .map(|v| {
                let mut input = Map::new();
                input.insert("name".into(), json!(v.name));
                let kind = match v.kind {
                    VariableType::String | VariableType::Any => "string",
                    VariableType::Number => "number",
                    VariableType::Integer => "integer",
                    VariableType::Boolean => "boolean",
                    VariableType::Array => "array",
                    VariableType::Object => "object",
                    VariableType::Messages => "thread",
                };
                input.insert("kind".into(), json!(kind));
                if let Some(d) = &v.description {
                    input.insert("description".into(), json!(d));
                }
                input.insert("required".into(), json!(v.required));
                if let Some(d) = &v.default {
                    input.insert("default".into(), d.clone());
                }
                Value::Object(input)
            })
            .collect();
        matter.insert("inputs".into(), Value::Array(inputs));
    }
    if let Some(Value::Object(sample)) = sample {
        matter.insert("sample".into(), Value::Object(sample));
        warnings.push(format!(
            "{id}: `sample` is Prompty 1's; Prompty 2 reads examples from each input's `example`"
        ));
    }
    if let Some(Value::Object(rest)) = prompty {
        for (k, v) in rest {
            matter.entry(k).or_insert(v);
        }
    }
    matter.insert(
        "template".into(),
        json!({ "format": { "kind": "jinja2" }, "parser": { "kind": "prompty" } }),
    );
    let front = serde_saphyr::to_string(&Value::Object(matter)).map_err(|e| cannot(id, format!("YAML: {e}")))?;
    Ok(format!("---\n{front}---\n{body}"))
}
