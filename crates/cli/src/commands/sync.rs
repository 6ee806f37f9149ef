//! `prompt-manager sync plan DIR` and `sync apply DIR`: a prompt folder kept in git (the layout
//! `export DIR` writes) and the store, compared per prompt in both directions, drift reported as
//! conflicts; `apply` does one direction, all new versions in one write. Designed for CI: a pull
//! request's check runs `plan` (exit 1 on conflicts), merging runs `apply` (docs/gitops.md).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use prompt_manager::DirStore;
use prompt_manager::sync::{self, Action, Direction, SyncPlan};
use serde::Serialize;

use super::Context;
use crate::error::{Outcome, hinted};
use crate::output::Style;

/// `sync` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// Show, per prompt, what `apply` would do in each direction and every conflict (drift);
    /// exit 1 when the chosen direction has conflicts.
    Plan(SyncArgs),
    /// Do one direction (push: folder → store, the default; pull: store → folder), all new
    /// versions in one write; nothing is done when that direction has a conflict.
    Apply(SyncArgs),
}

/// Which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DirectionArg {
    /// Folder → store.
    Push,
    /// Store → folder.
    Pull,
}

/// Arguments of `sync plan` and `sync apply`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The prompt folder: `<id>/<version>.yaml` files and `_labels.yaml`, as `export DIR` writes
    /// them (created when missing).
    dir: PathBuf,
    /// The direction whose conflicts decide the exit code (plan) or that is applied (apply).
    #[arg(long, value_enum, default_value = "push")]
    direction: DirectionArg,
    /// Move protected labels on a push, as an administrator; the audit log records the override.
    #[arg(long)]
    force: bool,
}

impl DirectionArg {
    fn direction(self) -> Direction {
        match self {
            DirectionArg::Push => Direction::Push,
            DirectionArg::Pull => Direction::Pull,
        }
    }
}

/// What `sync` prints as JSON / YAML.
#[derive(Serialize)]
struct Out<'a> {
    folder: String,
    direction: Direction,
    in_sync: bool,
    conflicts: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<&'a sync::ApplyReport>,
    plan: &'a SyncPlan,
}

/// Runs a `sync` subcommand.
pub(crate) async fn run(ctx: &Context, command: SyncCommand) -> anyhow::Result<Outcome> {
    let (args, apply) = match command {
        SyncCommand::Plan(args) => (args, false),
        SyncCommand::Apply(args) => (args, true),
    };
    let direction = args.direction.direction();
    if args.dir.is_file() {
        return Err(hinted(
            anyhow::anyhow!("{} is a file; sync works on a prompt folder", args.dir.display()),
            "give the folder `prompt-manager export DIR` writes (`<id>/<version>.yaml` files)",
        ));
    }
    let pm = ctx.pm().await?;
    let folder = DirStore::open(&args.dir)?;
    let plan = sync::plan(pm, &folder, args.force).await?;
    let conflicts = plan.conflicts(direction).count();
    let name = args.dir.display().to_string();
    let mut applied = None;
    if apply && conflicts == 0 && plan.action_count(direction) > 0 {
        applied = Some(sync::apply(pm, &folder, &plan, direction, args.force).await?);
    }
    let out = Out {
        folder: name.clone(),
        direction,
        in_sync: plan.is_in_sync(),
        conflicts,
        applied: applied.as_ref(),
        plan: &plan,
    };
    ctx.printer
        .emit(&out, || human(ctx, &name, &plan, direction, apply, applied.as_ref()));
    if conflicts > 0 {
        return Ok(Outcome::CheckFailed);
    }
    Ok(Outcome::Success)
}

fn human(
    ctx: &Context,
    name: &str,
    plan: &SyncPlan,
    direction: Direction,
    apply: bool,
    applied: Option<&sync::ApplyReport>,
) -> String {
    use std::fmt::Write as _;
    let p = &ctx.printer;
    let mut out = String::new();
    let store = prompt_manager::redact_url(&ctx.store_url);
    let in_sync = plan.prompts.iter().filter(|p| p.is_in_sync()).count();
    let _ = writeln!(out, "{name} ↔ {store}");
    for (side, title) in [
        (Direction::Push, "push (folder → store)"),
        (Direction::Pull, "pull (store → folder)"),
    ] {
        let actions = plan.action_count(side);
        let conflicts = plan.conflicts(side).count();
        let _ = writeln!(
            out,
            "\n{}: {actions} change{}, {conflicts} conflict{}",
            p.paint(title, Style::Bold),
            if actions == 1 { "" } else { "s" },
            if conflicts == 1 { "" } else { "s" }
        );
        for prompt in &plan.prompts {
            let s = prompt.side(side);
            for action in &s.actions {
                let _ = writeln!(out, "  {:<28} {}", prompt.id.as_str(), action_text(action));
            }
            for conflict in &s.conflicts {
                let _ = writeln!(
                    out,
                    "  {} {}\n      → {}",
                    p.paint("conflict:", Style::Removed),
                    conflict.message,
                    conflict.resolve
                );
            }
        }
    }
    let _ = writeln!(out, "\nin sync: {in_sync} of {} prompts", plan.prompts.len());
    let conflicts = plan.conflicts(direction).count();
    if conflicts > 0 {
        let _ = write!(
            out,
            "{}",
            p.paint(
                &format!(
                    "{conflicts} conflict{} in the {} direction: {}",
                    if conflicts == 1 { "" } else { "s" },
                    direction.name(),
                    if apply {
                        "nothing was changed"
                    } else {
                        "`sync apply` would change nothing"
                    }
                ),
                Style::Removed
            )
        );
    } else if let Some(report) = applied {
        let _ = write!(
            out,
            "{}",
            p.paint(
                &format!(
                    "{}: created {} version{}, moved {} label{}",
                    if direction == Direction::Push {
                        "Pushed"
                    } else {
                        "Pulled"
                    },
                    report.created.len(),
                    if report.created.len() == 1 { "" } else { "s" },
                    report.moved.len(),
                    if report.moved.len() == 1 { "" } else { "s" }
                ),
                Style::Added
            )
        );
    } else if apply {
        let _ = write!(out, "nothing to {}", direction.name());
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn action_text(action: &Action) -> String {
    match action {
        Action::CreateVersion { version, suggested, .. } => {
            let mut text = format!("create {version}");
            if let Some(s) = suggested {
                text.push_str(&format!(
                    "; from {}: {} suggested ({})",
                    s.from,
                    s.bump,
                    s.reasons.join("; ")
                ));
                if s.smaller {
                    text.push_str(" — numbered as a smaller step");
                }
            }
            text
        }
        Action::MoveLabel {
            label,
            from,
            to,
            rollback,
        } => format!(
            "move {label} {} → {to}{}",
            from.as_ref().map_or("(unset)".to_owned(), ToString::to_string),
            if *rollback { " (rollback)" } else { "" }
        ),
    }
}
