//! `/v1/webhooks`: subscriptions (an `admin` key), their delivery logs and redelivery, on the
//! webhooks file `serve --webhooks-file` names (docs/server.md, crate::webhooks).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Path;
use crate::body::JsonBody;
use crate::error::{ApiError, Json, Problem};
use crate::state::{AdminAccess, AppState};
use crate::webhooks::{self, Delivery, EventType, SubscriptionView, WebhookError};

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWebhook {
    /// Where events are POSTed (`https://…`).
    url: String,
    /// The events to receive.
    #[schema(min_items = 1)]
    events: Vec<EventType>,
}

/// A created subscription, with its signing secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedWebhook {
    /// Its id.
    id: String,
    /// Where events are POSTed.
    url: String,
    /// The events it receives.
    events: Vec<EventType>,
    /// The signing secret (`whsec_…`): keep it; it is not shown again.
    secret: String,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// The subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    /// Each subscription, without its secret.
    webhooks: Vec<SubscriptionView>,
}

/// A subscription's deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    /// The deliveries.
    deliveries: Vec<Delivery>,
}

fn file(state: &AppState) -> Result<std::path::PathBuf, ApiError> {
    state.options().webhooks_file.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "webhooks_off",
            "webhooks are off on this server: start it with `serve --webhooks-file PATH`",
        )
    })
}

/// Runs a file operation off the async threads; its error as a problem.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, WebhookError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(problem),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "webhooks_file",
            format!("the webhooks file operation stopped: {e}"),
        )),
    }
}

fn problem(e: WebhookError) -> ApiError {
    match e {
        WebhookError::Invalid(message) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_webhook", message),
        WebhookError::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "webhooks_file", other.to_string()),
    }
}

/// The webhook subscriptions (an `admin` key).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "The subscriptions", body = WebhookList),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Webhooks are off on this server", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_webhooks(
    _: AdminAccess,
    State(state): State<AppState>,
) -> Result<Json<WebhookList>, ApiError> {
    let path = file(&state)?;
    let webhooks = blocking(move || webhooks::list(&path)).await?;
    Ok(Json(WebhookList { webhooks }))
}

/// Subscribe a URL to events (an `admin` key). Only changes after this one are sent. The answer
/// holds the signing secret, shown this once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, description = "Created; the secret is shown this once", body = CreatedWebhook),
        (status = 400, description = "A body that is not a subscription", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Webhooks are off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an http(s) URL, a private-network address, or no events", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_webhook(
    _: AdminAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let path = file(&state)?;
    let head = webhooks::audit_head(state.manager()).await.map_err(ApiError::from)?;
    let allow_private = state.options().webhooks.allow_private;
    let events: BTreeSet<EventType> = request.events.into_iter().collect();
    let url = request.url;
    let created = blocking(move || webhooks::add(&path, &url, events, head, allow_private)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            id: created.id,
            url: created.url,
            events: created.events.into_iter().collect(),
            secret: created.secret,
            created_at: created.created_at,
        }),
    ))
}

/// Remove a subscription and its pending deliveries (an `admin` key).
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription (`wh_…`)")),
    responses((status = 204, description = "Removed"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Webhooks are off on this server", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn delete_webhook(
    _: AdminAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let path = file(&state)?;
    blocking(move || webhooks::remove(&path, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A subscription's delivery log, newest first: status, attempts, last answer and error (an
/// `admin` key).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription (`wh_…`)")),
    responses((status = 200, description = "The deliveries", body = DeliveryList),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Webhooks are off on this server", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_deliveries(
    _: AdminAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryList>, ApiError> {
    let path = file(&state)?;
    let deliveries = blocking(move || webhooks::deliveries(&path, Some(&id))).await?;
    Ok(Json(DeliveryList { deliveries }))
}

/// Send a delivery again, at once, with the same `webhook-id` (an `admin` key).
#[utoipa::path(post, path = "/v1/webhooks/deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "The delivery (`wh_…_SEQ`)")),
    responses((status = 202, description = "Queued", body = Delivery),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Webhooks are off on this server", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn redeliver(
    _: AdminAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let path = file(&state)?;
    let delivery = blocking(move || webhooks::redeliver(&path, &id)).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
