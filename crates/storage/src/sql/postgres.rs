//! [`PostgresStore`]: prompts in a PostgreSQL database (`postgres://…`), optionally in a schema
//! of their own, through sqlx. The schema is in `migrations/postgres/`; the checks of each write
//! are shared with the other backends (`crate::rules`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AuditEntry, AuditQuery, AuditRecord, ChangeListener, DeleteRequest, Error, LabelChange, LabelEvent, LabelName,
    ListQuery, Page, PromptId, PromptRef, PromptSummary, PromptVersion, ProtectionChange, Resolution, Result,
    SaveRequest, StatusChange, StorageBackend, VersionInfo, VersionStore, async_trait,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Postgres, QueryBuilder, Row};

use super::audit::Governance;
use super::reads::{Dialect, Reads};
use super::writes::{Writes, saving};
use super::{
    Decoder, EventRow, Failure, Feed, InfoRow, Migration, SummaryRow, VersionRow, advance, fetch_limit, in_database,
    pending_migrations, prefix_successor, prompt_json, sql_error,
};
use crate::rules;

const BACKEND: &str = "postgres";
const DECODE: Decoder = Decoder::new(BACKEND);

/// Connections per store (per process).
const MAX_CONNECTIONS: u32 = 10;

/// How long an operation waits for a connection (all in use, or the server unreachable).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a transaction that PostgreSQL aborted as a deadlock victim or a serialization
/// failure is tried in all. Nothing of an aborted attempt was written, so trying again is safe.
const MAX_ATTEMPTS: u32 = 5;

/// The advisory lock that serialises migrations (any schema, any process): "pm_schem".
const MIGRATION_LOCK: i64 = 0x706d_5f73_6368_656d;

/// The schema, in order. `tests::migrations_match_the_files` keeps this list and the folder in step.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "change_feed",
        sql: include_str!("../../migrations/postgres/0002_change_feed.sql"),
    },
    Migration {
        version: 3,
        name: "governance",
        sql: include_str!("../../migrations/postgres/0003_governance.sql"),
    },
];

/// The channel the change-feed triggers notify (`migrations/postgres/0002_change_feed.sql`).
const CHANGES_CHANNEL: &str = "prompt_manager_changes";

/// The longest pause before the change feed tries to listen again after a failure.
const FEED_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The columns of a summary: the prompt row with its tags and labels as JSON.
macro_rules! summary_select {
    () => {
        "SELECT p.id, p.status, p.format, p.description, p.latest_version, p.version_count, \
         p.created_at, p.updated_at, \
         p.tags, \
         (SELECT json_object_agg(l.label, l.version) FROM pm_labels l WHERE l.prompt_id = p.id)::text AS labels, \
         (SELECT json_agg(x.label) FROM pm_protected_labels x WHERE x.prompt_id = p.id)::text AS protected \
         FROM pm_prompts p"
    };
}

/// Tries `$attempt` (an `async` block yielding `Result<_, Failure>`) again when PostgreSQL
/// aborted it for a reason that a retry resolves (deadlock, serialization failure).
macro_rules! retrying {
    ($attempt:expr) => {{
        let mut tries = 1_u32;
        loop {
            match $attempt.await {
                Err(Failure::Sql(e)) if tries < MAX_ATTEMPTS && is_transient(&e) => {
                    tracing::debug!(backend = BACKEND, tries, error = %e, "transaction aborted by the database; retrying");
                    tokio::time::sleep(backoff(tries)).await;
                    tries += 1;
                }
                other => break other,
            }
        }
    }};
}

/// A store in a PostgreSQL database, shared by as many processes as need it.
///
/// Every write is one transaction. Writers lock the prompt's row (`SELECT … FOR UPDATE`) before
/// they check anything, so compare-and-set saves and label moves of one prompt are serialised
/// across connections and processes, and the loser of a race gets `VersionConflict`. Two
/// concurrent creates of one id cannot both insert: the second waits for the first and gets
/// `AlreadyExists`. A transaction that PostgreSQL aborts as a deadlock victim (possible between
/// batches of [`save_all`](StorageBackend::save_all)) is retried a few times, since nothing of it
/// was written.
///
/// The tables (`pm_…`) are created and migrated when the store connects, in the schema given by
/// `schema=NAME` in the URL (created if missing; the connections' `search_path`), or in the
/// connection's default schema. Ids are compared in the "C" collation, so listings are in the
/// same order as every other store's, whatever the database's locale.
///
/// The connection has no TLS: use it on a trusted network, or through a local proxy. Clones
/// share their connections.
///
/// Other instances' writes are reported to caches over this store ([`StorageBackend::watch`])
/// through PostgreSQL's `LISTEN`/`NOTIFY`: triggers notify on every committed change.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    location: Arc<str>,
    /// The schema the tables are in: change notifications of other schemas are ignored.
    schema: Arc<str>,
    /// The change-feed tasks, stopped when the last clone of the store is dropped.
    feed: Arc<Feed>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The location has its password masked.
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database a `postgres://` or `postgresql://` URL names, and creates or
    /// migrates the tables. A `schema=NAME` query parameter puts them in that schema (created
    /// when missing) instead of the connection's default one; other parameters are sqlx's
    /// (`sslmode`, `application_name`, …).
    ///
    /// Errors name the URL with its password masked, and say why.
    pub async fn connect(url: &str) -> Result<Self> {
        let (url, schema) = split_schema(url)?;
        Self::open(&url, schema.as_deref()).await
    }

    /// Connects as [`connect`](Self::connect) does, with the tables in `schema`. A URL that
    /// names another schema is refused.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<Self> {
        let (url, in_url) = split_schema(url)?;
        if let Some(in_url) = in_url
            && in_url != schema
        {
            return Err(Error::Config(format!(
                "`{}` names schema `{in_url}`, but schema `{schema}` was asked for",
                crate::redact_url(&url)
            )));
        }
        check_schema(schema)?;
        Self::open(&url, Some(schema)).await
    }

    async fn open(url: &str, schema: Option<&str>) -> Result<Self> {
        let shown = crate::redact_url(url);
        let location = match schema {
            Some(schema) => format!("PostgreSQL database `{shown}` (schema `{schema}`)"),
            None => format!("PostgreSQL database `{shown}`"),
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Config(format!(
                "`{shown}` is not a PostgreSQL URL; use postgres://USER@HOST:PORT/DATABASE"
            )));
        }
        let mut options =
            PgConnectOptions::from_str(url).map_err(|e| sql_error(BACKEND, format_args!("cannot use `{shown}`"), e))?;
        if options.get_application_name().is_none() {
            options = options.application_name("prompt-manager");
        }
        if let Some(schema) = schema {
            // Set at connection start-up, so every pooled connection resolves `pm_…` there.
            options = options.options([("search_path", quote_identifier(schema))]);
        }
        // One connection of its own first: a pool retries until its timeout and then reports
        // only that it timed out, where this says why (refused, authentication, no database).
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(|e| sql_error(BACKEND, format_args!("cannot connect to {location}"), e))?;
        migrate(&mut conn, schema, &location).await?;
        let in_schema: String = match schema {
            Some(schema) => schema.to_owned(),
            None => sqlx::query_scalar("SELECT current_schema()")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| sql_error(BACKEND, format_args!("reading the current schema of {location}"), e))?,
        };
        // Best effort: the connection was only for migrating.
        let _ = conn.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            location: location.into(),
            schema: in_schema.into(),
            feed: Arc::default(),
        })
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Splits a `schema=NAME` parameter off a URL's query, checking the name.
fn split_schema(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("schema", value)) => {
                if schema.replace(value.to_owned()).is_some() {
                    return Err(Error::Config(format!(
                        "`{}` names a schema twice",
                        crate::redact_url(url)
                    )));
                }
            }
            _ => kept.push(pair),
        }
    }
    if let Some(schema) = &schema {
        check_schema(schema)?;
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, schema))
}

/// A schema name must be a plain identifier: it is quoted into DDL and the search path.
fn check_schema(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && schema.len() <= 63;
    if !plain {
        return Err(Error::Config(format!(
            "invalid PostgreSQL schema name `{}`: use 1 to 63 ASCII letters, digits and underscores, \
             starting with a letter or an underscore",
            schema.escape_debug()
        )));
    }
    if schema.to_ascii_lowercase().starts_with("pg_") {
        return Err(Error::Config(format!(
            "invalid PostgreSQL schema name `{schema}`: names starting with `pg_` are reserved by PostgreSQL"
        )));
    }
    Ok(())
}

/// A checked identifier, quoted so that its case is kept.
fn quote_identifier(name: &str) -> String {
    format!("\"{name}\"")
}

/// Creates the schema and tables, or brings them up to date, under an advisory lock held until
/// the transaction ends: processes that connect at once migrate one after the other, and the
/// later ones find nothing left to do.
async fn migrate(conn: &mut PgConnection, schema: Option<&str>, location: &str) -> Result<()> {
    let run = async {
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        if let Some(schema) = schema {
            // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when
            // the schema exists.
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&mut *tx)
                .await?;
            if !exists {
                // `schema` passed check_schema: a plain identifier, quoted.
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {}", quote_identifier(schema))))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS pm_schema_migrations (\
             version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
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
                .bind(Utc::now())
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

/// Listens on the change channel and reports each change of this store's schema to `listener`,
/// until the pool is closed or the task is aborted. A new or re-established connection reports
/// `lost` first: changes made before `LISTEN` took effect may have been missed.
async fn change_feed(pool: PgPool, schema: Arc<str>, location: Arc<str>, listener: Arc<dyn ChangeListener>) {
    let mut failures: u32 = 0;
    loop {
        let listening = async {
            let mut feed = PgListener::connect_with(&pool).await?;
            feed.listen(CHANGES_CHANNEL).await?;
            Ok::<_, sqlx::Error>(feed)
        };
        let mut feed = match listening.await {
            Ok(feed) => feed,
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                failures += 1;
                tracing::warn!(backend = BACKEND, error = %e, "cannot listen for changes in {location}; retrying");
                listener.lost();
                tokio::time::sleep(Duration::from_millis(100 << failures.min(6)).min(FEED_MAX_BACKOFF)).await;
                continue;
            }
        };
        failures = 0;
        listener.lost();
        loop {
            match feed.try_recv().await {
                Ok(Some(note)) => match note.payload().split_once(' ') {
                    Some((in_schema, id)) if in_schema == &*schema => match PromptId::new(id) {
                        Ok(id) => listener.changed(&id),
                        // Not an id this store could have written: everything may be stale.
                        Err(_) => listener.lost(),
                    },
                    _ => {}
                },
                // The connection dropped and was re-established: notifications in between are lost.
                Ok(None) => listener.lost(),
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(backend = BACKEND, error = %e, "the change feed of {location} failed; listening again");
                    listener.lost();
                    break;
                }
            }
        }
    }
}

/// Whether PostgreSQL aborted the transaction for a reason that trying again resolves:
/// `serialization_failure` or `deadlock_detected`.
fn is_transient(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// A growing pause with some jitter, so that two transactions that deadlocked do not meet again.
fn backoff(tries: u32) -> Duration {
    let jitter = u64::from(Utc::now().timestamp_subsec_micros() % 5_000);
    Duration::from_millis(5 * u64::from(tries)) + Duration::from_micros(jitter)
}

/// The error for the caller, saying when the database kept aborting the transaction.
fn failed(f: Failure, doing: impl fmt::Display) -> Error {
    match f {
        Failure::Sql(e) if is_transient(&e) => Error::backend_with(
            BACKEND,
            format!(
                "{doing}: the database aborted the transaction {MAX_ATTEMPTS} times ({e}); nothing was written, \
                 try again"
            ),
            e,
        ),
        other => other.into_error(BACKEND, doing),
    }
}

/// PostgreSQL text cannot hold NUL characters: refuse them with a clear error, before writing.
fn check_no_nul(id: &PromptId, field: &str, value: Option<&str>) -> Result<(), Error> {
    if value.is_some_and(|v| v.contains('\0')) {
        return Err(Error::InvalidPrompt {
            id: id.to_string(),
            reason: format!("the {field} contains a NUL character, which PostgreSQL cannot store"),
        });
    }
    Ok(())
}

fn check_storable(request: &SaveRequest) -> Result<(), Error> {
    let version = &request.version;
    let id = &version.prompt.id;
    check_no_nul(id, "changelog", Some(&version.changelog))?;
    check_no_nul(id, "author", version.author.as_deref())?;
    check_no_nul(id, "actor", request.actor.as_deref())?;
    check_no_nul(id, "description", version.prompt.metadata.description.as_deref())?;
    for tag in &version.prompt.metadata.tags {
        check_no_nul(id, "tag", Some(tag))?;
    }
    check_no_nul(id, "content hash", Some(&version.content_hash.0))
}

/// How the shared reads ([`Reads`]) decode this backend's rows.
struct PostgresDialect;

impl Dialect for PostgresDialect {
    type Db = Postgres;
    const BACKEND: &'static str = BACKEND;
    const DECODE: Decoder = DECODE;
    const SUMMARY_BY_ID: &'static str = concat!(summary_select!(), " WHERE p.id = $1");
    // The row lock makes appenders on every connection take turns (see 0003_governance.sql).
    const AUDIT_HEAD: &'static str = "SELECT seq, hash FROM pm_audit_head WHERE id = 1 FOR UPDATE";
    const LOCK_PROMPT: &'static str =
        "SELECT status, latest_version, version_count, updated_at FROM pm_prompts WHERE id = $1 FOR UPDATE";
    type Time = DateTime<Utc>;

    fn time(at: DateTime<Utc>) -> DateTime<Utc> {
        at
    }

    fn updated_at(_id: &str, row: &PgRow) -> Result<DateTime<Utc>, Failure> {
        Ok(row.try_get("updated_at")?)
    }

    fn check_text(id: &PromptId, field: &str, value: Option<&str>) -> Result<(), Error> {
        check_no_nul(id, field, value)
    }

    fn version_row(_id: &str, row: &<Postgres as sqlx::Database>::Row) -> Result<Option<VersionRow>, Failure> {
        version_row(row)
    }

    fn event_row(_id: &str, row: &<Postgres as sqlx::Database>::Row) -> Result<EventRow, Failure> {
        event_row(row)
    }

    fn summary_row(row: &<Postgres as sqlx::Database>::Row) -> Result<SummaryRow, Failure> {
        summary_row(row)
    }
}

fn version_row(row: &PgRow) -> Result<Option<VersionRow>, Failure> {
    let Some(version) = row.try_get::<Option<String>, _>("version")? else {
        return Ok(None);
    };
    Ok(Some(VersionRow {
        version,
        prompt: row.try_get("prompt")?,
        changelog: row.try_get("changelog")?,
        author: row.try_get("author")?,
        created_at: row.try_get("created_at")?,
        parent: row.try_get("parent")?,
        content_hash: row.try_get("content_hash")?,
    }))
}

fn summary_row(row: &PgRow) -> Result<SummaryRow, Failure> {
    Ok(SummaryRow {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        format: row.try_get("format")?,
        description: row.try_get("description")?,
        latest_version: row.try_get("latest_version")?,
        version_count: row.try_get("version_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        tags_json: row.try_get("tags")?,
        labels_json: row.try_get("labels")?,
        protected_json: row.try_get("protected")?,
    })
}

fn event_row(row: &PgRow) -> Result<EventRow, Failure> {
    Ok(EventRow {
        label: row.try_get("label")?,
        from_version: row.try_get("from_version")?,
        to_version: row.try_get("to_version")?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        at: row.try_get("at")?,
    })
}

/// Tags as the JSON array kept in `pm_prompts.tags`.
fn tags_json(tags: &std::collections::BTreeSet<String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// Locks the prompt's row until the transaction ends and returns its latest version and
/// `updated_at`; `None` when the prompt does not exist.
async fn lock_prompt(conn: &mut PgConnection, id: &PromptId) -> Result<Option<(Version, DateTime<Utc>)>, Failure> {
    let row = sqlx::query("SELECT latest_version, updated_at FROM pm_prompts WHERE id = $1 FOR UPDATE")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let latest = DECODE.version(id, "latest version", &row.try_get::<String, _>("latest_version")?)?;
    Ok(Some((latest, row.try_get("updated_at")?)))
}

/// The state a save builds on: a prompt this transaction created, or an existing one (locked
/// and checked), with its `updated_at`.
enum Base {
    Created,
    Existing { latest: Version, updated_at: DateTime<Utc> },
}

type Gov = Governance<PostgresDialect>;
type Write = Writes<PostgresDialect>;

/// Locks the prompt or, when it does not exist, creates its row. A concurrent create of the
/// same id makes the insert wait for the other transaction; when that one commits, the insert
/// does nothing and the prompt is read (and locked) as an existing one, so the checks see it.
async fn lock_or_create(conn: &mut PgConnection, request: &SaveRequest, now: DateTime<Utc>) -> Result<Base, Failure> {
    let version = &request.version;
    let id = &version.prompt.id;
    // More than one round only if the prompt is deleted and created again meanwhile.
    for _ in 0..3 {
        if let Some((latest, updated_at)) = lock_prompt(conn, id).await? {
            rules::check_save(request, Some(&latest))?;
            return Ok(Base::Existing { latest, updated_at });
        }
        rules::check_save(request, None)?;
        let inserted = sqlx::query(
            "INSERT INTO pm_prompts \
             (id, status, format, description, latest_version, version_count, tags, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(request.status.as_str())
        .bind(version.prompt.format.as_str())
        .bind(version.prompt.metadata.description.as_deref())
        .bind(version.version.to_string())
        .bind(tags_json(&version.prompt.metadata.tags))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Base::Created);
        }
    }
    Err(Error::backend(
        BACKEND,
        format!("saving `{id}`: the prompt was created and deleted by others while this save waited; try again"),
    )
    .into())
}

/// One save inside the caller's transaction: checks, then writes the prompt row, the version,
/// the labels and their events, and the tags. Returns the label events and the audit records
/// to append (last, after every prompt lock: see `Gov::append`).
async fn save_in(
    conn: &mut PgConnection,
    request: &SaveRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<LabelEvent>, Vec<AuditRecord>), Failure> {
    check_storable(request)?;
    let version = &request.version;
    let id = &version.prompt.id;
    let number = &version.version;
    let prompt = prompt_json(version)?;
    let metadata = &version.prompt.metadata;

    let mut labels = BTreeMap::new();
    let mut previous = None;
    match lock_or_create(conn, request, now).await? {
        Base::Created => {}
        Base::Existing { latest, updated_at } => {
            previous = Some(latest);
            if !request.labels.is_empty() {
                rules::check_save_protection(request, &Gov::protected_in(conn, id).await?)?;
                labels = Reads::<PostgresDialect>::labels_in(conn, id).await?;
            }
            sqlx::query(
                "UPDATE pm_prompts SET format = $2, description = $3, latest_version = $4, \
                 version_count = version_count + 1, updated_at = $5, tags = $6 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(version.prompt.format.as_str())
            .bind(metadata.description.as_deref())
            .bind(number.to_string())
            .bind(advance(updated_at, now))
            .bind(tags_json(&metadata.tags))
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM pm_tags WHERE prompt_id = $1")
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    let events = rules::move_labels(&mut labels, request, now);
    let records = rules::save_records(request, previous.as_ref(), &events);
    sqlx::query(
        "INSERT INTO pm_versions (prompt_id, version, prompt, changelog, author, created_at, parent, content_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(number.to_string())
    .bind(prompt)
    .bind(version.changelog.as_str())
    .bind(version.author.as_deref())
    .bind(version.created_at)
    .bind(version.parent.as_ref().map(Version::to_string))
    .bind(version.content_hash.0.as_str())
    .execute(&mut *conn)
    .await?;
    for event in &events {
        Write::record_event(conn, id, event).await?;
    }
    if !metadata.tags.is_empty() {
        let tags: Vec<&str> = metadata.tags.iter().map(String::as_str).collect();
        sqlx::query("INSERT INTO pm_tags (tag, prompt_id) SELECT unnest($1::text[]), $2")
            .bind(tags)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok((events, records))
}

#[async_trait]
impl StorageBackend for PostgresStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let (events, records) = save_in(&mut tx, &request, now).await?;
            Gov::append(&mut tx, records, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(events)
        });
        result.map_err(|f| failed(f, saving(&request)))
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        // The existing prompts of the batch are locked first, in id order, so that two batches
        // touching the same prompts wait for each other instead of deadlocking.
        let mut ids: Vec<&str> = requests.iter().map(|r| r.version.prompt.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut current = 0;
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT id FROM pm_prompts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?;
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
        });
        result.map_err(|f| {
            let doing = requests.get(current).map_or_else(String::new, saving);
            failed(
                f,
                format_args!(
                    "{doing} (request {} of {} in a batch; nothing was saved)",
                    current + 1,
                    requests.len()
                ),
            )
        })
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        Reads::<PostgresDialect>::new(&self.pool)
            .load(id, version)
            .await
            .map_err(|e| in_database(e, &self.location))
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            Write::delete_in(&mut tx, id, &request, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        });
        result.map_err(|f| failed(f, format_args!("deleting `{id}`")))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        query.validate()?;
        let limit = query.limit.unwrap_or(usize::MAX);
        let nul_in_filter =
            query.id_prefix.as_deref().is_some_and(|p| p.contains('\0')) || query.tags.iter().any(|t| t.contains('\0'));
        if limit == 0 || nul_in_filter {
            // As MemoryStore for a zero limit: no item fits, and no cursor can say "from the
            // start". No id or tag holds a NUL (which PostgreSQL text cannot even compare).
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let mut sql = QueryBuilder::<Postgres>::new(concat!(summary_select!(), " WHERE TRUE"));
        if let Some(prefix) = query.id_prefix.as_deref().filter(|p| !p.is_empty()) {
            sql.push(" AND p.id >= ").push_bind(prefix.to_owned());
            if let Some(end) = prefix_successor(prefix) {
                sql.push(" AND p.id < ").push_bind(end);
            }
        }
        if let Some(cursor) = &query.cursor {
            // Ids hold no NUL, so "after `ab\0c`" is "after `ab`".
            let cursor = cursor.split('\0').next().unwrap_or_default();
            sql.push(" AND p.id > ").push_bind(cursor.to_owned());
        }
        if let Some(status) = query.status {
            sql.push(" AND p.status = ").push_bind(status.as_str());
        }
        let tags = query.distinct_tags();
        if !tags.is_empty() {
            // One subquery for every tag (an array of them), not one per tag: the statement's
            // size stays the same however many tags are asked for.
            let count = tags.len() as i64;
            let tags: Vec<String> = tags.into_iter().map(str::to_owned).collect();
            sql.push(" AND p.id IN (SELECT t.prompt_id FROM pm_tags t WHERE t.tag = ANY(")
                .push_bind(tags)
                .push("::text[]) GROUP BY t.prompt_id HAVING count(DISTINCT t.tag) = ")
                .push_bind(count)
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
            .map_err(|e| sql_error(BACKEND, format_args!("listing prompts in {}", self.location), e))?;
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
        Reads::<PostgresDialect>::new(&self.pool).exists(id).await
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        Reads::<PostgresDialect>::new(&self.pool).summary(id).await
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            Write::set_status_in(&mut tx, id, &change, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        });
        result.map_err(|f| failed(f, format_args!("setting the status of `{id}` to {}", change.status)))
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        Gov::read(&self.pool, query).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        rules::check_external(&record)?;
        for text in [record.actor.as_deref()] {
            if text.is_some_and(|t| t.contains('\0')) {
                return Err(Error::InvalidQuery {
                    reason: "actor: contains a NUL character, which PostgreSQL cannot store".into(),
                });
            }
        }
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let entries = Gov::append(&mut tx, vec![record.clone()], now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(entries)
        });
        let entries = result.map_err(|f| failed(f, "appending to the audit log"))?;
        entries
            .into_iter()
            .next()
            .ok_or_else(|| Error::backend(BACKEND, "appending an audit entry produced none"))
    }

    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        let (pool, schema, location) = (self.pool.clone(), Arc::clone(&self.schema), Arc::clone(&self.location));
        self.feed
            .watch(listener, |all| change_feed(pool, schema, location, all))
    }
}

#[async_trait]
impl VersionStore for PostgresStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        let run = async {
            let rows = sqlx::query(
                "SELECT v.version, v.changelog, v.author, v.created_at, v.parent, v.content_hash \
                 FROM pm_prompts p LEFT JOIN pm_versions v ON v.prompt_id = p.id WHERE p.id = $1",
            )
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Err(Error::prompt_not_found(id).into());
            }
            let mut infos = Vec::with_capacity(rows.len());
            for row in &rows {
                let Some(version) = row.try_get::<Option<String>, _>("version")? else {
                    continue;
                };
                infos.push(InfoRow {
                    version,
                    changelog: row.try_get("changelog")?,
                    author: row.try_get("author")?,
                    created_at: row.try_get("created_at")?,
                    parent: row.try_get("parent")?,
                    content_hash: row.try_get("content_hash")?,
                });
            }
            Ok::<_, Failure>(DECODE.history(id, infos)?)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("listing the versions of `{id}`")))
    }

    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        Reads::<PostgresDialect>::new(&self.pool).labels(id).await
    }

    async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version> {
        Reads::<PostgresDialect>::new(&self.pool).get_label(id, label).await
    }

    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        Reads::<PostgresDialect>::new(&self.pool)
            .resolve(reference)
            .await
            .map_err(|e| in_database(e, &self.location))
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let event = Write::set_label_in(&mut tx, id, &change, now).await?;
            if event.is_some() {
                tx.commit().await?;
            }
            Ok::<_, Failure>(event)
        });
        result.map_err(|f| failed(f, format_args!("moving label {} of `{id}`", change.label)))
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let changed = Write::set_protection_in(&mut tx, id, &change, now).await?;
            if changed {
                tx.commit().await?;
            }
            Ok::<_, Failure>(changed)
        });
        result.map_err(|f| failed(f, format_args!("protecting label {} of `{id}`", change.label)))
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        Reads::<PostgresDialect>::new(&self.pool).label_history(id, label).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::Path;

    use super::*;

    #[test]
    fn migrations_match_the_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
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
        }
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            crate::redact_url("postgres://alice:s3cr%40t@db.example:5432/prompts?sslmode=require"),
            "postgres://alice:***@db.example:5432/prompts?sslmode=require"
        );
        assert_eq!(
            crate::redact_url("postgresql://alice@db/prompts?password=hunter2&application_name=x"),
            "postgresql://alice@db/prompts?password=***&application_name=x"
        );
        assert_eq!(crate::redact_url("postgres://db/prompts"), "postgres://db/prompts");
        assert_eq!(
            crate::redact_url("postgres://bob:p@ss:w/rd@host/db"),
            "postgres://bob:***@host/db"
        );
    }

    #[test]
    fn the_schema_parameter_is_split_off_and_checked() {
        assert_eq!(
            split_schema("postgres://u@h/db?schema=prompts&sslmode=disable").unwrap(),
            (
                "postgres://u@h/db?sslmode=disable".to_owned(),
                Some("prompts".to_owned())
            )
        );
        assert_eq!(
            split_schema("postgres://u@h/db?schema=Pm_1").unwrap(),
            ("postgres://u@h/db".to_owned(), Some("Pm_1".to_owned()))
        );
        assert_eq!(
            split_schema("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".to_owned(), None)
        );
        for bad in [
            "x;drop",
            "a b",
            "\"quoted\"",
            "1abc",
            "",
            "pg_catalog",
            "é",
            &"a".repeat(64),
        ] {
            let err = split_schema(&format!("postgres://u@h/db?schema={bad}")).unwrap_err();
            assert!(
                err.to_string().contains("invalid PostgreSQL schema name"),
                "{bad}: {err}"
            );
        }
        let err = split_schema("postgres://u:pw@h/db?schema=a&schema=b").unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
