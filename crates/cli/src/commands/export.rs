//! `prompt-manager export PATH`: the store's prompts to a YAML library file (a path ending in
//! `.yaml`/`.yml`), a prompt folder (any other path), or with `--format` a folder of another
//! tool's files (Langfuse's prompt JSON, Prompty's `.prompty`, MLflow's prompt versions, Dotprompt's
//! `.prompt`), with a
//! progress bar for many
//! prompts.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prompt_manager::LabelName;
use prompt_manager::interop::{self, Format};
use prompt_manager::library::{self, LibraryEntry};
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
    /// Write another tool's files into the folder PATH: `langfuse` (one JSON file per prompt,
    /// its versions as Langfuse's API returns them), `mlflow` (one JSON file per prompt, its
    /// versions as MLflow's `PromptVersion` holds them; `tools/mlflow-prompts.py load` registers
    /// them), `prompty` (one `.prompty` file per prompt: of the version `--label` points at,
    /// else the latest) or `dotprompt` (one `.prompt` file per Handlebars prompt, likewise; a
    /// prompt another includes is written as the partial `_name.prompt`).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
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
    let label = args.filters.label().cloned();
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
    if let Some(format) = args.format.as_deref() {
        let format = Format::parse(format)?;
        return write_foreign(ctx, format, (&args.path, label.as_ref()), entries, summaries.len());
    }
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

/// Writes `entries` as `format`'s files into the folder `args.path`.
fn write_foreign(
    ctx: &Context,
    format: Format,
    (path, label): (&std::path::Path, Option<&LabelName>),
    entries: Vec<LibraryEntry>,
    prompts: usize,
) -> anyhow::Result<Outcome> {
    let name = path.display().to_string();
    if path.is_file() {
        anyhow::bail!("{name} is a file; `export --format {format}` writes a folder of files");
    }
    // Langfuse and MLflow keep every version given; a label only chooses Prompty's one version.
    let given = entries.iter().filter(|e| e.prompt.syntax == format.syntax()).count();
    let written = interop::export_library(format, entries, label)?;
    // A file already there with other content is not overwritten: nothing is written then.
    let differing: Vec<String> = written
        .files
        .iter()
        .map(|file| path.join(&file.path))
        .zip(&written.files)
        .filter(|(target, file)| std::fs::read_to_string(target).is_ok_and(|old| old != file.text))
        .map(|(target, _)| target.display().to_string())
        .collect();
    if !differing.is_empty() {
        anyhow::bail!(
            "{} already exist{} with other content; export into an empty folder, or remove {} first",
            differing.join(", "),
            if differing.len() == 1 { "s" } else { "" },
            if differing.len() == 1 { "it" } else { "them" }
        );
    }
    for file in &written.files {
        let target = path.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        // Whole or not at all: a temporary file beside it, renamed into place.
        let temporary = target.with_extension(format!("{}.tmp", format.extension()));
        std::fs::write(&temporary, &file.text)
            .and_then(|()| std::fs::rename(&temporary, &target))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
    }
    for warning in &written.warnings {
        ctx.printer.note(&format!("warning: {warning}"));
    }
    let versions = if format.keeps_versions() {
        given
    } else {
        written.files.len()
    };
    let out = ExportOut {
        path: name.clone(),
        kind: "folder",
        prompts: written.files.len().min(prompts),
        versions,
    };
    ctx.printer.emit(&out, || {
        format!(
            "Exported {} prompt{} ({versions} version{}) to {name} as {format}\n",
            out.prompts,
            if out.prompts == 1 { "" } else { "s" },
            if versions == 1 { "" } else { "s" }
        )
    });
    Ok(Outcome::Success)
}
