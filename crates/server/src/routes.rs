//! The handlers of `/v1`, `/healthz`, `/readyz` and `/metrics`, each with its OpenAPI
//! description (utoipa), and the HTTP caching helpers (ETag, `If-None-Match`, `If-Match`).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound, Utc};
use prompt_manager::semver::Version;
use prompt_manager::versioning::{changelog_draft, suggest};
use prompt_manager::{
    CreateOptions, Error, LabelName, LabelOptions, ListQuery, PromptId, PromptRef, PromptStatus, PromptVersion,
    RenderOutput, Selector, UpdateOptions, Variables, VersioningExt,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::body::JsonBody;
use crate::dto::{
    BatchOutcome, BatchRequest, BatchResponse, CreateRequest, DiffResponse, Health, LabelHistoryResponse,
    LabelMoveResponse, LabelResponse, LabelsResponse, PromptPage, RenderRequest, RenderResponse, RenderResult,
    SetLabelRequest, UpdateRequest, UpdateResponse, VersionsResponse, schema,
};
use crate::error::{ApiError, Json, Problem};
use crate::keys::{Caller, Scope};
use crate::state::{AppState, ReadAccess, WriteAccess, require};

/// `Cache-Control` of an exact version on a server without keys: it never changes.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of an exact version read with an API key: never changes either, but a shared
/// cache must not hand it to clients without the key (RFC 9111 §3.5).
pub(crate) const IMMUTABLE_PRIVATE: &str = "private, max-age=31536000, immutable";
/// `Cache-Control` of a label or latest read: revalidate every time (the ETag makes that cheap).
pub(crate) const REVALIDATE: &str = "no-cache";

/// `axum::extract::Path` whose rejections are problems.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub(crate) T);

/// `axum::extract::Query` whose rejections are problems.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub(crate) T);

/// The ETag of a version: its number and content hash.
pub(crate) fn etag(version: &PromptVersion) -> String {
    format!("\"{}-{}\"", version.version, version.content_hash)
}

/// Percent-encodes a path segment (`support/triage@1.0.0` → `support%2Ftriage@1.0.0`).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A list header (`If-Match`, `If-None-Match`) as one value: several field lines are one list,
/// joined with commas (RFC 9110 §5.3) — the first line alone would drop the others' tags.
fn list_header(headers: &HeaderMap, name: &header::HeaderName) -> Result<Option<String>, ApiError> {
    let mut joined: Option<String> = None;
    for value in headers.get_all(name) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::bad_request(format!("the {name} header is not ASCII")))?;
        match &mut joined {
            Some(all) => {
                all.push_str(", ");
                all.push_str(value);
            }
            None => joined = Some(value.to_owned()),
        }
    }
    Ok(joined)
}

/// Whether `If-None-Match` names `tag` (weak comparison), on any of its field lines.
fn none_match_hits(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// Whether `If-Match` (strong comparison) accepts `tag`.
fn match_accepts(if_match: &str, tag: &str) -> bool {
    if_match.split(',').map(|t| t.trim()).any(|t| t == "*" || t == tag)
}

fn precondition_failed(detail: String) -> ApiError {
    ApiError::new(StatusCode::PRECONDITION_FAILED, "precondition_failed", detail)
}

/// A cacheable JSON response, or 304 when the client has it.
fn cacheable(tag: &str, body: Bytes, cache_control: &'static str, headers: &HeaderMap) -> Response {
    let mut response = if none_match_hits(headers, tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response
}

/// A time as the stores keep it: to the microsecond (SQL timestamps). The in-memory store and
/// the store's own clock may hold nanoseconds; a write's answer must equal what a read returns
/// afterwards on every backend, so the API sends microseconds. (Versions are created at
/// microseconds already, by the manager.)
fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// A label move with its time as stored.
fn stored_event(mut event: prompt_manager::LabelEvent) -> prompt_manager::LabelEvent {
    event.at = stored_time(event.at);
    event
}

/// A summary with its times as stored.
fn stored_summary(mut summary: prompt_manager::PromptSummary) -> prompt_manager::PromptSummary {
    summary.created_at = stored_time(summary.created_at);
    summary.updated_at = stored_time(summary.updated_at);
    summary
}

fn to_json_bytes<T: serde::Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "serialization",
            format!("the response could not be written as JSON: {e}"),
        )
    })
}

async fn exact_version(
    state: &AppState,
    caller: &Caller,
    id: &PromptId,
    version: &Version,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let key = format!("{id}@{version}");
    let cached = match state.inner.exact.get(&key) {
        Some(hit) => hit,
        None => {
            let epoch = state.inner.exact_epoch.load(Ordering::Acquire);
            let v = state.inner.pm.get(&key).await?;
            let entry = std::sync::Arc::new((etag(&v), to_json_bytes(&*v)?));
            // A change reported while we read may have replaced what we read: serve it, keep it not.
            if state.inner.exact_epoch.load(Ordering::Acquire) == epoch {
                state.inner.exact.insert(key, entry.clone());
            }
            entry
        }
    };
    let cache_control = if caller.key_name.is_some() {
        IMMUTABLE_PRIVATE
    } else {
        IMMUTABLE
    };
    Ok(cacheable(&cached.0, cached.1.clone(), cache_control, headers))
}

fn parse_label(label: &str) -> Result<LabelName, ApiError> {
    LabelName::new(label).map_err(ApiError::from)
}

fn parse_version(text: &str, what: &str) -> Result<Version, ApiError> {
    Version::parse(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_version",
            format!("{what}: `{text}` is not a full version like 1.2.0: {e}"),
        )
    })
}

fn check_protected(state: &AppState, caller: &crate::keys::Caller, labels: &[String]) -> Result<(), ApiError> {
    for label in labels {
        if state.is_protected(label) {
            require(caller, Scope::Admin, &format!("moving the protected label `{label}`"))?;
        }
    }
    Ok(())
}

// ----- path parameters (documentation only: handlers take the segments as strings and parse
// them, so a malformed one gets our problem, not the router's) --------------------------------

/// The path of a prompt.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct PromptPath {
    /// The prompt id (percent-encoded)
    #[param(
        pattern = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$",
        max_length = 200,
        example = "examples/greeting"
    )]
    id: String,
}

/// The path of a reference to a version.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct ReferencePath {
    /// A reference: `id`, `id@1.2.0`, `id@^1`, `id@production` (percent-encoded)
    #[param(
        pattern = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*(@((0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?|(\^|~|=|>=|<=|>|<)(0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})|\*))?|\*(\.\*)?))?|\*|[a-z][a-z0-9._-]{0,63}))?$",
        max_length = 200,
        example = "examples/greeting@production"
    )]
    id: String,
}

/// The path of a prompt's label.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct LabelPath {
    /// The prompt id (percent-encoded)
    #[param(
        pattern = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$",
        max_length = 200,
        example = "examples/greeting"
    )]
    id: String,
    /// The label
    #[param(pattern = r"^[a-z][a-z0-9._-]*$", max_length = 64, example = "production")]
    label: String,
}

/// The path of one exact version.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct VersionPath {
    /// The prompt id (percent-encoded)
    #[param(
        pattern = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$",
        max_length = 200,
        example = "examples/greeting"
    )]
    id: String,
    /// An exact version, `1.2.0`
    #[param(
        pattern = r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$",
        example = "1.0.0"
    )]
    version: String,
}

// ----- prompts --------------------------------------------------------------------------------

/// Filters and pagination of the prompt list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read from the raw pairs, to allow repeated `tag`s
pub(crate) struct ListParams {
    /// Only prompts with this tag; repeat it (`tag=a&tag=b`) or separate with commas for several.
    tag: Option<Vec<String>>,
    /// Only prompts with this status.
    #[param(value_type = Option<schema::Status>)]
    status: Option<String>,
    /// Only ids starting with this (`support/`).
    prefix: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List prompts, by id, filtered, one page at a time.
#[utoipa::path(get, path = "/v1/prompts", tag = "prompts", params(ListParams),
    responses((status = 200, description = "A page of prompts", body = PromptPage),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_prompts(
    _: ReadAccess,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<PromptPage>, ApiError> {
    let mut query = ListQuery {
        limit: Some(100),
        ..ListQuery::default()
    };
    for (name, value) in pairs {
        match name.as_str() {
            "tag" => query.tags.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            ),
            "status" => {
                query.status = Some(
                    value
                        .parse::<PromptStatus>()
                        .map_err(|e| ApiError::bad_request(format!("status: {e}")))?,
                )
            }
            "prefix" => query.id_prefix = Some(value),
            "limit" => {
                let limit = value.parse::<usize>().ok().filter(|n| (1..=1000).contains(n));
                query.limit = Some(limit.ok_or_else(|| {
                    ApiError::bad_request(format!("limit: `{value}` must be a whole number from 1 to 1000"))
                })?);
            }
            "cursor" => query.cursor = Some(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`; use tag, status, prefix, limit or cursor"
                )));
            }
        }
    }
    let page = state.inner.pm.list(&query).await?;
    Ok(Json(PromptPage {
        items: page.items.into_iter().map(stored_summary).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create a prompt (version 1.0.0 unless `version` says otherwise).
#[utoipa::path(post, path = "/v1/prompts", tag = "prompts", request_body = CreateRequest,
    responses((status = 201, description = "Created; `Location` is the exact version", body = schema::PromptVersion,
            headers(("ETag" = String, description = "The version's ETag"), ("Location" = String, description = "The exact version"))),
        (status = 400, description = "A bad label or version", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or may not move a protected label", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The prompt exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid prompt or template", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_prompt(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    check_protected(&state, &caller, &request.labels)?;
    let labels = request
        .labels
        .iter()
        .map(|l| parse_label(l))
        .collect::<Result<Vec<_>, _>>()?;
    let version = request
        .version
        .as_deref()
        .map(|v| parse_version(v, "version"))
        .transpose()?;
    let options = CreateOptions {
        version,
        status: request.status.unwrap_or_default(),
        labels,
        changelog: request.changelog,
        author: None,
    };
    let outcome = state.writer(&caller).create_with(request.prompt, options).await?;
    let v = outcome.version;
    let mut response = (StatusCode::CREATED, Json(&*v)).into_response();
    let h = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&etag(&v)) {
        h.insert(header::ETAG, tag);
    }
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/prompts/{}", encode_segment(&v.reference()))) {
        h.insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Get the version a reference names: `id` (latest), `id@1.2.0`, `id@^1`, `id@~1.2`, `id@production`.
/// Percent-encode it: `support%2Ftriage%40production`. Exact versions are immutable and cached for a
/// year; label and latest reads revalidate with `If-None-Match`.
#[utoipa::path(get, path = "/v1/prompts/{id}", tag = "prompts",
    params(ReferencePath,
        ("If-None-Match" = Option<String>, Header, description = "An ETag the client holds")),
    responses((status = 200, description = "The version", body = schema::PromptVersion,
            headers(("ETag" = String, description = "Version and content hash"), ("Cache-Control" = String, description = "immutable for exact versions, no-cache otherwise"))),
        (status = 304, description = "The client's copy is current"),
        (status = 400, description = "A malformed reference", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt, version or label", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_prompt(
    ReadAccess(caller): ReadAccess,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let parsed = PromptRef::parse(&reference)?;
    if let Selector::Exact(version) = &parsed.selector {
        return exact_version(&state, &caller, &parsed.id, version, &headers).await;
    }
    let v = state.inner.pm.get(&reference).await?;
    Ok(cacheable(&etag(&v), to_json_bytes(&*v)?, REVALIDATE, &headers))
}

/// Save new content as a new version. `If-Match` (an ETag of the latest version) makes it
/// compare-and-set: a stale one gets 412 and nothing is written. Identical content makes no
/// version (200, `created: false`).
#[utoipa::path(put, path = "/v1/prompts/{id}", tag = "prompts", request_body = UpdateRequest,
    params(PromptPath,
        ("If-Match" = Option<String>, Header, description = "The ETag of the latest version this update is based on")),
    responses((status = 200, description = "Identical content: no new version", body = UpdateResponse),
        (status = 201, description = "A new version", body = UpdateResponse, headers(("ETag" = String, description = "The new version's ETag"))),
        (status = 400, description = "Bad input", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`expected_version` is stale", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` is stale: nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid prompt or template", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn update_prompt(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<UpdateRequest>,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    if request.prompt.id != id {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!(
                "prompt.id `{}` in the body differs from `{id}` in the path",
                request.prompt.id
            ),
        ));
    }
    check_protected(&state, &caller, &request.labels)?;
    let labels = request
        .labels
        .iter()
        .map(|l| parse_label(l))
        .collect::<Result<Vec<_>, _>>()?;
    let mut expected = request
        .expected_version
        .as_deref()
        .map(|v| parse_version(v, "expected_version"))
        .transpose()?;
    let if_match = list_header(&headers, &header::IF_MATCH)?;
    if let Some(if_match) = if_match.as_deref() {
        let latest = state.inner.pm.store().get_latest(&id).await?;
        let current = etag(&latest);
        if !match_accepts(if_match, &current) {
            return Err(precondition_failed(format!(
                "If-Match {if_match} does not match the latest version of `{id}`, {} (ETag {current}); nothing was written — reload and retry",
                latest.version
            )));
        }
        // `*` only asks that the prompt exists; a tag pins the update to the version it names.
        if if_match.trim() != "*" {
            if let Some(stale) = expected.as_ref().filter(|e| **e != latest.version) {
                return Err(precondition_failed(format!(
                    "expected_version {stale} and If-Match {if_match} disagree: the latest version of `{id}` is {}; nothing was written",
                    latest.version
                )));
            }
            expected = Some(latest.version.clone());
        }
    }
    let options = UpdateOptions {
        expected,
        labels,
        ..UpdateOptions::new(request.bump, request.changelog)
    };
    let outcome = match state.writer(&caller).update_with(request.prompt, options).await {
        Err(e @ Error::VersionConflict { .. }) if if_match.is_some() => {
            return Err(precondition_failed(format!("If-Match is stale: {e}")));
        }
        other => other?,
    };
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let tag = etag(&outcome.version);
    let location = format!("/v1/prompts/{}", encode_segment(&outcome.version.reference()));
    let body = UpdateResponse {
        created: outcome.created,
        version: (*outcome.version).clone(),
        labels: outcome.labels.into_iter().map(stored_event).collect(),
    };
    let mut response = (status, Json(body)).into_response();
    let h = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, tag);
    }
    if let Ok(location) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Status, latest version, labels and tags of a prompt.
#[utoipa::path(get, path = "/v1/prompts/{id}/summary", tag = "prompts",
    params(PromptPath),
    responses((status = 200, description = "The summary", body = schema::PromptSummary),
        (status = 400, description = "A malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_summary(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let summary = state.inner.pm.summary(&id).await?;
    Ok(Json(stored_summary(summary)).into_response())
}

/// Archive a prompt: it stays stored and readable but refuses to render.
#[utoipa::path(post, path = "/v1/prompts/{id}/archive", tag = "prompts",
    params(PromptPath),
    responses((status = 200, description = "Archived", body = schema::PromptSummary),
        (status = 400, description = "A malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already archived", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn archive_prompt(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let summary = state.writer(&caller).archive(&id).await?;
    Ok(Json(stored_summary(summary)).into_response())
}

// ----- versions -------------------------------------------------------------------------------

/// The versions of a prompt, newest first, without content.
#[utoipa::path(get, path = "/v1/prompts/{id}/versions", tag = "versions",
    params(PromptPath),
    responses((status = 200, description = "The history", body = VersionsResponse),
        (status = 400, description = "A malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_versions(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<VersionsResponse>, ApiError> {
    let versions = state.inner.pm.history(&id).await?;
    Ok(Json(VersionsResponse { id, versions }))
}

/// One exact version (immutable: cached for a year, revalidated by ETag).
#[utoipa::path(get, path = "/v1/prompts/{id}/versions/{version}", tag = "versions",
    params(VersionPath,
        ("If-None-Match" = Option<String>, Header, description = "An ETag the client holds")),
    responses((status = 200, description = "The version", body = schema::PromptVersion,
            headers(("ETag" = String, description = "Version and content hash"), ("Cache-Control" = String, description = "immutable for a year: public without API keys, private with one"))),
        (status = 304, description = "The client's copy is current"),
        (status = 400, description = "A malformed id or version", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt or version", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_version(
    ReadAccess(caller): ReadAccess,
    State(state): State<AppState>,
    Path((id, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    let version = parse_version(&version, "version")?;
    exact_version(&state, &caller, &id, &version, &headers).await
}

/// The two sides of a diff.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffParams {
    /// The old side: a version, requirement or label (`1.0.0`, `^1`, `production`).
    #[param(
        pattern = r"^((0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?|(\^|~|=|>=|<=|>|<)(0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})|\*))?|\*(\.\*)?))?|\*|[a-z][a-z0-9._-]{0,63})$"
    )]
    from: String,
    /// The new side (default: the latest version).
    #[param(
        pattern = r"^((0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?|(\^|~|=|>=|<=|>|<)(0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})(\.((0|[1-9][0-9]{0,18})|\*))?|\*(\.\*)?))?|\*|[a-z][a-z0-9._-]{0,63})$"
    )]
    to: Option<String>,
}

/// The structural diff between two versions of a prompt, with the bump it suggests.
#[utoipa::path(get, path = "/v1/prompts/{id}/diff", tag = "versions",
    params(PromptPath, DiffParams),
    responses((status = 200, description = "The diff", body = DiffResponse),
        (status = 400, description = "A malformed id or side", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt, version or label", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn diff_versions(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<DiffParams>,
) -> Result<Json<DiffResponse>, ApiError> {
    let id = PromptId::new(&id)?;
    let from = format!("{id}@{}", params.from);
    let to = match &params.to {
        Some(to) => format!("{id}@{to}"),
        None => id.to_string(),
    };
    let old = state.inner.pm.get(&from).await?;
    let new = state.inner.pm.get(&to).await?;
    let diff = state.inner.pm.diff(&old.reference(), &new.reference()).await?;
    let suggestion = suggest(&diff);
    Ok(Json(DiffResponse {
        from: old.reference(),
        to: new.reference(),
        changed: !diff.is_empty(),
        suggested_bump: suggestion.bump,
        reasons: suggestion.reasons,
        changelog_draft: changelog_draft(&diff),
        text: diff.to_string(),
        diff: serde_json::to_value(&diff).unwrap_or_default(),
    }))
}

// ----- labels ---------------------------------------------------------------------------------

/// The labels of a prompt and the versions they point to.
#[utoipa::path(get, path = "/v1/prompts/{id}/labels", tag = "labels",
    params(PromptPath),
    responses((status = 200, description = "The labels", body = LabelsResponse),
        (status = 400, description = "A malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_labels(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LabelsResponse>, ApiError> {
    let summary = state.inner.pm.summary(&id).await?;
    Ok(Json(LabelsResponse {
        id,
        labels: summary
            .labels
            .into_iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        protected: summary.protected.iter().map(ToString::to_string).collect(),
    }))
}

/// Where one label points. The ETag is the target version's: send it as `If-Match` to move the label safely.
#[utoipa::path(get, path = "/v1/prompts/{id}/labels/{label}", tag = "labels",
    params(LabelPath,
        ("If-None-Match" = Option<String>, Header, description = "An ETag the client holds")),
    responses((status = 200, description = "The label", body = LabelResponse, headers(("ETag" = String, description = "The target version's ETag"))),
        (status = 304, description = "The client's copy is current"),
        (status = 400, description = "A malformed id or label", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt or label", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_label(
    _: ReadAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    let label = parse_label(&label)?;
    let v = state.inner.pm.get(&format!("{id}@{label}")).await?;
    let body = LabelResponse {
        id: id.to_string(),
        label: label.to_string(),
        version: v.version.to_string(),
    };
    Ok(cacheable(&etag(&v), to_json_bytes(&body)?, REVALIDATE, &headers))
}

async fn label_move_response(
    state: &AppState,
    id: &PromptId,
    label: &LabelName,
    version: Option<Version>,
    event: Option<prompt_manager::LabelEvent>,
) -> Result<Response, ApiError> {
    // The move is committed: a failed read of the target's ETag must not turn it into an error
    // (a client retrying a rollback would roll back twice). The ETag is then left out.
    let tag = match &version {
        Some(v) => state.inner.pm.store().get_version(id, v).await.ok().map(|v| etag(&v)),
        None => None,
    };
    let mut response = Json(LabelMoveResponse {
        id: id.to_string(),
        label: label.to_string(),
        version: version.map(|v| v.to_string()),
        event: event.map(stored_event),
    })
    .into_response();
    if let Some(tag) = tag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

/// Point a label at an exact version. A protected label (`production`) needs an `admin` key.
/// `If-Match` (the ETag of the label's current target) makes it compare-and-set: stale → 412.
#[utoipa::path(put, path = "/v1/prompts/{id}/labels/{label}", tag = "labels", request_body = SetLabelRequest,
    params(LabelPath,
        ("If-Match" = Option<String>, Header, description = "The ETag of the version the label points to now")),
    responses((status = 200, description = "Moved (no `event` when it already pointed there)", body = LabelMoveResponse),
        (status = 400, description = "A malformed id, label or version", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or the label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt or version", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` is stale: nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "JSON that is not a label move (`version` missing, not a string, an unknown field)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn set_label(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<SetLabelRequest>,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    let label = parse_label(&label)?;
    check_protected(&state, &caller, &[label.to_string()])?;
    let version = parse_version(&request.version, "version")?;
    let pm = state.writer(&caller);
    let event = match label_if_match(&state, &headers, &id, &label).await? {
        Some(current) => stale_as_412(
            pm.set_label_with(&id, &label, &version, LabelOptions::expecting(current))
                .await,
        )?,
        None => pm.set_label(&id, &label, &version).await?,
    };
    label_move_response(&state, &id, &label, Some(version), event).await
}

/// Checks a label move's `If-Match` against the ETag of the version the label points to now:
/// `None` without the header, the current target when it matches, 412 otherwise (404 for a
/// missing prompt). The move itself then compare-and-sets on that target.
async fn label_if_match(
    state: &AppState,
    headers: &HeaderMap,
    id: &PromptId,
    label: &LabelName,
) -> Result<Option<Version>, ApiError> {
    let Some(if_match) = list_header(headers, &header::IF_MATCH)? else {
        return Ok(None);
    };
    let store = state.inner.pm.store();
    let current = match store.get_label(id, label).await {
        Ok(v) => v,
        Err(Error::NotFound(_)) => {
            // Tell a missing prompt (404) from an unset label (412).
            store.summary(id).await?;
            return Err(precondition_failed(format!(
                "If-Match {if_match}: label `{label}` of `{id}` is not set; nothing was written"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let current_tag = etag(&*store.get_version(id, &current).await?);
    if !match_accepts(&if_match, &current_tag) {
        return Err(precondition_failed(format!(
            "If-Match {if_match} does not match label `{label}` of `{id}`, which points to {current} (ETag {current_tag}); nothing was written"
        )));
    }
    Ok(Some(current))
}

/// A compare-and-set that lost a race after its `If-Match` passed: 412, nothing written.
fn stale_as_412<T>(result: Result<T, Error>) -> Result<T, ApiError> {
    match result {
        Err(e @ Error::VersionConflict { .. }) => Err(precondition_failed(format!("If-Match is stale: {e}"))),
        other => other.map_err(ApiError::from),
    }
}

/// Remove a label. A protected label needs an `admin` key.
#[utoipa::path(delete, path = "/v1/prompts/{id}/labels/{label}", tag = "labels",
    params(LabelPath,
        ("If-Match" = Option<String>, Header, description = "The ETag of the version the label points to now")),
    responses((status = 200, description = "Removed", body = LabelMoveResponse),
        (status = 400, description = "A malformed id or label", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or the label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt or label", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` is stale: nothing was removed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn remove_label(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    let label = parse_label(&label)?;
    check_protected(&state, &caller, &[label.to_string()])?;
    let pm = state.writer(&caller);
    let event = match label_if_match(&state, &headers, &id, &label).await? {
        Some(current) => stale_as_412(
            pm.remove_label_with(&id, &label, LabelOptions::expecting(current))
                .await,
        )?,
        None => pm.remove_label(&id, &label).await?,
    };
    label_move_response(&state, &id, &label, None, Some(event)).await
}

/// The moves of a label, oldest first: who, when, from, to.
#[utoipa::path(get, path = "/v1/prompts/{id}/labels/{label}/history", tag = "labels",
    params(LabelPath),
    responses((status = 200, description = "The history", body = LabelHistoryResponse),
        (status = 400, description = "A malformed id or label", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn label_history(
    _: ReadAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
) -> Result<Json<LabelHistoryResponse>, ApiError> {
    let events = state.inner.pm.label_history(&id, Some(&label)).await?;
    let events = events.into_iter().map(stored_event).collect();
    Ok(Json(LabelHistoryResponse { id, label, events }))
}

/// Move a label back to where it pointed before its current assignment. A protected label needs `admin`.
#[utoipa::path(post, path = "/v1/prompts/{id}/labels/{label}/rollback", tag = "labels",
    params(LabelPath),
    responses((status = 200, description = "Rolled back", body = LabelMoveResponse),
        (status = 400, description = "A malformed id or label", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or the label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The label moved meanwhile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No earlier version to go back to", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn rollback_label(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    let label = parse_label(&label)?;
    check_protected(&state, &caller, &[label.to_string()])?;
    let event = state.writer(&caller).rollback(&id, &label).await?;
    let to = event.to.clone();
    label_move_response(&state, &id, &label, to, Some(event)).await
}

// ----- rendering ------------------------------------------------------------------------------

/// Options of a render.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenderParams {
    /// Render into the request body of a framework: `openai`, `anthropic`, `gemini`, `langchain`, `litellm`.
    #[serde(rename = "as")]
    #[param(rename = "as", value_type = Option<schema::Framework>, inline)]
    framework: Option<String>,
}

async fn render_one(
    state: &AppState,
    reference: &str,
    variables: &Variables,
    framework: Option<&str>,
) -> Result<RenderResult, ApiError> {
    let pm = &state.inner.pm;
    if let Some(framework) = framework {
        if pm.plugin(framework).is_none() {
            let known = pm.plugin_names();
            return Err(ApiError::bad_request(format!(
                "as: unknown framework `{framework}`; this server renders for {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        return Ok(RenderResult::Payload(
            pm.render_for(framework, reference, variables).await?,
        ));
    }
    let rendered = pm.render_prompt(reference, variables).await?;
    let (text, messages) = match rendered.output {
        RenderOutput::Text(t) => (Some(t), None),
        RenderOutput::Messages(m) => (None, Some(m)),
    };
    Ok(RenderResult::Rendered(Box::new(RenderResponse {
        id: rendered.id.to_string(),
        version: rendered.version.to_string(),
        format: rendered.format,
        content_hash: rendered.content_hash.to_string(),
        text,
        messages,
        model_config: rendered.model_config,
    })))
}

/// Render a prompt with variables: text for text prompts, messages for chat prompts, or with
/// `as` the request body a framework takes.
#[utoipa::path(post, path = "/v1/prompts/{id}/render", tag = "render", request_body = RenderRequest,
    params(ReferencePath, RenderParams),
    responses((status = 200, description = "The rendered prompt", body = RenderResult),
        (status = 400, description = "A malformed reference or unknown framework", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt, version or label", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The prompt is archived", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or mistyped variables, a render error or limit, or a prompt the framework cannot take", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn render(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Query(params): Query<RenderParams>,
    JsonBody(request): JsonBody<RenderRequest>,
) -> Result<Json<RenderResult>, ApiError> {
    render_one(&state, &reference, &request.variables, params.framework.as_deref())
        .await
        .map(Json)
}

/// Render many prompts in one request (at most 100). Each item succeeds or fails on its own.
#[utoipa::path(post, path = "/v1/render", tag = "render", request_body = BatchRequest,
    responses((status = 200, description = "One outcome per request, in order", body = BatchResponse),
        (status = 400, description = "Too many renders", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed batch", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn render_batch(
    _: ReadAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<BatchRequest>,
) -> Result<Response, ApiError> {
    let max = state.inner.options.max_batch;
    if request.requests.len() > max {
        return Err(ApiError::bad_request(format!(
            "requests: {} renders in one batch; the limit is {max}",
            request.requests.len()
        )));
    }
    let mut results = Vec::with_capacity(request.requests.len());
    // The errors of failed items, for the logging middleware (`error_log`).
    let mut failures = Vec::new();
    for item in &request.requests {
        results.push(
            match render_one(&state, &item.reference, &item.variables, item.framework.as_deref()).await {
                Ok(result) => BatchOutcome {
                    ok: true,
                    result: Some(result),
                    error: None,
                },
                Err(e) => {
                    failures.extend(e.failure());
                    BatchOutcome {
                        ok: false,
                        result: None,
                        error: Some(e.problem()),
                    }
                }
            },
        );
    }
    let mut response = Json(BatchResponse { results }).into_response();
    response.extensions_mut().insert(crate::error_log::Failures(failures));
    Ok(response)
}

// ----- operations -----------------------------------------------------------------------------

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        store: None,
    })
}

/// Readiness: the store answers a query within 2 s.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Health),
        (status = 503, description = "The store does not answer", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let pm = &state.inner.pm;
    let query = ListQuery {
        limit: Some(1),
        ..ListQuery::default()
    };
    match tokio::time::timeout(Duration::from_secs(2), pm.list(&query)).await {
        Ok(Ok(_)) => Ok(Json(Health {
            status: "ok".into(),
            store: Some(pm.store().backend_name().to_owned()),
        })),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness check: the store failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the prompt store does not answer; the server log has the details",
            ))
        }
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the prompt store did not answer within 2 s",
        )),
    }
}

/// Metrics in the Prometheus text format: renders, errors, latencies, versions, label moves, cache.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn metrics(_: ReadAccess, State(state): State<AppState>) -> Response {
    let metrics = &state.inner.metrics;
    metrics.record_cache_stats(&state.inner.pm.cache_stats());
    let mut response = metrics.render_prometheus().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_for_paths() {
        assert_eq!(encode_segment("support/triage@^1.2"), "support%2Ftriage@%5E1.2");
        assert_eq!(encode_segment("a.b-c_d~e"), "a.b-c_d~e");
    }

    #[test]
    fn preconditions_compare_as_rfc_9110_says() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"x\", \"y\""));
        assert!(none_match_hits(&headers, "\"x\""), "weak comparison for If-None-Match");
        assert!(none_match_hits(&headers, "\"y\""));
        assert!(!none_match_hits(&headers, "\"z\""));
        assert!(match_accepts("\"a\", \"b\"", "\"b\""));
        assert!(match_accepts("*", "\"b\""));
        assert!(!match_accepts("W/\"b\"", "\"b\""), "strong comparison for If-Match");
    }
}
