//! Webhooks end to end: a real SQLite store, the dispatcher, and a real HTTP receiver on
//! 127.0.0.1 (`tests/webhooks/receiver.py`) that fails, times out and recovers, and verifies
//! every signature with the Standard Webhooks reference library. Also the REST routes, the
//! private-network guard, redelivery, and events made while no dispatcher ran.
//!
//! The receiver needs python3 with `standardwebhooks`; without it the end-to-end tests skip with
//! a reason, and `PROMPT_MANAGER_REQUIRE_PYTHON_SDKS=1` (set by CI) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::api_with;
use prompt_manager::{Bump, Prompt, PromptManager};
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};
use prompt_manager_server::webhooks::{self, DeliveryStatus, Dispatcher, EventType, WebhookOptions};
use serde_json::{Value, json};

const REQUIRE: &str = "PROMPT_MANAGER_REQUIRE_PYTHON_SDKS";

fn receiver_available() -> bool {
    let probe = Command::new("python3").args(["-c", "import standardwebhooks"]).output();
    if matches!(&probe, Ok(o) if o.status.success()) {
        return true;
    }
    let why = "python3 with standardwebhooks is not available; install it with \
               `python3 -m pip install -r tests/python/requirements.txt`";
    assert!(
        std::env::var_os(REQUIRE).is_none_or(|v| v == "0"),
        "{REQUIRE} is set: {why}"
    );
    eprintln!("skipped: {why}");
    false
}

/// The receiver process and the requests it logged.
struct Receiver {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start(secret: &str, script: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/receiver.py"))
            .args([secret, script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let port = first.strip_prefix("listening ").unwrap().to_owned();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(serde_json::from_str::<Value>(&line).unwrap());
            }
        });
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}/hooks"),
            log,
        }
    }

    fn requests(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fast(allow_private: bool) -> WebhookOptions {
    WebhookOptions {
        allow_private,
        poll: Duration::from_millis(50),
        timeout: Duration::from_millis(700),
        max_attempts: 5,
        backoff: Duration::from_millis(100),
    }
}

async fn store(dir: &Path) -> PromptManager {
    prompt_manager::open(&format!("sqlite://{}", dir.join("pm.db").display()))
        .await
        .unwrap()
}

/// Waits until `done` holds for the file's deliveries (at most 30 s).
async fn wait_for(path: &Path, what: &str, done: impl Fn(&[webhooks::Delivery]) -> bool) -> Vec<webhooks::Delivery> {
    let start = Instant::now();
    loop {
        let deliveries = webhooks::deliveries(path, None).unwrap();
        if done(&deliveries) {
            return deliveries;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{what}: {deliveries:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn events(all: bool) -> BTreeSet<EventType> {
    if all {
        EventType::ALL.into_iter().collect()
    } else {
        [EventType::VersionCreated, EventType::LabelMoved].into_iter().collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_a_failing_and_slow_receiver_and_are_signed() {
    if !receiver_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pm = store(dir.path()).await;
    pm.create(Prompt::text("before", "made before the subscription").unwrap())
        .await
        .unwrap();
    let file = dir.path().join("webhooks.json");
    let head = webhooks::audit_head(&pm).await.unwrap();
    // The receiver's URL is known once it listens; its secret before: subscribe with a
    // placeholder URL, then point it at the receiver.
    let sub = webhooks::add(&file, "http://127.0.0.1:9/", events(false), head, true).unwrap();
    let receiver = Receiver::start(&sub.secret, "500,timeout");
    repoint(&file, &sub.id, &receiver.url);
    let dispatcher = Dispatcher::spawn(pm.clone(), file.clone(), fast(true));

    pm.create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    pm.set_label("greeting", "production", "1.0.0").await.unwrap();
    pm.set_status("greeting", prompt_manager::PromptStatus::Deprecated)
        .await
        .unwrap(); // not subscribed
    let delivered = wait_for(&file, "both delivered", |d| {
        d.len() == 2 && d.iter().all(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    dispatcher.stop().await;

    let created = delivered.iter().find(|d| d.event == EventType::VersionCreated).unwrap();
    let moved = delivered.iter().find(|d| d.event == EventType::LabelMoved).unwrap();
    assert_eq!(created.payload["data"]["prompt"], "greeting");
    assert_eq!(moved.payload["data"]["label"], "production");
    assert_eq!(moved.payload["data"]["after"]["version"], "1.0.0");
    assert!(moved.seq > created.seq);
    // The first requests got a 500 and a timeout: their deliveries were tried again.
    let attempts: u32 = delivered.iter().map(|d| d.attempts).sum();
    assert_eq!(attempts, 4, "{delivered:#?}");
    let requests = receiver.requests();
    assert!(requests.len() >= 4, "{requests:#?}");
    for r in &requests {
        assert_eq!(r["verified"], true, "the reference library accepts every request: {r}");
    }
    // Every request of a delivery carries its id; nothing else was sent.
    let ids: BTreeSet<&str> = requests.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = delivered.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, expected);
    assert!(
        !requests.iter().any(|r| r["type"] == "prompt.status_changed"),
        "only subscribed events"
    );
    let first = &requests[0];
    assert_eq!(first["answered"], "500");
}

/// Rewrites a subscription's URL in the file (the test's receiver port is known late).
fn repoint(file: &Path, id: &str, url: &str) {
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    for s in value["subscriptions"].as_array_mut().unwrap() {
        if s["id"] == id {
            s["url"] = json!(url);
        }
    }
    std::fs::write(file, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_no_dispatcher_runs_are_sent_later_and_redelivery_keeps_the_id() {
    if !receiver_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pm = store(dir.path()).await;
    let file = dir.path().join("webhooks.json");
    let sub = webhooks::add(&file, "http://127.0.0.1:9/", events(true), 0, true).unwrap();
    let receiver = Receiver::start(&sub.secret, "");
    repoint(&file, &sub.id, &receiver.url);
    // The server is down (no dispatcher): the changes are in the audit log, the outbox.
    pm.create(Prompt::text("faq", "Q: {{ q }}").unwrap()).await.unwrap();
    pm.update(
        Prompt::text("faq", "Question: {{ q }}").unwrap(),
        Bump::Minor,
        "wording",
    )
    .await
    .unwrap();
    let dispatcher = Dispatcher::spawn(pm.clone(), file.clone(), fast(true));
    let delivered = wait_for(&file, "two versions delivered", |d| {
        d.len() == 2 && d.iter().all(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    // A restarted dispatcher sends nothing twice.
    dispatcher.stop().await;
    let dispatcher = Dispatcher::spawn(pm.clone(), file.clone(), fast(true));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.requests().len(), 2, "{:#?}", receiver.requests());
    // Redelivery sends the same id again.
    let again = webhooks::redeliver(&file, &delivered[0].id).unwrap();
    assert_eq!(again.status, DeliveryStatus::Pending);
    wait_for(&file, "redelivered", |d| {
        d.iter().all(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    dispatcher.stop().await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2]["id"], json!(delivered[0].id));
    assert!(
        webhooks::redeliver(&file, "wh_nope_1")
            .unwrap_err()
            .to_string()
            .contains("no delivery")
    );
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed_and_a_dead_receiver_fails_in_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let pm = store(dir.path()).await;
    let file = dir.path().join("webhooks.json");
    let err = webhooks::add(&file, "http://127.0.0.1:8080/", events(true), 0, false).unwrap_err();
    assert!(err.to_string().contains("private-network"), "{err}");
    assert!(webhooks::list(&file).unwrap().is_empty(), "nothing stored");
    // Allowed when added, but the dispatcher's own configuration refuses it at delivery.
    let refused = webhooks::add(&file, "http://127.0.0.1:9/", events(true), 0, true).unwrap();
    let dispatcher = Dispatcher::spawn(pm.clone(), file.clone(), fast(false));
    pm.create(Prompt::text("x", "x").unwrap()).await.unwrap();
    let failed = wait_for(&file, "refused", |d| {
        d.iter().any(|d| d.status == DeliveryStatus::Failed)
    })
    .await;
    dispatcher.stop().await;
    assert_eq!(failed[0].attempts, 1, "no retry of a refused address");
    assert!(
        failed[0].last_error.as_deref().unwrap().contains("private-network"),
        "{failed:#?}"
    );
    webhooks::remove(&file, &refused.id).unwrap();

    // Nobody listens on port 9: retried with backoff, then failed.
    webhooks::add(
        &file,
        "http://127.0.0.1:9/",
        events(true),
        webhooks::audit_head(&pm).await.unwrap(),
        true,
    )
    .unwrap();
    let dispatcher = Dispatcher::spawn(pm.clone(), file.clone(), fast(true));
    pm.create(Prompt::text("y", "y").unwrap()).await.unwrap();
    let failed = wait_for(&file, "gave up", |d| {
        d.iter().any(|d| d.status == DeliveryStatus::Failed && d.attempts == 5)
    })
    .await;
    dispatcher.stop().await;
    let d = failed.iter().find(|d| d.attempts == 5).unwrap();
    assert!(d.last_error.as_deref().unwrap().contains("cannot reach"), "{d:#?}");
    let listed = webhooks::list(&file).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].failed, 1);
}

/// A subscription added while the dispatcher is behind does not make the others skip changes.
#[tokio::test]
async fn adding_a_subscription_loses_no_event_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let pm = store(dir.path()).await;
    let file = dir.path().join("webhooks.json");
    let a = webhooks::add(&file, "http://127.0.0.1:9/a", events(true), 0, true).unwrap();
    // Changes while no dispatcher runs, then a second subscription from the log's head.
    pm.create(Prompt::text("one", "1").unwrap()).await.unwrap();
    pm.create(Prompt::text("two", "2").unwrap()).await.unwrap();
    let b = webhooks::add(
        &file,
        "http://127.0.0.1:9/b",
        events(true),
        webhooks::audit_head(&pm).await.unwrap(),
        true,
    )
    .unwrap();
    let options = WebhookOptions {
        max_attempts: 1,
        ..fast(true)
    };
    let dispatcher = Dispatcher::spawn(pm.clone(), file.clone(), options);
    let all = wait_for(&file, "both of a's changes", |d| {
        d.iter()
            .filter(|d| d.subscription == a.id && d.status == DeliveryStatus::Failed)
            .count()
            == 2
    })
    .await;
    dispatcher.stop().await;
    assert!(
        all.iter().all(|d| d.subscription != b.id),
        "b starts after them: {all:#?}"
    );
    // A failed delivery of a removed subscription cannot be queued again.
    webhooks::remove(&file, &a.id).unwrap();
    let err = webhooks::redeliver(&file, &all[0].id).unwrap_err();
    assert!(err.to_string().contains("was removed"), "{err}");
}

#[tokio::test]
async fn the_rest_api_needs_an_admin_key_and_shows_the_secret_once() {
    let mut tokens = None;
    let mut folder: Option<PathBuf> = None;
    let api = api_with(|dir| {
        let path = dir.join("keys.json");
        tokens = Some((
            keys::create(&path, "admin", Scope::Admin).unwrap().token,
            keys::create(&path, "writer", Scope::Write).unwrap().token,
        ));
        folder = Some(dir.to_owned());
        AppOptions {
            keys_file: Some(path),
            keys_check_interval: Duration::ZERO,
            webhooks_file: Some(dir.join("webhooks.json")),
            ..AppOptions::default()
        }
    })
    .await;
    let (admin, writer) = tokens.unwrap();
    let dir = folder.unwrap();
    let body = json!({"url": "https://hooks.example.com/pm", "events": ["version.created", "label.moved"]});
    api.post("/v1/webhooks", body.clone())
        .bearer(&writer)
        .send()
        .await
        .problem(403);
    let r = api.post("/v1/webhooks", body).bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let r = api.get("/v1/webhooks").bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains("whsec_"), "listings never show a secret: {}", r.text);
    assert_eq!(r.json()["webhooks"][0]["id"], json!(id));
    let p = api
        .post(
            "/v1/webhooks",
            json!({"url": "http://10.0.0.5/hook", "events": ["version.created"]}),
        )
        .bearer(&admin)
        .send()
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("private-network"), "{p}");
    let r = api
        .get(&format!("/v1/webhooks/{id}/deliveries"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    api.get("/v1/webhooks/wh_nope/deliveries")
        .bearer(&admin)
        .send()
        .await
        .problem(404);
    api.post("/v1/webhooks/deliveries/wh_nope_3/redeliver", json!({}))
        .bearer(&admin)
        .send()
        .await
        .problem(404);
    let r = api
        .call(axum::http::Method::DELETE, &format!("/v1/webhooks/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(webhooks::list(&dir.join("webhooks.json")).unwrap().is_empty());
}

#[tokio::test]
async fn without_a_webhooks_file_the_routes_say_so() {
    let api = common::api().await;
    let p = api.get("/v1/webhooks").send().await.problem(409);
    assert!(p["detail"].as_str().unwrap().contains("--webhooks-file"), "{p}");
}
