//! Sessions, sign-in and CSRF protection for the web UI.
//!
//! Every visitor gets a session: a random id in an `HttpOnly`, `SameSite=Strict` cookie
//! ([`COOKIE`]) naming a record kept in the server's memory — never the key itself, which stays
//! on the server. A session holds a CSRF token that every form carries ([`CSRF_FIELD`]) and every
//! script request sends ([`CSRF_HEADER`]); the [`layer`] refuses any other method than GET/HEAD
//! without it, before a handler runs. Signing in with an API key starts a new session (a new id:
//! no fixation) that remembers the key; each request authenticates it again through the API's
//! key ring, so revoking the key signs the session out. Without API keys the UI is open as the
//! API is: loopback only, and a page from another site is refused by its `Host`/`Origin`.
//!
//! Sessions live in memory (a restart signs everyone out) for at most [`SESSION_TTL`], and at
//! most [`MAX_SESSIONS`] at once (the oldest unused go first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use prompt_manager_server::keys::{Caller, Scope};

use crate::Web;
use crate::view::{PageError, error_page, fail};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "pm_session";
/// The form field that carries the CSRF token.
pub(crate) const CSRF_FIELD: &str = "_csrf";
/// The header that carries the CSRF token on script requests.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts after it starts.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// The most sessions kept at once.
pub(crate) const MAX_SESSIONS: usize = 10_000;

/// One visitor's session.
#[derive(Debug)]
pub(crate) struct Session {
    csrf: String,
    /// The API key the visitor signed in with (`None`: anonymous).
    key: Option<String>,
    expires: Instant,
}

/// The sessions of a running UI.
pub(crate) struct Sessions {
    cache: quick_cache::sync::Cache<String, Arc<Session>>,
}

impl Sessions {
    pub(crate) fn new() -> Self {
        Sessions {
            cache: quick_cache::sync::Cache::new(MAX_SESSIONS),
        }
    }

    fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self.cache.get(id)?;
        if session.expires <= Instant::now() {
            self.cache.remove(id);
            return None;
        }
        Some(session)
    }

    /// Starts a session (signed in when `key` is given) and returns its id.
    fn start(&self, key: Option<String>) -> Result<(String, Arc<Session>), PageError> {
        let session = Arc::new(Session {
            csrf: random_token()?,
            key,
            expires: Instant::now() + SESSION_TTL,
        });
        let id = random_token()?;
        self.cache.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    pub(crate) fn end(&self, id: &str) {
        self.cache.remove(id);
    }

    /// Signs in: ends the session `old` and starts a new one holding `key`. Returns the
    /// `Set-Cookie` value of the new session.
    pub(crate) fn sign_in(&self, old: &str, key: String) -> Result<HeaderValue, PageError> {
        self.end(old);
        let (id, _) = self.start(Some(key))?;
        Ok(cookie(&id))
    }
}

/// 32 random bytes as hex.
fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        tracing::error!("no randomness for a session: {e}");
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "the server could not start a session",
        )
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn cookie(id: &str) -> HeaderValue {
    // The id is hex: always a valid header value.
    HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict"))
        .unwrap_or_else(|_| HeaderValue::from_static("pm_session=; Path=/"))
}

/// The `Set-Cookie` value that ends the session in the browser.
pub(crate) fn expired_cookie() -> HeaderValue {
    HeaderValue::from_static("pm_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Who is looking at a page: the authenticated caller (none when the server has keys and the
/// visitor has not signed in), the session's CSRF token, and whether the server has keys.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    /// The caller, with the scope of their key (`admin` without keys).
    pub(crate) caller: Option<Caller>,
    /// The CSRF token every form of this session carries.
    pub(crate) csrf: String,
    /// Whether the server requires API keys.
    pub(crate) keys_required: bool,
    pub(crate) session: String,
}

impl Viewer {
    /// Whether the viewer may create versions and move labels.
    pub(crate) fn can_write(&self) -> bool {
        self.caller.as_ref().is_some_and(|c| c.scope >= Scope::Write)
    }

    /// Whether the viewer has the admin scope (protected labels, the audit log).
    pub(crate) fn can_admin(&self) -> bool {
        self.caller.as_ref().is_some_and(|c| c.scope >= Scope::Admin)
    }

    /// The page context describing the viewer.
    pub(crate) fn context(&self) -> minijinja::Value {
        minijinja::context! {
            signed_in => self.caller.as_ref().and_then(|c| c.key_name.clone()),
            scope => self.caller.as_ref().map(|c| c.scope.as_str()),
            can_write => self.can_write(),
            can_admin => self.can_admin(),
            keys_required => self.keys_required,
            csrf => self.csrf.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PageError> {
        parts.extensions.get::<Viewer>().cloned().ok_or_else(|| {
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "this page was served without a session",
            )
        })
    }
}

fn session_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Paths a visitor may reach before signing in.
fn is_public(path: &str) -> bool {
    path == "/ui/login" || path.starts_with("/ui/assets/")
}

/// The middleware in front of every page: finds or starts the session, authenticates its key,
/// checks the CSRF token of every request that may change something, sends a visitor who has
/// not signed in to the sign-in page, and adds the security headers of an HTML page.
pub(crate) async fn layer(State(web): State<Web>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let found = session_cookie(&parts).and_then(|id| web.sessions.get(id).map(|s| (id.to_owned(), s)));
    let (mut id, mut session, mut fresh) = match found {
        Some((id, session)) => (id, session, false),
        None => match web.sessions.start(None) {
            Ok((id, session)) => (id, session, true),
            Err(response) => return response.into_response(),
        },
    };
    let keys_required = web.app.keys().required();
    let caller = if !keys_required {
        match web.app.authorize(&parts, None, Scope::Read) {
            Ok(caller) => Some(caller),
            Err(e) => return error_page(e.status(), "Forbidden", &e.problem().detail),
        }
    } else if let Some(key) = &session.key {
        match web.app.authorize(&parts, Some(&format!("Bearer {key}")), Scope::Read) {
            Ok(caller) => Some(caller),
            Err(_) => {
                // The key was revoked: the session ends with it.
                web.sessions.end(&id);
                match web.sessions.start(None) {
                    Ok((new_id, new_session)) => (id, session, fresh) = (new_id, new_session, true),
                    Err(response) => return response.into_response(),
                }
                None
            }
        }
    } else {
        None
    };

    let body = if parts.method == Method::GET || parts.method == Method::HEAD {
        body
    } else {
        match check_csrf(&parts, body, &session.csrf, web.app.options().body_limit).await {
            Ok(body) => body,
            Err(response) => return response.into_response(),
        }
    };

    let path = parts.uri.path().to_owned();
    if keys_required && caller.is_none() && !is_public(&path) {
        let response = if parts.method == Method::GET || parts.method == Method::HEAD {
            let next = parts.uri.path_and_query().map_or(path.as_str(), |p| p.as_str());
            let target = format!(
                "/ui/login?next={}",
                serde_urlencoded::to_string([("", next)])
                    .map(|s| s.trim_start_matches('=').to_owned())
                    .unwrap_or_default()
            );
            Redirect::to(&target).into_response()
        } else {
            error_page(
                StatusCode::UNAUTHORIZED,
                "Sign in first",
                "this server requires an API key: sign in, then send the form again",
            )
        };
        return finish(response, fresh.then_some(&id));
    }

    parts.extensions.insert(Viewer {
        caller,
        csrf: session.csrf.clone(),
        keys_required,
        session: id.clone(),
    });
    let response = next.run(Request::from_parts(parts, body)).await;
    finish(response, fresh.then_some(&id))
}

/// Reads the body (within the server's limit) and checks the CSRF token it or the request's
/// header carries; gives the body back for the handler.
async fn check_csrf(parts: &Parts, body: Body, expected: &str, limit: usize) -> Result<Body, PageError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            &format!("the form is larger than the server's limit of {limit} bytes; nothing was saved"),
        )
    })?;
    let from_header = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let token = from_header.or_else(|| {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()?
            .into_iter()
            .find(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value)
    });
    match token {
        Some(token) if same_token(token.as_bytes(), expected.as_bytes()) => Ok(Body::from(bytes)),
        _ => Err(fail(
            StatusCode::FORBIDDEN,
            "Refused: the form's security token is missing or stale",
            "every form of the UI carries a CSRF token tied to your session, and this request had none or \
             another session's (a page left open across a restart or a sign-out, or a request from another \
             site). Nothing was changed: reload the page and send it again.",
        )),
    }
}

/// Adds the session cookie (when the session is new and the handler set none) and the headers
/// every page carries.
fn finish(mut response: Response, new_session: Option<&String>) -> Response {
    let headers = response.headers_mut();
    if let Some(id) = new_session
        && !headers.contains_key(header::SET_COOKIE)
    {
        headers.append(header::SET_COOKIE, cookie(id));
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abc", b"abd"));
        assert!(!same_token(b"abc", b"ab"));
        assert!(!same_token(b"", b"a"));
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let value = cookie("00ff");
        let text = value.to_str().unwrap_or_default();
        assert!(text.starts_with("pm_session=00ff;"), "{text}");
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Strict"), "{text}");
    }
}
