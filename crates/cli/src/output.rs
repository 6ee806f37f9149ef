//! Output: tables for people, JSON and YAML for scripts, and the colour decision.
//!
//! Colour is used only when the stream is a terminal and `NO_COLOR` is unset (or empty);
//! `CLICOLOR_FORCE=1` forces it (for tests and pagers), `NO_COLOR` still wins. Tables fit the
//! terminal's width (`COLUMNS` overrides it); without a terminal they are not wrapped.
//! Writes to a closed pipe (`prompt-manager list | head`) end quietly instead of panicking.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width, presets};
use serde::{Deserialize, Serialize};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OutputFormat {
    /// Human-readable text and tables.
    #[default]
    Table,
    /// JSON (stable; see docs/cli.md).
    Json,
    /// YAML (same shapes as JSON).
    Yaml,
}

/// A text style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Headers, emphasis.
    Bold,
    /// Added lines, success.
    Added,
    /// Removed lines.
    Removed,
    /// Hunk headers, ids.
    Info,
    /// Less important text.
    Dim,
    /// Errors.
    Error,
    /// Warnings.
    Warning,
    /// Hints.
    Hint,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Added => "32",
            Style::Removed => "31",
            Style::Info => "36",
            Style::Dim => "2",
            Style::Error => "1;31",
            Style::Warning => "1;33",
            Style::Hint => "1;36",
        }
    }
}

/// Prints results and messages according to the global flags.
#[derive(Debug, Clone)]
pub(crate) struct Printer {
    /// The output format.
    pub(crate) format: OutputFormat,
    /// `--quiet`: no hints, no progress.
    pub(crate) quiet: bool,
    /// `--verbose`.
    pub(crate) verbose: bool,
    colour_out: bool,
    colour_err: bool,
}

/// Whether colour is allowed on a stream that is (or is not) a terminal.
fn colour_allowed(is_terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    is_terminal || std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0")
}

impl Printer {
    /// A printer for the flags, deciding colour from the streams and the environment.
    pub(crate) fn new(format: OutputFormat, quiet: bool, verbose: bool) -> Self {
        Printer {
            format,
            quiet,
            verbose,
            colour_out: colour_allowed(std::io::stdout().is_terminal()),
            colour_err: colour_allowed(std::io::stderr().is_terminal()),
        }
    }

    /// Whether stdout is for people (`--output table`).
    pub(crate) fn human(&self) -> bool {
        self.format == OutputFormat::Table
    }

    /// Writes to stdout; a closed pipe is not an error.
    pub(crate) fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
    }

    /// Writes to stderr.
    pub(crate) fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
    }

    /// A note for people on stderr (what happened, what to do next); silent with `--quiet`.
    pub(crate) fn note(&self, text: &str) {
        if !self.quiet {
            self.err(&format!("{text}\n"));
        }
    }

    /// A note shown only with `--verbose`.
    pub(crate) fn debug(&self, text: &str) {
        if self.verbose {
            self.err(&format!("{}\n", self.paint_err(text, Style::Dim)));
        }
    }

    /// Whether stdout gets colour.
    pub(crate) fn colour(&self) -> bool {
        self.colour_out
    }

    /// `text` in `style` on stdout (plain without colour).
    pub(crate) fn paint(&self, text: &str, style: Style) -> String {
        paint(self.colour_out, text, style)
    }

    /// `text` in `style` on stderr (plain without colour).
    pub(crate) fn paint_err(&self, text: &str, style: Style) -> String {
        paint(self.colour_err, text, style)
    }

    /// Prints `value` as JSON or YAML, or calls `human` for a table.
    pub(crate) fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        match self.format {
            OutputFormat::Table => self.out(&human()),
            format => self.out(&format!("{}\n", serialize(format, value))),
        }
    }

    /// A table with headers, fitted to the terminal: the first `keep` columns (ids, versions)
    /// never wrap; the others wrap to make room.
    pub(crate) fn table(&self, headers: &[&str], rows: Vec<Vec<String>>) -> String {
        self.table_keeping(headers, rows, 2)
    }

    /// [`Printer::table`] with how many leading columns keep their width.
    pub(crate) fn table_keeping(&self, headers: &[&str], rows: Vec<Vec<String>>, keep: usize) -> String {
        let mut table = Table::new();
        table.load_preset(presets::NOTHING);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(width) = terminal_width() {
            table.set_width(width);
        }
        // Plain headers: comfy-table measures widths without knowing ANSI codes, so the header
        // line is painted after layout.
        table.set_header(headers.iter().copied());
        for row in rows {
            table.add_row(row);
        }
        for (index, column) in table.column_iter_mut().enumerate() {
            if index < keep {
                column.set_constraint(ColumnConstraint::ContentWidth);
            } else {
                // Wrapping columns stay wide enough for their header and a word or two.
                let header = headers.get(index).map_or(0, |h| h.chars().count());
                let floor = u16::try_from(header.max(10)).unwrap_or(10);
                column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(floor)));
            }
        }
        // comfy-table pads every line with a leading space in this preset; trim for tidy output.
        let mut text: String = table
            .to_string()
            .lines()
            .enumerate()
            .map(|(index, l)| {
                let line = l.strip_prefix(' ').unwrap_or(l).trim_end();
                if index == 0 {
                    format!("{}\n", self.paint(line, Style::Bold))
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        if text.is_empty() {
            text.push('\n');
        }
        text
    }
}

/// The terminal width: `COLUMNS` when set, else the terminal's when stdout is one.
fn terminal_width() -> Option<u16> {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<u16>().ok()) {
        return Some(columns.max(20));
    }
    if std::io::stdout().is_terminal() {
        return comfy_table::Table::new().width();
    }
    None
}

/// `text` wrapped in the ANSI codes of `style` when `colour` is on.
pub(crate) fn paint(colour: bool, text: &str, style: Style) -> String {
    if colour && !text.is_empty() {
        format!("\x1b[{}m{text}\x1b[0m", style.code())
    } else {
        text.to_owned()
    }
}

/// `value` as pretty JSON or YAML (never fails for our plain data types; a failure is printed as
/// a JSON error object so scripts still get valid output).
pub(crate) fn serialize<T: Serialize>(format: OutputFormat, value: &T) -> String {
    let result = match format {
        OutputFormat::Yaml => serde_saphyr::to_string(value)
            .map(|s| s.trim_end().to_owned())
            .map_err(|e| e.to_string()),
        _ => serde_json::to_string_pretty(value).map_err(|e| e.to_string()),
    };
    result.unwrap_or_else(|e| serde_json::json!({ "error": { "code": "serialize", "message": e } }).to_string())
}
