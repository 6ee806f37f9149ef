//! `prompt-manager history ID`: the versions of a prompt, newest first, with their labels.

use clap::Args;
use prompt_manager::VersionInfo;
use serde::Serialize;

use super::{Context, when};
use crate::error::Outcome;

/// Arguments of `history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The prompt id.
    id: String,
}

#[derive(Debug, Serialize)]
struct HistoryEntry<'a> {
    #[serde(flatten)]
    info: &'a VersionInfo,
    /// Labels pointing at this version.
    labels: Vec<String>,
}

/// Runs `history`.
pub(crate) async fn run(ctx: &Context, args: HistoryArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let history = pm.history(&args.id).await?;
    let labels = pm.labels(&args.id).await?;
    let entries: Vec<HistoryEntry<'_>> = history
        .iter()
        .map(|info| HistoryEntry {
            info,
            labels: labels
                .iter()
                .filter(|(_, v)| **v == info.version)
                .map(|(l, _)| l.to_string())
                .collect(),
        })
        .collect();
    ctx.printer.emit(&entries, || {
        let rows = entries
            .iter()
            .map(|e| {
                vec![
                    e.info.version.to_string(),
                    when(&e.info.created_at),
                    e.info.author.clone().unwrap_or_default(),
                    e.labels.join(", "),
                    e.info.changelog.clone(),
                ]
            })
            .collect();
        ctx.printer
            .table_keeping(&["VERSION", "CREATED", "AUTHOR", "LABELS", "CHANGELOG"], rows, 2)
    });
    Ok(Outcome::Success)
}
