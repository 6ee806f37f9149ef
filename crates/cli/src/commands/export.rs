//! `prompt-manager export PATH`: the store's prompts to a YAML library file (a path ending in
//! `.yaml`/`.yml`) or a prompt folder (any other path), with a progress bar for many prompts.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prompt_manager::library;
use prompt_manager::{DirStore, ListQuery};
use serde::Serialize;

use super::list::Filters;
use super::{Context, list_all};
use crate::error::Outcome;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// A library file (`.yaml`/`.yml`) or a folder.
    path: PathBuf,
    /// Every version, not only the latest and the labelled ones.
    #[arg(long)]
    all_versions: bool,
    #[command(flatten)]
    filters: Filters,
}

#[derive(Debug, Serialize)]
struct ExportOut {
    path: String,
    /// `file` (a library) or `folder`.
    kind: &'static str,
    prompts: usize,
    versions: usize,
}

/// A progress bar on stderr (a spinner when the length is unknown), hidden when stderr is not a
/// terminal or with `--quiet`.
pub(crate) fn progress(ctx: &Context, len: Option<u64>, message: &str) -> ProgressBar {
    let bar = match len {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => {
            let spinner = ProgressBar::new_spinner();
            spinner.enable_steady_tick(std::time::Duration::from_millis(100));
            spinner
        }
    };
    if ctx.printer.quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(message.to_owned());
    bar
}

/// Runs `export`.
pub(crate) async fn run(ctx: &Context, args: ExportArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let summaries = list_all(pm, args.filters.query()).await?;
    let bar = progress(ctx, Some(summaries.len() as u64), "exporting");
    let mut entries = Vec::new();
    for summary in &summaries {
        let one = ListQuery {
            id_prefix: Some(summary.id.to_string()),
            ..ListQuery::default()
        };
        let mut found = library::export_entries(pm.store().as_ref(), &one, args.all_versions).await?;
        found.retain(|e| e.prompt.id == summary.id);
        entries.extend(found);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let path = &args.path;
    let name = path.display().to_string();
    let is_file = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let versions = if is_file {
        // An absolute path: the atomic write syncs the file's folder, which must have a name.
        let absolute = std::path::absolute(path).map_err(|e| anyhow::anyhow!("cannot resolve {name}: {e}"))?;
        library::write_library(&absolute, &entries)?;
        entries.len()
    } else {
        let target = DirStore::open(path)?;
        library::export_into(&target, entries, &name).await?
    };
    let out = ExportOut {
        path: name.clone(),
        kind: if is_file { "file" } else { "folder" },
        prompts: summaries.len(),
        versions,
    };
    ctx.printer.emit(&out, || {
        format!(
            "Exported {} prompt{} ({versions} version{}) to {name}\n",
            out.prompts,
            if out.prompts == 1 { "" } else { "s" },
            if versions == 1 { "" } else { "s" }
        )
    });
    Ok(Outcome::Success)
}
