//! Helpers of the `oneshot` tests: a router over a real SQLite file, and a request helper.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use prompt_manager::PromptManager;
use prompt_manager_server::{AppOptions, AppState, app};
use serde_json::Value;
use tower::ServiceExt;

pub struct Api {
    pub router: Router,
    pub pm: PromptManager,
    pub dir: tempfile::TempDir,
}

pub async fn api_with(options: impl FnOnce(&std::path::Path) -> AppOptions) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pm.db").display());
    let pm = prompt_manager::open(&url).await.unwrap();
    let state = AppState::new(pm.clone(), options(dir.path())).unwrap();
    Api {
        router: app(state),
        pm,
        dir,
    }
}

pub async fn api() -> Api {
    api_with(|_| AppOptions::default()).await
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts a problem+json body with this status and returns it.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.header("content-type"), "application/problem+json", "{}", self.text);
        let p = self.json();
        assert_eq!(p["status"], status, "{p}");
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
        assert!(
            p["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:prompt-manager:problem:")),
            "{p}"
        );
        p
    }
}

pub struct Call<'a> {
    router: &'a Router,
    request: axum::http::request::Builder,
    body: Body,
}

impl Api {
    pub fn call(&self, method: Method, uri: &str) -> Call<'_> {
        Call {
            router: &self.router,
            request: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    pub fn get(&self, uri: &str) -> Call<'_> {
        self.call(Method::GET, uri)
    }

    pub fn post(&self, uri: &str, body: Value) -> Call<'_> {
        self.call(Method::POST, uri).json(body)
    }

    pub fn put(&self, uri: &str, body: Value) -> Call<'_> {
        self.call(Method::PUT, uri).json(body)
    }

    /// Creates a text prompt through the API.
    pub async fn create_text(&self, id: &str, template: &str) -> Reply {
        let reply = self
            .post(
                "/v1/prompts",
                serde_json::json!({"prompt": {"id": id, "template": template}}),
            )
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply
    }

    /// The number of versions of `id` in the store.
    pub async fn versions(&self, id: &str) -> usize {
        self.pm.history(id).await.map(|h| h.len()).unwrap_or(0)
    }
}

impl Call<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, body: Value) -> Self {
        self.request = self.request.header("content-type", "application/json");
        self.body = Body::from(body.to_string());
        self
    }

    pub fn raw(mut self, content_type: Option<&str>, body: impl Into<Body>) -> Self {
        if let Some(ct) = content_type {
            self.request = self.request.header("content-type", ct);
        }
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Reply {
        let request = self.request.body(self.body).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}
