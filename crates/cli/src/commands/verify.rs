//! `prompt-manager verify`: checks a whole store — every version of every prompt loads and still
//! matches its content hash, and every label points at an existing version. Exits 1 on any problem.
//!
//! It reads the store directly (not through the manager's caches), so each version is loaded,
//! and so hash-checked by its backend, once.

use std::collections::BTreeSet;

use clap::Args;
use prompt_manager::semver::Version;
use prompt_manager::{Error, ListQuery, NotFound, PromptSummary, Store};
use serde::Serialize;

use super::export::progress;
use super::{Context, list_all};
use crate::error::Outcome;
use crate::output::Style;

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Only prompts whose id starts with this (`support/`); all when left out.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
}

/// What `verify` found, as scripts see it.
#[derive(Debug, Default, Serialize)]
struct VerifyOut {
    /// Whether no problem was found.
    ok: bool,
    /// Prompts checked.
    prompts: usize,
    /// Versions loaded and checked.
    versions: usize,
    /// Labels checked.
    labels: usize,
    /// Every problem found.
    problems: Vec<Problem>,
}

/// One problem: which prompt (and version or label), what is wrong, and where.
#[derive(Debug, Serialize)]
struct Problem {
    prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Version>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    /// The error code (`content_hash_mismatch`, `invalid_file`, `label_target_missing`, …).
    code: &'static str,
    message: String,
    /// The file or row, for a content hash mismatch.
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    /// The hash recorded when the version was saved, for a content hash mismatch.
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_hash: Option<String>,
    /// The hash of the stored content, for a content hash mismatch.
    #[serde(skip_serializing_if = "Option::is_none")]
    actual_hash: Option<String>,
}

impl Problem {
    fn of(prompt: &str, version: Option<&Version>, error: &Error) -> Self {
        let mut problem = Problem {
            prompt: prompt.to_owned(),
            version: version.cloned(),
            label: None,
            code: error.code(),
            message: error.to_string(),
            location: None,
            expected_hash: None,
            actual_hash: None,
        };
        if let Error::ContentHashMismatch(mismatch) = error {
            problem.location = Some(mismatch.location.clone());
            problem.expected_hash = Some(mismatch.expected.to_string());
            problem.actual_hash = Some(mismatch.actual.to_string());
        }
        problem
    }
}

/// Runs `verify`.
pub(crate) async fn run(ctx: &Context, args: VerifyArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let query = ListQuery {
        id_prefix: args.prefix,
        ..ListQuery::default()
    };
    let summaries = list_all(pm, query).await?;
    let store = pm.store().as_ref();
    let bar = progress(ctx, Some(summaries.len() as u64), "verifying");
    let mut out = VerifyOut {
        prompts: summaries.len(),
        ..VerifyOut::default()
    };
    for summary in &summaries {
        check_prompt(store, summary, &mut out).await;
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.ok = out.problems.is_empty();
    ctx.printer.emit(&out, || text(ctx, &out));
    Ok(if out.ok { Outcome::Success } else { Outcome::CheckFailed })
}

/// Loads every version of one prompt (each backend checks the hash on load) and checks its labels.
async fn check_prompt(store: &dyn Store, summary: &PromptSummary, out: &mut VerifyOut) {
    let id = &summary.id;
    let history = match store.list_versions(id).await {
        Ok(history) => history,
        Err(e) => {
            out.problems.push(Problem::of(id.as_str(), None, &e));
            return;
        }
    };
    let mut numbers = BTreeSet::new();
    // Oldest first, as people read a history.
    for info in history.iter().rev() {
        out.versions += 1;
        numbers.insert(&info.version);
        if let Err(e) = store.load(id, Some(&info.version)).await {
            out.problems.push(Problem::of(id.as_str(), Some(&info.version), &e));
        }
    }
    for (label, version) in &summary.labels {
        out.labels += 1;
        if !numbers.contains(version) {
            let error = Error::NotFound(NotFound::LabelTarget(id.clone(), label.clone(), version.clone()));
            out.problems.push(Problem {
                label: Some(label.to_string()),
                code: "label_target_missing",
                ..Problem::of(id.as_str(), Some(version), &error)
            });
        }
    }
}

fn text(ctx: &Context, out: &VerifyOut) -> String {
    let p = &ctx.printer;
    let mut text = String::new();
    for problem in &out.problems {
        text.push_str(&format!(
            "{} {} [{}]\n",
            p.paint("error:", Style::Error),
            problem.message,
            problem.code
        ));
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let checked = format!(
        "{}, {}, {}",
        plural(out.prompts, "prompt"),
        plural(out.versions, "version"),
        plural(out.labels, "label")
    );
    if out.ok {
        let line = format!("verified {checked}: every content hash matches and every label points at a version");
        text.push_str(&p.paint(&line, Style::Added));
    } else {
        let line = format!("checked {checked}: {}", plural(out.problems.len(), "problem"));
        text.push_str(&p.paint(&line, Style::Error));
    }
    text.push('\n');
    text
}
