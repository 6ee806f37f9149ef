//! What a diff means for the version number: one [`BumpReason`] per change, the [`Suggestion`]
//! they add up to, and a changelog draft made from them.
//!
//! The rules (DESIGN.md §2): what callers must change for is **major** — a changed variable set
//! (template variables or placeholders added or removed, a placeholder made optional or
//! required), a changed contract of the input schema (a declaration added, removed, or changed in
//! type, `required` or default), a format change, messages added or removed. Changed wording,
//! model config, roles, message names or order, metadata and schema descriptions are **minor**.
//! Whitespace-only text changes and reordered schema declarations are **patch**, and so is an
//! empty diff: saving identical content makes no version, so a caller that bumps anyway gets the
//! smallest step.

use std::fmt;

use prompt_manager_core::{Bump, ChatItem, Template};
use serde::Serialize;
use serde_json::Value;

use crate::diff::{EntryChange, FieldChange, PromptDiff, SpecChange, TemplateDiff, ValueChange};

/// How many reasons a changelog draft lists before summing up the rest.
const CHANGELOG_ITEMS: usize = 8;

/// One change of a diff and the bump it calls for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BumpReason {
    /// The bump this change alone calls for.
    pub bump: Bump,
    /// What changed, in a few words: "added variable `tone`", "temperature 0.2 → 0.7".
    pub text: String,
}

impl fmt::Display for BumpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text, self.bump)
    }
}

/// A suggested bump and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The largest bump any change calls for ([`Bump::Patch`] for an empty diff).
    pub bump: Bump,
    /// The changes that call for exactly that bump, in diff order (`["no changes"]` for an empty diff).
    pub reasons: Vec<String>,
}

/// Every change of `diff` with the bump it calls for, in diff order (format, template, variables,
/// input schema, model config, metadata). Empty for an empty diff.
pub fn reasons(diff: &PromptDiff) -> Vec<BumpReason> {
    let mut out = Vec::new();
    let mut push = |bump: Bump, text: String| out.push(BumpReason { bump, text });

    if let Some(f) = &diff.format {
        push(Bump::Major, format!("changed format {} → {}", f.old, f.new));
    }
    if let Some(s) = &diff.syntax {
        push(Bump::Major, format!("changed template syntax {} → {}", s.old, s.new));
    }
    // Variables that a placeholder change already explains are not listed twice.
    let mut placeholders_added = Vec::new();
    let mut placeholders_removed = Vec::new();
    match &diff.template {
        None => {}
        Some(TemplateDiff::Text(t)) if t.whitespace_only => {
            push(Bump::Patch, "changed whitespace in the template".into());
        }
        Some(TemplateDiff::Text(_)) => push(Bump::Minor, "changed wording of the template".into()),
        Some(TemplateDiff::Replaced { old, new }) => push(
            Bump::Major,
            format!("replaced the {} template with a {} template", kind(old), kind(new)),
        ),
        Some(TemplateDiff::Chat(chat)) => {
            for entry in &chat.entries {
                match entry {
                    EntryChange::Added { position, item } => {
                        if let ChatItem::Placeholder(p) = item {
                            placeholders_added.push(p.variable.as_str());
                        }
                        push(Bump::Major, format!("added {}", item_label(*position, item)));
                    }
                    EntryChange::Removed { position, item } => {
                        if let ChatItem::Placeholder(p) = item {
                            placeholders_removed.push(p.variable.as_str());
                        }
                        push(Bump::Major, format!("removed {}", item_label(*position, item)));
                    }
                    EntryChange::Moved {
                        old_position,
                        new_position,
                        item,
                    } => push(
                        Bump::Minor,
                        format!("moved {} to position {new_position}", item_label(*old_position, item)),
                    ),
                    EntryChange::Placeholder(p) => push(
                        Bump::Major,
                        format!(
                            "made placeholder `{}` {}",
                            p.variable,
                            if p.optional.new { "optional" } else { "required" }
                        ),
                    ),
                    EntryChange::Message(m) => {
                        let label = format!("message {} ({})", m.new_position, m.role);
                        if let Some(r) = &m.role_change {
                            push(
                                Bump::Minor,
                                format!("changed role of message {} ({} → {})", m.new_position, r.old, r.new),
                            );
                        }
                        if m.name_change.is_some() {
                            push(Bump::Minor, format!("changed name of {label}"));
                        }
                        if m.tool_calls_change.is_some() {
                            push(Bump::Minor, format!("changed tool calls of {label}"));
                        }
                        if m.tool_call_id_change.is_some() {
                            push(Bump::Minor, format!("changed which tool call {label} answers"));
                        }
                        match &m.content {
                            Some(c) if c.whitespace_only => push(Bump::Patch, format!("changed whitespace in {label}")),
                            Some(_) => push(Bump::Minor, format!("changed wording of {label}")),
                            None => {}
                        }
                    }
                }
            }
        }
    }
    for v in &diff.variables.added {
        if !placeholders_added.contains(&v.as_str()) {
            push(Bump::Major, format!("added variable `{v}`"));
        }
    }
    for v in &diff.variables.removed {
        if !placeholders_removed.contains(&v.as_str()) {
            push(Bump::Major, format!("removed variable `{v}`"));
        }
    }
    let schema = &diff.input_schema;
    for spec in &schema.added {
        push(Bump::Major, format!("declared input `{}`", spec.name));
    }
    for spec in &schema.removed {
        push(Bump::Major, format!("removed input `{}`", spec.name));
    }
    for change in &schema.changed {
        if change.changes_contract() {
            push(
                Bump::Major,
                format!("changed input `{}` ({})", change.name, spec_parts(change)),
            );
        } else {
            push(Bump::Minor, format!("changed description of input `{}`", change.name));
        }
    }
    if schema.reordered {
        push(Bump::Patch, "reordered input declarations".into());
    }
    for field in &diff.model_config {
        push(Bump::Minor, field_text(field));
    }
    let meta = &diff.metadata;
    if meta.description.is_some() {
        push(Bump::Minor, "changed description".into());
    }
    for tag in &meta.tags_added {
        push(Bump::Minor, format!("added tag `{tag}`"));
    }
    for tag in &meta.tags_removed {
        push(Bump::Minor, format!("removed tag `{tag}`"));
    }
    for field in &meta.extra {
        push(Bump::Minor, format!("changed metadata `{}`", field.field));
    }
    out
}

/// The bump `diff` calls for and the changes that call for it. See the module rules.
///
/// ```
/// use prompt_manager_core::{Bump, Prompt};
/// use prompt_manager_template::MiniJinjaEngine;
/// use prompt_manager_versioning::{diff_prompts, suggest};
///
/// let old = Prompt::text("greeting", "Hello {{ name }}!")?;
/// let new = Prompt::text("greeting", "Hello {{ name }} from {{ city }}!")?;
/// let s = suggest(&diff_prompts(&MiniJinjaEngine::new().into(), &old, &new)?);
/// assert_eq!(s.bump, Bump::Major);
/// assert_eq!(s.reasons, ["added variable `city`"]);
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
pub fn suggest(diff: &PromptDiff) -> Suggestion {
    let all = reasons(diff);
    let Some(bump) = all.iter().map(|r| r.bump).max() else {
        return Suggestion {
            bump: Bump::Patch,
            reasons: vec!["no changes".into()],
        };
    };
    Suggestion {
        bump,
        reasons: all.into_iter().filter(|r| r.bump == bump).map(|r| r.text).collect(),
    }
}

/// The bump `diff` calls for: [`suggest`] without the reasons.
pub fn suggest_bump(diff: &PromptDiff) -> Bump {
    reasons(diff).iter().map(|r| r.bump).max().unwrap_or(Bump::Patch)
}

/// A one-line changelog draft: every change of the diff in diff order, joined by `; ` —
/// "Changed wording of message 1 (system); added variable `tone`; temperature 0.2 → 0.7". Long lists end with "and N more changes"; an empty diff gives
/// "No changes".
pub fn changelog_draft(diff: &PromptDiff) -> String {
    let all = reasons(diff);
    if all.is_empty() {
        return "No changes".into();
    }
    let mut parts: Vec<String> = all.iter().take(CHANGELOG_ITEMS).map(|r| r.text.clone()).collect();
    if all.len() > CHANGELOG_ITEMS {
        parts.push(format!("and {} more changes", all.len() - CHANGELOG_ITEMS));
    }
    let text = parts.join("; ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn kind(t: &Template) -> &'static str {
    match t {
        Template::Text(_) => "text",
        Template::Chat(_) => "chat",
    }
}

/// `message 3 (user)` or `placeholder `history``.
pub(crate) fn item_label(position: usize, item: &ChatItem) -> String {
    match item {
        ChatItem::Message(m) => format!("message {position} ({})", m.role),
        ChatItem::Placeholder(p) => format!("placeholder `{}`", p.variable),
    }
}

fn spec_parts(c: &SpecChange) -> String {
    let mut parts = Vec::new();
    if let Some(k) = &c.kind {
        parts.push(format!("type {} → {}", k.old, k.new));
    }
    if let Some(ValueChange { new, .. }) = &c.required {
        parts.push(if *new { "now required" } else { "now optional" }.to_owned());
    }
    if let Some(d) = &c.default {
        parts.push(format!(
            "default {} → {}",
            short(d.old.as_ref()).unwrap_or_else(|| "…".into()),
            short(d.new.as_ref()).unwrap_or_else(|| "…".into())
        ));
    }
    if c.description.is_some() {
        parts.push("description".to_owned());
    }
    parts.join(", ")
}

fn field_text(f: &FieldChange) -> String {
    let name = &f.field;
    match (&f.old, &f.new) {
        (None, Some(new)) => match short(Some(new)) {
            Some(v) => format!("set {name} to {v}"),
            None => format!("set {name}"),
        },
        (Some(_), None) => format!("unset {name}"),
        (old, new) => match (short(old.as_ref()), short(new.as_ref())) {
            (Some(a), Some(b)) => format!("{name} {a} → {b}"),
            _ => format!("changed {name}"),
        },
    }
}

/// A scalar value as a few words (strings unquoted, `unset` for none); `None` for lists and maps.
fn short(v: Option<&Value>) -> Option<String> {
    const MAX: usize = 40;
    match v {
        None => Some("unset".into()),
        Some(Value::String(s)) if s.chars().count() > MAX => Some(s.chars().take(MAX).chain(['…']).collect()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(_) | Value::Object(_)) => None,
        Some(scalar) => Some(scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::diff_with_minijinja as diff_prompts;
    use prompt_manager_core::{ChatItem, MessagePlaceholder, ModelConfig, Prompt, Role, VariableSpec, VariableType};

    fn text(t: &str) -> Prompt {
        Prompt::text("t", t).expect("valid")
    }

    fn bump(old: &Prompt, new: &Prompt) -> Bump {
        suggest_bump(&diff_prompts(old, new))
    }

    #[test]
    fn empty_diff_is_patch_with_a_reason() {
        let p = text("Hello {{ name }}");
        let d = diff_prompts(&p, &p);
        assert_eq!(suggest_bump(&d), Bump::Patch);
        assert_eq!(suggest(&d).reasons, ["no changes"]);
        assert_eq!(changelog_draft(&d), "No changes");
    }

    #[test]
    fn text_rules() {
        let base = text("Hello {{ name }}.\nBe brief.");
        assert_eq!(bump(&base, &text("Hello  {{ name }}.\n\nBe brief. ")), Bump::Patch);
        assert_eq!(bump(&base, &text("Hi {{ name }}.\nBe brief.")), Bump::Minor);
        assert_eq!(bump(&base, &text("Hello {{ user }}.\nBe brief.")), Bump::Major);
        assert_eq!(
            bump(
                &base,
                &text("Hello {{ name }}.\nBe brief.").with_format(prompt_manager_core::PromptFormat::Completion)
            ),
            Bump::Major
        );
    }

    #[test]
    fn chat_rules() {
        let chat = |items: Vec<ChatItem>| Prompt::chat("t", items).expect("valid");
        let sys = |t: &str| ChatItem::message(Role::System, t);
        let base = chat(vec![sys("Be kind."), ChatItem::message(Role::User, "{{ q }}")]);
        let reworded = chat(vec![sys("Be  kind. "), ChatItem::message(Role::User, "{{ q }}")]);
        assert_eq!(bump(&base, &reworded), Bump::Patch);
        let reworded = chat(vec![sys("Be nice."), ChatItem::message(Role::User, "{{ q }}")]);
        assert_eq!(bump(&base, &reworded), Bump::Minor);
        let role = chat(vec![
            ChatItem::message(Role::Assistant, "Be kind."),
            ChatItem::message(Role::User, "{{ q }}"),
        ]);
        assert_eq!(bump(&base, &role), Bump::Minor);
        let added = chat(vec![
            sys("Be kind."),
            ChatItem::message(Role::User, "{{ q }}"),
            sys("Thanks."),
        ]);
        assert_eq!(bump(&base, &added), Bump::Major);
        assert_eq!(bump(&added, &base), Bump::Major);
        let swapped = chat(vec![ChatItem::message(Role::User, "{{ q }}"), sys("Be kind.")]);
        assert_eq!(bump(&base, &swapped), Bump::Minor);
        let optional = chat(vec![
            ChatItem::Placeholder(MessagePlaceholder {
                variable: "h".into(),
                optional: true,
            }),
            ChatItem::message(Role::User, "{{ q }}"),
        ]);
        let required = chat(vec![
            ChatItem::placeholder("h"),
            ChatItem::message(Role::User, "{{ q }}"),
        ]);
        assert_eq!(bump(&optional, &required), Bump::Major);
        let s = suggest(&diff_prompts(&base, &required));
        assert_eq!(
            s.reasons,
            ["removed message 1 (system)", "added placeholder `h`"],
            "no duplicate variable reason"
        );
    }

    #[test]
    fn config_metadata_and_schema_rules() {
        let base = text("x").with_variable(VariableSpec::new("n", VariableType::Integer));
        let config = base.clone().with_model_config(ModelConfig {
            temperature: Some(0.5),
            ..ModelConfig::default()
        });
        assert_eq!(bump(&base, &config), Bump::Minor);
        assert_eq!(bump(&base, &base.clone().with_tags(["x"])), Bump::Minor);
        assert_eq!(bump(&base, &base.clone().with_description("d")), Bump::Minor);
        let described =
            text("x").with_variable(VariableSpec::new("n", VariableType::Integer).with_description("count"));
        assert_eq!(bump(&base, &described), Bump::Minor);
        let defaulted = text("x").with_variable(VariableSpec::new("n", VariableType::Integer).with_default(3));
        assert_eq!(bump(&base, &defaulted), Bump::Major);
        assert_eq!(bump(&base, &text("x")), Bump::Major);
        assert_eq!(
            suggest(&diff_prompts(&base, &defaulted)).reasons,
            ["changed input `n` (default unset → 3)"]
        );
    }

    #[test]
    fn field_texts_read_well() {
        let f = |old: Option<Value>, new: Option<Value>| {
            field_text(&FieldChange {
                field: "temperature".into(),
                old,
                new,
            })
        };
        assert_eq!(f(Some(0.2.into()), Some(0.7.into())), "temperature 0.2 → 0.7");
        assert_eq!(f(None, Some(0.7.into())), "set temperature to 0.7");
        assert_eq!(f(Some(0.7.into()), None), "unset temperature");
        assert_eq!(
            f(Some(serde_json::json!([1])), Some(serde_json::json!([2]))),
            "changed temperature"
        );
        assert_eq!(
            short(Some(&Value::from("é".repeat(50)))).map(|s| s.chars().count()),
            Some(41)
        );
    }

    #[test]
    fn changelog_is_capitalised_and_bounded() {
        let old = text("a");
        let new = text("b").with_tags((0..20).map(|i| format!("t{i}")));
        let draft = changelog_draft(&diff_prompts(&old, &new));
        assert!(
            draft.starts_with("Changed wording of the template; added tag `t0`"),
            "{draft}"
        );
        assert!(draft.ends_with("and 13 more changes"), "{draft}");
    }
}
