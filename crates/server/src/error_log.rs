//! Logging of failed requests, in a middleware that sees the response ([`log_failures`]).
//!
//! Turning an error into a problem only maps (axum's `examples/error-handling`: a conversion
//! with a side effect cannot be reused or tested on its own). An [`ApiError`](crate::error::ApiError)
//! made from a prompt-manager error leaves that error in the response's extensions ([`Failures`]);
//! a batch render leaves one per failed item. The middleware logs a 5xx at `error` with the
//! error's whole source chain — the details the problem leaves out — and a 4xx at `debug`.
//! What is not here: the problem bodies (`error.rs`), the access log (`tower_http`'s trace layer,
//! whose span the lines logged here belong to).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use prompt_manager::Error;

/// The prompt-manager errors behind a response, for [`log_failures`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Failures(pub(crate) Vec<Failure>);

/// One error behind a response: the status and code the client got, and the error itself.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The status of the problem.
    pub(crate) status: StatusCode,
    /// The code of the problem (`store_unavailable` where the error's own code is hidden).
    pub(crate) code: &'static str,
    /// The error, with its sources.
    pub(crate) error: Arc<Error>,
}

/// Logs the errors a response was made from: a 5xx at `error`, a 4xx at `debug`.
pub(crate) async fn log_failures(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(Failures(failures)) = response.extensions().get::<Failures>() {
        for failure in failures {
            log(failure);
        }
    }
    response
}

fn log(failure: &Failure) {
    let error = &*failure.error;
    let status = failure.status.as_u16();
    let kind = error.kind().as_str();
    if failure.status.is_server_error() {
        tracing::error!(
            status,
            code = failure.code,
            kind,
            error = %SourceChain(error),
            "request failed"
        );
    } else {
        tracing::debug!(status, code = failure.code, kind, error = %error, "request refused");
    }
}

/// An error and each of its sources, joined by `: `.
struct SourceChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for SourceChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use prompt_manager::{NotFound, PromptId};
    use tower::ServiceExt;

    use super::*;
    use crate::error::ApiError;

    /// A log sink the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Requests `path` of a router whose handlers fail, and returns the status, the body and what
    /// was logged.
    async fn request(path: &str) -> (StatusCode, String, String) {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route(
                "/store",
                get(|| async {
                    let cause = std::io::Error::other("disk I/O error at /srv/pm.db");
                    Err::<(), _>(ApiError::from(Error::backend_with(
                        "sqlite",
                        "SELECT body FROM pm_versions failed",
                        cause,
                    )))
                }),
            )
            .route(
                "/missing",
                get(|| async {
                    let id = PromptId::new("greeting").unwrap();
                    Err::<(), _>(ApiError::from(Error::NotFound(NotFound::Prompt(id))))
                }),
            )
            .route("/plain", get(|| async { Err::<(), _>(ApiError::bad_request("no")) }))
            .layer(axum::middleware::from_fn(log_failures));
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap(), logged)
    }

    #[tokio::test]
    async fn a_store_failure_is_logged_with_its_sources_and_answered_without_them() {
        let (status, body, logged) = request("/store").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("store_unavailable"), "{body}");
        assert!(!body.contains("SELECT") && !body.contains("/srv"), "{body}");
        assert!(logged.contains("ERROR"), "{logged}");
        assert!(logged.contains("code=\"store_unavailable\""), "{logged}");
        assert!(logged.contains("kind=\"unavailable\""), "{logged}");
        assert!(
            logged.contains("SELECT body FROM pm_versions failed: disk I/O error at /srv/pm.db"),
            "the source chain is logged: {logged}"
        );
    }

    #[tokio::test]
    async fn a_refusal_is_logged_at_debug_and_other_problems_not_at_all() {
        let (status, body, logged) = request("/missing").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("prompt `greeting` not found"), "{body}");
        assert!(logged.contains("DEBUG") && !logged.contains("ERROR"), "{logged}");
        assert!(logged.contains("code=\"not_found\""), "{logged}");

        // A problem the server made itself carries no prompt-manager error: nothing to log.
        let (status, _, logged) = request("/plain").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(logged.is_empty(), "{logged}");
    }
}
