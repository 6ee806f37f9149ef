//! [`SqliteStore`]: prompts in one SQLite file (`sqlite://PATH`), through sqlx with SQLite
//! compiled in. The schema is in `migrations/sqlite/`; the checks of each write are shared with
//! PostgreSQL in the parent module.

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
use super::reads::{Dialect, Reads};
use super::writes::{Writes, saving};
use super::{
    Decoder, EventRow, Failure, Feed, InfoRow, Migration, SummaryRow, VersionRow, advance, fetch_limit, in_database,
    pending_migrations, prefix_successor, prompt_json, sql_error,
};
use crate::rules;

const BACKEND: &str = "sqlite";
const DECODE: Decoder = Decoder::new(BACKEND);

type Gov = Governance<SqliteDialect>;
type Write = Writes<SqliteDialect>;

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
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "change_log",
        sql: include_str!("../../migrations/sqlite/0002_change_log.sql"),
    },
    Migration {
        version: 3,
        name: "governance",
        sql: include_str!("../../migrations/sqlite/0003_governance.sql"),
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
         (SELECT json_group_array(x.label) FROM pm_protected_labels x WHERE x.prompt_id = p.id) AS protected \
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
            tracing::info!(
                backend = BACKEND,
                version = migration.version,
                name = migration.name,
                "applied migration to {location}"
            );
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

/// How the shared reads ([`Reads`]) decode this backend's rows.
struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;
    const BACKEND: &'static str = BACKEND;
    const DECODE: Decoder = DECODE;
    const SUMMARY_BY_ID: &'static str = concat!(summary_select!(), " WHERE p.id = $1");
    // A write transaction holds SQLite's only write lock already.
    const AUDIT_HEAD: &'static str = "SELECT seq, hash FROM pm_audit_head WHERE id = 1";
    const LOCK_PROMPT: &'static str =
        "SELECT status, latest_version, version_count, updated_at FROM pm_prompts WHERE id = $1";
    type Time = String;

    fn time(at: DateTime<Utc>) -> String {
        timestamp(at)
    }

    fn updated_at(id: &str, row: &SqliteRow) -> Result<DateTime<Utc>, Failure> {
        Ok(parse_timestamp(
            id,
            "updated_at",
            &row.try_get::<String, _>("updated_at")?,
        )?)
    }

    fn version_row(id: &str, row: &<Sqlite as sqlx::Database>::Row) -> Result<Option<VersionRow>, Failure> {
        version_row(id, row)
    }

    fn event_row(id: &str, row: &<Sqlite as sqlx::Database>::Row) -> Result<EventRow, Failure> {
        event_row(id, row)
    }

    fn summary_row(row: &<Sqlite as sqlx::Database>::Row) -> Result<SummaryRow, Failure> {
        summary_row(row)
    }
}

fn version_row(id: &str, row: &SqliteRow) -> Result<Option<VersionRow>, Failure> {
    let Some(version) = row.try_get::<Option<String>, _>("version")? else {
        return Ok(None);
    };
    Ok(Some(VersionRow {
        version,
        prompt: row.try_get("prompt")?,
        changelog: row.try_get("changelog")?,
        author: row.try_get("author")?,
        created_at: parse_timestamp(id, "created_at", &row.try_get::<String, _>("created_at")?)?,
        parent: row.try_get("parent")?,
        content_hash: row.try_get("content_hash")?,
    }))
}

fn summary_row(row: &SqliteRow) -> Result<SummaryRow, Failure> {
    let id: String = row.try_get("id")?;
    let created_at = parse_timestamp(&id, "created_at", &row.try_get::<String, _>("created_at")?)?;
    let updated_at = parse_timestamp(&id, "updated_at", &row.try_get::<String, _>("updated_at")?)?;
    Ok(SummaryRow {
        status: row.try_get("status")?,
        format: row.try_get("format")?,
        description: row.try_get("description")?,
        latest_version: row.try_get("latest_version")?,
        version_count: row.try_get("version_count")?,
        created_at,
        updated_at,
        tags_json: row.try_get("tags")?,
        labels_json: row.try_get("labels")?,
        protected_json: row.try_get("protected")?,
        id,
    })
}

fn event_row(id: &str, row: &SqliteRow) -> Result<EventRow, Failure> {
    Ok(EventRow {
        label: row.try_get("label")?,
        from_version: row.try_get("from_version")?,
        to_version: row.try_get("to_version")?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        at: parse_timestamp(id, "at", &row.try_get::<String, _>("at")?)?,
    })
}

/// The latest version and `updated_at` of a prompt, `None` when it does not exist.
async fn current_state(
    conn: &mut SqliteConnection,
    id: &PromptId,
) -> Result<Option<(Version, DateTime<Utc>)>, Failure> {
    let row = sqlx::query("SELECT latest_version, updated_at FROM pm_prompts WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let latest = DECODE.version(id, "latest version", &row.try_get::<String, _>("latest_version")?)?;
    let updated_at = parse_timestamp(id, "updated_at", &row.try_get::<String, _>("updated_at")?)?;
    Ok(Some((latest, updated_at)))
}

/// One save inside the caller's write transaction: checks, then writes the prompt row, the
/// version, the labels and their events, and the tags. Returns the label events and the audit
/// records to append.
async fn save_in(
    conn: &mut SqliteConnection,
    request: &SaveRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<LabelEvent>, Vec<AuditRecord>), Failure> {
    let version = &request.version;
    let id = &version.prompt.id;
    let number = &version.version;
    // A prompt that cannot be stored is refused before anything is read (as PostgreSQL does).
    let prompt = prompt_json(version)?;
    let current = current_state(conn, id).await?;
    let latest = current.as_ref().map(|(latest, _)| latest);
    rules::check_save(request, latest)?;
    if current.is_some() && !request.labels.is_empty() {
        rules::check_save_protection(request, &Gov::protected_in(conn, id).await?)?;
    }
    let mut labels = match (&current, request.labels.is_empty()) {
        (Some(_), false) => Reads::<SqliteDialect>::labels_in(conn, id).await?,
        _ => BTreeMap::new(),
    };
    let events = rules::move_labels(&mut labels, request, now);
    let records = rules::save_records(request, latest, &events);
    let metadata = &version.prompt.metadata;

    match &current {
        None => {
            sqlx::query(
                "INSERT INTO pm_prompts \
                 (id, status, format, description, latest_version, version_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
            )
            .bind(id.as_str())
            .bind(request.status.as_str())
            .bind(version.prompt.format.as_str())
            .bind(metadata.description.as_deref())
            .bind(number.to_string())
            .bind(timestamp(now))
            .execute(&mut *conn)
            .await?;
        }
        Some((_, updated_at)) => {
            sqlx::query(
                "UPDATE pm_prompts SET format = $2, description = $3, latest_version = $4, \
                 version_count = version_count + 1, updated_at = $5 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(version.prompt.format.as_str())
            .bind(metadata.description.as_deref())
            .bind(number.to_string())
            .bind(timestamp(advance(*updated_at, now)))
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM pm_tags WHERE prompt_id = $1")
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query(
        "INSERT INTO pm_versions (prompt_id, version, prompt, changelog, author, created_at, parent, content_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(number.to_string())
    .bind(prompt)
    .bind(version.changelog.as_str())
    .bind(version.author.as_deref())
    .bind(timestamp(version.created_at))
    .bind(version.parent.as_ref().map(Version::to_string))
    .bind(version.content_hash.0.as_str())
    .execute(&mut *conn)
    .await?;
    for event in &events {
        Write::record_event(conn, id, event).await?;
    }
    for tag in &metadata.tags {
        sqlx::query("INSERT INTO pm_tags (tag, prompt_id) VALUES ($1, $2)")
            .bind(tag.as_str())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok((events, records))
}

#[async_trait]
impl StorageBackend for SqliteStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            let (events, records) = save_in(&mut tx, &request, now).await?;
            Gov::append(&mut tx, records, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(events)
        };
        run.await.map_err(|f| f.into_error(BACKEND, saving(&request)))
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        // Which request failed, to name it if the driver fails.
        let mut current = 0;
        let run = async {
            let mut tx = self.begin_write().await?;
            let mut events = Vec::new();
            let mut records = Vec::new();
            for (i, request) in requests.iter().enumerate() {
                current = i;
                let (new_events, new_records) = save_in(&mut tx, request, now).await?;
                events.extend(new_events);
                records.extend(new_records);
            }
            Gov::append(&mut tx, records, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(events)
        };
        let result = run.await;
        result.map_err(|f| {
            let doing = requests.get(current).map_or_else(String::new, saving);
            f.into_error(
                BACKEND,
                format_args!(
                    "{doing} (request {} of {} in a batch; nothing was saved)",
                    current + 1,
                    requests.len()
                ),
            )
        })
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        Reads::<SqliteDialect>::new(&self.pool)
            .load(id, version)
            .await
            .map_err(|e| in_database(e, &self.location()))
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            Write::delete_in(&mut tx, id, &request, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("deleting `{id}`")))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        query.validate()?;
        let limit = query.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            // As MemoryStore: no item fits, and no cursor can say "from the start".
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let mut sql = QueryBuilder::<Sqlite>::new(concat!(summary_select!(), " WHERE 1 = 1"));
        if let Some(prefix) = query.id_prefix.as_deref().filter(|p| !p.is_empty()) {
            sql.push(" AND p.id >= ").push_bind(prefix.to_owned());
            if let Some(end) = prefix_successor(prefix) {
                sql.push(" AND p.id < ").push_bind(end);
            }
        }
        if let Some(cursor) = &query.cursor {
            sql.push(" AND p.id > ").push_bind(cursor.clone());
        }
        if let Some(status) = query.status {
            sql.push(" AND p.status = ").push_bind(status.as_str());
        }
        let tags = query.distinct_tags();
        if !tags.is_empty() {
            // One subquery for every tag (a JSON array of them), not one per tag: SQLite refuses
            // an expression tree deeper than 1,000, and a bound parameter list has its own limit.
            let json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".to_owned());
            sql.push(
                " AND p.id IN (SELECT t.prompt_id FROM pm_tags t \
                 WHERE t.tag IN (SELECT j.value FROM json_each(",
            )
            .push_bind(json)
            .push(") j) GROUP BY t.prompt_id HAVING count(DISTINCT t.tag) = ")
            .push_bind(tags.len() as i64)
            .push(")");
        }
        sql.push(" ORDER BY p.id");
        if query.limit.is_some() {
            sql.push(" LIMIT ").push_bind(fetch_limit(limit));
        }
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| sql_error(BACKEND, format_args!("listing prompts in {}", self.location()), e))?;
        let mut items = Vec::with_capacity(rows.len().min(limit));
        let mut next_cursor = None;
        for row in &rows {
            if items.len() == limit {
                next_cursor = items.last().map(|s: &PromptSummary| s.id.to_string());
                break;
            }
            let summary = summary_row(row)
                .map_err(|f| f.into_error(BACKEND, "listing prompts"))
                .and_then(|row| DECODE.summary(row))?;
            items.push(summary);
        }
        Ok(Page { items, next_cursor })
    }

    async fn exists(&self, id: &PromptId) -> Result<bool> {
        Reads::<SqliteDialect>::new(&self.pool).exists(id).await
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        Reads::<SqliteDialect>::new(&self.pool).summary(id).await
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            Write::set_status_in(&mut tx, id, &change, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        };
        run.await.map_err(|f| {
            f.into_error(
                BACKEND,
                format_args!("setting the status of `{id}` to {}", change.status),
            )
        })
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        Gov::read(&self.pool, query).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        rules::check_external(&record)?;
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            let entries = Gov::append(&mut tx, vec![record], now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(entries)
        };
        let entries = run
            .await
            .map_err(|f| f.into_error(BACKEND, "appending to the audit log"))?;
        entries
            .into_iter()
            .next()
            .ok_or_else(|| Error::backend(BACKEND, "appending an audit entry produced none"))
    }

    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        let (pool, path, reader) = (self.pool.clone(), self.path.clone(), Arc::clone(&self.reader));
        self.feed.watch(listener, |all| {
            let _ = reader.listener.set(all);
            watch_change_log(pool, path, reader)
        })
    }

    fn catch_up_needed(&self) -> bool {
        self.reader.behind()
    }

    async fn catch_up(&self) {
        self.reader.read_after(&self.pool, &self.path).await;
    }
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

#[async_trait]
impl VersionStore for SqliteStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        let run = async {
            // One row holding every version as JSON: rows cross from SQLite's worker thread one
            // message at a time, which costs more than the query for a long history.
            let row = sqlx::query(
                "SELECT (SELECT json_group_array(json_array(v.version, v.changelog, v.author, v.created_at, \
                 v.parent, v.content_hash)) FROM pm_versions v WHERE v.prompt_id = p.id) AS versions \
                 FROM pm_prompts p WHERE p.id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                return Err(Error::prompt_not_found(id).into());
            };
            let json: String = row.try_get("versions")?;
            type Info = (String, String, Option<String>, String, Option<String>, String);
            let rows: Vec<Info> = serde_json::from_str(&json)
                .map_err(|e| DECODE.corrupt(id, format_args!("the version list is unreadable: {e}")))?;
            let mut infos = Vec::with_capacity(rows.len());
            for (version, changelog, author, created_at, parent, content_hash) in rows {
                infos.push(InfoRow {
                    version,
                    changelog,
                    author,
                    created_at: parse_timestamp(id, "created_at", &created_at)?,
                    parent,
                    content_hash,
                });
            }
            Ok::<_, Failure>(DECODE.history(id, infos)?)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("listing the versions of `{id}`")))
    }

    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        Reads::<SqliteDialect>::new(&self.pool).labels(id).await
    }

    async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version> {
        Reads::<SqliteDialect>::new(&self.pool).get_label(id, label).await
    }

    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        Reads::<SqliteDialect>::new(&self.pool)
            .resolve(reference)
            .await
            .map_err(|e| in_database(e, &self.location()))
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            let event = Write::set_label_in(&mut tx, id, &change, now).await?;
            if event.is_some() {
                tx.commit().await?;
            }
            Ok::<_, Failure>(event)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("moving label {} of `{id}`", change.label)))
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            let changed = Write::set_protection_in(&mut tx, id, &change, now).await?;
            if changed {
                tx.commit().await?;
            }
            Ok::<_, Failure>(changed)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("protecting label {} of `{id}`", change.label)))
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        Reads::<SqliteDialect>::new(&self.pool).label_history(id, label).await
    }
}

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
