//! # prompt-manager-server
//!
//! The REST API of prompt-manager: versioned, labelled prompts over HTTP for applications in any
//! language. [`app`] is the axum [`Router`] — testable without a socket through
//! `tower::ServiceExt::oneshot` — and [`serve`] runs it: it opens the store, refuses an unsafe
//! bind, seeds an example prompt into an empty store, and shuts down gracefully on SIGTERM or
//! Ctrl-C. `prompt-manager serve` (the CLI) calls [`serve`].
//!
//! - `/v1/prompts…`: list, create, get by reference (`id`, `id@1.2.0`, `id@^1`, `id@production`,
//!   percent-encoded in the path), update (a new version, `If-Match` for compare-and-set),
//!   archive, versions, diffs, labels (set, remove, history, rollback) and renders (`?as=openai`
//!   and the other frameworks); `/v1/render` renders a batch.
//! - Governance: protected labels (`/v1/prompts/{id}/labels/{label}/protection`), impact
//!   analysis (`/v1/prompts/{id}/dependents`) and the hash-chained audit log (`/v1/audit`,
//!   `/v1/audit/verify`, `admin` keys only).
//! - Prices: the price table (`GET /v1/prices`, `GET /v1/prices/{model}`) and runtime changes
//!   (`PUT /v1/prices/{model}`, `admin` keys only).
//! - `/healthz`, `/readyz`, `/metrics` (Prometheus), `/openapi.json` (generated from the handlers).
//! - API keys with scopes `read`, `write`, `admin` ([`keys`]); errors are RFC 9457 problems
//!   ([`Problem`]); exact versions are `immutable` with an ETag.
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use prompt_manager_server::{AppOptions, AppState, app};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pm = prompt_manager::in_memory();
//! pm.create(prompt_manager::Prompt::text("greeting", "Hello {{ name }}!")?).await?;
//! let router = app(AppState::new(pm, AppOptions::default())?);
//!
//! let request = Request::post("/v1/prompts/greeting@1.0.0/render")
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"variables": {"name": "Ada"}}"#))?;
//! let response = router.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(()) }
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter, get};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::HttpMethod;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

mod body;
mod changes;
mod conn;
mod dto;
mod error;
mod error_log;
mod governance;
mod headers;
pub mod keys;
mod private_file;
mod routes;
mod serve;
mod state;
mod store_api;
mod usage;
pub mod webhooks;

pub use error::{ApiError, PROBLEM_JSON, Problem};
#[cfg(feature = "otlp")]
pub use serve::init_telemetry;
pub use serve::{EXAMPLE_PROMPT, ServeError, Server, ServerConfig, init_logging, seed_example, serve, shutdown_signal};
pub use state::{AppOptions, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "prompt-manager",
        description = "Versioned, labelled prompt templates: get, version, label and render them over HTTP. \
            Errors are RFC 9457 problem details (`application/problem+json`). \
            Send `Authorization: Bearer <key>` when the server has API keys.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(Problem, changes::ChangeData, changes::ResetData, changes::ReadyData)),
    modifiers(&BearerAuth),
    tags(
        (name = "prompts", description = "Create, read, update and archive prompts"),
        (name = "versions", description = "Version history and diffs"),
        (name = "labels", description = "Named pointers to versions: set, move, roll back"),
        (name = "render", description = "Render prompts with variables"),
        (name = "governance", description = "Protected labels, the audit log and impact analysis"),
        (name = "webhooks", description = "Subscriptions that receive each change as a signed JSON event (Standard Webhooks), their delivery logs and redelivery"),
        (name = "interop", description = "Other tools' files in and out: Langfuse prompt JSON, Prompty `.prompty` and MLflow prompt registry JSON"),
        (name = "prices", description = "The price table: US dollars per million tokens per model"),
        (name = "usage", description = "Usage and feedback reported after the model call, and analytics per version, label and variant"),
        (name = "changes", description = "A stream of the prompts that change (Server-Sent Events), for caches"),
        (name = "store", description = "The store protocol: one route per method of the storage traits, for the `http://` store of another prompt-manager"),
        (name = "operations", description = "Health, readiness and metrics")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key: `pm_<id>_<secret>`, from `prompt-manager keys create`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds a handler's route and its OpenAPI operation together, from its `#[utoipa::path]`: a
/// route cannot exist without its description, nor the reverse. (What utoipa-axum's `routes!`
/// does, without its dependency on the unmaintained `paste`.)
fn add<P, H, T>(
    (router, mut api): (Router<AppState>, utoipa::openapi::OpenApi),
    handler: H,
) -> (Router<AppState>, utoipa::openapi::OpenApi)
where
    P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
    H: Handler<T, AppState>,
    T: 'static,
{
    let path = P::path();
    let methods = P::methods();
    let mut operation = P::operation();
    let tags = P::tags();
    if !tags.is_empty() {
        operation
            .tags
            .get_or_insert_with(Vec::new)
            .extend(tags.iter().map(ToString::to_string));
    }
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    api.components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
    let mut method_router = MethodRouter::new();
    for method in &methods {
        let filter = match method {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Put => MethodFilter::PUT,
            HttpMethod::Post => MethodFilter::POST,
            HttpMethod::Delete => MethodFilter::DELETE,
            HttpMethod::Patch => MethodFilter::PATCH,
            HttpMethod::Head => MethodFilter::HEAD,
            HttpMethod::Options => MethodFilter::OPTIONS,
            HttpMethod::Trace => MethodFilter::TRACE,
        };
        method_router = method_router.on(filter, handler.clone());
    }
    api.paths.add_path_operation(&path, methods, operation);
    (router.route(&path, method_router), api)
}

fn api_router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use routes::*;
    let parts = (Router::new(), ApiDoc::openapi());
    let parts = add::<__path_list_prompts, _, _>(parts, list_prompts);
    let parts = add::<__path_create_prompt, _, _>(parts, create_prompt);
    let parts = add::<__path_get_prompt, _, _>(parts, get_prompt);
    let parts = add::<__path_update_prompt, _, _>(parts, update_prompt);
    let parts = add::<__path_get_summary, _, _>(parts, get_summary);
    let parts = add::<__path_archive_prompt, _, _>(parts, archive_prompt);
    let parts = add::<__path_list_versions, _, _>(parts, list_versions);
    let parts = add::<__path_get_version, _, _>(parts, get_version);
    let parts = add::<__path_diff_versions, _, _>(parts, diff_versions);
    let parts = add::<__path_get_labels, _, _>(parts, get_labels);
    let parts = add::<__path_get_label, _, _>(parts, get_label);
    let parts = add::<__path_set_label, _, _>(parts, set_label);
    let parts = add::<__path_set_split, _, _>(parts, set_split);
    let parts = add::<__path_remove_label, _, _>(parts, remove_label);
    let parts = add::<__path_label_history, _, _>(parts, label_history);
    let parts = add::<__path_rollback_label, _, _>(parts, rollback_label);
    let parts = add::<governance::__path_protect_label, _, _>(parts, governance::protect_label);
    let parts = add::<governance::__path_unprotect_label, _, _>(parts, governance::unprotect_label);
    let parts = add::<governance::__path_dependents, _, _>(parts, governance::dependents);
    let parts = add::<governance::__path_audit, _, _>(parts, governance::audit);
    let parts = add::<governance::__path_verify_audit, _, _>(parts, governance::verify_audit);
    let parts = add::<__path_render, _, _>(parts, render);
    let parts = add::<__path_render_batch, _, _>(parts, render_batch);
    let parts = add::<__path_import_files, _, _>(parts, import_files);
    let parts = add::<__path_export_files, _, _>(parts, export_files);
    let parts = add::<__path_list_webhooks, _, _>(parts, list_webhooks);
    let parts = add::<__path_create_webhook, _, _>(parts, create_webhook);
    let parts = add::<__path_delete_webhook, _, _>(parts, delete_webhook);
    let parts = add::<__path_list_deliveries, _, _>(parts, list_deliveries);
    let parts = add::<__path_redeliver, _, _>(parts, redeliver);
    let parts = add::<__path_list_prices, _, _>(parts, list_prices);
    let parts = add::<__path_get_price, _, _>(parts, get_price);
    let parts = add::<__path_set_price, _, _>(parts, set_price);
    let parts = add::<usage::__path_report_usage, _, _>(parts, usage::report_usage);
    let parts = add::<usage::__path_report_feedback, _, _>(parts, usage::report_feedback);
    let parts = add::<usage::__path_analytics, _, _>(parts, usage::analytics);
    let parts = add::<changes::__path_changes, _, _>(parts, changes::changes);
    let parts = store_routes(parts);
    let parts = add::<__path_healthz, _, _>(parts, healthz);
    let parts = add::<__path_readyz, _, _>(parts, readyz);
    add::<__path_metrics, _, _>(parts, metrics)
}

/// The store protocol (`store_api`): one route per method of the storage traits.
fn store_routes(parts: (Router<AppState>, utoipa::openapi::OpenApi)) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use store_api::*;
    let parts = add::<__path_store_save, _, _>(parts, store_save);
    let parts = add::<__path_store_save_all, _, _>(parts, store_save_all);
    let parts = add::<__path_store_load, _, _>(parts, store_load);
    let parts = add::<__path_store_delete, _, _>(parts, store_delete);
    let parts = add::<__path_store_list, _, _>(parts, store_list);
    let parts = add::<__path_store_summary, _, _>(parts, store_summary);
    let parts = add::<__path_store_set_status, _, _>(parts, store_set_status);
    let parts = add::<__path_store_audit, _, _>(parts, store_audit);
    let parts = add::<__path_store_append_audit, _, _>(parts, store_append_audit);
    let parts = add::<__path_store_list_versions, _, _>(parts, store_list_versions);
    let parts = add::<__path_store_set_label, _, _>(parts, store_set_label);
    let parts = add::<__path_store_assign_label, _, _>(parts, store_assign_label);
    let parts = add::<__path_store_set_protection, _, _>(parts, store_set_protection);
    let parts = add::<__path_store_label_history, _, _>(parts, store_label_history);
    let parts = add::<__path_store_add_usage, _, _>(parts, store_add_usage);
    let parts = add::<__path_store_usage, _, _>(parts, store_usage);
    let parts = add::<__path_store_prune_usage, _, _>(parts, store_prune_usage);
    add::<__path_store_resolve, _, _>(parts, store_resolve)
}

/// The OpenAPI document of the API, generated from the handlers that serve it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().1
}

/// The API as an axum router with its limits: body size (413), request timeout (408), a
/// concurrency limit, and problem+json for every error, including the router's own.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// The API with `extra` routes beside it (the web UI), on the same state and behind the same
/// limits, headers checks, tracing and error pages. Errors the router or a layer makes (404, 413,
/// 408) are problem+json, or a short HTML page for a browser that asks for HTML.
pub fn app_with(state: AppState, extra: Router<AppState>) -> Router {
    let (router, api) = api_router();
    let router = router.merge(extra);
    let spec = Bytes::from(api.to_pretty_json().unwrap_or_default());
    let options = state.options().clone();
    router
        .route(
            "/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move {
                    let mut response = spec.into_response();
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    response
                }
            }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(options.body_limit))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            options.concurrency_limit.max(1),
        ))
        .layer(axum::middleware::from_fn(headers::check_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ))
        // Inside the trace layer, so the lines it logs belong to the request's span.
        .layer(axum::middleware::from_fn(error_log::log_failures))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(error::problem_layer))
}
