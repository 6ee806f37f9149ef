//! The governance routes and their JSON bodies: protecting a prompt's labels
//! (`/v1/prompts/{id}/labels/{label}/protection`), the hash-chained audit log (`/v1/audit`,
//! `/v1/audit/verify`, admin only) and impact analysis (`/v1/prompts/{id}/dependents`).
//!
//! The rules themselves live in the manager and the store (protection is enforced atomically with
//! every write, and every change is audited in the same transaction); this module only maps them
//! to HTTP. The other routes live in `routes/`.

use axum::extract::State;
use prompt_manager::{AuditEntry, AuditQuery, Dependent, LabelName, PromptId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::schema;
use crate::error::{ApiError, Json, Problem};
use crate::keys::Scope;
use crate::routes::{LabelPath, Path, PromptPath, Query};
use crate::state::{AdminAccess, AppState, ReadAccess, WriteAccess, require};

/// The default page size of `GET /v1/audit`.
const DEFAULT_AUDIT_PAGE: usize = 100;
/// The largest page of `GET /v1/audit`.
const MAX_AUDIT_PAGE: usize = 1000;

/// The answer of a protection change.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProtectionResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The label.
    #[schema(value_type = schema::Label)]
    pub(crate) label: String,
    /// Whether the prompt's label is protected now.
    pub(crate) protected: bool,
    /// Whether this request changed anything (protecting a protected label does not).
    pub(crate) changed: bool,
}

/// What an audit entry records.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only: entries serialize the core's `AuditAction`
pub(crate) enum AuditAction {
    VersionCreated,
    LabelSet,
    LabelRemoved,
    LabelSplit,
    LabelRolledBack,
    StatusChanged,
    PromptDeleted,
    LabelProtected,
    LabelUnprotected,
    KeyCreated,
    KeyRevoked,
}

/// One entry of the audit log, chained to the one before it by its hash.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only: the handler serializes the core's `AuditEntry`
pub(crate) struct AuditEntrySchema {
    /// Its number: 1-based and gap-free.
    seq: u64,
    /// When it was recorded.
    at: chrono::DateTime<chrono::Utc>,
    /// Who did it: the API key's name, or the author the writer gave.
    actor: String,
    /// What was done.
    action: AuditAction,
    /// The prompt it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<String>,
    /// The label it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schema::Label>)]
    label: Option<String>,
    /// The relevant state before (e.g. `{"version": "1.0.0"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    before: Option<serde_json::Value>,
    /// The relevant state after.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    after: Option<serde_json::Value>,
    /// Whether an administrator's override (`--force`) allowed it.
    forced: bool,
    /// The hash of the entry before.
    prev_hash: String,
    /// The hash of this entry.
    hash: String,
}

/// A page of the audit log, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// The entries.
    #[schema(value_type = Vec<AuditEntrySchema>)]
    pub(crate) entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_after: Option<u64>,
}

/// The result of checking the audit log's hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditVerifyResponse {
    /// How many entries were checked (up to the break, when there is one).
    pub(crate) entries: u64,
    /// The hash of the last good entry (absent when the log is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) head: Option<String>,
    /// Whether the whole chain is intact.
    pub(crate) ok: bool,
    /// The first break found: what was edited, deleted, reordered or replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) broken: Option<String>,
}

/// How an include names the prompt it pulls in.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only: dependents serialize the core's `IncludeKind`
pub(crate) enum IncludeKind {
    Latest,
    Exact,
    Range,
    Label,
}

/// One prompt version that includes the prompt asked about.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only: the handler serializes the core's `Dependent`
pub(crate) struct DependentSchema {
    /// The including prompt.
    prompt: String,
    /// Its version that holds the include.
    #[schema(value_type = schema::Version)]
    version: String,
    /// The include's reference, as written (`shared/tone@production`).
    reference: String,
    /// How it names the included prompt.
    kind: IncludeKind,
    /// The version the include resolves to now (null when it does not resolve).
    #[schema(value_type = Option<schema::Version>)]
    resolves_to: Option<String>,
    /// The including prompt's labels that point at this version.
    #[schema(value_type = Vec<schema::Label>)]
    labels: Vec<String>,
    /// Whether this is the including prompt's latest version.
    latest: bool,
}

/// The prompt versions that include a prompt.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DependentsResponse {
    /// What was asked about: `id`, or `id@ref`.
    pub(crate) target: String,
    /// The including versions.
    #[schema(value_type = Vec<DependentSchema>)]
    pub(crate) dependents: Vec<Dependent>,
}

async fn set_protection(
    state: &AppState,
    caller: &crate::keys::Caller,
    id: &str,
    label: &str,
    protected: bool,
) -> Result<Json<ProtectionResponse>, ApiError> {
    let id = PromptId::new(id)?;
    let label = LabelName::new(label)?;
    let pm = state.writer(caller);
    let changed = if protected {
        pm.protect_label(&id, &label).await?
    } else {
        pm.unprotect_label(&id, &label).await?
    };
    Ok(Json(ProtectionResponse {
        id: id.to_string(),
        label: label.to_string(),
        protected,
        changed,
    }))
}

/// Protect a label of a prompt: from now on moving, removing or rolling it back needs an `admin`
/// key. The label need not be set yet. Needs a `write` key.
#[utoipa::path(put, path = "/v1/prompts/{id}/labels/{label}/protection", tag = "governance",
    params(LabelPath),
    responses((status = 200, description = "Protected (`changed` is false when it already was)", body = ProtectionResponse),
        (status = 400, description = "A malformed id or label", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn protect_label(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
) -> Result<Json<ProtectionResponse>, ApiError> {
    set_protection(&state, &caller, &id, &label, true).await
}

/// Lift the protection of a prompt's label. Needs an `admin` key.
#[utoipa::path(delete, path = "/v1/prompts/{id}/labels/{label}/protection", tag = "governance",
    params(LabelPath),
    responses((status = 200, description = "Unprotected (`changed` is false when it was not protected)", body = ProtectionResponse),
        (status = 400, description = "A malformed id or label", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an `admin` key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn unprotect_label(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
) -> Result<Json<ProtectionResponse>, ApiError> {
    require(&caller, Scope::Admin, "lifting a label's protection")?;
    set_protection(&state, &caller, &id, &label, false).await
}

/// Filters and pagination of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read from the raw pairs, for a clear error on each
pub(crate) struct AuditParams {
    /// Only entries about this prompt.
    #[param(pattern = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$", max_length = 200)]
    prompt: Option<String>,
    /// Only entries after this number: `next_after` of the previous page.
    #[param(minimum = 0)]
    after: Option<u64>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The audit log, oldest first, one page at a time: every version, label move, protection change
/// and status change, who made it and when, each entry chained to the one before by its hash.
/// Needs an `admin` key.
#[utoipa::path(get, path = "/v1/audit", tag = "governance", params(AuditParams),
    responses((status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an `admin` key", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn audit(
    _: AdminAccess,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<AuditPage>, ApiError> {
    let mut query = AuditQuery {
        limit: Some(DEFAULT_AUDIT_PAGE),
        ..AuditQuery::default()
    };
    for (name, value) in pairs {
        match name.as_str() {
            "prompt" => query.prompt = Some(PromptId::new(&value)?),
            "after" => {
                query.after_seq = Some(value.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "after: `{value}` is not an entry number (a whole number from 0)"
                    ))
                })?)
            }
            "limit" => {
                let limit = value.parse::<usize>().ok().filter(|n| (1..=MAX_AUDIT_PAGE).contains(n));
                query.limit = Some(limit.ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "limit: `{value}` must be a whole number from 1 to {MAX_AUDIT_PAGE}"
                    ))
                })?);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`; use prompt, after or limit"
                )));
            }
        }
    }
    let entries = state.inner.pm.audit(&query).await?;
    let next_after = match entries.last() {
        Some(last) if Some(entries.len()) == query.limit => Some(last.seq),
        _ => None,
    };
    Ok(Json(AuditPage { entries, next_after }))
}

/// Check the audit log's hash chain from the first entry to the last: an edited, deleted,
/// reordered or replaced entry is reported as the first break. Needs an `admin` key.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "governance",
    responses((status = 200, description = "The result (`ok` false and `broken` when the chain is broken)", body = AuditVerifyResponse),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an `admin` key", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn verify_audit(
    _: AdminAccess,
    State(state): State<AppState>,
) -> Result<Json<AuditVerifyResponse>, ApiError> {
    let report = state.inner.pm.verify_audit().await?;
    Ok(Json(AuditVerifyResponse {
        entries: report.entries,
        head: report.head,
        ok: report.broken.is_none(),
        broken: report.broken.map(|b| b.to_string()),
    }))
}

/// Which version of the prompt the dependents must reach.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DependentsParams {
    /// Only includes that resolve to the version this names now: a version, requirement or label
    /// (`1.0.0`, `^1`, `production`). Without it: every include of the prompt.
    #[serde(rename = "ref")]
    #[param(
        rename = "ref",
        pattern = r"^((0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?|(\^|~|=|>=|<=|>|<)(0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})|\*))?|\*(\.\*)?))?|\*|[a-z][a-z0-9._-]{0,63})$"
    )]
    reference: Option<String>,
}

/// Impact analysis: every stored prompt version that includes this prompt, how it names it
/// (latest, exact, range, label), what that resolves to now and which of its labels render
/// through it. Reads every version of every prompt: a question for a review or a deploy.
#[utoipa::path(get, path = "/v1/prompts/{id}/dependents", tag = "governance",
    params(PromptPath, DependentsParams),
    responses((status = 200, description = "The including versions", body = DependentsResponse),
        (status = 400, description = "A malformed id or ref", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt, version or label", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn dependents(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<DependentsParams>,
) -> Result<Json<DependentsResponse>, ApiError> {
    let id = PromptId::new(&id)?;
    let target = match &params.reference {
        Some(reference) => format!("{id}@{reference}"),
        None => id.to_string(),
    };
    let dependents = state.inner.pm.dependents(&target).await?;
    Ok(Json(DependentsResponse { target, dependents }))
}
