//! `prompt-manager status ID [STATUS]` and `prompt-manager archive ID`: the lifecycle
//! `draft → active → deprecated → archived`.

use clap::Args;
use prompt_manager::PromptStatus;
use serde::Serialize;

use super::Context;
use super::list::StatusArg;
use crate::error::Outcome;

/// Arguments of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The prompt id.
    id: String,
    /// The new status; without it, the current one is shown.
    #[arg(value_enum)]
    status: Option<StatusArg>,
}

/// Arguments of `archive`.
#[derive(Debug, Args)]
pub(crate) struct ArchiveArgs {
    /// The prompt id.
    id: String,
}

#[derive(Debug, Serialize)]
struct StatusOut {
    id: String,
    status: PromptStatus,
    /// The status before a change (absent when only shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<PromptStatus>,
}

/// Runs `status`.
pub(crate) async fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<Outcome> {
    match args.status {
        None => {
            let pm = ctx.pm().await?;
            let summary = pm.summary(&args.id).await?;
            let out = StatusOut {
                id: args.id,
                status: summary.status,
                previous: None,
            };
            ctx.printer.emit(&out, || format!("{}: {}\n", out.id, out.status));
            Ok(Outcome::Success)
        }
        Some(status) => set(ctx, &args.id, status.into()).await,
    }
}

/// Runs `archive`.
pub(crate) async fn archive(ctx: &Context, args: ArchiveArgs) -> anyhow::Result<Outcome> {
    set(ctx, &args.id, PromptStatus::Archived).await
}

async fn set(ctx: &Context, id: &str, status: PromptStatus) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let before = pm.summary(id).await?.status;
    let after = pm.set_status(id, status).await?;
    let out = StatusOut {
        id: id.to_owned(),
        status: after.status,
        previous: Some(before),
    };
    ctx.printer
        .emit(&out, || format!("{id}: {before} → {}\n", after.status));
    Ok(Outcome::Success)
}
