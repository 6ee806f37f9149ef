//! A/B splits over the API, through `app().oneshot()` on a real SQLite file: setting a split
//! (`PUT …/labels/{label}/split`), reading it back with its ETag, sticky renders by `split_key`
//! (single and batch) that say which `variant` served, compare-and-set with `If-Match`, ending
//! the test, rollback, history, protection and bad bodies that write nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use axum::http::{Method, StatusCode};
use common::api;
use serde_json::json;

#[tokio::test]
async fn a_split_is_set_rendered_sticky_guarded_ended_and_rolled_back() {
    let api = api().await;
    api.create_text("greet", "A {{ name }}").await;
    api.put(
        "/v1/prompts/greet",
        json!({"prompt": {"id": "greet", "template": "B {{ name }}"}, "bump": "minor", "changelog": "b"}),
    )
    .send()
    .await;
    let set = api
        .put("/v1/prompts/greet/labels/canary", json!({"version": "1.0.0"}))
        .send()
        .await;
    let tag_v1 = set.header("etag").to_owned();

    // Bad splits are refused, and nothing is written.
    for (body, status) in [
        (json!({"variants": [{"version": "1.0.0", "weight": 100}]}), 422),
        (
            json!({"variants": [{"version": "1.0.0", "weight": 0}, {"version": "1.1.0", "weight": 1}]}),
            422,
        ),
        (
            json!({"variants": [{"version": "1.0.0", "weight": 1}, {"version": "1.0.0", "weight": 1}]}),
            422,
        ),
        (
            json!({"variants": [{"version": "1.0.0", "weight": 1}, {"version": "x", "weight": 1}]}),
            400,
        ),
        (
            json!({"variants": [{"version": "1.0.0", "weight": 1}, {"version": "9.0.0", "weight": 1}]}),
            404,
        ),
        (
            json!({"variants": [{"version": "1.0.0", "weight": -1}, {"version": "1.1.0", "weight": 1}]}),
            422,
        ),
        (json!({"variants": [], "extra": 1}), 422),
    ] {
        api.put("/v1/prompts/greet/labels/canary/split", body.clone())
            .send()
            .await
            .problem(status);
    }
    assert!(api.pm.summary("greet").await.unwrap().splits.is_empty());

    // A split, compare-and-set on the one version the label pointed at.
    let split = json!({"variants": [{"version": "1.0.0", "weight": 50}, {"version": "1.1.0", "weight": 50}]});
    let reply = api
        .put("/v1/prompts/greet/labels/canary/split", split.clone())
        .header("if-match", &tag_v1)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let moved = reply.json();
    assert_eq!(moved["split"][1]["version"], "1.1.0", "{moved}");
    assert_eq!(moved["event"]["to_split"][0]["weight"], 50, "{moved}");
    let split_tag = reply.header("etag").to_owned();
    assert!(split_tag.starts_with("\"split-"), "{split_tag}");
    let again = api
        .put("/v1/prompts/greet/labels/canary/split", split.clone())
        .send()
        .await;
    assert!(
        again.json().get("event").is_none(),
        "the same split records nothing: {}",
        again.text
    );

    let label = api.get("/v1/prompts/greet/labels/canary").send().await;
    assert_eq!(label.header("etag"), split_tag);
    assert_eq!(label.json()["split"][0]["version"], "1.0.0");
    let labels = api.get("/v1/prompts/greet/labels").send().await.json();
    assert_eq!(labels["splits"]["canary"][1]["weight"], 50, "{labels}");
    let summary = api.get("/v1/prompts/greet/summary").send().await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    assert_eq!(summary.json()["splits"]["canary"][0]["version"], "1.0.0");

    // Sticky renders: the same key, the same variant, which the response names.
    let mut served = std::collections::BTreeSet::new();
    for i in 0..16 {
        let body = json!({"variables": {"name": "Ada"}, "split_key": format!("user-{i}")});
        let first = api.post("/v1/prompts/greet@canary/render", body.clone()).send().await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let first = first.json();
        let second = api.post("/v1/prompts/greet@canary/render", body).send().await.json();
        assert_eq!(first["variant"], second["variant"]);
        assert_eq!(first["variant"]["label"], "canary");
        assert_eq!(first["variant"]["sticky"], true);
        assert_eq!(first["variant"]["version"], first["version"]);
        let expected = if first["version"] == "1.0.0" { "A Ada" } else { "B Ada" };
        assert_eq!(first["text"], expected);
        served.insert(first["version"].as_str().unwrap().to_owned());
    }
    assert_eq!(served.len(), 2, "both variants serve some of 16 keys");
    let random = api
        .post("/v1/prompts/greet@canary/render", json!({"variables": {"name": "Ada"}}))
        .send()
        .await
        .json();
    assert_eq!(random["variant"]["sticky"], false);
    let batch = api
        .post(
            "/v1/render",
            json!({"requests": [
                {"reference": "greet@canary", "variables": {"name": "Ada"}, "split_key": "user-3"},
                {"reference": "greet@1.0.0", "variables": {"name": "Ada"}}
            ]}),
        )
        .send()
        .await
        .json();
    let single = api
        .post(
            "/v1/prompts/greet@canary/render",
            json!({"variables": {"name": "Ada"}, "split_key": "user-3"}),
        )
        .send()
        .await
        .json();
    assert_eq!(batch["results"][0]["result"]["variant"], single["variant"]);
    assert!(batch["results"][1]["result"].get("variant").is_none());
    api.post(
        "/v1/prompts/greet@canary/render",
        json!({"variables": {"name": "Ada"}, "split_key": "k".repeat(2000)}),
    )
    .send()
    .await
    .problem(400);

    // Ending the test: a stale If-Match (the old version's) is 412; the split's ETag works.
    api.put("/v1/prompts/greet/labels/canary", json!({"version": "1.1.0"}))
        .header("if-match", &tag_v1)
        .send()
        .await
        .problem(412);
    let ended = api
        .put("/v1/prompts/greet/labels/canary", json!({"version": "1.1.0"}))
        .header("if-match", &split_tag)
        .send()
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    assert_eq!(ended.json()["event"]["from_split"][0]["version"], "1.0.0");
    assert!(ended.json().get("split").is_none());
    let plain = api
        .post(
            "/v1/prompts/greet@canary/render",
            json!({"variables": {"name": "Ada"}, "split_key": "u"}),
        )
        .send()
        .await
        .json();
    assert!(plain.get("variant").is_none(), "{plain}");

    // Rollback restores the split; the history has every change.
    let rolled = api
        .call(Method::POST, "/v1/prompts/greet/labels/canary/rollback")
        .send()
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
    assert_eq!(rolled.json()["split"][0]["version"], "1.0.0");
    assert_eq!(rolled.header("etag"), split_tag);
    let history = api.get("/v1/prompts/greet/labels/canary/history").send().await.json();
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 4, "{history}");
    assert!(events[1]["to_split"].is_array() && events[3]["to_split"].is_array());
    let audit = api.get("/v1/audit?prompt=greet").send().await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    assert!(audit.text.contains("\"label_split\""), "{}", audit.text);

    // Removing a split label with its ETag.
    let removed = api
        .call(Method::DELETE, "/v1/prompts/greet/labels/canary")
        .header("if-match", &split_tag)
        .send()
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert!(api.pm.summary("greet").await.unwrap().splits.is_empty());
}

#[tokio::test]
async fn the_openapi_document_describes_splits() {
    let doc = serde_json::to_value(prompt_manager_server::openapi()).unwrap();
    let path = &doc["paths"]["/v1/prompts/{id}/labels/{label}/split"]["put"];
    assert!(path.is_object(), "the split route is documented");
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["SetSplitRequest"]["properties"]["variants"].is_object());
    assert!(schemas["RenderRequest"]["properties"]["split_key"].is_object());
    assert!(schemas["RenderResponse"]["properties"]["variant"].is_object());
    assert!(schemas["ServedVariant"].is_object());
}
