//! [`PostgresStore`]: prompts in a PostgreSQL database (`postgres://…`), optionally in a schema
//! of their own, through sqlx. The schema is in `migrations/postgres/`; the checks of each write
//! are shared with the other backends (`crate::rules`).
//!
//! This file opens the store (connection, migrations) and runs its change feed; the trait
//! methods and saves are in `store`.

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
use super::reads::{Dialect, Reads, summary_page};
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
        sql: include_str!("../../../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "change_feed",
        sql: include_str!("../../../migrations/postgres/0002_change_feed.sql"),
    },
    Migration {
        version: 3,
        name: "governance",
        sql: include_str!("../../../migrations/postgres/0003_governance.sql"),
    },
    Migration {
        version: 4,
        name: "splits",
        sql: include_str!("../../../migrations/postgres/0004_splits.sql"),
    },
    Migration {
        version: 5,
        name: "usage",
        sql: include_str!("../../../migrations/postgres/0005_usage.sql"),
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
         (SELECT json_agg(x.label) FROM pm_protected_labels x WHERE x.prompt_id = p.id)::text AS protected, \
         (SELECT json_object_agg(l.label, l.split::json) FROM pm_labels l \
          WHERE l.prompt_id = p.id AND l.split IS NOT NULL)::text AS splits \
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
            super::log_migration(BACKEND, location, migration, applied.is_some());
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
///
/// A dropped connection reports nothing until it is listening again: while PostgreSQL is down
/// no one can write to it, and the manager keeps rendering what it holds (forgetting it at the
/// drop would turn a database outage into a render outage). The cost is a partition between this
/// instance and a database others still write to: its renders are stale until it reconnects.
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
                // The connection dropped: listen again on a new one, which reports `lost`.
                Ok(None) => break,
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(backend = BACKEND, error = %e, "the change feed of {location} failed; listening again");
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

    fn rows_affected(result: &<Postgres as sqlx::Database>::QueryResult) -> u64 {
        result.rows_affected()
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
        splits_json: row.try_get("splits")?,
    })
}

fn event_row(row: &PgRow) -> Result<EventRow, Failure> {
    Ok(EventRow {
        label: row.try_get("label")?,
        from_version: row.try_get("from_version")?,
        to_version: row.try_get("to_version")?,
        from_split: row.try_get("from_split")?,
        to_split: row.try_get("to_split")?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        at: row.try_get("at")?,
    })
}

mod store;

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
