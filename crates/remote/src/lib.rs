//! # prompt-manager-remote
//!
//! The `http://` store of prompt-manager: a running `prompt-manager serve` as the store of a
//! manager in another process. [`RemoteStore`] implements the storage traits
//! ([`StorageBackend`], [`VersionStore`]) by calling the server's *store protocol*
//! (`POST /v1/store/<method>`, one route per trait method, bodies in the core request types' wire
//! form), and passes the same conformance suite as every other backend. Errors come back as the
//! same core [`Error`](prompt_manager_core::Error) variants, with their fields.
//!
//! A manager over it keeps its own registry: a version is fetched once, compiled once, and
//! rendered in-process afterwards with no network hop. [`RemoteStore::watch`] reads the server's
//! change stream (`GET /v1/changes`, Server-Sent Events) so that what another client changes is
//! forgotten within milliseconds.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> prompt_manager_core::Result<()> {
//! use prompt_manager_core::StorageBackend;
//! use prompt_manager_remote::RemoteStore;
//!
//! // The key may also come from PROMPT_MANAGER_API_KEY; it is never shown in errors or Debug.
//! let store = RemoteStore::connect("http://127.0.0.1:8080/?key=pm_abc_secret")?;
//! assert_eq!(store.backend_name(), "http");
//! # Ok(()) }
//! ```
//!
//! With the umbrella crate (feature `remote`): `prompt_manager::open("http://127.0.0.1:8080/")`.
//!
//! Calls time out (2 s to connect, 10 s per call); idempotent reads are tried 3 times with
//! exponential backoff and jitter. Writes are sent once: a write that timed out may have
//! happened, and the compare-and-set of the next one says so. Usage is recorded in the server's
//! store ([`StorageBackend::records_usage`] is `true`): an application that renders in-process
//! and builds its manager with `.usage(…)` adds its renders, tokens, cost and feedback to the
//! server's analytics and A/B verdicts, in calls of at most 500 rows, each sent once: a row is
//! counted once or not at all. `https://` is verified against the
//! system's trust roots (rustls); `?ca=FILE` trusts a team's own CA (PEM) as well.
//!
//! ## When the server is down
//!
//! A warm manager renders from memory and needs no server. For what it has not read yet (a
//! restarted application, a new reference), the reads a render makes can fall back:
//!
//! - a [`DiskCache`] (`?cache=DIR`) keeps the last answer of the server to each read, written
//!   atomically and sealed with its SHA-256, and serves it when the server cannot be reached;
//! - a [`Bundle`] (`?bundle=FILE[&bundle_sha256=HEX]`), written by `prompt-manager bundle export`,
//!   is the last resort an application ships with;
//! - with a copy at hand, a read waits for the server at most the budget (`?budget_ms=`,
//!   [`DEFAULT_BUDGET`]) and is not retried when the server cannot be reached.
//!
//! The server's answer always wins while it answers: a deleted prompt or a removed label is an
//! error, and its copy is dropped. Each copy served is logged at `warn` and counted
//! ([`RemoteStore::read_sources`], [`RemoteStore::copies_served`]).
//!
//! ```no_run
//! # fn main() -> prompt_manager_core::Result<()> {
//! use prompt_manager_remote::RemoteStore;
//!
//! let store = RemoteStore::connect(
//!     "http://pm.internal:8080/?cache=/var/cache/my-app/prompts&bundle=/app/prompts.bundle",
//! )?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AssignmentChange, AuditEntry, AuditQuery, AuditRecord, ChangeListener, DeleteRequest, LabelChange, LabelEvent,
    LabelName, ListQuery, Page, PromptId, PromptRef, PromptSummary, PromptVersion, ProtectionChange, Resolution,
    Result, SaveRequest, StatusChange, StorageBackend, UsageQuery, UsageRow, VersionInfo, VersionStore,
};
use serde::Serialize;

mod http;
mod offline;
mod sealed;
mod watch;

pub use http::API_KEY_ENV;
use http::{BACKEND, Client, Endpoint};
pub use offline::{Bundle, CopyServed, DEFAULT_BUDGET, DiskCache, Source};
use offline::{Fallback, load_key, resolve_key};
pub use prompt_manager_core::ReadSources;

/// A store that is a running `prompt-manager serve`, reached over its store protocol.
///
/// `Debug` shows the server's base URL and whether a key is set, never the key.
#[derive(Debug, Clone)]
pub struct RemoteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    fallback: Fallback,
}

impl RemoteStore {
    /// A store on the server at `url`: `http://host[:port][/base][?key=API_KEY]`. Without `key`,
    /// the key comes from [`API_KEY_ENV`] when set. Nothing is sent yet; the first call connects.
    ///
    /// The offline fallback may be set in the URL too: `cache=DIR` (a [`DiskCache`]),
    /// `bundle=FILE` (a [`Bundle`], read and checked now), `bundle_sha256=HEX` (the bundle's
    /// expected hash) and `budget_ms=N` (how long a read that has a copy waits for the server;
    /// [`DEFAULT_BUDGET`] otherwise).
    ///
    /// A URL that is not one is [`Error::Config`](prompt_manager_core::Error::Config), naming the
    /// URL without its key; so is a bundle that cannot be read or fails its checks.
    pub fn connect(url: &str) -> Result<Self> {
        let endpoint = Endpoint::parse(url)?;
        let params = endpoint.offline.clone();
        let bundle = match &params.bundle {
            Some(path) => Some(Bundle::read(path, params.bundle_sha256.as_deref())?),
            None => None,
        };
        Ok(RemoteStore {
            inner: Arc::new(Inner {
                client: Client::new(endpoint)?,
                fallback: Fallback::new(
                    params.cache.map(DiskCache::new),
                    bundle,
                    params.budget.unwrap_or(DEFAULT_BUDGET),
                ),
            }),
        })
    }

    /// Keeps the server's answers in `cache` and serves them when the server cannot answer.
    pub fn with_disk_cache(self, cache: DiskCache) -> Self {
        self.reconfigure(|f| f.cache = Some(cache))
    }

    /// Serves `bundle`'s copies when neither the server nor the disk cache can answer.
    pub fn with_bundle(self, bundle: Bundle) -> Self {
        self.reconfigure(|f| f.bundle = Some(bundle))
    }

    /// How long a read waits for the server when a copy exists (the disk cache's or the
    /// bundle's); without a copy a read waits for the server's own timeouts.
    pub fn with_budget(self, budget: std::time::Duration) -> Self {
        self.reconfigure(|f| f.budget = budget)
    }

    fn reconfigure(self, change: impl FnOnce(&mut Fallback)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            client: shared.client.clone(),
            fallback: Fallback::new(
                shared.fallback.cache.clone(),
                shared.fallback.bundle.clone(),
                shared.fallback.budget,
            ),
        });
        change(&mut inner.fallback);
        RemoteStore { inner: Arc::new(inner) }
    }

    /// The disk cache, if there is one.
    pub fn disk_cache(&self) -> Option<&DiskCache> {
        self.inner.fallback.cache.as_ref()
    }

    /// How many of the reads a render makes (`resolve`, `load`) each source answered.
    pub fn read_sources(&self) -> ReadSources {
        self.inner.fallback.sources()
    }

    /// The copies served instead of the server's answers since the store was opened (the first
    /// 256): what a command-line tool reports on stderr.
    pub fn copies_served(&self) -> Vec<CopyServed> {
        self.inner.fallback.served()
    }

    /// The server's base URL (without the key).
    pub fn base_url(&self) -> &str {
        &self.inner.client.endpoint.base
    }

    async fn read<B: Serialize + ?Sized, T: serde::de::DeserializeOwned>(&self, method: &str, body: &B) -> Result<T> {
        self.inner.client.call(method, body, true).await
    }

    async fn write<B: Serialize + ?Sized, T: serde::de::DeserializeOwned>(&self, method: &str, body: &B) -> Result<T> {
        self.inner.client.call(method, body, false).await
    }
}

/// Usage rows per `add_usage` call: about 350 KB of JSON, well under the server's body limit.
const USAGE_ROWS_PER_CALL: usize = 500;

/// A body naming a prompt, with the fields of a request beside it.
#[derive(Serialize)]
struct WithId<'a, T: Serialize> {
    id: &'a PromptId,
    #[serde(flatten)]
    request: T,
}

#[derive(Serialize)]
struct IdBody<'a> {
    id: &'a PromptId,
}

#[async_trait]
impl StorageBackend for RemoteStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        self.write("save", &request).await
    }

    /// All or nothing: the server's store saves the batch as one unit.
    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        #[derive(Serialize)]
        struct Body {
            requests: Vec<SaveRequest>,
        }
        self.write("save_all", &Body { requests }).await
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        #[derive(Serialize)]
        struct Body<'a> {
            id: &'a PromptId,
            #[serde(skip_serializing_if = "Option::is_none")]
            version: Option<&'a Version>,
        }
        let client = &self.inner.client;
        let body = Body { id, version };
        let version: PromptVersion = self
            .inner
            .fallback
            .read(load_key(id, version), |retry| {
                client.call_classified("load", &body, retry)
            })
            .await?;
        Ok(Arc::new(version))
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        self.write("delete", &WithId { id, request }).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        // Checked here too, so an oversized query costs no round trip.
        query.validate()?;
        self.read("list", query).await
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        self.read("summary", &IdBody { id }).await
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        self.write("set_status", &WithId { id, request: change }).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        query.validate()?;
        self.read("audit", query).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        self.write("append_audit", &record).await
    }

    fn read_sources(&self) -> Option<ReadSources> {
        Some(self.inner.fallback.sources())
    }

    /// The server's store keeps them (a server on a store that keeps none answers
    /// `Unsupported`, and the recorder keeps the rows for its next flush).
    fn records_usage(&self) -> bool {
        true
    }

    /// Sent once (adding is not idempotent), in calls of at most 500 rows,
    /// so that a row is counted once or not at all, never twice. A call that certainly was not
    /// applied (no connection; refused with a 4xx) is an error when it is the first: nothing was
    /// added, and the recorder keeps the rows for its next flush. Any other failure (no answer
    /// in time, a 5xx: the server may have added them) drops the rest with a warning and answers
    /// `Ok`, since sending them again could count them twice.
    async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        #[derive(Serialize)]
        struct Body<'a> {
            rows: &'a [UsageRow],
        }
        for (i, chunk) in rows.chunks(USAGE_ROWS_PER_CALL).enumerate() {
            let sent: std::result::Result<(), (prompt_manager_core::Error, bool)> = self
                .inner
                .client
                .call_once_tracked("add_usage", &Body { rows: chunk })
                .await;
            match sent {
                Ok(()) => {}
                Err((e, false)) if i == 0 => return Err(e),
                Err((e, maybe_added)) => {
                    let dropped = rows.len() - i * USAGE_ROWS_PER_CALL;
                    tracing::warn!(
                        error = %e,
                        dropped,
                        maybe_added,
                        "usage rows were not recorded, and are not sent again (they may have been added)"
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        self.read("usage", query).await
    }

    async fn prune_usage(&self, bucket: prompt_manager_core::Bucket, before: i64) -> Result<u64> {
        #[derive(Serialize)]
        struct Body {
            bucket: prompt_manager_core::Bucket,
            before: i64,
        }
        self.write("prune_usage", &Body { bucket, before }).await
    }

    /// Reads the server's change stream in a task of the current tokio runtime (none: `false`);
    /// the task ends when the last clone of this store is dropped.
    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        watch::spawn(self.inner.client.clone(), listener, Arc::downgrade(&self.inner))
    }
}

#[async_trait]
impl VersionStore for RemoteStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        self.read("list_versions", &IdBody { id }).await
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        self.write("set_label", &WithId { id, request: change }).await
    }

    async fn assign_label(&self, id: &PromptId, change: AssignmentChange) -> Result<Option<LabelEvent>> {
        self.write("assign_label", &WithId { id, request: change }).await
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        self.write("set_protection", &WithId { id, request: change }).await
    }

    /// One round trip: the server resolves the reference on its store.
    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        #[derive(Serialize)]
        struct Body {
            reference: String,
        }
        let body = Body {
            reference: reference.to_string(),
        };
        let client = &self.inner.client;
        self.inner
            .fallback
            .read(resolve_key(reference), |retry| {
                client.call_classified("resolve", &body, retry)
            })
            .await
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        #[derive(Serialize)]
        struct Body<'a> {
            id: &'a PromptId,
            #[serde(skip_serializing_if = "Option::is_none")]
            label: Option<&'a LabelName>,
        }
        self.read("label_history", &Body { id, label }).await
    }
}

/// Opens the store at `url` as a trait object (what `prompt_manager::open_store` calls for
/// `http://` and `https://`).
pub fn open(url: &str) -> Result<Arc<dyn prompt_manager_core::Store>> {
    Ok(Arc::new(RemoteStore::connect(url)?))
}
