//! What lint reports: a [`Diagnostic`] per finding, the [`LintReport`] of a run, and the
//! collector the checks report through (which keeps positions at least 1:1 and sorts the
//! findings by file and place). No check lives here.

use std::fmt;

use prompt_manager_core::{Engines, Error};

use super::files::SourceFile;

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

/// The engine the checks ask and the findings so far.
pub(super) struct Linter<'e> {
    pub(super) engines: &'e Engines,
    diagnostics: Vec<Diagnostic>,
}

impl<'e> Linter<'e> {
    pub(super) fn new(engines: &'e Engines) -> Self {
        Linter {
            engines,
            diagnostics: Vec::new(),
        }
    }

    pub(super) fn report(
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
    pub(super) fn report_error(
        &mut self,
        file: &SourceFile,
        fallback: (usize, usize),
        code: &'static str,
        error: Error,
    ) {
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

    /// The report of `files` files: the findings by file, line and column, without repeats.
    pub(super) fn finish(self, files: usize) -> LintReport {
        let mut diagnostics = self.diagnostics;
        diagnostics.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.severity, a.code).cmp(&(&b.file, b.line, b.column, b.severity, b.code))
        });
        diagnostics.dedup();
        LintReport {
            files,
            errors: diagnostics.iter().filter(|d| d.severity == Severity::Error).count(),
            warnings: diagnostics.iter().filter(|d| d.severity == Severity::Warning).count(),
            diagnostics,
        }
    }
}
