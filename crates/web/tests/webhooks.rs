//! The webhooks page: an admin sees the subscriptions and the delivery log (a delivery that
//! failed against a real socket nobody listens on), redelivers one, and others are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{client, client_with, seeded};
use prompt_manager::Prompt;
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};
use prompt_manager_server::webhooks::{self, DeliveryStatus, Dispatcher, EventType, WebhookOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_subscriptions_and_deliveries_and_redelivers_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webhooks.json");
    let pm = seeded().await;
    let head = webhooks::audit_head(&pm).await.unwrap();
    // Port 9 on loopback: nobody listens, so the one attempt fails at once.
    let sub = webhooks::add(
        &file,
        "http://127.0.0.1:9/hook",
        EventType::ALL.into_iter().collect(),
        head,
        true,
    )
    .unwrap();
    let options = WebhookOptions {
        allow_private: true,
        poll: Duration::from_millis(30),
        max_attempts: 1,
        ..WebhookOptions::default()
    };
    let dispatcher = Dispatcher::spawn(pm.clone(), file.clone(), options);
    pm.create(Prompt::text("hooked", "Hello {{ name }}").unwrap())
        .await
        .unwrap();
    let start = Instant::now();
    while !webhooks::deliveries(&file, None)
        .unwrap()
        .iter()
        .any(|d| d.status == DeliveryStatus::Failed)
    {
        assert!(start.elapsed() < Duration::from_secs(20), "no failed delivery");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    dispatcher.stop().await;
    let delivery = format!("{}_{}", sub.id, head + 1);

    let mut ui = client_with(
        pm,
        AppOptions {
            webhooks_file: Some(file.clone()),
            ..AppOptions::default()
        },
    );
    let page = ui.get("/ui/webhooks").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.has("<a href=\"/ui/webhooks\">Webhooks</a>")
        .has(&sub.id)
        .has("http://127.0.0.1:9/hook")
        .has("version.created")
        .has(&delivery)
        .has("<a href=\"/ui/p/hooked\">hooked</a>")
        .has("badge warn\">failed")
        .has("cannot reach")
        .has("Redeliver")
        .lacks("whsec_");
    let done = ui.post("/ui/webhooks/redeliver", &[("delivery", &delivery)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done.location.unwrap();
    assert!(location.starts_with("/ui/webhooks?redelivered="), "{location}");
    let page = ui.get(&location).await;
    page.has("queued again").has("<span class=\"badge\">pending</span>");
    let d = webhooks::deliveries(&file, None).unwrap();
    assert_eq!(d[0].status, DeliveryStatus::Pending);
    let missing = ui.post("/ui/webhooks/redeliver", &[("delivery", "wh_nope_1")]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn others_are_refused_and_a_server_without_a_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.json");
    let key = keys::create(&keys_file, "writer", Scope::Write).unwrap();
    let mut ui = client_with(
        seeded().await,
        AppOptions {
            keys_file: Some(keys_file),
            webhooks_file: Some(dir.path().join("webhooks.json")),
            ..AppOptions::default()
        },
    );
    ui.get("/ui/login").await;
    ui.post("/ui/login", &[("key", &key.token), ("next", "/ui/")]).await;
    let page = ui.get("/ui/").await;
    page.lacks("href=\"/ui/webhooks\"");
    let page = ui.get("/ui/webhooks").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    page.has("admin key");

    let mut open = client(seeded().await);
    let page = open.get("/ui/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("Webhooks are off on this server");
}
