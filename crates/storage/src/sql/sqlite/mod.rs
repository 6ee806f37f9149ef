//! [`SqliteStore`]: prompts in one SQLite file (`sqlite://PATH`), through sqlx with SQLite
//! compiled in. The schema is in `migrations/sqlite/`; the checks of each write are shared with
//! PostgreSQL in the parent module.
//!
//! This file opens the store (connection, migrations) and runs its change feed; the trait
//! methods and saves are in `store`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AuditEntry, AuditQuery, AuditRecord, ChangeListener, DeleteRequest, Error, LabelChange, LabelEvent, LabelName,
    ListQuery, Page, PromptId, PromptRef, PromptSummary, PromptVersion, ProtectionChange, Resolution, Result,
    SaveRequest, StatusChange, StorageBackend, VersionInfo, VersionStore, async_trait,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::audit::Governance;
use super::reads::{Dialect, Reads, summary_page};
use super::writes::{Writes, saving};
use super::{
    Decoder, EventRow, Failure, Feed, InfoRow, Migration, SummaryRow, VersionRow, advance, fetch_limit, in_database,
    pending_migrations, prefix_successor, prompt_json, sql_error,
};
use crate::rules;

const BACKEND: &str = "sqlite";
const DECODE: Decoder = Decoder::new(BACKEND);

/// How long a writer waits for another (in this or another process) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per store. SQLite has one writer at a time; a few connections let reads proceed
/// beside it (WAL readers never wait for the writer).
const MAX_CONNECTIONS: u32 = 4;

/// The schema, in order. `tests::migrations_match_the_files` keeps this list and the folder in step.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "change_log",
        sql: include_str!("../../../migrations/sqlite/0002_change_log.sql"),
    },
    Migration {
        version: 3,
        name: "governance",
        sql: include_str!("../../../migrations/sqlite/0003_governance.sql"),
    },
    Migration {
        version: 4,
        name: "splits",
        sql: include_str!("../../../migrations/sqlite/0004_splits.sql"),
    },
    Migration {
        version: 5,
        name: "usage",
        sql: include_str!("../../../migrations/sqlite/0005_usage.sql"),
    },
];

/// How often a watching store reads the change log for other processes' writes in the
/// background. A cache over the store does not wait for it: it asks for a read of the log
/// ([`StorageBackend::catch_up`]) before it serves anything, so this only bounds how long an
/// idle cache keeps entries another process made stale.
const CHANGE_POLL: Duration = Duration::from_millis(100);

/// The most change-log rows read per poll; more means the watcher fell behind and forgets all.
const CHANGE_BATCH: i64 = 1_000;

/// The columns of a summary: the prompt row with its tags and labels as JSON.
macro_rules! summary_select {
    () => {
        "SELECT p.id, p.status, p.format, p.description, p.latest_version, p.version_count, \
         p.created_at, p.updated_at, \
         (SELECT json_group_array(t.tag) FROM pm_tags t WHERE t.prompt_id = p.id) AS tags, \
         (SELECT json_group_object(l.label, l.version) FROM pm_labels l WHERE l.prompt_id = p.id) AS labels, \
         (SELECT json_group_array(x.label) FROM pm_protected_labels x WHERE x.prompt_id = p.id) AS protected, \
         (SELECT json_group_object(l.label, json(l.split)) FROM pm_labels l \
          WHERE l.prompt_id = p.id AND l.split IS NOT NULL) AS splits \
         FROM pm_prompts p"
    };
}

/// A store in one SQLite file: durable, transactional, and shareable between processes.
///
/// Every write is one transaction that takes SQLite's write lock when it begins (`BEGIN
/// IMMEDIATE`), so compare-and-set saves are race-free between connections and between
/// processes: the check and the write happen under the same lock, and a writer that finds the
/// lock taken waits up to 5 s for it. The file is in WAL mode (readers never wait for the writer)
/// with `synchronous=FULL`, so an acknowledged write survives a crash or power loss. The schema
/// is created and migrated when the store opens. Clones share their connections.
///
/// ```
/// use prompt_manager_core::{ListQuery, StorageBackend};
/// use prompt_manager_storage::SqliteStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> prompt_manager_core::Result<()> {
/// # let dir = tempfile::tempdir().map_err(|e| prompt_manager_core::Error::Config(e.to_string()))?;
/// # let path = dir.path().join("prompts.db");
/// let store = SqliteStore::open(&path).await?;
/// assert!(store.list(&ListQuery::default()).await?.items.is_empty());
/// store.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: Arc<Path>,
    /// The change-log watchers ([`StorageBackend::watch`]), stopped with the last clone.
    feed: Arc<Feed>,
    /// Where the watchers are in the change log, shared by the background poll and catch-ups.
    reader: Arc<ChangeReader>,
}

/// The reading position in the change log, shared by the background poll and
/// [`StorageBackend::catch_up`]; the lock also makes reads of the log take turns, so each change
/// is reported once.
struct ChangeReader {
    /// The last sequence number read; `None` before the first read and after a failed one.
    last: tokio::sync::Mutex<Option<i64>>,
    /// Reads of the log started so far (counted under the lock).
    reads: AtomicU64,
    /// The watchers, all as one; set when the feed starts.
    listener: OnceLock<Arc<dyn ChangeListener>>,
    /// The database's write-ahead log (`<file>-wal`): every commit writes to it.
    wal: PathBuf,
    /// The WAL file as it was when a read of the change log started, if it had been still for
    /// [`WAL_SETTLED`] by then: while the file is unchanged, that read saw every commit.
    settled: RwLock<Option<FileStamp>>,
}

/// How long the WAL file must have been unchanged before a read of the change log for its
/// stamp to stand for "no commit since": file times are coarse (a clock tick), and a commit's
/// frames reach the file before it is visible (an fsync in between), so a recent time proves
/// nothing. Until then, a cache asks the log itself.
const WAL_SETTLED: Duration = Duration::from_secs(1);

/// A file's size, modification time and inode: a commit changes at least the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: SystemTime,
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self {
            len: meta.len(),
            modified: meta.modified().ok()?,
            inode,
        })
    }
}

impl ChangeReader {
    fn new(path: &Path) -> Self {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Self {
            last: tokio::sync::Mutex::new(None),
            reads: AtomicU64::new(0),
            listener: OnceLock::new(),
            wal: PathBuf::from(wal),
            settled: RwLock::new(None),
        }
    }

    /// Whether a cache must read the log before serving: the feed runs, and the WAL file is not
    /// as it was when the last read started, long after it last changed. One `stat`.
    fn behind(&self) -> bool {
        if self.listener.get().is_none() {
            return false;
        }
        let settled = match self.settled.read() {
            Ok(settled) => *settled,
            Err(poisoned) => *poisoned.into_inner(),
        };
        settled.is_none() || settled != FileStamp::of(&self.wal)
    }

    /// Reads the log once, after every read started before this call has finished, unless a read
    /// that started after this call has finished meanwhile (it saw everything this one would).
    async fn read_after(&self, pool: &SqlitePool, path: &Path) -> Poll {
        let Some(listener) = self.listener.get() else {
            return Poll::Read;
        };
        let arrived = self.reads.load(Ordering::Acquire);
        let mut last = self.last.lock().await;
        if self.reads.load(Ordering::Acquire) > arrived {
            return Poll::Read;
        }
        self.reads.fetch_add(1, Ordering::AcqRel);
        let (stamp, started) = (FileStamp::of(&self.wal), SystemTime::now());
        let poll = read_change_log(pool, path, &mut last, listener.as_ref()).await;
        let settled = stamp.filter(|s| {
            last.is_some()
                && started
                    .duration_since(s.modified)
                    .is_ok_and(|still| still > WAL_SETTLED)
        });
        match self.settled.write() {
            Ok(mut slot) => *slot = settled,
            Err(poisoned) => *poisoned.into_inner() = settled,
        }
        poll
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it (not its directory) when missing, and
    /// brings its schema up to date. Fails when the file cannot be opened or was migrated by a
    /// newer prompt-manager.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let location = format!("SQLite database `{}`", path.display());
        if path.as_os_str().is_empty() {
            return Err(Error::Config("the SQLite database path is empty".into()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(Error::backend(
                BACKEND,
                format!(
                    "cannot open {location}: the directory `{}` does not exist",
                    dir.display()
                ),
            ));
        }
        // No journal_mode here: switching a new file to WAL needs an exclusive lock that SQLite
        // does not wait for, so it is done once, below, with retries. The mode stays in the file.
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| sql_error(BACKEND, format_args!("cannot open {location}"), e))?;
        use_wal(&pool, &location).await?;
        migrate(&pool, &location).await?;
        Ok(Self {
            pool,
            path: path.into(),
            feed: Arc::default(),
            reader: Arc::new(ChangeReader::new(path)),
        })
    }

    /// Opens the database a `sqlite://PATH` URL names (`sqlite://./prompt-manager.db`,
    /// `sqlite:///var/lib/prompts.db`); everything after `sqlite://` is the path, as
    /// [`open`](Self::open) takes it.
    pub async fn connect(url: &str) -> Result<Self> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| Error::Config(format!("`{url}` is not a SQLite URL; use sqlite://PATH")))?;
        if path.is_empty() {
            return Err(Error::Config(format!(
                "`{url}` names no file; use sqlite://PATH, such as sqlite://./prompt-manager.db"
            )));
        }
        if path == ":memory:" || path.starts_with("file:") || path.contains('?') {
            return Err(Error::Config(format!(
                "`{url}`: SQLite URL options and in-memory databases are not supported; use sqlite://PATH \
                 for a file, or memory:// for a store that lives in the process"
            )));
        }
        Self::open(path).await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, waiting for those in use to be returned. Dropping the store
    /// closes them too, in the background; `close` lets a program finish its writes first.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        // Takes the write lock now rather than at the first write, so that the reads that decide
        // a compare-and-set happen under it, and a busy database waits (busy_timeout) instead of
        // failing at the upgrade from a read lock.
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    fn location(&self) -> String {
        format!("SQLite database `{}`", self.path.display())
    }
}

/// Puts the file in WAL mode (readers do not wait for the writer, and commits append to the log).
/// Another process switching the same new file at once makes SQLite answer "busy" without
/// waiting, so this retries for as long as the busy timeout.
async fn use_wal(pool: &SqlitePool, location: &str) -> Result<()> {
    const PAUSE: Duration = Duration::from_millis(20);
    let mut waited = Duration::ZERO;
    loop {
        match sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
            .fetch_one(pool)
            .await
        {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(Error::backend(
                    BACKEND,
                    format!(
                        "cannot open {location}: SQLite cannot use WAL journal mode there (it stays in `{mode}`                          mode); put the database on a local file system"
                    ),
                ));
            }
            Err(e) if is_busy(&e) && waited < BUSY_TIMEOUT => {
                tokio::time::sleep(PAUSE).await;
                waited += PAUSE;
            }
            Err(e) => return Err(sql_error(BACKEND, format_args!("cannot open {location}"), e)),
        }
    }
}

/// Whether SQLite reported the database busy or locked (the primary result code, whatever the
/// extended one).
fn is_busy(e: &sqlx::Error) -> bool {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok());
    matches!(code.map(|c| c & 0xff), Some(5 | 6))
}

/// Creates or updates the schema in one write transaction: two processes opening a new file at
/// once apply it once.
async fn migrate(pool: &SqlitePool, location: &str) -> Result<()> {
    let run = async {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS pm_schema_migrations (\
             version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let applied: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM pm_schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
        for migration in pending_migrations(BACKEND, location, applied, MIGRATIONS)? {
            sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO pm_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(migration.version)
                .bind(migration.name)
                .bind(timestamp(Utc::now()))
                .execute(&mut *tx)
                .await?;
            super::log_migration(BACKEND, location, migration, applied.is_some());
        }
        tx.commit().await?;
        Ok::<_, Failure>(())
    };
    run.await
        .map_err(|f| f.into_error(BACKEND, format_args!("migrating the schema of {location}")))
}

/// A timestamp as stored: RFC 3339, UTC, microseconds, fixed width (so text order is time order).
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_timestamp(id: &str, column: &str, text: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            DECODE.corrupt(
                id,
                format_args!("{column} `{}` is not a timestamp: {e}", text.escape_debug()),
            )
        })
}

/// What a read of the change log found out about the pool.
enum Poll {
    Read,
    Closed,
}

/// Reads the change log every [`CHANGE_POLL`] (a catch-up may read it in between) and reports
/// each prompt changed since the last read — by this process or any other — until the pool
/// closes or the task is aborted.
async fn watch_change_log(pool: SqlitePool, path: Arc<Path>, reader: Arc<ChangeReader>) {
    let mut ticks = tokio::time::interval(CHANGE_POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Poll::Closed = reader.read_after(&pool, &path).await {
            return;
        }
    }
}

/// Reads the change log after `last` and reports each prompt changed since — by this process or
/// any other. The first read starts from the log's end and reports `lost` (a cache built before
/// then may hold anything), and so does a read after rows it had not read were trimmed; a failed
/// read starts over.
async fn read_change_log(
    pool: &SqlitePool,
    path: &Path,
    last: &mut Option<i64>,
    listener: &dyn ChangeListener,
) -> Poll {
    let Some(seen) = *last else {
        match sqlx::query_scalar::<_, i64>("SELECT coalesce(max(seq), 0) FROM pm_changes")
            .fetch_one(pool)
            .await
        {
            Ok(end) => {
                *last = Some(end);
                listener.lost();
            }
            Err(sqlx::Error::PoolClosed) => return Poll::Closed,
            Err(e) => {
                tracing::warn!(backend = BACKEND, error = %e, "cannot read the change log of `{}`", path.display())
            }
        }
        return Poll::Read;
    };
    let rows =
        sqlx::query_as::<_, (i64, String)>("SELECT seq, prompt_id FROM pm_changes WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(seen)
            .bind(CHANGE_BATCH)
            .fetch_all(pool)
            .await;
    match rows {
        Ok(rows) => {
            let Some((first, _)) = rows.first() else {
                return Poll::Read;
            };
            if *first != seen + 1 || rows.len() as i64 == CHANGE_BATCH {
                // Rows were trimmed before they were read, or too many arrived to go one by one.
                listener.lost();
            } else {
                for (_, id) in &rows {
                    match PromptId::new(id) {
                        Ok(id) => listener.changed(&id),
                        Err(_) => listener.lost(),
                    }
                }
            }
            *last = rows.last().map(|(seq, _)| *seq);
        }
        Err(sqlx::Error::PoolClosed) => return Poll::Closed,
        Err(e) => {
            tracing::warn!(backend = BACKEND, error = %e, "cannot read the change log of `{}`; starting over", path.display());
            // Start over from the log's end, forgetting everything once it can be read again.
            *last = None;
        }
    }
    Poll::Read
}

mod store;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn migrations_match_the_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(
            files,
            listed,
            "every file in {} is listed in MIGRATIONS, in order",
            dir.display()
        );
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "migrations are numbered 1, 2, …");
            let text = std::fs::read_to_string(dir.join(&listed[i])).unwrap();
            assert_eq!(text, m.sql);
        }
    }

    #[tokio::test]
    async fn connections_are_durable_and_enforce_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("prompts.db")).await.unwrap();
        for (pragma, expected) in [
            ("journal_mode", "wal"),
            ("synchronous", "2"), // FULL: the WAL is synced at every commit
            ("foreign_keys", "1"),
            ("busy_timeout", "5000"),
        ] {
            let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST((SELECT * FROM pragma_{pragma}) AS TEXT)"
            )))
            .fetch_one(&store.pool)
            .await
            .unwrap();
            assert_eq!(value, expected, "PRAGMA {pragma}");
        }
        store.close().await;
    }

    #[test]
    fn timestamps_are_fixed_width_and_round_trip_microseconds() {
        let at = DateTime::parse_from_rfc3339("2025-01-31T12:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = timestamp(at);
        assert_eq!(text, "2025-01-31T12:00:00.123456Z");
        assert_eq!(
            parse_timestamp("a", "at", &text).unwrap(),
            at - chrono::Duration::nanoseconds(789)
        );
        assert!(parse_timestamp("a", "at", "yesterday").is_err());
    }
}
