//! The S3 store (`s3://BUCKET/PREFIX`) against a real S3-compatible server: the conformance
//! suite, a reopen from a snapshot and the log after it, writers on several handles racing on
//! one log (no lost update, one gap-free audit chain), other writers' commits seen by reads at
//! once and by a watching cache within a poll, and tampered objects found.
//!
//! `PROMPT_MANAGER_TEST_S3_URL` names a bucket on the server, with its endpoint (`.ci/run`
//! starts moto's server: `s3://pmtest?endpoint=http://127.0.0.1:9090`), and the `AWS_*`
//! variables hold its credentials. Each test works under a prefix of its own. Without the
//! variable the tests skip with a notice, or fail when `PROMPT_MANAGER_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{id, v};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use prompt_manager_core::{
    AuditAction, AuditBreak, AuditRecord, Authority, ChangeListener, Error, Expect, LabelChange, LabelEventKind,
    PromptId, SaveRequest, StorageBackend, Store, VersionStore, verify_chain,
};
use prompt_manager_storage::{S3Options, S3Store, S3Url, conformance};

const URL_VAR: &str = "PROMPT_MANAGER_TEST_S3_URL";

/// The test bucket's URL, or `None` (after a notice) when the tests should skip.
fn bucket_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("PROMPT_MANAGER_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "{URL_VAR} is not set, but PROMPT_MANAGER_REQUIRE_SERVICES=1 requires the S3 tests to run; \
             set it to a bucket such as s3://pmtest?endpoint=http://127.0.0.1:9090"
        ),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "skipping an S3 test: {URL_VAR} is not set (e.g. s3://pmtest?endpoint=http://127.0.0.1:9090)"
            );
            None
        }
    }
}

/// The bucket's URL with a prefix no other test or run uses, and `extra` parameters.
fn fresh(base: &str, extra: &str) -> (String, String) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!(
        "pmtest/{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let (bucket, query) = base.split_once('?').unwrap_or((base, ""));
    let query = [query, extra]
        .iter()
        .filter(|q| !q.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("&");
    let url = format!("{}/{prefix}?{query}", bucket.trim_end_matches('/'));
    (url, prefix)
}

/// The bucket itself, to change objects behind the store's back.
fn raw(base: &str) -> Arc<dyn ObjectStore> {
    let url = S3Url::parse(base).unwrap();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
    if let Some(endpoint) = &url.endpoint {
        builder = builder.with_endpoint(endpoint).with_allow_http(true);
    }
    Arc::new(builder.build().unwrap())
}

async fn open(url: &str) -> S3Store {
    S3Store::open(url).await.unwrap()
}

#[tokio::test]
async fn conformance_suite() {
    let Some(base) = bucket_url() else { return };
    let (url, _) = fresh(&base, "");
    conformance::run_all(&open(&url).await).await;
}

/// The suite twice on one prefix, the second time on a handle opened after the first: it reads
/// the newest snapshot (one every 7 commits here) and the log after it, and sees what the first
/// handle saw.
#[tokio::test]
async fn a_reopened_store_reads_the_snapshot_and_the_log_after_it() {
    let Some(base) = bucket_url() else { return };
    let (url, prefix) = fresh(&base, "snapshot_every=7");
    let first = open(&url).await;
    conformance::run_all(&first).await;
    let fixture_id = id("reopen/fixture");
    let fixture = common::write_fixture(&first, &fixture_id).await;
    let snapshots = raw(&base)
        .list(Some(&Path::from(format!("{prefix}/snapshots"))))
        .collect_names()
        .await;
    assert!(!snapshots.is_empty(), "snapshots were written");

    let second = open(&url).await;
    assert_eq!(second.head(), first.head(), "the reopened handle read the whole log");
    assert_eq!(common::snapshot(&second, &fixture_id).await, fixture);
    let all = prompt_manager_core::AuditQuery {
        limit: Some(prompt_manager_core::MAX_AUDIT_LIMIT),
        ..Default::default()
    };
    assert_eq!(first.audit(&all).await.unwrap(), second.audit(&all).await.unwrap());
    conformance::run_all(&second).await;

    // Without snapshots (a damaged one is skipped the same way), the log alone gives the same.
    let store = raw(&base);
    for name in store
        .list(Some(&Path::from(format!("{prefix}/snapshots"))))
        .collect_names()
        .await
    {
        store
            .put(&Path::from(name), PutPayload::from_static(b"{ not json"))
            .await
            .unwrap();
    }
    let third = open(&url).await;
    assert_eq!(third.head(), second.head());
    assert_eq!(common::snapshot(&third, &fixture_id).await, fixture);
}

trait CollectNames {
    async fn collect_names(self) -> Vec<String>;
}

impl CollectNames for futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
    async fn collect_names(self) -> Vec<String> {
        use futures_util::TryStreamExt;
        self.map_ok(|m| m.location.to_string()).try_collect().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_racing_on_one_log_lose_no_compare_and_set_update() {
    let Some(base) = bucket_url() else { return };
    let (url, _) = fresh(&base, "");
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(open(&url).await));
    }
    common::race_compare_and_set(stores.clone(), &id("race/counter"), 20).await;
    for round in 0..3 {
        common::race_creates(stores.clone(), &id(&format!("race/created-{round}"))).await;
    }
}

/// Writers on three handles writing different prompts at once: every write is one commit, the
/// audit entries are numbered without gaps and chained, and every handle reads the same log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_one_gap_free_audit_chain() {
    let Some(base) = bucket_url() else { return };
    let (url, _) = fresh(&base, "");
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(open(&url).await));
    }
    let (writers, saves) = (6, 5);
    let tasks = (0..writers).map(|w| {
        let store = Arc::clone(&stores[w % stores.len()]);
        tokio::spawn(async move {
            for i in 0..saves {
                let pid = format!("chain/w{w}");
                let expected = if i == 0 {
                    Expect::Absent
                } else {
                    Expect::Version(v(&format!("1.{}.0", i - 1)))
                };
                store
                    .save(SaveRequest {
                        labels: vec!["production".parse().unwrap()],
                        ..conformance::save_request(conformance::text_version(&pid, &format!("1.{i}.0"), "x"), expected)
                    })
                    .await
                    .unwrap();
            }
        })
    });
    for task in tasks.collect::<Vec<_>>() {
        task.await.unwrap();
    }
    for store in &stores {
        let entries = conformance::audit_after(store.as_ref(), 0).await;
        assert_eq!(
            entries.len(),
            writers * saves * 2,
            "each save: version_created and label_set"
        );
        assert_eq!(verify_chain(&entries), Ok((writers * saves * 2) as u64));
        assert_eq!(store.head(), (writers * saves) as u64, "one commit per save");
    }
}

struct Heard(Mutex<Vec<PromptId>>);

impl ChangeListener for Heard {
    fn changed(&self, id: &PromptId) {
        self.0.lock().unwrap().push(id.clone());
    }

    fn lost(&self) {}
}

/// A read on one handle sees what another committed just before, at once; a cache watching a
/// handle hears of it within a poll.
#[tokio::test]
async fn other_writers_are_seen_by_reads_at_once_and_by_watchers_within_a_poll() {
    let Some(base) = bucket_url() else { return };
    let (url, _) = fresh(&base, "poll_ms=50");
    let (reader, writer) = (open(&url).await, open(&url).await);
    let heard = Arc::new(Heard(Mutex::new(Vec::new())));
    assert!(reader.watch(heard.clone()));
    let pid = id("seen/greeting");
    writer
        .save(conformance::save_request(
            conformance::text_version(&pid, "1.0.0", "Hello"),
            Expect::Absent,
        ))
        .await
        .unwrap();
    assert_eq!(reader.load(&pid, None).await.unwrap().version, v("1.0.0"));

    heard.0.lock().unwrap().clear();
    let start = Instant::now();
    writer
        .set_label(
            &pid,
            LabelChange {
                label: "production".parse().unwrap(),
                to: Some(v("1.0.0")),
                expected: Expect::Any,
                kind: LabelEventKind::Set,
                actor: None,
                authority: Authority::User,
            },
        )
        .await
        .unwrap();
    while !heard.0.lock().unwrap().contains(&pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the watcher did not hear of another handle's label move"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        reader.labels(&pid).await.unwrap().get(&common::label("production")),
        Some(&v("1.0.0"))
    );
}

#[tokio::test]
async fn a_changed_version_object_is_refused_naming_it_and_both_hashes() {
    let Some(base) = bucket_url() else { return };
    let (url, prefix) = fresh(&base, "");
    let store = open(&url).await;
    let bucket = S3Url::parse(&base).unwrap().bucket;
    let objects = raw(&base);
    conformance::tampered_version_is_refused(&store, |t| {
        let objects = Arc::clone(&objects);
        let prefix = prefix.clone();
        let bucket = bucket.clone();
        async move {
            // The version's object: the one whose body is the saved version.
            let saved = serde_json::to_vec(&t.saved).unwrap();
            let name = format!("{prefix}/versions/{}.json", prompt_manager_core::sha256_hex(&saved));
            let mut changed = t.saved.clone();
            changed.prompt = t.changed_prompt();
            objects
                .put(
                    &Path::from(name.as_str()),
                    PutPayload::from(serde_json::to_vec(&changed).unwrap()),
                )
                .await
                .unwrap();
            format!("s3://{bucket}/{name}")
        }
    })
    .await;
}

/// An audit entry edited in its commit object is found by the chain's verification on the next
/// opening; a deleted commit makes the log's gap an error that names it.
#[tokio::test]
async fn an_edited_or_deleted_commit_is_found() {
    let Some(base) = bucket_url() else { return };
    let (url, prefix) = fresh(&base, "");
    let store = open(&url).await;
    for key in ["a", "b", "c"] {
        store
            .append_audit(AuditRecord {
                after: Some(serde_json::json!({ "key": key })),
                ..AuditRecord::new(AuditAction::KeyCreated, Some("tester".into()))
            })
            .await
            .unwrap();
    }
    let objects = raw(&base);
    let second = Path::from(format!("{prefix}/log/{:020}.json", 2));
    let bytes = objects.get(&second).await.unwrap().bytes().await.unwrap();
    let edited = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("\"tester\"", "\"mallory\"");
    objects
        .put(&second, PutPayload::from(edited.into_bytes()))
        .await
        .unwrap();
    let entries = conformance::audit_after(&open(&url).await, 0).await;
    assert!(
        matches!(verify_chain(&entries), Err(AuditBreak::Edited { seq: 2, .. })),
        "{:?}",
        verify_chain(&entries)
    );

    objects.delete(&second).await.unwrap();
    let err = S3Store::open(&url).await.unwrap_err().to_string();
    assert!(err.contains("commit 3 follows commit 1"), "{err}");
}

#[tokio::test]
async fn a_missing_bucket_or_server_is_a_clear_error() {
    let Some(base) = bucket_url() else { return };
    let parsed = S3Url::parse(&base).unwrap();
    let missing = match &parsed.endpoint {
        Some(endpoint) => format!("s3://pm-no-such-bucket-{}?endpoint={endpoint}", std::process::id()),
        None => format!("s3://pm-no-such-bucket-{}", std::process::id()),
    };
    let err = S3Store::open(&missing).await.unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    assert!(err.to_string().contains("s3://pm-no-such-bucket-"), "{err}");

    let options = S3Options {
        poll: Duration::from_millis(10),
        ..S3Options::default()
    };
    let unreachable = AmazonS3Builder::new()
        .with_bucket_name("pmtest")
        .with_region("us-east-1")
        .with_access_key_id("x")
        .with_secret_access_key("y")
        .with_endpoint("http://127.0.0.1:9")
        .with_allow_http(true)
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .unwrap();
    let err = S3Store::new(Arc::new(unreachable), "pmtest", "x", options)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("s3://pmtest/x: listing the snapshots"),
        "{err}"
    );
}

/// What [`Faulty`] does to the next put of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// The put lands, and its answer is `AlreadyExists` (a retry after a lost answer).
    LandsThenRefused,
    /// The put lands, and its answer is an error (a timeout).
    LandsThenFails,
    /// The put does not land, and its answer is an error.
    Fails,
}

/// The bucket, with a fault injected into the next put of a commit (`log/…`).
#[derive(Debug)]
struct Faulty {
    inner: Arc<dyn ObjectStore>,
    next: Mutex<Fault>,
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[prompt_manager_core::async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        let fault = if location.as_ref().contains("/log/") {
            std::mem::replace(&mut *self.next.lock().unwrap(), Fault::None)
        } else {
            Fault::None
        };
        let generic = || object_store::Error::Generic {
            store: "faulty",
            source: "the answer was lost".into(),
        };
        match fault {
            Fault::None => self.inner.put_opts(location, payload, opts).await,
            Fault::LandsThenRefused => {
                self.inner.put_opts(location, payload, opts).await?;
                Err(object_store::Error::AlreadyExists {
                    path: location.to_string(),
                    source: "the retry found the first put's object".into(),
                })
            }
            Fault::LandsThenFails => {
                self.inner.put_opts(location, payload, opts).await?;
                Err(generic())
            }
            Fault::Fails => Err(generic()),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures_util::stream::BoxStream<'static, object_store::Result<Path>>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: object_store::CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A commit put whose answer is lost is recognised by its token in the log: a write that landed
/// succeeds once (never applied twice, never reported failed), and one that did not land is an
/// error that says its outcome must be checked, with nothing stored.
#[tokio::test]
async fn a_commit_whose_answer_is_lost_is_found_in_the_log() {
    let Some(base) = bucket_url() else { return };
    let (_, prefix) = fresh(&base, "");
    let faulty = Arc::new(Faulty {
        inner: raw(&base),
        next: Mutex::new(Fault::None),
    });
    let bucket = S3Url::parse(&base).unwrap().bucket;
    let store = S3Store::new(faulty.clone(), &bucket, &prefix, S3Options::default())
        .await
        .unwrap();
    let record = |key: &str| AuditRecord {
        after: Some(serde_json::json!({ "key": key })),
        ..AuditRecord::new(AuditAction::KeyCreated, Some("tester".into()))
    };
    for (i, fault) in [Fault::LandsThenRefused, Fault::LandsThenFails].into_iter().enumerate() {
        *faulty.next.lock().unwrap() = fault;
        let entry = store.append_audit(record(&format!("k{i}"))).await.unwrap();
        assert_eq!(entry.seq, i as u64 + 1, "{fault:?}: appended once");
    }
    let pid = id("lost/answer");
    *faulty.next.lock().unwrap() = Fault::LandsThenRefused;
    store
        .save(conformance::save_request(
            conformance::text_version(&pid, "1.0.0", "Hello"),
            Expect::Absent,
        ))
        .await
        .unwrap();
    assert_eq!(store.list_versions(&pid).await.unwrap().len(), 1);

    *faulty.next.lock().unwrap() = Fault::Fails;
    let err = store.append_audit(record("lost")).await.unwrap_err().to_string();
    assert!(err.contains("not in the log yet"), "{err}");
    let entries = conformance::audit_after(&store, 0).await;
    assert_eq!(
        entries.len(),
        3,
        "two audit events and the save's version_created, nothing else"
    );
    assert_eq!(verify_chain(&entries), Ok(3));
    // Another handle reads the same log.
    let other = S3Store::new(raw(&base), &bucket, &prefix, S3Options::default())
        .await
        .unwrap();
    assert_eq!(other.head(), 3);
}
