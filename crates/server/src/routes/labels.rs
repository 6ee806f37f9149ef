//! The label routes: list, read, set and remove (compare-and-set with `If-Match`), history and
//! rollback. A protected label needs an admin key (the server's configuration and the prompt's
//! own protection, which the store enforces).

use super::*;

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
