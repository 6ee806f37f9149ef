//! The operations routes: `/healthz`, `/readyz` and `/metrics`.

use super::*;

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
