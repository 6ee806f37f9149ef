//! A real `prompt-manager serve` on a free loopback port, for the remote store's tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prompt_manager::PromptManager;
use prompt_manager_server::{AppOptions, Server, ServerConfig};

/// A running server; it stops when this is dropped, or with [`Running::stop`].
pub(crate) struct Running {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub(crate) url: String,
    /// Its address.
    pub(crate) addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the server and waits until it has let go of its port.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serves `pm` with `options` on `127.0.0.1:0`.
pub(crate) async fn serve(pm: PromptManager, options: AppOptions) -> Running {
    serve_on(pm, options, "127.0.0.1:0".parse().unwrap()).await
}

/// Serves `pm` with `options` on `bind`.
pub(crate) async fn serve_on(pm: PromptManager, options: AppOptions, bind: std::net::SocketAddr) -> Running {
    let config = ServerConfig {
        store: "test".into(),
        bind,
        app: options,
        seed_example: false,
        shutdown_grace: Duration::from_secs(5),
    };
    let server = Server::bind_with(pm, config).await.unwrap();
    let addr = server.local_addr();
    let url = format!("http://{addr}");
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = server
            .run(async move {
                let _ = stop.await;
            })
            .await;
    });
    Running {
        url,
        addr,
        stop: stop_tx,
        task,
    }
}
