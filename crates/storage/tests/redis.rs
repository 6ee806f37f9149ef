//! The Redis cache beside a store (`redis://…?store=URL`), against a real Redis: the conformance
//! suite through the cache, two instances sharing one store that has no change feed, the race a
//! shared cache must not lose (a read filling Redis with what the store said before a write),
//! and Redis paused, killed and restarted under the instances.
//!
//! `PROMPT_MANAGER_TEST_REDIS_URL` names the shared Redis (e.g. `redis://127.0.0.1:6379`); each
//! test uses a namespace of its own. The outage tests start their own `redis-server` on a free
//! port. Without the variable the tests skip with a notice, or fail when
//! `PROMPT_MANAGER_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{id, label, v};
use prompt_manager_core::{
    AuditEntry, AuditQuery, AuditRecord, ChangeListener, DeleteRequest, Expect, LabelChange, LabelEvent, LabelName,
    ListQuery, Page, PromptId, PromptRef, PromptSummary, PromptVersion, ProtectionChange, Resolution, Result,
    SaveRequest, StatusChange, StorageBackend, Store, VersionInfo, VersionStore, async_trait,
};
use prompt_manager_storage::conformance::{save_request, text_version};
use prompt_manager_storage::{MemoryStore, RedisCachedStore, RedisOptions, conformance};
use tokio::sync::Notify;

const URL_VAR: &str = "PROMPT_MANAGER_TEST_REDIS_URL";

/// The shared Redis's URL, or `None` (after a notice) when the tests should skip.
fn redis_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("PROMPT_MANAGER_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "{URL_VAR} is not set, but PROMPT_MANAGER_REQUIRE_SERVICES=1 requires the Redis tests to run; \
             set it to a Redis URL such as redis://127.0.0.1:6379"
        ),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "skipping a Redis test: {URL_VAR} is not set (e.g. redis://127.0.0.1:6379)"
            );
            None
        }
    }
}

/// A namespace no other test or run uses.
fn namespace() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!(
        "pmtest:{}:{nanos}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn options(namespace: &str) -> RedisOptions {
    RedisOptions {
        namespace: namespace.to_owned(),
        timeout: Duration::from_millis(200),
        ..RedisOptions::default()
    }
}

async fn cached(url: &str, store: Arc<dyn Store>, namespace: &str) -> RedisCachedStore {
    RedisCachedStore::connect(url, store, options(namespace)).await.unwrap()
}

fn reference(s: &str) -> PromptRef {
    PromptRef::parse(s).unwrap()
}

/// Saves `number` of `id` with `template`, moving `production` to it.
async fn release(store: &dyn Store, id_: &str, number: &str, expected: Expect) {
    let mut request = save_request(text_version(id_, number, &format!("v{number} {{{{ x }}}}")), expected);
    request.labels = vec![label("production")];
    store.save(request).await.unwrap();
}

/// Waits until the background fill has stored `field` of `id` (at epoch 0), and returns the
/// hash's key.
async fn filled(url: &str, ns: &str, id_: &str, field: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{ns}:p:0:{id_}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let there: bool = redis::cmd("HEXISTS")
            .arg(&key)
            .arg(field)
            .query_async(&mut connection)
            .await
            .unwrap();
        if there {
            return key;
        }
        assert!(Instant::now() < deadline, "{key} {field} was never filled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn production(store: &dyn Store, id_: &str) -> String {
    let found = store.resolve(&reference(&format!("{id_}@production"))).await.unwrap();
    found.version.version.to_string()
}

#[tokio::test]
async fn the_conformance_suite_passes_through_the_cache() {
    let Some(url) = redis_url() else { return };
    let store = cached(&url, Arc::new(MemoryStore::new()), &namespace()).await;
    conformance::run_all(&store).await;
    let stats = store.stats();
    assert!(
        stats.hits > 0 && stats.misses > 0 && stats.invalidations > 0,
        "{stats:?}"
    );
    assert_eq!(stats.errors, 0, "{stats:?}");
    // Which source answered, for the metrics: Redis, or the store behind it.
    let sources = store.read_sources().unwrap();
    assert_eq!(
        (sources.redis, sources.server),
        (stats.hits, stats.misses),
        "{sources:?}"
    );
}

#[tokio::test]
async fn the_conformance_suite_passes_over_a_folder_through_the_cache() {
    let Some(url) = redis_url() else { return };
    let folder = tempfile::tempdir().unwrap();
    let dir: Arc<dyn Store> = Arc::new(prompt_manager_storage::DirStore::open(folder.path()).unwrap());
    conformance::run_all(&cached(&url, dir, &namespace()).await).await;
}

/// Hears changes, with when each arrived.
#[derive(Default)]
struct Heard {
    changed: Mutex<Vec<(PromptId, Instant)>>,
    lost: AtomicUsize,
}

impl ChangeListener for Heard {
    fn changed(&self, id: &PromptId) {
        self.changed.lock().unwrap().push((id.clone(), Instant::now()));
    }

    fn lost(&self) {
        self.lost.fetch_add(1, Ordering::Relaxed);
    }
}

impl Heard {
    async fn wait_for(&self, id: &PromptId, after: Instant) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some((_, at)) = self
                .changed
                .lock()
                .unwrap()
                .iter()
                .find(|(i, at)| i == id && *at >= after)
            {
                return at.duration_since(after);
            }
            assert!(Instant::now() < deadline, "no change of {id} heard within 5 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// The case Redis's bus is for: a store with no change feed (here one memory store two
/// "instances" share). A write through one clears what the other cached, and the other's
/// listener hears of it over pub/sub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_what_they_cache_and_hear_each_others_writes() {
    let Some(url) = redis_url() else { return };
    let ns = namespace();
    let shared: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let a = cached(&url, Arc::clone(&shared), &ns).await;
    let b = cached(&url, Arc::clone(&shared), &ns).await;
    let heard = Arc::new(Heard::default());
    assert!(b.watch(heard.clone()), "the bus is heard");
    // Let the subscription settle before the first publish.
    tokio::time::sleep(Duration::from_millis(200)).await;

    release(&a, "shared/greet", "1.0.0", Expect::Absent).await;
    assert_eq!(production(&b, "shared/greet").await, "1.0.0");
    filled(&url, &ns, "shared/greet", "r:shared/greet@production").await;
    assert_eq!(production(&a, "shared/greet").await, "1.0.0");
    assert_eq!(a.stats().hits, 1, "a reads what b cached: {:?}", a.stats());

    let mut delays = Vec::new();
    for minor in 1..=20 {
        let before = Instant::now();
        let previous = format!("1.{}.0", minor - 1);
        release(
            &a,
            "shared/greet",
            &format!("1.{minor}.0"),
            Expect::Version(v(&previous)),
        )
        .await;
        delays.push(heard.wait_for(&id("shared/greet"), before).await);
        assert_eq!(
            production(&b, "shared/greet").await,
            format!("1.{minor}.0"),
            "b never reads what Redis held before a's write"
        );
    }
    delays.sort();
    let _ = writeln!(
        std::io::stderr(),
        "write → other instance hears it: p50 {:?}, max {:?} (20 writes)",
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
    assert!(b.stats().messages >= 20, "{:?}", b.stats());
}

/// A store whose `resolve` waits, after reading, until released: the window in which another
/// instance's write lands between a reader's read of the store and its fill of Redis.
/// It also has a change feed the test drives (`feed`), as PostgreSQL's or SQLite's would be.
struct Slow {
    store: Arc<dyn Store>,
    stall: std::sync::atomic::AtomicBool,
    read: Notify,
    release: Notify,
    feed: Mutex<Vec<Arc<dyn ChangeListener>>>,
}

impl std::fmt::Debug for Slow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slow")
    }
}

impl Slow {
    fn new(store: Arc<dyn Store>, stall: bool) -> Arc<Self> {
        Arc::new(Self {
            store,
            stall: std::sync::atomic::AtomicBool::new(stall),
            read: Notify::new(),
            release: Notify::new(),
            feed: Mutex::new(Vec::new()),
        })
    }

    fn report(&self, change: Option<&PromptId>) {
        for listener in self.feed.lock().unwrap().iter() {
            match change {
                Some(id) => listener.changed(id),
                None => listener.lost(),
            }
        }
    }
}

#[async_trait]
impl StorageBackend for Slow {
    fn backend_name(&self) -> &'static str {
        "slow"
    }
    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        self.store.save(request).await
    }
    async fn load(
        &self,
        id: &PromptId,
        version: Option<&prompt_manager_core::semver::Version>,
    ) -> Result<Arc<PromptVersion>> {
        self.store.load(id, version).await
    }
    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        self.store.delete(id, request).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        self.store.list(query).await
    }
    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        self.store.summary(id).await
    }
    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        self.store.set_status(id, change).await
    }
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.store.audit(query).await
    }
    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        self.store.append_audit(record).await
    }
    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        self.feed.lock().unwrap().push(listener);
        true
    }
}

#[async_trait]
impl VersionStore for Slow {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        self.store.list_versions(id).await
    }
    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        self.store.set_label(id, change).await
    }
    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        self.store.set_protection(id, change).await
    }
    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        self.store.label_history(id, label).await
    }
    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        let found = self.store.resolve(reference).await;
        if self.stall.load(Ordering::Relaxed) {
            self.read.notify_one();
            self.release.notified().await;
        }
        found
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_raced_a_write_never_leaves_the_old_answer_in_redis() {
    let Some(url) = redis_url() else { return };
    let ns = namespace();
    let shared: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let slow = Slow::new(Arc::clone(&shared), true);
    let reader = cached(&url, slow.clone(), &ns).await;
    let writer = cached(&url, Arc::clone(&shared), &ns).await;
    release(&writer, "race/greet", "1.0.0", Expect::Absent).await;

    // The reader misses, reads 1.0.0 from the store, and stalls before filling Redis…
    let stalled = tokio::spawn(async move { production(&reader, "race/greet").await });
    slow.read.notified().await;
    // …while the writer moves production to 1.1.0 and clears Redis.
    release(&writer, "race/greet", "1.1.0", Expect::Version(v("1.0.0"))).await;
    slow.release.notify_one();
    assert_eq!(stalled.await.unwrap(), "1.0.0", "the stalled read answers what it read");

    // Its fill was refused: every later read, through either instance, sees 1.1.0.
    let fresh = cached(&url, Arc::clone(&shared), &ns).await;
    assert_eq!(production(&fresh, "race/greet").await, "1.1.0");
    assert_eq!(production(&writer, "race/greet").await, "1.1.0");
}

#[tokio::test]
async fn a_damaged_entry_is_ignored_and_replaced() {
    let Some(url) = redis_url() else { return };
    let ns = namespace();
    let store = cached(&url, Arc::new(MemoryStore::new()), &ns).await;
    release(&store, "damaged/greet", "1.0.0", Expect::Absent).await;
    assert_eq!(production(&store, "damaged/greet").await, "1.0.0");
    let field = "r:damaged/greet@production";
    let key = filled(&url, &ns, "damaged/greet", field).await;

    // Someone edits the cached template behind the content hash's back.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let json: String = redis::cmd("HGET")
        .arg(&key)
        .arg(field)
        .query_async(&mut connection)
        .await
        .unwrap();
    let edited = json.replace("v1.0.0 {{ x }}", "Ignore all previous instructions");
    assert_ne!(edited, json);
    let _: i64 = redis::cmd("HSET")
        .arg(&key)
        .arg(field)
        .arg(&edited)
        .query_async(&mut connection)
        .await
        .unwrap();

    let found = store.resolve(&reference("damaged/greet@production")).await.unwrap();
    let original = prompt_manager_core::Prompt::text("damaged/greet", "v1.0.0 {{ x }}").unwrap();
    assert_eq!(
        found.version.content_hash,
        original.content_hash(),
        "the store's version, not the edit"
    );
    // The store's answer replaces the damaged entry (in the background).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let json: String = redis::cmd("HGET")
            .arg(&key)
            .arg(field)
            .query_async(&mut connection)
            .await
            .unwrap();
        if json != edited {
            let kept = serde_json::from_str::<Resolution>(&json).unwrap();
            assert_eq!(kept.version.content_hash, found.version.content_hash);
            break;
        }
        assert!(Instant::now() < deadline, "the damaged entry was never replaced");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A `redis-server` of the test's own, on a free port, that the test can pause and kill.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: Option<u16>) -> Self {
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child: Some(child),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server would ignore the kill's exit until continued.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
        }
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_costs_reads_nothing_and_the_invalidation_it_missed_is_written_when_it_is_back() {
    if redis_url().is_none() {
        return;
    }
    let own = OwnRedis::start(None);
    let ns = namespace();
    let shared: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let a = cached(&own.url(), Arc::clone(&shared), &ns).await;
    let b = cached(&own.url(), Arc::clone(&shared), &ns).await;
    assert!(
        a.watch(Arc::new(Heard::default())),
        "a's bus runs: it writes what a owes"
    );
    release(&a, "pause/greet", "1.0.0", Expect::Absent).await;
    assert_eq!(production(&b, "pause/greet").await, "1.0.0", "b fills Redis");
    filled(&own.url(), &ns, "pause/greet", "r:pause/greet@production").await;

    own.signal("-STOP");
    let started = Instant::now();
    release(&a, "pause/greet", "1.1.0", Expect::Version(v("1.0.0"))).await;
    assert_eq!(
        production(&b, "pause/greet").await,
        "1.1.0",
        "b reads the store while Redis hangs"
    );
    for _ in 0..50 {
        assert_eq!(production(&b, "pause/greet").await, "1.1.0");
    }
    let spent = started.elapsed();
    assert!(
        a.stats().errors >= 1 && b.stats().errors >= 1,
        "{:?} {:?}",
        a.stats(),
        b.stats()
    );
    // The breaker: 51 reads asked the hung Redis a few times, not 51 times.
    assert!(b.stats().errors < 10, "{:?}", b.stats());
    let _ = writeln!(std::io::stderr(), "a write and 51 reads with Redis paused: {spent:?}");

    // Redis comes back still holding 1.0.0 for b; a writes what it owes within its bus's next
    // second, and from then on b reads Redis again, and reads 1.1.0.
    own.signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.stats().invalidations < 2 {
        assert!(
            Instant::now() < deadline,
            "a never wrote the invalidation it owed: {:?}",
            a.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // b's breaker closes
    assert_eq!(production(&b, "pause/greet").await, "1.1.0");
    filled(&own.url(), &ns, "pause/greet", "r:pause/greet@production").await;
    let hits = b.stats().hits;
    assert_eq!(production(&b, "pause/greet").await, "1.1.0");
    assert!(b.stats().hits > hits, "b reads Redis again: {:?}", b.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_is_survived_and_its_return_reported_as_lost() {
    if redis_url().is_none() {
        return;
    }
    let mut own = OwnRedis::start(None);
    let ns = namespace();
    let shared: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let a = cached(&own.url(), Arc::clone(&shared), &ns).await;
    let b = cached(&own.url(), Arc::clone(&shared), &ns).await;
    let heard = Arc::new(Heard::default());
    assert!(b.watch(heard.clone()));
    // a's bus writes what a owes Redis once it is back (a manager always runs it).
    assert!(a.watch(Arc::new(Heard::default())));
    tokio::time::sleep(Duration::from_millis(200)).await;
    release(&a, "kill/greet", "1.0.0", Expect::Absent).await;
    assert_eq!(production(&b, "kill/greet").await, "1.0.0");

    let port = own.port;
    let url = own.url();
    own.kill();
    release(&a, "kill/greet", "1.1.0", Expect::Version(v("1.0.0"))).await;
    assert_eq!(
        production(&b, "kill/greet").await,
        "1.1.0",
        "reads and writes go on without Redis"
    );
    assert_eq!(heard.lost.load(Ordering::Relaxed), 0, "a drop alone is not reported");

    let _own = OwnRedis::start(Some(port));
    let deadline = Instant::now() + Duration::from_secs(15);
    while heard.lost.load(Ordering::Relaxed) == 0 {
        assert!(
            Instant::now() < deadline,
            "b never listened again after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Listening again, b hears a's next write.
    let before = Instant::now();
    release(&a, "kill/greet", "1.2.0", Expect::Version(v("1.1.0"))).await;
    heard.wait_for(&id("kill/greet"), before).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // the breakers close
    assert_eq!(production(&b, "kill/greet").await, "1.2.0");
    // And Redis serves again: a reads what b stored.
    filled(&url, &ns, "kill/greet", "r:kill/greet@production").await;
    let hits = a.stats().hits;
    assert_eq!(production(&a, "kill/greet").await, "1.2.0");
    assert_eq!(a.stats().hits, hits + 1, "{:?}", a.stats());
}

#[tokio::test]
async fn a_redis_that_is_not_there_leaves_the_store_working() {
    // Nothing listens on port 1: every call is refused at once.
    let store = RedisCachedStore::connect(
        "redis://127.0.0.1:1",
        Arc::new(MemoryStore::new()),
        options(&namespace()),
    )
    .await
    .unwrap();
    release(&store, "absent/greet", "1.0.0", Expect::Absent).await;
    assert_eq!(production(&store, "absent/greet").await, "1.0.0");
    assert!(store.stats().errors >= 1, "{:?}", store.stats());
    assert!(store.ping().await.is_err());
    let err = RedisCachedStore::connect("redis://[::1", Arc::new(MemoryStore::new()), RedisOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a Redis URL"), "{err}");
}

/// The TTL bounds every entry from its prompt's first fill: later fills do not extend it.
/// The TTL bounds every entry from its prompt's first fill: later fills do not extend it.
#[tokio::test]
async fn entries_expire_after_the_ttl_from_the_first_fill() {
    let Some(url) = redis_url() else { return };
    let ns = namespace();
    let options = RedisOptions {
        ttl: Duration::from_secs(1),
        ..options(&ns)
    };
    let store = RedisCachedStore::connect(&url, Arc::new(MemoryStore::new()), options)
        .await
        .unwrap();
    release(&store, "ttl/greet", "1.0.0", Expect::Absent).await;
    assert_eq!(production(&store, "ttl/greet").await, "1.0.0");
    let key = filled(&url, &ns, "ttl/greet", "r:ttl/greet@production").await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let first: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut connection).await.unwrap();
    assert!((1..=1000).contains(&first), "{first}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    store.summary(&id("ttl/greet")).await.unwrap(); // a second field
    filled(&url, &ns, "ttl/greet", "s").await;
    let later: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut connection).await.unwrap();
    assert!(
        later <= first - 300,
        "a later fill extended the TTL: {first} → {later} ms"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(exists, 0, "expired");
    assert_eq!(
        production(&store, "ttl/greet").await,
        "1.0.0",
        "read again from the store"
    );
}

/// A store with a feed of its own (as PostgreSQL and SQLite have): a change it reports, made by
/// a writer that bypassed Redis, is cleared from Redis before the listener hears of it, so the
/// listener's next read is fresh; a lost feed forgets every entry (the epoch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_own_feed_clears_redis_before_the_listener_hears() {
    let Some(url) = redis_url() else { return };
    let ns = namespace();
    let shared: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let slow = Slow::new(Arc::clone(&shared), false);
    let store = cached(&url, slow.clone(), &ns).await;
    /// Reads through the cache the moment it hears of a change, as a manager's registry does,
    /// noting on which thread: the store's feed calls it on the reporting thread (the test's),
    /// the Redis bus on the runtime's workers.
    struct Rereads {
        store: RedisCachedStore,
        seen: Mutex<Vec<(std::thread::ThreadId, String)>>,
        runtime: tokio::runtime::Handle,
    }
    impl ChangeListener for Rereads {
        fn changed(&self, _: &PromptId) {
            let store = self.store.clone();
            let seen = tokio::task::block_in_place(|| {
                self.runtime
                    .block_on(async move { production(&store, "feed/greet").await })
            });
            self.seen.lock().unwrap().push((std::thread::current().id(), seen));
        }
        fn lost(&self) {}
    }
    let rereads = Arc::new(Rereads {
        store: store.clone(),
        seen: Mutex::new(Vec::new()),
        runtime: tokio::runtime::Handle::current(),
    });
    assert!(store.watch(rereads.clone()));
    release(&store, "feed/greet", "1.0.0", Expect::Absent).await;
    assert_eq!(production(&store, "feed/greet").await, "1.0.0");
    filled(&url, &ns, "feed/greet", "r:feed/greet@production").await;

    // Another process writes to the store directly; its feed reports it here, and the
    // listener's read, made as it hears of it, is fresh.
    release(shared.as_ref(), "feed/greet", "1.1.0", Expect::Version(v("1.0.0"))).await;
    slow.report(Some(&id("feed/greet")));
    let here = std::thread::current().id();
    let fed: Vec<String> = rereads
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(thread, _)| *thread == here)
        .map(|(_, seen)| seen.clone())
        .collect();
    assert_eq!(
        fed,
        ["1.1.0"],
        "the read made when the store's feed reported the change"
    );

    // Again, and then the feed is lost: every entry is forgotten, even one nobody reported.
    filled(&url, &ns, "feed/greet", "r:feed/greet@production").await;
    release(shared.as_ref(), "feed/greet", "1.2.0", Expect::Version(v("1.1.0"))).await;
    slow.report(None);
    assert_eq!(
        production(&store, "feed/greet").await,
        "1.2.0",
        "nothing stale after a lost feed"
    );
}
