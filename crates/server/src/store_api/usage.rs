//! The store protocol's usage methods (`/v1/store/add_usage`, `usage`, `prune_usage`), so that
//! an application rendering in-process on the `http://` store records its renders, tokens, cost
//! and feedback in the server's store, where the analytics and the A/B verdicts read them.

use axum::extract::State;
use prompt_manager::{Bucket, Error, UsageQuery, UsageRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{KeyAndJsonErrors, StoreResult, store_error, stored};
use crate::body::JsonBody;
use crate::error::{ApiError, Problem};
use crate::keys::Scope;
use crate::state::{ReadAccess, WriteAccess, require};

/// Rows in one call, at most (about 700 KB of JSON, under the 1 MiB body limit): a client
/// flushes every 10 s, three rows per prompt version and label it rendered, and sends more in
/// several calls.
pub(crate) const MAX_USAGE_ROWS: usize = 1_000;

/// `add_usage`: rows to add to the usage table.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct AddUsageBody {
    /// The rows (each a `UsageRow`: `key`, `bucket`, `start`, `counts`).
    #[schema(value_type = Vec<Object>)]
    pub(crate) rows: Vec<UsageRow>,
}

/// `prune_usage`: which rows to delete.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct PruneUsageBody {
    /// The bucket width (`minute`, `hour`, `day`).
    #[schema(value_type = String, pattern = "^(minute|hour|day)$")]
    pub(crate) bucket: Bucket,
    /// Rows starting before this (unix seconds) are deleted.
    pub(crate) before: i64,
}

/// A row a client may add: its start is the start of a bucket of its width.
fn check_row(row: &UsageRow, index: usize) -> Result<(), ApiError> {
    if row.start != row.bucket.floor(row.start) {
        return Err(store_error(Error::InvalidQuery {
            reason: format!(
                "rows[{index}]: start {} is not the start of a {} (a multiple of {} s)",
                row.start,
                row.bucket,
                row.bucket.seconds()
            ),
        }));
    }
    Ok(())
}

/// Add usage rows *additively* (a row whose key and bucket are stored adds its counts), as one
/// write. Body: `{"rows": [UsageRow…]}`, at most 1,000. Needs a `write` key.
#[utoipa::path(post, path = "/v1/store/add_usage", tag = "store",
    request_body(content = AddUsageBody),
    responses((status = 200, description = "Added (`null`)"),
        (status = 400, description = "A malformed body, a row that does not start a bucket, or too many rows", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body, or the server's store keeps no usage", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_add_usage(
    _: WriteAccess,
    State(state): State<crate::state::AppState>,
    JsonBody(body): JsonBody<AddUsageBody>,
) -> StoreResult<()> {
    if body.rows.len() > MAX_USAGE_ROWS {
        return Err(store_error(Error::InvalidQuery {
            reason: format!("{} rows in one call; send at most {MAX_USAGE_ROWS}", body.rows.len()),
        }));
    }
    for (index, row) in body.rows.iter().enumerate() {
        check_row(row, index)?;
    }
    stored(state.manager().store().add_usage(&body.rows).await)
}

/// The usage rows of one prompt and bucket width whose start is in `[from, to)`. Body: a
/// `UsageQuery` (`prompt_id`, `bucket`, `from`, `to`). Needs a `read` key.
#[utoipa::path(post, path = "/v1/store/usage", tag = "store",
    request_body(content = Object, description = "A UsageQuery"),
    responses((status = 200, description = "The rows", body = Vec<Object>),
        (status = 400, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body, or the server's store keeps no usage", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_usage(
    _: ReadAccess,
    State(state): State<crate::state::AppState>,
    JsonBody(query): JsonBody<UsageQuery>,
) -> StoreResult<Vec<UsageRow>> {
    stored(state.manager().store().usage(&query).await)
}

/// Delete the usage rows of one bucket width that start before `before`; answers how many.
/// Needs an `admin` key: retention is the operator's choice.
#[utoipa::path(post, path = "/v1/store/prune_usage", tag = "store",
    request_body(content = PruneUsageBody),
    responses((status = 200, description = "How many rows were deleted", body = u64, content_type = "application/json"),
        (status = 403, description = "The key is not an `admin` key", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body, or the server's store keeps no usage", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_prune_usage(
    WriteAccess(caller): WriteAccess,
    State(state): State<crate::state::AppState>,
    JsonBody(body): JsonBody<PruneUsageBody>,
) -> StoreResult<u64> {
    require(&caller, Scope::Admin, "deleting usage rows")?;
    stored(state.manager().store().prune_usage(body.bucket, body.before).await)
}
