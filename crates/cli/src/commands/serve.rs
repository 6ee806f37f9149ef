//! `prompt-manager serve`: the REST API of `prompt-manager-server` on the configured store.
//!
//! Settings come from flags, then the `[server]` table of prompt-manager.toml, then defaults:
//!
//! ```toml
//! [server]
//! bind = "127.0.0.1:8080"           # any non-loopback address needs API keys
//! keys_file = "prompt-manager-keys.json"   # relative to this file
//! protected_labels = ["production"] # moving them needs an admin key
//! body_limit = 1048576              # bytes
//! request_timeout_secs = 30
//! concurrency_limit = 512
//! shutdown_grace_secs = 30
//! seed_example = true               # create examples/greeting in an empty store
//! metrics_max_series = 1000         # (prompt, version, label) series on /metrics; more fold into "_other"
//! max_change_streams = 10000        # GET /v1/changes streams open at once; more get 503
//! webhooks_file = "prompt-manager-webhooks.json"   # subscriptions and delivery log, relative to this file
//! webhooks_allow_private = false    # let webhooks call private-network addresses
//! ```
//!
//! The server runs on its own multi-threaded runtime (the command line's is single-threaded).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use clap::Args;
use prompt_manager_server::{AppOptions, ServerConfig};
use serde::Deserialize;

use super::Context;
use super::keys::keys_path;
use crate::error::{Outcome, hinted};

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on (default 127.0.0.1:8080; a non-loopback address needs API keys).
    #[arg(long, value_name = "ADDR", env = "PROMPT_MANAGER_BIND")]
    bind: Option<SocketAddr>,
    /// The port on 127.0.0.1 (a shorthand for --bind 127.0.0.1:PORT; 0 picks a free one).
    #[arg(long, conflicts_with = "bind")]
    port: Option<u16>,
    /// The API keys file (default prompt-manager-keys.json beside prompt-manager.toml).
    #[arg(long, value_name = "PATH", env = "PROMPT_MANAGER_KEYS_FILE")]
    keys_file: Option<PathBuf>,
    /// The webhooks file: subscriptions and their delivery log (default
    /// prompt-manager-webhooks.json beside prompt-manager.toml).
    #[arg(long, value_name = "PATH", env = "PROMPT_MANAGER_WEBHOOKS_FILE")]
    webhooks_file: Option<PathBuf>,
    /// Let webhooks call private-network addresses (loopback, 10/8, 192.168/16, …), for receivers
    /// inside your network.
    #[arg(long)]
    webhooks_allow_private: bool,
    /// Do not create the example prompt in an empty store.
    #[arg(long)]
    no_seed: bool,
    /// Log lines as JSON objects (for log collectors); `RUST_LOG` sets the filter (default info).
    #[arg(long)]
    log_json: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// The `[server]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerTable {
    bind: Option<SocketAddr>,
    keys_file: Option<String>,
    protected_labels: Option<Vec<String>>,
    body_limit: Option<usize>,
    request_timeout_secs: Option<u64>,
    concurrency_limit: Option<usize>,
    shutdown_grace_secs: Option<u64>,
    seed_example: Option<bool>,
    metrics_max_series: Option<usize>,
    max_change_streams: Option<usize>,
    webhooks_file: Option<String>,
    webhooks_allow_private: Option<bool>,
}

fn server_table(ctx: &Context) -> anyhow::Result<ServerTable> {
    let Some(config) = &ctx.config else {
        return Ok(ServerTable::default());
    };
    if config.config.server.is_empty() {
        return Ok(ServerTable::default());
    }
    config
        .config
        .server
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| anyhow!("{}: [server]: {}", config.path.display(), e.message()))
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub(crate) async fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<Outcome> {
    let table = server_table(ctx)?;
    let defaults = ServerConfig::default();
    let bind = match (args.bind, args.port) {
        (Some(bind), _) => bind,
        (None, Some(port)) => SocketAddr::from(([127, 0, 0, 1], port)),
        (None, None) => table.bind.unwrap_or(defaults.bind),
    };
    let keys_file = keys_path(
        ctx,
        args.keys_file
            .clone()
            .or_else(|| table.keys_file.as_deref().map(|p| super::from_config_dir(ctx, p))),
    );
    let app = AppOptions {
        keys_file: Some(keys_file),
        protected_labels: table
            .protected_labels
            .map(|l| l.into_iter().collect())
            .unwrap_or(defaults.app.protected_labels.clone()),
        body_limit: table.body_limit.unwrap_or(defaults.app.body_limit),
        request_timeout: table
            .request_timeout_secs
            .map_or(defaults.app.request_timeout, Duration::from_secs),
        concurrency_limit: table.concurrency_limit.unwrap_or(defaults.app.concurrency_limit),
        metrics_max_series: table.metrics_max_series.unwrap_or(defaults.app.metrics_max_series),
        max_change_streams: table.max_change_streams.unwrap_or(defaults.app.max_change_streams),
        webhooks_file: Some(super::webhooks::webhooks_path(
            ctx,
            args.webhooks_file
                .clone()
                .or_else(|| table.webhooks_file.as_deref().map(|p| super::from_config_dir(ctx, p))),
        )),
        webhooks: prompt_manager_server::webhooks::WebhookOptions {
            allow_private: args.webhooks_allow_private || table.webhooks_allow_private.unwrap_or(false),
            ..defaults.app.webhooks.clone()
        },
        ..defaults.app.clone()
    };
    let config = ServerConfig {
        store: ctx.store_url.clone(),
        bind,
        app,
        seed_example: !args.no_seed && table.seed_example.unwrap_or(true),
        shutdown_grace: table
            .shutdown_grace_secs
            .map_or(defaults.shutdown_grace, Duration::from_secs),
    };
    if let Err(e) = config.check_bind() {
        return Err(hinted(
            e,
            "then give clients keys with `prompt-manager keys create NAME --scope read` (or write)",
        ));
    }
    let author = ctx.config.as_ref().and_then(|c| c.config.defaults.author.clone());
    // The shipped prices with the config file's `[prices]` over them; `PUT /v1/prices/{model}`
    // changes them while the server runs.
    let prices = ctx.prices()?;
    let quiet = ctx.printer.quiet;
    let threads = args.threads;
    let log_json = args.log_json;
    // The store's connection pool belongs to the runtime it was opened on: open it on the server's.
    let server = std::thread::Builder::new()
        .name("prompt-manager-serve".into())
        .spawn(move || -> anyhow::Result<()> {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = threads {
                builder.worker_threads(n.max(1));
            }
            let runtime = builder
                .enable_all()
                .build()
                .context("cannot start the server's runtime")?;
            #[cfg(feature = "otlp")]
            let telemetry = prompt_manager_server::init_telemetry(log_json);
            #[cfg(feature = "otlp")]
            let exporting = &telemetry;
            #[cfg(not(feature = "otlp"))]
            prompt_manager_server::init_logging(log_json);
            let served = runtime.block_on(async move {
                let store = prompt_manager::open_store(&config.store).await?;
                // Usage is recorded where the store keeps it (SQLite, PostgreSQL); the server
                // flushes it every 10 s and on shutdown.
                let records_usage = store.records_usage();
                let mut pm = prompt_manager::builder().store(store).prices(prices);
                if records_usage {
                    pm = pm.usage(prompt_manager::UsageConfig::default());
                }
                if let Some(author) = author {
                    pm = pm.actor(author);
                }
                let server = prompt_manager_server::Server::bind_with(pm.build()?, config).await?;
                #[cfg(feature = "otlp")]
                server.state().export_metrics(exporting);
                let ui = prompt_manager_web::router(server.state().clone());
                let server = server.with_ui(ui, prompt_manager_web::HOME);
                let shutdown = prompt_manager_server::shutdown_signal();
                if quiet {
                    println!("http://{}", server.local_addr());
                } else {
                    println!("{}", server.banner());
                }
                server.run(shutdown).await?;
                if !quiet {
                    eprintln!("prompt-manager: stopped");
                }
                Ok::<_, anyhow::Error>(())
            });
            // What the exporters buffered goes out before the process ends.
            #[cfg(feature = "otlp")]
            if let Err(e) = telemetry.shutdown() {
                eprintln!("prompt-manager: the last OTLP export failed: {e}");
            }
            served
        })
        .context("cannot start the server thread")?;
    let joined = tokio::task::spawn_blocking(move || server.join())
        .await
        .context("the server thread was lost")?;
    match joined {
        Ok(Ok(())) => Ok(Outcome::Success),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(anyhow!("the server thread panicked")),
    }
}
