//! `prompt-manager diff REF [REF]`: the structural diff of two versions — a line diff for text,
//! one section per changed message for chat prompts — and the bump it suggests.

use clap::Args;
use prompt_manager::versioning::{PromptDiff, suggest};
use prompt_manager::{PromptId, PromptRef, VersioningExt};
use serde::Serialize;

use super::Context;
use crate::error::Outcome;
use crate::output::{Printer, Style};

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The old side: `id@1.0.0`, `id@production`, …
    #[arg(value_name = "FROM")]
    from: String,
    /// The new side; the latest version of FROM's prompt when left out.
    #[arg(value_name = "TO")]
    to: Option<String>,
}

#[derive(Debug, Serialize)]
struct DiffOut<'a> {
    from: String,
    to: String,
    /// Whether anything differs.
    changed: bool,
    /// The bump the diff calls for.
    bump: String,
    /// Why.
    reasons: Vec<String>,
    /// The structural diff.
    diff: &'a PromptDiff,
}

/// Runs `diff`.
pub(crate) async fn run(ctx: &Context, args: DiffArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let to = match args.to {
        Some(to) => to,
        None => {
            let from: PromptRef = args.from.parse()?;
            PromptRef::latest(PromptId::new(from.id.as_str())?).to_string()
        }
    };
    let diff = pm.diff(&args.from, &to).await?;
    let suggestion = suggest(&diff);
    let out = DiffOut {
        from: diff.old.reference(),
        to: diff.new.reference(),
        changed: !diff.is_empty(),
        bump: suggestion.bump.to_string(),
        reasons: suggestion.reasons.clone(),
        diff: &diff,
    };
    ctx.printer.emit(&out, || {
        let mut text = colour_diff(&ctx.printer, &diff.to_string());
        if !diff.is_empty() {
            let line = format!(
                "suggested bump: {} ({})",
                suggestion.bump,
                suggestion.reasons.join("; ")
            );
            text.push_str(&ctx.printer.paint(&line, Style::Info));
            text.push('\n');
        }
        text
    });
    Ok(Outcome::Success)
}

/// Colours a git-like diff by each line's first characters.
pub(crate) fn colour_diff(printer: &Printer, text: &str) -> String {
    if !printer.colour() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            Some(Style::Bold)
        } else if line.starts_with("@@") {
            Some(Style::Info)
        } else if line.starts_with('+') || line.trim_start().starts_with("+ ") && line.starts_with(' ') {
            Some(Style::Added)
        } else if line.starts_with('-') {
            Some(Style::Removed)
        } else if line.starts_with("message ") || line.starts_with("entry ") {
            Some(Style::Bold)
        } else {
            None
        };
        match style {
            Some(style) => out.push_str(&printer.paint(line, style)),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}
