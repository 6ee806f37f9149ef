//! `prompt-manager bundle export|inspect`: the hash-checked file of chosen prompts at chosen
//! labels that an application ships as the last resort of its `http://` store
//! (`?bundle=FILE&bundle_sha256=HEX`), for when neither the server nor its disk cache can answer.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use prompt_manager::{Bundle, ListQuery};
use serde::Serialize;

use super::Context;
use crate::error::{Outcome, hinted};

/// `bundle` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Write a bundle of references (`id@production`, `id@1.2.0`), with what their renders need
    /// (included prompts, every variant of an A/B label); prints its sha256 to pin.
    Export {
        /// References to bundle; with --label, an id without `@` means `id@LABEL`.
        references: Vec<String>,
        /// The label an id without `@` is bundled at.
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
        /// Every prompt of the store that has --label.
        #[arg(long, requires = "label")]
        all: bool,
        /// The file to write (`prompts.bundle`).
        #[arg(long = "file", short = 'f', value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a bundle (its hash, every version's content hash) and show what it holds.
    Inspect {
        /// The bundle file.
        file: PathBuf,
        /// The sha256 it must have (what an application pins with `bundle_sha256=`).
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
    },
}

#[derive(Debug, Serialize)]
struct BundleOut {
    file: String,
    sha256: String,
    created_at: String,
    source: String,
    references: Vec<String>,
    versions: Vec<String>,
}

impl BundleOut {
    fn of(bundle: &Bundle, file: &std::path::Path) -> Self {
        BundleOut {
            file: file.display().to_string(),
            sha256: bundle.sha256().to_owned(),
            created_at: bundle.created_at().to_rfc3339(),
            source: bundle.source().to_owned(),
            references: bundle.references().to_vec(),
            versions: bundle.versions(),
        }
    }

    fn human(&self, verb: &str) -> String {
        let mut text = format!(
            "{verb} {} ({} references, {} versions), from {} at {}\n",
            self.file,
            self.references.len(),
            self.versions.len(),
            self.source,
            self.created_at
        );
        for reference in &self.references {
            text.push_str(&format!("  {reference}\n"));
        }
        text.push_str(&format!("sha256 {}\n", self.sha256));
        text
    }
}

/// Runs a `bundle` subcommand.
pub(crate) async fn run(ctx: &Context, command: BundleCommand) -> anyhow::Result<Outcome> {
    match command {
        BundleCommand::Export {
            references,
            label,
            all,
            out,
        } => {
            let pm = ctx.pm().await?;
            let mut chosen: Vec<String> = references
                .into_iter()
                .map(|r| match (&label, r.contains('@')) {
                    (Some(label), false) => format!("{r}@{label}"),
                    _ => r,
                })
                .collect();
            if all && let Some(label) = &label {
                let mut query = ListQuery::default();
                loop {
                    let page = pm.list(&query).await?;
                    for summary in &page.items {
                        let has = |l: &prompt_manager::LabelName| l.as_str() == label;
                        if summary.labels.keys().any(has) || summary.splits.keys().any(has) {
                            let reference = format!("{}@{label}", summary.id);
                            if !chosen.contains(&reference) {
                                chosen.push(reference);
                            }
                        }
                    }
                    match page.next_cursor {
                        Some(cursor) => query.cursor = Some(cursor),
                        None => break,
                    }
                }
            }
            if chosen.is_empty() {
                return Err(hinted(
                    anyhow::anyhow!("nothing to bundle"),
                    "name references (`support/greet@production`), or `--all --label production`",
                ));
            }
            let mut bundle = Bundle::export(
                pm.store().clone(),
                pm.engines().clone(),
                &chosen,
                &ctx.store_url_redacted(),
            )
            .await
            .context("cannot bundle these references")?;
            bundle.write(&out)?;
            let shown = BundleOut::of(&bundle, &out);
            ctx.printer.emit(&shown, || {
                format!(
                    "{}Ship it with the application: http://SERVER/?bundle={}&bundle_sha256={}\n",
                    shown.human("Wrote"),
                    out.display(),
                    shown.sha256
                )
            });
        }
        BundleCommand::Inspect { file, sha256 } => {
            let bundle = Bundle::read(&file, sha256.as_deref())?;
            let shown = BundleOut::of(&bundle, &file);
            ctx.printer.emit(&shown, || {
                let mut text = shown.human("Checked");
                for version in &shown.versions {
                    text.push_str(&format!("  holds {version}\n"));
                }
                text
            });
        }
    }
    Ok(Outcome::Success)
}
