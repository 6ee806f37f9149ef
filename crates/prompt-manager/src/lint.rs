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
//! Lint needs the storage crate's parsers and the template engine, which must not depend on
//! each other; that is why it lives in the umbrella. Nothing is written: the folder is read only.
//!
//! ```
//! # fn main() -> prompt_manager::Result<()> {
//! let folder = tempfile::tempdir().expect("a temporary folder");
//! std::fs::write(
//!     folder.path().join("greeting.yaml"),
//!     "id: greeting\ntemplate: |\n  Hello {{ name }}!\n  {{ tone }\ninput_schema:\n  - name: name\n",
//! )
//! .expect("written");
//! let report = prompt_manager::lint::lint_path(folder.path())?;
//! assert_eq!(report.errors, 1);
//! let d = &report.diagnostics[0];
//! assert_eq!((d.code, d.line), ("template_syntax", 4));
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ChatItem, Error, LabelName, Prompt, PromptId, PromptRef, Result, Selector, Template, TemplateEngine,
};
use prompt_manager_storage::source::{
    YamlNode, parse_labels_file, parse_library_entry, parse_prompt, parse_tree, parse_version_file,
};
use prompt_manager_storage::{AUDIT_DIR, LABELS_FILE};

use crate::MiniJinjaEngine;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The prompt cannot be used as it is: lint fails.
    Error,
    /// Probably a mistake (an unused variable); lint still passes.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the linted path plus the file's place below it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// A stable code (`template_syntax`, `undefined_variable`, … see the module documentation).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// `file:line:column`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.column)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location(), self.severity, self.message)
    }
}

/// What a lint found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    /// How many files were checked.
    pub files: usize,
    /// How many diagnostics are errors.
    pub errors: usize,
    /// How many are warnings.
    pub warnings: usize,
    /// Every finding, by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
}

/// Lints a folder (every prompt file below it) or one file.
///
/// Fails only when the path cannot be read at all; everything wrong inside files is a
/// [`Diagnostic`].
pub fn lint_path(path: &Path) -> Result<LintReport> {
    let mut files = Vec::new();
    if path.is_dir() {
        walk(path, Path::new(""), &mut files)?;
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
        .collect::<Vec<_>>();
    Ok(lint_sources(&sources))
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

fn walk(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
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
        if name.starts_with('.') || name == "target" || name == "node_modules" || name == AUDIT_DIR {
            continue;
        }
        let path = relative.join(name);
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if [".yaml", ".yml", ".json"].iter().any(|ext| name.ends_with(ext)) {
            out.push(path);
        }
    }
    Ok(())
}

/// One prompt found in a file, with where its parts are.
struct Unit<'a> {
    file: &'a SourceFile,
    text: &'a str,
    lines: &'a LineIndex,
    prompt: Prompt,
    /// The node of the prompt's fields (the file, the entry, or `prompt:` of a version file).
    node: &'a YamlNode,
    version: Option<Version>,
    /// Variables read by the templates, with a position of their first use.
    variables: BTreeMap<String, (usize, usize)>,
    /// Included references, with the position of the reference.
    includes: Vec<(String, (usize, usize))>,
    /// Whether a template failed to parse (further template checks are skipped).
    broken: bool,
}

/// What the folder holds, to resolve includes against.
#[derive(Default)]
struct Known {
    versions: BTreeMap<PromptId, BTreeSet<Version>>,
    /// Labels, for prompts whose labels the folder records (dir layout, libraries).
    labels: BTreeMap<PromptId, BTreeSet<LabelName>>,
    /// Ids defined without a version (single-prompt files): any version may be meant.
    unversioned: BTreeSet<PromptId>,
}

struct Linter {
    engine: MiniJinjaEngine,
    diagnostics: Vec<Diagnostic>,
}

impl Linter {
    fn report(
        &mut self,
        file: &SourceFile,
        (line, column): (usize, usize),
        severity: Severity,
        code: &'static str,
        message: String,
    ) {
        self.diagnostics.push(Diagnostic {
            file: file.display.clone(),
            line: line.max(1),
            column: column.max(1),
            severity,
            code,
            message,
        });
    }

    /// Reports a parser's error at its position (or `fallback`).
    fn report_error(&mut self, file: &SourceFile, fallback: (usize, usize), code: &'static str, error: Error) {
        match error {
            Error::InvalidFile {
                line, column, message, ..
            } => {
                let position = (line.unwrap_or(fallback.0), column.unwrap_or(fallback.1));
                let code = if message.contains("invalid prompt id") {
                    "invalid_id"
                } else {
                    code
                };
                self.report(file, position, Severity::Error, code, message);
            }
            other => self.report(file, fallback, Severity::Error, code, other.to_string()),
        }
    }
}

/// Lints files already read (see [`SourceFile`]); [`lint_path`] reads them from a folder.
pub fn lint_sources(files: &[SourceFile]) -> LintReport {
    let mut linter = Linter {
        engine: MiniJinjaEngine::new(),
        diagnostics: Vec::new(),
    };
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
        check_templates(&mut linter, unit);
    }
    // A labels file belongs to the prompt whose version files share its folder (the folder may
    // lie deeper than the id, when the linted path holds a store among other files).
    let mut folders: BTreeMap<&Path, (&PromptId, BTreeSet<&Version>)> = BTreeMap::new();
    for unit in &units {
        if let (Some(folder), Some(version)) = (unit.file.relative.parent(), &unit.version)
            && version_file_number(unit.file).is_some()
        {
            folders
                .entry(folder)
                .or_insert_with(|| (&unit.prompt.id, BTreeSet::new()))
                .1
                .insert(version);
        }
    }
    for (file, label, version, at) in label_targets {
        let folder = file.relative.parent().unwrap_or_else(|| Path::new(""));
        let found = folders.get(folder);
        let id = found.map_or_else(
            || folder_id(file).map_or_else(String::new, |i| i.to_string()),
            |(id, _)| id.to_string(),
        );
        if let Some((prompt, _)) = found {
            known.labels.entry((*prompt).clone()).or_default().insert(label.clone());
        }
        let exists = found.is_some_and(|(_, versions)| versions.contains(&version));
        if !exists {
            linter.report(
                file,
                at,
                Severity::Error,
                "unresolved_label",
                format!("label `{label}` of `{id}` points to version {version}, which has no {version}.yaml here"),
            );
        }
    }
    check_includes(&mut linter, &known, &units);
    check_variables(&mut linter, &units);

    let mut diagnostics = linter.diagnostics;
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.severity, a.code).cmp(&(&b.file, b.line, b.column, b.severity, b.code))
    });
    diagnostics.dedup();
    LintReport {
        files: files.len(),
        errors: diagnostics.iter().filter(|d| d.severity == Severity::Error).count(),
        warnings: diagnostics.iter().filter(|d| d.severity == Severity::Warning).count(),
        diagnostics,
    }
}

fn is_labels_file(file: &SourceFile) -> bool {
    file.relative.file_name().is_some_and(|n| n == LABELS_FILE)
}

/// The id a file's folder stands for in the dir layout (`support/triage/1.0.0.yaml` →
/// `support/triage`), when it is a valid id.
fn folder_id(file: &SourceFile) -> Option<PromptId> {
    let parent = file.relative.parent()?;
    let text = parent.to_str()?.replace('\\', "/");
    PromptId::new(text).ok()
}

/// `1.2.0.yaml` → 1.2.0.
fn version_file_number(file: &SourceFile) -> Option<Version> {
    let name = file.relative.file_name()?.to_str()?;
    Version::parse(name.strip_suffix(".yaml")?).ok()
}

/// Checks the id node of a prompt; `false` when it is invalid (and reported).
fn check_id(linter: &mut Linter, file: &SourceFile, node: &YamlNode) -> bool {
    let Some(id) = node.get("id") else { return true };
    let Some(text) = id.as_str() else { return true };
    match PromptId::new(text) {
        Ok(_) => true,
        Err(e) => {
            linter.report(file, (id.line, id.column), Severity::Error, "invalid_id", e.to_string());
            false
        }
    }
}

fn collect_units<'a>(
    linter: &mut Linter,
    known: &mut Known,
    file: &'a SourceFile,
    (text, lines): (&'a str, &'a LineIndex),
    tree: &'a YamlNode,
    units: &mut Vec<Unit<'a>>,
) {
    let unit = |prompt: Prompt, node: &'a YamlNode, version: Option<Version>| Unit {
        file,
        text,
        lines,
        prompt,
        node,
        version,
        variables: BTreeMap::new(),
        includes: Vec::new(),
        broken: false,
    };
    if let Some(entries) = tree.get("prompts").filter(|_| tree.get("id").is_none()) {
        // A library.
        let mut seen = BTreeSet::new();
        for (index, entry) in entries.items().iter().enumerate() {
            if !check_id(linter, file, entry) {
                continue;
            }
            let position = (entry.line, entry.column);
            match parse_library_entry(entry.to_json(), &file.display, index, position) {
                Ok(parsed) => {
                    let id = parsed.prompt.id.clone();
                    known
                        .labels
                        .entry(id.clone())
                        .or_default()
                        .extend(parsed.labels.iter().cloned());
                    let Some(version) = parsed.version.clone() else {
                        // Entries without a number become successive versions on import.
                        known.unversioned.insert(id);
                        units.push(unit(parsed.prompt, entry, None));
                        continue;
                    };
                    if !seen.insert((id.clone(), version.clone())) {
                        let at = entry.get("version").map_or(position, |v| (v.line, v.column));
                        linter.report(
                            file,
                            at,
                            Severity::Error,
                            "duplicate_version",
                            format!("`{id}` version {version} appears twice in the library"),
                        );
                        continue;
                    }
                    known.versions.entry(id).or_default().insert(version.clone());
                    units.push(unit(parsed.prompt, entry, Some(version)));
                }
                Err(e) => linter.report_error(file, position, "yaml", e),
            }
        }
    } else if let Some(prompt_node) = tree.get("prompt").filter(|_| tree.get("id").is_none()) {
        // A version file of the dir layout.
        if !check_id(linter, file, prompt_node) {
            return;
        }
        match parse_version_file(text, &file.display) {
            Ok((prompt, declared)) => {
                let number = version_file_number(file);
                if let (Some(declared), Some(number)) = (&declared, &number)
                    && declared != number
                {
                    let at = tree.get("version").map_or((1, 1), |v| (v.line, v.column));
                    linter.report(
                        file,
                        at,
                        Severity::Error,
                        "version_mismatch",
                        format!("the file says version {declared} but is named {number}.yaml"),
                    );
                }
                if number.is_some() {
                    let folder = file
                        .relative
                        .parent()
                        .and_then(Path::to_str)
                        .unwrap_or("")
                        .replace('\\', "/");
                    let id = prompt.id.as_str();
                    if folder != id && !folder.ends_with(&format!("/{id}")) {
                        let at = prompt_node.get("id").map_or((1, 1), |n| (n.line, n.column));
                        linter.report(
                            file,
                            at,
                            Severity::Error,
                            "id_mismatch",
                            format!(
                                "the file names prompt `{id}` but lies in the folder `{}`; a dir:// store keeps `{id}` in `{id}/`",
                                if folder.is_empty() { "." } else { &folder }
                            ),
                        );
                    }
                }
                let version = number.or(declared);
                match &version {
                    Some(v) => {
                        known.versions.entry(prompt.id.clone()).or_default().insert(v.clone());
                    }
                    None => {
                        known.unversioned.insert(prompt.id.clone());
                    }
                }
                units.push(unit(prompt, prompt_node, version));
            }
            Err(e) => linter.report_error(file, (prompt_node.line, prompt_node.column), "yaml", e),
        }
    } else if tree.get("id").is_some() {
        // One prompt.
        if !check_id(linter, file, tree) {
            return;
        }
        match parse_prompt(text, &file.display) {
            Ok(prompt) => {
                known.unversioned.insert(prompt.id.clone());
                units.push(unit(prompt, tree, None));
            }
            Err(e) => linter.report_error(file, (tree.line, tree.column), "yaml", e),
        }
    } else {
        linter.report(
            file,
            (1, 1),
            Severity::Warning,
            "not_a_prompt",
            "not a prompt file (expected `id` and `template`, a `prompts:` list, or a version file with `prompt:`); skipped"
                .into(),
        );
    }
}

/// The template sources of a unit with their nodes: the text, or each message's content.
fn sources<'a>(unit: &'a Unit<'_>) -> Vec<(String, &'a str, Option<&'a YamlNode>)> {
    let template_node = unit.node.get("template");
    let name = match &unit.version {
        Some(v) => format!("{}@{v}", unit.prompt.id),
        None => unit.prompt.id.to_string(),
    };
    match &unit.prompt.template {
        Template::Text(text) => vec![(name, text.as_str(), template_node)],
        Template::Chat(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                ChatItem::Message(m) => {
                    let node = template_node
                        .and_then(|t| t.items().get(i))
                        .and_then(|n| n.get("content"));
                    Some((format!("{name} message {}", i + 1), m.content.as_str(), node))
                }
                ChatItem::Placeholder(_) => None,
            })
            .collect(),
    }
}

/// Where each line of a file starts, so that a node's line and column become a byte offset
/// without scanning the file from its top: lint asks for thousands of positions in one library,
/// and a scan per position made it quadratic.
#[derive(Default)]
struct LineIndex {
    /// Byte offset of each line's first character.
    starts: Vec<usize>,
    /// Whether each line is ASCII, where a column in characters is a column in bytes.
    ascii: Vec<bool>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let ascii = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| text[start..starts.get(i + 1).map_or(text.len(), |&end| end)].is_ascii())
            .collect();
        Self { starts, ascii }
    }

    /// The byte offset of 1-based (`line`, `column` in characters), or `None` when the line is
    /// shorter. Constant time on ASCII lines; on others, linear in the column.
    fn offset(&self, text: &str, line: usize, column: usize) -> Option<usize> {
        let (index, column) = (line.saturating_sub(1), column.saturating_sub(1));
        let start = *self.starts.get(index)?;
        let end = self.starts.get(index + 1).map_or(text.len(), |&end| end);
        let content = text[start..end].trim_end_matches('\n').trim_end_matches('\r');
        if self.ascii[index] {
            return (column < content.len()).then_some(start + column);
        }
        content.char_indices().nth(column).map(|(at, _)| start + at)
    }
}

/// Where a position inside a template source lies in the file.
fn file_position(
    (text, lines): (&str, &LineIndex),
    node: Option<&YamlNode>,
    fallback: &YamlNode,
    source: &str,
    (line, column): (usize, usize),
) -> (usize, usize) {
    let Some(node) = node else {
        return (fallback.line, fallback.column);
    };
    let start = lines.offset(text, node.line, node.column);
    match start.and_then(|at| text[at..].chars().next()) {
        Some(quote @ ('"' | '\'')) => {
            // `start` is the quote's offset; the scalar's text follows it.
            let after = start.map_or(0, |at| at + 1);
            quoted_position(&text[after..], node, quote == '"', source, (line, column))
        }
        _ if line <= 1 => (node.line, node.column + column.saturating_sub(1)),
        _ => (node.line + line - 1, node.column + column.saturating_sub(1)),
    }
}

/// The file position of a template position inside a quoted scalar (JSON strings, quoted YAML):
/// walks the raw text after the opening quote (`raw`, the file from there on), decoding escapes
/// (`\n`, `\"`, `\u00e9`, `''`) and folded line breaks, until as many characters as precede the
/// position in the template. Reads no further than the position.
fn quoted_position(
    raw: &str,
    node: &YamlNode,
    double: bool,
    source: &str,
    (line, column): (usize, usize),
) -> (usize, usize) {
    let mut want: usize = source
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum::<usize>()
        + column.saturating_sub(1);
    let mut raw = RawChars::new(raw, (node.line, node.column + 1));
    let is_blank = |ch: char| ch == ' ' || ch == '\t';
    let mut i = 0;
    while want > 0 {
        let Some(current) = raw.get(i) else { break };
        match current.2 {
            '\\' if double => {
                let digits = match raw.get(i + 1).map(|r| r.2) {
                    Some('x') => 2,
                    Some('u') => 4,
                    Some('U') => 8,
                    Some('\n') => {
                        // An escaped line break joins the lines: nothing is decoded.
                        i += 2;
                        while raw.get(i).is_some_and(|r| is_blank(r.2)) {
                            i += 1;
                        }
                        continue;
                    }
                    _ => 0,
                };
                i += 2 + digits;
                want -= 1;
            }
            '\'' if !double => {
                i += 2;
                want -= 1;
            }
            '\n' => {
                // Folding: one break is a space, n > 1 breaks are n - 1 newlines; indentation goes.
                let mut breaks = 0;
                while raw.get(i).is_some_and(|r| r.2 == '\n') {
                    breaks += 1;
                    i += 1;
                    while raw.get(i).is_some_and(|r| is_blank(r.2)) {
                        i += 1;
                    }
                }
                want = want.saturating_sub(if breaks == 1 { 1 } else { breaks - 1 });
            }
            _ => {
                i += 1;
                want -= 1;
            }
        }
    }
    raw.get(i).map_or((node.line, node.column), |r| (r.0, r.1))
}

/// The characters of a file from some place on, each with its 1-based (line, column), a line
/// break as one `\n` (also for `\r\n`); read as far as they are asked for.
struct RawChars<'t> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
    at: (usize, usize),
    read: Vec<(usize, usize, char)>,
}

impl<'t> RawChars<'t> {
    fn new(text: &'t str, at: (usize, usize)) -> Self {
        Self {
            chars: text.chars().peekable(),
            at,
            read: Vec::new(),
        }
    }

    fn get(&mut self, i: usize) -> Option<(usize, usize, char)> {
        while self.read.len() <= i {
            let mut ch = self.chars.next()?;
            if ch == '\r' && self.chars.peek() == Some(&'\n') {
                ch = '\n';
                self.chars.next();
            }
            self.read.push((self.at.0, self.at.1, ch));
            self.at = if ch == '\n' {
                (self.at.0 + 1, 1)
            } else {
                (self.at.0, self.at.1 + 1)
            };
        }
        self.read.get(i).copied()
    }
}

/// 1-based (line, column) of a byte offset in `source`.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Byte ranges of the `{{ … }}` and `{% … %}` tags of a template.
fn tag_ranges(source: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut rest = 0;
    while let Some(start) = source[rest..].find(['{']).map(|i| i + rest) {
        let open = &source[start..];
        let close = if open.starts_with("{{") {
            "}}"
        } else if open.starts_with("{%") {
            "%}"
        } else {
            rest = start + 1;
            continue;
        };
        let end = source[start + 2..]
            .find(close)
            .map_or(source.len(), |i| start + 2 + i + 2);
        ranges.push((start, end));
        rest = end;
    }
    ranges
}

/// The first place `word` appears as a whole identifier inside a tag of `source`.
fn find_identifier(source: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (start, end) in tag_ranges(source) {
        let tag = &source[start..end];
        let mut from = 0;
        while let Some(i) = tag[from..].find(word).map(|i| i + from) {
            let before = tag[..i].chars().next_back();
            let after = tag[i + word.len()..].chars().next();
            if !before.is_some_and(|c| is_ident(c) || c == '.') && !after.is_some_and(is_ident) {
                return Some(start + i);
            }
            from = i + word.len();
        }
    }
    None
}

/// The place of a quoted reference inside a tag of `source`.
fn find_reference(source: &str, reference: &str) -> Option<usize> {
    for (start, end) in tag_ranges(source) {
        let tag = &source[start..end];
        for quote in ['"', '\''] {
            if let Some(i) = tag.find(&format!("{quote}{reference}{quote}")) {
                return Some(start + i);
            }
        }
    }
    None
}

fn check_templates(linter: &mut Linter, unit: &mut Unit<'_>) {
    let mut variables = BTreeMap::new();
    let mut includes = Vec::new();
    let mut broken = false;
    for (name, source, node) in sources(unit) {
        let at = |position: (usize, usize)| file_position((unit.text, unit.lines), node, unit.node, source, position);
        if let Err(e) = linter.engine.validate(&name, source) {
            broken = true;
            match e {
                Error::TemplateSyntax {
                    message, line, column, ..
                } => linter.report(
                    unit.file,
                    at((line, column)),
                    Severity::Error,
                    "template_syntax",
                    format!("template syntax error in {name}: {message}"),
                ),
                other => linter.report(
                    unit.file,
                    at((1, 1)),
                    Severity::Error,
                    "template_syntax",
                    other.to_string(),
                ),
            }
            continue;
        }
        match linter.engine.includes(&name, source) {
            Ok(found) => {
                for reference in found {
                    let offset = find_reference(source, &reference).unwrap_or(0);
                    includes.push((reference, at(line_column(source, offset))));
                }
            }
            Err(e) => {
                broken = true;
                linter.report(
                    unit.file,
                    at((1, 1)),
                    Severity::Error,
                    "unresolved_include",
                    e.to_string(),
                );
            }
        }
        if let Ok(found) = linter.engine.extract_variables(&name, source) {
            for variable in found {
                let offset = find_identifier(source, &variable).unwrap_or(0);
                variables
                    .entry(variable)
                    .or_insert_with(|| at(line_column(source, offset)));
            }
        }
    }
    if let Template::Chat(items) = &unit.prompt.template {
        let nodes = unit.node.get("template").map(YamlNode::items).unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            if let ChatItem::Placeholder(p) = item {
                let at = nodes
                    .get(i)
                    .and_then(|n| n.get("placeholder"))
                    .map_or((unit.node.line, unit.node.column), |n| (n.line, n.column));
                variables.entry(p.variable.clone()).or_insert(at);
            }
        }
    }
    unit.variables = variables;
    unit.includes = includes;
    unit.broken = broken;
}

fn check_includes(linter: &mut Linter, known: &Known, units: &[Unit<'_>]) {
    for unit in units {
        for (reference, at) in &unit.includes {
            if let Some(problem) = unresolved(known, reference) {
                linter.report(
                    unit.file,
                    *at,
                    Severity::Error,
                    "unresolved_include",
                    format!("{{% include \"{reference}\" %}} does not resolve: {problem}"),
                );
            }
        }
    }
    // Cycles, over the newest definition of each prompt.
    let mut newest: BTreeMap<&PromptId, &Unit<'_>> = BTreeMap::new();
    for unit in units {
        let keep = newest.get(&unit.prompt.id).is_none_or(|u| u.version < unit.version);
        if keep {
            newest.insert(&unit.prompt.id, unit);
        }
    }
    let edges = |id: &PromptId| -> Vec<(PromptId, (usize, usize))> {
        newest
            .get(id)
            .map(|u| {
                u.includes
                    .iter()
                    .filter_map(|(r, at)| PromptRef::parse(r).ok().map(|r| (r.id, *at)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut reported: BTreeSet<Vec<PromptId>> = BTreeSet::new();
    for start in newest.keys() {
        // Depth-first search for paths that come back to `start`, through ids above it only,
        // so each cycle is found once: from its smallest id.
        let mut stack: Vec<(PromptId, Vec<PromptId>)> = vec![((*start).clone(), vec![(*start).clone()])];
        while let Some((id, path)) = stack.pop() {
            for (next, _) in edges(&id) {
                if next == **start {
                    if reported.insert(path.clone()) {
                        let unit = newest[*start];
                        let at = unit
                            .includes
                            .iter()
                            .find(|(r, _)| {
                                // The include that leaves `start` on the cycle (itself, for a self-include).
                                let target = path.get(1).unwrap_or(*start);
                                PromptRef::parse(r).is_ok_and(|r| &r.id == target)
                            })
                            .map_or((unit.node.line, unit.node.column), |(_, at)| *at);
                        let mut names: Vec<String> = path.iter().map(ToString::to_string).collect();
                        names.push(start.to_string());
                        linter.report(
                            unit.file,
                            at,
                            Severity::Error,
                            "include_cycle",
                            format!("include cycle: {}", names.join(" → ")),
                        );
                    }
                } else if next > **start && !path.contains(&next) && newest.contains_key(&next) && path.len() < 64 {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next, longer));
                }
            }
        }
    }
}

/// Why a reference does not resolve in the folder, or `None` when it does (or may).
fn unresolved(known: &Known, reference: &str) -> Option<String> {
    let parsed = match PromptRef::parse(reference) {
        Ok(r) => r,
        Err(e) => return Some(e.to_string()),
    };
    let id = &parsed.id;
    let versions = known.versions.get(id);
    if versions.is_none() && !known.unversioned.contains(id) {
        return Some(format!("no prompt `{id}` in the linted files"));
    }
    if known.unversioned.contains(id) {
        // Defined without a version number: any version or label may be meant.
        return None;
    }
    let versions = versions?;
    match &parsed.selector {
        Selector::Latest => None,
        Selector::Exact(v) => (!versions.contains(v)).then(|| format!("`{id}` has no version {v} here")),
        Selector::Requirement(req) => {
            (!versions.iter().any(|v| req.matches(v))).then(|| format!("no version of `{id}` here matches `{req}`"))
        }
        Selector::Label(label) => {
            let labels = known.labels.get(id);
            (!labels.is_some_and(|l| l.contains(label))).then(|| format!("`{id}` has no label `{label}` here"))
        }
    }
}

/// A prompt's newest definition: its version, the variables it reads, the prompts it includes.
type ReadBy<'a> = (&'a Option<Version>, Vec<&'a str>, Vec<PromptId>);

fn check_variables(linter: &mut Linter, units: &[Unit<'_>]) {
    // Variables read by each prompt's newest definition, to count what includes read.
    let mut read_by: BTreeMap<&PromptId, ReadBy<'_>> = BTreeMap::new();
    for unit in units {
        let keep = read_by.get(&unit.prompt.id).is_none_or(|(v, _, _)| **v < unit.version);
        if keep {
            let includes = unit
                .includes
                .iter()
                .filter_map(|(r, _)| PromptRef::parse(r).ok().map(|r| r.id))
                .collect();
            read_by.insert(
                &unit.prompt.id,
                (
                    &unit.version,
                    unit.variables.keys().map(String::as_str).collect(),
                    includes,
                ),
            );
        }
    }
    for unit in units {
        let schema = &unit.prompt.input_schema;
        if unit.broken || schema.is_empty() {
            continue;
        }
        let declared: BTreeSet<&str> = schema.variables.iter().map(|v| v.name.as_str()).collect();
        for (variable, at) in &unit.variables {
            if !declared.contains(variable.as_str()) {
                linter.report(
                    unit.file,
                    *at,
                    Severity::Error,
                    "undefined_variable",
                    format!(
                        "`{}` reads variable `{variable}`, which its input_schema does not declare",
                        unit.prompt.id
                    ),
                );
            }
        }
        // What the prompt and everything it includes read.
        let mut read: BTreeSet<&str> = unit.variables.keys().map(String::as_str).collect();
        let mut queue: Vec<PromptId> = unit
            .includes
            .iter()
            .filter_map(|(r, _)| PromptRef::parse(r).ok().map(|r| r.id))
            .collect();
        let mut visited = BTreeSet::new();
        while let Some(id) = queue.pop() {
            if !visited.insert(id.clone()) {
                continue;
            }
            if let Some((_, vars, includes)) = read_by.get(&id) {
                read.extend(vars.iter().copied());
                queue.extend(includes.iter().cloned());
            }
        }
        let schema_nodes = unit.node.get("input_schema").map(YamlNode::items).unwrap_or_default();
        for (i, spec) in schema.variables.iter().enumerate() {
            if !read.contains(spec.name.as_str()) {
                let at = schema_nodes
                    .get(i)
                    .and_then(|n| n.get("name"))
                    .map_or((unit.node.line, unit.node.column), |n| (n.line, n.column));
                linter.report(
                    unit.file,
                    at,
                    Severity::Warning,
                    "unused_variable",
                    format!(
                        "input_schema declares `{}`, which no template of `{}` reads",
                        spec.name, unit.prompt.id
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn lint(files: &[(&str, &str)]) -> LintReport {
        let sources: Vec<SourceFile> = files
            .iter()
            .map(|(path, text)| SourceFile {
                display: format!("p/{path}"),
                relative: PathBuf::from(path),
                text: Ok((*text).to_owned()),
            })
            .collect();
        lint_sources(&sources)
    }

    fn found(report: &LintReport) -> Vec<(String, usize, usize, &'static str)> {
        report
            .diagnostics
            .iter()
            .map(|d| (d.file.clone(), d.line, d.column, d.code))
            .collect()
    }

    #[test]
    fn a_clean_folder_has_nothing_to_say() {
        let report = lint(&[
            (
                "greeting.yaml",
                "id: greeting\ntemplate: |\n  Hello {{ name }}! {% include \"shared/tone\" %}\ninput_schema:\n  - name: name\n  - name: tone\n",
            ),
            (
                "shared/tone/1.0.0.yaml",
                "prompt:\n  id: shared/tone\n  template: Be {{ tone }}.\n",
            ),
        ]);
        assert_eq!(report.diagnostics, vec![], "{report:?}");
        assert_eq!(report.files, 2);
    }

    #[test]
    fn each_mistake_is_reported_once_at_its_line() {
        let report = lint(&[
            ("bad-yaml.yaml", "id: x\ntemplate: [unclosed\n"),
            ("syntax.yaml", "id: syntax\ntemplate: |\n  line one\n  {{ name }\n"),
            (
                "vars.yaml",
                "id: vars\ntemplate: |\n  Hi {{ name }}\n  and {{ extra }}\ninput_schema:\n  - name: name\n  - name: unused\n",
            ),
            ("bad-id.yaml", "id: Bad/ID\ntemplate: hi\n"),
            (
                "inc.yaml",
                "id: inc\ntemplate: |\n  first\n  {% include \"missing/one\" %}\n",
            ),
            ("a.yaml", "id: a\ntemplate: \"A {% include 'b' %}\"\n"),
            ("b.yaml", "id: b\ntemplate: \"B {% include 'a' %}\"\n"),
            (
                "chat.yaml",
                "id: chat\ntemplate:\n  - role: system\n    content: ok\n  - role: user\n    content: \"{{ q \"\n",
            ),
        ]);
        let mut got = found(&report);
        got.sort();
        let mut expected = vec![
            ("p/a.yaml".to_owned(), 2, 25, "include_cycle"),
            ("p/bad-id.yaml".to_owned(), 1, 5, "invalid_id"),
            ("p/inc.yaml".to_owned(), 4, 14, "unresolved_include"),
            ("p/vars.yaml".to_owned(), 4, 10, "undefined_variable"),
            ("p/vars.yaml".to_owned(), 7, 11, "unused_variable"),
        ];
        let positional: Vec<_> = got
            .iter()
            .filter(|(f, ..)| !["p/bad-yaml.yaml", "p/syntax.yaml", "p/chat.yaml"].contains(&f.as_str()))
            .cloned()
            .collect();
        expected.sort();
        assert_eq!(positional, expected, "{report:#?}");
        let line_of = |file: &str| {
            got.iter()
                .filter(|(f, ..)| f == file)
                .map(|(_, l, _, c)| (*l, *c))
                .collect::<Vec<_>>()
        };
        assert_eq!(line_of("p/syntax.yaml").len(), 1, "{report:#?}");
        assert_eq!(line_of("p/syntax.yaml")[0].0, 4, "{report:#?}");
        assert_eq!(line_of("p/bad-yaml.yaml").len(), 1, "{report:#?}");
        assert_eq!(line_of("p/chat.yaml").len(), 1, "{report:#?}");
        assert_eq!(line_of("p/chat.yaml")[0].0, 6, "{report:#?}");
        assert_eq!(report.errors, 7, "{report:#?}");
        assert_eq!(report.warnings, 1, "{report:#?}");
    }

    #[test]
    fn dir_layout_checks_names_labels_and_versions() {
        let report = lint(&[
            ("greeting/1.0.0.yaml", "prompt:\n  id: greeting\n  template: hi\n"),
            (
                "greeting/_labels.yaml",
                "status: active\ncreated_at: 2026-01-01T00:00:00Z\nupdated_at: 2026-01-01T00:00:00Z\nlabels:\n  production: 1.0.0\n",
            ),
            (
                "greeting/1.1.0.yaml",
                "version: 1.2.0\nprompt:\n  id: other\n  template: hi\n",
            ),
            (
                "user.yaml",
                "id: user\ntemplate: \"{% include 'greeting@production' %}{% include 'greeting@staging' %}{% include 'greeting@2.0.0' %}\"\n",
            ),
        ]);
        let got = found(&report);
        assert!(
            got.contains(&("p/greeting/1.1.0.yaml".into(), 1, 10, "version_mismatch")),
            "{report:#?}"
        );
        assert!(
            got.contains(&("p/greeting/1.1.0.yaml".into(), 3, 7, "id_mismatch")),
            "{report:#?}"
        );
        let includes: Vec<_> = got.iter().filter(|d| d.3 == "unresolved_include").collect();
        assert_eq!(includes.len(), 2, "{report:#?}");
        assert!(!got.iter().any(|d| d.3 == "unresolved_label"), "{report:#?}");

        let report = lint(&[
            ("greeting/1.0.0.yaml", "prompt:\n  id: greeting\n  template: hi\n"),
            (
                "greeting/_labels.yaml",
                "status: active\ncreated_at: 2026-01-01T00:00:00Z\nupdated_at: 2026-01-01T00:00:00Z\nlabels:\n  production: 1.0.0\n  staging: 1.1.0\n",
            ),
        ]);
        assert_eq!(
            found(&report),
            vec![("p/greeting/_labels.yaml".into(), 6, 12, "unresolved_label")],
            "{report:#?}"
        );
    }

    #[test]
    fn odd_files_never_panic() {
        let odd = [
            "",
            "\u{0}\u{1}",
            "---\n...\n",
            "- a\n- b\n",
            "id: 42\ntemplate: 7\n",
            "id: é/ü\ntemplate: \"{{ ü }}\"\n",
            "id: a\r\ntemplate: \"{{\"\r\n",
            "id: a\ntemplate: \"{%\"\n",
            "id: a\ntemplate: \"{{ x }}{% include '' %}\"\n",
            "id: a\ntemplate: \"{% include x %}\"\n",
            "id: a\ntemplate:\n  - role: user\n    content: \"{{ 😀 }}\"\n  - placeholder: \"bad name\"\n",
            "prompts: 3\n",
            "prompts:\n  - 1\n  - [a]\n  - id: ''\n",
            "prompt: {id: a, template: \"\\t{{ x\"}\n",
            "a: &x [*x]\n",
            "id: a\ntemplate: |\n\t{{ x }\n",
            "id: a\ntemplate: >\n  folded\n  {{ x }\n",
            "id: a\ntemplate: 'it''s {{ x }'\ninput_schema: [{name: x}, {name: x}]\n",
        ];
        for (i, text) in odd.iter().enumerate() {
            for name in [
                format!("f{i}.yaml"),
                format!("a/{i}.0.0.yaml"),
                "_labels.yaml".to_owned(),
            ] {
                let report = lint(&[(name.as_str(), text)]);
                for d in &report.diagnostics {
                    assert!(d.line >= 1 && d.column >= 1, "{text:?}: {d:?}");
                }
            }
        }
    }

    #[test]
    fn libraries_are_checked_entry_by_entry() {
        let report = lint(&[(
            "library.yaml",
            "prompts:\n  - id: one\n    template: \"{{ a }\"\n  - id: two\n    template: fine\n    colour: red\n  - id: One\n    template: x\n  - id: two\n    template: again\n",
        )]);
        let got = found(&report);
        assert_eq!(
            got,
            vec![
                ("p/library.yaml".into(), 3, 21, "template_syntax"),
                ("p/library.yaml".into(), 4, 5, "yaml"),
                ("p/library.yaml".into(), 7, 9, "invalid_id"),
            ],
            "{report:#?}"
        );
    }

    #[test]
    fn a_self_include_is_reported_at_that_include() {
        let report = lint(&[
            (
                "a.yaml",
                "id: a\ntemplate: |\n  {% include \"shared/tone\" %}\n  {% include \"a\" %}\n",
            ),
            ("shared/tone.yaml", "id: shared/tone\ntemplate: calm\n"),
        ]);
        let cycles: Vec<_> = found(&report).into_iter().filter(|d| d.3 == "include_cycle").collect();
        assert_eq!(cycles, vec![("p/a.yaml".into(), 4, 14, "include_cycle")], "{report:#?}");
    }

    #[test]
    fn one_version_file_is_linted_by_its_whole_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("store/greeting/1.0.0.yaml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "prompt:\n  id: greeting\n  template: Hello\n").unwrap();
        let report = lint_path(&file).unwrap();
        assert_eq!(report.diagnostics, vec![], "{report:#?}");
        std::fs::write(&file, "prompt:\n  id: other\n  template: Hello\n").unwrap();
        let codes: Vec<_> = lint_path(&file).unwrap().diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["id_mismatch"]);
    }

    #[test]
    fn positions_inside_quoted_templates_count_escapes_and_folds() {
        let report = lint(&[
            ("one.json", "{\"id\": \"one\", \"template\": \"a\\\"b\\nc {{ x }\"}\n"),
            (
                "two.json",
                "{\n  \"id\": \"two\",\n  \"template\": \"line\\n{{ y }\"\n}\n",
            ),
            ("three.yaml", "id: three\ntemplate: 'it''s\n  {{ z }'\n"),
        ]);
        let got: Vec<_> = found(&report)
            .into_iter()
            .filter(|d| d.3 == "template_syntax")
            .map(|(file, line, column, _)| (file, line, column))
            .collect();
        // Each error is where minijinja stops in the template, mapped back through the escapes.
        for (file, line, column) in &got {
            let text = match file.as_str() {
                "p/one.json" => "{\"id\": \"one\", \"template\": \"a\\\"b\\nc {{ x }\"}\n",
                "p/two.json" => "{\n  \"id\": \"two\",\n  \"template\": \"line\\n{{ y }\"\n}\n",
                _ => "id: three\ntemplate: 'it''s\n  {{ z }'\n",
            };
            let at: String = text.lines().nth(line - 1).unwrap().chars().skip(column - 1).collect();
            assert!(
                at.starts_with('}') || at.starts_with("{{"),
                "{file}:{line}:{column} points at {at:?}"
            );
        }
        assert_eq!(
            got,
            vec![
                ("p/one.json".into(), 1, 41),
                ("p/three.yaml".into(), 3, 8),
                ("p/two.json".into(), 3, 27)
            ],
            "{report:#?}"
        );
    }

    /// Lint used to rescan the file from its top for every position it reported, which made a
    /// library of 8k entries take 20 s. This lints libraries of a few thousand entries (block
    /// YAML, and JSON on one line) and checks the positions of mistakes at their ends.
    #[test]
    fn item_05_large_libraries_lint_with_exact_positions() {
        const ENTRIES: usize = 3000;
        let mut yaml = String::from("prompts:\n");
        let mut json = Vec::new();
        for i in 0..ENTRIES {
            // The last entry of each reads a variable its schema does not declare.
            let variable = if i + 1 == ENTRIES { "oops" } else { "name" };
            yaml.push_str(&format!(
                "  - id: team{}/p{i}\n    version: 1.0.0\n    labels: [production]\n    template: |\n      Héllo {{{{ name }}}}, ticket {i}.\n      {{% if {variable} %}}urgent{{% endif %}}\n    input_schema:\n      - name: name\n",
                i % 50
            ));
            json.push(format!(
                "{{\"id\": \"j{i}\", \"version\": \"1.0.0\", \"template\": \"Hi {{{{ name }}}}\\n{{{{ {variable} }}}}\", \"input_schema\": [{{\"name\": \"name\"}}]}}"
            ));
        }
        let json = format!("{{\"prompts\": [{}]}}\n", json.join(", "));
        let report = lint(&[("big.yaml", &yaml), ("big.json", &json)]);
        assert_eq!(report.errors, 2, "{:#?}", report.diagnostics);
        let got = found(&report);
        // YAML: 8 lines per entry after `prompts:`; the `if` is on the entry's 6th line, `oops`
        // after `{% if ` (6 spaces of indentation).
        let yaml_line = 1 + (ENTRIES - 1) * 8 + 6;
        assert_eq!(got[1], ("p/big.yaml".into(), yaml_line, 13, "undefined_variable"));
        // JSON: one line; the column is where `oops` is written, after `\n{{ `.
        let column = json.find("{{ oops").unwrap() + 4;
        assert_eq!(got[0], ("p/big.json".into(), 1, column, "undefined_variable"));
    }
}
