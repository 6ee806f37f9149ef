//! A browser-like client over the UI's router, without a socket: it keeps the session cookie,
//! reads each page's CSRF token, and sends forms as a browser does (`oneshot` per request).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prompt_manager::PromptManager;
use prompt_manager_server::{AppOptions, AppState, app_with};
use tower::ServiceExt;

/// A response: status, location header, body text.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// Asserts the body contains `text` and returns self.
    pub fn has(&self, text: &str) -> &Self {
        assert!(self.body.contains(text), "expected `{text}` in:\n{}", self.body);
        self
    }

    /// Asserts the body does not contain `text`.
    pub fn lacks(&self, text: &str) -> &Self {
        assert!(!self.body.contains(text), "did not expect `{text}` in:\n{}", self.body);
        self
    }
}

/// A client with a session.
pub struct Client {
    pub router: Router,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

/// The UI and API over `pm`, with `options`.
pub fn client_with(pm: PromptManager, options: AppOptions) -> Client {
    let state = AppState::new(pm, options).unwrap();
    let router = app_with(state.clone(), prompt_manager_web::router(state));
    Client {
        router,
        cookie: None,
        csrf: None,
    }
}

/// The UI over `pm` without API keys (open loopback mode).
pub fn client(pm: PromptManager) -> Client {
    client_with(pm, AppOptions::default())
}

impl Client {
    pub async fn send(&mut self, request: Request<Body>) -> Page {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        if let Some(cookie) = response.headers().get(header::SET_COOKIE) {
            let value = cookie.to_str().unwrap();
            let pair = value.split(';').next().unwrap().to_owned();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        if let Some(start) = body.find("name=\"csrf-token\" content=\"") {
            let rest = &body[start + 27..];
            self.csrf = Some(rest[..rest.find('"').unwrap()].to_owned());
        }
        Page { status, location, body }
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1")
            .header(header::ACCEPT, "text/html");
        if let Some(cookie) = &self.cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder
    }

    /// GET `path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.request("GET", path).body(Body::empty()).unwrap();
        self.send(request).await
    }

    /// POSTs a form with the session's CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone().expect("GET a page first: forms need its CSRF token");
        let mut all: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POSTs a form exactly as given (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let request = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

/// A manager with a few prompts: a text prompt with three versions and labels, a chat prompt.
pub async fn seeded() -> PromptManager {
    use prompt_manager::{Bump, ChatItem, Prompt, Role};
    let pm = prompt_manager::in_memory();
    let mut p = Prompt::text("support/triage", "Classify: {{ ticket }}").unwrap();
    p.metadata.description = Some("Sorts support tickets".into());
    p.metadata.tags.insert("support".into());
    pm.create(p.clone()).await.unwrap();
    p.template = prompt_manager::Template::Text("Classify this ticket: {{ ticket }}".into());
    pm.update(p.clone(), Bump::Minor, "clearer wording").await.unwrap();
    p.template = prompt_manager::Template::Text("Classify this ticket: {{ ticket }} for {{ team }}".into());
    pm.update(p, Bump::Major, "route to a team").await.unwrap();
    pm.set_label("support/triage", "production", "1.1.0").await.unwrap();
    pm.set_label("support/triage", "staging", "2.0.0").await.unwrap();
    let chat = Prompt::chat(
        "chat/helper",
        vec![
            ChatItem::message(Role::System, "You are {{ persona }}."),
            ChatItem::message(Role::User, "{{ question }}"),
        ],
    )
    .unwrap();
    pm.create(chat).await.unwrap();
    pm
}
