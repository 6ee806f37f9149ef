//! `prompt-manager import PATH`: a YAML library file, a prompt folder, or other tools' files
//! (Langfuse's prompt JSON, Prompty's `.prompty`, MLflow's prompt versions, Dotprompt's `.prompt`) into the store, all or nothing (one bad entry
//! refuses the whole import, naming its file, line and column).

use std::path::{Path, PathBuf};

use clap::Args;
use prompt_manager::interop::{self, Format};
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
    /// one prompt each, as `init` writes and `lint` checks), Langfuse prompt JSON files, MLflow
    /// prompt version JSON files, Prompty `.prompty` files and Dotprompt `.prompt` files (a
    /// partial `_name.prompt` is the prompt `name`), each recognised by its extension and content.
    path: PathBuf,
    /// Read every file with this format's extension (`.json` for `langfuse` and `mlflow`,
    /// `.prompty` for `prompty`, `.prompt` for `dotprompt`) as this format, instead of recognising it by its content.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
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

/// The format `file` is read as: `forced` (from `--format`) for a file with that format's
/// extension, else what its extension and content say.
fn format_of(file: &Path, text: &str, forced: Option<Format>) -> Option<Format> {
    let extension = file.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match forced {
        Some(format) if extension.as_deref() == Some(format.extension()) => Some(format),
        _ => Format::detect(file, text),
    }
}

/// Reads one file's `text`: another tool's (named `name` in messages; a Prompty file's id is
/// `name` without its extension) or one of our prompt files. Warnings go to `warnings`.
fn read_one(
    file: &Path,
    text: &str,
    name: &str,
    forced: Option<Format>,
    warnings: &mut Vec<interop::Warning>,
) -> anyhow::Result<Vec<LibraryEntry>> {
    if let Some(format) = format_of(file, text, forced) {
        let read = interop::import(format, text, name)?;
        warnings.extend(read.warnings);
        return Ok(read.entries.into_iter().map(interop::library_entry).collect());
    }
    let prompt = library::parse_prompt(text, &file.display().to_string())?;
    Ok(vec![LibraryEntry {
        prompt,
        version: None,
        labels: Vec::new(),
        status: None,
        changelog: String::new(),
        author: None,
        created_at: None,
        position: (1, 1),
    }])
}

/// The prompt files below `dir` (hidden files and folders skipped), in path order: ours (each an
/// entry without a version: 1.0.0 for a new prompt, the next minor version for changed content),
/// Langfuse's and MLflow's JSON, Prompty's `.prompty` and Dotprompt's `.prompt` (such a file's id is its path below `dir`).
fn prompt_files(
    dir: &Path,
    forced: Option<Format>,
    warnings: &mut Vec<interop::Warning>,
) -> anyhow::Result<Vec<LibraryEntry>> {
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
            } else {
                let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
                if let Some("yaml" | "yml" | "json" | "prompty" | "prompt") = extension.as_deref() {
                    out.push(path);
                }
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut entries = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(dir)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let text = super::read_file(file)?;
        entries.extend(read_one(file, &text, &relative, forced, warnings)?);
    }
    Ok(entries)
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
    let forced = args.format.as_deref().map(Format::parse).transpose()?;
    let mut warnings = Vec::new();
    let read = async {
        if !path.is_dir() {
            // Read once, as `read_library` would (an unreadable file is the same error).
            let text = library::read_text_file(path).map_err(|e| prompt_manager::Error::InvalidFile {
                file: name.clone(),
                line: None,
                column: None,
                message: format!("cannot read it: {e}"),
            })?;
            if format_of(path, &text, forced).is_some() {
                // A lone Prompty file's id is its name without the extension.
                let file_name = path
                    .file_name()
                    .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
                return read_one(path, &text, &file_name, forced, &mut warnings);
            }
            return Ok::<_, anyhow::Error>(library::parse_library(&text, &name)?);
        }
        if forced.is_none() {
            let source = DirStore::open(path)?;
            let entries = library::export_entries(&source, &ListQuery::default(), true).await?;
            if !entries.is_empty() {
                return Ok(entries);
            }
        }
        prompt_files(path, forced, &mut warnings)
    };
    let entries: Vec<LibraryEntry> = match read.await {
        Ok(entries) => entries,
        Err(e) => {
            spinner.finish_and_clear();
            return Err(e);
        }
    };
    for warning in &warnings {
        ctx.printer.note(&format!("warning: {warning}"));
    }
    if entries.is_empty() {
        spinner.finish_and_clear();
        return Err(hinted(
            anyhow::anyhow!("{name} holds no prompts: no `<id>/<version>.yaml` versions and no prompt files"),
            "import a library file (`prompt-manager export library.yaml` writes one), a dir:// folder, \
             or a folder of prompt files (`.yaml`, `.yml`, `.json`, Langfuse or MLflow `.json`, `.prompty`, `.prompt`)"
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
