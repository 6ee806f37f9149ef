//! Exit codes, and how errors are reported: what went wrong, then what to do about it.
//!
//! 0 success; 1 a check failed: the content is at fault (lint errors; a prompt, template,
//! variables or render that fail a check; a stored version that no longer matches its content
//! hash); 2 the command could not do what was asked: usage or I/O errors (bad arguments,
//! unreadable files, unknown prompts, a store that cannot be opened) and refused states (exists
//! already, a version conflict, an archived prompt, a protected label). The code of a
//! prompt-manager error is its kind's ([`prompt_manager::ErrorKind::exit_code`], core's one
//! table); any other error is a usage or I/O error.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use prompt_manager::{Error, NotFound};
use serde::Serialize;

use crate::cli::{Cli, LONG_VERSION};
use crate::commands::{self, Context};
use crate::output::{OutputFormat, Printer};

/// Everything went well.
pub(crate) const EXIT_OK: u8 = 0;
/// A check failed: lint errors, a render error, a version that fails its content hash check.
pub(crate) const EXIT_CHECK_FAILED: u8 = 1;
/// Usage or I/O error.
pub(crate) const EXIT_USAGE: u8 = 2;

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// All good: exit 0.
    Success,
    /// The command ran but what it checked failed (lint found errors): exit 1.
    CheckFailed,
}

/// An error with a hint: what to do about it.
#[derive(Debug)]
pub(crate) struct Hinted {
    /// What went wrong.
    pub(crate) error: anyhow::Error,
    /// What to do.
    pub(crate) hint: String,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error.as_ref())
    }
}

/// Adds a hint to an error.
pub(crate) fn hinted(error: impl Into<anyhow::Error>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        error: error.into(),
        hint: hint.into(),
    })
}

/// The prompt-manager error inside an error chain, if any.
pub(crate) fn domain_error(error: &anyhow::Error) -> Option<&Error> {
    error.chain().find_map(|e| e.downcast_ref::<Error>())
}

/// The exit code of an error: its kind's for a prompt-manager error (1 when content failed a
/// check, 2 otherwise), 2 for any other.
pub(crate) fn exit_code(error: &anyhow::Error) -> u8 {
    domain_error(error).map_or(EXIT_USAGE, |e| e.kind().exit_code())
}

/// The error as scripts see it with `--output json|yaml` (on stderr).
#[derive(Debug, Serialize)]
struct ErrorOut<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    /// A stable code: prompt-manager's error codes (`not_found`, `invalid_variables`, …) or `error`.
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    exit_code: u8,
}

/// Prints an error to stderr in the chosen format.
pub(crate) fn report(printer: &Printer, error: &anyhow::Error) {
    let code = exit_code(error);
    let hint = error
        .chain()
        .find_map(|e| e.downcast_ref::<Hinted>())
        .map(|h| h.hint.as_str());
    let message = message_of(error);
    match printer.format {
        OutputFormat::Table => {
            let mut text = format!(
                "{} {message}\n",
                printer.paint_err("error:", crate::output::Style::Error)
            );
            // `--quiet`: results and errors only, no hints (JSON errors keep theirs).
            if let Some(hint) = hint.filter(|_| !printer.quiet) {
                text.push_str(&format!(
                    "{} {hint}\n",
                    printer.paint_err("hint:", crate::output::Style::Hint)
                ));
            }
            printer.err(&text);
        }
        format => {
            let body = ErrorOut {
                error: ErrorBody {
                    code: domain_error(error).map_or("error", Error::code),
                    message,
                    hint,
                    exit_code: code,
                },
            };
            printer.err(&format!("{}\n", crate::output::serialize(format, &body)));
        }
    }
}

/// The message of an error and its causes, without repeating a cause the message already quotes.
fn message_of(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        if cause.downcast_ref::<Hinted>().is_some() {
            continue;
        }
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Whether an error is a prompt that was not found, and which.
pub(crate) fn missing_prompt(error: &anyhow::Error) -> Option<&prompt_manager::PromptId> {
    match domain_error(error) {
        Some(Error::NotFound(NotFound::Prompt(id))) => Some(id),
        _ => None,
    }
}

/// Parses the arguments, runs the command and turns the outcome into an exit code.
pub(crate) fn main() -> ExitCode {
    let mut command = Cli::command().long_version(LONG_VERSION.as_str());
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut command)));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version print to stdout and exit 0; usage errors exit 2. A closed pipe is fine.
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let ctx = match Context::new(&cli) {
        Ok(ctx) => ctx,
        Err(e) => {
            let printer = Printer::new(cli.output.unwrap_or_default(), cli.quiet, cli.verbose);
            report(&printer, &e);
            return ExitCode::from(exit_code(&e));
        }
    };
    let result = runtime.block_on(async {
        let result = commands::run(&ctx, cli.command).await;
        // What the command recorded (renders, reports) reaches the store before the exit.
        ctx.flush_usage().await;
        ctx.report_copies();
        match result {
            Err(e) => Err(ctx.explain(e).await),
            ok => ok,
        }
    });
    match result {
        Ok(Outcome::Success) => ExitCode::from(EXIT_OK),
        Ok(Outcome::CheckFailed) => ExitCode::from(EXIT_CHECK_FAILED),
        Err(e) => {
            report(&ctx.printer, &e);
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The edit distance between two strings (Levenshtein, by characters).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(current)
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// Up to three candidates closest to `wanted`, nearest first; only those close enough to be a typo.
pub(crate) fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| {
            // A candidate that merely extends or shortens the id (a missing folder) counts as close too.
            let distance = edit_distance(wanted, c);
            let tail = c.rsplit('/').next().unwrap_or(c);
            (distance.min(edit_distance(wanted, tail) + 1), c)
        })
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("greeting", "greeting"), 0);
        assert_eq!(edit_distance("grееting", "greeting"), 2);
    }

    #[test]
    fn closest_ids_are_typos_only() {
        let ids = ["greeting", "support/triage", "support/escalate", "farewell"];
        assert_eq!(closest("greting", ids), vec!["greeting"]);
        assert_eq!(closest("triage", ids), vec!["support/triage"]);
        assert!(closest("something-else-entirely", ids).is_empty());
    }

    #[test]
    fn exit_codes_follow_the_error() {
        let id = || prompt_manager::PromptId::new("a").unwrap_or_else(|_| unreachable!());
        // A refused state: the command could not do what was asked.
        let archived = anyhow::Error::new(Error::Archived { id: id() });
        assert_eq!(exit_code(&archived), EXIT_USAGE);
        // Content that fails a check, also when wrapped in context.
        let render = anyhow::Error::new(Error::InvalidVariables {
            reference: "a".into(),
            problems: vec![],
        })
        .context("cannot render `a`");
        assert_eq!(exit_code(&render), EXIT_CHECK_FAILED);
        let protected = anyhow::Error::new(Error::LabelProtected {
            id: id(),
            label: prompt_manager::LabelName::new("production").unwrap_or_else(|_| unreachable!()),
        });
        assert_eq!(exit_code(&protected), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("no such file")), EXIT_USAGE);
    }

    #[test]
    fn every_kind_exits_with_a_documented_code() {
        for kind in prompt_manager::ErrorKind::ALL {
            assert!(
                [EXIT_CHECK_FAILED, EXIT_USAGE].contains(&kind.exit_code()),
                "{kind}: exit {}",
                kind.exit_code()
            );
        }
    }
}
