//! The prompt and version routes: list, create, read, update, summary, archive, the version
//! history, one version, and the structural diff of two versions.

use super::*;

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
    /// Only prompts whose id, latest description or one of its tags contains this text, ignoring
    /// ASCII case; `%` and `_` are literal. At most 200 bytes.
    q: Option<String>,
    /// Only prompts on which this label is set.
    #[param(pattern = r"^[a-z][a-z0-9._-]*$", max_length = 64, example = "production")]
    label: Option<String>,
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
            "q" => query.search = Some(value),
            "label" => query.label = Some(parse_label(&value)?),
            "limit" => {
                let limit = value.parse::<usize>().ok().filter(|n| (1..=1000).contains(n));
                query.limit = Some(limit.ok_or_else(|| {
                    ApiError::bad_request(format!("limit: `{value}` must be a whole number from 1 to 1000"))
                })?);
            }
            "cursor" => query.cursor = Some(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`; use tag, status, prefix, q, label, limit or cursor"
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
    // Each version is read once: the diff is computed from what was just read.
    let diff = prompt_manager::versioning::diff(state.inner.pm.engines(), &old, &new)?;
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
