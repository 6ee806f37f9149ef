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

// Keys: `NS:epoch` (bumped when a store's feed was lost: every entry is then forgotten),
// `NS:gen:ID` (bumped by every write of the prompt), and the prompt's hash `NS:p:EPOCH:ID`. The
// hash's name is built in the scripts from the epoch they read, so Redis Cluster is not supported.

/// Reads one field of a prompt's hash with the epoch and the prompt's generation, in one round
/// trip. KEYS: epoch, generation. ARGV: hash prefix (`NS:p:`), id, field.
/// Returns `{epoch, generation, value or nil}`.
const GET_SCRIPT: &str = r"
local e = redis.call('GET', KEYS[1]) or '0'
local g = redis.call('GET', KEYS[2]) or '0'
return {e, g, redis.call('HGET', ARGV[1] .. e .. ':' .. ARGV[2], ARGV[3])}
";

/// Stores one field if the epoch and the prompt's generation are still the ones read before
/// asking the store. The hash expires TTL after its first field, not its last, so no entry
/// outlives the TTL. KEYS: epoch, generation. ARGV: hash prefix, id, epoch read, generation
/// read, field, value, TTL in seconds.
const FILL_SCRIPT: &str = r"
local e = redis.call('GET', KEYS[1]) or '0'
local g = redis.call('GET', KEYS[2]) or '0'
if e ~= ARGV[3] or g ~= ARGV[4] then return 0 end
local h = ARGV[1] .. e .. ':' .. ARGV[2]
redis.call('HSET', h, ARGV[5], ARGV[6])
if redis.call('TTL', h) < 0 then redis.call('EXPIRE', h, ARGV[7]) end
return 1
";

/// Forgets what is cached of some prompts and, unless ARGV[2] is empty, publishes their ids.
/// KEYS: epoch, then each prompt's generation. ARGV: hash prefix, channel (or ''), then the ids
/// in the order of their generations.
const INVALIDATE_SCRIPT: &str = r"
local e = redis.call('GET', KEYS[1]) or '0'
for i = 2, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('DEL', ARGV[1] .. e .. ':' .. ARGV[i + 1])
  if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[i + 1]) end
end
return #KEYS - 1
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
/// (`NS:p:EPOCH:ID`, fields `r:REF`, `v:VERSION`, `s`), shared by every instance on that Redis, for at
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
/// and read from the store. That catches a damaged entry, not a malicious one: Redis must be as
/// trusted as the store.
///
/// # The bus
///
/// [`watch`](StorageBackend::watch) listens on `NS:changes`, so an instance hears of a write made
/// through any other instance even when the store has no change feed of its own (a folder, a
/// memory store shared in-process, S3). When the store has one (PostgreSQL, SQLite), it is
/// listened to as well: each change it reports is owed to Redis before the listener hears of it
/// (reads bypass Redis until it is written), so a writer that bypasses Redis is covered too, and
/// a lost feed bumps the epoch (`NS:epoch`), which forgets every entry. A lost subscription (a
/// closed connection, or one that stops answering `PING`) reports
/// [`lost`](ChangeListener::lost) once it listens again, as the stores' own feeds do.
///
/// # When Redis is down
///
/// Reads go to the store. A failed call, or one without an answer within the timeout, opens a
/// breaker for a second, so a dead Redis costs one timed-out call per second, not one per read;
/// what Redis answers is stored back in the background, never on the render's time. What Redis
/// missed (invalidations, an epoch bump) is owed and written, in one call, before Redis is read
/// again; until then reads bypass it. A process that dies owing it leaves the TTL as the bound on
/// staleness.
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
    /// What Redis missed (writes it could not be told of, a lost store feed); Redis is not read
    /// until it is written.
    owed: Mutex<Owed>,
    has_owed: AtomicBool,
    /// Held by the one flush of what is owed that may run at a time.
    flushing: tokio::sync::Mutex<()>,
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
                owed: Mutex::new(Owed::default()),
                has_owed: AtomicBool::new(false),
                flushing: tokio::sync::Mutex::new(()),
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

    /// Asks Redis for a `PONG`: whether it can be reached now (within the timeout).
    pub async fn ping(&self) -> Result<()> {
        let mut connection = self.inner.connection.clone();
        let answer: Option<String> = self
            .inner
            .call("PING", redis::cmd("PING").query_async(&mut connection))
            .await;
        answer
            .map(drop)
            .ok_or_else(|| Error::backend(BACKEND, format!("Redis at {} did not answer PING", self.inner.shown)))
    }

    /// Forgets every cached entry of `id` on every instance: what a write does after it
    /// commits. Useful after writing to the store around this cache.
    pub async fn invalidate(&self, id: &PromptId) {
        self.inner.invalidate(std::slice::from_ref(id)).await;
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
    fn failure(&self, doing: &str, e: impl fmt::Display) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let until = self.now_ms() + u64::try_from(BREAKER.as_millis()).unwrap_or(1000);
        let before = self.down_until.swap(until, Ordering::Relaxed);
        if before <= self.now_ms() {
            tracing::warn!(redis = %self.shown, error = %e, "Redis {doing} failed: reads go to the store for {BREAKER:?}");
        }
    }

    /// Runs one call to Redis, bounded by the timeout (a reconnecting connection manager would
    /// otherwise hold it for its own back-off); a failure opens the breaker.
    async fn call<T, F>(&self, doing: &str, call: F) -> Option<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.options.timeout, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.failure(doing, e);
                None
            }
            Err(_) => {
                self.failure(doing, format_args!("no answer within {:?}", self.options.timeout));
                None
            }
        }
    }

    fn epoch_key(&self) -> String {
        format!("{}:epoch", self.options.namespace)
    }

    fn gen_key(&self, id: &PromptId) -> String {
        format!("{}:gen:{id}", self.options.namespace)
    }

    fn hash_prefix(&self) -> String {
        format!("{}:p:", self.options.namespace)
    }

    fn owed(&self) -> std::sync::MutexGuard<'_, Owed> {
        self.owed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether Redis may be read now: its breaker is closed and nothing is owed to it (what is
    /// owed is written first, in one call).
    async fn usable(&self) -> bool {
        if self.breaker_open() {
            return false;
        }
        if self.has_owed.load(Ordering::Acquire) {
            return self.flush_owed().await;
        }
        true
    }

    /// Writes what Redis missed — an epoch bump, invalidations — in at most two calls; whether
    /// nothing is owed any more. One flush at a time: a read that finds one running does not
    /// wait for it, it reads the store.
    async fn flush_owed(&self) -> bool {
        let Ok(_flushing) = self.flushing.try_lock() else {
            return false;
        };
        let (epoch, ids) = {
            let owed = self.owed();
            (owed.epoch, owed.ids.iter().cloned().collect::<Vec<_>>())
        };
        if epoch {
            let mut connection = self.connection.clone();
            let bumped: Option<i64> = self
                .call(
                    "INCR epoch",
                    redis::cmd("INCR").arg(self.epoch_key()).query_async(&mut connection),
                )
                .await;
            if bumped.is_none() {
                return false;
            }
            self.owed().epoch = false;
        }
        if !ids.is_empty() {
            if !self.try_invalidate(&ids, true).await {
                return false;
            }
            let mut owed = self.owed();
            for id in &ids {
                owed.ids.remove(id);
            }
        }
        let owed = self.owed();
        if owed.ids.is_empty() && !owed.epoch {
            self.has_owed.store(false, Ordering::Release);
            if epoch || !ids.is_empty() {
                tracing::info!(redis = %self.shown, prompts = ids.len(), "Redis is written what it missed");
            }
            true
        } else {
            false
        }
    }

    /// Clears `ids` in Redis, in one call, and publishes them when `publish`; whether it did.
    async fn try_invalidate(&self, ids: &[PromptId], publish: bool) -> bool {
        let mut connection = self.connection.clone();
        let mut invocation = self.scripts.invalidate.key(self.epoch_key());
        invocation.arg(self.hash_prefix());
        invocation.arg(if publish { self.channel.as_str() } else { "" });
        for id in ids {
            invocation.key(self.gen_key(id));
            invocation.arg(id.as_str());
        }
        let done: Option<i64> = self.call("INVALIDATE", invocation.invoke_async(&mut connection)).await;
        if done.is_some() {
            let n = u64::try_from(ids.len()).unwrap_or(u64::MAX);
            self.counters.invalidations.fetch_add(n, Ordering::Relaxed);
        }
        done.is_some()
    }

    /// Records that Redis must forget `ids` (and every entry, with `epoch`) before it is read
    /// again. Synchronous, so a change feed's listener can call it before telling the manager.
    fn owe(&self, ids: impl IntoIterator<Item = PromptId>, epoch: bool) {
        let mut owed = self.owed();
        owed.ids.extend(ids);
        owed.epoch |= epoch;
        self.has_owed.store(true, Ordering::Release);
    }

    /// Clears `ids` in Redis and tells the other instances; when Redis cannot be written, owes
    /// it, and Redis is not read until it is written.
    async fn invalidate(&self, ids: &[PromptId]) {
        if self.breaker_open() || !self.try_invalidate(ids, true).await {
            self.owe(ids.iter().cloned(), false);
        }
    }

    /// A cached read: field `field` of `id`'s hash if Redis has a sound one, else `fetch` from
    /// the store, stored for the others (in the background) unless a write came in between.
    async fn cached<T, F>(
        self: &Arc<Self>,
        id: &PromptId,
        field: &str,
        sound: impl Fn(&T) -> bool,
        fetch: F,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T>>,
    {
        let found = if self.usable().await {
            let mut connection = self.connection.clone();
            let mut invocation = self.scripts.get.key(self.epoch_key());
            invocation
                .key(self.gen_key(id))
                .arg(self.hash_prefix())
                .arg(id.as_str())
                .arg(field);
            let call = invocation.invoke_async(&mut connection);
            let found: Option<(String, String, Option<String>)> = self.call("GET", call).await;
            found
        } else {
            None
        };
        let Some((epoch, generation, value)) = found else {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return fetch.await;
        };
        if let Some(json) = value {
            match serde_json::from_str::<T>(&json) {
                Ok(value) if sound(&value) => {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                _ => tracing::warn!(redis = %self.shown, prompt = %id, field, "a damaged Redis entry is ignored"),
            }
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let value = fetch.await?;
        if let Ok(json) = serde_json::to_string(&value) {
            let fill = Fill {
                id: id.clone(),
                field: field.to_owned(),
                epoch,
                generation,
                json,
            };
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let shared = Arc::clone(self);
                    runtime.spawn(async move { shared.fill(fill).await });
                }
                Err(_) => self.fill(fill).await,
            }
        }
        Ok(value)
    }

    /// Stores what the store answered, unless a write or a lost feed came in since it was asked.
    async fn fill(&self, fill: Fill) {
        let mut connection = self.connection.clone();
        let mut invocation = self.scripts.fill.key(self.epoch_key());
        invocation
            .key(self.gen_key(&fill.id))
            .arg(self.hash_prefix())
            .arg(fill.id.as_str())
            .arg(fill.epoch)
            .arg(fill.generation)
            .arg(fill.field)
            .arg(fill.json)
            .arg(self.options.ttl.as_secs().max(1));
        let call = invocation.invoke_async(&mut connection);
        let _: Option<i64> = self.call("FILL", call).await;
    }

    /// After a write to `ids` (whatever its outcome: a write that timed out may have committed),
    /// clears them in Redis and tells the other instances.
    async fn written<T>(&self, ids: impl IntoIterator<Item = PromptId>, result: Result<T>) -> Result<T> {
        let ids: Vec<PromptId> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
        self.invalidate(&ids).await;
        result
    }
}

/// What Redis must be told before it is read again.
#[derive(Default)]
struct Owed {
    /// Prompts whose entries it must forget.
    ids: BTreeSet<PromptId>,
    /// Whether every entry must be forgotten (the store's feed was lost).
    epoch: bool,
}

/// A store's answer to keep in Redis, with the epoch and generation read before asking.
struct Fill {
    id: PromptId,
    field: String,
    epoch: String,
    generation: String,
    json: String,
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

    async fn labels(&self, id: &PromptId) -> Result<std::collections::BTreeMap<LabelName, Version>> {
        self.inner.store.labels(id).await
    }
}
