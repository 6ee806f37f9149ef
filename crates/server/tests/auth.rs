//! The authorization matrix: every write route refuses no key (401) and a read key (403);
//! protected labels need `admin`; reads need a key once keys exist; revocation needs no restart.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{Api, api_with};
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};
use serde_json::{Value, json};

struct Keys {
    read: String,
    write: String,
    admin: String,
}

async fn secured() -> (Api, Keys) {
    let mut tokens = None;
    let api = api_with(|dir| {
        let path = dir.join("keys.json");
        tokens = Some(Keys {
            read: keys::create(&path, "reader", Scope::Read).unwrap().token,
            write: keys::create(&path, "writer", Scope::Write).unwrap().token,
            admin: keys::create(&path, "boss", Scope::Admin).unwrap().token,
        });
        AppOptions {
            keys_file: Some(path),
            keys_check_interval: Duration::ZERO,
            ..AppOptions::default()
        }
    })
    .await;
    let keys = tokens.unwrap();
    // Fixtures: a prompt with two versions and a `staging` label that has history.
    let create = json!({"prompt": {"id": "greet", "template": "v1 {{ name }}"}});
    let r = api.post("/v1/prompts", create).bearer(&keys.write).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let update = json!({"prompt": {"id": "greet", "template": "v2 {{ name }}"}, "bump": "minor", "changelog": "two"});
    let r = api.put("/v1/prompts/greet", update).bearer(&keys.write).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    api.pm.set_label("greet", "staging", "1.0.0").await.unwrap();
    api.pm.set_label("greet", "staging", "1.1.0").await.unwrap();
    api.pm.set_label("greet", "production", "1.0.0").await.unwrap();
    (api, keys)
}

/// Every route that writes, with a body that would succeed.
fn write_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/v1/prompts",
            Some(json!({"prompt": {"id": "other", "template": "x"}})),
        ),
        (
            Method::PUT,
            "/v1/prompts/greet",
            Some(
                json!({"prompt": {"id": "greet", "template": "v3 {{ name }}"}, "bump": "minor", "changelog": "three"}),
            ),
        ),
        (Method::POST, "/v1/prompts/greet/archive", None),
        (
            Method::PUT,
            "/v1/prompts/greet/labels/staging",
            Some(json!({"version": "1.0.0"})),
        ),
        (Method::POST, "/v1/prompts/greet/labels/staging/rollback", None),
        (Method::DELETE, "/v1/prompts/greet/labels/staging", None),
        (Method::PUT, "/v1/prompts/greet/labels/staging/protection", None),
    ]
}

/// Every route that reads.
fn read_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/v1/prompts", None),
        (Method::GET, "/v1/prompts/greet", None),
        (Method::GET, "/v1/prompts/greet@1.0.0", None),
        (Method::GET, "/v1/prompts/greet/summary", None),
        (Method::GET, "/v1/prompts/greet/versions", None),
        (Method::GET, "/v1/prompts/greet/versions/1.0.0", None),
        (Method::GET, "/v1/prompts/greet/diff?from=1.0.0", None),
        (Method::GET, "/v1/prompts/greet/labels", None),
        (Method::GET, "/v1/prompts/greet/labels/staging", None),
        (Method::GET, "/v1/prompts/greet/labels/staging/history", None),
        (Method::GET, "/v1/prompts/greet/dependents", None),
        (
            Method::POST,
            "/v1/prompts/greet/render",
            Some(json!({"variables": {"name": "Ada"}})),
        ),
        (
            Method::POST,
            "/v1/render",
            Some(json!({"requests": [{"reference": "greet", "variables": {"name": "Ada"}}]})),
        ),
        (Method::GET, "/metrics", None),
    ]
}

async fn send(api: &Api, method: &Method, uri: &str, body: &Option<Value>, key: Option<&str>) -> common::Reply {
    let mut call = api.call(method.clone(), uri);
    if let Some(body) = body {
        call = call.json(body.clone());
    }
    if let Some(key) = key {
        call = call.bearer(key);
    }
    call.send().await
}

async fn snapshot(api: &Api) -> (Vec<String>, String, String) {
    let versions = api
        .pm
        .history("greet")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version.to_string())
        .collect();
    let labels = format!("{:?}", api.pm.labels("greet").await.unwrap());
    let summary = api.pm.summary("greet").await.unwrap().status.to_string();
    (versions, labels, summary)
}

#[tokio::test]
async fn every_write_route_refuses_no_key_and_a_read_key_and_writes_nothing() {
    let (api, keys) = secured().await;
    let before = snapshot(&api).await;
    for (method, uri, body) in write_routes() {
        let reply = send(&api, &method, uri, &body, None).await;
        let p = reply.problem(401);
        assert_eq!(p["code"], "unauthorized", "{method} {uri}");
        assert_eq!(
            reply.header("www-authenticate"),
            "Bearer realm=\"prompt-manager\"",
            "{method} {uri}"
        );

        let reply = send(&api, &method, uri, &body, Some(&keys.read)).await;
        let p = reply.problem(403);
        assert!(
            p["detail"].as_str().unwrap().contains("scope `write`"),
            "{method} {uri}: {p}"
        );
        assert!(!reply.text.contains(&keys.read), "a problem never echoes a key");

        let reply = send(
            &api,
            &method,
            uri,
            &body,
            Some("pm_000000000000_0000000000000000000000000000000000000000000000000000000000000000"),
        )
        .await;
        reply.problem(401);
    }
    assert_eq!(snapshot(&api).await, before, "refused requests change nothing");
    assert!(api.pm.summary("other").await.is_err());
}

#[tokio::test]
async fn write_keys_write_and_reads_need_a_key() {
    let (api, keys) = secured().await;
    for (method, uri, body) in read_routes() {
        send(&api, &method, uri, &body, None).await.problem(401);
        for key in [&keys.read, &keys.write, &keys.admin] {
            let reply = send(&api, &method, uri, &body, Some(key)).await;
            assert_eq!(reply.status, StatusCode::OK, "{method} {uri}: {}", reply.text);
        }
    }
    for (method, uri) in [
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/openapi.json"),
    ] {
        assert_eq!(
            send(&api, &method, uri, &None, None).await.status,
            StatusCode::OK,
            "{uri} is open"
        );
    }
    for (method, uri, body) in write_routes() {
        let reply = send(&api, &method, uri, &body, Some(&keys.write)).await;
        assert!(reply.status.is_success(), "{method} {uri}: {}", reply.text);
    }
    let version = api.pm.get("greet").await.unwrap();
    assert_eq!(
        version.author.as_deref(),
        Some("writer"),
        "the key's name is the author"
    );
    send(&api, &Method::GET, "/v1/prompts", &None, Some("Basic dXNlcjpwdw=="))
        .await
        .problem(401);
}

#[tokio::test]
async fn protected_labels_need_admin() {
    let (api, keys) = secured().await;
    let before = snapshot(&api).await;
    let moves: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::PUT,
            "/v1/prompts/greet/labels/production",
            Some(json!({"version": "1.1.0"})),
        ),
        (Method::POST, "/v1/prompts/greet/labels/production/rollback", None),
        (Method::DELETE, "/v1/prompts/greet/labels/production", None),
        (
            Method::PUT,
            "/v1/prompts/greet",
            Some(
                json!({"prompt": {"id": "greet", "template": "v9"}, "bump": "major", "changelog": "x", "labels": ["production"]}),
            ),
        ),
        (
            Method::POST,
            "/v1/prompts",
            Some(json!({"prompt": {"id": "new", "template": "x"}, "labels": ["production"]})),
        ),
    ];
    for (method, uri, body) in &moves {
        let p = send(&api, method, uri, body, Some(&keys.write)).await.problem(403);
        assert!(
            p["detail"].as_str().unwrap().contains("protected label `production`"),
            "{uri}: {p}"
        );
    }
    assert_eq!(snapshot(&api).await, before);
    let reply = send(&api, &moves[0].0, moves[0].1, &moves[0].2, Some(&keys.admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json()["event"]["actor"],
        "boss",
        "the label history names the key that moved it: {}",
        reply.text
    );
    assert_eq!(
        api.pm
            .labels("greet")
            .await
            .unwrap()
            .get(&prompt_manager::LabelName::new("production").unwrap())
            .unwrap()
            .to_string(),
        "1.1.0"
    );
}

#[tokio::test]
async fn revoking_a_key_takes_effect_without_a_restart() {
    let (api, keys) = secured().await;
    let path = api.dir.path().join("keys.json");
    assert_eq!(
        api.get("/v1/prompts").bearer(&keys.read).send().await.status,
        StatusCode::OK
    );
    keys::revoke(&path, "reader").unwrap();
    api.get("/v1/prompts").bearer(&keys.read).send().await.problem(401);
    assert_eq!(
        api.get("/v1/prompts").bearer(&keys.write).send().await.status,
        StatusCode::OK
    );
    // Revoking every key locks the server rather than opening it.
    keys::revoke(&path, "writer").unwrap();
    keys::revoke(&path, "boss").unwrap();
    api.get("/v1/prompts").send().await.problem(401);
    // A new key works at once.
    let fresh = keys::create(&path, "fresh", Scope::Read).unwrap();
    assert_eq!(
        api.get("/v1/prompts").bearer(&fresh.token).send().await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_keys_everything_is_open_until_a_key_appears() {
    let dir_keys = std::sync::Mutex::new(None);
    let api = api_with(|dir| {
        let path = dir.join("keys.json");
        *dir_keys.lock().unwrap() = Some(path.clone());
        AppOptions {
            keys_file: Some(path),
            keys_check_interval: Duration::ZERO,
            ..AppOptions::default()
        }
    })
    .await;
    api.create_text("open", "x").await;
    let path = dir_keys.lock().unwrap().clone().unwrap();
    keys::create(&path, "first", Scope::Admin).unwrap();
    api.get("/v1/prompts").send().await.problem(401);
}

#[tokio::test]
async fn exact_versions_read_with_a_key_are_private() {
    let (api, keys) = secured().await;
    let reply = api.get("/v1/prompts/greet@1.0.0").bearer(&keys.read).send().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), "private, max-age=31536000, immutable");
    let reply = api
        .get("/v1/prompts/greet/versions/1.0.0")
        .bearer(&keys.read)
        .send()
        .await;
    assert_eq!(reply.header("cache-control"), "private, max-age=31536000, immutable");
}

#[tokio::test]
async fn without_keys_only_requests_to_and_from_loopback_names_are_answered() {
    let api = common::api().await;
    api.create_text("greet", "Hello {{ name }}!").await;
    for host in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080"] {
        let reply = api.get("/v1/prompts").header("host", host).send().await;
        assert_eq!(reply.status, StatusCode::OK, "{host}: {}", reply.text);
    }
    let reply = api
        .call(Method::POST, "/v1/prompts/greet/archive")
        .header("host", "127.0.0.1:8080")
        .header("origin", "http://localhost:3000")
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    api.pm
        .set_status("greet", prompt_manager::PromptStatus::Active)
        .await
        .unwrap();
    let before = snapshot(&api).await;
    // DNS rebinding (a foreign name resolving to 127.0.0.1) and cross-site pages.
    for (host, origin) in [
        ("evil.example:8080", None),
        ("127.0.0.1:8080", Some("https://evil.example")),
        ("127.0.0.1:8080", Some("null")),
        ("127.0.0.1.evil.example", None),
    ] {
        let mut call = api.call(Method::POST, "/v1/prompts/greet/archive").header("host", host);
        if let Some(origin) = origin {
            call = call.header("origin", origin);
        }
        let p = call.send().await.problem(403);
        assert!(p["detail"].as_str().unwrap().contains("no API keys"), "{p}");
        api.get("/v1/prompts").header("host", host).send().await;
    }
    assert_eq!(snapshot(&api).await, before, "refused requests change nothing");
    assert_eq!(
        api.pm.summary("greet").await.unwrap().status,
        prompt_manager::PromptStatus::Active
    );
}
