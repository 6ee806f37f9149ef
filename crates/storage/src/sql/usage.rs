//! Usage rows in SQL, the same text for SQLite and PostgreSQL (both read `$N` placeholders): the
//! columns of `pm_usage` (`migrations/*/0005_usage.sql`), the additive upserts a flush runs, and
//! the decoding of what a query reads — run once over the dialect by [`Usage`]. Each backend
//! opens the transaction (SQLite's write lock, PostgreSQL's retries) and calls it.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::reads::Dialect;
use super::sql_error;

use prompt_manager_core::semver::Version;
use prompt_manager_core::usage::{Bucket, DURATION_BUCKETS, UsageCounts, UsageKey, UsageQuery, UsageRow};
use prompt_manager_core::{Error, LabelName, NanoUsd};

/// The integer counters of `pm_usage`, in column order (after the key columns).
const INT_COLUMNS: [&str; 20 + DURATION_BUCKETS] = [
    "renders",
    "errors",
    "duration_ns",
    "d00",
    "d01",
    "d02",
    "d03",
    "d04",
    "d05",
    "d06",
    "d07",
    "d08",
    "d09",
    "d10",
    "d11",
    "d12",
    "d13",
    "d14",
    "d15",
    "d16",
    "d17",
    "d18",
    "d19",
    "d20",
    "d21",
    "d22",
    "d23",
    "output_bytes",
    "input_tokens",
    "input_tokens_exact_renders",
    "input_tokens_renders",
    "input_cost",
    "priced_renders",
    "usage_reports",
    "output_tokens",
    "output_cost",
    "actual_cost",
    "actual_cost_reports",
    "model_latency_ms",
    "model_latency_reports",
    "feedback",
    "successes",
    "failures",
    "scores",
];

/// The floating-point sums of `pm_usage`, after the integers.
const FLOAT_COLUMNS: [&str; 2] = ["score_sum", "score_sum_squares"];

/// The key columns of both tables.
const KEY_COLUMNS: &str = "prompt_id, bucket, start, version, label";

/// Rows per statement: 5 + 46 values each stays below SQLite's 32,766 and PostgreSQL's 65,535
/// bound parameters.
const ROWS_PER_STATEMENT: usize = 400;

/// A value to bind.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
}

/// A counter as a column value: stored as a signed 64-bit integer, saturating.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn ints_of(c: &UsageCounts) -> [u64; INT_COLUMNS.len()] {
    let mut out = [0; INT_COLUMNS.len()];
    out[0] = c.renders;
    out[1] = c.errors;
    out[2] = c.duration_ns;
    out[3..3 + DURATION_BUCKETS].copy_from_slice(&c.duration_buckets);
    let rest = [
        c.output_bytes,
        c.input_tokens,
        c.input_tokens_exact_renders,
        c.input_tokens_renders,
        c.input_cost.0,
        c.priced_renders,
        c.usage_reports,
        c.output_tokens,
        c.output_cost.0,
        c.actual_cost.0,
        c.actual_cost_reports,
        c.model_latency_ms,
        c.model_latency_reports,
        c.feedback,
        c.successes,
        c.failures,
        c.scores,
    ];
    out[3 + DURATION_BUCKETS..].copy_from_slice(&rest);
    out
}

fn counts_of(ints: &[u64; INT_COLUMNS.len()], floats: [f64; 2]) -> UsageCounts {
    let mut c = UsageCounts::default();
    c.renders = ints[0];
    c.errors = ints[1];
    c.duration_ns = ints[2];
    c.duration_buckets.copy_from_slice(&ints[3..3 + DURATION_BUCKETS]);
    let r = &ints[3 + DURATION_BUCKETS..];
    c.output_bytes = r[0];
    c.input_tokens = r[1];
    c.input_tokens_exact_renders = r[2];
    c.input_tokens_renders = r[3];
    c.input_cost = NanoUsd(r[4]);
    c.priced_renders = r[5];
    c.usage_reports = r[6];
    c.output_tokens = r[7];
    c.output_cost = NanoUsd(r[8]);
    c.actual_cost = NanoUsd(r[9]);
    c.actual_cost_reports = r[10];
    c.model_latency_ms = r[11];
    c.model_latency_reports = r[12];
    c.feedback = r[13];
    c.successes = r[14];
    c.failures = r[15];
    c.scores = r[16];
    c.score_sum = floats[0];
    c.score_sum_squares = floats[1];
    c
}

type RowKey = (String, &'static str, i64, String, String);

/// `rows` merged by key (a statement may not update one row twice) and sorted (two instances
/// writing overlapping batches lock rows in the same order, so they never deadlock).
fn merged(rows: &[UsageRow]) -> BTreeMap<RowKey, UsageCounts> {
    let mut merged: BTreeMap<RowKey, UsageCounts> = BTreeMap::new();
    for row in rows {
        let key = (
            row.key.prompt_id.as_str().to_owned(),
            row.bucket.as_str(),
            row.start,
            row.key.version.to_string(),
            row.key
                .label
                .as_ref()
                .map_or_else(String::new, |l| l.as_str().to_owned()),
        );
        merged.entry(key).or_default().add(&row.counts);
    }
    merged
}

/// The statements (SQL and values) that add `rows` to the tables.
pub(crate) fn upserts(rows: &[UsageRow]) -> Vec<(String, Vec<Bind>)> {
    let merged = merged(rows);
    let mut statements = Vec::new();
    let all: Vec<_> = merged.iter().collect();
    let columns: Vec<&str> = INT_COLUMNS.iter().chain(&FLOAT_COLUMNS).copied().collect();
    let updates = columns
        .iter()
        .map(|c| format!("{c} = pm_usage.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in all.chunks(ROWS_PER_STATEMENT) {
        let mut sql = format!("INSERT INTO pm_usage ({KEY_COLUMNS}, {}) VALUES ", columns.join(", "));
        let mut binds = Vec::with_capacity(chunk.len() * (5 + columns.len()));
        for (i, ((id, bucket, start, version, label), counts)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            let first = binds.len();
            binds.push(Bind::Text(id.clone()));
            binds.push(Bind::Text((*bucket).to_owned()));
            binds.push(Bind::Int(*start));
            binds.push(Bind::Text(version.clone()));
            binds.push(Bind::Text(label.clone()));
            binds.extend(ints_of(counts).into_iter().map(|n| Bind::Int(int(n))));
            binds.push(Bind::Float(counts.score_sum));
            binds.push(Bind::Float(counts.score_sum_squares));
            let placeholders: Vec<String> = (first + 1..=binds.len()).map(|n| format!("${n}")).collect();
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
        }
        sql.push_str(&format!(" ON CONFLICT ({KEY_COLUMNS}) DO UPDATE SET {updates}"));
        statements.push((sql, binds));
    }
    let errors: Vec<(&RowKey, &String, u64)> = merged
        .iter()
        .flat_map(|(key, c)| c.error_kinds.iter().map(move |(kind, n)| (key, kind, *n)))
        .collect();
    for chunk in errors.chunks(ROWS_PER_STATEMENT) {
        let mut sql = format!("INSERT INTO pm_usage_errors ({KEY_COLUMNS}, kind, renders) VALUES ");
        let mut binds = Vec::with_capacity(chunk.len() * 7);
        for (i, ((id, bucket, start, version, label), kind, n)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = binds.len();
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
            binds.extend([
                Bind::Text(id.clone()),
                Bind::Text((*bucket).to_owned()),
                Bind::Int(*start),
                Bind::Text(version.clone()),
                Bind::Text(label.clone()),
                Bind::Text((*kind).clone()),
                Bind::Int(int(*n)),
            ]);
        }
        sql.push_str(&format!(
            " ON CONFLICT ({KEY_COLUMNS}, kind) DO UPDATE SET renders = pm_usage_errors.renders + excluded.renders"
        ));
        statements.push((sql, binds));
    }
    statements
}

/// The usage statements of a backend's dialect.
pub(crate) struct Usage<D: Dialect>(PhantomData<D>);

impl<D: Dialect> Usage<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'c> &'c Pool<D::Db>: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> String: Decode<'t, D::Db> + Type<D::Db>,
    for<'t> i64: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> f64: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    usize: ColumnIndex<<D::Db as Database>::Row>,
{
    /// Runs a flush's [`upserts`] in the caller's transaction.
    pub(crate) async fn add(
        conn: &mut <D::Db as Database>::Connection,
        statements: &[(String, Vec<Bind>)],
    ) -> Result<(), sqlx::Error> {
        for (sql, binds) in statements {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for bind in binds {
                query = match bind {
                    Bind::Text(s) => query.bind(s.as_str()),
                    Bind::Int(n) => query.bind(*n),
                    Bind::Float(x) => query.bind(*x),
                };
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The rows of a query: counters and error kinds, joined by key.
    pub(crate) async fn read(pool: &Pool<D::Db>, query: &UsageQuery) -> Result<Vec<UsageRow>, Error> {
        let reading = |e| {
            sql_error(
                D::BACKEND,
                format_args!("reading the usage of `{}`", query.prompt_id),
                e,
            )
        };
        let select = select_counts();
        let counts = Self::in_range(pool, &select, query)
            .await
            .map_err(reading)?
            .iter()
            .map(|row| read_counts_row(|i| row.try_get(i), |i| row.try_get(i), |i| row.try_get(i)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(reading)?;
        let errors = Self::in_range(pool, SELECT_ERRORS, query)
            .await
            .map_err(reading)?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                    row.try_get(4)?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(reading)?;
        rows_of(D::BACKEND, query, counts, errors)
    }

    /// The rows `sql` selects for the query's prompt, bucket and range (its binds, in order).
    async fn in_range(
        pool: &Pool<D::Db>,
        sql: &str,
        query: &UsageQuery,
    ) -> Result<Vec<<D::Db as Database>::Row>, sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.prompt_id.as_str())
            .bind(query.bucket.as_str())
            .bind(query.from)
            .bind(query.to)
            .fetch_all(pool)
            .await
    }

    /// Deletes the rows of `bucket` that start before `before` in the caller's transaction; how
    /// many went.
    pub(crate) async fn prune(
        conn: &mut <D::Db as Database>::Connection,
        bucket: Bucket,
        before: i64,
    ) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        for sql in PRUNES {
            let done = sqlx::query(sql)
                .bind(bucket.as_str())
                .bind(before)
                .execute(&mut *conn)
                .await?;
            deleted += D::rows_affected(&done);
        }
        Ok(deleted)
    }
}

/// The query of the counters: binds are prompt id, bucket, from, to.
fn select_counts() -> String {
    format!(
        "SELECT version, label, start, {}, {} FROM pm_usage WHERE prompt_id = $1 AND bucket = $2 AND start >= $3 \
         AND start < $4",
        INT_COLUMNS.join(", "),
        FLOAT_COLUMNS.join(", ")
    )
}

/// The query of the error kinds: binds are prompt id, bucket, from, to.
const SELECT_ERRORS: &str = "SELECT version, label, start, kind, renders FROM pm_usage_errors \
     WHERE prompt_id = $1 AND bucket = $2 AND start >= $3 AND start < $4";

/// The deletes of a prune: binds are bucket, before.
const PRUNES: [&str; 2] = [
    "DELETE FROM pm_usage WHERE bucket = $1 AND start < $2",
    "DELETE FROM pm_usage_errors WHERE bucket = $1 AND start < $2",
];

/// What a backend read from one row of [`select_counts`].
struct CountsRow {
    version: String,
    label: String,
    start: i64,
    ints: Vec<i64>,
    floats: [f64; 2],
}

/// Reads a row of [`select_counts`] with the backend's getters (by column index).
fn read_counts_row<E>(
    text: impl Fn(usize) -> Result<String, E>,
    integer: impl Fn(usize) -> Result<i64, E>,
    float: impl Fn(usize) -> Result<f64, E>,
) -> Result<CountsRow, E> {
    let ints = (0..INT_COLUMNS.len())
        .map(|i| integer(3 + i))
        .collect::<Result<Vec<_>, E>>()?;
    let f = 3 + INT_COLUMNS.len();
    Ok(CountsRow {
        version: text(0)?,
        label: text(1)?,
        start: integer(2)?,
        ints,
        floats: [float(f)?, float(f + 1)?],
    })
}

/// The rows of a query from what the backend read: counters and error kinds joined by key.
fn rows_of(
    backend: &'static str,
    query: &UsageQuery,
    counts: Vec<CountsRow>,
    errors: Vec<(String, String, i64, String, i64)>,
) -> Result<Vec<UsageRow>, Error> {
    let corrupt =
        |what: String| Error::backend(backend, format!("usage of `{}`: {what} (corrupt row)", query.prompt_id));
    let key = |version: &str, label: &str| -> Result<(Version, Option<LabelName>), Error> {
        let version = version
            .parse::<Version>()
            .map_err(|e| corrupt(format!("version `{version}`: {e}")))?;
        let label = match label {
            "" => None,
            l => Some(LabelName::new(l).map_err(|e| corrupt(format!("label `{l}`: {e}")))?),
        };
        Ok((version, label))
    };
    let mut out: BTreeMap<(i64, String, String), UsageRow> = BTreeMap::new();
    for row in counts {
        let (version, label) = key(&row.version, &row.label)?;
        let mut ints = [0u64; INT_COLUMNS.len()];
        for (slot, v) in ints.iter_mut().zip(&row.ints) {
            *slot = u64::try_from(*v).map_err(|_| corrupt(format!("negative counter {v}")))?;
        }
        out.insert(
            (row.start, row.version, row.label),
            UsageRow {
                key: UsageKey {
                    prompt_id: query.prompt_id.clone(),
                    version,
                    label,
                },
                bucket: query.bucket,
                start: row.start,
                counts: counts_of(&ints, row.floats),
            },
        );
    }
    for (version, label, start, kind, n) in errors {
        if let Some(row) = out.get_mut(&(start, version, label)) {
            row.counts
                .error_kinds
                .insert(kind, u64::try_from(n).unwrap_or_default());
        }
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_survive_the_columns() {
        let mut c = UsageCounts::default();
        c.renders = 5;
        c.errors = 1;
        c.duration_buckets[7] = 3;
        c.scores = 2;
        c.output_cost = NanoUsd(11);
        c.model_latency_reports = 9;
        let back = counts_of(&ints_of(&c), [c.score_sum, c.score_sum_squares]);
        assert_eq!(back, c);
        assert_eq!(INT_COLUMNS.len(), 44);
    }
}
