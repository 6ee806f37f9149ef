//! [`RedisCachedStore`]: Redis as a shared cache and invalidation bus beside a store (`redis://`);
//! `url` parses its URL, `bus` listens for changes.

mod bus;
mod url;

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AssignmentChange, AuditEntry, AuditQuery, AuditRecord, Bucket, ChangeListener, DeleteRequest, Error, LabelChange,
    LabelEvent, LabelName, ListQuery, Page, PromptId, PromptRef, PromptSummary, PromptVersion, ProtectionChange,
    ReadSources, Resolution, Result, SaveRequest, StatusChange, StorageBackend, Store, UsageQuery, UsageRow,
    VersionInfo, VersionStore, async_trait,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use url::RedisUrl;

const BACKEND: &str = "redis";

/// How long reads bypass Redis after it failed once.
const BREAKER: Duration = Duration::from_secs(1);

/// Reads one field of a prompt's hash with the prompt's generation, in one round trip.
/// KEYS: generation, hash. ARGV: field. Returns `{generation, value or nil}`.
const GET_SCRIPT: &str = r"
local g = redis.call('GET', KEYS[1]) or '0'
return {g, redis.call('HGET', KEYS[2], ARGV[1])}
";

/// Stores one field if the prompt's generation is still the one read before asking the store.
/// The hash expires TTL after its first field, not its last, so no entry outlives the TTL.
/// KEYS: generation, hash. ARGV: generation read, field, value, TTL in seconds.
const FILL_SCRIPT: &str = r"
local g = redis.call('GET', KEYS[1]) or '0'
if g ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return 1
";

/// Forgets what is cached of a prompt and, unless ARGV[1] is empty, publishes its id.
/// KEYS: generation, hash. ARGV: channel (or ''), prompt id.
const INVALIDATE_SCRIPT: &str = r"
redis.call('INCR', KEYS[1])
redis.call('DEL', KEYS[2])
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return 1
";

/// Settings of a [`RedisCachedStore`] (the parameters of its URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Prefix of every key and of the channel, so several teams or stores can share one Redis
    /// (`namespace=`; default `pm`).
    pub namespace: String,
    /// How long an entry lives at most (`ttl=` seconds; default 300). Invalidation keeps entries
    /// exact; the TTL bounds what a writer that bypasses Redis and the store's feed can leave.
    pub ttl: Duration,
    /// How long a call to Redis may take before the read goes to the store (`timeout_ms=`;
    /// default 250).
    pub timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            namespace: "pm".into(),
            ttl: Duration::from_secs(300),
            timeout: Duration::from_millis(250),
        }
    }
}

/// What a [`RedisCachedStore`] did: reads Redis answered, reads it sent to the store, calls
/// that failed, invalidations written, and changes heard on the bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RedisStats {
    /// Reads answered from Redis.
    pub hits: u64,
    /// Reads answered by the store (not cached yet, expired, or Redis unusable).
    pub misses: u64,
    /// Calls to Redis that failed or timed out.
    pub errors: u64,
    /// Prompts whose cached entries were cleared after a write or a change the store reported.
    pub invalidations: u64,
    /// Changes heard on the Redis channel.
    pub messages: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    invalidations: AtomicU64,
    messages: AtomicU64,
}

/// Redis as a shared cache and invalidation bus beside a store
/// (`redis://HOST:PORT/DB?store=URL`). Redis is never the store of record: every write goes to
/// the store, every answer Redis gives came from the store, and an unreachable Redis only costs
/// the round trips it would have saved.
///
/// # What is cached, and how it stays exact
///
/// The reads a render makes — [`resolve`](VersionStore::resolve) of a reference and
/// [`load`](StorageBackend::load) of an exact version — and a prompt's
/// [`summary`](StorageBackend::summary) are kept in one Redis hash per prompt
/// (`NS:p:ID`, fields `r:REF`, `v:VERSION`, `s`), shared by every instance on that Redis, for at
/// most the configured TTL. Everything else (listing, history, audit, usage) goes to the store.
///
/// Each prompt has a generation counter (`NS:gen:ID`). A write through any instance, once the
/// store has committed it, runs one script that increments the generation, deletes the hash and
/// publishes the prompt's id on `NS:changes`. A reader that missed reads the generation with the
/// hash, asks the store, and fills the hash only if the generation is still the one it read (a
/// second script): so an answer the store gave *before* a write can never be stored after that
/// write's invalidation, which is the race that leaves a shared cache stale for good.
///
/// A version read from Redis is used only if its content hash checks; anything else is dropped
/// and read from the store.
///
/// # The bus
///
/// [`watch`](StorageBackend::watch) listens on `NS:changes`, so an instance hears of a write made
/// through any other instance even when the store has no change feed of its own (a folder, a
/// memory store shared in-process, S3). When the store has one (PostgreSQL, SQLite), it is
/// listened to as well, and each change it reports first clears Redis — a writer that bypasses
/// Redis is then seen too — before the listener hears of it. A lost subscription reports
/// [`lost`](ChangeListener::lost) once it is back, as the stores' own feeds do.
///
/// # When Redis is down
///
/// Reads go to the store. Each failure opens a breaker for a second, so a dead Redis costs one
/// timed-out call per second, not one per read. An invalidation that could not be written is
/// kept and written before Redis answers anything again; until then reads bypass it. A process
/// that dies holding such an invalidation leaves the TTL as the bound on staleness.
///
/// Cheap to clone; clones share the connection and counters.
#[derive(Clone)]
pub struct RedisCachedStore {
    inner: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    client: redis::Client,
    connection: ConnectionManager,
    options: RedisOptions,
    /// Where Redis is, without its password, for messages.
    shown: String,
    channel: String,
    scripts: Scripts,
    started: Instant,
    /// Milliseconds since `started` until which Redis is not asked.
    down_until: AtomicU64,
    /// Invalidations that could not be written; Redis is not read until they are.
    pending: Mutex<BTreeSet<PromptId>>,
    has_pending: AtomicBool,
    counters: Counters,
}

struct Scripts {
    get: redis::Script,
    fill: redis::Script,
    invalidate: redis::Script,
}

impl fmt::Debug for RedisCachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCachedStore")
            .field("redis", &self.inner.shown)
            .field("namespace", &self.inner.options.namespace)
            .field("store", &self.inner.store.backend_name())
            .finish_non_exhaustive()
    }
}

impl RedisCachedStore {
    /// Puts the Redis at `redis_url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`) in front of
    /// `store`. Redis need not be up: when it cannot be reached now, a warning says so and reads
    /// go to the store until it can. A malformed URL is an error.
    pub async fn connect(redis_url: &str, store: Arc<dyn Store>, options: RedisOptions) -> Result<Self> {
        let shown = crate::redact_url(redis_url);
        url::check_namespace(&options.namespace)?;
        let client =
            redis::Client::open(redis_url).map_err(|e| Error::Config(format!("`{shown}` is not a Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = client
            .get_connection_manager_lazy(config)
            .map_err(|e| Error::Config(format!("`{shown}`: {e}")))?;
        let channel = format!("{}:changes", options.namespace);
        let cached = Self {
            inner: Arc::new(Shared {
                store,
                client,
                connection,
                shown,
                channel,
                scripts: Scripts {
                    get: redis::Script::new(GET_SCRIPT),
                    fill: redis::Script::new(FILL_SCRIPT),
                    invalidate: redis::Script::new(INVALIDATE_SCRIPT),
                },
                options,
                started: Instant::now(),
                down_until: AtomicU64::new(0),
                pending: Mutex::new(BTreeSet::new()),
                has_pending: AtomicBool::new(false),
                counters: Counters::default(),
            }),
        };
        if let Err(e) = cached.ping().await {
            tracing::warn!(
                redis = %cached.inner.shown,
                error = %e,
                "Redis cannot be reached: reads go to the store until it can"
            );
        }
        Ok(cached)
    }

    /// Opens `redis://…?store=URL` with `open_store` opening the store it names (the umbrella's
    /// `prompt_manager::open_store` passes itself).
    pub async fn open<F, Fut>(url: &str, open_store: F) -> Result<Self>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<Arc<dyn Store>>>,
    {
        let parsed = RedisUrl::parse(url)?;
        let store = open_store(parsed.store).await?;
        Self::connect(&parsed.redis, store, parsed.options).await
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The settings it runs with.
    pub fn options(&self) -> &RedisOptions {
        &self.inner.options
    }

    /// What it did so far.
    pub fn stats(&self) -> RedisStats {
        let c = &self.inner.counters;
        RedisStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            messages: c.messages.load(Ordering::Relaxed),
        }
    }

    /// Asks Redis for a `PONG`: whether it can be reached now.
    pub async fn ping(&self) -> Result<()> {
        let mut connection = self.inner.connection.clone();
        let answer: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut connection).await;
        answer.map(drop).map_err(|e| self.inner.failure("PING", e))
    }

    /// Forgets every cached entry of `id` on every instance: what a write does after it
    /// commits. Useful after writing to the store around this cache.
    pub async fn invalidate(&self, id: &PromptId) {
        self.inner.invalidate(id, true).await;
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn breaker_open(&self) -> bool {
        self.now_ms() < self.down_until.load(Ordering::Relaxed)
    }

    /// Counts a failed call, opens the breaker and says what failed (only when it was closed,
    /// so a dead Redis logs once a second, not once a read).
    fn failure(&self, doing: &str, e: redis::RedisError) -> Error {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let until = self.now_ms() + u64::try_from(BREAKER.as_millis()).unwrap_or(1000);
        let before = self.down_until.swap(until, Ordering::Relaxed);
        if before <= self.now_ms() {
            tracing::warn!(redis = %self.shown, error = %e, "Redis {doing} failed: reads go to the store for {BREAKER:?}");
        }
        Error::backend_with(BACKEND, format!("Redis at {} failed on {doing}", self.shown), e)
    }

    fn gen_key(&self, id: &PromptId) -> String {
        format!("{}:gen:{id}", self.options.namespace)
    }

    fn hash_key(&self, id: &PromptId) -> String {
        format!("{}:p:{id}", self.options.namespace)
    }

    /// Whether Redis may be read now: its breaker is closed and no invalidation is owed to it.
    async fn usable(&self) -> bool {
        if self.breaker_open() {
            return false;
        }
        if self.has_pending.load(Ordering::Acquire) {
            return self.flush_pending().await;
        }
        true
    }

    /// Writes the invalidations Redis missed; whether none is left.
    async fn flush_pending(&self) -> bool {
        let owed: Vec<PromptId> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *pending).into_iter().collect()
        };
        for (i, id) in owed.iter().enumerate() {
            if let Err(e) = self.try_invalidate(id, true).await {
                let _ = self.failure("INVALIDATE", e);
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                pending.extend(owed[i..].iter().cloned());
                return false;
            }
        }
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            self.has_pending.store(false, Ordering::Release);
            if !owed.is_empty() {
                tracing::info!(redis = %self.shown, prompts = owed.len(), "Redis is back: the invalidations it missed are written");
            }
            true
        } else {
            false
        }
    }

    async fn try_invalidate(&self, id: &PromptId, publish: bool) -> redis::RedisResult<()> {
        let mut connection = self.connection.clone();
        let channel = if publish { self.channel.as_str() } else { "" };
        let _: i64 = self
            .scripts
            .invalidate
            .key(self.gen_key(id))
            .key(self.hash_key(id))
            .arg(channel)
            .arg(id.as_str())
            .invoke_async(&mut connection)
            .await?;
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Clears `id` in Redis (and tells the other instances when `publish`); when Redis cannot
    /// be written, keeps it owed and stops reading Redis until it is written.
    async fn invalidate(&self, id: &PromptId, publish: bool) {
        let result = if self.breaker_open() {
            Err(None)
        } else {
            self.try_invalidate(id, publish).await.map_err(Some)
        };
        if let Err(e) = result {
            if let Some(e) = e {
                let _ = self.failure("INVALIDATE", e);
            }
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone());
            self.has_pending.store(true, Ordering::Release);
        }
    }

    /// A cached read: field `field` of `id`'s hash if Redis has a sound one, else `fetch` from
    /// the store, stored for the others unless a write came in between.
    async fn cached<T, F>(&self, id: &PromptId, field: &str, sound: impl Fn(&T) -> bool, fetch: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T>>,
    {
        if !self.usable().await {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return fetch.await;
        }
        let mut connection = self.connection.clone();
        let found: redis::RedisResult<(String, Option<String>)> = self
            .scripts
            .get
            .key(self.gen_key(id))
            .key(self.hash_key(id))
            .arg(field)
            .invoke_async(&mut connection)
            .await;
        let generation = match found {
            Ok((generation, Some(json))) => match serde_json::from_str::<T>(&json) {
                Ok(value) if sound(&value) => {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                _ => {
                    tracing::warn!(redis = %self.shown, prompt = %id, field, "a damaged Redis entry is ignored");
                    generation
                }
            },
            Ok((generation, None)) => generation,
            Err(e) => {
                let _ = self.failure("GET", e);
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                return fetch.await;
            }
        };
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let value = fetch.await?;
        if let Ok(json) = serde_json::to_string(&value) {
            let filled: redis::RedisResult<i64> = self
                .scripts
                .fill
                .key(self.gen_key(id))
                .key(self.hash_key(id))
                .arg(generation)
                .arg(field)
                .arg(json)
                .arg(self.options.ttl.as_secs().max(1))
                .invoke_async(&mut connection)
                .await;
            if let Err(e) = filled {
                let _ = self.failure("FILL", e);
            }
        }
        Ok(value)
    }

    /// After a write to `ids` (whatever its outcome: a write that timed out may have committed),
    /// clears them in Redis and tells the other instances.
    async fn written<T>(&self, ids: impl IntoIterator<Item = PromptId>, result: Result<T>) -> Result<T> {
        for id in ids.into_iter().collect::<BTreeSet<_>>() {
            self.invalidate(&id, true).await;
        }
        result
    }
}

/// A version from Redis is used only if its content still hashes to what it says.
fn sound_version(version: &PromptVersion) -> bool {
    version.prompt.content_hash() == version.content_hash
}

#[async_trait]
impl StorageBackend for RedisCachedStore {
    fn backend_name(&self) -> &'static str {
        self.inner.store.backend_name()
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        let id = request.version.prompt.id.clone();
        let result = self.inner.store.save(request).await;
        self.inner.written([id], result).await
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        let ids: Vec<PromptId> = requests.iter().map(|r| r.version.prompt.id.clone()).collect();
        let result = self.inner.store.save_all(requests).await;
        self.inner.written(ids, result).await
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        match version {
            // The latest moves with every save: `resolve` caches it by reference.
            None => self.inner.store.load(id, None).await,
            Some(number) => {
                let field = format!("v:{number}");
                let store = &self.inner.store;
                let loaded = self
                    .inner
                    .cached(id, &field, sound_version, async {
                        store.load(id, Some(number)).await.map(Arc::unwrap_or_clone)
                    })
                    .await?;
                Ok(Arc::new(loaded))
            }
        }
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        let result = self.inner.store.delete(id, request).await;
        self.inner.written([id.clone()], result).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        self.inner.store.list(query).await
    }

    async fn exists(&self, id: &PromptId) -> Result<bool> {
        self.inner.store.exists(id).await
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        let store = &self.inner.store;
        self.inner.cached(id, "s", |_| true, store.summary(id)).await
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        let result = self.inner.store.set_status(id, change).await;
        self.inner.written([id.clone()], result).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.inner.store.audit(query).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        self.inner.store.append_audit(record).await
    }

    /// Listens on the Redis channel (in a task of the current tokio runtime) and on the store's
    /// own feed when it has one; `true` when either is heard.
    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        bus::watch(&self.inner, listener)
    }

    fn catch_up_needed(&self) -> bool {
        self.inner.store.catch_up_needed()
    }

    async fn catch_up(&self) {
        self.inner.store.catch_up().await;
    }

    fn records_usage(&self) -> bool {
        self.inner.store.records_usage()
    }

    /// Reads Redis answered (`redis`), beside what the store reports, or (a store that answers
    /// every read itself) the reads it answered (`server`).
    fn read_sources(&self) -> Option<ReadSources> {
        let stats = self.stats();
        let mut sources = self.inner.store.read_sources().unwrap_or(ReadSources {
            server: stats.misses,
            ..ReadSources::default()
        });
        sources.redis = stats.hits;
        Some(sources)
    }

    async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        self.inner.store.add_usage(rows).await
    }

    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        self.inner.store.usage(query).await
    }

    async fn prune_usage(&self, bucket: Bucket, before: i64) -> Result<u64> {
        self.inner.store.prune_usage(bucket, before).await
    }
}

#[async_trait]
impl VersionStore for RedisCachedStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        self.inner.store.list_versions(id).await
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        let result = self.inner.store.set_label(id, change).await;
        self.inner.written([id.clone()], result).await
    }

    async fn assign_label(&self, id: &PromptId, change: AssignmentChange) -> Result<Option<LabelEvent>> {
        let result = self.inner.store.assign_label(id, change).await;
        self.inner.written([id.clone()], result).await
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        let result = self.inner.store.set_protection(id, change).await;
        self.inner.written([id.clone()], result).await
    }

    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        let field = format!("r:{reference}");
        let store = &self.inner.store;
        self.inner
            .cached(
                &reference.id,
                &field,
                |resolution: &Resolution| sound_version(&resolution.version),
                store.resolve(reference),
            )
            .await
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        self.inner.store.label_history(id, label).await
    }

    async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version> {
        self.inner.store.get_label(id, label).await
    }
}
