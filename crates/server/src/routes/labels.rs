//! The label routes: list, read, set and remove (compare-and-set with `If-Match`), history and
//! rollback. A protected label needs an admin key (the server's configuration and the prompt's
//! own protection, which the store enforces).

use prompt_manager::{ExpectTarget, LabelTarget, SplitOptions};

use crate::dto::SetSplitRequest;

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
        splits: summary.splits.into_iter().map(|(l, s)| (l.to_string(), s)).collect(),
    }))
}

/// The ETag of an A/B split as a label target: `"split-"` and the XXH64 of its text
/// (`1.2.0=90 1.3.0=10`), so it changes with any version or weight.
fn split_etag(split: &prompt_manager::Split) -> String {
    format!(
        "\"split-{:016x}\"",
        prompt_manager::split::xxh64(split.to_string().as_bytes(), 0)
    )
}

/// The ETag of a label target: its version's, or its split's.
async fn target_etag(state: &AppState, id: &PromptId, target: &LabelTarget) -> Result<String, Error> {
    match target {
        LabelTarget::Version(v) => Ok(etag(&*state.inner.pm.store().get_version(id, v).await?)),
        LabelTarget::Split(split) => Ok(split_etag(split)),
    }
}

/// Where one label points. The ETag is the target version's (an A/B split's own, which changes
/// with any version or weight): send it as `If-Match` to move the label safely.
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
    let summary = state.inner.pm.summary(&id).await?;
    if let (Some(split), Some(version)) = (summary.splits.get(&label), summary.labels.get(&label)) {
        let body = LabelResponse {
            id: id.to_string(),
            label: label.to_string(),
            version: version.to_string(),
            split: Some(split.clone()),
        };
        return Ok(cacheable(
            &split_etag(split),
            to_json_bytes(&body)?,
            REVALIDATE,
            &headers,
        ));
    }
    let v = state.inner.pm.get(&format!("{id}@{label}")).await?;
    let body = LabelResponse {
        id: id.to_string(),
        label: label.to_string(),
        version: v.version.to_string(),
        split: None,
    };
    Ok(cacheable(&etag(&v), to_json_bytes(&body)?, REVALIDATE, &headers))
}

async fn label_move_response(
    state: &AppState,
    id: &PromptId,
    label: &LabelName,
    target: Option<LabelTarget>,
    event: Option<prompt_manager::LabelEvent>,
) -> Result<Response, ApiError> {
    // The move is committed: a failed read of the target's ETag must not turn it into an error
    // (a client retrying a rollback would roll back twice). The ETag is then left out.
    let tag = match &target {
        Some(target) => target_etag(state, id, target).await.ok(),
        None => None,
    };
    let mut response = Json(LabelMoveResponse {
        id: id.to_string(),
        label: label.to_string(),
        version: target.as_ref().map(|t| t.version().to_string()),
        split: target.as_ref().and_then(|t| t.split().cloned()),
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
    let target = LabelTarget::Version(version.clone());
    let event = match label_if_match(&state, &headers, &id, &label).await? {
        Some(current) => stale_as_412(
            pm.assign_label_with(&id, &label, Some(target.clone()), expecting(current))
                .await,
        )?,
        None => pm.set_label(&id, &label, &version).await?,
    };
    label_move_response(&state, &id, &label, Some(target), event).await
}

/// Compare-and-set on `current`.
fn expecting(current: LabelTarget) -> SplitOptions {
    SplitOptions {
        expected: ExpectTarget::Is(current),
    }
}

/// Make a label an A/B split of 2 to 10 existing versions with weights: renders by the label
/// then pick a variant (sticky by `split_key`). Setting the label to one version
/// (`PUT …/labels/{label}`) ends the test. A protected label needs an `admin` key; `If-Match`
/// (the ETag of the label's current target) makes it compare-and-set: stale → 412.
#[utoipa::path(put, path = "/v1/prompts/{id}/labels/{label}/split", tag = "labels", request_body = SetSplitRequest,
    params(LabelPath,
        ("If-Match" = Option<String>, Header, description = "The ETag of what the label points to now")),
    responses((status = 200, description = "Split (no `event` when it already was this split)", body = LabelMoveResponse),
        (status = 400, description = "A malformed id, label or version, or a split that breaks the rules (2 to 10 distinct versions, weights from 1)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or the label is protected", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prompt or version", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` is stale: nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "JSON that is not a split (`variants` missing, a weight not a whole number, an unknown field)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn set_split(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<SetSplitRequest>,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    let label = parse_label(&label)?;
    check_protected(&state, &caller, &[label.to_string()])?;
    let variants = request
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Ok(prompt_manager::SplitVariant::new(
                parse_version(&v.version, &format!("variants[{i}].version"))?,
                v.weight,
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    // Well-formed but not a split (a version named twice): unprocessable, not malformed.
    let split = prompt_manager::Split::new(variants)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))?;
    let pm = state.writer(&caller);
    let target = LabelTarget::Split(split.clone());
    let event = match label_if_match(&state, &headers, &id, &label).await? {
        Some(current) => stale_as_412(
            pm.assign_label_with(&id, &label, Some(target.clone()), expecting(current))
                .await,
        )?,
        None => pm.set_split(&id, &label, split).await?,
    };
    label_move_response(&state, &id, &label, Some(target), event).await
}

/// Checks a label move's `If-Match` against the ETag of the version the label points to now:
/// `None` without the header, the current target when it matches, 412 otherwise (404 for a
/// missing prompt). The move itself then compare-and-sets on that target.
async fn label_if_match(
    state: &AppState,
    headers: &HeaderMap,
    id: &PromptId,
    label: &LabelName,
) -> Result<Option<LabelTarget>, ApiError> {
    let Some(if_match) = list_header(headers, &header::IF_MATCH)? else {
        return Ok(None);
    };
    let store = state.inner.pm.store();
    let summary = store.summary(id).await?;
    let Some(version) = summary.labels.get(label) else {
        return Err(precondition_failed(format!(
            "If-Match {if_match}: label `{label}` of `{id}` is not set; nothing was written"
        )));
    };
    let current = LabelTarget::from_parts(version.clone(), summary.splits.get(label).cloned());
    let current_tag = target_etag(state, id, &current).await?;
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
        Some(current) => stale_as_412(pm.assign_label_with(&id, &label, None, expecting(current)).await)?
            .ok_or_else(|| Error::NotFound(prompt_manager::NotFound::Label(id.clone(), label.clone())))?,
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
    let to = event.to_target();
    label_move_response(&state, &id, &label, to, Some(event)).await
}
