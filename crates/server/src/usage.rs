//! The usage routes and their JSON bodies: what callers report after the model call
//! (`POST /v1/renders/{render_id}/usage`, `…/feedback`) and a prompt's analytics
//! (`GET /v1/prompts/{id}/analytics`). The records themselves are the manager's
//! (`prompt_manager::analytics`); the server flushes them in the background ([`Server::run`](crate::Server::run)).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use prompt_manager::analytics::RenderToken;
use prompt_manager::{AnalyticsQuery, Bucket, Feedback, GroupBy, PromptId, UsageReport};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Json, Problem};
use crate::routes::{Path, PromptPath, Query};
use crate::state::{AppState, ReadAccess};

/// The default range of `GET /v1/prompts/{id}/analytics`: the last day.
const DEFAULT_RANGE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The path of a render.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct RenderPath {
    /// The `render_id` a render returned (`r1…`), unchanged
    #[param(pattern = r"^r1[A-Za-z0-9_-]+$", max_length = 1024)]
    render_id: String,
}

/// A render id that is not a token of ours names no render: 404, as an unknown prompt is
/// (the path matches the id's syntax; only the server can tell the checksum is wrong).
fn unknown_render(error: prompt_manager::Error) -> ApiError {
    match error {
        prompt_manager::Error::InvalidArgument {
            argument: "render id", ..
        } => ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no render: {error}")),
        other => other.into(),
    }
}

/// What the model call of a render used.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsageRequest {
    /// Tokens the model produced.
    #[serde(default)]
    #[schema(minimum = 0)]
    output_tokens: Option<u64>,
    /// How long the model call took, in milliseconds.
    #[serde(default)]
    #[schema(minimum = 0)]
    model_latency_ms: Option<u64>,
    /// What the call actually cost in US dollars, when the provider said; otherwise the cost is
    /// estimated from the price book.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1_000_000_000.0)]
    actual_cost_usd: Option<f64>,
}

/// How a render's answer was judged: a success flag and/or a numeric score.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackRequest {
    /// Whether the answer did its job.
    #[serde(default)]
    success: Option<bool>,
    /// A score on the application's scale (at most ±1e6).
    #[serde(default)]
    #[schema(minimum = -1000000, maximum = 1000000)]
    score: Option<f64>,
}

/// The aggregate a report was added to. It is written with the next flush (a few seconds), so
/// analytics shows it then.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReportAccepted {
    /// The render id.
    render_id: String,
    /// The prompt rendered.
    prompt_id: String,
    /// The version rendered.
    version: String,
    /// The label of the reference, if it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    /// The start of the render's minute.
    minute: DateTime<Utc>,
}

impl ReportAccepted {
    fn of(render_id: String, token: RenderToken) -> Response {
        let minute = DateTime::from_timestamp(token.minute_start(), 0).unwrap_or_default();
        let body = ReportAccepted {
            render_id,
            prompt_id: token.key.prompt_id.to_string(),
            version: token.key.version.to_string(),
            label: token.key.label.map(|l| l.to_string()),
            minute,
        };
        (StatusCode::ACCEPTED, Json(body)).into_response()
    }
}

/// Report what the model call of a render used: output tokens, model latency, actual cost. Added
/// to the render's aggregate (prompt, version, label, minute) on any instance.
#[utoipa::path(post, path = "/v1/renders/{render_id}/usage", tag = "usage", request_body = UsageRequest,
    params(RenderPath),
    responses((status = 202, description = "Added to the render's aggregate (stored with the next flush)", body = ReportAccepted),
        (status = 400, description = "An empty or negative report", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a render id issued by prompt-manager", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body, or a store that keeps no usage", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn report_usage(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(render_id): Path<String>,
    crate::body::JsonBody(request): crate::body::JsonBody<UsageRequest>,
) -> Result<Response, ApiError> {
    let actual_cost = match request.actual_cost_usd {
        None => None,
        Some(usd) => Some(prompt_manager::analytics::NanoUsd::from_dollars(usd).ok_or_else(|| {
            ApiError::bad_request(format!(
                "actual_cost_usd: {usd} is not a cost; give a non-negative number of dollars"
            ))
        })?),
    };
    let report = UsageReport {
        output_tokens: request.output_tokens,
        model_latency_ms: request.model_latency_ms,
        actual_cost,
    };
    let token = state
        .inner
        .pm
        .report_usage(&render_id, &report)
        .await
        .map_err(unknown_render)?;
    Ok(ReportAccepted::of(render_id, token))
}

/// Report how a render's answer was judged: success and/or a score. Added to the render's
/// aggregate, where analytics reads success rates and mean scores per version and variant.
#[utoipa::path(post, path = "/v1/renders/{render_id}/feedback", tag = "usage", request_body = FeedbackRequest,
    params(RenderPath),
    responses((status = 202, description = "Added to the render's aggregate (stored with the next flush)", body = ReportAccepted),
        (status = 400, description = "Empty feedback, or a score out of range", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a render id issued by prompt-manager", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed body, or a store that keeps no usage", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn report_feedback(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(render_id): Path<String>,
    crate::body::JsonBody(request): crate::body::JsonBody<FeedbackRequest>,
) -> Result<Response, ApiError> {
    let feedback = Feedback {
        success: request.success,
        score: request.score,
    };
    let token = state
        .inner
        .pm
        .report_feedback(&render_id, &feedback)
        .await
        .map_err(unknown_render)?;
    Ok(ReportAccepted::of(render_id, token))
}

/// The range, buckets and grouping of an analytics query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalyticsParams {
    /// The start, RFC 3339 (`2026-12-01T00:00:00Z`); default a day before `to`. Rounded down to the bucket.
    #[param(format = DateTime)]
    from: Option<String>,
    /// The end, excluded, RFC 3339; default now.
    #[param(format = DateTime)]
    to: Option<String>,
    /// The width of a series point: `minute`, `hour` (default) or `day`.
    #[param(value_type = Option<BucketSchema>, inline)]
    bucket: Option<String>,
    /// The groups: per `version` (default), per `label`, or per `variant` (label × version).
    #[param(value_type = Option<GroupBySchema>, inline)]
    by: Option<String>,
}

/// The width of a series point.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub(crate) enum BucketSchema {
    Minute,
    Hour,
    Day,
}

/// How analytics groups renders.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub(crate) enum GroupBySchema {
    Version,
    Label,
    Variant,
}

/// Whether input token figures are counted, estimated or absent.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub(crate) enum TokenAccuracySchema {
    /// Every render counted with the model's own tokenizer.
    Exact,
    /// Sampled renders counted, the rest extrapolated from the version's tokens per byte.
    Estimated,
    /// No token counter was configured.
    None,
}

/// The figures of a group or a bucket. Costs are integer nano-dollars (1e-9 USD).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the handler serializes the manager's `UsageSummary`
pub(crate) struct UsageSummarySchema {
    /// Renders, successful or not.
    renders: u64,
    /// Failed renders.
    errors: u64,
    /// errors / renders.
    error_rate: Option<f64>,
    /// Failed renders per error code.
    errors_by_kind: std::collections::BTreeMap<String, u64>,
    /// Median render time (µs), from the latency histogram.
    latency_p50_us: Option<f64>,
    /// 95th percentile render time (µs), from the latency histogram.
    latency_p95_us: Option<f64>,
    /// Mean render time (µs).
    latency_mean_us: Option<f64>,
    /// Bytes of output.
    output_bytes: u64,
    /// Input tokens; null when no token counter was configured.
    input_tokens: Option<u64>,
    /// Whether input_tokens is exact.
    input_tokens_accuracy: TokenAccuracySchema,
    /// Output tokens reported.
    output_tokens: u64,
    /// Usage reports received.
    usage_reports: u64,
    /// Mean model latency reported (ms).
    model_latency_mean_ms: Option<f64>,
    /// Estimated input cost (nano-USD); null when the model has no price.
    input_cost: Option<u64>,
    /// Total cost (nano-USD): actual costs reported, estimated output cost of the other reports,
    /// and the input estimate of the renders without an actual cost; null when nothing is priced.
    total_cost: Option<u64>,
    /// Feedback reports.
    feedback: u64,
    /// Successes.
    successes: u64,
    /// Failures.
    failures: u64,
    /// successes / (successes + failures).
    success_rate: Option<f64>,
    /// Scores received.
    scores: u64,
    /// Mean score.
    mean_score: Option<f64>,
    /// Sample standard deviation of the scores.
    score_sd: Option<f64>,
}

/// One bucket of a series: its start and the figures of the bucket (the fields of a summary).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub(crate) struct SeriesPointSchema {
    /// The bucket's start.
    start: DateTime<Utc>,
    /// The figures, flattened beside `start`.
    #[serde(flatten)]
    summary: UsageSummarySchema,
}

/// One group: a version, a label, or a label × version (variant).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub(crate) struct AnalyticsGroupSchema {
    /// The version (by version or variant).
    version: Option<String>,
    /// The label (by label or variant); null for renders without a label.
    label: Option<String>,
    /// The figures over the whole range.
    totals: UsageSummarySchema,
    /// The figures per bucket, oldest first; buckets without records are left out.
    series: Vec<SeriesPointSchema>,
}

/// A prompt's usage over a time range, grouped.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the handler serializes the manager's `Analytics`
pub(crate) struct AnalyticsSchema {
    /// The prompt.
    prompt_id: String,
    /// The first bucket's start.
    from: DateTime<Utc>,
    /// The end, excluded.
    to: DateTime<Utc>,
    /// The bucket width.
    bucket: BucketSchema,
    /// The grouping.
    by: GroupBySchema,
    /// The groups, by label then version.
    groups: Vec<AnalyticsGroupSchema>,
    /// With `by=variant`: per label rendered at two versions or more, each other version
    /// compared with the lowest (the control). Absent otherwise.
    #[schema(nullable = false)]
    experiments: Option<Vec<LabelExperimentSchema>>,
}

/// The variants of one label compared with its control (the lowest version rendered under it).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the handler serializes the manager's `LabelExperiment`
pub(crate) struct LabelExperimentSchema {
    /// The label.
    label: String,
    /// The control's version.
    control: String,
    /// The control's counts (renders, errors, feedback, successes, scores, score_sum, score_sum_sq).
    #[schema(value_type = Object)]
    control_sample: serde_json::Value,
    /// One per other version: `variant`, `control`, `sample`, the tests `success` and `errors`
    /// (two-proportion z-test: p_a, p_b, diff, ci_low, ci_high, z, p_value, enough_data) and
    /// `score` (Welch's t-test: mean_a, mean_b, diff, ci_low, ci_high, t, df, p_value,
    /// enough_data), a verdict per metric, and `verdict` in plain words.
    #[schema(value_type = Vec<Object>)]
    comparisons: Vec<serde_json::Value>,
}

fn time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::bad_request(format!(
                "{name}: `{}` is not an RFC 3339 time ({e}); use e.g. 2026-12-01T00:00:00Z",
                value.escape_debug()
            ))
        })
}

/// A prompt's usage over a time range, as series per bucket and totals per version, label or
/// variant: renders, errors, latency percentiles, tokens, cost, feedback. What instances recorded
/// since their last flush (a few seconds) is not in it yet.
#[utoipa::path(get, path = "/v1/prompts/{id}/analytics", tag = "usage",
    params(PromptPath, AnalyticsParams),
    responses((status = 200, description = "The grouped series and totals", body = AnalyticsSchema),
        (status = 400, description = "A malformed id, time, bucket or grouping, or a range of too many buckets", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reversed range, a range of too many buckets, or a store that keeps no usage", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn analytics(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<AnalyticsParams>,
) -> Result<Response, ApiError> {
    let id = PromptId::new(&id)?;
    let to = match &params.to {
        Some(to) => time("to", to)?,
        None => Utc::now(),
    };
    let from = match &params.from {
        Some(from) => time("from", from)?,
        None => to - DEFAULT_RANGE,
    };
    let bucket = match &params.bucket {
        Some(b) => b.parse::<Bucket>()?,
        None => Bucket::Hour,
    };
    let by = match &params.by {
        Some(b) => b.parse::<GroupBy>()?,
        None => GroupBy::Version,
    };
    let query = AnalyticsQuery { from, to, bucket, by };
    // A well-formed range the server will not compute (reversed, or too many buckets) is
    // unprocessable rather than malformed.
    query
        .validate()
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.to_string()))?;
    let analytics = state.inner.pm.analytics(id, &query).await?;
    Ok(Json(analytics).into_response())
}
