//! Errors as RFC 9457 problem details (`application/problem+json`): [`ApiError`] maps the
//! manager's error kinds and axum's rejections to statuses, and [`problem_layer`] turns every other
//! error response (unknown route, wrong method, body too large, timeout) into one too.
//!
//! A problem never carries a key, a stack trace or a SQL statement: store failures are logged
//! with their source and answered with a generic detail.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prompt_manager::Error;
use serde::Serialize;
use utoipa::ToSchema;

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
}

/// An error response of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    headers: Option<Box<HeaderMap>>,
}

impl ApiError {
    /// An error with a status, a code and a detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            headers: None,
        }
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

    /// The problem body.
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:prompt-manager:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
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
        if let Some(headers) = self.headers {
            response.headers_mut().extend(*headers);
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::InvalidId { .. }
            | Error::InvalidLabel { .. }
            | Error::InvalidReference { .. }
            | Error::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            Error::InvalidPrompt { .. }
            | Error::TemplateSyntax { .. }
            | Error::InvalidVariables { .. }
            | Error::IncludeCycle { .. }
            | Error::Render { .. }
            | Error::RenderLimit { .. }
            | Error::Unsupported(_)
            | Error::Plugin { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::AlreadyExists { .. }
            | Error::VersionConflict { .. }
            | Error::UpdateContended { .. }
            | Error::VersionNotIncreasing { .. }
            | Error::InvalidStatusTransition { .. }
            | Error::Archived { .. } => StatusCode::CONFLICT,
            Error::Config(_) | Error::Backend { .. } => {
                // The message may name files, hosts or statements: log it, do not send it.
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "request failed in the store");
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the prompt store failed to answer; the server log has the details",
                );
            }
            Error::ContentHashMismatch(mismatch) => {
                let (id, version) = (&mismatch.id, &mismatch.version);
                // The store's data was changed behind its back; the location names a path or a
                // database on the server. The client did nothing wrong: name the version only.
                tracing::error!(error = %e, "a stored version failed its content hash check");
                let detail = format!(
                    "version {version} of `{id}` in the prompt store no longer matches its content hash \
                     (it was changed after it was saved); the server log names the file or row and both hashes"
                );
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "content_hash_mismatch", detail);
            }
            Error::InvalidFile { .. } => {
                // Requests are JSON: a bad file is one of the store's (`dir://`), and its message
                // names a path on the server. The client did nothing wrong and needs no path.
                tracing::error!(error = %e, "a file of the prompt store is invalid");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "store_corrupt",
                    "a file of the prompt store is invalid; the server log names it and the line",
                );
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.code(),
                    "the request failed inside the server; the server log has the details",
                );
            }
        };
        ApiError::new(status, e.code(), e.to_string())
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
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
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
    let mut problem = ApiError::new(status, code, detail).into_response();
    for name in [header::ALLOW, header::WWW_AUTHENTICATE] {
        if let Some(v) = response.headers().get(&name) {
            problem.headers_mut().insert(name, v.clone());
        }
    }
    problem
}
