//! A resolved prompt version ready to render: the compiled template, the status at resolution
//! time, and the include dependencies that must still be current. Also the expansion of message
//! placeholders, whose messages are inserted as they are and never rendered as templates.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::CompiledTemplate;
use crate::error::{Error, Result, VariableProblem};
use crate::id::PromptId;
use crate::model::{
    ChatItem, ChatMessage, PromptStatus, PromptVersion, RenderOutput, Role, Template, ToolCall, VariableType,
};
use crate::variables::{Variables, apply_schema};
use serde::Deserialize;

/// A version resolved from a reference, compiled and cached by the registry.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// Unique per resolution (the rendered-output cache keys on it).
    pub(crate) id: u64,
    pub(crate) version: Arc<PromptVersion>,
    pub(crate) status: PromptStatus,
    pub(crate) compiled: Arc<dyn CompiledTemplate>,
    /// Included prompts and the registry generation they were resolved at.
    pub(crate) deps: Vec<(PromptId, u64)>,
    /// `id@version`, computed once for messages.
    pub(crate) name: String,
    /// The label the reference named, if any.
    pub(crate) label: Option<crate::id::LabelName>,
    /// When the label is an A/B split: its variants, compiled, and what picking one needs.
    pub(crate) split: Option<Box<CompiledSplit>>,
    /// When this is one variant of a split: which, for the render result.
    pub(crate) variant: Option<VariantInfo>,
    /// The key part of this resolution's render ids, made on its first recorded `render_prompt`.
    pub(crate) render_key: std::sync::OnceLock<crate::usage::KeyPrefix>,
}

/// A split label's variants as the registry caches them: each variant a resolution of its own
/// (label set, so observers see the label and the chosen version), and the hashes the
/// assignment needs, computed once.
#[derive(Debug)]
pub(crate) struct CompiledSplit {
    /// `context_seed(id, label)`.
    pub(crate) seed: u64,
    /// `version_hash` of each variant, in version order.
    pub(crate) version_hashes: Vec<u64>,
    /// The weights, in version order.
    pub(crate) weights: Vec<u32>,
    /// Their sum.
    pub(crate) total: u64,
    /// The variants' resolutions, in version order.
    pub(crate) variants: Vec<Arc<Resolved>>,
}

/// Which variant of which split a resolution is.
#[derive(Debug, Clone)]
pub(crate) struct VariantInfo {
    pub(crate) label: crate::id::LabelName,
    pub(crate) weight: u32,
    pub(crate) total: u64,
}

/// A resolution picked for a render: the variant that serves it, and whether a key chose it.
pub(crate) struct Picked<'a> {
    pub(crate) resolved: &'a Resolved,
    pub(crate) sticky: bool,
}

impl Picked<'_> {
    /// The served variant, for the render result (`None` for a plain reference).
    pub(crate) fn served(&self) -> Option<crate::model::ServedVariant> {
        let info = self.resolved.variant.as_ref()?;
        Some(crate::model::ServedVariant {
            label: info.label.clone(),
            version: self.resolved.version.version.clone(),
            weight: info.weight,
            total_weight: info.total,
            sticky: self.sticky,
        })
    }
}

impl Resolved {
    /// The resolution that serves a render with `split_key`: this one, or for a split label the
    /// variant the key is assigned to (weighted random without a key). The key is hashed once.
    pub(crate) fn pick(&self, split_key: Option<&str>) -> Picked<'_> {
        let Some(split) = &self.split else {
            return Picked {
                resolved: self,
                sticky: false,
            };
        };
        let (index, sticky) = match split_key {
            Some(key) => (
                crate::model::pick_by_key(
                    crate::model::split_key_hash(split.seed, key),
                    &split.version_hashes,
                    &split.weights,
                ),
                true,
            ),
            None => (crate::model::pick_at_random(&split.weights, split.total), false),
        };
        match split.variants.get(index) {
            Some(variant) => Picked {
                resolved: variant,
                sticky,
            },
            // The pick is an index into the same variants; keep serving the primary if not.
            None => Picked {
                resolved: self,
                sticky: false,
            },
        }
    }

    pub(crate) fn render(&self, vars: &Variables) -> Result<RenderOutput> {
        if self.status == PromptStatus::Archived {
            return Err(Error::Archived {
                id: self.version.prompt.id.clone(),
            });
        }
        let prompt = &self.version.prompt;
        let mut problems = Vec::new();
        let vars = if prompt.input_schema.is_empty() {
            Cow::Borrowed(vars)
        } else {
            apply_schema(&prompt.input_schema, vars, &mut problems)
        };
        match &prompt.template {
            Template::Text(_) => {
                self.fail_on(problems, &vars)?;
                let mut text = String::new();
                self.compiled
                    .render(&vars, &mut |_, out| text = out)
                    .map_err(|e| self.located(e))?;
                Ok(RenderOutput::Text(text))
            }
            Template::Chat(items) => {
                let mut expansions = Vec::new();
                for item in items {
                    if let ChatItem::Placeholder(p) = item {
                        match vars.get(&p.variable) {
                            None if p.optional => expansions.push(Vec::new()),
                            None => {
                                if !problems.iter().any(|q| q.name() == p.variable) {
                                    problems.push(VariableProblem::Missing {
                                        name: p.variable.clone(),
                                        expected: Some(VariableType::Messages),
                                        line: None,
                                        message: None,
                                    });
                                }
                            }
                            Some(value) => match parse_messages(value) {
                                Ok(messages) => expansions.push(messages),
                                Err(reason) => {
                                    if !problems.iter().any(|q| q.name() == p.variable) {
                                        problems.push(VariableProblem::BadMessages {
                                            name: p.variable.clone(),
                                            reason,
                                        });
                                    }
                                }
                            },
                        }
                    }
                }
                self.fail_on(problems, &vars)?;
                let mut parts = Vec::with_capacity(self.compiled.parts());
                self.compiled
                    .render(&vars, &mut |_, out| parts.push(out))
                    .map_err(|e| self.located(e))?;
                let mut parts = parts.into_iter();
                let mut expansions = expansions.into_iter();
                let mut messages = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        ChatItem::Message(m) => messages.push(ChatMessage {
                            content: parts.next().unwrap_or_default(),
                            ..m.clone()
                        }),
                        ChatItem::Placeholder(_) => messages.extend(expansions.next().unwrap_or_default()),
                    }
                }
                Ok(RenderOutput::Messages(messages))
            }
        }
    }

    /// Says where each missing variable is first read: the line, and for a chat prompt the
    /// message (counted as the user wrote them, placeholders included).
    fn locate(&self, problems: &mut [VariableProblem]) {
        for problem in problems {
            if let VariableProblem::Missing {
                name, line, message, ..
            } = problem
                && let Some((part, at)) = self.compiled.variable_position(name)
            {
                *line = Some(at);
                if let Template::Chat(items) = &self.version.prompt.template {
                    *message = items
                        .iter()
                        .enumerate()
                        .filter(|(_, item)| matches!(item, ChatItem::Message(_)))
                        .nth(part)
                        .map(|(i, _)| i + 1);
                }
            }
        }
    }

    /// [`locate`](Self::locate) for the problems of an engine's error.
    fn located(&self, err: Error) -> Error {
        match err {
            Error::InvalidVariables {
                reference,
                mut problems,
            } => {
                self.locate(&mut problems);
                Error::InvalidVariables { reference, problems }
            }
            other => other,
        }
    }

    /// Fails with every problem found so far plus every variable the templates read that is
    /// missing, so one error lists them all.
    fn fail_on(&self, mut problems: Vec<VariableProblem>, vars: &Variables) -> Result<()> {
        if problems.is_empty() {
            return Ok(());
        }
        for name in self.compiled.variables() {
            if !vars.contains(name) && !problems.iter().any(|p| p.name() == name) {
                problems.push(VariableProblem::Missing {
                    name: name.clone(),
                    expected: None,
                    line: None,
                    message: None,
                });
            }
        }
        self.locate(&mut problems);
        Err(Error::InvalidVariables {
            reference: self.name.clone(),
            problems,
        })
    }
}

/// Reads a list of chat messages (`[{role, content, name?}]`) from a variable's value.
pub(crate) fn parse_messages(value: &Value) -> std::result::Result<Vec<ChatMessage>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "must be a list of messages, got {}",
            crate::variables::json_type(value)
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let n = i + 1;
            let Value::Object(map) = item else {
                return Err(format!("item {n} must be an object with `role` and `content`"));
            };
            let role = match map.get("role") {
                Some(Value::String(r)) => r.parse::<Role>().map_err(|e| format!("item {n}: {e}"))?,
                Some(_) => return Err(format!("item {n}: `role` must be a string")),
                None => return Err(format!("item {n} has no `role`")),
            };
            let content = match map.get("content") {
                Some(Value::String(c)) => c.clone(),
                Some(_) => return Err(format!("item {n}: `content` must be a string")),
                None => return Err(format!("item {n} has no `content`")),
            };
            let text = |field: &str| match map.get(field) {
                Some(Value::String(s)) => Ok(Some(s.clone())),
                None | Some(Value::Null) => Ok(None),
                Some(_) => Err(format!("item {n}: `{field}` must be a string")),
            };
            let name = text("name")?;
            let tool_call_id = text("tool_call_id")?;
            let tool_calls = match map.get("tool_calls") {
                None | Some(Value::Null) => Vec::new(),
                Some(calls) => Vec::<ToolCall>::deserialize(calls)
                    .map_err(|e| format!("item {n}: `tool_calls` must be a list of {{id, name, arguments}}: {e}"))?,
            };
            if let Some(extra) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "role" | "content" | "name" | "tool_call_id" | "tool_calls"))
            {
                return Err(format!("item {n} has an unknown field `{extra}`"));
            }
            let message = ChatMessage {
                role,
                content,
                name,
                tool_call_id,
                tool_calls,
            };
            match message.tool_fields_problem() {
                Some(problem) => Err(format!("item {n}: {problem}")),
                None => Ok(message),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholder_messages_carry_tool_calls_and_their_answers() {
        let messages = parse_messages(&json!([
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "rates", "arguments": {"years": 30}}]},
            {"role": "tool", "content": "4.1", "tool_call_id": "c1"}
        ]))
        .unwrap();
        assert_eq!(
            messages,
            [
                ChatMessage::new(Role::Assistant, "").with_tool_calls([ToolCall::new(
                    "c1",
                    "rates",
                    json!({"years": 30})
                )]),
                ChatMessage::tool_result("c1", "4.1"),
            ]
        );
        let misplaced = parse_messages(&json!([{"role": "user", "content": "x", "tool_call_id": "c1"}])).unwrap_err();
        assert!(
            misplaced.contains("item 1") && misplaced.contains("tool message"),
            "{misplaced}"
        );
        let bad_args = parse_messages(&json!([
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "rates", "arguments": "30"}]}
        ]))
        .unwrap_err();
        assert!(bad_args.contains("JSON object"), "{bad_args}");
        let no_name =
            parse_messages(&json!([{"role": "assistant", "content": "", "tool_calls": [{"id": "c1"}]}])).unwrap_err();
        assert!(no_name.contains("tool_calls"), "{no_name}");
    }

    #[test]
    fn messages_are_checked_item_by_item() {
        let ok = parse_messages(&json!([{"role": "user", "content": "{{ not a template }}"}])).expect("valid");
        assert_eq!(ok[0].content, "{{ not a template }}");
        for (value, expected) in [
            (json!("hi"), "must be a list of messages, got string"),
            (json!([{"role": "user"}]), "item 1 has no `content`"),
            (
                json!([{"role": "user", "content": "a"}, {"content": "b"}]),
                "item 2 has no `role`",
            ),
            (
                json!([{"role": "king", "content": "a"}]),
                "invalid role `king`: use system, user, assistant",
            ),
            (json!([{"role": "user", "content": "a", "x": 1}]), "unknown field `x`"),
            (json!(["hi"]), "item 1 must be an object with `role` and `content`"),
            (json!([{"role": 1, "content": "a"}]), "item 1: `role` must be a string"),
            (
                json!([{"role": "user", "content": ["a"]}]),
                "item 1: `content` must be a string",
            ),
            (
                json!([{"role": "user", "content": "a", "name": 7}]),
                "item 1: `name` must be a string",
            ),
        ] {
            let err = parse_messages(&value).expect_err("invalid");
            assert!(err.contains(expected), "{value}: {err}");
        }
    }
}
