//! `prompt-manager label set|split|remove|list|history|protect|unprotect`: labels are named
//! pointers to versions (`production`, `staging`), or A/B splits over several weighted versions;
//! every move is recorded in the label's history and the audit log. A protected label moves only with `--force`, which the audit log records.

use clap::{Args, Subcommand};
use prompt_manager::{Authority, LabelEvent, LabelEventKind, PromptManager, Split};
use serde::Serialize;

use super::{Context, when};
use crate::error::Outcome;

/// The label commands.
#[derive(Debug, Subcommand)]
pub(crate) enum LabelCommand {
    /// Point a label at a version: `label set greeting production 1.1.0`. On an A/B split label
    /// this ends the test: the label serves that one version.
    Set(SetArgs),
    /// Make a label an A/B split of weighted versions: `label split greeting production
    /// 1.2.0=90 1.3.0=10`. Renders by the label then pick a variant (sticky per --split-key).
    Split(SplitArgs),
    /// Remove a label.
    Remove(ForceArgs),
    /// Protect a label: moving, removing or rolling it back then needs --force (or an admin key).
    Protect(LabelArgs),
    /// Lift a label's protection (needs --force).
    Unprotect(ForceArgs),
    /// The labels of a prompt and the versions they point to.
    List(IdArgs),
    /// Where a prompt's labels moved: who, when, from, to.
    History(HistoryArgs),
}

/// Arguments of `label set`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// The prompt id.
    id: String,
    /// The label.
    label: String,
    /// The version (`1.1.0`).
    version: String,
    /// Move it even if it is protected, as an administrator; the audit log records the override.
    #[arg(long)]
    force: bool,
}

/// Arguments of `label split`.
#[derive(Debug, Args)]
pub(crate) struct SplitArgs {
    /// The prompt id.
    id: String,
    /// The label.
    label: String,
    /// The variants, `VERSION=WEIGHT` each (2 to 10 distinct versions, whole weights from 1):
    /// `1.2.0=90 1.3.0=10`. A version's share is its weight over the sum of the weights.
    #[arg(value_name = "VERSION=WEIGHT", required = true, num_args = 1..)]
    variants: Vec<String>,
    /// Change it even if it is protected, as an administrator; the audit log records the override.
    #[arg(long)]
    force: bool,
}

/// A prompt and a label, for a change a protection may refuse.
#[derive(Debug, Args)]
pub(crate) struct ForceArgs {
    /// The prompt id.
    id: String,
    /// The label.
    label: String,
    /// Do it even if the label is protected, as an administrator; the audit log records the override.
    #[arg(long)]
    force: bool,
}

/// A prompt and a label.
#[derive(Debug, Args)]
pub(crate) struct LabelArgs {
    /// The prompt id.
    id: String,
    /// The label.
    label: String,
}

/// A prompt id.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The prompt id.
    id: String,
}

/// Arguments of `label history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The prompt id.
    id: String,
    /// Only this label's moves.
    #[arg(long, short = 'l')]
    label: Option<String>,
}

/// A label move as `label set`, `label remove` and `rollback` print it.
#[derive(Debug, Serialize)]
pub(crate) struct MoveOut {
    /// The prompt.
    pub(crate) id: String,
    /// The label.
    pub(crate) label: String,
    /// Where it pointed before.
    pub(crate) from: Option<String>,
    /// Where it points now (`null` when removed); the primary version of a split.
    pub(crate) to: Option<String>,
    /// The split it was, when it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from_split: Option<Split>,
    /// The split it is now, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) to_split: Option<Split>,
    /// Whether it moved (`false`: it already pointed there).
    pub(crate) changed: bool,
    /// `set`, `rollback` or `remove`.
    pub(crate) kind: Option<LabelEventKind>,
    /// Whether `--force` overrode a protection (recorded in the audit log).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) forced: bool,
    /// Prompt versions that include this prompt by this label (`a@1.0.0`): what the move changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) followers: Vec<String>,
}

impl MoveOut {
    /// The output for an event.
    pub(crate) fn of(id: &str, event: &LabelEvent) -> Self {
        MoveOut {
            id: id.to_owned(),
            label: event.label.to_string(),
            from: event.from.as_ref().map(ToString::to_string),
            to: event.to.as_ref().map(ToString::to_string),
            from_split: event.from_split.clone(),
            to_split: event.to_split.clone(),
            changed: true,
            kind: Some(event.kind),
            forced: false,
            followers: Vec::new(),
        }
    }

    /// `production: 1.0.0 → 1.1.0`, `production: 1.0.0 → split 1.0.0=90 1.1.0=10`.
    pub(crate) fn human(&self) -> String {
        let show = |v: &Option<String>, split: &Option<Split>| match split {
            Some(split) => format!("split {split}"),
            None => v.clone().unwrap_or_else(|| "(none)".to_owned()),
        };
        if !self.changed {
            return format!(
                "{} {}: already at {}\n",
                self.id,
                self.label,
                show(&self.to, &self.to_split)
            );
        }
        let what = match self.kind {
            Some(LabelEventKind::Rollback) => " (rollback)",
            Some(LabelEventKind::Remove) => " (removed)",
            Some(LabelEventKind::Set) | None => "",
        };
        let mut text = format!(
            "{} {}: {} → {}{what}{}\n",
            self.id,
            self.label,
            show(&self.from, &self.from_split),
            show(&self.to, &self.to_split),
            if self.forced { " (forced)" } else { "" }
        );
        if !self.followers.is_empty() {
            text.push_str(&format!(
                "followed by {} (they include {}@{}): {}\n",
                self.followers.len(),
                self.id,
                self.label,
                self.followers.join(", ")
            ));
        }
        text
    }
}

/// Runs a label command.
pub(crate) async fn run(ctx: &Context, command: LabelCommand) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    match command {
        LabelCommand::Set(args) => {
            let writer = authority(pm, args.force);
            let mut out = match writer.set_label(&args.id, &args.label, &args.version).await? {
                Some(event) => MoveOut::of(&args.id, &event),
                None => MoveOut {
                    id: args.id.clone(),
                    label: args.label.clone(),
                    from: Some(args.version.clone()),
                    to: Some(args.version.clone()),
                    from_split: None,
                    to_split: None,
                    changed: false,
                    kind: None,
                    forced: false,
                    followers: Vec::new(),
                },
            };
            out.forced = args.force && out.changed;
            if out.changed {
                out.followers = pm
                    .label_followers(&args.id, &args.label)
                    .await?
                    .iter()
                    .map(|d| format!("{}@{}", d.prompt, d.version))
                    .collect();
            }
            ctx.printer.emit(&out, || out.human());
        }
        LabelCommand::Split(args) => {
            let split: Split = args.variants.join(" ").parse()?;
            let writer = authority(pm, args.force);
            let out = match writer.set_split(&args.id, &args.label, split.clone()).await? {
                Some(event) => MoveOut {
                    forced: args.force,
                    ..MoveOut::of(&args.id, &event)
                },
                None => MoveOut {
                    id: args.id.clone(),
                    label: args.label.clone(),
                    from: Some(split.primary().to_string()),
                    to: Some(split.primary().to_string()),
                    from_split: Some(split.clone()),
                    to_split: Some(split),
                    changed: false,
                    kind: None,
                    forced: false,
                    followers: Vec::new(),
                },
            };
            ctx.printer.emit(&out, || out.human());
        }
        LabelCommand::Remove(args) => {
            let event = authority(pm, args.force).remove_label(&args.id, &args.label).await?;
            let mut out = MoveOut::of(&args.id, &event);
            out.forced = args.force;
            ctx.printer.emit(&out, || out.human());
        }
        LabelCommand::Protect(args) => {
            let changed = pm.protect_label(&args.id, &args.label).await?;
            let out = ProtectionOut {
                id: args.id,
                label: args.label,
                protected: true,
                changed,
            };
            ctx.printer.emit(&out, || out.human());
        }
        LabelCommand::Unprotect(args) => {
            let changed = authority(pm, args.force).unprotect_label(&args.id, &args.label).await?;
            let out = ProtectionOut {
                id: args.id,
                label: args.label,
                protected: false,
                changed,
            };
            ctx.printer.emit(&out, || out.human());
        }
        LabelCommand::List(args) => {
            let summary = pm.summary(&args.id).await?;
            let labels = &summary.labels;
            // JSON stays `{label: version}` (a split label's primary version) when no label is a
            // split; with splits, each split label's value is its variants.
            let json: serde_json::Value = if summary.splits.is_empty() {
                serde_json::to_value(labels)?
            } else {
                labels
                    .iter()
                    .map(|(l, v)| {
                        let value = match summary.splits.get(l) {
                            Some(split) => serde_json::to_value(split),
                            None => serde_json::to_value(v),
                        };
                        value.map(|value| (l.to_string(), value))
                    })
                    .collect::<Result<serde_json::Map<_, _>, _>>()?
                    .into()
            };
            ctx.printer.emit(&json, || {
                if labels.is_empty() {
                    return format!("{} has no labels; set one with `prompt-manager label set`\n", args.id);
                }
                let rows = labels
                    .iter()
                    .map(|(l, v)| match summary.splits.get(l) {
                        Some(split) => vec![l.to_string(), format!("split {split}")],
                        None => vec![l.to_string(), v.to_string()],
                    })
                    .collect();
                ctx.printer.table(&["LABEL", "VERSION"], rows)
            });
        }
        LabelCommand::History(args) => {
            let events = pm.label_history(&args.id, args.label.as_deref()).await?;
            ctx.printer.emit(&events, || {
                if events.is_empty() {
                    return format!("{} has no label moves yet\n", args.id);
                }
                let show = |target: Option<prompt_manager::LabelTarget>| {
                    target.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string)
                };
                let rows = events
                    .iter()
                    .map(|e| {
                        vec![
                            when(&e.at),
                            e.label.to_string(),
                            e.kind.to_string(),
                            show(e.from_target()),
                            show(e.to_target()),
                            e.actor.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                ctx.printer
                    .table_keeping(&["WHEN", "LABEL", "KIND", "FROM", "TO", "BY"], rows, 5)
            });
        }
    }
    Ok(Outcome::Success)
}

/// What `label protect` and `label unprotect` print.
#[derive(Debug, Serialize)]
struct ProtectionOut {
    id: String,
    label: String,
    protected: bool,
    changed: bool,
}

impl ProtectionOut {
    fn human(&self) -> String {
        match (self.protected, self.changed) {
            (true, true) => format!(
                "{} {}: protected; moving, removing or rolling it back now needs --force\n",
                self.id, self.label
            ),
            (true, false) => format!("{} {}: already protected\n", self.id, self.label),
            (false, true) => format!("{} {}: no longer protected\n", self.id, self.label),
            (false, false) => format!("{} {}: was not protected\n", self.id, self.label),
        }
    }
}

/// The manager as the command writes: with `--force`, as an administrator whose override the
/// audit log records.
pub(crate) fn authority(pm: &PromptManager, force: bool) -> PromptManager {
    if force {
        pm.with_authority(Authority::Forced)
    } else {
        pm.clone()
    }
}
