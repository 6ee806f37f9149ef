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

/// A TLS-terminating proxy on `127.0.0.1:0` in front of `backend`, with a certificate for
/// `localhost` and `127.0.0.1` signed by a CA made for the test; it stops when dropped.
pub(crate) struct TlsProxy {
    /// `https://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// The test CA's certificate, PEM (what a client must trust).
    pub(crate) ca_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a [`TlsProxy`] in front of `backend`.
pub(crate) async fn tls_proxy(backend: std::net::SocketAddr) -> TlsProxy {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "prompt-manager test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let chain = vec![CertificateDer::from(leaf.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsProxy {
        url,
        ca_pem: ca.pem(),
        task,
    }
}
