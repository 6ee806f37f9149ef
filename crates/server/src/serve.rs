//! Serving the API on a socket: [`ServerConfig`], the safety check on the bind address, seeding
//! an example prompt into an empty store, the start-up banner, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prompt_manager::{
    CreateOptions, Error, LabelName, ListQuery, Prompt, PromptManager, PromptStatus, VariableSpec, VariableType,
};
use tokio::net::TcpListener;

use crate::keys::{self, KeyError};
use crate::state::{AppOptions, AppState};

/// The id of the prompt [`seed_example`] creates.
pub const EXAMPLE_PROMPT: &str = "examples/greeting";

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The store URL (default `sqlite://./prompt-manager.db`).
    pub store: String,
    /// The address to listen on (default `127.0.0.1:8080`). Any address other than loopback
    /// needs API keys.
    pub bind: SocketAddr,
    /// The API's options: keys file, protected labels, limits.
    pub app: AppOptions,
    /// Whether to create [`EXAMPLE_PROMPT`] in an empty store (default yes).
    pub seed_example: bool,
    /// How long shutdown waits for requests in flight (default 30 s).
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            store: "sqlite://./prompt-manager.db".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            app: AppOptions {
                keys_file: Some(PathBuf::from("prompt-manager-keys.json")),
                ..AppOptions::default()
            },
            seed_example: true,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Why the server did not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A non-loopback bind without API keys.
    #[error(
        "refusing to listen on {addr} without API keys: anyone who can reach it could change your prompts. \
         Create a key first (`prompt-manager keys create NAME --scope admin`), or listen on loopback only (127.0.0.1)"
    )]
    UnsafeBind {
        /// The refused address.
        addr: SocketAddr,
    },
    /// The store could not be opened or seeded.
    #[error("{0}")]
    Store(#[from] Error),
    /// The keys file could not be read.
    #[error("{0}")]
    Keys(#[from] KeyError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the server failed: {0}")]
    Io(#[source] std::io::Error),
}

/// Creates [`EXAMPLE_PROMPT`] (active, labelled `production`) when the store holds no prompt.
/// Returns whether it did.
pub async fn seed_example(pm: &PromptManager) -> Result<bool, Error> {
    let any = pm
        .list(&ListQuery {
            limit: Some(1),
            ..ListQuery::default()
        })
        .await?;
    if !any.items.is_empty() {
        return Ok(false);
    }
    let prompt = Prompt::text(EXAMPLE_PROMPT, "Hello {{ name }}! Welcome to {{ product }}.")?
        .with_description("An example seeded by `prompt-manager serve` into an empty store")
        .with_tags(["example"])
        .with_variable(VariableSpec::new("name", VariableType::String).with_description("Who to greet"))
        .with_variable(VariableSpec::new("product", VariableType::String).with_default("prompt-manager"));
    let options = CreateOptions {
        status: PromptStatus::Active,
        labels: vec![LabelName::new("production")?],
        changelog: Some("Example prompt".into()),
        ..CreateOptions::default()
    };
    match pm.create_with(prompt, options).await {
        Ok(_) => Ok(true),
        Err(Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The URL without a password (`postgres://u:secret@h/db` → `postgres://u:***@h/db`).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!("{scheme}://{}:***{}", &rest[..colon], &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A server bound to its address, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    config: ServerConfig,
    local_addr: SocketAddr,
    seeded: bool,
    has_example: bool,
    /// Routes served beside the API (the web UI) and the path the banner names first.
    ui: Option<(axum::Router<AppState>, String)>,
}

impl Server {
    /// Opens the store, checks the bind address against the keys, seeds the example into an empty
    /// store and binds the socket. The manager records usage when the store keeps it (SQLite,
    /// PostgreSQL), flushed every 10 s.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServeError> {
        config.check_bind()?;
        let store = prompt_manager::open_store(&config.store).await?;
        let mut pm = prompt_manager::builder().store(store.clone());
        if store.records_usage() {
            pm = pm.usage(prompt_manager::UsageConfig::default());
        }
        Self::bind_with(pm.build()?, config).await
    }

    /// Like [`bind`](Self::bind), with a manager already built (`config.store` only names it).
    pub async fn bind_with(pm: PromptManager, config: ServerConfig) -> Result<Server, ServeError> {
        config.check_bind()?;
        let state = AppState::new(pm.clone(), config.app.clone())?;
        if !config.bind.ip().is_loopback() {
            state.keys().require();
        }
        // Bind first: a server that cannot start (the port is taken) writes nothing to the store.
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.bind,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(ServeError::Io)?;
        let seeded = if config.seed_example {
            seed_example(&pm).await?
        } else {
            false
        };
        let has_example = pm.summary(EXAMPLE_PROMPT).await.is_ok();
        if !state.keys().required() {
            // Also on stderr, for `--quiet` runs that print no banner: an open server is announced.
            let file = state.keys().path().map(|p| p.display().to_string());
            tracing::warn!(
                keys_file = file.as_deref().unwrap_or("none"),
                "serving WITHOUT API keys (no keys file): every request on {} may read and write",
                local_addr
            );
        }
        Ok(Server {
            listener,
            state,
            config,
            local_addr,
            seeded,
            has_example,
            ui: None,
        })
    }

    /// Serves `routes` beside the API on the same port (the web UI, from `prompt-manager-web`);
    /// the banner's first line is the URL of `home` (`/ui/`).
    pub fn with_ui(mut self, routes: axum::Router<AppState>, home: impl Into<String>) -> Server {
        self.ui = Some((routes, home.into()));
        self
    }

    /// The address the server listens on (the real port when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The API's state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// What to print at start: the URL, the store, the auth mode and a `curl` line to try.
    pub fn banner(&self) -> String {
        let url = format!("http://{}", self.local_addr);
        let keys = self.state.keys();
        let mut out = match &self.ui {
            Some((_, home)) => format!("Open the web UI: {url}{home}\nprompt-manager is serving on {url}\n"),
            None => format!("prompt-manager is serving on {url}\n"),
        };
        out += &format!("  store:   {}", redact(&self.config.store));
        if self.seeded {
            out += &format!(" (empty: seeded the example prompt `{EXAMPLE_PROMPT}`)");
        }
        out.push('\n');
        let file = keys.path().map(|p| p.display().to_string());
        let auth_header = if keys.required() {
            let file = file.unwrap_or_default();
            match keys.len() {
                0 => {
                    out += &format!(
                        "  auth:    API keys required, but {file} holds none (all revoked?): every request is refused\n"
                    );
                    out += "           until `prompt-manager keys create NAME --scope admin`; delete the file to serve without keys\n";
                }
                n => out += &format!("  auth:    API keys required ({n} in {file})\n"),
            }
            " -H \"authorization: Bearer $PROMPT_MANAGER_API_KEY\""
        } else {
            let why = match file {
                Some(file) => format!("no keys file at {file}"),
                None => "no keys file configured".to_owned(),
            };
            out += &format!(
                "  auth:    OPEN: {why}, so listening on loopback only and every request may read and write;\n"
            );
            out += "           `prompt-manager keys create NAME --scope admin` turns keys on (and allows other addresses)\n";
            ""
        };
        out += &format!("  API:     {url}/openapi.json   health: {url}/healthz   metrics: {url}/metrics\n");
        if self.has_example {
            out += &format!(
                "\nRender the example:\n  curl -s -X POST '{url}/v1/prompts/examples%2Fgreeting%40production/render'{auth_header} \\\n    -H 'content-type: application/json' -d '{{\"variables\": {{\"name\": \"Ada\"}}}}'\n"
            );
        } else {
            out += &format!("\nList the prompts:\n  curl -s '{url}/v1/prompts'{auth_header}\n");
        }
        out
    }

    /// Serves until `shutdown` completes, then stops accepting connections and waits for the
    /// requests in flight (at most the configured grace period). When the manager records usage,
    /// a background task flushes it to the store every flush interval, and once more after the
    /// last request: a graceful shutdown loses no usage record.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let flusher = if self.state.manager().records_usage() {
            match prompt_manager::UsageFlusher::spawn(self.state.manager()) {
                Ok(flusher) => Some(flusher),
                Err(e) => {
                    tracing::warn!("usage records will not be flushed: {e}");
                    None
                }
            }
        } else {
            None
        };
        let options = self.state.options();
        let dispatcher = options.webhooks_file.clone().map(|path| {
            crate::webhooks::Dispatcher::spawn(self.state.manager().clone(), path, options.webhooks.clone())
        });
        let extra = self.ui.map(|(routes, _)| routes).unwrap_or_default();
        let router = crate::app_with(self.state.clone(), extra);
        let stopping = Arc::new(tokio::sync::Notify::new());
        let notify = stopping.clone();
        let state = self.state.clone();
        let serving =
            axum::serve(crate::conn::ProblemListener(self.listener), router).with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections, draining the requests in flight");
                // Change streams never end by themselves: end them, so their connections close.
                state.inner.changes.close();
                notify.notify_one();
            });
        let grace = self.config.shutdown_grace;
        let result = tokio::select! {
            r = serving.into_future() => r.map_err(ServeError::Io),
            () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
                tracing::warn!("requests still in flight after the {grace:?} grace period; closing them");
                Ok(())
            }
        };
        if let Some(dispatcher) = dispatcher {
            dispatcher.stop().await;
        }
        if let Some(flusher) = flusher {
            match flusher.shutdown().await {
                Ok(report) => tracing::info!(
                    rows = report.rows,
                    renders = report.renders,
                    "flushed the usage records"
                ),
                Err(e) => tracing::warn!("the last flush of usage records failed: {e}"),
            }
        }
        if let Err(e) = self.state.manager().shutdown().await {
            tracing::warn!("a plugin failed to shut down: {e}");
        }
        result
    }
}

impl ServerConfig {
    /// Refuses a bind address other than loopback unless the keys file holds a key. [`Server::bind`]
    /// checks this first; call it before opening a store yourself.
    pub fn check_bind(&self) -> Result<(), ServeError> {
        if self.bind.ip().is_loopback() {
            return Ok(());
        }
        let keys = match &self.app.keys_file {
            Some(path) => keys::list(path)?.len(),
            None => 0,
        };
        if keys == 0 {
            return Err(ServeError::UnsafeBind { addr: self.bind });
        }
        Ok(())
    }
}

/// A future that completes on SIGTERM or Ctrl-C (SIGINT). The handlers are installed when this
/// is called, not when the future is first polled, so call it before announcing the server: a
/// supervisor that sends SIGTERM as soon as it sees the URL gets a graceful stop, not a kill.
/// Must be called inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let terminate = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async fn wait(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                () = wait(terminate) => {}
                () = wait(interrupt) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Installs the log output of a server process on stderr: one line per event (`json`: one JSON
/// object per line), filtered by `RUST_LOG` (default `info`: start, stop, key reloads, store
/// failures; per-request traces are at `debug`). Does nothing when logging is already set up.
pub fn init_logging(json: bool) {
    use prompt_manager::observability::{LogFormat, filter_from_env};
    let format = if json { LogFormat::Json } else { LogFormat::Human };
    if let Err(e) = prompt_manager::observability::init_logging(format, &filter_from_env("info")) {
        tracing::debug!("logging was already set up: {e}");
    }
}

/// Installs the log output as [`init_logging`] does and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is
/// set, exports the `tracing` spans as OTLP traces to it. Keep the returned guard for the life of
/// the process and [`shutdown`](prompt_manager::observability::Telemetry::shutdown) it at the end:
/// that sends what is buffered. Hand its meter to [`AppState::export_metrics`] to push the
/// render metrics too. An endpoint that cannot be set up is logged, and the server runs
/// without export.
#[cfg(feature = "otlp")]
pub fn init_telemetry(json: bool) -> prompt_manager::observability::Telemetry {
    use prompt_manager::observability::{LogFormat, TelemetryConfig, filter_from_env, init_telemetry_with};
    let format = if json { LogFormat::Json } else { LogFormat::Human };
    let filter = filter_from_env("info");
    match init_telemetry_with(TelemetryConfig::from_env(format, filter.clone())) {
        Ok(telemetry) => {
            if telemetry.is_exporting() {
                tracing::info!("exporting traces and metrics over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)");
            }
            telemetry
        }
        Err(e) => {
            // Logging alone, then: the export's failure is said on it.
            if let Err(again) = prompt_manager::observability::init_logging(format, &filter) {
                tracing::debug!("logging was already set up: {again}");
            }
            tracing::warn!("OTLP export is off: {e}");
            prompt_manager::observability::Telemetry::default()
        }
    }
}

/// Binds, prints the banner on stdout, and serves until SIGTERM or Ctrl-C.
pub async fn serve(config: ServerConfig) -> Result<(), ServeError> {
    let server = Server::bind(config).await?;
    let shutdown = shutdown_signal();
    println!("{}", server.banner());
    server.run(shutdown).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn banners_never_show_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://./a.db"), "sqlite://./a.db");
    }

    #[tokio::test]
    async fn a_public_bind_without_keys_is_refused_and_nothing_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pm.db");
        let config = ServerConfig {
            store: format!("sqlite://{}", db.display()),
            bind: "0.0.0.0:0".parse().unwrap(),
            app: AppOptions {
                keys_file: Some(dir.path().join("keys.json")),
                ..AppOptions::default()
            },
            ..ServerConfig::default()
        };
        let err = Server::bind(config).await.unwrap_err().to_string();
        assert!(
            err.contains("refusing to listen on 0.0.0.0:0 without API keys"),
            "{err}"
        );
        assert!(!db.exists(), "the store is not touched");
    }

    #[tokio::test]
    async fn an_empty_store_gets_the_example_and_the_banner_shows_how_to_render_it() {
        let pm = prompt_manager::in_memory();
        let config = ServerConfig {
            store: "memory://".into(),
            bind: "127.0.0.1:0".parse().unwrap(),
            app: AppOptions::default(),
            ..ServerConfig::default()
        };
        let server = Server::bind_with(pm.clone(), config.clone()).await.unwrap();
        let banner = server.banner();
        assert!(banner.contains(&format!("http://{}", server.local_addr())), "{banner}");
        assert!(banner.contains("seeded the example prompt"), "{banner}");
        assert!(banner.contains("loopback only"), "{banner}");
        assert!(banner.contains("curl -s -X POST"), "{banner}");
        let text = pm
            .render(
                "examples/greeting@production",
                &prompt_manager::Variables::new().with("name", "Ada"),
            )
            .await
            .unwrap();
        assert_eq!(text, "Hello Ada! Welcome to prompt-manager.");
        drop(server);
        let again = Server::bind_with(pm, config).await.unwrap();
        assert!(!again.banner().contains("seeded"), "a store with prompts is left alone");
    }
}
