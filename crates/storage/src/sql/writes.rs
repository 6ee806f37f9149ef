//! The writes both SQL stores run the same way, written once over the dialect: recording a
//! label event, moving a label, protecting one, changing the status and deleting — each inside
//! the caller's transaction, after locking the prompt's row where the database needs it
//! ([`Dialect::LOCK_PROMPT`]), and appending its audit entries last. Saves stay in each backend
//! (PostgreSQL creates the row first to serialise concurrent creates; SQLite needs not).

use std::collections::BTreeSet;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AssignmentChange, DeleteRequest, Error, LabelEvent, LabelTarget, PromptId, ProtectionChange, SaveRequest, Split,
    StatusChange,
};

/// A split as the `split` columns keep it: JSON text, `NULL` for none.
fn split_json(split: Option<&Split>) -> Option<String> {
    // A split is a list of versions and numbers: serialising it cannot fail.
    split.and_then(|s| serde_json::to_string(s).ok())
}
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::audit::Governance;
use super::reads::{Dialect, Reads};
use super::{Failure, advance, kind_name};
use crate::rules;

/// What a save is, for error messages: the prompt and the version.
pub(crate) fn saving(request: &SaveRequest) -> String {
    format!(
        "saving version {} of `{}`",
        request.version.version, request.version.prompt.id
    )
}

/// The shared writes, for a backend's dialect.
pub(crate) struct Writes<D: Dialect>(PhantomData<D>);

/// The prompt's row as a write finds it (locked where the dialect locks).
struct Current {
    status: String,
    latest: Version,
    version_count: u64,
    updated_at: DateTime<Utc>,
}

impl<D: Dialect> Writes<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'c> &'c Pool<D::Db>: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> String: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> Option<String>: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> Option<&'t str>: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> i64: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> bool: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    &'static str: ColumnIndex<<D::Db as Database>::Row>,
{
    /// Reads (and locks, where the dialect does) the prompt's row.
    async fn current(conn: &mut <D::Db as Database>::Connection, id: &PromptId) -> Result<Current, Failure> {
        let row = sqlx::query(D::LOCK_PROMPT)
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else {
            return Err(Error::prompt_not_found(id).into());
        };
        Ok(Current {
            status: row.try_get("status")?,
            latest: D::DECODE.version(id, "latest version", &row.try_get::<String, _>("latest_version")?)?,
            version_count: D::DECODE.count(id, row.try_get("version_count")?)?,
            updated_at: D::updated_at(id, &row)?,
        })
    }

    async fn touch(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
        updated_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        sqlx::query("UPDATE pm_prompts SET updated_at = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(D::time(advance(updated_at, now)))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Points the label where `event` says (or removes it) and records the event.
    pub(crate) async fn record_event(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
        event: &LabelEvent,
    ) -> Result<(), Failure> {
        match &event.to {
            Some(to) => {
                sqlx::query(
                    "INSERT INTO pm_labels (prompt_id, label, version, split) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (prompt_id, label) DO UPDATE SET version = excluded.version, split = excluded.split",
                )
                .bind(id.as_str())
                .bind(event.label.as_str())
                .bind(to.to_string())
                .bind(split_json(event.to_split.as_ref()))
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM pm_labels WHERE prompt_id = $1 AND label = $2")
                    .bind(id.as_str())
                    .bind(event.label.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
        }
        sqlx::query(
            "INSERT INTO pm_label_events \
             (prompt_id, label, from_version, to_version, kind, actor, at, from_split, to_split) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.as_str())
        .bind(event.label.as_str())
        .bind(event.from.as_ref().map(Version::to_string))
        .bind(event.to.as_ref().map(Version::to_string))
        .bind(kind_name(event.kind))
        .bind(event.actor.clone())
        .bind(D::time(event.at))
        .bind(split_json(event.from_split.as_ref()))
        .bind(split_json(event.to_split.as_ref()))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// `VersionStore::assign_label` (and `set_label`) inside the caller's transaction.
    pub(crate) async fn set_label_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
        change: &AssignmentChange,
        now: DateTime<Utc>,
    ) -> Result<Option<LabelEvent>, Failure> {
        D::check_text(id, "actor", change.actor.as_deref())?;
        let current = Self::current(conn, id).await?;
        let row = sqlx::query("SELECT version, split FROM pm_labels WHERE prompt_id = $1 AND label = $2")
            .bind(id.as_str())
            .bind(change.label.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        let from = match row {
            None => None,
            Some(row) => {
                let version = D::DECODE.version(id, "label target", &row.try_get::<String, _>("version")?)?;
                let split = row.try_get::<Option<String>, _>("split")?;
                let split = D::DECODE.optional_split(id, "label split", split.as_deref())?;
                Some(LabelTarget::from_parts(version, split))
            }
        };
        let wanted: Vec<Version> = match &change.to {
            None => Vec::new(),
            Some(LabelTarget::Version(v)) => vec![v.clone()],
            Some(LabelTarget::Split(split)) => split.variants().iter().map(|v| v.version.clone()).collect(),
        };
        let mut missing = BTreeSet::new();
        for version in wanted {
            let found = sqlx::query("SELECT 1 FROM pm_versions WHERE prompt_id = $1 AND version = $2")
                .bind(id.as_str())
                .bind(version.to_string())
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            if !found {
                missing.insert(version);
            }
        }
        let protected = Governance::<D>::protected_in(conn, id).await?;
        let Some(event) = rules::check_assignment(id, change.clone(), from, &protected, |v| !missing.contains(v), now)?
        else {
            return Ok(None);
        };
        Self::record_event(conn, id, &event).await?;
        Self::touch(conn, id, current.updated_at, now).await?;
        Governance::<D>::append(conn, vec![rules::label_record(id, &event, change.authority)], now).await?;
        Ok(Some(event))
    }

    /// `VersionStore::set_protection` inside the caller's transaction.
    pub(crate) async fn set_protection_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
        change: &ProtectionChange,
        now: DateTime<Utc>,
    ) -> Result<bool, Failure> {
        D::check_text(id, "actor", change.actor.as_deref())?;
        let current = Self::current(conn, id).await?;
        let mut protected = Governance::<D>::protected_in(conn, id).await?;
        let Some(record) = rules::check_protection_change(id, &mut protected, change)? else {
            return Ok(false);
        };
        Governance::<D>::set_protected_in(conn, id, &change.label, change.protected).await?;
        Self::touch(conn, id, current.updated_at, now).await?;
        Governance::<D>::append(conn, vec![record], now).await?;
        Ok(true)
    }

    /// `StorageBackend::set_status` inside the caller's transaction.
    pub(crate) async fn set_status_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
        change: &StatusChange,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        D::check_text(id, "actor", change.actor.as_deref())?;
        let current = Self::current(conn, id).await?;
        let status = D::DECODE.status(id, &current.status)?;
        rules::check_status(id, status, change)?;
        sqlx::query("UPDATE pm_prompts SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id.as_str())
            .bind(change.status.as_str())
            .bind(D::time(advance(current.updated_at, now)))
            .execute(&mut *conn)
            .await?;
        Governance::<D>::append(conn, vec![rules::status_record(id, status, change)], now).await?;
        Ok(())
    }

    /// `StorageBackend::delete` inside the caller's transaction: the cascades remove the rest.
    pub(crate) async fn delete_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
        request: &DeleteRequest,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        D::check_text(id, "actor", request.actor.as_deref())?;
        let current = Self::current(conn, id).await?;
        let labels = Reads::<D>::labels_in(conn, id).await?;
        sqlx::query("DELETE FROM pm_prompts WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
        let record = rules::delete_record(
            id,
            &current.latest,
            current.version_count,
            &labels,
            request.actor.clone(),
        );
        Governance::<D>::append(conn, vec![record], now).await?;
        Ok(())
    }
}
