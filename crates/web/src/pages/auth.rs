//! Signing in with an API key, and out.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Web;
use crate::session::{Viewer, expired_cookie};
use crate::view::{ok, page};

/// Where to go after signing in.
#[derive(Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// Only a page of the UI: never another site (an open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => crate::HOME,
    }
}

/// `GET /ui/login`: the sign-in form.
pub(crate) async fn login_page(viewer: Viewer, Query(next): Query<Next>) -> Response {
    ok(
        "login.html",
        minijinja::context! {
            viewer => viewer.context(),
            next => safe_next(next.next.as_deref()),
            error => None::<String>,
        },
    )
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    key: String,
    next: Option<String>,
}

/// `POST /ui/login`: checks the key and starts a signed-in session.
pub(crate) async fn login(State(web): State<Web>, viewer: Viewer, axum::Form(form): axum::Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    let key = form.key.trim();
    let refused = |detail: &str| {
        page(
            StatusCode::UNAUTHORIZED,
            "login.html",
            minijinja::context! { viewer => viewer.context(), next => &next, error => detail },
        )
    };
    if !web.app.keys().required() {
        return Redirect::to(&next).into_response();
    }
    if key.is_empty() {
        return refused("paste an API key (`pm_…`, from `prompt-manager keys create`)");
    }
    if web.app.keys().authenticate(Some(&format!("Bearer {key}"))).is_err() {
        return refused("this API key is not valid: unknown, revoked or mistyped");
    }
    match web.sessions.sign_in(&viewer.session, key.to_owned()) {
        Ok(cookie) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(response) => response.into_response(),
    }
}

/// `POST /ui/logout`: ends the session.
pub(crate) async fn logout(State(web): State<Web>, viewer: Viewer) -> Response {
    web.sessions.end(&viewer.session);
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, expired_cookie());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_returns_to_pages_of_the_ui() {
        assert_eq!(safe_next(Some("/ui/p/greeting")), "/ui/p/greeting");
        assert_eq!(safe_next(Some("https://evil.example/")), "/ui/");
        assert_eq!(safe_next(Some("//evil.example/ui/")), "/ui/");
        assert_eq!(safe_next(Some("/ui/\\evil")), "/ui/");
        assert_eq!(safe_next(None), "/ui/");
    }
}
