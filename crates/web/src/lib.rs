//! # prompt-manager-web
//!
//! The web UI of prompt-manager: where prompt engineers browse, read, diff, edit, promote and try
//! their prompts. Pages are HTML rendered on the server (minijinja templates compiled into the
//! binary), real links and forms that work without JavaScript; a small script compiled in too
//! (`assets/app.js`) adds live previews, copy buttons and search as you type. No JavaScript
//! build step, no external requests (fonts, CDNs).
//!
//! [`router`] returns the pages as routes over the REST API's [`AppState`]: `prompt-manager
//! serve` mounts them beside the API on the same port with
//! [`Server::with_ui`](prompt_manager_server::Server::with_ui), so they use the same manager, the
//! same API keys and the same limits. Authentication follows the API's rules: without keys the UI
//! is open on loopback as the API is; with keys, a user signs in once with an API key, kept on
//! the server behind an `HttpOnly`, `SameSite=Strict` session cookie, and every form carries a
//! CSRF token ((see `session.rs`)).
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use prompt_manager_server::{AppOptions, AppState, app_with};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pm = prompt_manager::in_memory();
//! pm.create(prompt_manager::Prompt::text("greeting", "Hello {{ name }}!")?).await?;
//! let state = AppState::new(pm, AppOptions::default())?;
//! let router = app_with(state.clone(), prompt_manager_web::router(state));
//!
//! let response = router.oneshot(Request::get("/ui/p/greeting").body(Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(()) }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use prompt_manager_server::AppState;

mod assets;
mod chart;
mod highlight;
mod pages;
mod session;
mod view;

/// Where the UI lives: every page is under this prefix, and `/` redirects to it.
pub const HOME: &str = "/ui/";

/// What every page handler shares: the API's state and the UI's sessions.
#[derive(Clone)]
pub(crate) struct Web {
    pub(crate) app: AppState,
    pub(crate) sessions: Arc<session::Sessions>,
}

/// The pages of the web UI and their assets, as routes over the API's state: `/` (a redirect to
/// [`HOME`]) and everything under `/ui/`. Mount them beside the API with
/// [`prompt_manager_server::app_with`] or [`Server::with_ui`](prompt_manager_server::Server::with_ui).
pub fn router(app: AppState) -> Router<AppState> {
    let web = Web {
        app,
        sessions: Arc::new(session::Sessions::new()),
    };
    Router::new()
        .route("/", get(|| async { Redirect::to(HOME) }))
        .route("/ui", get(|| async { Redirect::permanent(HOME) }))
        .route("/ui/", get(pages::browse::page))
        .route("/ui/login", get(pages::auth::login_page).post(pages::auth::login))
        .route("/ui/logout", post(pages::auth::logout))
        .route("/ui/p/{*id}", get(pages::prompt::page))
        .route("/ui/diff/{*id}", get(pages::diff::page))
        .route("/ui/labels/{*id}", post(pages::labels::post))
        .route("/ui/status/{*id}", post(pages::status::post))
        .route("/ui/audit/{*id}", get(pages::audit::page))
        .route("/ui/analytics/{*id}", get(pages::analytics::page))
        .route("/ui/experiment/{*id}", get(pages::analytics::experiment))
        .route(
            "/ui/play/{*id}",
            get(pages::playground::page).post(pages::playground::render),
        )
        .route("/ui/edit/{*id}", get(pages::edit::page_get).post(pages::edit::submit))
        .route("/ui/new", get(pages::create::page_get).post(pages::create::submit))
        .route("/ui/webhooks", get(pages::webhooks::page))
        .route("/ui/webhooks/redeliver", post(pages::webhooks::redeliver))
        .route("/ui/assets/{name}", get(assets::serve))
        .layer(axum::middleware::from_fn_with_state(web.clone(), session::layer))
        .with_state(web)
}
