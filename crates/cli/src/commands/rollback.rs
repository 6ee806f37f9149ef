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
}

/// Runs `rollback`.
pub(crate) async fn run(ctx: &Context, args: RollbackArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let event = pm.rollback(&args.id, &args.label).await?;
    let out = MoveOut::of(&args.id, &event);
    ctx.printer.emit(&out, || out.human());
    Ok(Outcome::Success)
}
