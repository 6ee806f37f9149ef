//! `prompt-manager audit [ID]` and `audit verify`: the store's append-only, hash-chained log of
//! every change (versions created, labels set/removed/rolled back/protected, status changes,
//! deletions, API keys), and the check that no entry was edited or deleted since.

use clap::{Args, Subcommand};
use prompt_manager::{AuditEntry, AuditQuery, PromptId};
use serde::Serialize;

use super::{Context, when};
use crate::error::Outcome;

/// Arguments of `audit`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct AuditArgs {
    /// `verify`: check the hash chain of the whole log.
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Only the entries of this prompt (`--prompt ID` names a prompt called `verify`).
    id: Option<String>,
    /// The same, as a flag.
    #[arg(long, conflicts_with = "id")]
    prompt: Option<String>,
    /// Only entries after this number (the next page: the last number shown).
    #[arg(long, value_name = "SEQ")]
    after: Option<u64>,
    /// At most this many entries (default 1000, at most 10000).
    #[arg(long, short = 'n')]
    limit: Option<usize>,
}

/// The audit subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check that no entry of the log was edited, deleted or reordered (exit 1 if one was).
    Verify,
}

/// What `audit verify` prints.
#[derive(Debug, Serialize)]
struct VerifyOut {
    ok: bool,
    entries: u64,
    head: Option<String>,
    broken: Option<String>,
}

/// Runs `audit`.
pub(crate) async fn run(ctx: &Context, args: AuditArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    if let Some(AuditCommand::Verify) = args.command {
        let report = pm.verify_audit().await?;
        let out = VerifyOut {
            ok: report.broken.is_none(),
            entries: report.entries,
            head: report.head.clone(),
            broken: report.broken.as_ref().map(ToString::to_string),
        };
        ctx.printer.emit(&out, || match &out.broken {
            None => format!(
                "audit log ok: {} entries, hash chain intact{}\n",
                out.entries,
                out.head.as_deref().map(|h| format!(" (head {h})")).unwrap_or_default()
            ),
            Some(broken) => format!("audit log broken after {} good entries: {broken}\n", out.entries),
        });
        return Ok(if out.ok { Outcome::Success } else { Outcome::CheckFailed });
    }
    let prompt = args.id.or(args.prompt).map(|id| PromptId::new(&id)).transpose()?;
    let query = AuditQuery {
        prompt,
        after_seq: args.after,
        limit: args.limit,
    };
    let entries = pm.audit(&query).await?;
    ctx.printer.emit(&entries, || human(ctx, &query, &entries));
    Ok(Outcome::Success)
}

fn human(ctx: &Context, query: &AuditQuery, entries: &[AuditEntry]) -> String {
    if entries.is_empty() {
        return match &query.prompt {
            Some(id) => format!("no audit entries for `{id}`\n"),
            None => "the audit log is empty\n".to_owned(),
        };
    }
    let show = |v: &Option<serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "-".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                when(&e.at),
                e.action.to_string(),
                e.prompt.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string),
                e.label.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string),
                show(&e.before),
                show(&e.after),
                if e.forced {
                    format!("{} (forced)", e.actor)
                } else {
                    e.actor.clone()
                },
            ]
        })
        .collect();
    ctx.printer.table_keeping(
        &["SEQ", "WHEN", "ACTION", "PROMPT", "LABEL", "BEFORE", "AFTER", "BY"],
        rows,
        7,
    )
}
