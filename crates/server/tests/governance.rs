//! Governance over HTTP: protected labels (who may protect, lift and move them), the audit log
//! (admin only, the key's name as actor, a chain that verifies) and impact analysis.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{Api, api, api_with};
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};
use serde_json::{Value, json};

struct Keys {
    read: String,
    write: String,
    admin: String,
}

/// A server with keys, and `greet` 1.0.0 and 1.1.0 with `staging` at 1.0.0.
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
    api.pm
        .create(prompt_manager::Prompt::text("greet", "v1 {{ name }}").unwrap())
        .await
        .unwrap();
    api.pm
        .update(
            prompt_manager::Prompt::text("greet", "v2 {{ name }}").unwrap(),
            prompt_manager::Bump::Minor,
            "two",
        )
        .await
        .unwrap();
    api.pm.set_label("greet", "staging", "1.0.0").await.unwrap();
    (api, keys)
}

async fn move_label(api: &Api, label: &str, version: &str, key: &str) -> common::Reply {
    api.put(
        &format!("/v1/prompts/greet/labels/{label}"),
        json!({ "version": version }),
    )
    .bearer(key)
    .send()
    .await
}

async fn protection(api: &Api, method: Method, label: &str, key: &str) -> common::Reply {
    api.call(method, &format!("/v1/prompts/greet/labels/{label}/protection"))
        .bearer(key)
        .send()
        .await
}

async fn staging(api: &Api) -> String {
    api.pm.labels("greet").await.unwrap()[&prompt_manager::LabelName::new("staging").unwrap()].to_string()
}

#[tokio::test]
async fn a_write_key_protects_only_an_admin_key_moves_or_lifts() {
    let (api, keys) = secured().await;
    let r = protection(&api, Method::PUT, "staging", &keys.read).await;
    r.problem(403);
    let r = protection(&api, Method::PUT, "staging", &keys.write).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"id": "greet", "label": "staging", "protected": true, "changed": true})
    );
    let again = protection(&api, Method::PUT, "staging", &keys.write).await;
    assert_eq!(again.json()["changed"], false, "{}", again.text);

    // The summary and the labels show it.
    let summary = api.get("/v1/prompts/greet/summary").bearer(&keys.read).send().await;
    assert_eq!(summary.json()["protected"], json!(["staging"]), "{}", summary.text);
    let labels = api.get("/v1/prompts/greet/labels").bearer(&keys.read).send().await;
    assert_eq!(labels.json()["protected"], json!(["staging"]), "{}", labels.text);

    // A write key can neither move, remove nor roll it back; nothing changes.
    let p = move_label(&api, "staging", "1.1.0", &keys.write).await.problem(403);
    assert_eq!(p["code"], "label_protected", "{p}");
    let p = api
        .call(Method::DELETE, "/v1/prompts/greet/labels/staging")
        .bearer(&keys.write)
        .send()
        .await
        .problem(403);
    assert_eq!(p["code"], "label_protected", "{p}");
    assert_eq!(staging(&api).await, "1.0.0");

    // Nor lift the protection.
    let p = protection(&api, Method::DELETE, "staging", &keys.write)
        .await
        .problem(403);
    assert!(p["detail"].as_str().unwrap().contains("scope `admin`"), "{p}");
    assert!(api.pm.summary("greet").await.unwrap().protected.len() == 1);

    // An admin key moves it, and lifts the protection.
    let r = move_label(&api, "staging", "1.1.0", &keys.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(staging(&api).await, "1.1.0");
    let r = protection(&api, Method::DELETE, "staging", &keys.admin).await;
    assert_eq!(
        r.json(),
        json!({"id": "greet", "label": "staging", "protected": false, "changed": true})
    );
    let labels = api.get("/v1/prompts/greet/labels").bearer(&keys.read).send().await;
    assert!(labels.json().get("protected").is_none(), "{}", labels.text);
    let r = move_label(&api, "staging", "1.0.0", &keys.write).await;
    assert_eq!(r.status, StatusCode::OK, "a write key moves it again: {}", r.text);
}

#[tokio::test]
async fn a_label_can_be_protected_before_it_is_set_and_missing_prompts_are_404() {
    let (api, keys) = secured().await;
    let r = protection(&api, Method::PUT, "canary", &keys.write).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = move_label(&api, "canary", "1.0.0", &keys.write).await.problem(403);
    assert_eq!(p["code"], "label_protected");
    let p = api
        .call(Method::PUT, "/v1/prompts/nope/labels/canary/protection")
        .bearer(&keys.write)
        .send()
        .await
        .problem(404);
    assert_eq!(p["code"], "not_found", "{p}");
}

#[tokio::test]
async fn without_keys_loopback_callers_are_administrators() {
    let api = api().await;
    api.create_text("greet", "Hi").await;
    let r = api
        .call(Method::PUT, "/v1/prompts/greet/labels/staging/protection")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .put("/v1/prompts/greet/labels/staging", json!({"version": "1.0.0"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .call(Method::DELETE, "/v1/prompts/greet/labels/staging/protection")
        .send()
        .await;
    assert_eq!(r.json()["changed"], true, "{}", r.text);
    let audit = api.get("/v1/audit").send().await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
}

fn actions(page: &Value) -> Vec<(String, String)> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_audit_log_is_for_admins_names_the_key_and_verifies() {
    let (api, keys) = secured().await;
    protection(&api, Method::PUT, "staging", &keys.write).await;
    let r = move_label(&api, "staging", "1.1.0", &keys.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    for uri in ["/v1/audit", "/v1/audit/verify"] {
        api.get(uri).send().await.problem(401);
        for key in [&keys.read, &keys.write] {
            let p = api.get(uri).bearer(key).send().await.problem(403);
            assert!(p["detail"].as_str().unwrap().contains("scope `admin`"), "{uri}: {p}");
        }
    }

    let page = api.get("/v1/audit?prompt=greet").bearer(&keys.admin).send().await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let page = page.json();
    let all = actions(&page);
    assert_eq!(
        all[all.len() - 2..],
        [
            ("label_protected".to_owned(), "writer".to_owned()),
            ("label_set".to_owned(), "boss".to_owned())
        ],
        "{page}"
    );
    assert!(page.get("next_after").is_none(), "one page: {page}");
    let last = page["entries"].as_array().unwrap().last().unwrap();
    assert_eq!(last["label"], "staging");
    assert_eq!(last["before"], json!({"version": "1.0.0"}));
    assert_eq!(last["after"], json!({"version": "1.1.0"}));
    assert_eq!(last["forced"], false);
    assert!(last["hash"].as_str().unwrap().len() >= 32, "{last}");

    // Pages: `next_after` is the last number of a full page.
    let first = api.get("/v1/audit?limit=1").bearer(&keys.admin).send().await.json();
    assert_eq!(first["entries"].as_array().unwrap().len(), 1);
    let after = first["next_after"].as_u64().unwrap();
    assert_eq!(after, first["entries"][0]["seq"].as_u64().unwrap());
    let rest = api
        .get(&format!("/v1/audit?after={after}&limit=1000"))
        .bearer(&keys.admin)
        .send()
        .await
        .json();
    let seqs: Vec<u64> = rest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.first(), Some(&(after + 1)), "{rest}");
    assert_eq!(rest["entries"][0]["prev_hash"], first["entries"][0]["hash"]);

    let verify = api.get("/v1/audit/verify").bearer(&keys.admin).send().await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    let verify = verify.json();
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["entries"], json!(seqs.last().unwrap()), "{verify}");
    assert_eq!(
        verify["head"],
        *rest["entries"].as_array().unwrap().last().unwrap().get("hash").unwrap()
    );
    assert!(verify.get("broken").is_none());
}

#[tokio::test]
async fn bad_audit_queries_are_400_problems() {
    let (api, keys) = secured().await;
    for (query, words) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=many", "limit"),
        ("after=-1", "after"),
        ("prompt=Not%20an%20id", "Not an id"),
        ("colour=red", "colour"),
    ] {
        let p = api
            .get(&format!("/v1/audit?{query}"))
            .bearer(&keys.admin)
            .send()
            .await
            .problem(400);
        assert!(p["detail"].as_str().unwrap().contains(words), "{query}: {p}");
    }
}

#[tokio::test]
async fn dependents_list_includers_by_label_exact_and_range() {
    let api = api().await;
    api.create_text("shared/tone", "Be kind.").await;
    api.pm.set_label("shared/tone", "production", "1.0.0").await.unwrap();
    api.create_text("by-label", r#"{% include "shared/tone@production" %} Hi"#)
        .await;
    api.create_text("by-exact", r#"{% include "shared/tone@1.0.0" %} Hi"#)
        .await;
    api.create_text("by-range", r#"{% include "shared/tone@^1" %} Hi"#)
        .await;
    api.create_text("unrelated", "Hello").await;
    api.pm.set_label("by-label", "production", "1.0.0").await.unwrap();

    let r = api.get("/v1/prompts/shared%2Ftone/dependents").send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(body["target"], "shared/tone");
    let mut found: Vec<(String, String, String)> = body["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["version"], "1.0.0", "{d}");
            assert_eq!(d["resolves_to"], "1.0.0", "{d}");
            assert_eq!(d["latest"], true, "{d}");
            (
                d["prompt"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["reference"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("by-exact".into(), "exact".into(), "shared/tone@1.0.0".into()),
            ("by-label".into(), "label".into(), "shared/tone@production".into()),
            ("by-range".into(), "range".into(), "shared/tone@^1".into()),
        ]
    );
    let by_label = body["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["prompt"] == "by-label")
        .unwrap();
    assert_eq!(by_label["labels"], json!(["production"]));

    // A second version moves the range, not the label nor the exact include.
    api.put(
        "/v1/prompts/shared%2Ftone",
        json!({"prompt": {"id": "shared/tone", "template": "Be very kind."}, "bump": "minor", "changelog": "kinder"}),
    )
    .send()
    .await;
    let r = api
        .get("/v1/prompts/shared%2Ftone/dependents?ref=1.1.0")
        .send()
        .await
        .json();
    let prompts: Vec<&str> = r["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(prompts, ["by-range"], "{r}");
    assert_eq!(r["target"], "shared/tone@1.1.0");
    let r = api
        .get("/v1/prompts/shared%2Ftone/dependents?ref=production")
        .send()
        .await
        .json();
    assert_eq!(r["dependents"].as_array().unwrap().len(), 2, "{r}");

    let none = api.get("/v1/prompts/unrelated/dependents").send().await.json();
    assert_eq!(none["dependents"], json!([]));
}

#[tokio::test]
async fn bad_dependents_and_protection_requests_are_problems() {
    let api = api().await;
    api.create_text("greet", "Hi").await;
    let p = api.get("/v1/prompts/Greet/dependents").send().await.problem(400);
    assert_eq!(p["code"], "invalid_id", "{p}");
    api.get("/v1/prompts/greet/dependents?ref=%5E%5E")
        .send()
        .await
        .problem(400);
    api.get("/v1/prompts/greet/dependents?other=1")
        .send()
        .await
        .problem(400);
    let p = api.get("/v1/prompts/nope/dependents").send().await.problem(404);
    assert_eq!(p["code"], "not_found");
    api.get("/v1/prompts/greet/dependents?ref=canary")
        .send()
        .await
        .problem(404);
    for uri in [
        "/v1/prompts/greet/labels/Bad/protection",
        "/v1/prompts/greet/labels/latest/protection",
        "/v1/prompts/Greet/labels/staging/protection",
    ] {
        for method in [Method::PUT, Method::DELETE] {
            api.call(method, uri).send().await.problem(400);
        }
    }
    assert!(api.pm.summary("greet").await.unwrap().protected.is_empty());
}
