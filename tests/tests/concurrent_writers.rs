//! Compare-and-set holds between processes: two `store-worker cas-writer` processes each save 200
//! versions of one prompt straight through the store (`Expect::Version(latest)`), retrying the
//! races the store refuses, and afterwards the history holds exactly the initial version plus
//! 400, each derived from the one before it — no update lost, none written twice — with every
//! version holding the content of the writer that was told it won it.
//!
//! The PostgreSQL test reads `PROMPT_MANAGER_TEST_POSTGRES_URL` and works in a fresh schema; without
//! the variable it skips with a notice, or fails when `PROMPT_MANAGER_REQUIRE_SERVICES=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, ExitStatus};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prompt_manager::semver::Version;
use prompt_manager::{Prompt, PromptId, Template};
use prompt_manager_tests::postgres::TestSchema;
use prompt_manager_tests::worker::{self, CAS_INITIAL, parse_acks, parse_cas_template};

const WORKER: &str = env!("CARGO_BIN_EXE_store-worker");
const PROMPT: &str = "contended";
const UPDATES: usize = 200;
const TAGS: [&str; 2] = ["A", "B"];
/// A writer still running after this is stuck: the test kills it and fails rather than hang.
const DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn dir_store_loses_no_update_between_processes() {
    let folder = tempfile::tempdir().unwrap();
    two_writers("dir", &format!("dir://{}", folder.path().join("store").display()));
}

#[test]
fn sqlite_store_loses_no_update_between_processes() {
    let folder = tempfile::tempdir().unwrap();
    two_writers(
        "sqlite",
        &format!("sqlite://{}", folder.path().join("store.db").display()),
    );
}

#[test]
fn postgres_store_loses_no_update_between_processes() {
    let Some(schema) = TestSchema::new("postgres_store_loses_no_update_between_processes") else {
        return;
    };
    two_writers("postgres", schema.url());
}

/// A writer process and the threads draining its output.
struct Worker {
    tag: &'static str,
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

fn spawn(url: &str, tag: &'static str) -> Worker {
    let mut child = worker::start(WORKER, &["cas-writer", url, PROMPT, &UPDATES.to_string(), tag]).unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    Worker {
        tag,
        child,
        stdout,
        stderr,
    }
}

/// Waits for every worker; past the deadline, kills them all and fails rather than hang.
fn wait_all(workers: &mut [Worker], started: Instant) -> Vec<ExitStatus> {
    let mut statuses = vec![None; workers.len()];
    while statuses.iter().any(Option::is_none) {
        for (worker, status) in workers.iter_mut().zip(&mut statuses) {
            if status.is_none() {
                *status = worker.child.try_wait().unwrap();
            }
        }
        if started.elapsed() > DEADLINE {
            for worker in workers.iter_mut() {
                let _ = worker.child.kill();
            }
            panic!("writers still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    statuses.into_iter().flatten().collect()
}

fn two_writers(backend: &str, url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id: PromptId = PROMPT.parse().unwrap();
    runtime.block_on(async {
        let pm = prompt_manager::open(url).await.unwrap();
        pm.create(Prompt::text(PROMPT, CAS_INITIAL).unwrap()).await.unwrap();
    });

    let started = Instant::now();
    let mut workers: Vec<Worker> = TAGS.iter().map(|tag| spawn(url, tag)).collect();
    let statuses = wait_all(&mut workers, started);
    let elapsed = started.elapsed();
    // Which version each writer was told it saved.
    let mut won: BTreeMap<Version, (&str, usize)> = BTreeMap::new();
    for (worker, status) in workers.into_iter().zip(statuses) {
        let (stdout, stderr) = (worker.stdout.join().unwrap(), worker.stderr.join().unwrap());
        assert!(status.success(), "writer {} failed ({status}):\n{stderr}", worker.tag);
        assert!(
            stdout.ends_with(&format!("done {UPDATES}\n")),
            "writer {} did not finish:\n{stderr}",
            worker.tag
        );
        eprint!("{backend} {stderr}");
        let acks = parse_acks(&stdout).unwrap();
        assert_eq!(acks.len(), UPDATES, "writer {}: acknowledged writes", worker.tag);
        for (n, version) in acks.into_iter().enumerate() {
            let previous = won.insert(version.clone(), (worker.tag, n + 1));
            assert_eq!(previous, None, "{version} was acknowledged to two writers");
        }
    }

    runtime.block_on(async {
        // A fresh handle, as a reader that did not take part would open it.
        let store = prompt_manager::open_store(url).await.unwrap();
        let versions = store.list_versions(&id).await.unwrap();
        assert_eq!(
            versions.len(),
            1 + TAGS.len() * UPDATES,
            "the initial version plus every update"
        );
        let mut previous: Option<Version> = None;
        let mut next_of: BTreeMap<&str, usize> = TAGS.iter().map(|tag| (*tag, 1)).collect();
        for info in versions.iter().rev() {
            if let Some(previous) = &previous {
                assert!(info.version > *previous, "versions strictly increase");
            }
            // Each version was derived from the one just before it: no write slipped past another.
            assert_eq!(info.parent, previous, "the parent of {}", info.version);
            let loaded = store.get_version(&id, &info.version).await.unwrap();
            let Template::Text(text) = &loaded.prompt.template else {
                panic!("{} is not a text prompt", info.version);
            };
            match (&previous, parse_cas_template(text)) {
                (None, _) => assert_eq!(text, CAS_INITIAL, "the first version is the test's"),
                (Some(_), Some((tag, n))) => {
                    let expected = next_of.get_mut(tag).unwrap_or_else(|| panic!("unknown writer `{tag}`"));
                    assert_eq!(n, *expected, "writer {tag}'s updates are all there, in order");
                    *expected += 1;
                    assert_eq!(
                        won.get(&info.version),
                        Some(&(tag, n)),
                        "{} holds `{text}`, but that is not what its writer was told it saved there",
                        info.version
                    );
                }
                (Some(_), None) => panic!("{} holds `{text}`, which no writer wrote", info.version),
            }
            previous = Some(info.version.clone());
        }
        for (tag, next) in &next_of {
            assert_eq!(*next, UPDATES + 1, "writer {tag}'s updates");
        }
        let summary = store.summary(&id).await.unwrap();
        assert_eq!(Some(summary.latest_version), previous);
        assert_eq!(summary.version_count, (1 + TAGS.len() * UPDATES) as u64);
    });
    eprintln!(
        "{backend}: {} updates by {} processes in {elapsed:.1?}",
        TAGS.len() * UPDATES,
        TAGS.len()
    );
}

// ----- issue 12, item 7: updates without a precondition ----------------------------------------

/// Concurrent updates without an expected version, in one process through one manager.
const UNCONDITIONED: usize = 64;

#[test]
fn item_07_unconditioned_concurrent_updates_all_apply_memory() {
    unconditioned_updates("memory://".to_owned());
}

#[test]
fn item_07_unconditioned_concurrent_updates_all_apply_dir() {
    let folder = tempfile::tempdir().unwrap();
    unconditioned_updates(format!("dir://{}", folder.path().join("store").display()));
}

#[test]
fn item_07_unconditioned_concurrent_updates_all_apply_sqlite() {
    let folder = tempfile::tempdir().unwrap();
    unconditioned_updates(format!("sqlite://{}", folder.path().join("store.db").display()));
}

#[test]
fn item_07_unconditioned_concurrent_updates_all_apply_postgres() {
    let Some(schema) = TestSchema::new("item_07_unconditioned_concurrent_updates_all_apply_postgres") else {
        return;
    };
    unconditioned_updates(schema.url().to_owned());
}

/// [`UNCONDITIONED`] tasks update one prompt at once, none stating the version it expects (a PUT
/// without `If-Match`): every one succeeds with a version of its own, and the history holds exactly
/// the first version plus one per update, each derived from the one before it.
fn unconditioned_updates(url: String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pm = std::sync::Arc::new(prompt_manager::open(&url).await.unwrap());
        let id = "unconditioned";
        pm.create(Prompt::text(id, "start").unwrap()).await.unwrap();
        let tasks: Vec<_> = (0..UNCONDITIONED)
            .map(|i| {
                let pm = std::sync::Arc::clone(&pm);
                tokio::spawn(async move {
                    let prompt = Prompt::text(id, format!("writer {i}")).unwrap();
                    pm.update(prompt, prompt_manager::Bump::Patch, format!("writer {i}"))
                        .await
                })
            })
            .collect();
        let mut versions = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(outcome) => {
                    assert!(outcome.created, "{url}: writer {i} created no version");
                    versions.push(outcome.version.version.clone());
                }
                Err(e) => panic!("{url}: writer {i}, which sent no precondition, failed: {e}"),
            }
        }
        versions.sort();
        versions.dedup();
        assert_eq!(
            versions.len(),
            UNCONDITIONED,
            "{url}: every writer got a version of its own"
        );
        let history = pm.history(id).await.unwrap();
        assert_eq!(
            history.len(),
            UNCONDITIONED + 1,
            "{url}: the first version plus one per update"
        );
        let mut writers = Vec::new();
        for (info, patch) in history.iter().zip((0..=UNCONDITIONED as u64).rev()) {
            assert_eq!(info.version, Version::new(1, 0, patch), "{url}: versions without gaps");
            let parent = (patch > 0).then(|| Version::new(1, 0, patch - 1));
            assert_eq!(info.parent, parent, "{url}: each version derives from the one before");
            if patch > 0 {
                writers.push(info.changelog.clone());
            }
        }
        writers.sort();
        writers.dedup();
        assert_eq!(
            writers.len(),
            UNCONDITIONED,
            "{url}: each writer's update is there once"
        );
    });
}
