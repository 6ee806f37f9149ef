//! Which files lint reads: every `.yaml`, `.yml` and `.json` file below a folder (hidden
//! entries, `target` and `node_modules` skipped) or one file, read through the library's reader
//! (regular files only, bounded size); and what a file's name and folder say about it in the
//! dir layout (a labels file, a version number, an id).

use std::path::{Path, PathBuf};

use prompt_manager_core::semver::Version;
use prompt_manager_core::{Error, PromptId, Result};

use crate::LABELS_FILE;

/// The extensions lint reads by default: our own prompt files.
pub const PROMPT_EXTENSIONS: [&str; 3] = [".yaml", ".yml", ".json"];

/// Every prompt file below `path` (or `path` itself), sorted, read.
pub(super) fn read(path: &Path) -> Result<Vec<SourceFile>> {
    read_sources(path, &PROMPT_EXTENSIONS)
}

/// Every file below `path` whose name ends with one of `extensions` (ASCII case ignored), or
/// `path` itself, sorted, read: what [`lint_sources`](super::lint_sources) takes, for a caller
/// that reads more kinds of files (other tools' formats) than lint itself.
pub fn read_sources(path: &Path, extensions: &[&str]) -> Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    if path.is_dir() {
        walk(path, Path::new(""), extensions, &mut files)?;
    } else {
        // One file keeps its whole path, so that a version file's folders still name its id
        // (`store/greeting/1.0.0.yaml` belongs to `greeting`).
        files.push(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    }
    files.sort();
    let root = if path.is_dir() {
        path.to_path_buf()
    } else {
        PathBuf::new()
    };
    let sources = files
        .into_iter()
        .map(|relative| {
            let full = root.join(&relative);
            let text = crate::library::read_text_file(&full).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => e.to_string(),
                _ => format!("cannot read it: {e}"),
            });
            SourceFile {
                display: if path.is_dir() {
                    path.join(&relative).display().to_string()
                } else {
                    path.display().to_string()
                },
                relative,
                text,
            }
        })
        .collect();
    Ok(sources)
}

/// A file to lint: its name for messages, its place below the linted folder (which decides
/// what a version file's id must be), and its text or why it could not be read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name in messages.
    pub display: String,
    /// The path below the linted folder (`support/triage/1.0.0.yaml`).
    pub relative: PathBuf,
    /// The text, or why it could not be read.
    pub text: std::result::Result<String, String>,
}

fn walk(root: &Path, relative: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(relative);
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::InvalidFile {
        file: dir.display().to_string(),
        line: None,
        column: None,
        message: format!("cannot list the folder: {e}"),
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || name == "target" || name == "node_modules" || name == crate::AUDIT_DIR {
            continue;
        }
        let path = relative.join(name);
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            walk(root, &path, extensions, out)?;
        } else if extensions
            .iter()
            .any(|ext| name.to_ascii_lowercase().ends_with(&ext.to_ascii_lowercase()))
        {
            out.push(path);
        }
    }
    Ok(())
}

pub(super) fn is_labels_file(file: &SourceFile) -> bool {
    file.relative.file_name().is_some_and(|n| n == LABELS_FILE)
}

/// The id a file's folder stands for in the dir layout (`support/triage/1.0.0.yaml` →
/// `support/triage`), when it is a valid id.
pub(super) fn folder_id(file: &SourceFile) -> Option<PromptId> {
    let parent = file.relative.parent()?;
    let text = parent.to_str()?.replace('\\', "/");
    PromptId::new(text).ok()
}

/// `1.2.0.yaml` → 1.2.0.
pub(super) fn version_file_number(file: &SourceFile) -> Option<Version> {
    let name = file.relative.file_name()?.to_str()?;
    Version::parse(name.strip_suffix(".yaml")?).ok()
}
