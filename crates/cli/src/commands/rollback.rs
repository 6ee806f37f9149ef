//! `prompt-manager rollback ID LABEL`: move a label back to where it pointed before.

use clap::Args;

use super::Context;
use super::label::MoveOut;
use crate::error::Outcome;

/// Arguments of `rollback`.
#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The prompt id.
    id: String,
    /// The label to move back (`production`).
    label: String,
    /// Roll it back even if it is protected, as an administrator; the audit log records the override.
    #[arg(long)]
    force: bool,
}

/// Runs `rollback`.
pub(crate) async fn run(ctx: &Context, args: RollbackArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let event = super::label::authority(pm, args.force)
        .rollback(&args.id, &args.label)
        .await?;
    let mut out = MoveOut::of(&args.id, &event);
    out.forced = args.force;
    ctx.printer.emit(&out, || out.human());
    Ok(Outcome::Success)
}
