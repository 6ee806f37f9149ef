//! The handlers of `/v1`, `/healthz`, `/readyz` and `/metrics`, each with its OpenAPI
//! description (utoipa), one module per area (`prompts`, `labels`, `render`, `operations`;
//! governance is in `crate::governance`), and what they share here: the extractors that answer
//! problem+json, the HTTP caching helpers (ETag, `If-None-Match`, `If-Match`) and the documented
//! path parameters.

mod interop;
mod labels;
mod operations;
mod prices;
mod prompts;
mod render;
mod webhooks;

pub(crate) use interop::*;
pub(crate) use labels::*;
pub(crate) use operations::*;
pub(crate) use prices::*;
pub(crate) use prompts::*;
pub(crate) use render::*;
pub(crate) use webhooks::*;

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
    CreateOptions, Error, LabelName, ListQuery, PromptId, PromptRef, PromptStatus, PromptVersion, RenderOutput,
    Selector, UpdateOptions, Variables,
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
