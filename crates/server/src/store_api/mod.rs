//! The store protocol (`/v1/store/…`): one route per method of the storage traits
//! ([`StorageBackend`](prompt_manager::StorageBackend), [`VersionStore`](prompt_manager::VersionStore)),
//! so that a `prompt-manager serve` can be the store of another manager (the `http://` store of
//! `prompt-manager-remote`) and that manager keeps its own registry, compiled templates and
//! in-process renders.
//!
//! Every route is a `POST` of a JSON body — the trait method's arguments, in the core request
//! types' own wire form — answered with the method's result as JSON. Ids go in the body, not the
//! path, so that a path-like id needs no encoding and every method has one shape. Errors are
//! problems whose `error` member carries the core error's fields ([`ApiError::with_details`]), so
//! the client rebuilds the same error. Reads need `read`, writes `write`, `append_audit` and
//! `prune_usage` `admin`. The usage methods are in `usage`.
//!
//! Trust: without keys (loopback only) the client's actor and authority are kept; with keys, the
//! actor is the key's name and a `write` key writes as [`Authority::User`] whatever it claims.
//! After every write the server's manager is told ([`PromptManager::refresh`]) so that its
//! registry forgets the prompt and `/v1/changes` announces it. The high-level routes live in
//! `routes/`; this module adds no rule of its own beyond authentication.

mod usage;

use std::collections::BTreeSet;

use axum::extract::State;
use prompt_manager::semver::Version;
use prompt_manager::{
    AssignmentChange, AuditEntry, AuditQuery, AuditRecord, Authority, DeleteRequest, Error, LabelChange, LabelEvent,
    LabelName, ListQuery, Page, PromptId, PromptRef, PromptSummary, PromptVersion, ProtectionChange, Resolution,
    SaveRequest, StatusChange, VersionInfo,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::dto::schema;
use crate::error::{ApiError, Json, Problem};
use crate::keys::{Caller, Scope};
use crate::state::{AppState, ReadAccess, WriteAccess, require};
pub(crate) use usage::*;

/// The answers every store route can give before it reads its body's meaning: no valid key, or a
/// body that is not JSON (OpenAPI only; the problems themselves come from the extractors).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum KeyAndJsonErrors {
    #[response(
        status = 401,
        description = "No valid API key",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(status = 415, description = "Not JSON", content_type = "application/problem+json")]
    NotJson(Problem),
}

/// A body that is JSON but not the route's request (OpenAPI only).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum MalformedBody {
    #[response(
        status = 400,
        description = "A malformed body",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 422,
        description = "A malformed body",
        content_type = "application/problem+json"
    )]
    Unprocessable(Problem),
}

/// The result of a store protocol call, with errors that carry their fields.
type StoreResult<T> = Result<Json<T>, ApiError>;

fn store_error(e: prompt_manager::Error) -> ApiError {
    ApiError::with_details(e)
}

/// A store method's result as the route's answer.
fn stored<T>(result: prompt_manager::Result<T>) -> StoreResult<T> {
    result.map(Json).map_err(store_error)
}

/// The caller's actor and authority as the store records them: the client's own on a keyless
/// server (loopback only, where every caller may do everything); with keys, the key's name, and
/// no more authority than the key has.
fn trusted(caller: &Caller, actor: Option<String>, authority: Authority) -> (Option<String>, Authority) {
    match &caller.key_name {
        None => (actor, authority),
        Some(name) => {
            let authority = if caller.scope >= Scope::Admin {
                authority
            } else {
                Authority::User
            };
            (Some(name.clone()), authority)
        }
    }
}

/// Refuses a non-admin key's move of a label the server configuration protects, as the label
/// routes do, with the store's own error for a protected label ([`Error::LabelProtected`]).
fn check_configured(state: &AppState, caller: &Caller, id: &PromptId, labels: &[&LabelName]) -> Result<(), ApiError> {
    match labels.iter().find(|label| state.is_protected(label.as_str())) {
        Some(label) if caller.scope < Scope::Admin => Err(store_error(Error::LabelProtected {
            id: id.clone(),
            label: (*label).clone(),
        })),
        _ => Ok(()),
    }
}

/// A body naming one prompt.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct IdBody {
    /// The prompt.
    #[schema(value_type = schema::PromptId)]
    pub(crate) id: PromptId,
}

/// A body naming one prompt and what to do with it (the fields of the trait method's request,
/// flattened beside `id`).
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct WithId<T> {
    /// The prompt.
    pub(crate) id: PromptId,
    /// The request.
    #[serde(flatten)]
    pub(crate) request: T,
}

/// `load`: a prompt and optionally a version (the latest when absent).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct LoadBody {
    /// The prompt.
    #[schema(value_type = schema::PromptId)]
    pub(crate) id: PromptId,
    /// The version; the latest when absent.
    #[serde(default)]
    #[schema(value_type = Option<schema::Version>)]
    pub(crate) version: Option<Version>,
}

/// `save_all`: the saves, in order, all or nothing.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct SaveAllBody {
    /// The saves (each a `SaveRequest`).
    #[schema(value_type = Vec<Object>)]
    pub(crate) requests: Vec<SaveRequest>,
}

/// `label_history`: a prompt and optionally one label.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct HistoryBody {
    /// The prompt.
    #[schema(value_type = schema::PromptId)]
    pub(crate) id: PromptId,
    /// Only this label's events; all labels when absent.
    #[serde(default)]
    #[schema(value_type = Option<schema::Label>)]
    pub(crate) label: Option<LabelName>,
}

/// `resolve`: a reference (`id`, `id@1.2.0`, `id@^1`, `id@production`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct ResolveBody {
    /// The reference.
    #[schema(
        pattern = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*(@((0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?|(\^|~|=|>=|<=|>|<)(0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})|\*))?|\*(\.\*)?))?|\*|[a-z][a-z0-9._-]{0,63}))?$"
    )]
    pub(crate) reference: String,
}

/// Save a new version (compare-and-set), with its labels, in one transaction. Body: a
/// `SaveRequest` (`version`, `expected`, `status`, `labels`, `actor`, `authority`); answer: the
/// label events recorded. Needs a `write` key.
#[utoipa::path(post, path = "/v1/store/save", tag = "store",
    request_body(content = Object, description = "A SaveRequest"),
    responses((status = 200, description = "The label events recorded", body = Vec<Object>),
        (status = 400, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or a label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid prompt or body", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_save(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SaveRequest>,
) -> StoreResult<Vec<LabelEvent>> {
    let events = save_all(&state, &caller, vec![request], false).await?;
    Ok(Json(events))
}

async fn save_all(
    state: &AppState,
    caller: &Caller,
    requests: Vec<SaveRequest>,
    all: bool,
) -> Result<Vec<LabelEvent>, ApiError> {
    let mut ids = BTreeSet::new();
    let mut trusted_requests = Vec::with_capacity(requests.len());
    for mut request in requests {
        let labels: Vec<&LabelName> = request.labels.iter().collect();
        check_configured(state, caller, &request.version.prompt.id, &labels)?;
        (request.actor, request.authority) = trusted(caller, request.actor.take(), request.authority);
        if caller.key_name.is_some() {
            // With keys, the version's author is the key too, as on the REST routes.
            request.version.author.clone_from(&request.actor);
        }
        ids.insert(request.version.prompt.id.clone());
        trusted_requests.push(request);
    }
    let store = state.manager().store();
    let result = if all {
        store.save_all(trusted_requests).await
    } else {
        match trusted_requests.pop() {
            Some(request) => store.save(request).await,
            None => Ok(Vec::new()),
        }
    };
    for id in &ids {
        state.manager().refresh(id);
    }
    result.map_err(store_error)
}

/// Save several versions, of one or many prompts, in order, all or nothing. Body:
/// `{"requests": [SaveRequest, …]}`; answer: the label events recorded. Needs a `write` key.
#[utoipa::path(post, path = "/v1/store/save_all", tag = "store",
    request_body(content = SaveAllBody),
    responses((status = 200, description = "The label events recorded", body = Vec<Object>),
        (status = 400, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or a label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A conflict: nothing was saved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid prompt or body", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_save_all(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SaveAllBody>,
) -> StoreResult<Vec<LabelEvent>> {
    Ok(Json(save_all(&state, &caller, body.requests, true).await?))
}

/// Load one version of a prompt, or its latest. Needs a `read` key.
#[utoipa::path(post, path = "/v1/store/load", tag = "store",
    request_body(content = LoadBody),
    responses((status = 200, description = "The version", body = Object),
        (status = 404, description = "No such prompt or version", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_load(
    _: ReadAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LoadBody>,
) -> StoreResult<PromptVersion> {
    let version = state
        .manager()
        .store()
        .load(&body.id, body.version.as_ref())
        .await
        .map_err(store_error)?;
    Ok(Json(PromptVersion::clone(&version)))
}

/// Delete a prompt with all its versions, labels and history. Body: `{"id", "actor"}`. Needs a
/// `write` key.
#[utoipa::path(post, path = "/v1/store/delete", tag = "store",
    request_body(content = Object, description = "`{\"id\": …, \"actor\": …}`"),
    responses((status = 200, description = "Deleted (`null`)"),
        (status = 403, description = "The key may not write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_delete(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<WithId<DeleteRequest>>,
) -> StoreResult<()> {
    let (actor, _) = trusted(&caller, body.request.actor, Authority::User);
    let result = state.manager().store().delete(&body.id, DeleteRequest { actor }).await;
    state.manager().refresh(&body.id);
    stored(result)
}

/// List prompts by a `ListQuery` (`tags`, `status`, `id_prefix`, `search`, `label`, `limit`,
/// `cursor`), ordered by id. Needs a `read` key.
#[utoipa::path(post, path = "/v1/store/list", tag = "store",
    request_body(content = Object, description = "A ListQuery"),
    responses((status = 200, description = "A page of summaries (`items`, `next_cursor`)", body = Object),
        (status = 400, description = "A malformed body or a query out of bounds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_list(
    _: ReadAccess,
    State(state): State<AppState>,
    JsonBody(query): JsonBody<ListQuery>,
) -> StoreResult<Page<PromptSummary>> {
    stored(state.manager().store().list(&query).await)
}

/// Status, latest version and labels of one prompt. Needs a `read` key.
#[utoipa::path(post, path = "/v1/store/summary", tag = "store",
    request_body(content = IdBody),
    responses((status = 200, description = "The summary", body = Object),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_summary(
    _: ReadAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<IdBody>,
) -> StoreResult<PromptSummary> {
    stored(state.manager().store().summary(&body.id).await)
}

/// Change a prompt's status (compare-and-set). Body: `{"id", "status", "expected", "actor"}`.
/// Needs a `write` key.
#[utoipa::path(post, path = "/v1/store/set_status", tag = "store",
    request_body(content = Object, description = "`id` and a StatusChange"),
    responses((status = 200, description = "Changed (`null`)"),
        (status = 403, description = "The key may not write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The status is not the expected one", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_set_status(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<WithId<StatusChange>>,
) -> StoreResult<()> {
    let mut change = body.request;
    change.actor = trusted(&caller, change.actor.take(), Authority::User).0;
    let result = state.manager().store().set_status(&body.id, change).await;
    state.manager().refresh(&body.id);
    stored(result)
}

/// Audit entries matching an `AuditQuery` (`prompt`, `after_seq`, `limit`), oldest first. Needs
/// an `admin` key, as `/v1/audit` does.
#[utoipa::path(post, path = "/v1/store/audit", tag = "store",
    request_body(content = Object, description = "An AuditQuery"),
    responses((status = 200, description = "The entries", body = Vec<Object>),
        (status = 400, description = "A malformed body or a limit out of bounds", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an `admin` key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_audit(
    ReadAccess(caller): ReadAccess,
    State(state): State<AppState>,
    JsonBody(query): JsonBody<AuditQuery>,
) -> StoreResult<Vec<AuditEntry>> {
    require(&caller, Scope::Admin, "reading the audit log")?;
    stored(state.manager().store().audit(&query).await)
}

/// Append an entry for something that happened outside the store (an API key created or
/// revoked). Body: an `AuditRecord`. Needs an `admin` key.
#[utoipa::path(post, path = "/v1/store/append_audit", tag = "store",
    request_body(content = Object, description = "An AuditRecord"),
    responses((status = 200, description = "The entry appended", body = Object),
        (status = 400, description = "A malformed body, or an action the store records itself", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an `admin` key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_append_audit(
    ReadAccess(caller): ReadAccess,
    State(state): State<AppState>,
    JsonBody(mut record): JsonBody<AuditRecord>,
) -> StoreResult<AuditEntry> {
    require(&caller, Scope::Admin, "appending to the audit log")?;
    record.actor = trusted(&caller, record.actor.take(), Authority::User).0;
    stored(state.manager().store().append_audit(record).await)
}

/// Every version of a prompt without content, newest first. Needs a `read` key.
#[utoipa::path(post, path = "/v1/store/list_versions", tag = "store",
    request_body(content = IdBody),
    responses((status = 200, description = "The versions", body = Vec<Object>),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_list_versions(
    _: ReadAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<IdBody>,
) -> StoreResult<Vec<VersionInfo>> {
    stored(state.manager().store().list_versions(&body.id).await)
}

/// Move, set or remove a label (compare-and-set). Body: `id` and a `LabelChange` (`label`, `to`,
/// `expected`, `kind`, `actor`, `authority`); answer: the event, or `null` when the label
/// already pointed there. Needs a `write` key.
#[utoipa::path(post, path = "/v1/store/set_label", tag = "store",
    request_body(content = Object, description = "`id` and a LabelChange"),
    responses((status = 200, description = "The event, or null", body = Object),
        (status = 403, description = "The key may not write, or the label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt or version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The label is not where it was expected", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_set_label(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<WithId<LabelChange>>,
) -> StoreResult<Option<LabelEvent>> {
    assign(&state, &caller, body.id, body.request.into()).await
}

async fn assign(
    state: &AppState,
    caller: &Caller,
    id: PromptId,
    mut change: AssignmentChange,
) -> StoreResult<Option<LabelEvent>> {
    check_configured(state, caller, &id, &[&change.label])?;
    (change.actor, change.authority) = trusted(caller, change.actor.take(), change.authority);
    let result = state.manager().store().assign_label(&id, change).await;
    state.manager().refresh(&id);
    stored(result)
}

/// Point a label at one version or at an A/B split, or remove it (compare-and-set). Body: `id`
/// and an `AssignmentChange`; answer: the event, or `null`. Needs a `write` key.
#[utoipa::path(post, path = "/v1/store/assign_label", tag = "store",
    request_body(content = Object, description = "`id` and an AssignmentChange"),
    responses((status = 200, description = "The event, or null", body = Object),
        (status = 403, description = "The key may not write, or the label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt or version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The label is not where it was expected", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_assign_label(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<WithId<AssignmentChange>>,
) -> StoreResult<Option<LabelEvent>> {
    assign(&state, &caller, body.id, body.request).await
}

/// Protect a label or lift its protection. Body: `id` and a `ProtectionChange`; answer: whether
/// anything changed. Needs a `write` key (lifting needs an administrator's authority).
#[utoipa::path(post, path = "/v1/store/set_protection", tag = "store",
    request_body(content = Object, description = "`id` and a ProtectionChange"),
    responses((status = 200, description = "Whether anything changed", body = bool),
        (status = 403, description = "The key may not write, or may not lift a protection", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_set_protection(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<WithId<ProtectionChange>>,
) -> StoreResult<bool> {
    let mut change = body.request;
    (change.actor, change.authority) = trusted(&caller, change.actor.take(), change.authority);
    let result = state.manager().store().set_protection(&body.id, change).await;
    state.manager().refresh(&body.id);
    stored(result)
}

/// Label events of a prompt, oldest first; of one label when `label` is given. Needs a `read` key.
#[utoipa::path(post, path = "/v1/store/label_history", tag = "store",
    request_body(content = HistoryBody),
    responses((status = 200, description = "The events", body = Vec<Object>),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors,
        MalformedBody),
    security(("bearer" = [])))]
pub(crate) async fn store_label_history(
    _: ReadAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<HistoryBody>,
) -> StoreResult<Vec<LabelEvent>> {
    stored(
        state
            .manager()
            .store()
            .label_history(&body.id, body.label.as_ref())
            .await,
    )
}

/// The version a reference names, with the prompt's status and the label's split: one round trip
/// for what a cold render needs. Needs a `read` key.
#[utoipa::path(post, path = "/v1/store/resolve", tag = "store",
    request_body(content = ResolveBody),
    responses((status = 200, description = "The resolution (`version`, `status`, `split`)", body = Object),
        (status = 400, description = "A malformed body or reference", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Nothing the reference names", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        KeyAndJsonErrors),
    security(("bearer" = [])))]
pub(crate) async fn store_resolve(
    _: ReadAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ResolveBody>,
) -> StoreResult<Resolution> {
    let reference = PromptRef::parse(&body.reference).map_err(store_error)?;
    stored(state.manager().store().resolve(&reference).await)
}
