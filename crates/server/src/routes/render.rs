//! The render routes: one reference, or a batch, as text, chat messages or a framework's payload.

use super::*;

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

/// The longest split key a render takes, in bytes.
const MAX_SPLIT_KEY: usize = 1024;

async fn render_one(
    state: &AppState,
    reference: &str,
    variables: &Variables,
    framework: Option<&str>,
    split_key: Option<&str>,
) -> Result<RenderResult, ApiError> {
    let pm = &state.inner.pm;
    if let Some(key) = split_key.filter(|k| k.len() > MAX_SPLIT_KEY) {
        return Err(ApiError::bad_request(format!(
            "split_key: {} bytes; a split key is at most {MAX_SPLIT_KEY}",
            key.len()
        )));
    }
    let mut options = prompt_manager::RenderOptions::default();
    options.split_key = split_key;
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
            pm.render_for_with(framework, reference, variables, &options).await?,
        ));
    }
    let rendered = pm.render_prompt_with(reference, variables, &options).await?;
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
        variant: rendered.variant,
        render_id: rendered.render_id.map(|id| id.to_string()),
    })))
}

/// Render a prompt with variables: text for text prompts, messages for chat prompts, or with
/// `as` the request body a framework takes. By an A/B split label, `split_key` picks the variant
/// (sticky), and `variant` says which served.
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
    render_one(
        &state,
        &reference,
        &request.variables,
        params.framework.as_deref(),
        request.split_key.as_deref(),
    )
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
    // A split key over the limit breaks the batch's schema, not one render: refuse the batch.
    if let Some((i, key)) = request.requests.iter().enumerate().find_map(|(i, item)| {
        item.split_key
            .as_ref()
            .filter(|k| k.len() > MAX_SPLIT_KEY)
            .map(|k| (i, k))
    }) {
        return Err(ApiError::bad_request(format!(
            "requests[{i}].split_key: {} bytes; a split key is at most {MAX_SPLIT_KEY}",
            key.len()
        )));
    }
    let mut results = Vec::with_capacity(request.requests.len());
    // The errors of failed items, for the logging middleware (`error_log`).
    let mut failures = Vec::new();
    for item in &request.requests {
        results.push(
            match render_one(
                &state,
                &item.reference,
                &item.variables,
                item.framework.as_deref(),
                item.split_key.as_deref(),
            )
            .await
            {
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
