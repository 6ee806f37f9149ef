//! `prompt-manager lint [PATH]`: checks a folder of prompt files the way a compiler checks code
//! and prints `file:line:column: error: …`. The checks of our own files live in
//! `prompt_manager::lint`; other tools' files (Langfuse JSON, `.prompty`) are read as `import`
//! reads them and their templates checked by the engine. This command prints the findings and
//! sets the exit code (1 when any error was found).

use std::path::PathBuf;

use clap::Args;
use prompt_manager::interop::{self, Format};
use prompt_manager::lint::{self, Diagnostic, LintReport, Severity, SourceFile};
use prompt_manager::{ChatItem, Engines, Error, Template};
use serde::Serialize;

use super::{Context, from_config_dir};
use crate::error::Outcome;
use crate::output::{OutputFormat, Style};

/// How lint prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LintFormat {
    /// `file:line:column: error: message`, one per line.
    Text,
    /// One JSON object: files checked, counts and every diagnostic.
    Json,
}

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// The folder (or one file) to check. Default: `prompts` from prompt-manager.toml, else the
    /// current folder.
    path: Option<PathBuf>,
    /// Output format (default: text, or json with `--output json`).
    #[arg(long, value_enum)]
    format: Option<LintFormat>,
    /// Treat warnings (unused variables, …) as errors.
    #[arg(long)]
    deny_warnings: bool,
}

/// Runs `lint`.
pub(crate) async fn run(ctx: &Context, args: LintArgs) -> anyhow::Result<Outcome> {
    let path = match args.path {
        Some(path) => path,
        None => match ctx.config.as_ref().and_then(|c| c.config.defaults.prompts.clone()) {
            Some(prompts) => from_config_dir(ctx, &prompts),
            None => PathBuf::from("."),
        },
    };
    if !path.exists() {
        return Err(anyhow::anyhow!("{} does not exist", path.display()));
    }
    // The engine `prompt_manager::builder()` gives the CLI's manager; lint opens no store.
    let report = lint_all(&prompt_manager::engines(), &path)?;
    let format = args.format.unwrap_or(match ctx.printer.format {
        OutputFormat::Table => LintFormat::Text,
        _ => LintFormat::Json,
    });
    match format {
        LintFormat::Json => {
            let as_yaml = args.format.is_none() && ctx.printer.format == OutputFormat::Yaml;
            let format = if as_yaml {
                OutputFormat::Yaml
            } else {
                OutputFormat::Json
            };
            ctx.printer.out(&format!(
                "{}\n",
                crate::output::serialize(format, &ReportOut::of(&report))
            ));
        }
        LintFormat::Text => ctx.printer.out(&text(ctx, &report)),
    }
    let failed = report.errors > 0 || (args.deny_warnings && report.warnings > 0);
    Ok(if failed { Outcome::CheckFailed } else { Outcome::Success })
}

/// Lints our files with `prompt_manager::lint` and other tools' files through their importers,
/// as one report.
fn lint_all(engines: &Engines, path: &std::path::Path) -> anyhow::Result<LintReport> {
    let mut extensions = lint::PROMPT_EXTENSIONS.to_vec();
    extensions.extend([".prompty", ".prompt"]);
    let files = lint::read_sources(path, &extensions)?;
    let mut ours = Vec::new();
    let mut foreign = Vec::new();
    for file in files {
        let format = file.text.as_ref().ok().and_then(|t| Format::detect(&file.relative, t));
        match format {
            Some(format) => foreign.push((file, format)),
            None => ours.push(file),
        }
    }
    let mut report = lint::lint_sources(engines, &ours);
    for (file, format) in &foreign {
        lint_foreign(engines, file, *format, &mut report.diagnostics);
    }
    report.files += foreign.len();
    report
        .diagnostics
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    report.errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    report.warnings = report.diagnostics.len() - report.errors;
    Ok(report)
}

/// Reads another tool's file as `import` would, and checks each template it holds.
fn lint_foreign(engines: &Engines, file: &SourceFile, format: Format, out: &mut Vec<Diagnostic>) {
    let Ok(text) = &file.text else { return };
    let name = file.relative.to_string_lossy().replace('\\', "/");
    let diagnostic = |(line, column): (usize, usize), severity, code, message| Diagnostic {
        file: file.display.clone(),
        line,
        column,
        severity,
        code,
        message,
    };
    let read = match interop::import(format, text, &name) {
        Ok(read) => read,
        Err(Error::InvalidFile {
            line, column, message, ..
        }) => {
            let at = (line.unwrap_or(1), column.unwrap_or(1));
            return out.push(diagnostic(at, Severity::Error, "format", message));
        }
        Err(e) => return out.push(diagnostic((1, 1), Severity::Error, "format", e.to_string())),
    };
    for warning in read.warnings {
        out.push(diagnostic(
            (warning.line, warning.column),
            Severity::Warning,
            "left_behind",
            warning.message,
        ));
    }
    for entry in &read.entries {
        let id = &entry.prompt.id;
        let sources: Vec<(String, &str)> = match &entry.prompt.template {
            Template::Text(source) => vec![("the template".into(), source.as_str())],
            Template::Chat(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    ChatItem::Message(m) => Some((format!("message {}", i + 1), m.content.as_str())),
                    ChatItem::Placeholder(_) => None,
                })
                .collect(),
        };
        let engine = match engines.of(&entry.prompt) {
            Ok(engine) => engine,
            Err(e) => {
                out.push(diagnostic(
                    entry.position,
                    Severity::Error,
                    "template_syntax",
                    format!("{id}: {e}"),
                ));
                continue;
            }
        };
        for (what, source) in sources {
            // `scan` parses (syntax errors) without resolving includes; `check` finds what every
            // render would refuse.
            if let Err(e) = engine
                .scan(id.as_str(), source)
                .and_then(|_| engine.check(id.as_str(), source))
            {
                out.push(diagnostic(
                    entry.position,
                    Severity::Error,
                    "template_syntax",
                    format!("{id}: {what}: {e}"),
                ));
            }
        }
    }
}

fn text(ctx: &Context, report: &LintReport) -> String {
    let p = &ctx.printer;
    let mut text = String::new();
    for d in &report.diagnostics {
        let severity = match d.severity {
            Severity::Error => p.paint("error:", Style::Error),
            Severity::Warning => p.paint("warning:", Style::Warning),
        };
        text.push_str(&format!(
            "{}: {severity} {} [{}]\n",
            p.paint(&d.location(), Style::Bold),
            d.message,
            d.code
        ));
    }
    let (errors, warnings) = (report.errors, report.warnings);
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let summary = format!(
        "{}: {}, {}",
        plural(report.files, "file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    );
    let style = if errors > 0 { Style::Error } else { Style::Added };
    if !ctx.printer.quiet || errors > 0 {
        text.push_str(&p.paint(&summary, style));
        text.push('\n');
    }
    text
}

/// `lint --format json`.
#[derive(Debug, Serialize)]
struct ReportOut<'a> {
    files: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<DiagnosticOut<'a>>,
}

#[derive(Debug, Serialize)]
struct DiagnosticOut<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    severity: &'static str,
    code: &'static str,
    message: &'a str,
}

impl<'a> ReportOut<'a> {
    fn of(report: &'a LintReport) -> Self {
        ReportOut {
            files: report.files,
            errors: report.errors,
            warnings: report.warnings,
            diagnostics: report
                .diagnostics
                .iter()
                .map(|d| DiagnosticOut {
                    file: &d.file,
                    line: d.line,
                    column: d.column,
                    severity: d.severity.as_str(),
                    code: d.code,
                    message: &d.message,
                })
                .collect(),
        }
    }
}
