//! `prompt-manager import PATH`: a YAML library file or a prompt folder into the store, all or
//! nothing (one bad entry refuses the whole import, naming its file, line and column).

use std::path::{Path, PathBuf};

use clap::Args;
use prompt_manager::library::{self, LibraryEntry};
use prompt_manager::{DirStore, ListQuery};
use serde::Serialize;

use super::Context;
use crate::error::{Outcome, hinted};

/// Arguments of `import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// A library file (`.yaml`, with a `prompts:` list) or a folder: the `dir://` layout
    /// (`<id>/<version>.yaml`, every version), or else prompt files (`.yaml`, `.yml`, `.json`,
    /// one prompt each, as `init` writes and `lint` checks).
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

/// The prompt files below `dir` (hidden files and folders skipped), in path order, each as an
/// entry without a version: 1.0.0 for a new prompt, the next minor version for changed content.
fn prompt_files(dir: &Path) -> anyhow::Result<Vec<LibraryEntry>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let read = std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
        for entry in read {
            let entry = entry.map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
            let path = entry.path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            // Not followed through a symlink, as lint does: a link to a parent folder would loop.
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                walk(&path, out)?;
            } else if path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    files
        .iter()
        .map(|file| {
            let text = super::read_file(file)?;
            let prompt = library::parse_prompt(&text, &file.display().to_string())?;
            Ok(LibraryEntry {
                prompt,
                version: None,
                labels: Vec::new(),
                status: None,
                changelog: String::new(),
                author: None,
                created_at: None,
                position: (1, 1),
            })
        })
        .collect()
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
    let read = async {
        if !path.is_dir() {
            return Ok::<_, anyhow::Error>(library::read_library(path)?);
        }
        let source = DirStore::open(path)?;
        let entries = library::export_entries(&source, &ListQuery::default(), true).await?;
        if !entries.is_empty() {
            return Ok(entries);
        }
        prompt_files(path)
    };
    let entries: Vec<LibraryEntry> = match read.await {
        Ok(entries) => entries,
        Err(e) => {
            spinner.finish_and_clear();
            return Err(e);
        }
    };
    if entries.is_empty() {
        spinner.finish_and_clear();
        return Err(hinted(
            anyhow::anyhow!("{name} holds no prompts: no `<id>/<version>.yaml` versions and no prompt files"),
            "import a library file (`prompt-manager export library.yaml` writes one), a dir:// folder, \
             or a folder of prompt files (`.yaml`, `.yml`, `.json`)"
                .to_owned(),
        ));
    }
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
