//! Import and export: YAML library files and prompt folders, into and out of any store.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> prompt_manager::Result<()> {
//! use prompt_manager::library::{self, ExportOptions};
//!
//! let folder = tempfile::tempdir().expect("a temporary folder");
//! let file = folder.path().join("prompts.yaml");
//! std::fs::write(&file, "prompts:\n  - id: greeting\n    template: Hello {{ name }}!\n    labels: [production]\n")
//!     .expect("written");
//!
//! let pm = prompt_manager::in_memory();
//! let report = library::import(&pm, &file).await?;
//! assert_eq!(report.created.len(), 1);
//! assert_eq!(pm.get("greeting@production").await?.version.to_string(), "1.0.0");
//!
//! // Out again, as a folder a person can review in git.
//! let exported = folder.path().join("exported");
//! library::export(&pm, &exported, &ExportOptions::default()).await?;
//! assert!(exported.join("greeting/1.0.0.yaml").exists());
//! # Ok(()) }
//! ```

use std::path::Path;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{Error, ListQuery, PromptId, PromptManager, Result, Store};
use prompt_manager_storage::DirStore;
pub use prompt_manager_storage::library::{
    ImportPlan, LibraryEntry, MAX_FILE_BYTES, export_entries, parse_library, plan_import, read_library, read_text,
    read_text_file, render_library, write_library,
};
/// One prompt file (`id`, `template`, …) and one version file of a `dir://` store, parsed with
/// errors that carry the file, line and column (what `prompt-manager create FILE` reads).
pub use prompt_manager_storage::source::{parse_prompt, parse_version_file};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The versions created, in order.
    pub created: Vec<(PromptId, Version)>,
    /// Entries the store already held with the same content.
    pub unchanged: Vec<(PromptId, Version)>,
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Which prompts (tags, status, id prefix; pagination fields are ignored).
    pub query: ListQuery,
    /// Every version, not only the latest and the labelled ones.
    pub all_versions: bool,
}

/// Imports a library file (`.yaml`/`.yml`) or a prompt folder (a `dir://` store) into the
/// manager's store, all or nothing: one bad entry refuses everything, naming the file, line and
/// column, and the store is unchanged.
pub async fn import(pm: &PromptManager, path: impl AsRef<Path>) -> Result<ImportReport> {
    let path = path.as_ref();
    let (entries, file) = if path.is_dir() {
        let source = DirStore::open(path)?;
        (
            export_entries(&source, &ListQuery::default(), true).await?,
            path.display().to_string(),
        )
    } else {
        (read_library(path)?, path.display().to_string())
    };
    import_entries(pm, entries, &file).await
}

/// Imports already parsed entries (see [`import`]); `file` names them in errors.
pub async fn import_entries(pm: &PromptManager, entries: Vec<LibraryEntry>, file: &str) -> Result<ImportReport> {
    check_templates(pm, &entries, file)?;
    let plan = plan_import(pm.store().as_ref(), entries, file, pm.actor()).await?;
    let created = plan
        .requests
        .iter()
        .map(|r| (r.version.prompt.id.clone(), r.version.version.clone()))
        .collect();
    pm.save_all(plan.requests).await?;
    Ok(ImportReport {
        created,
        unchanged: plan.unchanged,
    })
}

/// Checks that every entry's template parses, naming the entry where it does not.
fn check_templates(pm: &PromptManager, entries: &[LibraryEntry], file: &str) -> Result<()> {
    for (index, entry) in entries.iter().enumerate() {
        let id = &entry.prompt.id;
        for (part, source) in entry.prompt.template.named_sources(id.as_str()) {
            if let Err(e) = pm
                .engine_of(&entry.prompt)
                .and_then(|engine| engine.validate(&part, source))
            {
                let (line, column) = entry.position;
                return Err(Error::InvalidFile {
                    file: file.to_owned(),
                    line: (line > 0).then_some(line),
                    column: (column > 0).then_some(column),
                    message: format!("entry {} (`{id}`): {e}", index + 1),
                });
            }
        }
    }
    Ok(())
}

/// Exports the manager's prompts to a library file (a path ending in `.yaml`/`.yml`) or to a
/// prompt folder (any other path), and returns how many versions were written. A folder that
/// already holds prompts gets what it lacks; a version it holds with other content is refused.
pub async fn export(pm: &PromptManager, path: impl AsRef<Path>, options: &ExportOptions) -> Result<usize> {
    let path = path.as_ref();
    let entries = export_entries(pm.store().as_ref(), &options.query, options.all_versions).await?;
    let is_file = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if is_file {
        let count = entries.len();
        write_library(path, &entries)?;
        return Ok(count);
    }
    let target = DirStore::open(path)?;
    export_into(&target, entries, &path.display().to_string()).await
}

/// Saves entries into another store, all or nothing; returns how many versions were written.
pub async fn export_into(target: &dyn Store, entries: Vec<LibraryEntry>, name: &str) -> Result<usize> {
    let plan = plan_import(target, entries, name, None).await?;
    let count = plan.requests.len();
    target.save_all(plan.requests).await.map_err(|e| match e {
        Error::VersionConflict { .. } => Error::Config(format!("`{name}` changed during the export: {e}")),
        other => other,
    })?;
    Ok(count)
}
