//! `https://` stores: a manager reaches a server behind TLS (a proxy with a certificate from a
//! CA made for the test), trusting the CA named by `?ca=`; without it the certificate is refused
//! with an error that says so, and nothing is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use prompt_manager::{Error, Prompt, Variables};
use prompt_manager_server::AppOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_works_over_https_with_the_teams_ca() {
    let server_pm = prompt_manager::in_memory();
    let server = common::serve(server_pm.clone(), AppOptions::default()).await;
    let proxy = common::tls_proxy(server.addr).await;
    let folder = tempfile::tempdir().unwrap();
    let ca = folder.path().join("ca.pem");
    std::fs::write(&ca, &proxy.ca_pem).unwrap();

    let pm = prompt_manager::open(&format!("{}/?ca={}", proxy.url, ca.display()))
        .await
        .unwrap();
    pm.create(Prompt::text("secure/greet", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    pm.set_label("secure/greet", "production", "1.0.0").await.unwrap();
    let vars = Variables::new().with("name", "Ada");
    assert_eq!(pm.render("secure/greet@production", &vars).await.unwrap(), "Hello Ada!");
    assert_eq!(server_pm.history("secure/greet").await.unwrap().len(), 1);

    // The change stream runs over TLS too: a move on the server reaches the client's render.
    server_pm
        .update(
            Prompt::text("secure/greet", "Hi {{ name }}!").unwrap(),
            prompt_manager::Bump::Minor,
            "shorter",
        )
        .await
        .unwrap();
    server_pm
        .set_label("secure/greet", "production", "1.1.0")
        .await
        .unwrap();
    let started = Instant::now();
    while pm.render("secure/greet@production", &vars).await.unwrap() != "Hi Ada!" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the move never arrived over https"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_and_a_bad_ca_file_is_named() {
    let server = common::serve(prompt_manager::in_memory(), AppOptions::default()).await;
    let proxy = common::tls_proxy(server.addr).await;
    let pm = prompt_manager::open(&proxy.url).await.unwrap();
    let err = pm.render("anything", &Variables::new()).await.unwrap_err();
    assert!(matches!(err, Error::Backend { backend: "http", .. }), "{err:?}");
    let text = err.to_string().to_lowercase();
    assert!(text.contains("certificate"), "{text}");

    let folder = tempfile::tempdir().unwrap();
    let not_pem = folder.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let err = prompt_manager::open(&format!("{}/?ca={}", proxy.url, not_pem.display()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ca.pem"), "{err}");
    let err = prompt_manager::open(&format!("{}/?ca=/nonexistent/ca.pem", proxy.url))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
