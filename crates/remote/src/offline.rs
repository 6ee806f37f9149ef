//! What keeps an application rendering when its server is down: a disk cache of the last good
//! answers ([`DiskCache`]), a shipped [`Bundle`] as the last resort, and the budget a render waits
//! for the server when one of them has a copy.
//!
//! Only the two reads a render needs go through here: `resolve` (a reference to its version, as
//! the server last answered) and `load` (a version, for includes and A/B variants). Each answer
//! from the server is written to the disk cache (atomically, sealed with its SHA-256). When the
//! server cannot be reached, times out, answers 502/503/504, or takes longer than the budget, the
//! copy is served instead: the disk cache's first, the bundle's otherwise. Every copy is checked
//! before use: the file's hash, and each version's content hash. An answer that is an error
//! (the prompt was deleted, the label removed) is never papered over with a copy: the copy is
//! dropped and the error returned.
//!
//! Which source served each read is counted ([`ReadSources`]) and every copy served is logged at
//! `warn` (`tracing`, target `prompt_manager_remote`) with its source and age, and kept in
//! [`RemoteStore::copies_served`](crate::RemoteStore::copies_served) for a CLI to report.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AuditEntry, AuditQuery, AuditRecord, DeleteRequest, Engines, Error, LabelChange, LabelEvent, LabelName, ListQuery,
    Page, PromptId, PromptManager, PromptRef, PromptSummary, PromptVersion, ProtectionChange, ReadSources, Resolution,
    Result, SaveRequest, StatusChange, StorageBackend, Store, VersionInfo, VersionStore,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::http::Failure;
use prompt_manager_core::sha256_hex;

use crate::sealed::{FORMAT_VERSION, seal, unseal, write_atomically};

/// How long a render waits for the server when a copy exists, by default.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(300);

const CACHE_FORMAT: &str = "prompt-manager-cache";
const BUNDLE_FORMAT: &str = "prompt-manager-bundle";
/// At most this many served copies are kept for [`crate::RemoteStore::copies_served`].
const SERVED_KEPT: usize = 256;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The server answered.
    Server,
    /// The disk cache's copy of an earlier answer.
    Cache,
    /// The bundle's copy.
    Bundle,
}

impl Source {
    /// `server`, `cache` or `bundle`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Server => "server",
            Source::Cache => "cache",
            Source::Bundle => "bundle",
        }
    }
}

/// One copy served instead of the server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyServed {
    /// What was read: `support/greet@production`, or `support/greet 1.2.0` for a version.
    pub what: String,
    /// The disk cache or the bundle.
    pub source: Source,
    /// When the server gave the answer the copy holds (the bundle's creation for a bundle).
    pub saved_at: DateTime<Utc>,
    /// The file it came from.
    pub path: PathBuf,
    /// Why the server's answer was not used.
    pub reason: String,
}

/// A read that can be kept: what is checked before a copy of it is used.
pub(crate) trait Kept: Serialize + DeserializeOwned {
    /// Refuses a copy whose versions do not hash to their recorded content hashes.
    fn check(&self, location: &dyn Fn() -> String) -> Result<()>;
}

impl Kept for Resolution {
    fn check(&self, location: &dyn Fn() -> String) -> Result<()> {
        self.version.verify_content_hash(location)
    }
}

impl Kept for PromptVersion {
    fn check(&self, location: &dyn Fn() -> String) -> Result<()> {
        self.verify_content_hash(location)
    }
}

/// The key of a `resolve` answer.
pub(crate) fn resolve_key(reference: &PromptRef) -> String {
    format!("resolve {reference}")
}

/// The key of a `load` answer.
pub(crate) fn load_key(id: &PromptId, version: Option<&Version>) -> String {
    match version {
        Some(v) => format!("load {id} {v}"),
        None => format!("load {id} latest"),
    }
}

/// What a key reads, for messages: the reference, or `id version`.
fn what(key: &str) -> &str {
    key.split_once(' ').map_or(key, |(_, rest)| rest)
}

/// A folder of the last good answers of one server, one sealed file per answer.
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheHeader {
    format: String,
    format_version: u32,
    key: String,
    saved_at: DateTime<Utc>,
}

impl DiskCache {
    /// A cache in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DiskCache { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        let hash = sha256_hex(key.as_bytes());
        self.dir.join(&hash[..2]).join(format!("{hash}.json"))
    }

    fn has(&self, key: &str) -> bool {
        self.path(key).is_file()
    }

    fn put<T: Kept>(&self, key: &str, value: &T) {
        let header = CacheHeader {
            format: CACHE_FORMAT.into(),
            format_version: FORMAT_VERSION,
            key: key.into(),
            saved_at: Utc::now(),
        };
        let path = self.path(key);
        let written = seal(&header, value).and_then(|sealed| {
            write_atomically(&path, &sealed.bytes, false)
                .map_err(|e| Error::Config(format!("cannot write the cache file {}: {e}", path.display())))
        });
        if let Err(e) = written {
            tracing::warn!(target: "prompt_manager_remote", error = %e, "the disk cache was not updated");
        }
    }

    fn remove(&self, key: &str) {
        let _ = std::fs::remove_file(self.path(key));
    }

    /// The copy of `key`, checked; `None` (with a warning for a damaged file) otherwise.
    fn get<T: Kept>(&self, key: &str) -> Option<(T, DateTime<Utc>, PathBuf)> {
        let path = self.path(key);
        let bytes = std::fs::read(&path).ok()?;
        let checked = unseal::<CacheHeader, T>(&bytes, CACHE_FORMAT, &path).and_then(|(header, value, _)| {
            if header.key != key {
                return Err(Error::Config(format!(
                    "{}: holds `{}`, not `{key}`",
                    path.display(),
                    header.key
                )));
            }
            value.check(&|| path.display().to_string())?;
            Ok((value, header.saved_at))
        });
        match checked {
            Ok((value, saved_at)) => Some((value, saved_at, path)),
            Err(e) => {
                tracing::warn!(target: "prompt_manager_remote", error = %e, "a damaged disk cache file is ignored");
                None
            }
        }
    }
}

/// A shipped, hash-checked file of chosen prompts at chosen labels: what an application renders
/// when neither its server nor its disk cache can answer.
///
/// Written by `prompt-manager bundle export` ([`Bundle::export`]); read with [`Bundle::read`],
/// optionally pinned to the SHA-256 the application expects. `Debug` shows where it is from and
/// its hash, not its contents.
#[derive(Clone)]
pub struct Bundle {
    header: BundleHeader,
    entries: BTreeMap<String, serde_json::Value>,
    path: PathBuf,
    sha256: String,
    /// The sealed file, as written or read.
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("path", &self.path)
            .field("source", &self.header.source)
            .field("created_at", &self.header.created_at)
            .field("references", &self.header.references)
            .field("entries", &self.entries.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BundleHeader {
    format: String,
    format_version: u32,
    created_at: DateTime<Utc>,
    /// The store it was exported from (without any key).
    source: String,
    /// The references it was asked for.
    references: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct BundleBody {
    entries: BTreeMap<String, serde_json::Value>,
}

/// [`BundleBody`] as written, borrowing the entries.
#[derive(Serialize)]
struct BundleBodyRef<'a> {
    entries: &'a BTreeMap<String, serde_json::Value>,
}

impl Bundle {
    /// Resolves each of `references` on `store`, compiling it with its syntax's engine of `engines` (so that includes
    /// and A/B variants are read too), and keeps every answer a render of them needs. `source`
    /// names the store in the bundle (give it without any key).
    pub async fn export(
        store: Arc<dyn Store>,
        engines: Engines,
        references: &[String],
        source: &str,
    ) -> Result<Bundle> {
        if references.is_empty() {
            return Err(Error::invalid_argument(
                "references",
                "",
                "a bundle needs at least one reference (id@label, id@version or id)",
            ));
        }
        let recording = Arc::new(Recording {
            store,
            kept: Mutex::new(BTreeMap::new()),
        });
        let mut builder = PromptManager::builder().store(recording.clone()).watch_store(false);
        for engine in engines.iter() {
            builder = builder.engine(engine.clone());
        }
        let pm = builder.build()?;
        for reference in references {
            pm.variables(reference).await?;
        }
        let entries = std::mem::take(&mut *lock(&recording.kept));
        let header = BundleHeader {
            format: BUNDLE_FORMAT.into(),
            format_version: FORMAT_VERSION,
            created_at: Utc::now(),
            source: source.to_owned(),
            references: references.to_vec(),
        };
        let sealed = seal(&header, &BundleBodyRef { entries: &entries })?;
        Ok(Bundle {
            header,
            entries,
            path: PathBuf::new(),
            sha256: sealed.sha256,
            bytes: sealed.bytes,
        })
    }

    /// Writes the bundle to `path` (atomically) and returns the SHA-256 of its body, which an
    /// application may pin ([`Bundle::read`]).
    pub fn write(&mut self, path: &Path) -> Result<String> {
        write_atomically(path, &self.bytes, true)
            .map_err(|e| Error::Config(format!("cannot write the bundle {}: {e}", path.display())))?;
        self.path = path.to_owned();
        Ok(self.sha256.clone())
    }

    /// Reads and checks a bundle: its body must hash to what its header says and, when
    /// `expected_sha256` is given, to that too (so a bundle swapped for another is refused); every
    /// version in it must hash to its content hash. Errors name the file and what is wrong.
    pub fn read(path: &Path, expected_sha256: Option<&str>) -> Result<Bundle> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read the bundle {}: {e}", path.display())))?;
        let (header, body, sha256): (BundleHeader, BundleBody, String) = unseal(&bytes, BUNDLE_FORMAT, path)?;
        if let Some(expected) = expected_sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(Error::Config(format!(
                "{}: the bundle's sha256 is {sha256}, not the {expected} this application expects",
                path.display()
            )));
        }
        let bundle = Bundle {
            header,
            entries: body.entries,
            path: path.to_owned(),
            sha256,
            bytes,
        };
        for key in bundle.entries.keys() {
            let location = || format!("{} ({key})", path.display());
            let checked = if key.starts_with("resolve ") {
                bundle.decode::<Resolution>(key).and_then(|r| r.check(&location))
            } else {
                bundle.decode::<PromptVersion>(key).and_then(|v| v.check(&location))
            };
            checked?;
        }
        Ok(bundle)
    }

    /// The references it was exported for.
    pub fn references(&self) -> &[String] {
        &self.header.references
    }

    /// When it was exported.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.header.created_at
    }

    /// The store it was exported from.
    pub fn source(&self) -> &str {
        &self.header.source
    }

    /// The SHA-256 of its body (what [`Bundle::read`] can pin).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// How many answers it holds (resolutions and versions).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The versions it holds, as `id version` strings, sorted.
    pub fn versions(&self) -> Vec<String> {
        let mut versions: Vec<String> = self
            .entries
            .iter()
            .filter_map(|(key, value)| {
                let version: Arc<PromptVersion> = if key.starts_with("resolve ") {
                    serde_json::from_value::<Resolution>(value.clone()).ok()?.version
                } else {
                    Arc::new(serde_json::from_value::<PromptVersion>(value.clone()).ok()?)
                };
                Some(format!("{} {}", version.prompt.id, version.version))
            })
            .collect();
        versions.sort();
        versions.dedup();
        versions
    }

    fn has(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    fn decode<T: Kept>(&self, key: &str) -> Result<T> {
        let value = self
            .entries
            .get(key)
            .ok_or_else(|| Error::Config(format!("{}: holds no `{key}`", self.path.display())))?;
        serde_json::from_value(value.clone())
            .map_err(|e| Error::Config(format!("{}: `{key}` is not readable: {e}", self.path.display())))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The disk cache, the bundle and the budget of one remote store.
#[derive(Debug)]
pub(crate) struct Fallback {
    pub(crate) cache: Option<DiskCache>,
    pub(crate) bundle: Option<Bundle>,
    pub(crate) budget: Duration,
    counts: [AtomicU64; 3],
    served: Mutex<Vec<CopyServed>>,
}

impl Fallback {
    pub(crate) fn new(cache: Option<DiskCache>, bundle: Option<Bundle>, budget: Duration) -> Self {
        Fallback {
            cache,
            bundle,
            budget,
            counts: Default::default(),
            served: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn sources(&self) -> ReadSources {
        ReadSources {
            server: self.counts[0].load(Ordering::Relaxed),
            cache: self.counts[1].load(Ordering::Relaxed),
            bundle: self.counts[2].load(Ordering::Relaxed),
            redis: 0,
        }
    }

    pub(crate) fn served(&self) -> Vec<CopyServed> {
        lock(&self.served).clone()
    }

    fn count(&self, source: Source) {
        let at = match source {
            Source::Server => 0,
            Source::Cache => 1,
            Source::Bundle => 2,
        };
        self.counts[at].fetch_add(1, Ordering::Relaxed);
    }

    fn has_copy(&self, key: &str) -> bool {
        self.cache.as_ref().is_some_and(|c| c.has(key)) || self.bundle.as_ref().is_some_and(|b| b.has(key))
    }

    /// The server's answer to `key` (`network`, given whether to retry), kept on disk; or, when
    /// the server cannot give one in time and a copy exists, the copy. With a copy, a server that
    /// cannot be reached is not retried: the copy is served at once.
    pub(crate) async fn read<T: Kept, F: Future<Output = std::result::Result<T, Failure>>>(
        &self,
        key: String,
        network: impl FnOnce(bool) -> F,
    ) -> Result<T> {
        let has_copy = self.has_copy(&key);
        let network = std::pin::pin!(network(!has_copy));
        let mut network = network;
        let answer = if has_copy {
            match tokio::time::timeout(self.budget, network.as_mut()).await {
                Ok(answer) => answer,
                Err(_) => {
                    if let Some(copy) = self.copy::<T>(&key) {
                        let reason = format!(
                            "the server did not answer within the budget of {} ms",
                            self.budget.as_millis()
                        );
                        return Ok(self.serve_copy(&key, copy, reason));
                    }
                    // The copy was damaged: wait for the server after all.
                    network.await
                }
            }
        } else {
            network.await
        };
        match answer {
            Ok(value) => {
                self.count(Source::Server);
                if let Some(cache) = &self.cache {
                    cache.put(&key, &value);
                }
                Ok(value)
            }
            Err(Failure::Final(e)) => {
                // The server's word stands: a deleted prompt or a removed label is not served
                // from an old copy.
                if matches!(e, Error::NotFound(_))
                    && let Some(cache) = &self.cache
                {
                    cache.remove(&key);
                }
                Err(e)
            }
            Err(Failure::Transient(e)) => match self.copy::<T>(&key) {
                Some(copy) => Ok(self.serve_copy(&key, copy, e.to_string())),
                None => Err(e),
            },
        }
    }

    /// Counts, logs and remembers a copy served for `key`, and returns it.
    fn serve_copy<T>(
        &self,
        key: &str,
        (value, source, saved_at, path): (T, Source, DateTime<Utc>, PathBuf),
        reason: String,
    ) -> T {
        self.count(source);
        tracing::warn!(
            target: "prompt_manager_remote",
            read = what(key),
            source = source.as_str(),
            saved_at = %saved_at,
            path = %path.display(),
            reason = %reason,
            "served a {} copy of {} from {saved_at}: {reason}",
            source.as_str(),
            what(key),
        );
        let mut served = lock(&self.served);
        if served.len() < SERVED_KEPT {
            served.push(CopyServed {
                what: what(key).to_owned(),
                source,
                saved_at,
                path,
                reason,
            });
        }
        value
    }

    fn copy<T: Kept>(&self, key: &str) -> Option<(T, Source, DateTime<Utc>, PathBuf)> {
        if let Some((value, saved_at, path)) = self.cache.as_ref().and_then(|c| c.get::<T>(key)) {
            return Some((value, Source::Cache, saved_at, path));
        }
        let bundle = self.bundle.as_ref()?;
        let value = bundle.decode::<T>(key).ok()?;
        Some((value, Source::Bundle, bundle.created_at(), bundle.path.clone()))
    }
}

/// A read-only store that keeps every `resolve` and `load` answer of the store it wraps: what
/// [`Bundle::export`] renders through.
#[derive(Debug)]
struct Recording {
    store: Arc<dyn Store>,
    kept: Mutex<BTreeMap<String, serde_json::Value>>,
}

impl Recording {
    fn keep<T: Serialize>(&self, key: String, value: &T) -> Result<()> {
        let value = serde_json::to_value(value).map_err(|e| Error::Config(format!("cannot encode `{key}`: {e}")))?;
        lock(&self.kept).insert(key, value);
        Ok(())
    }
}

fn read_only() -> Error {
    Error::Unsupported("a bundle export only reads its store".into())
}

#[async_trait]
impl StorageBackend for Recording {
    fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    async fn save(&self, _request: SaveRequest) -> Result<Vec<LabelEvent>> {
        Err(read_only())
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        let loaded = self.store.load(id, version).await?;
        self.keep(load_key(id, version), &*loaded)?;
        Ok(loaded)
    }

    async fn delete(&self, _id: &PromptId, _request: DeleteRequest) -> Result<()> {
        Err(read_only())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        self.store.list(query).await
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        self.store.summary(id).await
    }

    async fn set_status(&self, _id: &PromptId, _change: StatusChange) -> Result<()> {
        Err(read_only())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.store.audit(query).await
    }

    async fn append_audit(&self, _record: AuditRecord) -> Result<AuditEntry> {
        Err(read_only())
    }
}

#[async_trait]
impl VersionStore for Recording {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        self.store.list_versions(id).await
    }

    async fn set_label(&self, _id: &PromptId, _change: LabelChange) -> Result<Option<LabelEvent>> {
        Err(read_only())
    }

    async fn set_protection(&self, _id: &PromptId, _change: ProtectionChange) -> Result<bool> {
        Err(read_only())
    }

    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        let found = self.store.resolve(reference).await?;
        self.keep(resolve_key(reference), &found)?;
        Ok(found)
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        self.store.label_history(id, label).await
    }
}
