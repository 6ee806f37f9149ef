//! The prompt form shared by the edit and create pages: its fields as they come from a browser
//! (a text template, or chat message cards with role, content and name, placeholders), the
//! structural actions a submit button asks for without JavaScript (`add_message`, `move_up:N`,
//! `remove:N`, … applied to the fields and re-rendered, nothing saved), turning the fields into a
//! [`Prompt`] with every problem found at once (schema and model config as YAML or JSON with the
//! wrong line named), and the page context the shared template (`prompt_form.html`) reads. The
//! lint of the resulting templates lives in `lint.rs`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use prompt_manager::{
    ChatItem, ChatMessage, Error, InputSchema, MessagePlaceholder, Metadata, ModelConfig, Prompt, PromptFormat,
    PromptId, Role, Template, TemplateSyntax, ToolCall,
};
use prompt_manager_server::keys::Caller;
use serde::Serialize;

use crate::session::Viewer;
use crate::view::{PageError, data, fail};

mod lint;
use lint::Finding;
pub(crate) use lint::{Lint, lint, lint_file, mark_lines};

/// The most chat entries a form may hold (a bound on what a posted index may allocate).
pub(crate) const MAX_MESSAGES: usize = 500;

/// One chat entry of the form: a message card or a placeholder card.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct MessageField {
    /// `message` or `placeholder`.
    pub(crate) kind: String,
    pub(crate) role: String,
    pub(crate) content: String,
    pub(crate) name: String,
    /// For a placeholder: the variable holding the messages.
    pub(crate) variable: String,
    pub(crate) optional: bool,
    /// For a tool message: the call it answers (kept as it is).
    pub(crate) tool_call_id: String,
    /// For an assistant message: its tool calls as JSON (kept as they are).
    pub(crate) tool_calls: String,
    /// How many rows its textarea shows.
    pub(crate) rows: usize,
}

impl MessageField {
    fn message(role: Role, content: &str) -> Self {
        MessageField {
            kind: "message".into(),
            role: role.as_str().into(),
            content: content.into(),
            ..Default::default()
        }
    }

    fn placeholder() -> Self {
        MessageField {
            kind: "placeholder".into(),
            variable: "history".into(),
            optional: true,
            ..Default::default()
        }
    }

    fn is_placeholder(&self) -> bool {
        self.kind == "placeholder"
    }
}

/// The fields of the prompt form, as posted (or filled from a stored prompt).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PromptForm {
    /// The id (create only; edit takes it from the path).
    pub(crate) id: String,
    /// `chat`, or a text format (`text`, `completion`, `instruction`).
    pub(crate) format: String,
    /// The template syntax: `jinja` (also when empty) or `handlebars`.
    pub(crate) syntax: String,
    /// The text template.
    pub(crate) template: String,
    /// The chat entries.
    pub(crate) messages: Vec<MessageField>,
    /// The input schema, YAML or JSON.
    pub(crate) input_schema: String,
    /// The model config, YAML or JSON.
    pub(crate) model_config: String,
    /// Comma-separated tags.
    pub(crate) tags: String,
    pub(crate) description: String,
    /// Free metadata as JSON (not edited here, carried through).
    pub(crate) metadata_extra: String,
    /// Edit: the version the edits started from.
    pub(crate) base: String,
    /// The changelog message.
    pub(crate) changelog: String,
    /// The changelog draft last filled in (a changelog still equal to it follows the edits).
    pub(crate) draft: String,
    /// `suggested`, `major`, `minor` or `patch`.
    pub(crate) bump: String,
    /// Save despite lint problems other than syntax errors.
    pub(crate) ignore_lint: bool,
    /// Create: `form` or `file` (a pasted prompt file).
    pub(crate) mode: String,
    /// Create: the pasted prompt file.
    pub(crate) file: String,
    /// The button pressed.
    #[serde(skip)]
    pub(crate) action: String,
    /// How many rows the text template's textarea shows.
    pub(crate) template_rows: usize,
}

/// Rows for a textarea holding `text`: its lines and some room, within bounds.
fn rows(text: &str, least: usize) -> usize {
    (text.lines().count() + 1).clamp(least, 30)
}

impl PromptForm {
    /// The form of a stored prompt.
    pub(crate) fn from_prompt(prompt: &Prompt) -> Self {
        let mut form = PromptForm {
            id: prompt.id.to_string(),
            format: prompt.format.as_str().into(),
            syntax: prompt.syntax.as_str().into(),
            input_schema: to_yaml(&prompt.input_schema, prompt.input_schema.is_empty()),
            model_config: to_yaml(&prompt.model_config, prompt.model_config.is_empty()),
            tags: prompt.metadata.tags.iter().cloned().collect::<Vec<_>>().join(", "),
            description: prompt.metadata.description.clone().unwrap_or_default(),
            metadata_extra: if prompt.metadata.extra.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&prompt.metadata.extra).unwrap_or_default()
            },
            bump: "suggested".into(),
            mode: "form".into(),
            ..Default::default()
        };
        match &prompt.template {
            Template::Text(text) => form.template = text.clone(),
            Template::Chat(items) => form.messages = items.iter().map(message_field).collect(),
        }
        form
    }

    /// An empty form for a new prompt.
    pub(crate) fn blank() -> Self {
        PromptForm {
            format: "text".into(),
            bump: "suggested".into(),
            mode: "form".into(),
            ..Default::default()
        }
    }

    /// The form as posted: `m3.role`-style names for the chat entries, the rest by name.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = PromptForm::blank();
        for (name, value) in pairs {
            // Browsers send a textarea's line breaks as CRLF; the stored text has LF.
            let value = if value.contains('\r') {
                value.replace("\r\n", "\n")
            } else {
                value
            };
            if let Some((index, field)) = name.strip_prefix('m').and_then(|rest| rest.split_once('.')) {
                let Ok(index) = index.parse::<usize>() else { continue };
                if index >= MAX_MESSAGES {
                    continue;
                }
                if form.messages.len() <= index {
                    form.messages.resize_with(index + 1, MessageField::default);
                }
                let m = &mut form.messages[index];
                match field {
                    "kind" => m.kind = value,
                    "role" => m.role = value,
                    "content" => m.content = value,
                    "name" => m.name = value,
                    "variable" => m.variable = value,
                    "optional" => m.optional = !value.is_empty(),
                    "tool_call_id" => m.tool_call_id = value,
                    "tool_calls" => m.tool_calls = value,
                    _ => {}
                }
                continue;
            }
            let slot = match name.as_str() {
                "id" => &mut form.id,
                "format" => &mut form.format,
                "syntax" => &mut form.syntax,
                "template" => &mut form.template,
                "input_schema" => &mut form.input_schema,
                "model_config" => &mut form.model_config,
                "tags" => &mut form.tags,
                "description" => &mut form.description,
                "metadata_extra" => &mut form.metadata_extra,
                "base" => &mut form.base,
                "changelog" => &mut form.changelog,
                "draft" => &mut form.draft,
                "bump" => &mut form.bump,
                "mode" => &mut form.mode,
                "file" => &mut form.file,
                "action" => &mut form.action,
                "ignore_lint" => {
                    form.ignore_lint = !value.is_empty();
                    continue;
                }
                _ => continue,
            };
            *slot = value;
        }
        // Indices a browser skipped (a removed card in the middle) leave empty entries.
        form.messages.retain(|m| !m.kind.is_empty());
        form
    }

    /// Fills in the changelog draft of the latest diff unless the user wrote their own.
    pub(crate) fn offer_draft(&mut self, draft: String) {
        if self.changelog.trim().is_empty() || self.changelog == self.draft {
            self.changelog.clone_from(&draft);
        }
        self.draft = draft;
    }

    /// Whether the form edits a chat template.
    pub(crate) fn is_chat(&self) -> bool {
        self.format == "chat"
    }

    /// Applies a structural action (add, remove, move a card; switch between text and chat) and
    /// says whether it was one; `preview`, `save` and the like are left to the page.
    pub(crate) fn apply(&mut self) -> bool {
        let action = self.action.clone();
        let (verb, index) = match action.split_once(':') {
            Some((verb, n)) => (verb, n.parse::<usize>().ok()),
            None => (action.as_str(), None),
        };
        let len = self.messages.len();
        match (verb, index) {
            ("add_message", _) if len < MAX_MESSAGES => {
                let role = if len == 0 { Role::System } else { Role::User };
                self.messages.push(MessageField::message(role, ""));
            }
            ("add_placeholder", _) if len < MAX_MESSAGES => self.messages.push(MessageField::placeholder()),
            ("add_message" | "add_placeholder", _) => {}
            ("remove", Some(i)) if i < len => {
                self.messages.remove(i);
            }
            ("move_up", Some(i)) if i > 0 && i < len => self.messages.swap(i - 1, i),
            ("move_down", Some(i)) if i + 1 < len => self.messages.swap(i, i + 1),
            ("remove" | "move_up" | "move_down", _) => {}
            ("to_chat", _) => {
                if !self.is_chat() {
                    self.messages = vec![MessageField::message(Role::User, &self.template)];
                    self.format = "chat".into();
                }
            }
            ("to_text", _) => {
                if self.is_chat() {
                    self.template = self
                        .messages
                        .iter()
                        .filter(|m| !m.is_placeholder())
                        .map(|m| m.content.as_str())
                        .collect::<Vec<_>>()
                        .join("\n\n");
                    self.format = "text".into();
                }
            }
            _ => return false,
        }
        true
    }

    /// The prompt the fields describe, for `id`, or every problem found.
    pub(crate) fn to_prompt(&self, id: &str) -> Result<Prompt, Problems> {
        let mut problems = Problems::default();
        let id = match PromptId::new(id.trim()) {
            Ok(id) => Some(id),
            Err(e) => {
                problems.id = Some(if id.trim().is_empty() {
                    "give the prompt an id, such as `support/triage`".into()
                } else {
                    format!("`{}` is not a valid id: {e}", id.trim())
                });
                None
            }
        };
        let format = match self.format.parse::<PromptFormat>() {
            Ok(f) => f,
            Err(_) => {
                problems.general.push(format!("format `{}` is unknown", self.format));
                PromptFormat::Text
            }
        };
        let syntax = match self.syntax.trim() {
            "" => TemplateSyntax::Jinja,
            name => name.parse::<TemplateSyntax>().unwrap_or_else(|e| {
                problems.general.push(e.to_string());
                TemplateSyntax::Jinja
            }),
        };
        let template = if format.is_chat() {
            let mut items = Vec::new();
            for (i, m) in self.messages.iter().enumerate() {
                match message_item(m) {
                    Ok(item) => items.push(item),
                    Err(e) => {
                        problems.messages.insert(i, e);
                    }
                }
            }
            if self.messages.is_empty() {
                problems
                    .general
                    .push("a chat prompt needs at least one message: press Add message".into());
            }
            Template::Chat(items)
        } else {
            Template::Text(self.template.clone())
        };
        let input_schema = match parse_yaml::<InputSchema>(&self.input_schema, "input schema") {
            Ok(schema) => schema,
            Err(e) => {
                problems.input_schema = Some(e);
                InputSchema::default()
            }
        };
        let model_config = match parse_yaml::<ModelConfig>(&self.model_config, "model config") {
            Ok(config) => config,
            Err(e) => {
                problems.model_config = Some(e);
                ModelConfig::default()
            }
        };
        let extra = if self.metadata_extra.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_json::from_str(&self.metadata_extra).unwrap_or_else(|e| {
                problems
                    .general
                    .push(format!("the free metadata is not valid JSON: {e}"));
                BTreeMap::new()
            })
        };
        let metadata = Metadata {
            description: Some(self.description.trim().to_owned()).filter(|d| !d.is_empty()),
            tags: self
                .tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            extra,
        };
        let Some(id) = id else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let prompt = Prompt {
            id,
            format,
            syntax,
            template,
            metadata,
            model_config,
            input_schema,
        };
        match prompt.validate() {
            Ok(()) => Ok(prompt),
            Err(e) => {
                problems.general.push(error_text(&e));
                Err(problems)
            }
        }
    }
}

/// The card of a chat entry.
fn message_field(item: &ChatItem) -> MessageField {
    match item {
        ChatItem::Message(m) => MessageField {
            kind: "message".into(),
            role: m.role.as_str().into(),
            content: m.content.clone(),
            name: m.name.clone().unwrap_or_default(),
            tool_call_id: m.tool_call_id.clone().unwrap_or_default(),
            tool_calls: if m.tool_calls.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&m.tool_calls).unwrap_or_default()
            },
            ..Default::default()
        },
        ChatItem::Placeholder(p) => MessageField {
            kind: "placeholder".into(),
            variable: p.variable.clone(),
            optional: p.optional,
            ..Default::default()
        },
    }
}

/// The chat entry of a card.
fn message_item(m: &MessageField) -> Result<ChatItem, String> {
    if m.is_placeholder() {
        let variable = m.variable.trim();
        if variable.is_empty() {
            return Err("name the variable that holds the messages".into());
        }
        return Ok(ChatItem::Placeholder(MessagePlaceholder {
            variable: variable.to_owned(),
            optional: m.optional,
        }));
    }
    let role = m
        .role
        .parse::<Role>()
        .map_err(|_| format!("role `{}` is unknown", m.role))?;
    let tool_calls: Vec<ToolCall> = if m.tool_calls.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&m.tool_calls).map_err(|e| format!("the tool calls are not valid JSON: {e}"))?
    };
    Ok(ChatItem::Message(ChatMessage {
        role,
        content: m.content.clone(),
        name: Some(m.name.trim().to_owned()).filter(|n| !n.is_empty()),
        tool_call_id: Some(m.tool_call_id.trim().to_owned()).filter(|n| !n.is_empty()),
        tool_calls,
    }))
}

/// A value as YAML for a textarea (empty when `empty`).
fn to_yaml<T: Serialize>(value: &T, empty: bool) -> String {
    if empty {
        return String::new();
    }
    serde_saphyr::to_string(value).unwrap_or_default()
}

/// A textarea's YAML or JSON (JSON is YAML too), or what is wrong and on which line.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned + Default>(text: &str, what: &str) -> Result<T, String> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or_default().to_owned();
        match e.location() {
            Some(at) => format!(
                "the {what} is wrong at line {}, column {}: {message}",
                at.line(),
                at.column()
            ),
            None => format!("the {what} is wrong: {message}"),
        }
    })
}

/// A manager error as a sentence for the form.
pub(crate) fn error_text(error: &Error) -> String {
    error.to_string()
}

/// The status and message of a failed save, as the REST API would answer it (a server-side
/// failure says nothing of its cause; the log does), to show over the form that keeps the edits.
pub(crate) fn save_error(error: Error) -> (StatusCode, String) {
    let api = prompt_manager_server::ApiError::from(error);
    let detail = api.problem().detail.clone();
    let text = if detail.ends_with('.') {
        detail
    } else {
        format!("{detail}.")
    };
    (api.status(), text)
}

/// What is wrong with the fields, by field.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Problems {
    pub(crate) id: Option<String>,
    pub(crate) input_schema: Option<String>,
    pub(crate) model_config: Option<String>,
    /// By card index (0-based).
    pub(crate) messages: BTreeMap<usize, String>,
    /// Problems of the whole form.
    pub(crate) general: Vec<String>,
}

impl Problems {
    /// Whether nothing is wrong.
    pub(crate) fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.input_schema.is_none()
            && self.model_config.is_none()
            && self.messages.is_empty()
            && self.general.is_empty()
    }
}

/// The caller of a write, or the 403 page for a viewer who may only read.
pub(crate) fn writer_caller(viewer: &Viewer) -> Result<Caller, PageError> {
    match &viewer.caller {
        Some(caller) if viewer.can_write() => Ok(caller.clone()),
        _ => Err(fail(
            StatusCode::FORBIDDEN,
            "Read-only access",
            "creating and editing prompts needs an API key with the write scope; yours may only read. Nothing was changed.",
        )),
    }
}

/// The form's part of a page context: the fields, the problems by field and by card, the lint
/// findings by card, and the choices the selects offer.
pub(crate) fn view(form: &PromptForm, problems: &Problems, lint: Option<&Lint>) -> minijinja::Value {
    let mut form = form.clone();
    form.template_rows = rows(&form.template, 8);
    for m in &mut form.messages {
        m.rows = rows(&m.content, 3);
    }
    let form = &form;
    let card_problems: Vec<Option<&String>> = (0..form.messages.len()).map(|i| problems.messages.get(&i)).collect();
    let findings = |part: Option<usize>| -> Vec<&Finding> {
        lint.map(|l| l.findings.iter().filter(|f| f.part == part && f.line > 0).collect())
            .unwrap_or_default()
    };
    let card_findings: Vec<Vec<&Finding>> = (0..form.messages.len()).map(|i| findings(Some(i))).collect();
    minijinja::context! {
        form => data(form),
        problems => data(problems),
        has_problems => !problems.is_empty(),
        card_problems => data(&card_problems),
        card_findings => data(&card_findings),
        template_findings => data(findings(None)),
        lint => lint.map(data),
        roles => roles(),
        text_formats => ["text", "completion", "instruction"],
        syntaxes => TemplateSyntax::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    }
}

/// The roles a message card offers.
pub(crate) fn roles() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn cards_are_read_by_index_and_actions_rearrange_them() {
        let mut form = PromptForm::from_pairs(pairs(&[
            ("format", "chat"),
            ("m0.kind", "message"),
            ("m0.role", "system"),
            ("m0.content", "Be {{ tone }}."),
            ("m1.kind", "placeholder"),
            ("m1.variable", "history"),
            ("m2.kind", "message"),
            ("m2.role", "user"),
            ("m99999.kind", "message"),
            ("m2.content", "{{ q }}\r\nline two"),
            ("action", "move_up:2"),
        ]));
        assert_eq!(form.messages.len(), 3);
        assert!(form.apply());
        assert_eq!(
            form.messages[1].content, "{{ q }}\nline two",
            "CRLF from a browser is LF"
        );
        form.action = "remove:0".into();
        form.apply();
        assert_eq!(form.messages.len(), 2);
        form.action = "preview".into();
        assert!(!form.apply());
        let prompt = form.to_prompt("chat/x").unwrap();
        assert!(matches!(&prompt.template, Template::Chat(items) if items.len() == 2));
    }

    #[test]
    fn yaml_and_json_parse_and_a_bad_line_is_named() {
        let yaml: ModelConfig = parse_yaml("model: gpt-4o\ntemperature: 0.2\n", "model config").unwrap();
        assert_eq!(yaml.model.as_deref(), Some("gpt-4o"));
        let json: ModelConfig = parse_yaml("{\"temperature\": 0.5}", "model config").unwrap();
        assert_eq!(json.temperature, Some(0.5));
        let bad = parse_yaml::<ModelConfig>("model: a\ntemprature: 1\n", "model config").unwrap_err();
        assert!(bad.contains("line 2"), "{bad}");
    }
}
