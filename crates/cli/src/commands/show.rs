//! `prompt-manager show REF`: one version of a prompt, with its status and labels.

use std::collections::BTreeMap;

use clap::Args;
use prompt_manager::semver::Version;
use prompt_manager::{ChatItem, ChatMessage, LabelName, Prompt, PromptStatus, PromptVersion, Template};
use serde::Serialize;

use super::{Context, summary_labels_text, when};
use crate::error::Outcome;
use crate::output::Style;

/// Arguments of `show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// What to show: `id` (latest), `id@1.2.0`, `id@^1`, `id@production`.
    #[arg(value_name = "REF")]
    reference: String,
}

/// `show`'s JSON: the version's record and its prompt's fields, plus status and labels.
#[derive(Debug, Serialize)]
struct ShowOut<'a> {
    version: &'a Version,
    status: PromptStatus,
    labels: &'a BTreeMap<LabelName, Version>,
    /// The labels that are A/B splits, with their variants.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    splits: &'a BTreeMap<LabelName, prompt_manager::Split>,
    changelog: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    created_at: &'a chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a Version>,
    content_hash: &'a str,
    #[serde(flatten)]
    prompt: &'a Prompt,
}

/// Runs `show`.
pub(crate) async fn run(ctx: &Context, args: ShowArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let version = pm.get(&args.reference).await?;
    let summary = pm.summary(version.prompt.id.as_str()).await?;
    let out = ShowOut {
        version: &version.version,
        status: summary.status,
        labels: &summary.labels,
        splits: &summary.splits,
        changelog: &version.changelog,
        author: version.author.as_deref(),
        created_at: &version.created_at,
        parent: version.parent.as_ref(),
        content_hash: &version.content_hash.0,
        prompt: &version.prompt,
    };
    ctx.printer.emit(&out, || {
        human(ctx, &version, summary.status, &summary_labels_text(&summary))
    });
    Ok(Outcome::Success)
}

fn human(ctx: &Context, version: &PromptVersion, status: PromptStatus, labels: &str) -> String {
    let p = ctx.printer.clone();
    let prompt = &version.prompt;
    let mut text = format!(
        "{} {}\n",
        p.paint(prompt.id.as_str(), Style::Bold),
        p.paint(&version.version.to_string(), Style::Info)
    );
    let mut field = |name: &str, value: String| {
        if !value.is_empty() {
            text.push_str(&format!("{:<13}{value}\n", format!("{name}:")));
        }
    };
    field("status", status.to_string());
    field("format", prompt.format.to_string());
    // Jinja is the default and goes unsaid, as in the stored form.
    if !prompt.syntax.is_default() {
        field("syntax", prompt.syntax.to_string());
    }
    field("labels", labels.to_owned());
    field("description", prompt.metadata.description.clone().unwrap_or_default());
    field(
        "tags",
        prompt.metadata.tags.iter().cloned().collect::<Vec<_>>().join(", "),
    );
    field("changelog", version.changelog.clone());
    field("author", version.author.clone().unwrap_or_default());
    field("created", when(&version.created_at));
    let config = &prompt.model_config;
    let mut model = Vec::new();
    if let Some(m) = &config.model {
        model.push(m.clone());
    }
    if let Some(t) = config.temperature {
        model.push(format!("temperature {t}"));
    }
    if let Some(t) = config.max_tokens {
        model.push(format!("max_tokens {t}"));
    }
    field("model", model.join(", "));
    if !prompt.input_schema.is_empty() {
        text.push_str("variables:\n");
        for spec in &prompt.input_schema.variables {
            let mut line = format!("  {} ({}", spec.name, spec.kind);
            if let Some(default) = &spec.default {
                line.push_str(&format!(", default {default}"));
            } else if !spec.required {
                line.push_str(", optional");
            }
            line.push(')');
            if let Some(d) = &spec.description {
                line.push_str(&format!(" — {d}"));
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    text.push_str(&format!("{}\n", p.paint("template:", Style::Bold)));
    match &prompt.template {
        Template::Text(t) => {
            for line in t.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        Template::Chat(items) => {
            for item in items {
                match item {
                    ChatItem::Message(m) => {
                        text.push_str(&format!("  {}\n", p.paint(&message_header(m), Style::Info)));
                        for line in m.content.lines() {
                            text.push_str(&format!("    {line}\n"));
                        }
                        for call in tool_call_lines(m) {
                            text.push_str(&format!("    {}\n", p.paint(&call, Style::Dim)));
                        }
                    }
                    ChatItem::Placeholder(ph) => {
                        let optional = if ph.optional { ", optional" } else { "" };
                        let line = format!("[placeholder: {}{optional}]", ph.variable);
                        text.push_str(&format!("  {}\n", p.paint(&line, Style::Dim)));
                    }
                }
            }
        }
    }
    text
}

/// `[assistant]`, `[user alice]`, `[tool, answers call_1]`: who speaks and, for a tool message,
/// which tool call it answers.
pub(crate) fn message_header(m: &ChatMessage) -> String {
    let mut who = m.role.to_string();
    if let Some(name) = &m.name {
        who.push(' ');
        who.push_str(name);
    }
    if let Some(id) = &m.tool_call_id {
        who.push_str(", answers ");
        who.push_str(id);
    }
    format!("[{who}]")
}

/// One line per tool call of a message: `tool call call_1: get_rates {"years":30}` — the call's
/// id, the tool's name and the arguments as compact JSON.
pub(crate) fn tool_call_lines(m: &ChatMessage) -> impl Iterator<Item = String> + '_ {
    m.tool_calls
        .iter()
        .map(|call| format!("tool call {}: {} {}", call.id, call.name, call.arguments))
}
