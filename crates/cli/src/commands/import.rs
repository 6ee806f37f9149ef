//! `prompt-manager import PATH`: a YAML library file or a prompt folder into the store, all or
//! nothing (one bad entry refuses the whole import, naming its file, line and column).

use std::path::PathBuf;

use clap::Args;
use prompt_manager::library::{self, LibraryEntry};
use prompt_manager::{DirStore, ListQuery};
use serde::Serialize;

use super::Context;
use crate::error::Outcome;

/// Arguments of `import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// A library file (`.yaml`, with a `prompts:` list) or a prompt folder (`dir://` layout).
    path: PathBuf,
}

/// One imported or unchanged version.
#[derive(Debug, Serialize)]
pub(crate) struct VersionRef {
    /// The prompt.
    pub(crate) id: String,
    /// The version.
    pub(crate) version: String,
}

#[derive(Debug, Serialize)]
struct ImportOut {
    source: String,
    created: Vec<VersionRef>,
    unchanged: Vec<VersionRef>,
}

/// Runs `import`.
pub(crate) async fn run(ctx: &Context, args: ImportArgs) -> anyhow::Result<Outcome> {
    let path = &args.path;
    if !path.exists() {
        return Err(anyhow::anyhow!("{} does not exist", path.display()));
    }
    let pm = ctx.pm().await?;
    let name = path.display().to_string();
    let spinner = super::export::progress(ctx, None, "reading");
    let entries: Vec<LibraryEntry> = if path.is_dir() {
        let source = DirStore::open(path)?;
        library::export_entries(&source, &ListQuery::default(), true).await?
    } else {
        library::read_library(path)?
    };
    let prompts = entries
        .iter()
        .map(|e| &e.prompt.id)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    spinner.set_message(format!("importing {} versions of {prompts} prompts", entries.len()));
    let report = library::import_entries(pm, entries, &name).await;
    spinner.finish_and_clear();
    let report = report?;
    let refs = |items: &[(prompt_manager::PromptId, prompt_manager::semver::Version)]| {
        items
            .iter()
            .map(|(id, v)| VersionRef {
                id: id.to_string(),
                version: v.to_string(),
            })
            .collect::<Vec<_>>()
    };
    let out = ImportOut {
        source: name.clone(),
        created: refs(&report.created),
        unchanged: refs(&report.unchanged),
    };
    ctx.printer.emit(&out, || {
        let mut text = format!(
            "Imported {name}: {} new version{}, {} unchanged\n",
            out.created.len(),
            if out.created.len() == 1 { "" } else { "s" },
            out.unchanged.len()
        );
        if ctx.printer.verbose {
            for r in &out.created {
                text.push_str(&format!("  + {}@{}\n", r.id, r.version));
            }
        }
        text
    });
    Ok(Outcome::Success)
}
