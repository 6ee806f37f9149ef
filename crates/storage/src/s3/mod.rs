//! [`S3Store`] (`s3://BUCKET/PREFIX`): prompts in an S3 bucket, or any S3-compatible one.
//!
//! Under the prefix, three kinds of object, none ever overwritten:
//!
//! - `versions/<sha256>.json`: a version's body, named by the SHA-256 of its bytes;
//! - `log/<seq>.json`: commit `seq`, the store of record. Each write — a save (or a whole
//!   `save_all`), a label move, a status change, a deletion, an audit event — is one commit:
//!   what it changed per prompt and the audit entries it appended, sealed into the chain. A
//!   commit is created with `If-None-Match: *`, so when two writers (threads, processes,
//!   machines) plan the same number, exactly one wins; the other reads the winner's commit and
//!   plans again, so a compare-and-set that no longer holds is refused and one that still holds
//!   goes in next. No update is lost and the audit chain has no gap;
//! - `snapshots/<seq>.json`: the whole state after a commit, written every
//!   [`snapshot_every`](S3Options::snapshot_every) commits, so opening reads one snapshot and
//!   the log after it.
//!
//! A handle keeps the replay in memory. Every read first lists the log past what it holds (one
//! `LIST`), so a read sees every write committed before it, from any writer. A cache above the
//! store ([`watch`](StorageBackend::watch)) hears of other writers' changes from a poll of the
//! log every [`poll`](S3Options::poll) (or at once, with Redis in front: `redis://…?store=s3://…`).
//! Bodies are fetched when loaded and checked against the hashes the log recorded.
//!
//! Usage records are objects of their own under `usage/`, added and never changed (see
//! `usage.rs`), outside the log: they are counters, not history.

mod state;
mod url;
mod usage;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use chrono::Utc;
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use prompt_manager_core::semver::Version;
use prompt_manager_core::usage::{Bucket, UsageQuery, UsageRow};
use prompt_manager_core::{
    AssignmentChange, AuditEntry, AuditQuery, AuditRecord, ChangeListener, DeleteRequest, Error, HashMismatch,
    LabelChange, LabelEvent, LabelName, ListQuery, NotFound, Page, PromptId, PromptSummary, PromptVersion,
    ProtectionChange, Result, SaveRequest, StatusChange, StorageBackend, VersionInfo, VersionStore, async_trait,
    sha256_hex,
};

pub use url::S3Url;

use crate::rules;
use state::{Body, Commit, Op, State};

const BACKEND: &str = "s3";

/// How many times a write plans again after other writers took the commit number it planned.
const MAX_ATTEMPTS: usize = 64;

/// How an [`S3Store`] polls and snapshots; `s3://` URL parameters set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// How often a watched store lists the log for other writers' commits (`poll_ms`, default
    /// 1,000 ms).
    pub poll: Duration,
    /// Every how many commits a snapshot of the whole state is written (`snapshot_every`,
    /// default 100; 0 never).
    pub snapshot_every: u64,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(1000),
            snapshot_every: 100,
        }
    }
}

/// Prompts in an S3 bucket under a prefix: versions as immutable objects, every write a commit
/// object created only if absent. See the module docs for the layout.
///
/// Open one with [`S3Store::open`] (an `s3://` URL, credentials from the usual `AWS_*`
/// variables) or [`S3Store::new`] (any `object_store` store, e.g. one configured in code).
/// Handles are cheap to clone and share one replay.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    objects: Arc<dyn ObjectStore>,
    prefix: Path,
    /// The bucket, for messages.
    bucket: String,
    /// `s3://bucket/prefix`, for messages.
    location: String,
    options: S3Options,
    state: RwLock<Arc<State>>,
    /// One refresh or commit at a time in this process: they read and extend one replay.
    sync: tokio::sync::Mutex<()>,
    listeners: Mutex<Vec<Arc<dyn ChangeListener>>>,
    /// Makes each commit's token unique within the process.
    tokens: AtomicU64,
}

impl S3Store {
    /// Opens the store an `s3://BUCKET[/PREFIX][?endpoint=URL&region=R&poll_ms=N&snapshot_every=N]`
    /// URL names (see [`S3Url`]): credentials, region and endpoint come from the `AWS_*`
    /// variables unless the URL sets them. Reads the newest snapshot and the log after it; a
    /// bucket that cannot be listed (missing, no access) is an error naming it.
    pub async fn open(url: &str) -> Result<Self> {
        let url = S3Url::parse(url)?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
        if let Some(endpoint) = &url.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &url.region {
            builder = builder.with_region(region);
        }
        let objects: AmazonS3 = builder
            .build()
            .map_err(|e| Error::Config(format!("s3://{}: {e}", url.bucket)))?;
        Self::new(Arc::new(objects), &url.bucket, &url.prefix, url.options).await
    }

    /// A store in `objects` under `prefix` (`""` for the bucket's root); `bucket` names it in
    /// messages. Reads what is there: the newest snapshot and the log after it.
    pub async fn new(objects: Arc<dyn ObjectStore>, bucket: &str, prefix: &str, options: S3Options) -> Result<Self> {
        let prefix = prefix.trim_matches('/');
        let location = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let parsed = Path::parse(prefix).map_err(|e| Error::Config(format!("{location}: the prefix: {e}")))?;
        let inner = Arc::new(Inner {
            objects,
            prefix: parsed,
            bucket: bucket.to_owned(),
            location,
            options,
            state: RwLock::new(Arc::new(State::default())),
            sync: tokio::sync::Mutex::new(()),
            listeners: Mutex::new(Vec::new()),
            tokens: AtomicU64::new(0),
        });
        inner.load_snapshot().await?;
        inner.refresh().await?;
        Ok(Self { inner })
    }

    /// `s3://bucket/prefix`.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The number of the last commit this handle has read.
    pub fn head(&self) -> u64 {
        self.inner.snapshot().map_or(0, |s| s.seq)
    }

    /// Reads the commits other writers made since the last read, and reports the prompts they
    /// changed to the listeners of [`watch`](StorageBackend::watch).
    pub async fn refresh(&self) -> Result<()> {
        self.inner.refresh().await
    }
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("location", &self.inner.location)
            .field("head", &self.head())
            .finish()
    }
}

fn seq_name(seq: u64) -> String {
    format!("{seq:020}.json")
}

/// The listed objects named `<seq>.json`, by number.
fn numbered(listed: Vec<ObjectMeta>) -> Vec<(u64, Path)> {
    let mut found: Vec<(u64, Path)> = listed
        .into_iter()
        .filter_map(|meta| {
            let seq = meta.location.filename()?.strip_suffix(".json")?.parse().ok()?;
            Some((seq, meta.location))
        })
        .collect();
    found.sort();
    found
}

impl Inner {
    fn path(&self, dir: &str, name: &str) -> Path {
        self.prefix.clone().join(dir).join(name)
    }

    fn shown(&self, path: &Path) -> String {
        format!("s3://{}/{path}", self.bucket)
    }

    fn failed(&self, what: &str, e: object_store::Error) -> Error {
        Error::backend(BACKEND, format!("{}: {what}: {e}", self.location))
    }

    fn snapshot(&self) -> Result<Arc<State>> {
        self.state.read().map(|s| Arc::clone(&s)).map_err(|_| poisoned())
    }

    fn replace(&self, state: State) -> Result<()> {
        *self.state.write().map_err(|_| poisoned())? = Arc::new(state);
        Ok(())
    }

    /// Reads the newest snapshot, if any; one that cannot be read is skipped (with a warning)
    /// for the one before, down to the log's start: the log alone is the store of record.
    async fn load_snapshot(&self) -> Result<()> {
        let dir = self.prefix.clone().join("snapshots");
        let listed: Vec<ObjectMeta> = self
            .objects
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| self.failed("listing the snapshots", e))?;
        let mut found = numbered(listed);
        while let Some((seq, path)) = found.pop() {
            match self.get_json::<State>(&path).await {
                Ok(state) if state.seq == seq => return self.replace(state),
                Ok(state) => tracing::warn!(
                    snapshot = %self.shown(&path),
                    seq = state.seq,
                    "an S3 store's snapshot holds another commit than its name says; reading an older one"
                ),
                Err(e) => {
                    tracing::warn!(snapshot = %self.shown(&path), error = %e, "an S3 store's snapshot cannot be read; reading an older one")
                }
            }
        }
        Ok(())
    }

    async fn get_bytes(&self, path: &Path) -> std::result::Result<Vec<u8>, object_store::Error> {
        Ok(self.objects.get(path).await?.bytes().await?.to_vec())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<T> {
        let bytes = self
            .get_bytes(path)
            .await
            .map_err(|e| self.failed(&format!("reading {}", self.shown(path)), e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::backend(
                BACKEND,
                format!("{} is not what this store wrote: {e}", self.shown(path)),
            )
        })
    }

    async fn read_commit(&self, path: Path) -> Result<Commit> {
        self.get_json(&path).await
    }

    /// A name no other write of any process uses: the process, the time, a counter.
    fn token(&self) -> String {
        format!(
            "{}.{}.{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            self.tokens.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Reads the log past the replay, under the sync lock.
    async fn refresh(&self) -> Result<()> {
        let _sync = self.sync.lock().await;
        self.refresh_locked().await.map(|_| ())
    }

    /// Lists the log after the replay's last commit, applies what it finds in order, and tells
    /// the listeners which prompts changed. Returns the commits read.
    async fn refresh_locked(&self) -> Result<Vec<Commit>> {
        let head = self.snapshot()?.seq;
        let dir = self.prefix.clone().join("log");
        let offset = self.path("log", &seq_name(head));
        let listed: Vec<ObjectMeta> = self
            .objects
            .list_with_offset(Some(&dir), &offset)
            .try_collect()
            .await
            .map_err(|e| self.failed("listing the log", e))?;
        let paths: Vec<Path> = numbered(listed)
            .into_iter()
            .filter(|(seq, _)| *seq > head)
            .map(|(_, path)| path)
            .collect();
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        // Eight reads at a time: a handle that was away reads a long log quickly.
        let mut commits = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(8) {
            for commit in futures_util::future::join_all(chunk.iter().cloned().map(|p| self.read_commit(p))).await {
                commits.push(commit?);
            }
        }
        let mut next = State::clone(&*self.snapshot()?);
        for commit in &commits {
            next.apply(commit)?;
        }
        self.replace(next)?;
        self.tell(&commits);
        Ok(commits)
    }

    fn tell(&self, commits: &[Commit]) {
        let ids: BTreeSet<&PromptId> = commits.iter().flat_map(|c| c.changes.keys()).collect();
        if ids.is_empty() {
            return;
        }
        let listeners = self.listeners.lock().map(|l| l.clone()).unwrap_or_default();
        for listener in listeners {
            for id in &ids {
                listener.changed(id);
            }
        }
    }

    /// Plans `op` on the latest state and commits it; plans again when another writer took the
    /// number. Returns what the op returns, and the commit (none when the op changed nothing).
    async fn run<O: Op>(&self, op: O) -> Result<(O::Out, Option<Commit>)> {
        let _sync = self.sync.lock().await;
        let token = self.token();
        let mut written = BTreeSet::new();
        // A put that was refused or failed may have landed all the same (the client retries a
        // put after a 5xx, and the retry finds the first one's object): what was put, until the
        // log says whose commit holds its number.
        let mut pending: Option<(O::Out, Commit)> = None;
        for _ in 0..MAX_ATTEMPTS {
            let read = self.refresh_locked().await?;
            // Another writer holding the number means ours did not land: plan again.
            if let Some((out, ours)) = pending.take()
                && read.iter().any(|c| c.token == token)
            {
                return Ok(self.committed(out, ours).await);
            }
            let state = self.snapshot()?;
            let now = Utc::now();
            let plan = op.plan(&state, now)?;
            if plan.is_empty() {
                return Ok((plan.out, None));
            }
            for Body(name, bytes) in &plan.bodies {
                if written.insert(name.clone()) {
                    self.put_body(name, bytes).await?;
                }
            }
            let commit = plan.commit(&state, token.clone(), now);
            let path = self.path("log", &seq_name(commit.seq));
            let bytes = serde_json::to_vec(&commit)
                .map_err(|e| Error::backend(BACKEND, format!("commit {} cannot be written: {e}", commit.seq)))?;
            let put = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            let seq = commit.seq;
            match self.objects.put_opts(&path, PutPayload::from(bytes), put).await {
                Ok(_) => {
                    let mut next = State::clone(&state);
                    next.apply(&commit)?;
                    self.replace(next)?;
                    return Ok(self.committed(plan.out, commit).await);
                }
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                    pending = Some((plan.out, commit));
                }
                Err(e) => {
                    // No answer, or an error: the log says whether the put landed.
                    let read = match self.refresh_locked().await {
                        Ok(read) => read,
                        Err(_) => {
                            let what = format!(
                                "writing commit {seq} failed, and the log cannot be read to see whether it landed: \
                                 check the prompt's history before writing again"
                            );
                            return Err(self.failed(&what, e));
                        }
                    };
                    if read.iter().any(|c| c.token == token) {
                        return Ok(self.committed(plan.out, commit).await);
                    }
                    if self.snapshot()?.seq < seq {
                        // The number is still free: the put may yet land, or never.
                        return Err(self.failed(
                            &format!(
                                "writing commit {seq} failed, and it is not in the log yet: check the prompt's \
                                 history before writing again"
                            ),
                            e,
                        ));
                    }
                    // Another writer holds the number, so ours cannot land: plan again.
                }
            }
        }
        Err(Error::backend(
            BACKEND,
            format!(
                "{}: other writers took the next commit {MAX_ATTEMPTS} times in a row; nothing was changed, try again",
                self.location
            ),
        ))
    }

    /// What a write returns once its commit is in the log (and in the replay), after the
    /// snapshot its number calls for.
    async fn committed<T>(&self, out: T, commit: Commit) -> (T, Option<Commit>) {
        if self.options.snapshot_every > 0 && commit.seq.is_multiple_of(self.options.snapshot_every) {
            self.write_snapshot().await;
        }
        (out, Some(commit))
    }

    /// Puts a version's body unless it is there (same name, same bytes).
    async fn put_body(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path("versions", &format!("{name}.json"));
        let put = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .objects
            .put_opts(&path, PutPayload::from(bytes.to_vec()), put)
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(()),
            Err(e) => Err(self.failed(&format!("writing {} (nothing was changed)", self.shown(&path)), e)),
        }
    }

    /// Writes a snapshot of the replay; a failure only costs the next opening a longer read.
    async fn write_snapshot(&self) {
        let Ok(state) = self.snapshot() else { return };
        let path = self.path("snapshots", &seq_name(state.seq));
        let bytes = match serde_json::to_vec(&*state) {
            Ok(bytes) => bytes,
            Err(e) => return tracing::warn!(error = %e, "an S3 store's snapshot cannot be written"),
        };
        let put = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        if let Err(e) = self.objects.put_opts(&path, PutPayload::from(bytes), put).await
            && !matches!(e, object_store::Error::AlreadyExists { .. })
        {
            tracing::warn!(snapshot = %self.shown(&path), error = %e, "an S3 store's snapshot was not written");
        }
    }

    /// The state as of now: the log read first.
    async fn fresh(&self) -> Result<Arc<State>> {
        self.refresh().await?;
        self.snapshot()
    }

    /// Loads a version's body and checks it against what the log recorded.
    async fn load_body(&self, id: &PromptId, stored: &state::Stored) -> Result<Arc<PromptVersion>> {
        let path = self.path("versions", &format!("{}.json", stored.object));
        let shown = self.shown(&path);
        let bytes = match self.get_bytes(&path).await {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::backend(
                    BACKEND,
                    format!("version {} of `{id}`: {shown} is missing", stored.info.version),
                ));
            }
            Err(e) => return Err(self.failed(&format!("reading {shown}"), e)),
        };
        let version: PromptVersion = serde_json::from_slice(&bytes).map_err(|e| {
            Error::backend(
                BACKEND,
                format!(
                    "version {} of `{id}`: {shown} is not a version: {e}",
                    stored.info.version
                ),
            )
        })?;
        let actual = version.prompt.content_hash();
        if actual != stored.info.content_hash {
            return Err(Error::ContentHashMismatch(Box::new(HashMismatch {
                id: id.clone(),
                version: stored.info.version.clone(),
                location: shown,
                expected: stored.info.content_hash.clone(),
                actual,
            })));
        }
        if sha256_hex(&bytes) != stored.object {
            return Err(Error::backend(
                BACKEND,
                format!(
                    "version {} of `{id}`: {shown} was changed after it was written (its bytes no longer hash to its name)",
                    stored.info.version
                ),
            ));
        }
        if version.prompt.id != *id || version.info() != stored.info {
            return Err(Error::backend(
                BACKEND,
                format!(
                    "version {} of `{id}`: the log names {shown}, which holds another version: the log is damaged",
                    stored.info.version
                ),
            ));
        }
        Ok(Arc::new(version))
    }

    fn record<'s>(state: &'s State, id: &PromptId) -> Result<&'s state::Record> {
        state.prompts.get(id).ok_or_else(|| Error::prompt_not_found(id))
    }
}

fn poisoned() -> Error {
    Error::backend(
        BACKEND,
        "the store's lock is poisoned: a thread panicked while replacing the replay",
    )
}

/// Polls the log while the store lives, so that listeners hear of other writers' commits.
async fn poll(inner: Weak<Inner>, every: Duration) {
    let mut failing = false;
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        match inner.refresh().await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(store = %inner.location, "an S3 store's log can be read again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(store = %inner.location, error = %e, "an S3 store's log cannot be read; polling on");
            }
            Err(_) => {}
        }
    }
}

#[async_trait]
impl StorageBackend for S3Store {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        self.save_all(vec![request]).await
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        Ok(self.inner.run(state::Save(requests)).await?.0)
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        let state = self.inner.fresh().await?;
        let record = Inner::record(&state, id)?;
        let stored = match version {
            None => record.latest(),
            Some(v) => record.versions.get(v),
        }
        .ok_or_else(|| match version {
            Some(v) => Error::NotFound(NotFound::Version(id.clone(), v.clone())),
            None => Error::prompt_not_found(id),
        })?;
        self.inner.load_body(id, stored).await
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        self.inner.run(state::Delete(id.clone(), request)).await.map(|_| ())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        query.validate()?;
        let state = self.inner.fresh().await?;
        let prefix = query.id_prefix.as_deref().unwrap_or("");
        let start = match query.cursor.as_deref() {
            Some(cursor) if cursor >= prefix => Bound::Excluded(cursor),
            _ => Bound::Included(prefix),
        };
        let in_range = state
            .prompts
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(id, _)| id.starts_with(prefix))
            .map(|(id, record)| record.summary(id));
        rules::page(in_range, query)
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        let state = self.inner.fresh().await?;
        Inner::record(&state, id)?.summary(id)
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        self.inner.run(state::SetStatus(id.clone(), change)).await.map(|_| ())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        query.validate()?;
        let state = self.inner.fresh().await?;
        Ok(rules::audit_page(&state.audit, query))
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        let (_, commit) = self.inner.run(state::Append(record)).await?;
        commit
            .and_then(|c| c.audit.into_iter().next())
            .ok_or_else(|| Error::backend(BACKEND, "appending an audit entry produced none"))
    }

    fn records_usage(&self) -> bool {
        true
    }

    async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        self.inner.add_usage(rows).await
    }

    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        self.inner.usage(query).await
    }

    async fn prune_usage(&self, bucket: Bucket, before: i64) -> Result<u64> {
        self.inner.prune_usage(bucket, before).await
    }

    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let Ok(mut listeners) = self.inner.listeners.lock() else {
            return false;
        };
        let first = listeners.is_empty();
        listeners.push(listener);
        if first {
            runtime.spawn(poll(Arc::downgrade(&self.inner), self.inner.options.poll));
        }
        true
    }
}

#[async_trait]
impl VersionStore for S3Store {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        let state = self.inner.fresh().await?;
        let record = Inner::record(&state, id)?;
        Ok(record.versions.values().rev().map(|s| s.info.clone()).collect())
    }

    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        let state = self.inner.fresh().await?;
        Ok(Inner::record(&state, id)?.labels.clone())
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        self.assign_label(id, change.into()).await
    }

    async fn assign_label(&self, id: &PromptId, change: AssignmentChange) -> Result<Option<LabelEvent>> {
        Ok(self.inner.run(state::Assign(id.clone(), change)).await?.0)
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        Ok(self.inner.run(state::Protect(id.clone(), change)).await?.0)
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        let state = self.inner.fresh().await?;
        Ok(Inner::record(&state, id)?
            .history
            .iter()
            .filter(|e| label.is_none_or(|l| e.label == *l))
            .cloned()
            .collect())
    }
}
