//! The git-like textual rendering of a [`PromptDiff`] (its `Display`), without colours: a
//! `---`/`+++` header, unified hunks for text, a section per changed chat entry, and one
//! `path: old → new` line per changed field. Callers that want colours style the lines by their
//! first character.

use std::fmt::{self, Display, Formatter, Write as _};

use prompt_manager_core::{ChatItem, ChatMessage, Template, ToolCall, VariableSpec};
use serde_json::Value;

use crate::diff::{EntryChange, FieldChange, PromptDiff, SpecChange, TemplateDiff, ValueChange};
use crate::text::{Hunk, TextChange};

impl Display for PromptDiff {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {}", self.old.reference())?;
        writeln!(f, "+++ {}", self.new.reference())?;
        if self.is_empty() {
            return writeln!(f, "(no changes)");
        }
        if let Some(c) = &self.format {
            writeln!(f, "format: {} → {}", c.old, c.new)?;
        }
        if let Some(c) = &self.syntax {
            writeln!(f, "syntax: {} → {}", c.old, c.new)?;
        }
        match &self.template {
            None => {}
            Some(TemplateDiff::Text(t)) => {
                writeln!(f, "template{}", ws_note(t))?;
                write_hunks(f, &t.hunks)?;
            }
            Some(TemplateDiff::Replaced { old, new }) => {
                writeln!(f, "template: {} → {}", kind(old), kind(new))?;
                write_template(f, '-', old)?;
                write_template(f, '+', new)?;
            }
            Some(TemplateDiff::Chat(chat)) => {
                for entry in &chat.entries {
                    write_entry(f, entry)?;
                }
            }
        }
        let vars = &self.variables;
        let label = "variables";
        for v in &vars.added {
            writeln!(f, "{label}: + {v}")?;
        }
        for v in &vars.removed {
            writeln!(f, "{label}: - {v}")?;
        }
        let schema = &self.input_schema;
        for spec in &schema.added {
            writeln!(f, "input_schema: + {}", spec_summary(spec))?;
        }
        for spec in &schema.removed {
            writeln!(f, "input_schema: - {}", spec_summary(spec))?;
        }
        for change in &schema.changed {
            writeln!(f, "input_schema.{}: {}", change.name, spec_change(change))?;
        }
        if schema.reordered {
            writeln!(f, "input_schema: declarations reordered")?;
        }
        for field in &self.model_config {
            write_field(f, "model_config.", field)?;
        }
        let meta = &self.metadata;
        if let Some(d) = &meta.description {
            writeln!(
                f,
                "metadata.description: {} → {}",
                opt_str(d.old.as_deref()),
                opt_str(d.new.as_deref())
            )?;
        }
        for tag in &meta.tags_added {
            writeln!(f, "metadata.tags: + {tag}")?;
        }
        for tag in &meta.tags_removed {
            writeln!(f, "metadata.tags: - {tag}")?;
        }
        for field in &meta.extra {
            write_field(f, "metadata.extra.", field)?;
        }
        Ok(())
    }
}

fn ws_note(t: &TextChange) -> &'static str {
    if t.whitespace_only { " [whitespace only]" } else { "" }
}

fn kind(t: &Template) -> &'static str {
    match t {
        Template::Text(_) => "text",
        Template::Chat(_) => "chat",
    }
}

fn write_hunks(f: &mut Formatter<'_>, hunks: &[Hunk]) -> fmt::Result {
    for h in hunks {
        writeln!(
            f,
            "@@ -{} +{} @@",
            range(h.old_start, h.old_lines),
            range(h.new_start, h.new_lines)
        )?;
        for line in &h.lines {
            writeln!(f, "{}{}", line.tag.sign(), line.text)?;
            if line.missing_newline {
                writeln!(f, "\\ No newline at end of text")?;
            }
        }
    }
    Ok(())
}

/// A unified-diff range: `start` alone for one line, `start,len` otherwise.
fn range(start: usize, len: usize) -> String {
    if len == 1 {
        start.to_string()
    } else {
        format!("{start},{len}")
    }
}

fn write_lines(f: &mut Formatter<'_>, sign: char, text: &str) -> fmt::Result {
    if text.is_empty() {
        return writeln!(f, "{sign}");
    }
    for line in text.lines() {
        writeln!(f, "{sign}{line}")?;
    }
    Ok(())
}

fn write_template(f: &mut Formatter<'_>, sign: char, t: &Template) -> fmt::Result {
    match t {
        Template::Text(text) => write_lines(f, sign, text),
        Template::Chat(items) => {
            for item in items {
                match item {
                    ChatItem::Message(m) => {
                        writeln!(f, "{sign}[{}]", m.role)?;
                        write_message_body(f, sign, m)?;
                    }
                    ChatItem::Placeholder(p) => writeln!(f, "{sign}[placeholder {}]", p.variable)?,
                }
            }
            Ok(())
        }
    }
}

/// A message's content, then its tool fields, each line prefixed with `sign`.
fn write_message_body(f: &mut Formatter<'_>, sign: char, m: &ChatMessage) -> fmt::Result {
    if let Some(id) = &m.tool_call_id {
        writeln!(f, "{sign}answers tool call {id}")?;
    }
    if !m.content.is_empty() || m.tool_calls.is_empty() {
        write_lines(f, sign, &m.content)?;
    }
    for call in &m.tool_calls {
        writeln!(f, "{sign}{}", tool_call(call))?;
    }
    Ok(())
}

/// `tool call call_1: get_weather {"city":"Paris"}`: id, name and the arguments as compact JSON.
fn tool_call(call: &ToolCall) -> String {
    format!("tool call {}: {} {}", call.id, call.name, call.arguments)
}

/// `message 2 (user)` or ``message 2 (placeholder `history`)``.
fn entry_label(position: usize, item: &ChatItem) -> String {
    match item {
        ChatItem::Message(m) => format!("message {position} ({})", m.role),
        ChatItem::Placeholder(p) => format!("message {position} (placeholder `{}`)", p.variable),
    }
}

fn write_entry(f: &mut Formatter<'_>, entry: &EntryChange) -> fmt::Result {
    match entry {
        EntryChange::Added { position, item } => {
            writeln!(f, "{} added", entry_label(*position, item))?;
            if let ChatItem::Message(m) = item {
                write_message_body(f, '+', m)?;
            }
        }
        EntryChange::Removed { position, item } => {
            writeln!(f, "{} removed", entry_label(*position, item))?;
            if let ChatItem::Message(m) = item {
                write_message_body(f, '-', m)?;
            }
        }
        EntryChange::Moved {
            old_position,
            new_position,
            item,
        } => writeln!(f, "{} moved to {new_position}", entry_label(*old_position, item))?,
        EntryChange::Placeholder(p) => writeln!(
            f,
            "message {} (placeholder `{}`) optional: {} → {}",
            p.new_position, p.variable, p.optional.old, p.optional.new
        )?,
        EntryChange::Message(m) => {
            let role = match &m.role_change {
                Some(r) => format!("{} → {}", r.old, r.new),
                None => m.role.to_string(),
            };
            let mut header = format!("message {} ({role})", m.new_position);
            if m.old_position != m.new_position {
                let _ = write!(header, ", was message {}", m.old_position);
            }
            if let Some(c) = &m.content {
                header.push_str(ws_note(c));
            }
            writeln!(f, "{header}")?;
            if let Some(n) = &m.name_change {
                writeln!(f, "name: {} → {}", opt_str(n.old.as_deref()), opt_str(n.new.as_deref()))?;
            }
            if let Some(c) = &m.content {
                write_hunks(f, &c.hunks)?;
            }
            if let Some(id) = &m.tool_call_id_change {
                writeln!(
                    f,
                    "tool_call_id: {} → {}",
                    opt_str(id.old.as_deref()),
                    opt_str(id.new.as_deref())
                )?;
            }
            if let Some(calls) = &m.tool_calls_change {
                // The calls only one side has, by equality: parallel calls that stayed are left out.
                writeln!(f, "tool calls:")?;
                for call in calls.old.iter().filter(|c| !calls.new.contains(c)) {
                    writeln!(f, "-{}", tool_call(call))?;
                }
                for call in calls.new.iter().filter(|c| !calls.old.contains(c)) {
                    writeln!(f, "+{}", tool_call(call))?;
                }
            }
        }
    }
    Ok(())
}

fn write_field(f: &mut Formatter<'_>, prefix: &str, field: &FieldChange) -> fmt::Result {
    writeln!(
        f,
        "{prefix}{}: {} → {}",
        field.field,
        value(field.old.as_ref()),
        value(field.new.as_ref())
    )
}

/// A value as compact JSON, or `unset`.
fn value(v: Option<&Value>) -> String {
    v.map_or_else(|| "unset".to_owned(), Value::to_string)
}

/// A string as a JSON literal, or `unset`.
fn opt_str(s: Option<&str>) -> String {
    value(s.map(Value::from).as_ref())
}

fn spec_summary(spec: &VariableSpec) -> String {
    // A default makes `required` irrelevant: a render without the variable uses the default.
    match &spec.default {
        Some(d) => format!("{} ({}, default {d})", spec.name, spec.kind),
        None => format!(
            "{} ({}, {})",
            spec.name,
            spec.kind,
            if spec.required { "required" } else { "optional" }
        ),
    }
}

fn spec_change(c: &SpecChange) -> String {
    fn part<T: Display>(parts: &mut Vec<String>, name: &str, change: &Option<ValueChange<T>>) {
        if let Some(ch) = change {
            parts.push(format!("{name} {} → {}", ch.old, ch.new));
        }
    }
    let mut parts = Vec::new();
    part(&mut parts, "type", &c.kind);
    part(&mut parts, "required", &c.required);
    if let Some(d) = &c.default {
        parts.push(format!("default {} → {}", value(d.old.as_ref()), value(d.new.as_ref())));
    }
    if let Some(d) = &c.description {
        parts.push(format!(
            "description {} → {}",
            opt_str(d.old.as_deref()),
            opt_str(d.new.as_deref())
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use crate::diff::diff_with_minijinja as diff_prompts;
    use prompt_manager_core::{ChatItem, ChatMessage, Prompt, Role, Template, ToolCall};

    #[test]
    fn empty_diffs_say_so() {
        let p = Prompt::text("a", "x").expect("valid");
        assert_eq!(diff_prompts(&p, &p).to_string(), "--- a\n+++ a\n(no changes)\n");
    }

    #[test]
    fn replacements_and_names_render() {
        let old = Prompt::text("a", "hi\nthere").expect("valid");
        let mut named = ChatMessage::new(Role::User, "hi");
        named.name = Some("alice".into());
        let new = Prompt::chat("a", [ChatItem::Message(named), ChatItem::placeholder("h")]).expect("valid");
        let out = diff_prompts(&old, &new).to_string();
        assert!(
            out.contains("template: text → chat\n-hi\n-there\n+[user]\n+hi\n+[placeholder h]\n"),
            "{out}"
        );

        let plain =
            Prompt::chat("a", [ChatItem::message(Role::User, "hi"), ChatItem::placeholder("h")]).expect("valid");
        let out = diff_prompts(&plain, &new).to_string();
        assert_eq!(out, "--- a\n+++ a\nmessage 1 (user)\nname: unset → \"alice\"\n");
        assert!(matches!(new.template, Template::Chat(_)));
    }

    #[test]
    fn tool_call_changes_show_and_suggest_a_bump() {
        let calls = |years: u32| {
            ChatMessage::new(Role::Assistant, "").with_tool_calls([
                ToolCall::new("call_1", "get_rates", serde_json::json!({"years": years})),
                ToolCall::new("call_2", "get_fees", serde_json::json!({})),
            ])
        };
        let chat = |assistant: ChatMessage, answers: &str| {
            Prompt::chat(
                "a",
                [
                    ChatItem::message(Role::User, "Rates?"),
                    ChatItem::Message(assistant),
                    ChatItem::Message(ChatMessage::tool_result(answers, "4.1")),
                ],
            )
            .expect("valid")
        };
        let old = chat(calls(30), "call_1");
        let new = chat(calls(15), "call_2");
        let diff = diff_prompts(&old, &new);
        assert_eq!(
            diff.to_string(),
            "--- a\n+++ a\nmessage 2 (assistant)\ntool calls:\n-tool call call_1: get_rates {\"years\":30}\n\
             +tool call call_1: get_rates {\"years\":15}\nmessage 3 (tool)\ntool_call_id: \"call_1\" → \"call_2\"\n"
        );
        let suggestion = crate::suggest(&diff);
        assert_eq!(
            suggestion.bump,
            prompt_manager_core::Bump::Minor,
            "{:?}",
            suggestion.reasons
        );
        assert!(
            suggestion.reasons.iter().any(|r| r.contains("tool calls of message 2")),
            "{:?}",
            suggestion.reasons
        );

        let plain = Prompt::chat("a", [ChatItem::message(Role::User, "Rates?")]).expect("valid");
        let added = diff_prompts(&plain, &old).to_string();
        assert!(
            added.contains(
                "message 2 (assistant) added\n+tool call call_1: get_rates {\"years\":30}\n\
                 +tool call call_2: get_fees {}\nmessage 3 (tool) added\n+answers tool call call_1\n+4.1\n"
            ),
            "{added}"
        );
    }
}
