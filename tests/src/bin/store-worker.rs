//! `store-worker`: a writer process for the tests that prove, with real processes, that stores are
//! durable when a writer is killed (`tests/crash.rs`) and that compare-and-set holds between
//! processes (`tests/concurrent_writers.rs`).
//!
//! ```text
//! store-worker crash-writer URL ID       create ID if absent, then update it forever
//! store-worker cas-writer URL ID N TAG   save N versions of ID by the store's compare-and-set, retrying lost races
//! store-worker split-render URL REF N     render REF with split keys key-0 … key-(N-1), print `key version` lines
//! ```
//!
//! After each acknowledged write it prints `ack <version>` and flushes, so that whatever it printed
//! before being killed, the store promised to keep. The content of each version is a function of
//! what is written (`prompt_manager_tests::worker`), so the tests can check it byte for byte.

use std::io::Write;

use anyhow::{Context, bail, ensure};
use chrono::Utc;
use prompt_manager::semver::Version;
use prompt_manager::{
    Bump, CreateOptions, Error, Expect, LabelName, Prompt, PromptId, PromptManager, PromptStatus, PromptVersion,
    SaveRequest, UpdateOptions,
};
use prompt_manager_tests::worker::{CRASH_LABEL, ack_line, cas_template, crash_template};

const USAGE: &str = "usage: store-worker crash-writer URL ID | store-worker cas-writer URL ID N TAG | store-worker split-render URL REF N";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match args.as_slice() {
        [mode, url, id] if mode == "crash-writer" => runtime.block_on(crash_writer(url, id)),
        [mode, url, id, n, tag] if mode == "cas-writer" => {
            let n = n.parse().with_context(|| format!("N must be a count, not `{n}`"))?;
            runtime.block_on(cas_writer(url, id, n, tag))
        }
        [mode, url, reference, n] if mode == "split-render" => {
            let n = n.parse().with_context(|| format!("N must be a count, not `{n}`"))?;
            runtime.block_on(split_render(url, reference, n))
        }
        _ => bail!("{USAGE}"),
    }
}

/// Renders `reference` (an A/B split label) once per split key `key-0` … and prints which
/// version served each: what another process on the same store must agree with.
async fn split_render(url: &str, reference: &str, n: usize) -> anyhow::Result<()> {
    let pm = open(url).await?;
    // The split tests' templates read `name`.
    let vars = prompt_manager::Variables::new().with("name", "x");
    let mut out = std::io::stdout().lock();
    for i in 0..n {
        let key = format!("key-{i}");
        let rendered = pm
            .render_prompt_with(reference, &vars, &prompt_manager::RenderOptions::split_key(&key))
            .await?;
        writeln!(out, "{key} {}", rendered.version)?;
    }
    out.flush()?;
    Ok(())
}

async fn open(url: &str) -> anyhow::Result<PromptManager> {
    // Not the URL in the message: it may hold a password.
    prompt_manager::open(url).await.context("opening the store")
}

/// Prints `ack <version>` on its own line and flushes it out of the process at once.
fn ack(version: &Version) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", ack_line(version))?;
    out.flush()?;
    Ok(())
}

/// Creates `id` unless it exists, then saves version after version until killed, each pointing
/// the crash label at itself in the same write.
async fn crash_writer(url: &str, id: &str) -> anyhow::Result<()> {
    let pm = open(url).await?;
    let id: PromptId = id.parse()?;
    let label: LabelName = CRASH_LABEL.parse()?;
    let first = Version::new(1, 0, 0);
    let created = pm
        .create_with(
            Prompt::text(&id, crash_template(&first))?,
            CreateOptions {
                version: Some(first.clone()),
                labels: vec![label.clone()],
                changelog: Some(format!("crash-writer {first}")),
                ..CreateOptions::default()
            },
        )
        .await;
    match created {
        Ok(outcome) => {
            ensure!(
                outcome.created && outcome.version.version == first,
                "create saved {outcome:?}"
            );
            ack(&first)?;
        }
        Err(Error::AlreadyExists { .. }) => {} // a killed writer created it
        Err(e) => return Err(e).context("creating the prompt"),
    }
    loop {
        let latest = pm.store().load(&id, None).await.context("loading the latest version")?;
        let next = Bump::Patch
            .apply(&latest.version)
            .context("the version number overflowed")?;
        let outcome = pm
            .update_with(
                Prompt::text(&id, crash_template(&next))?,
                UpdateOptions {
                    expected: Some(latest.version.clone()),
                    labels: vec![label.clone()],
                    ..UpdateOptions::new(Bump::Patch, format!("crash-writer {next}"))
                },
            )
            .await
            .with_context(|| format!("saving {next} over {}", latest.version))?;
        ensure!(
            outcome.created && outcome.version.version == next,
            "asked to save {next}, the store answered {} (created: {})",
            outcome.version.version,
            outcome.created
        );
        ack(&next)?;
    }
}

/// Saves `n` versions of `id` (which must exist) straight through the store, each with
/// `Expect::Version(latest)`, so that the store alone decides each race; a writer that loses one
/// reloads and tries again. Prints `ack <version>` per version saved, then `done N`.
async fn cas_writer(url: &str, id: &str, n: usize, tag: &str) -> anyhow::Result<()> {
    // Not the URL in the message: it may hold a password.
    let store = prompt_manager::open_store(url).await.context("opening the store")?;
    let id: PromptId = id.parse()?;
    let mut written = 0;
    let mut lost_races = 0u64;
    while written < n {
        let latest = store.load(&id, None).await.context("loading the latest version")?;
        let next = Bump::Patch
            .apply(&latest.version)
            .context("the version number overflowed")?;
        let content = cas_template(tag, written + 1);
        let prompt = Prompt::text(&id, &content)?;
        let saved = store
            .save(SaveRequest {
                version: PromptVersion {
                    content_hash: prompt.content_hash(),
                    prompt,
                    version: next.clone(),
                    changelog: content.clone(),
                    author: Some(tag.to_owned()),
                    created_at: Utc::now(),
                    parent: Some(latest.version.clone()),
                },
                expected: Expect::Version(latest.version.clone()),
                status: PromptStatus::default(),
                labels: Vec::new(),
                actor: Some(tag.to_owned()),
                authority: prompt_manager::Authority::User,
            })
            .await;
        match saved {
            Ok(_) => {
                ack(&next)?;
                written += 1;
            }
            Err(Error::VersionConflict { .. } | Error::VersionNotIncreasing { .. }) => lost_races += 1,
            Err(e) => return Err(e).with_context(|| format!("saving `{content}` as {next} over {}", latest.version)),
        }
    }
    eprintln!("{tag}: {n} versions written, {lost_races} lost races retried");
    let mut out = std::io::stdout().lock();
    writeln!(out, "done {n}")?;
    out.flush()?;
    Ok(())
}
