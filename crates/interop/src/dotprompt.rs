//! Dotprompt `.prompt` files (Google's format, Genkit's prompts): YAML front matter (`model`,
//! `config`, `input` and `output` schemas in Picoschema or JSON Schema, `tools`, `toolDefs`,
//! `metadata`) and a Handlebars body whose `{{role "…"}}` and `{{history}}` markers start
//! messages. Read as Dotprompt's reference implementation reads them (`dotpromptz`): the body
//! is stripped, text before the first role is the user's, a role marker after nothing but
//! whitespace only changes the role, the message after `{{history}}` is the model's, and
//! whitespace-only pieces are dropped.
//!
//! A body with markers becomes a chat prompt, its messages split at the markers (at the top
//! level: a marker inside a block can only be placed at render time, and is refused); one
//! without becomes a text prompt. `{{history}}` is a placeholder for the `history` variable.
//! Partials (`_name.prompt`) import as the prompt `name`, and `{{> name}}` includes it.
//!
//! What Dotprompt has no field for travels in `metadata.prompt_manager`, so ours → theirs →
//! ours keeps the content hash.

use std::collections::BTreeMap;

use prompt_manager_core::{
    ChatItem, ChatMessage, Error, InputSchema, MessagePlaceholder, Metadata, ModelConfig, Prompt, PromptFormat,
    PromptId, Result, Role, Template, TemplateSyntax, VariableSpec, VariableType,
};
use serde_json::{Map, Value, json};

use crate::{Export, ExportFile, Exportable, Import, file_error, warning};

/// Where what Dotprompt has no field for travels: `metadata.prompt_manager`.
const OURS: &str = "prompt_manager";

/// Front matter keys Dotprompt defines that map to ours.
const MAPPED: [&str; 9] = [
    "name",
    "description",
    "model",
    "config",
    "input",
    "output",
    "toolDefs",
    "metadata",
    "version",
];

/// Dotprompt's `config` names and ours.
const CONFIG: [(&str, &str); 4] = [
    ("temperature", "temperature"),
    ("maxOutputTokens", "max_tokens"),
    ("topP", "top_p"),
    ("stopSequences", "stop"),
];

/// Python's `str.isspace`, which `strip()` uses: Unicode whitespace and the separators
/// `\x1c`–`\x1f`.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// The front matter and the body, as `dotpromptz` finds them: blank and `#` lines may come
/// first, then a `---` line, the YAML, and a closing `---` line. `(front, front_at, body,
/// body_at)`, or `None` without front matter.
fn split_front_matter(text: &str, file: &str) -> Result<Option<(String, usize, String, usize)>> {
    // Lines with their start offsets, split at \r\n, \r or \n as Python's regex does.
    let mut lines: Vec<(usize, usize, usize)> = Vec::new(); // (start, end, next start)
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                lines.push((start, i, i + 2));
                i += 2;
                start = i;
            }
            b'\r' | b'\n' => {
                lines.push((start, i, i + 1));
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    let last = (start, text.len(), text.len());
    let is_delimiter = |(s, e, _): (usize, usize, usize)| {
        text[s..e]
            .strip_prefix("---")
            .is_some_and(|rest| rest.chars().all(|c| c == ' ' || c == '\t'))
    };
    let all: Vec<(usize, usize, usize)> = lines.iter().copied().chain([last]).collect();
    let mut opening = None;
    for (index, line) in all.iter().enumerate() {
        if is_delimiter(*line) {
            opening = Some(index);
            break;
        }
        let content = &text[line.0..line.1];
        if !content.trim().is_empty() && !content.starts_with('#') {
            return Ok(None);
        }
    }
    let Some(opening) = opening else { return Ok(None) };
    let unclosed = || {
        file_error(
            file,
            text,
            all[opening].0,
            "the front matter's `---` is never closed".into(),
        )
    };
    if opening >= lines.len() {
        return Err(unclosed());
    }
    let closing = (opening + 1..all.len())
        .find(|&i| is_delimiter(all[i]))
        .ok_or_else(unclosed)?;
    let front_start = all[opening].2;
    let front_end = if closing == opening + 1 {
        front_start
    } else {
        all[closing - 1].1
    };
    let body_start = all[closing].2.min(text.len());
    Ok(Some((
        text[front_start..front_end].to_owned(),
        front_start,
        text[body_start..].to_owned(),
        body_start,
    )))
}

/// The prompt id of a file: its path without `.prompt`, a partial's `_` taken off its name.
fn id_of(file: &str) -> (String, bool) {
    let stem = crate::path_id(file, ".prompt");
    let (folder, name) = match stem.rsplit_once('/') {
        Some((folder, name)) => (format!("{folder}/"), name),
        None => (String::new(), stem.as_str()),
    };
    match name.strip_prefix('_') {
        Some(partial) => (format!("{folder}{partial}"), true),
        None => (stem.clone(), false),
    }
}

/// A tag of the body: `{{…}}` with where it is.
#[derive(Debug)]
struct Tag {
    start: usize,
    end: usize,
    /// Between the braces, without `~`.
    inner: String,
    trim_before: bool,
    trim_after: bool,
    depth: usize,
}

/// The tags of a Handlebars `source` with the block depth each sits at. Comments, raw blocks
/// and escaped `\{{` are skipped.
fn tags(source: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut depth: usize = 0;
    let mut from = 0;
    while let Some(open) = source[from..].find("{{").map(|i| from + i) {
        if open > 0 && source.as_bytes()[open - 1] == b'\\' {
            from = open + 2;
            continue;
        }
        let rest = &source[open..];
        if rest.starts_with("{{{{") {
            // A raw block: opaque up to its closing `{{{{/…}}}}`.
            from = rest
                .find("{{{{/")
                .and_then(|c| rest[c..].find("}}}}").map(|e| open + c + e + 4))
                .unwrap_or(source.len());
            continue;
        }
        let (close, width) = if rest.starts_with("{{!--") {
            (rest.find("--}}").map(|i| i + 4), 0)
        } else if rest.starts_with("{{{") || rest.starts_with("{{~{") {
            (rest.find("}}}").map(|i| i + 3), 3)
        } else {
            (rest.find("}}").map(|i| i + 2), 2)
        };
        let Some(close) = close else { break };
        let end = open + close;
        from = end;
        if width == 0 {
            continue;
        }
        let mut inner = &source[open + 2..end - 2];
        let trim_before = inner.starts_with('~');
        inner = inner.strip_prefix('~').unwrap_or(inner);
        let trim_after = inner.ends_with('~');
        inner = inner.strip_suffix('~').unwrap_or(inner);
        let inner = inner.trim();
        if inner.starts_with('!') {
            continue;
        }
        let opens = inner.starts_with('#') || (inner.starts_with('^') && inner.len() > 1);
        let closes = inner.starts_with('/');
        if closes {
            depth = depth.saturating_sub(1);
        }
        out.push(Tag {
            start: open,
            end,
            inner: inner.to_owned(),
            trim_before,
            trim_after,
            depth,
        });
        if opens {
            depth += 1;
        }
    }
    out
}

/// A marker of Dotprompt's: a role, or the history.
#[derive(Debug, Clone, PartialEq)]
enum Marker {
    Role(String),
    History,
}

fn marker(inner: &str) -> Option<Marker> {
    if inner == "history" {
        return Some(Marker::History);
    }
    let rest = inner.strip_prefix("role")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let name = rest.strip_prefix(quote)?.strip_suffix(quote)?;
    Some(Marker::Role(name.to_owned()))
}

/// The body's pieces: text and markers, with whitespace control applied around markers.
enum Piece {
    Text(String),
    Marker(Marker, usize),
}

fn pieces(body: &str) -> std::result::Result<Vec<Piece>, (usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut trim_next = false;
    for tag in tags(body) {
        let Some(found) = marker(&tag.inner) else { continue };
        if tag.depth > 0 {
            return Err((
                tag.start,
                format!(
                    "`{{{{{}}}}}` sits inside a block; its messages are only known at render time, and a prompt's messages are fixed: move it to the top level",
                    tag.inner
                ),
            ));
        }
        let mut text = &body[from..tag.start];
        if trim_next {
            text = text.trim_start();
        }
        if tag.trim_before {
            text = text.trim_end();
        }
        out.push(Piece::Text(text.to_owned()));
        out.push(Piece::Marker(found, tag.start));
        from = tag.end;
        trim_next = tag.trim_after;
    }
    let mut text = &body[from..];
    if trim_next {
        text = text.trim_start();
    }
    out.push(Piece::Text(text.to_owned()));
    Ok(out)
}

fn role_of(name: &str) -> Option<Role> {
    match name {
        "user" => Some(Role::User),
        "model" => Some(Role::Assistant),
        "system" => Some(Role::System),
        _ => None,
    }
}

pub(crate) fn import(text: &str, file: &str) -> Result<Import> {
    let (front, front_at, body, body_at) = match split_front_matter(text, file)? {
        Some((front, front_at, body, body_at)) => (front, front_at, Some(body), body_at),
        None => (String::new(), 0, None, 0),
    };
    let matter: Value = if front.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_saphyr::from_str(&front).map_err(|e| {
            let location = e.location();
            let line_before = text[..front_at].matches('\n').count();
            Error::InvalidFile {
                file: file.to_owned(),
                line: location.map(|l| l.line() as usize + line_before),
                column: location.map(|l| l.column() as usize),
                message: format!("the front matter: {}", e.without_snippet()),
            }
        })?
    };
    let Value::Object(mut matter) = matter else {
        return Err(file_error(
            file,
            text,
            front_at,
            "the front matter must be a YAML map".into(),
        ));
    };
    let at_front = |message: String| file_error(file, text, front_at, message);
    let mut warnings = Vec::new();

    let mut metadata = match matter.remove("metadata") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(at_front("`metadata` must be a map".into())),
    };
    let ours = match metadata.remove(OURS) {
        Some(Value::Object(ours)) => ours,
        _ => Map::new(),
    };
    let (derived, _) = id_of(file);
    let id_text = ours.get("id").and_then(Value::as_str).map_or(derived, str::to_owned);
    let id = PromptId::new(&id_text).map_err(|e| {
        at_front(format!(
            "the file's name cannot be a prompt id ({e}); rename it (lowercase letters, digits, `.`, `_` and `-`)"
        ))
    })?;
    let mut kept = Map::new();
    if let Some(name) = matter.remove("name").filter(|n| n.as_str() != Some(id_text.as_str())) {
        kept.insert("name".into(), name);
    }
    let description = match matter.remove("description") {
        Some(Value::String(d)) if !d.is_empty() => Some(d),
        _ => None,
    };
    let version = match matter.remove("version") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let text_version = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match prompt_manager_core::semver::Version::parse(&text_version) {
                Ok(version) => Some(version),
                Err(_) => {
                    warnings.push(warning(
                        file,
                        text,
                        front_at,
                        format!("`version: {text_version}` is not a semver number; kept for an export, the store numbers the version"),
                    ));
                    kept.insert("version".into(), v);
                    None
                }
            }
        }
    };

    let mut model_config = ModelConfig::default();
    match matter.remove("model") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) => model_config.model = Some(m),
        Some(_) => return Err(at_front("`model` must be a model name".into())),
    }
    match matter.remove("config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(config)) => {
            for (key, value) in config {
                let fitted = CONFIG
                    .iter()
                    .find(|(theirs, _)| *theirs == key)
                    .is_some_and(|(_, ours)| crate::fit_option(&mut model_config, ours, &value));
                if !fitted {
                    model_config.extra.insert(key, value);
                }
            }
        }
        Some(_) => return Err(at_front("`config` must be a map".into())),
    }

    let input = match matter.remove("input") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(input)) => input,
        Some(_) => return Err(at_front("`input` must be a map".into())),
    };
    let mut input_schema = input_specs(&input).map_err(|e| at_front(format!("`input`: {e}")))?;
    // What our variables cannot say (nested shapes, item types, enums) is kept as written, for an
    // export to give back while the variables stay as they were read.
    if !input.is_empty() && input_of(&input_schema).as_ref() != Some(&input) {
        kept.insert("input".into(), Value::Object(input.clone()));
    }
    if let Some(declared) = ours.get("input_schema") {
        input_schema = serde_json::from_value(declared.clone())
            .map_err(|e| at_front(format!("`metadata.{OURS}.input_schema`: {e}")))?;
    }

    match matter.remove("output") {
        None | Some(Value::Null) => {}
        Some(Value::Object(output)) => {
            let format = output.get("format").and_then(Value::as_str).unwrap_or("");
            let schema = match output.get("schema") {
                None | Some(Value::Null) => None,
                Some(schema) => Some(picoschema(schema).map_err(|e| at_front(format!("`output.schema`: {e}")))?),
            };
            match (format, schema) {
                ("json", Some(schema)) | ("", Some(schema)) => {
                    model_config.response_format = Some(json!({
                        "type": "json_schema",
                        "json_schema": {"name": schema_name(id.as_str()), "schema": schema},
                    }));
                }
                ("json", None) => model_config.response_format = Some(json!({"type": "json_object"})),
                ("text", None) | ("", None) => {}
                (other, _) => {
                    warnings.push(warning(
                        file,
                        text,
                        front_at,
                        format!("`output.format: {other}` has no response format here; kept for an export"),
                    ));
                    kept.insert("output".into(), Value::Object(output.clone()));
                }
            }
            if output.keys().any(|k| k != "format" && k != "schema") && !kept.contains_key("output") {
                kept.insert("output".into(), Value::Object(output));
            }
        }
        Some(_) => return Err(at_front("`output` must be a map".into())),
    }
    match matter.remove("toolDefs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(defs)) => {
            for def in defs {
                let Some(name) = def.get("name").and_then(Value::as_str) else {
                    return Err(at_front("a tool definition needs a `name`".into()));
                };
                let mut function = Map::new();
                function.insert("name".into(), json!(name));
                if let Some(d) = def.get("description") {
                    function.insert("description".into(), d.clone());
                }
                if let Some(schema) = def.get("inputSchema").filter(|s| !s.is_null()) {
                    let schema = picoschema(schema).map_err(|e| at_front(format!("tool `{name}`: {e}")))?;
                    function.insert("parameters".into(), schema);
                }
                if def.get("outputSchema").is_some_and(|s| !s.is_null()) {
                    warnings.push(warning(
                        file,
                        text,
                        front_at,
                        format!("tool `{name}`: `outputSchema` has no place in a provider's tool; left behind"),
                    ));
                }
                model_config
                    .tools
                    .push(json!({"type": "function", "function": Value::Object(function)}));
            }
        }
        Some(_) => return Err(at_front("`toolDefs` must be a list".into())),
    }
    // Everything else (`tools` by name, `variant`, `ext`, `raw`, namespaced keys) is kept for
    // an export to write back.
    let left: Vec<String> = matter.keys().map(|k| format!("`{k}`")).collect();
    if !left.is_empty() {
        warnings.push(warning(
            file,
            text,
            front_at,
            format!(
                "not used by prompt-manager, kept in the prompt's metadata for an export: {}",
                left.join(", ")
            ),
        ));
    }
    kept.extend(matter);

    let tags = match ours.get("tags") {
        Some(Value::Array(tags)) => tags.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Default::default(),
    };
    let mut extra: BTreeMap<String, Value> = metadata.into_iter().collect();
    if !kept.is_empty() {
        extra.insert("dotprompt".into(), Value::Object(kept));
    }

    // The body: stripped when there is front matter, as Dotprompt does; ends it took off travel
    // in `metadata.prompt_manager.ends`.
    let (template_text, template_at) = match &body {
        Some(body) => {
            let stripped = py_strip(body);
            let lead = body.len() - body.trim_start_matches(py_space).len();
            (stripped.to_owned(), body_at + lead)
        }
        None => (text.to_owned(), 0),
    };
    let (lead, trail) = match ours.get("ends") {
        Some(Value::Array(ends)) if ends.len() == 2 => (
            unescape_space(ends[0].as_str().unwrap_or_default()).map_err(&at_front)?,
            unescape_space(ends[1].as_str().unwrap_or_default()).map_err(&at_front)?,
        ),
        _ => (String::new(), String::new()),
    };
    let pieces = pieces(&template_text).map_err(|(at, message)| file_error(file, text, template_at + at, message))?;
    let has_markers = pieces.iter().any(|p| matches!(p, Piece::Marker(..)));
    let placeholder = ours
        .get("history")
        .and_then(Value::as_str)
        .unwrap_or("history")
        .to_owned();
    let optional = ours.get("history_optional").and_then(Value::as_bool).unwrap_or(false);
    let (format, template) = if has_markers {
        let mut items = messages(&pieces, &placeholder, optional)
            .map_err(|(at, message)| file_error(file, text, template_at + at, message))?;
        if let Some(ChatItem::Message(first)) = items.first_mut() {
            first.content.insert_str(0, &lead);
        }
        if let Some(ChatItem::Message(last)) = items.last_mut() {
            last.content.push_str(&trail);
        }
        if items.is_empty() {
            return Err(file_error(file, text, template_at, "the body holds no message".into()));
        }
        (PromptFormat::Chat, Template::Chat(items))
    } else {
        let format = match ours.get("format").and_then(Value::as_str) {
            None => PromptFormat::Text,
            Some(f) => serde_json::from_value::<PromptFormat>(json!(f))
                .map_err(|e| at_front(format!("`metadata.{OURS}.format`: {e}")))?,
        };
        (format, Template::Text(format!("{lead}{template_text}{trail}")))
    };
    let prompt = Prompt {
        id,
        format,
        syntax: TemplateSyntax::Handlebars,
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
    Ok(crate::one_version(prompt, version, warnings))
}

/// Dotprompt's messages from the body's pieces, as `to_messages` builds them from a render.
fn messages(
    pieces: &[Piece],
    placeholder: &str,
    optional: bool,
) -> std::result::Result<Vec<ChatItem>, (usize, String)> {
    enum Item {
        Message(Role, String),
        History,
    }
    let mut items = vec![Item::Message(Role::User, String::new())];
    for piece in pieces {
        match piece {
            Piece::Text(text) => {
                if !py_strip(text).is_empty()
                    && let Some(Item::Message(_, source)) = items.last_mut()
                {
                    source.push_str(text);
                }
            }
            Piece::Marker(Marker::Role(name), at) => {
                let role = role_of(name).ok_or_else(|| {
                    (
                        *at,
                        format!("the role `{name}` is not one of Dotprompt's: user, model, system"),
                    )
                })?;
                match items.last_mut() {
                    Some(Item::Message(current, source)) if py_strip(source).is_empty() => *current = role,
                    _ => items.push(Item::Message(role, String::new())),
                }
            }
            Piece::Marker(Marker::History, _) => {
                items.push(Item::History);
                items.push(Item::Message(Role::Assistant, String::new()));
            }
        }
    }
    Ok(items
        .into_iter()
        .filter_map(|item| match item {
            Item::Message(_, source) if source.is_empty() => None,
            Item::Message(role, source) => Some(ChatItem::Message(ChatMessage::new(role, source))),
            Item::History => Some(ChatItem::Placeholder(MessagePlaceholder {
                variable: placeholder.to_owned(),
                optional,
            })),
        })
        .collect())
}

/// Whitespace written with a letter per character (`s` space, `n` newline, `r` carriage
/// return, `t` tab, `u{…}` any other), so YAML keeps it exactly.
fn escape_space(space: &str) -> String {
    space
        .chars()
        .map(|c| match c {
            ' ' => "s".to_owned(),
            '\n' => "n".to_owned(),
            '\r' => "r".to_owned(),
            '\t' => "t".to_owned(),
            other => format!("u{{{:x}}}", u32::from(other)),
        })
        .collect()
}

fn unescape_space(text: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            's' => ' ',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let code: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                u32::from_str_radix(&code, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("`metadata.{OURS}.ends`: `u{{{code}}}` is not a character"))?
            }
            other => return Err(format!("`metadata.{OURS}.ends`: `{other}` is not s, n, r, t or u{{…}}")),
        });
    }
    Ok(out)
}

/// A name for a response format's schema from an id (`support/triage` → `support_triage`).
fn schema_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The declared variables of Dotprompt's `input`: its schema's top-level properties, with the
/// defaults of `input.default`.
fn input_specs(input: &Map<String, Value>) -> std::result::Result<InputSchema, String> {
    let mut specs: Vec<VariableSpec> = Vec::new();
    if let Some(schema) = input.get("schema").filter(|s| !s.is_null()) {
        let schema = picoschema(schema)?;
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                if !crate::mustache::is_name(name) {
                    return Err(format!(
                        "`{name}` cannot be a prompt-manager variable (letters, digits and _)"
                    ));
                }
                let mut spec = VariableSpec::new(name, kind_of(property));
                spec.required = required.contains(&name.as_str());
                spec.description = property.get("description").and_then(Value::as_str).map(str::to_owned);
                specs.push(spec);
            }
        }
    }
    match input.get("default") {
        None | Some(Value::Null) => {}
        Some(Value::Object(defaults)) => {
            for (name, value) in defaults {
                match specs.iter_mut().find(|s| s.name == *name) {
                    Some(spec) => spec.default = Some(value.clone()),
                    None => {
                        if !crate::mustache::is_name(name) {
                            return Err(format!("the default `{name}` cannot be a prompt-manager variable"));
                        }
                        let mut spec = VariableSpec::new(name, VariableType::Any);
                        spec.required = false;
                        spec.default = Some(value.clone());
                        specs.push(spec);
                    }
                }
            }
        }
        Some(_) => return Err("`default` must be a map".into()),
    }
    Ok(InputSchema { variables: specs })
}

/// Our type of a JSON Schema property (`["string", "null"]` is a string that may be null).
fn kind_of(property: &Value) -> VariableType {
    let kind = match property.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or(""),
        _ => "",
    };
    match kind {
        "string" => VariableType::String,
        "number" => VariableType::Number,
        "integer" => VariableType::Integer,
        "boolean" => VariableType::Boolean,
        "array" => VariableType::Array,
        "object" => VariableType::Object,
        _ => VariableType::Any,
    }
}

const SCALARS: [&str; 6] = ["any", "boolean", "integer", "null", "number", "string"];

/// A schema in Picoschema or JSON Schema as JSON Schema, as Dotprompt converts it. Named
/// schemas (a type that is not a scalar) need Dotprompt's registry and are refused.
pub(crate) fn picoschema(schema: &Value) -> std::result::Result<Value, String> {
    match schema {
        Value::String(s) => {
            let (kind, description) = description_of(s);
            if !SCALARS.contains(&kind.as_str()) {
                return Err(named(&kind));
            }
            let mut out = Map::new();
            out.insert("type".into(), json!(kind));
            if let Some(d) = description {
                out.insert("description".into(), json!(d));
            }
            Ok(Value::Object(out))
        }
        Value::Object(map)
            if map
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| SCALARS.contains(&t) || t == "object" || t == "array") =>
        {
            Ok(schema.clone())
        }
        Value::Object(map) if map.get("properties").is_some_and(Value::is_object) => {
            let mut out = map.clone();
            out.insert("type".into(), json!("object"));
            Ok(Value::Object(out))
        }
        Value::Null => Ok(Value::Null),
        other => pico(other),
    }
}

fn named(kind: &str) -> String {
    format!("the type `{kind}` names a schema of Dotprompt's registry, which a file does not carry; write it out")
}

fn description_of(s: &str) -> (String, Option<String>) {
    match s.split_once(',') {
        Some((kind, description)) => (kind.trim().to_owned(), Some(description.trim().to_owned())),
        None => (s.trim().to_owned(), None),
    }
}

fn pico(value: &Value) -> std::result::Result<Value, String> {
    match value {
        Value::String(s) => {
            let (kind, description) = description_of(s);
            if !SCALARS.contains(&kind.as_str()) {
                return Err(named(&kind));
            }
            let mut out = Map::new();
            if kind != "any" {
                out.insert("type".into(), json!(kind));
            }
            if let Some(d) = description {
                out.insert("description".into(), json!(d));
            }
            Ok(Value::Object(out))
        }
        Value::Object(map) => {
            let mut properties = Map::new();
            let mut required = Vec::new();
            let mut additional = json!(false);
            for (key, value) in map {
                if key == "(*)" {
                    additional = pico(value)?;
                    continue;
                }
                let (name, type_info) = match key.split_once('(') {
                    Some((name, rest)) => (name, Some(rest.strip_suffix(')').unwrap_or(rest))),
                    None => (key.as_str(), None),
                };
                let optional = name.ends_with('?');
                let name = name.strip_suffix('?').unwrap_or(name);
                if !optional {
                    required.push(json!(name));
                }
                let Some(type_info) = type_info else {
                    let mut property = pico(value)?;
                    if optional && let Some(Value::String(t)) = property.get("type").cloned() {
                        property["type"] = json!([t, "null"]);
                    }
                    properties.insert(name.to_owned(), property);
                    continue;
                };
                let (kind, description) = description_of(type_info);
                let mut property = match kind.as_str() {
                    "array" => json!({
                        "type": if optional { json!(["array", "null"]) } else { json!("array") },
                        "items": pico(value)?,
                    }),
                    "object" => {
                        let mut property = pico(value)?;
                        if optional && let Some(t) = property.get("type").cloned() {
                            property["type"] = json!([t, "null"]);
                        }
                        property
                    }
                    "enum" => {
                        let mut values = value.as_array().cloned().ok_or("an enum takes a list of values")?;
                        if optional && !values.contains(&Value::Null) {
                            values.push(Value::Null);
                        }
                        json!({ "enum": values })
                    }
                    other => {
                        return Err(format!(
                            "`{key}`: a parenthetical type must be object, array or enum, not `{other}`"
                        ));
                    }
                };
                if let Some(d) = description {
                    property["description"] = json!(d);
                }
                properties.insert(name.to_owned(), property);
            }
            let mut out = Map::new();
            out.insert("type".into(), json!("object"));
            out.insert("properties".into(), Value::Object(properties));
            if !required.is_empty() {
                out.insert("required".into(), Value::Array(required));
            }
            out.insert("additionalProperties".into(), additional);
            Ok(Value::Object(out))
        }
        other => Err(format!("Picoschema is made of maps and strings, not `{other}`")),
    }
}

/// Our declared variables as Picoschema and defaults, or `None` when one has no Picoschema
/// form (a `messages` variable).
fn input_of(schema: &InputSchema) -> Option<Map<String, Value>> {
    let mut pico = Map::new();
    let mut defaults = Map::new();
    for spec in &schema.variables {
        let optional = if spec.required { "" } else { "?" };
        let with_description = |kind: &str| match &spec.description {
            Some(d) => format!("{kind}, {d}"),
            None => kind.to_owned(),
        };
        let (key, value) = match spec.kind {
            VariableType::Any
            | VariableType::String
            | VariableType::Number
            | VariableType::Integer
            | VariableType::Boolean => (
                format!("{}{optional}", spec.name),
                json!(with_description(spec.kind.as_str())),
            ),
            VariableType::Array => (
                format!("{}{optional}({})", spec.name, with_description("array")),
                json!("any"),
            ),
            VariableType::Object => (
                format!("{}{optional}({})", spec.name, with_description("object")),
                json!({"(*)": "any"}),
            ),
            VariableType::Messages => return None,
        };
        if spec.description.as_deref().is_some_and(|d| d.contains(['\n', ')'])) {
            return None;
        }
        pico.insert(key, value);
        if let Some(default) = &spec.default {
            defaults.insert(spec.name.clone(), default.clone());
        }
    }
    let mut input = Map::new();
    if !pico.is_empty() {
        input.insert("schema".into(), Value::Object(pico));
    }
    if !defaults.is_empty() {
        input.insert("default".into(), Value::Object(defaults));
    }
    Some(input)
}

pub(crate) fn export(versions: &[Exportable<'_>]) -> Result<Export> {
    // One file per prompt: the last version given of each.
    let mut chosen: BTreeMap<&PromptId, &Exportable<'_>> = BTreeMap::new();
    for v in versions {
        chosen.insert(&v.prompt.id, v);
    }
    // A prompt another one includes is a partial: `_name.prompt`.
    let mut partials = std::collections::BTreeSet::new();
    for v in chosen.values() {
        for source in v.prompt.template.sources() {
            for tag in tags(source) {
                if let Some(name) = tag.inner.strip_prefix('>') {
                    let name = name.split_whitespace().next().unwrap_or_default();
                    partials.insert(name.trim_matches(['\'', '"']).to_owned());
                }
            }
        }
    }
    let mut out = Export::default();
    for (id, v) in chosen {
        let partial = partials.contains(id.as_str());
        let text = file_of(v, partial, &mut out.warnings)?;
        let path = if partial {
            match id.as_str().rsplit_once('/') {
                Some((folder, name)) => format!("{folder}/_{name}.prompt"),
                None => format!("_{id}.prompt"),
            }
        } else {
            format!("{id}.prompt")
        };
        out.files.push(ExportFile { path, text });
    }
    Ok(out)
}

fn cannot(id: &PromptId, reason: impl std::fmt::Display) -> Error {
    Error::InvalidPrompt {
        id: id.to_string(),
        reason: format!("cannot be written as a Dotprompt file: {reason}"),
    }
}

/// Checks that `source` reads back as one message's source: no marker of its own at the top.
fn plain_source(id: &PromptId, what: &str, source: &str) -> Result<()> {
    match pieces(source) {
        Ok(pieces) if pieces.iter().all(|p| matches!(p, Piece::Text(_))) => Ok(()),
        Ok(_) => Err(cannot(
            id,
            format!(
                "{what} has a `{{{{role}}}}` or `{{{{history}}}}` of its own, which would split it into other messages"
            ),
        )),
        Err((_, message)) => Err(cannot(id, format!("{what}: {message}"))),
    }
}

fn file_of(v: &Exportable<'_>, partial: bool, warnings: &mut Vec<String>) -> Result<String> {
    let prompt = v.prompt;
    let id = &prompt.id;
    for source in prompt.template.sources() {
        for tag in tags(source) {
            if let Some(name) = tag.inner.strip_prefix('>').map(str::trim)
                && name.contains('@')
            {
                return Err(cannot(
                    id,
                    format!(
                        "it includes `{name}`; Dotprompt's partials have no versions or labels, include the prompt by its id"
                    ),
                ));
            }
        }
    }
    let mut ours = Map::new();
    let mut body = String::new();
    match &prompt.template {
        Template::Text(source) => {
            plain_source(id, "the template", source)?;
            if prompt.format != PromptFormat::Text {
                ours.insert("format".into(), json!(prompt.format));
            }
            body.push_str(source);
        }
        Template::Chat(items) => {
            let mut previous_ends_in_space = true;
            let mut history = None;
            for (i, item) in items.iter().enumerate() {
                let what = format!("message {}", i + 1);
                match item {
                    ChatItem::Placeholder(p) => {
                        if history.replace(p).is_some_and(|h: &MessagePlaceholder| h != p) {
                            return Err(cannot(
                                id,
                                "two different placeholders; Dotprompt has one `{{history}}`",
                            ));
                        }
                        body.push_str(if previous_ends_in_space {
                            "{{history}}"
                        } else {
                            "\n{{~history}}"
                        });
                        previous_ends_in_space = false;
                    }
                    ChatItem::Message(m) => {
                        if m.tool_call_id.is_some() || !m.tool_calls.is_empty() || m.name.is_some() {
                            return Err(cannot(
                                id,
                                format!("{what} has a name or tool calls, which Dotprompt's messages do not"),
                            ));
                        }
                        let role = match m.role {
                            Role::System => "system",
                            Role::User => "user",
                            Role::Assistant => "model",
                            other => return Err(cannot(id, format!("{what} has the role `{other}`"))),
                        };
                        if py_strip(&m.content).is_empty() {
                            return Err(cannot(
                                id,
                                format!("{what} is empty, and Dotprompt drops empty messages"),
                            ));
                        }
                        plain_source(id, &what, &m.content)?;
                        let before = if previous_ends_in_space { "{{" } else { "\n{{~" };
                        let starts_in_space = m.content.starts_with(py_space);
                        let after = if starts_in_space { "}}" } else { "~}}\n" };
                        body.push_str(&format!("{before}role \"{role}\"{after}"));
                        body.push_str(&m.content);
                        previous_ends_in_space = m.content.ends_with(py_space);
                    }
                }
            }
            if let Some(p) = history {
                if p.variable != "history" {
                    ours.insert("history".into(), json!(p.variable));
                }
                if p.optional {
                    ours.insert("history_optional".into(), json!(true));
                }
            }
        }
    }
    // The ends Dotprompt's strip would take off, when the file needs front matter.
    let lead = &body[..body.len() - body.trim_start_matches(py_space).len()];
    let trail = &body[body.trim_end_matches(py_space).len()..];
    let ends = json!([escape_space(lead), escape_space(trail)]);
    let has_ends = !lead.is_empty() || !trail.is_empty();

    let mut matter = Map::new();
    let mut extra = prompt.metadata.extra.clone();
    let kept = match extra.remove("dotprompt") {
        Some(Value::Object(kept)) => kept,
        _ => Map::new(),
    };
    if let Some(d) = &prompt.metadata.description {
        matter.insert("description".into(), json!(d));
    }
    let config = &prompt.model_config;
    if let Some(m) = &config.model {
        matter.insert("model".into(), json!(m));
    }
    let mut options = Map::new();
    if let Some(t) = config.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if let Some(t) = config.max_tokens {
        options.insert("maxOutputTokens".into(), json!(t));
    }
    if let Some(t) = config.top_p {
        options.insert("topP".into(), json!(t));
    }
    if !config.stop.is_empty() {
        options.insert("stopSequences".into(), json!(config.stop));
    }
    for (key, value) in &config.extra {
        if CONFIG.iter().any(|(theirs, ours)| theirs == key || ours == key) {
            return Err(cannot(
                id,
                format!("`model_config.extra.{key}` would be read back as a field of its own"),
            ));
        }
        options.insert(key.clone(), value.clone());
    }
    if !options.is_empty() {
        matter.insert("config".into(), Value::Object(options));
    }
    let kept_input = kept
        .get("input")
        .and_then(Value::as_object)
        .filter(|input| input_specs(input).is_ok_and(|read| read == prompt.input_schema));
    if let Some(input) = kept_input {
        matter.insert("input".into(), Value::Object(input.clone()));
    } else if !prompt.input_schema.is_empty() {
        match input_of(&prompt.input_schema) {
            Some(input) if input_specs(&input).is_ok_and(|read| read == prompt.input_schema) => {
                matter.insert("input".into(), Value::Object(input));
            }
            _ => {
                warnings.push(format!(
                    "{id}: its input schema has no Picoschema form (a `messages` variable, or a description with a newline or `)`); it travels in `metadata.{OURS}` only"
                ));
                ours.insert("input_schema".into(), json!(prompt.input_schema));
            }
        }
    }
    match &config.response_format {
        None => {}
        Some(format) => match format.get("type").and_then(Value::as_str) {
            Some("json_object") => {
                matter.insert("output".into(), json!({"format": "json"}));
            }
            Some("json_schema")
                if format["json_schema"]["name"].as_str() == Some(schema_name(id.as_str()).as_str())
                    && format["json_schema"]["schema"].is_object()
                    && format["json_schema"].as_object().is_some_and(|j| j.len() == 2)
                    && picoschema(&format["json_schema"]["schema"]).ok().as_ref()
                        == Some(&format["json_schema"]["schema"]) =>
            {
                matter.insert(
                    "output".into(),
                    json!({"format": "json", "schema": format["json_schema"]["schema"]}),
                );
            }
            _ => {
                return Err(cannot(
                    id,
                    "its response format has no Dotprompt `output` that reads back the same (a JSON schema named after the prompt, or json_object)",
                ));
            }
        },
    }
    if !config.tools.is_empty() {
        let mut defs = Vec::new();
        for tool in &config.tools {
            let function = tool.get("function").and_then(Value::as_object);
            let simple = tool.get("type").and_then(Value::as_str) == Some("function")
                && tool.as_object().is_some_and(|t| t.len() == 2)
                && function.is_some_and(|f| {
                    f.get("name").is_some_and(Value::is_string)
                        && f.keys().all(|k| k == "name" || k == "description" || k == "parameters")
                        && f.get("parameters")
                            .is_none_or(|p| picoschema(p).ok().as_ref() == Some(p))
                });
            let Some(function) = function.filter(|_| simple) else {
                return Err(cannot(id, format!("the tool {tool} is not a plain function tool")));
            };
            let mut def = Map::new();
            def.insert("name".into(), function["name"].clone());
            if let Some(d) = function.get("description") {
                def.insert("description".into(), d.clone());
            }
            if let Some(p) = function.get("parameters") {
                def.insert("inputSchema".into(), p.clone());
            }
            defs.push(Value::Object(def));
        }
        matter.insert("toolDefs".into(), Value::Array(defs));
    }
    if let Some(version) = v.version {
        matter.insert("version".into(), json!(version.to_string()));
    }
    for (key, value) in kept {
        if !MAPPED.contains(&key.as_str()) || key == "name" || key == "version" || key == "output" {
            matter.entry(key).or_insert(value);
        }
    }
    if !prompt.metadata.tags.is_empty() {
        ours.insert("tags".into(), json!(prompt.metadata.tags));
    }
    if id.as_str().contains('/') || id.as_str().starts_with('_') {
        // The path gives the id back, but a tool that reads the file elsewhere keeps it.
        ours.insert("id".into(), json!(id.as_str()));
    }
    let mut metadata: Map<String, Value> = extra.into_iter().collect();
    if partial {
        // Dotprompt registers a partial's file as it is: no front matter, or it would be text.
        let Template::Text(source) = &prompt.template else {
            return Err(cannot(
                id,
                "it is included by another prompt, so it is a partial, and a partial is a text",
            ));
        };
        if split_front_matter(source, "").ok().flatten().is_some() {
            return Err(cannot(id, "it is a partial, and its text starts like front matter"));
        }
        // The version's number is the store's, not content a partial loses.
        let mut left: Vec<String> = matter
            .keys()
            .filter(|k| *k != "version")
            .map(|k| format!("`{k}`"))
            .collect();
        left.extend(metadata.keys().map(|k| format!("`metadata.{k}`")));
        if !prompt.metadata.tags.is_empty() {
            left.push("tags".into());
        }
        if prompt.format != PromptFormat::Text {
            left.push(format!("format `{}`", prompt.format));
        }
        if !left.is_empty() {
            warnings.push(format!(
                "{id}: a partial file is its template alone; left behind: {}",
                left.join(", ")
            ));
        }
        return Ok(source.clone());
    }
    if matter.is_empty()
        && metadata.is_empty()
        && ours.is_empty()
        && split_front_matter(&body, "").ok().flatten().is_none()
    {
        // Without front matter Dotprompt does not strip the body: the file is the body, exact.
        return Ok(body);
    }
    if has_ends {
        warnings.push(format!(
            "{id}: Dotprompt strips the whitespace at the ends of a file's body; it is kept for prompt-manager in `metadata.{OURS}.ends`, and Dotprompt renders without it"
        ));
        ours.insert("ends".into(), ends);
    }
    if !ours.is_empty() {
        metadata.insert(OURS.into(), Value::Object(ours));
    }
    if !metadata.is_empty() {
        matter.insert("metadata".into(), Value::Object(metadata));
    }
    if matter.is_empty() {
        return Ok(format!("---\n---\n{body}"));
    }
    let front = serde_saphyr::to_string(&Value::Object(matter)).map_err(|e| cannot(id, format!("YAML: {e}")))?;
    Ok(format!("---\n{front}---\n{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Prompt {
        import(text, "p.prompt").unwrap().entries.remove(0).prompt
    }

    #[test]
    fn markers_split_messages_as_dotprompt_does() {
        let p = read(
            "---\nmodel: googleai/gemini-2.0-flash\n---\n\nIntro\n{{role \"system\"}}\nBe {{tone}}.\n{{role \"user\"}}  \n{{role \"model\"}}Sure.\n{{history}}\n{{question}}\n",
        );
        let Template::Chat(items) = &p.template else {
            panic!("{p:?}")
        };
        let shown: Vec<String> = items
            .iter()
            .map(|i| match i {
                ChatItem::Message(m) => format!("{}:{:?}", m.role, m.content),
                ChatItem::Placeholder(p) => format!("[{}]", p.variable),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "user:\"Intro\\n\"",
                "system:\"\\nBe {{tone}}.\\n\"",
                "assistant:\"Sure.\\n\"",
                "[history]",
                "assistant:\"\\n{{question}}\"",
            ]
        );
        assert_eq!(p.syntax, TemplateSyntax::Handlebars);
        assert_eq!(p.model_config.model.as_deref(), Some("googleai/gemini-2.0-flash"));
    }

    #[test]
    fn a_marker_inside_a_block_is_refused_at_its_place() {
        let err = import("---\n---\n{{#if x}}\n{{role \"system\"}}{{/if}}", "p.prompt").unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidFile {
                    line: Some(4),
                    column: Some(1),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn picoschema_is_dotprompts() {
        let schema: Value = serde_saphyr::from_str(
            "name: string, the name\nage?: integer\ntags(array, labels): string\naddr?(object):\n  city: string\nkind(enum): [a, b]\n(*): any\n",
        )
        .unwrap();
        assert_eq!(
            picoschema(&schema).unwrap(),
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "the name"},
                    "age": {"type": ["integer", "null"]},
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "labels"},
                    "addr": {"type": ["object", "null"], "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false},
                    "kind": {"enum": ["a", "b"]},
                },
                "required": ["name", "tags", "kind"],
                "additionalProperties": {},
            })
        );
        assert!(picoschema(&json!({"x": "Person"})).unwrap_err().contains("registry"));
    }

    #[test]
    fn partial_files_are_their_prompts() {
        assert_eq!(id_of("shared/_tone.prompt"), ("shared/tone".into(), true));
        assert_eq!(id_of("greeting.formal.prompt"), ("greeting.formal".into(), false));
    }
}
