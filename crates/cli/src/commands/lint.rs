//! `prompt-manager lint [PATH]`: checks a folder of prompt files the way a compiler checks code
//! and prints `file:line:column: error: …`. The checks live in `prompt_manager::lint`; this
//! command only prints them and sets the exit code (1 when any error was found).

use std::path::PathBuf;

use clap::Args;
use prompt_manager::lint::{self, LintReport, Severity};
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
    let engine = prompt_manager::MiniJinjaEngine::new();
    let report = lint::lint_path(&engine, &path)?;
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
