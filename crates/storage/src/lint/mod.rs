//! Lint: checks a folder of prompt files the way a compiler checks code, and says what is wrong
//! at `file:line:column`. It is what `prompt-manager lint` runs, in CI or a pre-commit hook.
//!
//! A folder may mix three kinds of files (`.yaml`, `.yml`, `.json`; hidden entries and a store's
//! `_audit/` log are skipped):
//! - the layout of a `dir://` store: `<id>/<semver>.yaml` version files (`prompt:` and the
//!   version's record) and `_labels.yaml`;
//! - library files: a `prompts:` list of entries (what `export` writes and `import` reads);
//! - single-prompt files: `id`, `template` and the prompt's other fields.
//!
//! Checks, each reported once where the mistake is:
//! - `yaml`: the file does not parse, or a field has the wrong shape (the storage crate's parsers,
//!   with their positions);
//! - `invalid_id`: an id breaks the id rules; `id_mismatch` / `version_mismatch`: a version file
//!   disagrees with its folder or file name; `duplicate_version`: a library repeats a version;
//! - `template_syntax`: a template does not parse (line and column inside the file);
//! - `undefined_variable`: a template reads a variable its `input_schema` does not declare;
//!   `unused_variable` (a warning): the schema declares a variable nothing reads;
//! - `unresolved_include`: `{% include "x" %}` names a prompt, version or label the folder lacks;
//!   `include_cycle`: includes that come back to where they started;
//! - `unresolved_label`: a `_labels.yaml` label points to a version that has no file;
//! - `not_a_prompt` (a warning): a YAML file that is none of the three kinds.
//!
//! Lint reads the formats this crate defines (the dir layout, libraries, single-prompt files)
//! with the parsers of [`source`](crate::source), and asks the template engine, given as
//! the engines (one per syntax, [`Engines`]), what each template includes and reads and where
//! ([`TemplateEngine::scan`](prompt_manager_core::TemplateEngine::scan)); so a custom engine gets lint too. Nothing is written: the folder
//! is read only. The umbrella re-exports this module as `prompt_manager::lint`.
//!
//! What lives where: `files` finds and reads the files, `units` finds the prompts in them and
//! checks each one's templates, `checks` the cross-file checks (labels, includes, variables),
//! `position` maps a place in a template to its place in the file, `report` the findings.
//!
//! ```
//! # fn main() -> prompt_manager_core::Result<()> {
//! let folder = tempfile::tempdir().expect("a temporary folder");
//! std::fs::write(
//!     folder.path().join("greeting.yaml"),
//!     "id: greeting\ntemplate: |\n  Hello {{ name }}!\n  {{ tone }\ninput_schema:\n  - name: name\n",
//! )
//! .expect("written");
//! let engine = prompt_manager_template::MiniJinjaEngine::new();
//! let report = prompt_manager_storage::lint::lint_path(&engine.into(), folder.path())?;
//! assert_eq!(report.errors, 1);
//! let d = &report.diagnostics[0];
//! assert_eq!((d.code, d.line), ("template_syntax", 4));
//! # Ok(()) }
//! ```

mod checks;
mod files;
mod position;
mod report;
#[cfg(test)]
mod tests;
mod units;

use std::path::Path;

use prompt_manager_core::{Engines, Result};

use crate::source::{YamlNode, parse_labels_file, parse_tree};

use files::is_labels_file;
pub use files::{PROMPT_EXTENSIONS, SourceFile, read_sources};
use position::LineIndex;
use report::Linter;
pub use report::{Diagnostic, LintReport, Severity};
use units::{Known, collect_units};

/// Lints a folder (every prompt file below it) or one file, asking `engine` about templates.
///
/// Fails only when the path cannot be read at all; everything wrong inside files is a
/// [`Diagnostic`].
pub fn lint_path(engines: &Engines, path: &Path) -> Result<LintReport> {
    Ok(lint_sources(engines, &files::read(path)?))
}

/// Lints files already read (see [`SourceFile`]); [`lint_path`] reads them from a folder.
pub fn lint_sources(engines: &Engines, files: &[SourceFile]) -> LintReport {
    let mut linter = Linter::new(engines);
    let mut known = Known::default();
    let mut label_targets = Vec::new();
    // Parse every file first (trees must outlive the units that point into them).
    let mut trees: Vec<Option<YamlNode>> = Vec::with_capacity(files.len());
    for file in files {
        let tree = match &file.text {
            Err(reason) => {
                linter.report(file, (1, 1), Severity::Error, "io", reason.clone());
                None
            }
            Ok(text) if is_labels_file(file) => {
                match parse_labels_file(text, &file.display) {
                    Ok(labels) => {
                        // Where each label's version is written, to point at a wrong one.
                        let tree = parse_tree(text, &file.display).ok();
                        for (label, version) in labels {
                            let at = tree
                                .as_ref()
                                .and_then(|t| t.get("labels"))
                                .and_then(|l| l.get(label.as_str()))
                                .map_or((1, 1), |n| (n.line, n.column));
                            label_targets.push((file, label, version, at));
                        }
                    }
                    Err(e) => linter.report_error(file, (1, 1), "yaml", e),
                }
                None
            }
            Ok(text) => match parse_tree(text, &file.display) {
                Ok(tree) => Some(tree),
                Err(e) => {
                    linter.report_error(file, (1, 1), "yaml", e);
                    None
                }
            },
        };
        trees.push(tree);
    }
    // Where each line starts, once per file: positions inside templates are found from it.
    let indexes: Vec<LineIndex> = files
        .iter()
        .zip(&trees)
        .map(|(file, tree)| match (tree, &file.text) {
            (Some(_), Ok(text)) => LineIndex::new(text),
            _ => LineIndex::default(),
        })
        .collect();
    let mut units = Vec::new();
    for ((file, tree), lines) in files.iter().zip(&trees).zip(&indexes) {
        let (Some(tree), Ok(text)) = (tree, &file.text) else {
            continue;
        };
        collect_units(&mut linter, &mut known, file, (text, lines), tree, &mut units);
    }
    for unit in &mut units {
        units::check_templates(&mut linter, unit);
    }
    checks::check_labels(&mut linter, &mut known, &units, label_targets);
    checks::check_includes(&mut linter, &known, &units);
    checks::check_variables(&mut linter, &units);
    linter.finish(files.len())
}
