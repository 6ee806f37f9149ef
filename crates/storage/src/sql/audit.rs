//! What both SQL stores do the same way for governance: append audit entries inside a write's
//! transaction (after locking the chain's head, `pm_audit_head`), read the log, and read or
//! change a prompt's protected labels. The tables are in `migrations/*/0003_governance.sql`.
//!
//! Every column here is text, an integer or a boolean in both dialects (the entry's time is kept
//! as the text that was hashed), so the SQL and the decoding are written once; a dialect only
//! says how it locks the head ([`Dialect::AUDIT_HEAD`]).

use std::collections::BTreeSet;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use prompt_manager_core::{
    AuditAction, AuditEntry, AuditQuery, AuditRecord, Error, LabelName, PromptId, Result, seal_all,
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::Failure;
use super::reads::Dialect;

/// The columns of an audit entry.
const AUDIT_COLUMNS: &str =
    "SELECT seq, at, actor, action, prompt_id, label, before_state, after_state, forced, prev_hash, hash FROM pm_audit";

/// The governance statements, for a backend's dialect.
pub(crate) struct Governance<D: Dialect>(PhantomData<D>);

impl<D: Dialect> Governance<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'c> &'c Pool<D::Db>: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> String: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> Option<String>: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> i64: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> bool: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    &'static str: ColumnIndex<<D::Db as Database>::Row>,
{
    /// Appends `records` after the chain's head, inside the caller's transaction, and moves the
    /// head. Call it last in a write: the head's lock is held until the transaction ends.
    pub(crate) async fn append(
        conn: &mut <D::Db as Database>::Connection,
        records: Vec<AuditRecord>,
        now: DateTime<Utc>,
    ) -> Result<Vec<AuditEntry>, Failure> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let head = sqlx::query(D::AUDIT_HEAD).fetch_optional(&mut *conn).await?;
        let Some(head) = head else {
            return Err(Error::backend(D::BACKEND, "the audit log's head row (pm_audit_head) is missing").into());
        };
        let seq: i64 = head.try_get("seq")?;
        let seq = u64::try_from(seq)
            .map_err(|_| Error::backend(D::BACKEND, format!("the audit log's head is at {seq} (corrupt row)")))?;
        let entries = seal_all(records, (seq, head.try_get("hash")?), now);
        for entry in &entries {
            sqlx::query(
                "INSERT INTO pm_audit (seq, at, actor, action, prompt_id, label, before_state, after_state, forced, \
                 prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(number(entry.seq)?)
            .bind(entry.at_text())
            .bind(entry.actor.as_str())
            .bind(entry.action.as_str())
            .bind(entry.prompt.as_ref().map(|p| p.to_string()))
            .bind(entry.label.as_ref().map(|l| l.to_string()))
            .bind(entry.before.as_ref().map(serde_json::Value::to_string))
            .bind(entry.after.as_ref().map(serde_json::Value::to_string))
            .bind(entry.forced)
            .bind(entry.prev_hash.as_str())
            .bind(entry.hash.as_str())
            .execute(&mut *conn)
            .await?;
        }
        if let Some(last) = entries.last() {
            sqlx::query("UPDATE pm_audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(number(last.seq)?)
                .bind(last.hash.as_str())
                .execute(&mut *conn)
                .await?;
        }
        Ok(entries)
    }

    /// `StorageBackend::audit`.
    pub(crate) async fn read(pool: &Pool<D::Db>, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        query.validate()?;
        let limit = query.effective_limit();
        if limit == 0 {
            return Ok(Vec::new());
        }
        let after =
            number(query.after_seq.unwrap_or(0)).map_err(|f| f.into_error(D::BACKEND, "reading the audit log"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let run = async {
            let rows = match &query.prompt {
                None => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{AUDIT_COLUMNS} WHERE seq > $1 ORDER BY seq LIMIT $2"
                    )))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                }
                Some(id) => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{AUDIT_COLUMNS} WHERE prompt_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                    )))
                    .bind(id.as_str())
                    .bind(after)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                }
            };
            rows.iter()
                .map(|row| decode_entry::<D>(row))
                .collect::<Result<Vec<_>, Failure>>()
        };
        run.await.map_err(|f| f.into_error(D::BACKEND, "reading the audit log"))
    }

    /// The protected labels of a prompt, inside a write's transaction.
    pub(crate) async fn protected_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
    ) -> Result<BTreeSet<LabelName>, Failure> {
        let rows = sqlx::query("SELECT label FROM pm_protected_labels WHERE prompt_id = $1")
            .bind(id.as_str())
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|row| Ok(D::DECODE.label(id, &row.try_get::<String, _>("label")?)?))
            .collect()
    }

    /// Protects `label` of `id` or lifts its protection, inside a write's transaction.
    pub(crate) async fn set_protected_in(
        conn: &mut <D::Db as Database>::Connection,
        id: &PromptId,
        label: &LabelName,
        protected: bool,
    ) -> Result<(), Failure> {
        let sql = if protected {
            "INSERT INTO pm_protected_labels (prompt_id, label) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM pm_protected_labels WHERE prompt_id = $1 AND label = $2"
        };
        sqlx::query(sql)
            .bind(id.as_str())
            .bind(label.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// An entry number as a column value.
fn number(seq: u64) -> Result<i64, Failure> {
    i64::try_from(seq).map_err(|_| {
        Failure::Refused(Error::InvalidQuery {
            reason: format!("audit entry number {seq} is out of range"),
        })
    })
}

fn decode_entry<D: Dialect>(row: &<D::Db as Database>::Row) -> Result<AuditEntry, Failure>
where
    for<'t> String: Decode<'t, D::Db> + Type<D::Db>,
    for<'t> Option<String>: Decode<'t, D::Db> + Type<D::Db>,
    for<'t> i64: Decode<'t, D::Db> + Type<D::Db>,
    for<'t> bool: Decode<'t, D::Db> + Type<D::Db>,
    &'static str: ColumnIndex<<D::Db as Database>::Row>,
{
    let seq: i64 = row.try_get("seq")?;
    let corrupt = |what: String| {
        Failure::Refused(Error::backend(
            D::BACKEND,
            format!("audit entry {seq}: {what} (corrupt row)"),
        ))
    };
    let json = |column: &str, text: Option<String>| {
        text.map(|t| serde_json::from_str::<serde_json::Value>(&t))
            .transpose()
            .map_err(|e| corrupt(format!("{column} is not JSON: {e}")))
    };
    let at: String = row.try_get("at")?;
    let action: String = row.try_get("action")?;
    Ok(AuditEntry {
        seq: u64::try_from(seq).map_err(|_| corrupt("a negative number".into()))?,
        at: DateTime::parse_from_rfc3339(&at)
            .map_err(|e| corrupt(format!("at `{}` is not a timestamp: {e}", at.escape_debug())))?
            .with_timezone(&Utc),
        actor: row.try_get("actor")?,
        action: action
            .parse::<AuditAction>()
            .map_err(|_| corrupt(format!("unknown action `{}`", action.escape_debug())))?,
        prompt: row
            .try_get::<Option<String>, _>("prompt_id")?
            .map(|p| PromptId::new(&p).map_err(|e| corrupt(format!("invalid prompt id: {e}"))))
            .transpose()?,
        label: row
            .try_get::<Option<String>, _>("label")?
            .map(|l| LabelName::new(&l).map_err(|e| corrupt(format!("invalid label: {e}"))))
            .transpose()?,
        before: json("before_state", row.try_get("before_state")?)?,
        after: json("after_state", row.try_get("after_state")?)?,
        forced: row.try_get("forced")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
