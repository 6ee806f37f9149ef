//! What every handler shares: the manager, the API keys, the metrics, the options, and a cache
//! of serialized exact versions (immutable, so never stale).
//! Request authentication lives here too, as the extractors [`ReadAccess`], [`WriteAccess`] and
//! [`AdminAccess`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use prompt_manager::observability::{DEFAULT_MAX_RENDER_SERIES, MetricsConfig, MetricsObserver};
use prompt_manager::{Authority, ChangeListener, PromptId, PromptManager};

use crate::error::ApiError;
use crate::headers;
use crate::keys::{AuthFailure, Caller, KeyError, KeyRing, Scope};

/// Settings of the API itself (the router), as opposed to where and how it is served.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The API keys file; `None`: no keys, everything is allowed (loopback only).
    pub keys_file: Option<PathBuf>,
    /// How often a running server looks at the keys file for changes (default 1 s).
    pub keys_check_interval: Duration,
    /// Labels whose moves need an `admin` key (default `production`).
    pub protected_labels: BTreeSet<String>,
    /// The largest request body in bytes (default 1 MiB); larger bodies get 413.
    pub body_limit: usize,
    /// How long one request may take (default 30 s); slower ones get 408.
    pub request_timeout: Duration,
    /// Requests handled at once (default 512); more wait their turn (within the timeout).
    pub concurrency_limit: usize,
    /// The most renders in one batch (default 100).
    pub max_batch: usize,
    /// The most distinct (prompt id, version, label) render series `/metrics` keeps (default
    /// 1000); renders past it are counted under `version="_other", label="_other"`.
    pub metrics_max_series: usize,
    /// The most `GET /v1/changes` streams open at once (default 10,000); more get 503.
    pub max_change_streams: usize,
    /// The webhooks file (subscriptions, delivery log); `None`: webhooks are off.
    pub webhooks_file: Option<PathBuf>,
    /// How webhooks are delivered.
    pub webhooks: crate::webhooks::WebhookOptions,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            keys_file: None,
            keys_check_interval: Duration::from_secs(1),
            protected_labels: BTreeSet::from(["production".to_owned()]),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            concurrency_limit: 512,
            max_batch: 100,
            metrics_max_series: DEFAULT_MAX_RENDER_SERIES,
            max_change_streams: 10_000,
            webhooks_file: None,
            webhooks: crate::webhooks::WebhookOptions::default(),
        }
    }
}

/// The state shared by the handlers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pm: PromptManager,
    pub(crate) keys: KeyRing,
    pub(crate) metrics: MetricsObserver,
    pub(crate) options: AppOptions,
    /// Exact-version GET bodies by `id@version`: (ETag, JSON), bounded by bytes.
    pub(crate) exact: quick_cache::sync::Cache<String, ExactEntry, ExactWeight>,
    /// Bumped whenever the store reports a change made elsewhere: a body read before a bump is
    /// not cached after it (it may be what a delete and re-create replaced).
    pub(crate) exact_epoch: AtomicU64,
    /// The changes `GET /v1/changes` streams.
    pub(crate) changes: Arc<crate::changes::ChangeFeed>,
}

/// A cached exact-version response: its ETag and JSON body.
pub(crate) type ExactEntry = Arc<(String, axum::body::Bytes)>;

/// The most bytes of exact-version bodies kept in memory.
const EXACT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Weighs a cached exact version by its size, so large prompts cannot fill memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExactWeight;

impl quick_cache::Weighter<String, ExactEntry> for ExactWeight {
    fn weight(&self, key: &String, entry: &ExactEntry) -> u64 {
        (key.len() + entry.0.len() + entry.1.len()) as u64
    }
}

/// Forgets cached exact versions of prompts changed by another process or instance (deleted and
/// created again with other content under the same version number): the same change feed that
/// keeps the manager's registry exact.
struct ExactInvalidator(std::sync::Weak<Inner>);

impl ChangeListener for ExactInvalidator {
    fn changed(&self, id: &PromptId) {
        if let Some(inner) = self.0.upgrade() {
            inner.exact_epoch.fetch_add(1, Ordering::AcqRel);
            let prefix = format!("{id}@");
            inner.exact.retain(|key, _| !key.starts_with(&prefix));
        }
    }

    fn lost(&self) {
        if let Some(inner) = self.0.upgrade() {
            inner.exact_epoch.fetch_add(1, Ordering::AcqRel);
            inner.exact.clear();
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("pm", &self.pm)
            .field("keys", &self.keys.path())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state for a manager: loads the keys file and registers a metrics observer on `pm`.
    pub fn new(pm: PromptManager, options: AppOptions) -> Result<Self, KeyError> {
        let keys = KeyRing::open(options.keys_file.clone(), options.keys_check_interval)?;
        let metrics =
            MetricsObserver::new(MetricsConfig::first_seen(200).with_max_render_series(options.metrics_max_series));
        pm.add_observer(Arc::new(metrics.clone()));
        let changes = crate::changes::ChangeFeed::new(options.max_change_streams);
        pm.subscribe_changes(changes.listener());
        let inner = Arc::new(Inner {
            changes,
            pm,
            keys,
            metrics,
            options,
            exact: quick_cache::sync::Cache::with_weighter(10_000, EXACT_CACHE_BYTES, ExactWeight),
            exact_epoch: AtomicU64::new(0),
        });
        inner
            .pm
            .store()
            .watch(Arc::new(ExactInvalidator(Arc::downgrade(&inner))));
        Ok(AppState { inner })
    }

    /// Pushes the render metrics `/metrics` shows over OTLP as well, when `telemetry` exports
    /// ([`init_telemetry`](crate::init_telemetry)); does nothing otherwise.
    #[cfg(feature = "otlp")]
    pub fn export_metrics(&self, telemetry: &prompt_manager::observability::Telemetry) {
        if let Some(meter) = telemetry.meter() {
            self.inner.metrics.export_to(&meter);
        }
    }

    /// The manager, recording the caller's key name as author and actor of what it writes, and
    /// writing with the caller's authority: [`Authority::Admin`] for an `admin` key and for the
    /// keyless loopback mode (where every caller may do everything, as for the labels the server
    /// configuration protects), [`Authority::User`] otherwise — so the store refuses a `write`
    /// key's move of a label protected per prompt.
    pub fn writer(&self, caller: &Caller) -> PromptManager {
        let authority = if caller.scope >= Scope::Admin {
            Authority::Admin
        } else {
            Authority::User
        };
        let pm = self.inner.pm.with_authority(authority);
        match &caller.key_name {
            Some(name) => pm.acting_as(name.as_str()),
            None => pm,
        }
    }

    /// The manager.
    pub fn manager(&self) -> &PromptManager {
        &self.inner.pm
    }

    /// The API keys.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// The options.
    pub fn options(&self) -> &AppOptions {
        &self.inner.options
    }

    /// Whether the server configuration protects `label` (its moves need an `admin` key).
    pub fn is_protected(&self, label: &str) -> bool {
        self.inner.options.protected_labels.contains(label)
    }

    /// Authenticates a request by the rules of the API, for front ends mounted beside it (the web
    /// UI): `authorization` is the `Authorization` value to check (`Bearer <key>`, or `None`),
    /// whatever carried it; without keys, only requests addressed to and sent from loopback names
    /// pass; and the caller must have `needed`.
    pub fn authorize(&self, parts: &Parts, authorization: Option<&str>, needed: Scope) -> Result<Caller, ApiError> {
        authorize(parts, self, authorization, needed)
    }
}

fn authenticate(parts: &Parts, state: &AppState, needed: Scope) -> Result<Caller, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    authorize(parts, state, header, needed)
}

fn authorize(parts: &Parts, state: &AppState, header: Option<&str>, needed: Scope) -> Result<Caller, ApiError> {
    let caller = state.inner.keys.authenticate(header).map_err(|failure| {
        let detail = match failure {
            AuthFailure::Missing => "this server requires an API key: send `Authorization: Bearer <key>`",
            AuthFailure::Malformed => "the Authorization header must be `Bearer <key>`",
            AuthFailure::Unknown => "the API key is not valid: unknown, revoked or mistyped",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"prompt-manager\""),
        )
    })?;
    if caller.key_name.is_none() {
        refuse_foreign_sites(parts)?;
    }
    require(&caller, needed, "this request")?;
    Ok(caller)
}

/// Without API keys every caller may do everything, and only loopback can reach the server;
/// a web page the developer has open can still send it requests (a cross-site form POST needs no
/// CORS preflight; DNS rebinding points an attacker's host name at 127.0.0.1). Browsers always
/// send `Host` and, on cross-site requests, `Origin`: answer only requests addressed to and sent
/// from loopback names. Clients that send neither (tests, `oneshot`) are not browsers.
fn refuse_foreign_sites(parts: &Parts) -> Result<(), ApiError> {
    let foreign = |what: &str| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this server has no API keys, so it only answers requests addressed to localhost \
                 and not sent by other sites' pages (the {what} names another host); \
                 create a key with `prompt-manager keys create` to serve other hosts"
            ),
        )
    };
    // Each is parsed as an authority or origin (`headers.rs`); one that does not parse is not
    // loopback. Duplicates were refused before routing.
    let value = |name| {
        parts
            .headers
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("\u{0}"))
    };
    if value(header::HOST).is_some_and(|v| !headers::host_names_loopback(v)) {
        return Err(foreign("Host header"));
    }
    if value(header::ORIGIN).is_some_and(|v| !headers::origin_names_loopback(v)) {
        return Err(foreign("Origin header"));
    }
    // An absolute-form request target (`GET http://host/…`) names the host itself (RFC 9112 §3.2.2).
    if parts
        .uri
        .authority()
        .is_some_and(|a| !headers::host_names_loopback(a.as_str()))
    {
        return Err(foreign("request target"));
    }
    Ok(())
}

/// Refuses with 403 unless `caller` has `needed`.
pub(crate) fn require(caller: &Caller, needed: Scope, what: &str) -> Result<(), ApiError> {
    if caller.scope >= needed {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "{what} needs a key with scope `{needed}`; this key has `{}`",
            caller.scope
        ),
    ))
}

/// A caller allowed to read (any key, or none when the server has no keys).
#[derive(Debug)]
pub(crate) struct ReadAccess(pub(crate) Caller);

/// A caller allowed to write (`write` or `admin`).
#[derive(Debug)]
pub(crate) struct WriteAccess(pub(crate) Caller);

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Scope::Read).map(ReadAccess)
    }
}

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Scope::Write).map(WriteAccess)
    }
}

/// A caller with the `admin` scope (or none needed: a server without keys).
#[derive(Debug)]
pub(crate) struct AdminAccess;

impl FromRequestParts<AppState> for AdminAccess {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Scope::Admin).map(|_| AdminAccess)
    }
}
