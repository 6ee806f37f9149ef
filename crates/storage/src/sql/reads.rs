//! The reads both SQL stores run the same way: the same SQL and the same handling of what comes
//! back. A backend names its database, its row conversions (timestamps differ: RFC 3339 text in
//! SQLite, `timestamptz` in PostgreSQL) and its summary query; [`Reads`] does the rest.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    Error, LabelEvent, LabelName, NotFound, Page, PromptId, PromptRef, PromptSummary, PromptVersion, Resolution,
    Result, Selector, Split, newest_matching,
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::{Decoder, EventRow, Failure, SummaryRow, VersionRow, sql_error};

/// What a SQL backend tells [`Reads`] about itself.
pub(crate) trait Dialect {
    /// The sqlx database.
    type Db: Database;
    /// The backend's name in errors.
    const BACKEND: &'static str;
    /// Its decoder of stored text into models.
    const DECODE: Decoder;
    /// The summary of one prompt: its summary query `… WHERE p.id = $1`.
    const SUMMARY_BY_ID: &'static str;
    /// Reads a prompt's row for a write (`status`, `latest_version`, `version_count`,
    /// `updated_at` of `pm_prompts`, `WHERE id = $1`), locking it until the transaction ends
    /// where the database needs that to serialise writers of one prompt.
    const LOCK_PROMPT: &'static str;
    /// Reads the audit log's head (`seq`, `hash` of `pm_audit_head`), locking it until the
    /// transaction ends where the database needs that to serialise appenders.
    const AUDIT_HEAD: &'static str;

    /// A timestamp as the dialect binds it.
    type Time: for<'q> sqlx::Encode<'q, Self::Db> + sqlx::Type<Self::Db> + Send + 'static;

    /// `at` as the dialect binds it.
    fn time(at: chrono::DateTime<chrono::Utc>) -> Self::Time;

    /// The `updated_at` column of a prompt row.
    fn updated_at(id: &str, row: &<Self::Db as Database>::Row) -> Result<chrono::DateTime<chrono::Utc>, Failure>;

    /// Refuses text the database cannot store (PostgreSQL: a NUL character); the default
    /// accepts everything.
    fn check_text(id: &PromptId, field: &str, value: Option<&str>) -> Result<(), Error> {
        let _ = (id, field, value);
        Ok(())
    }

    /// How many rows a statement changed.
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;

    /// A version row (`None` for the empty side of a join).
    fn version_row(id: &str, row: &<Self::Db as Database>::Row) -> Result<Option<VersionRow>, Failure>;
    /// A label event row.
    fn event_row(id: &str, row: &<Self::Db as Database>::Row) -> Result<EventRow, Failure>;
    /// A summary row.
    fn summary_row(row: &<Self::Db as Database>::Row) -> Result<SummaryRow, Failure>;
}

/// The columns of a version, read through a join from `pm_prompts p` to `pm_versions v`.
macro_rules! version_select {
    () => {
        "SELECT v.version, v.prompt, v.changelog, v.author, v.created_at, v.parent, v.content_hash \
         FROM pm_prompts p LEFT JOIN pm_versions v"
    };
}

/// The columns of a version and the prompt's status, through the same join.
macro_rules! resolve_select {
    () => {
        "SELECT p.status, v.version, v.prompt, v.changelog, v.author, v.created_at, v.parent, v.content_hash \
         FROM pm_prompts p LEFT JOIN pm_versions v"
    };
}

/// The shared reads, on a backend's pool.
pub(crate) struct Reads<'a, D: Dialect> {
    pool: &'a Pool<D::Db>,
    dialect: PhantomData<D>,
}

impl<'a, D: Dialect> Reads<'a, D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> String: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    &'static str: ColumnIndex<<D::Db as Database>::Row>,
{
    pub(crate) fn new(pool: &'a Pool<D::Db>) -> Self {
        Self {
            pool,
            dialect: PhantomData,
        }
    }

    /// The labels of a prompt known to exist, inside a write's transaction.
    pub(crate) async fn labels_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
    ) -> Result<BTreeMap<LabelName, Version>, Failure> {
        let rows = sqlx::query("SELECT label, version FROM pm_labels WHERE prompt_id = $1")
            .bind(id.as_str())
            .fetch_all(&mut *conn)
            .await?;
        let mut labels = BTreeMap::new();
        for row in rows {
            let label = D::DECODE.label(id, &row.try_get::<String, _>("label")?)?;
            let version = D::DECODE.version(id, "label target", &row.try_get::<String, _>("version")?)?;
            labels.insert(label, version);
        }
        Ok(labels)
    }

    /// The labels of a prompt known to exist and the splits among them, inside a write's
    /// transaction.
    pub(crate) async fn targets_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
    ) -> Result<(BTreeMap<LabelName, Version>, BTreeMap<LabelName, Split>), Failure> {
        let rows = sqlx::query("SELECT label, version, split FROM pm_labels WHERE prompt_id = $1")
            .bind(id.as_str())
            .fetch_all(&mut *conn)
            .await?;
        let mut labels = BTreeMap::new();
        let mut splits = BTreeMap::new();
        for row in rows {
            let label = D::DECODE.label(id, &row.try_get::<String, _>("label")?)?;
            let version = D::DECODE.version(id, "label target", &row.try_get::<String, _>("version")?)?;
            let split = row.try_get::<Option<String>, _>("split")?;
            if let Some(split) = D::DECODE.optional_split(id, "label split", split.as_deref())? {
                splits.insert(label.clone(), split);
            }
            labels.insert(label, version);
        }
        Ok((labels, splits))
    }

    /// `StorageBackend::load`.
    pub(crate) async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        let run = async {
            let row = match version {
                None => {
                    sqlx::query(concat!(
                        version_select!(),
                        " ON v.prompt_id = p.id AND v.version = p.latest_version WHERE p.id = $1"
                    ))
                    .bind(id.as_str())
                    .fetch_optional(self.pool)
                    .await?
                }
                Some(v) => {
                    sqlx::query(concat!(
                        version_select!(),
                        " ON v.prompt_id = p.id AND v.version = $2 WHERE p.id = $1"
                    ))
                    .bind(id.as_str())
                    .bind(v.to_string())
                    .fetch_optional(self.pool)
                    .await?
                }
            };
            let Some(row) = row else {
                return Err(Error::prompt_not_found(id).into());
            };
            let Some(row) = D::version_row(id, &row)? else {
                return Err(match version {
                    Some(v) => Error::NotFound(NotFound::Version(id.clone(), v.clone())),
                    None => D::DECODE.corrupt(id, "the latest version is missing"),
                }
                .into());
            };
            Ok::<_, Failure>(Arc::new(D::DECODE.prompt_version(id, row)?))
        };
        run.await.map_err(|f| match version {
            Some(v) => f.into_error(D::BACKEND, format_args!("loading version {v} of `{id}`")),
            None => f.into_error(D::BACKEND, format_args!("loading the latest version of `{id}`")),
        })
    }

    /// `VersionStore::resolve`, in one query (two for a requirement: the version numbers, then the
    /// version), with the same answers and errors as the trait's default.
    pub(crate) async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        let id = &reference.id;
        let run = async {
            let mut split = None;
            let (number, row) = match &reference.selector {
                Selector::Latest => {
                    let row = sqlx::query(concat!(
                        resolve_select!(),
                        " ON v.prompt_id = p.id AND v.version = p.latest_version WHERE p.id = $1"
                    ))
                    .bind(id.as_str())
                    .fetch_optional(self.pool)
                    .await?;
                    (None, row)
                }
                Selector::Exact(v) => (Some(v.clone()), self.exact(id, v).await?),
                Selector::Label(label) => {
                    let row = sqlx::query(
                        "SELECT p.status, l.version AS target, l.split, v.version, v.prompt, v.changelog, v.author, \
                         v.created_at, v.parent, v.content_hash FROM pm_prompts p \
                         LEFT JOIN pm_labels l ON l.prompt_id = p.id AND l.label = $2 \
                         LEFT JOIN pm_versions v ON v.prompt_id = p.id AND v.version = l.version WHERE p.id = $1",
                    )
                    .bind(id.as_str())
                    .bind(label.as_str())
                    .fetch_optional(self.pool)
                    .await?;
                    let target = match &row {
                        None => None,
                        Some(row) => match row.try_get::<Option<String>, _>("target")? {
                            None => return Err(Error::NotFound(NotFound::Label(id.clone(), label.clone())).into()),
                            Some(target) => {
                                let text = row.try_get::<Option<String>, _>("split")?;
                                split = D::DECODE.optional_split(id, "label split", text.as_deref())?;
                                Some(D::DECODE.version(id, "label target", &target)?)
                            }
                        },
                    };
                    (target, row)
                }
                Selector::Requirement(req) => {
                    let rows = sqlx::query(
                        "SELECT v.version FROM pm_prompts p LEFT JOIN pm_versions v ON v.prompt_id = p.id \
                         WHERE p.id = $1",
                    )
                    .bind(id.as_str())
                    .fetch_all(self.pool)
                    .await?;
                    if rows.is_empty() {
                        return Err(Error::prompt_not_found(id).into());
                    }
                    let mut versions = Vec::with_capacity(rows.len());
                    for row in &rows {
                        if let Some(text) = row.try_get::<Option<String>, _>("version")? {
                            versions.push(D::DECODE.version(id, "version", &text)?);
                        }
                    }
                    let Some(number) = newest_matching(&versions, req).cloned() else {
                        return Err(Error::NotFound(NotFound::Requirement(id.clone(), req.to_string())).into());
                    };
                    let row = self.exact(id, &number).await?;
                    (Some(number), row)
                }
            };
            let Some(row) = row else {
                return Err(Error::prompt_not_found(id).into());
            };
            let status = D::DECODE.status(id, &row.try_get::<String, _>("status")?)?;
            let Some(version) = D::version_row(id, &row)? else {
                return Err(match (number, reference.label()) {
                    (Some(number), Some(label)) => {
                        Error::NotFound(NotFound::LabelTarget(id.clone(), label.clone(), number))
                    }
                    (Some(number), None) => Error::NotFound(NotFound::Version(id.clone(), number)),
                    (None, _) => D::DECODE.corrupt(id, "the latest version is missing"),
                }
                .into());
            };
            Ok::<_, Failure>(Resolution {
                version: Arc::new(D::DECODE.prompt_version(id, version)?),
                status,
                split,
            })
        };
        run.await
            .map_err(|f| f.into_error(D::BACKEND, format_args!("resolving `{}`", reference)))
    }

    /// The row of version `number` of `id` with the prompt's status (`None`: no prompt).
    async fn exact(&self, id: &PromptId, number: &Version) -> Result<Option<<D::Db as Database>::Row>, sqlx::Error> {
        sqlx::query(concat!(
            resolve_select!(),
            " ON v.prompt_id = p.id AND v.version = $2 WHERE p.id = $1"
        ))
        .bind(id.as_str())
        .bind(number.to_string())
        .fetch_optional(self.pool)
        .await
    }

    /// `StorageBackend::exists`.
    pub(crate) async fn exists(&self, id: &PromptId) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM pm_prompts WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool)
            .await
            .map_err(|e| sql_error(D::BACKEND, format_args!("checking whether `{id}` exists"), e))?;
        Ok(row.is_some())
    }

    /// `StorageBackend::summary`.
    pub(crate) async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        let run = async {
            let row = sqlx::query(D::SUMMARY_BY_ID)
                .bind(id.as_str())
                .fetch_optional(self.pool)
                .await?;
            let Some(row) = row else {
                return Err(Error::prompt_not_found(id).into());
            };
            Ok::<_, Failure>(D::DECODE.summary(D::summary_row(&row)?)?)
        };
        run.await
            .map_err(|f| f.into_error(D::BACKEND, format_args!("reading the summary of `{id}`")))
    }

    /// `VersionStore::labels`.
    pub(crate) async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        let run = async {
            let rows = sqlx::query(
                "SELECT l.label, l.version FROM pm_prompts p LEFT JOIN pm_labels l ON l.prompt_id = p.id \
                 WHERE p.id = $1",
            )
            .bind(id.as_str())
            .fetch_all(self.pool)
            .await?;
            if rows.is_empty() {
                return Err(Error::prompt_not_found(id).into());
            }
            let mut labels = BTreeMap::new();
            for row in &rows {
                let (Some(label), Some(version)) = (
                    row.try_get::<Option<String>, _>("label")?,
                    row.try_get::<Option<String>, _>("version")?,
                ) else {
                    continue;
                };
                labels.insert(
                    D::DECODE.label(id, &label)?,
                    D::DECODE.version(id, "label target", &version)?,
                );
            }
            Ok::<_, Failure>(labels)
        };
        run.await
            .map_err(|f| f.into_error(D::BACKEND, format_args!("reading the labels of `{id}`")))
    }

    /// `VersionStore::get_label`.
    pub(crate) async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version> {
        let run = async {
            let row = sqlx::query(
                "SELECT l.version FROM pm_prompts p \
                 LEFT JOIN pm_labels l ON l.prompt_id = p.id AND l.label = $2 WHERE p.id = $1",
            )
            .bind(id.as_str())
            .bind(label.as_str())
            .fetch_optional(self.pool)
            .await?;
            let Some(row) = row else {
                return Err(Error::prompt_not_found(id).into());
            };
            match row.try_get::<Option<String>, _>("version")? {
                Some(version) => Ok(D::DECODE.version(id, "label target", &version)?),
                None => Err(Error::NotFound(NotFound::Label(id.clone(), label.clone())).into()),
            }
        };
        run.await
            .map_err(|f: Failure| f.into_error(D::BACKEND, format_args!("reading label {label} of `{id}`")))
    }

    /// `VersionStore::label_history`.
    pub(crate) async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        let run = async {
            let rows =
                match label {
                    None => sqlx::query(
                        "SELECT e.label, e.from_version, e.to_version, e.from_split, e.to_split, e.kind, e.actor, e.at \
                         FROM pm_prompts p LEFT JOIN pm_label_events e ON e.prompt_id = p.id \
                         WHERE p.id = $1 ORDER BY e.seq",
                    )
                    .bind(id.as_str())
                    .fetch_all(self.pool)
                    .await?,
                    Some(label) => sqlx::query(
                        "SELECT e.label, e.from_version, e.to_version, e.from_split, e.to_split, e.kind, e.actor, e.at \
                         FROM pm_prompts p LEFT JOIN pm_label_events e ON e.prompt_id = p.id AND e.label = $2 \
                         WHERE p.id = $1 ORDER BY e.seq",
                    )
                    .bind(id.as_str())
                    .bind(label.as_str())
                    .fetch_all(self.pool)
                    .await?,
                };
            if rows.is_empty() {
                return Err(Error::prompt_not_found(id).into());
            }
            let mut events = Vec::with_capacity(rows.len());
            for row in &rows {
                if row.try_get::<Option<String>, _>("label")?.is_none() {
                    continue; // The prompt has no (matching) event: the join's empty side.
                }
                events.push(D::DECODE.event(id, D::event_row(id, row)?)?);
            }
            Ok::<_, Failure>(events)
        };
        run.await
            .map_err(|f| f.into_error(D::BACKEND, format_args!("reading the label history of `{id}`")))
    }
}

/// A page of summaries from the rows of a listing query that fetched one row more than `limit`:
/// the extra row only says that a next page exists (its cursor is the last id kept). Both SQL
/// stores list through it.
pub(crate) fn summary_page<D: Dialect>(rows: &[<D::Db as Database>::Row], limit: usize) -> Result<Page<PromptSummary>> {
    let mut items = Vec::with_capacity(rows.len().min(limit));
    let mut next_cursor = None;
    for row in rows {
        if items.len() == limit {
            next_cursor = items.last().map(|s: &PromptSummary| s.id.to_string());
            break;
        }
        let summary = D::summary_row(row)
            .map_err(|f| f.into_error(D::BACKEND, "listing prompts"))
            .and_then(|row| D::DECODE.summary(row))?;
        items.push(summary);
    }
    Ok(Page { items, next_cursor })
}
