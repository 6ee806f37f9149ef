//! A real `prompt-manager serve` on a free loopback port, for the remote store's tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prompt_manager::PromptManager;
use prompt_manager_server::{AppOptions, Server, ServerConfig};

/// A running server; it stops when this is dropped.
pub(crate) struct Running {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub(crate) url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Serves `pm` with `options` on `127.0.0.1:0`.
pub(crate) async fn serve(pm: PromptManager, options: AppOptions) -> Running {
    let config = ServerConfig {
        store: "test".into(),
        bind: "127.0.0.1:0".parse().unwrap(),
        app: options,
        seed_example: false,
        shutdown_grace: Duration::from_secs(5),
    };
    let server = Server::bind_with(pm, config).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stop.await;
    }));
    Running { url, _stop: stop_tx }
}
