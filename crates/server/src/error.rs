//! Errors as RFC 9457 problem details (`application/problem+json`): [`ApiError`] maps the
//! manager's errors and axum's rejections to problems, and [`problem_layer`] turns every other
//! error response (unknown route, wrong method, body too large, timeout) into one too.
//!
//! The status of a prompt-manager error is its kind's ([`ErrorKind::http_status`], core's one
//! table); the server only decides what a client may read of it. A 5xx problem never carries the
//! error's message — it may name a file, a host or a SQL statement — so store failures are
//! answered with a generic detail (and their own codes, `store_unavailable` and `store_corrupt`).
//! Converting never logs: the response keeps the error ([`crate::error_log::Failures`]) for the
//! logging middleware ([`crate::error_log`]).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prompt_manager::{Error, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error_log::{Failure, Failures};

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: the body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:prompt-manager:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, naming what and where.
    pub detail: String,
    /// A stable machine-readable code (`not_found`, `version_conflict`, `unauthorized`, …).
    pub code: String,
    /// The error's fields by name, on the store protocol's errors only (`/v1/store/…`): what the
    /// `http://` store needs to rebuild the same error (`ErrorDetails` of prompt-manager-core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<prompt_manager::ErrorDetails>,
}

/// An error response of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    headers: Option<Box<HeaderMap>>,
    /// The prompt-manager error it was made from, for the log.
    source: Option<Arc<Error>>,
    /// The error's fields, for a client that rebuilds it (the store protocol).
    details: Option<Box<prompt_manager::ErrorDetails>>,
}

impl ApiError {
    /// An error with a status, a code and a detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            headers: None,
            source: None,
            details: None,
        }
    }

    /// An error from a prompt-manager error that also carries its fields by name
    /// ([`Problem::error`]), built from what the problem shows (a 5xx hides the message).
    pub fn with_details(e: Error) -> Self {
        let mut api = ApiError::from(e);
        if let Some(source) = &api.source {
            api.details = Some(Box::new(prompt_manager::ErrorDetails::of(source, api.detail.clone())));
        }
        api
    }

    /// 400 with a detail.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.get_or_insert_with(Default::default).insert(name, value);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What the logging middleware needs to know of this error, when it came from the manager.
    pub(crate) fn failure(&self) -> Option<Failure> {
        self.source.as_ref().map(|error| Failure {
            status: self.status,
            code: self.code,
            error: Arc::clone(error),
        })
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:prompt-manager:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            error: self.details.as_deref().cloned(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(failure) = self.failure() {
            response.extensions_mut().insert(Failures(vec![failure]));
        }
        if let Some(headers) = self.headers {
            response.headers_mut().extend(*headers);
        }
        response
    }
}

impl From<Error> for ApiError {
    /// Maps only: the status is the kind's, the code and detail what a client may read
    /// (`public_view`); the error itself stays with the response for the log.
    fn from(e: Error) -> Self {
        let status = StatusCode::from_u16(e.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (code, detail) = public_view(&e, status);
        ApiError {
            status,
            code,
            detail,
            headers: None,
            source: Some(Arc::new(e)),
            details: None,
        }
    }
}

/// The code and detail a client reads of an error: its own for a 4xx; for a 5xx a generic detail
/// that names no file, host or statement (the log has the error).
fn public_view(e: &Error, status: StatusCode) -> (&'static str, String) {
    match e.kind() {
        ErrorKind::Unavailable => (
            "store_unavailable",
            "the prompt store failed to answer; the server log has the details".to_owned(),
        ),
        // Requests are JSON: a file that cannot be read is one of the store's (`dir://`), and its
        // message names a path on the server. The client did nothing wrong and needs no path.
        ErrorKind::InvalidData => (
            "store_corrupt",
            "a file of the prompt store is invalid; the server log names it and the line".to_owned(),
        ),
        // The store's data was changed behind its back; the location names a path or a database
        // on the server. Name the version only.
        ErrorKind::Integrity => {
            let detail = match e {
                Error::ContentHashMismatch(mismatch) => format!(
                    "version {} of `{}` in the prompt store no longer matches its content hash (it was \
                     changed after it was saved); the server log names the file or row and both hashes",
                    mismatch.version, mismatch.id
                ),
                _ => "stored data failed its integrity check; the server log has the details".to_owned(),
            };
            (e.code(), detail)
        }
        _ if status.is_server_error() => (
            e.code(),
            "the request failed inside the server; the server log has the details".to_owned(),
        ),
        _ => (e.code(), e.to_string()),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match rejection {
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::JsonDataError(_) => "invalid_body",
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            _ => "bad_body",
        };
        let detail = match code {
            "unsupported_media_type" => "the body must be JSON: send `Content-Type: application/json`".to_owned(),
            "body_too_large" => "the request body is larger than the server's limit".to_owned(),
            _ => format!("request body: {}", rejection.body_text()),
        };
        ApiError::new(status, code, detail)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_path",
            format!("path: {}", rejection.body_text()),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("query string: {}", rejection.body_text()),
        )
    }
}

/// `axum::Json` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct Json<T>(pub(crate) T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Turns error responses that are not problems yet (made by axum's router or a tower layer) into
/// problems that say what happened.
pub(crate) async fn problem_layer(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let has_body_of_its_own = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes() || v.as_bytes().starts_with(b"text/html"));
    if has_body_of_its_own {
        return response;
    }
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => {
            let hint = if path.starts_with("/v1/prompts/") {
                "; a prompt id or reference goes in one path segment, percent-encoded: /v1/prompts/support%2Ftriage%40production"
            } else {
                ""
            };
            (
                "no_route",
                format!("no route for {method} {path}{hint}; see /openapi.json"),
            )
        }
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{method} is not allowed on {path}; the Allow header lists the methods that are"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            "the request body is larger than the server's limit".to_owned(),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            format!("{method} {path} took longer than the server's request timeout and was stopped"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the body must be JSON: send `Content-Type: application/json`".to_owned(),
        ),
        _ => ("error", format!("{method} {path} failed")),
    };
    let mut problem = if wants_html {
        html_error_page(status, &detail)
    } else {
        ApiError::new(status, code, detail).into_response()
    };
    for name in [header::ALLOW, header::WWW_AUTHENTICATE] {
        if let Some(v) = response.headers().get(&name) {
            problem.headers_mut().insert(name, v.clone());
        }
    }
    problem
}

/// A short page for a browser that met an error the router or a layer made (no such page, a
/// body too large): the status and what happened, and a link home. Pages of the web UI render
/// their own errors.
fn html_error_page(status: StatusCode, detail: &str) -> Response {
    let escaped = detail
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{code} {reason} · prompt-manager</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem\">\
         <h1>{code} {reason}</h1><p>{escaped}</p><p><a href=\"/\">Back to the prompts</a></p></body></html>",
        code = status.as_u16()
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use prompt_manager::{LabelName, PromptId};

    use super::*;

    fn id() -> PromptId {
        PromptId::new("greeting").unwrap()
    }

    #[test]
    fn the_status_is_the_kinds_and_5xx_details_say_nothing_of_the_message() {
        let secret = "SELECT key FROM pm_api_keys at /srv/pm.db";
        let cases = [
            (
                Error::LabelProtected {
                    id: id(),
                    label: LabelName::new("production").unwrap(),
                },
                403,
                "label_protected",
            ),
            (Error::Archived { id: id() }, 409, "archived"),
            (
                Error::Plugin {
                    plugin: "openai".into(),
                    message: "refused".into(),
                },
                422,
                "plugin",
            ),
            (Error::Unsupported("a chat prompt".into()), 422, "unsupported"),
            (
                Error::FeatureMissing {
                    feature: "sqlite",
                    what: secret.into(),
                },
                501,
                "feature_missing",
            ),
            (Error::Config(secret.into()), 500, "config"),
            (Error::Internal(secret.into()), 500, "internal"),
            (Error::backend("sqlite", secret), 503, "store_unavailable"),
            (
                Error::InvalidFile {
                    file: secret.into(),
                    line: Some(2),
                    column: None,
                    message: "bad".into(),
                },
                500,
                "store_corrupt",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.kind().http_status(), status, "{error:?}");
            let message = error.to_string();
            let api = ApiError::from(error);
            let problem = api.problem();
            assert_eq!((problem.status, problem.code.as_str()), (status, code), "{problem:?}");
            if status >= 500 {
                assert!(!problem.detail.contains("SELECT"), "{problem:?}");
                assert!(problem.detail.contains("server log"), "{problem:?}");
            } else {
                assert_eq!(problem.detail, message);
            }
            // The error stays with the response, for the log; the body never carries it.
            let response = api.into_response();
            let failures = response.extensions().get::<Failures>().unwrap();
            assert_eq!(failures.0.len(), 1);
            assert_eq!(failures.0[0].error.to_string(), message);
        }
        // A problem the server made itself has no error to log.
        let response = ApiError::bad_request("no").into_response();
        assert!(response.extensions().get::<Failures>().is_none());
    }
}
