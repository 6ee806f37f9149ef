//! Every route and every error status of the API, through `app().oneshot()` on a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{api, api_with};
use prompt_manager_server::AppOptions;
use serde_json::json;

#[tokio::test]
async fn create_get_and_cache_an_exact_version() {
    let api = api().await;
    let created = api.create_text("support/greet", "Hello {{ name }}!").await;
    assert_eq!(created.header("location"), "/v1/prompts/support%2Fgreet@1.0.0");
    let tag = created.header("etag").to_owned();
    assert!(tag.starts_with("\"1.0.0-sha256:"), "{tag}");
    assert_eq!(created.json()["version"], "1.0.0");

    let exact = api.get("/v1/prompts/support%2Fgreet@1.0.0").send().await;
    assert_eq!(exact.status, StatusCode::OK, "{}", exact.text);
    assert_eq!(exact.header("cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(exact.header("etag"), tag);
    assert_eq!(exact.header("content-type"), "application/json");
    assert_eq!(exact.json()["prompt"]["template"], "Hello {{ name }}!");
    // `@` percent-encoded too, as the issue asks clients to do.
    let encoded = api.get("/v1/prompts/support%2Fgreet%401.0.0").send().await;
    assert_eq!(encoded.text, exact.text);

    let again = api
        .get("/v1/prompts/support%2Fgreet@1.0.0")
        .header("if-none-match", &tag)
        .send()
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
    assert_eq!(again.header("etag"), tag);

    let by_version = api.get("/v1/prompts/support%2Fgreet/versions/1.0.0").send().await;
    assert_eq!(by_version.status, StatusCode::OK);
    assert_eq!(
        by_version.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(by_version.text, exact.text);
}

#[tokio::test]
async fn label_and_latest_reads_are_short_lived_and_revalidate() {
    let api = api().await;
    api.create_text("greet", "Hello {{ name }}!").await;
    api.pm.set_label("greet", "staging", "1.0.0").await.unwrap();
    for uri in [
        "/v1/prompts/greet",
        "/v1/prompts/greet@staging",
        "/v1/prompts/greet@%5E1",
        "/v1/prompts/greet@~1.0",
    ] {
        let reply = api.get(uri).send().await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
        assert_eq!(reply.header("cache-control"), "no-cache", "{uri}");
        let tag = reply.header("etag").to_owned();
        let again = api.get(uri).header("if-none-match", &format!("W/{tag}")).send().await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{uri}");
    }
    let summary = api.get("/v1/prompts/greet/summary").send().await;
    assert_eq!(summary.json()["labels"]["staging"], "1.0.0");
    assert_eq!(summary.json()["status"], "draft");
}

#[tokio::test]
async fn bad_references_and_missing_things_are_problems() {
    let api = api().await;
    api.create_text("greet", "Hi").await;
    let p = api.get("/v1/prompts/Greet").send().await.problem(400);
    assert_eq!(p["code"], "invalid_reference", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("Greet"), "{p}");
    api.get("/v1/prompts/greet@1.2").send().await.problem(400);
    let p = api.get("/v1/prompts/nope").send().await.problem(404);
    assert!(p["detail"].as_str().unwrap().contains("`nope` not found"), "{p}");
    api.get("/v1/prompts/greet@9.9.9").send().await.problem(404);
    api.get("/v1/prompts/greet@production").send().await.problem(404);
    api.get("/v1/prompts/greet/versions/1.x").send().await.problem(400);
    api.get("/v1/prompts/greet/versions/2.0.0").send().await.problem(404);
    api.get("/v1/prompts/..%2Fetc/versions").send().await.problem(400);
    api.get("/v1/prompts/%FF").send().await.problem(400);
}

#[tokio::test]
async fn bad_bodies_get_problems_and_write_nothing() {
    let api = api().await;
    let p = api
        .call(Method::POST, "/v1/prompts")
        .raw(Some("application/json"), "{\"prompt\": ")
        .send()
        .await
        .problem(400);
    assert_eq!(p["code"], "malformed_json");
    let p = api
        .call(Method::POST, "/v1/prompts")
        .raw(Some("text/plain"), "{}")
        .send()
        .await
        .problem(415);
    assert!(p["detail"].as_str().unwrap().contains("application/json"), "{p}");
    let p = api
        .post(
            "/v1/prompts",
            json!({"prompt": {"id": "a", "template": "x"}, "colour": "red"}),
        )
        .send()
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("unknown field `colour`"), "{p}");
    let p = api
        .post("/v1/prompts", json!({"prompt": {"id": "Bad Id", "template": "x"}}))
        .send()
        .await
        .problem(400);
    assert_eq!(p["code"], "invalid_id", "as for an id in the path: {p}");
    assert!(p["detail"].as_str().unwrap().contains("Bad Id"), "{p}");
    let p = api
        .post(
            "/v1/prompts",
            json!({"prompt": {"id": "a", "template": "Hello {{ name "}}),
        )
        .send()
        .await
        .problem(422);
    assert_eq!(p["code"], "template_syntax");
    assert!(p["detail"].as_str().unwrap().contains("line 1"), "{p}");
    api.post(
        "/v1/prompts",
        json!({"prompt": {"id": "a", "template": "x"}, "labels": ["Bad"]}),
    )
    .send()
    .await
    .problem(400);
    api.post(
        "/v1/prompts",
        json!({"prompt": {"id": "a", "template": "x"}, "version": "1"}),
    )
    .send()
    .await
    .problem(400);
    assert_eq!(api.versions("a").await, 0, "nothing was written");

    api.create_text("a", "x").await;
    let p = api
        .post("/v1/prompts", json!({"prompt": {"id": "a", "template": "y"}}))
        .send()
        .await
        .problem(409);
    assert_eq!(p["code"], "already_exists");
    assert_eq!(api.versions("a").await, 1);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let api = api_with(|_| AppOptions {
        body_limit: 1024,
        ..AppOptions::default()
    })
    .await;
    let big = "x".repeat(4096);
    let p = api
        .post("/v1/prompts", json!({"prompt": {"id": "big", "template": big}}))
        .send()
        .await
        .problem(413);
    assert_eq!(p["code"], "body_too_large");
    // Without a Content-Length, the limit holds while the body is read.
    let text = format!("{{\"prompt\": {{\"id\": \"big\", \"template\": \"{big}\"}}}}");
    let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = text
        .into_bytes()
        .chunks(100)
        .map(|c| Ok(axum::body::Bytes::copy_from_slice(c)))
        .collect();
    let streamed = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
    let p = api
        .call(Method::POST, "/v1/prompts")
        .raw(Some("application/json"), streamed)
        .send()
        .await
        .problem(413);
    assert_eq!(p["code"], "body_too_large");
    assert_eq!(api.versions("big").await, 0);
}

#[tokio::test]
async fn updates_make_versions_and_if_match_guards_them() {
    let api = api().await;
    let created = api.create_text("greet", "Hello {{ name }}!").await;
    let tag = created.header("etag").to_owned();
    let update = |template: &str| json!({"prompt": {"id": "greet", "template": template}, "bump": "minor", "changelog": "Warmer"});

    let reply = api
        .put("/v1/prompts/greet", update("Hi {{ name }}!"))
        .header("if-match", &tag)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["version"]["version"], "1.1.0");
    assert_eq!(reply.json()["created"], true);
    assert_eq!(reply.header("location"), "/v1/prompts/greet@1.1.0");
    let new_tag = reply.header("etag").to_owned();
    assert_ne!(new_tag, tag);

    // A stale If-Match: 412, nothing written.
    let p = api
        .put("/v1/prompts/greet", update("Howdy {{ name }}!"))
        .header("if-match", &tag)
        .send()
        .await
        .problem(412);
    assert!(p["detail"].as_str().unwrap().contains("nothing was written"), "{p}");
    assert_eq!(api.versions("greet").await, 2);
    api.put("/v1/prompts/greet", update("Howdy {{ name }}!"))
        .header("if-match", "W/\"anything\"")
        .send()
        .await
        .problem(412);

    // A stale expected_version in the body: 409.
    let mut body = update("Howdy {{ name }}!");
    body["expected_version"] = json!("1.0.0");
    let p = api.put("/v1/prompts/greet", body).send().await.problem(409);
    assert_eq!(p["code"], "version_conflict");
    assert_eq!(api.versions("greet").await, 2);

    // If-Match and a body's expected_version that disagree: 412, nothing written.
    let mut both = update("Howdy {{ name }}!");
    both["expected_version"] = json!("1.0.0");
    let p = api
        .put("/v1/prompts/greet", both)
        .header("if-match", &new_tag)
        .send()
        .await
        .problem(412);
    assert!(p["detail"].as_str().unwrap().contains("disagree"), "{p}");
    assert_eq!(api.versions("greet").await, 2);

    // Identical content: no version.
    let same = api
        .put("/v1/prompts/greet", update("Hi {{ name }}!"))
        .header("if-match", &new_tag)
        .send()
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert_eq!(same.json()["created"], false);

    // `*` accepts any current version.
    let star = api
        .put("/v1/prompts/greet", update("Yo {{ name }}!"))
        .header("if-match", "*")
        .send()
        .await;
    assert_eq!(star.status, StatusCode::CREATED, "{}", star.text);

    // Well-formed, but not a request for this path: 422 (schemathesis: no schema can say it).
    let p = api.put("/v1/prompts/other", update("x")).send().await.problem(422);
    assert_eq!(p["code"], "invalid_body", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("differs"), "{p}");
    let missing = json!({"prompt": {"id": "nope", "template": "x"}, "bump": "patch", "changelog": "x"});
    api.put("/v1/prompts/nope", missing.clone()).send().await.problem(404);
    api.put("/v1/prompts/nope", missing)
        .header("if-match", "*")
        .send()
        .await
        .problem(404);
    let bad_bump = json!({"prompt": {"id": "greet", "template": "x"}, "bump": "huge", "changelog": "x"});
    api.put("/v1/prompts/greet", bad_bump).send().await.problem(422);
    assert_eq!(api.versions("greet").await, 3);
}

#[tokio::test]
async fn archive_and_list_with_filters_and_pages() {
    let api = api().await;
    for id in ["a/one", "a/two", "b/three"] {
        api.post(
            "/v1/prompts",
            json!({"prompt": {"id": id, "template": "x", "metadata": {"tags": [id.split('/').next().unwrap()]}}}),
        )
        .send()
        .await;
    }
    let page = api.get("/v1/prompts?limit=2").send().await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = api
        .get(&format!("/v1/prompts?limit=2&cursor={}", cursor.replace('/', "%2F")))
        .send()
        .await
        .json();
    assert_eq!(rest["items"][0]["id"], "b/three");
    assert!(rest.get("next_cursor").is_none(), "{rest}");
    let tagged = api.get("/v1/prompts?tag=a").send().await.json();
    assert_eq!(tagged["items"].as_array().unwrap().len(), 2);
    let both = api.get("/v1/prompts?tag=a&tag=b").send().await.json();
    assert_eq!(both["items"].as_array().unwrap().len(), 0);
    let prefixed = api.get("/v1/prompts?prefix=b%2F").send().await.json();
    assert_eq!(prefixed["items"][0]["id"], "b/three");

    let archived = api.call(Method::POST, "/v1/prompts/a%2Fone/archive").send().await;
    assert_eq!(archived.status, StatusCode::OK, "{}", archived.text);
    assert_eq!(archived.json()["status"], "archived");
    let p = api
        .call(Method::POST, "/v1/prompts/a%2Fone/archive")
        .send()
        .await
        .problem(409);
    assert_eq!(p["code"], "invalid_status_transition");
    api.call(Method::POST, "/v1/prompts/zzz/archive")
        .send()
        .await
        .problem(404);
    let listed = api.get("/v1/prompts?status=archived").send().await.json();
    assert_eq!(listed["items"][0]["id"], "a/one");
    // Still readable, not renderable.
    assert_eq!(api.get("/v1/prompts/a%2Fone").send().await.status, StatusCode::OK);
    let p = api
        .post("/v1/prompts/a%2Fone/render", json!({}))
        .send()
        .await
        .problem(409);
    assert_eq!(p["code"], "archived");

    api.get("/v1/prompts?status=gone").send().await.problem(400);
    api.get("/v1/prompts?limit=0").send().await.problem(400);
    api.get("/v1/prompts?limit=abc").send().await.problem(400);
    let p = api.get("/v1/prompts?colour=red").send().await.problem(400);
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");
}

#[tokio::test]
async fn versions_and_diffs() {
    let api = api().await;
    api.create_text("greet", "Hello {{ name }}!").await;
    api.put("/v1/prompts/greet", json!({"prompt": {"id": "greet", "template": "Hello {{ name }} from {{ city }}!"}, "bump": "major", "changelog": "City"}))
        .send()
        .await;
    let versions = api.get("/v1/prompts/greet/versions").send().await.json();
    assert_eq!(versions["versions"][0]["version"], "2.0.0");
    assert_eq!(versions["versions"][1]["version"], "1.0.0");
    api.get("/v1/prompts/nope/versions").send().await.problem(404);

    let diff = api.get("/v1/prompts/greet/diff?from=1.0.0").send().await;
    assert_eq!(diff.status, StatusCode::OK, "{}", diff.text);
    let diff = diff.json();
    assert_eq!(diff["from"], "greet@1.0.0");
    assert_eq!(diff["to"], "greet@2.0.0");
    assert_eq!(diff["suggested_bump"], "major");
    assert_eq!(diff["changed"], true);
    assert!(
        diff["text"]
            .as_str()
            .unwrap()
            .contains("+Hello {{ name }} from {{ city }}!"),
        "{diff}"
    );
    assert!(diff["reasons"][0].as_str().unwrap().contains("city"), "{diff}");
    let same = api
        .get("/v1/prompts/greet/diff?from=2.0.0&to=2.0.0")
        .send()
        .await
        .json();
    assert_eq!(same["changed"], false);
    api.get("/v1/prompts/greet/diff?from=3.0.0").send().await.problem(404);
    api.get("/v1/prompts/greet/diff").send().await.problem(400);
    api.get("/v1/prompts/greet/diff?from=1.0.0&other=1")
        .send()
        .await
        .problem(400);
}

#[tokio::test]
async fn labels_move_with_history_rollback_and_if_match() {
    let api = api().await;
    api.create_text("greet", "v1 {{ name }}").await;
    for t in ["v2 {{ name }}", "v3 {{ name }}"] {
        api.put(
            "/v1/prompts/greet",
            json!({"prompt": {"id": "greet", "template": t}, "bump": "minor", "changelog": "next"}),
        )
        .send()
        .await;
    }
    let set = api
        .put("/v1/prompts/greet/labels/production", json!({"version": "1.0.0"}))
        .send()
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.json()["event"]["to"], "1.0.0");
    let tag_v1 = set.header("etag").to_owned();
    let unchanged = api
        .put("/v1/prompts/greet/labels/production", json!({"version": "1.0.0"}))
        .send()
        .await;
    assert!(unchanged.json().get("event").is_none(), "{}", unchanged.text);

    let label = api.get("/v1/prompts/greet/labels/production").send().await;
    assert_eq!(label.json()["version"], "1.0.0");
    assert_eq!(label.header("etag"), tag_v1);
    assert_eq!(label.header("cache-control"), "no-cache");
    assert_eq!(
        api.get("/v1/prompts/greet/labels/production")
            .header("if-none-match", &tag_v1)
            .send()
            .await
            .status,
        StatusCode::NOT_MODIFIED
    );

    let moved = api
        .put("/v1/prompts/greet/labels/production", json!({"version": "1.1.0"}))
        .header("if-match", &tag_v1)
        .send()
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    // The same If-Match again is stale now: 412 and the label stays.
    let p = api
        .put("/v1/prompts/greet/labels/production", json!({"version": "1.2.0"}))
        .header("if-match", &tag_v1)
        .send()
        .await
        .problem(412);
    assert!(p["detail"].as_str().unwrap().contains("nothing was written"), "{p}");
    assert_eq!(
        api.pm
            .labels("greet")
            .await
            .unwrap()
            .values()
            .next()
            .unwrap()
            .to_string(),
        "1.1.0"
    );
    api.put("/v1/prompts/greet/labels/staging", json!({"version": "1.2.0"}))
        .header("if-match", &tag_v1)
        .send()
        .await
        .problem(412);
    api.put("/v1/prompts/nope/labels/staging", json!({"version": "1.2.0"}))
        .header("if-match", "*")
        .send()
        .await
        .problem(404);
    assert!(
        !api.pm
            .labels("greet")
            .await
            .unwrap()
            .keys()
            .any(|l| l.as_str() == "staging")
    );

    api.put("/v1/prompts/greet/labels/production", json!({"version": "1.2.0"}))
        .send()
        .await;
    let labels = api.get("/v1/prompts/greet/labels").send().await.json();
    assert_eq!(labels["labels"]["production"], "1.2.0");

    let rollback = api
        .call(Method::POST, "/v1/prompts/greet/labels/production/rollback")
        .send()
        .await;
    assert_eq!(rollback.status, StatusCode::OK, "{}", rollback.text);
    assert_eq!(rollback.json()["version"], "1.1.0");
    assert_eq!(rollback.json()["event"]["kind"], "rollback");
    api.call(Method::POST, "/v1/prompts/greet/labels/production/rollback")
        .send()
        .await;
    let p = api
        .call(Method::POST, "/v1/prompts/greet/labels/production/rollback")
        .send()
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("no earlier version"), "{p}");

    let history = api
        .get("/v1/prompts/greet/labels/production/history")
        .send()
        .await
        .json();
    let kinds: Vec<_> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["set", "set", "set", "rollback", "rollback"]);

    // DELETE takes If-Match too: a stale tag (1.1.0's; the label is back on 1.0.0) removes nothing.
    let tag_v11 = moved.header("etag");
    assert!(!tag_v11.is_empty() && tag_v11 != tag_v1);
    let p = api
        .call(Method::DELETE, "/v1/prompts/greet/labels/production")
        .header("if-match", tag_v11)
        .send()
        .await
        .problem(412);
    assert!(p["detail"].as_str().unwrap().contains("nothing was written"), "{p}");
    let current = api.get("/v1/prompts/greet/labels/production").send().await;
    assert_eq!(current.json()["version"], "1.0.0");
    let removed = api
        .call(Method::DELETE, "/v1/prompts/greet/labels/production")
        .header("if-match", current.header("etag"))
        .send()
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(removed.json()["event"]["kind"], "remove");
    api.call(Method::DELETE, "/v1/prompts/greet/labels/production")
        .send()
        .await
        .problem(404);
    api.get("/v1/prompts/greet/labels/production").send().await.problem(404);
    api.put("/v1/prompts/greet/labels/Bad", json!({"version": "1.0.0"}))
        .send()
        .await
        .problem(400);
    api.put("/v1/prompts/greet/labels/x", json!({"version": "9.0.0"}))
        .send()
        .await
        .problem(404);
    api.put("/v1/prompts/greet/labels/x", json!({"version": "one"}))
        .send()
        .await
        .problem(400);
    api.put("/v1/prompts/greet/labels/x", json!({"v": "1.0.0"}))
        .send()
        .await
        .problem(422);
}

#[tokio::test]
async fn renders_text_chat_frameworks_and_batches() {
    let api = api().await;
    api.create_text("greet", "Hello {{ name }}!").await;
    let chat = json!({"prompt": {"id": "chat", "template": [
        {"role": "system", "content": "You are {{ bot }}."},
        {"role": "user", "content": "{{ question }}"}
    ], "model_config": {"model": "gpt-4o", "max_tokens": 100}}});
    assert_eq!(api.post("/v1/prompts", chat).send().await.status, StatusCode::CREATED);

    let text = api
        .post("/v1/prompts/greet/render", json!({"variables": {"name": "Ada"}}))
        .send()
        .await;
    assert_eq!(text.status, StatusCode::OK, "{}", text.text);
    assert_eq!(text.json()["text"], "Hello Ada!");
    assert_eq!(text.json()["version"], "1.0.0");

    let vars = json!({"variables": {"bot": "Ada", "question": "Why?"}});
    let messages = api
        .post("/v1/prompts/chat@1.0.0/render", vars.clone())
        .send()
        .await
        .json();
    assert_eq!(
        messages["messages"][0],
        json!({"role": "system", "content": "You are Ada."})
    );
    assert!(messages.get("text").is_none());

    let openai = api.post("/v1/prompts/chat/render?as=openai", vars.clone()).send().await;
    assert_eq!(openai.status, StatusCode::OK, "{}", openai.text);
    assert_eq!(openai.json()["model"], "gpt-4o");
    assert_eq!(openai.json()["messages"][1]["content"], "Why?");
    let anthropic = api
        .post("/v1/prompts/chat/render?as=anthropic", vars.clone())
        .send()
        .await
        .json();
    assert_eq!(anthropic["system"], "You are Ada.");
    let p = api
        .post("/v1/prompts/chat/render?as=cobol", vars.clone())
        .send()
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("openai"), "{p}");
    api.post("/v1/prompts/chat/render?format=x", vars)
        .send()
        .await
        .problem(400);

    let p = api
        .post("/v1/prompts/chat/render", json!({"variables": {}}))
        .send()
        .await
        .problem(422);
    assert_eq!(p["code"], "invalid_variables");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("`bot`") && detail.contains("`question`"),
        "every missing variable: {detail}"
    );
    api.post("/v1/prompts/nope/render", json!({})).send().await.problem(404);
    api.post("/v1/prompts/greet/render", json!({"variables": []}))
        .send()
        .await
        .problem(422);

    let batch = api
        .post(
            "/v1/render",
            json!({"requests": [
                {"reference": "greet", "variables": {"name": "Ada"}},
                {"reference": "nope"},
                {"reference": "chat", "variables": {"bot": "B", "question": "Q"}, "as": "gemini"}
            ]}),
        )
        .send()
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.text);
    let results = batch.json()["results"].clone();
    assert_eq!(results[0]["result"]["text"], "Hello Ada!");
    assert_eq!(results[1]["ok"], false);
    assert_eq!(results[1]["error"]["status"], 404);
    assert_eq!(results[2]["ok"], true);
    let many: Vec<_> = (0..101).map(|_| json!({"reference": "greet"})).collect();
    let p = api
        .post("/v1/render", json!({"requests": many}))
        .send()
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("limit is 100"), "{p}");
}

#[tokio::test]
async fn runaway_templates_hit_render_limits() {
    let api = api().await;
    let template = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    api.create_text("loop", template).await;
    let p = api.post("/v1/prompts/loop/render", json!({})).send().await.problem(422);
    assert_eq!(p["code"], "render_limit", "{p}");
}

#[tokio::test]
async fn operations_routes_answer() {
    let api = api().await;
    let health = api.get("/healthz").send().await;
    assert_eq!(health.json(), json!({"status": "ok"}));
    let ready = api.get("/readyz").send().await;
    assert_eq!(ready.json(), json!({"status": "ok", "store": "sqlite"}));

    api.create_text("greet", "Hello {{ name }}!").await;
    api.post("/v1/prompts/greet/render", json!({"variables": {"name": "Ada"}}))
        .send()
        .await;
    api.post("/v1/prompts/greet/render", json!({})).send().await;
    let metrics = api.get("/metrics").send().await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.header("content-type").starts_with("text/plain"));
    assert!(metrics.text.contains("prompt_manager_render"), "{}", metrics.text);
    assert!(metrics.text.contains("greet"), "{}", metrics.text);

    let spec = api.get("/openapi.json").send().await;
    assert_eq!(spec.status, StatusCode::OK);
    let spec = spec.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["paths"]["/v1/prompts/{id}/render"]["post"].is_object());
}

#[tokio::test]
async fn the_router_s_own_errors_are_problems() {
    let api = api().await;
    let p = api.get("/v2/nothing").send().await.problem(404);
    assert_eq!(p["code"], "no_route");
    let p = api
        .get("/v1/prompts/support/triage/labels/x/y")
        .send()
        .await
        .problem(404);
    assert!(p["detail"].as_str().unwrap().contains("percent-encoded"), "{p}");
    let reply = api.call(Method::DELETE, "/v1/prompts").send().await;
    let p = reply.problem(405);
    assert_eq!(p["code"], "method_not_allowed");
    assert!(reply.header("allow").contains("GET"), "{:?}", reply.headers);

    let slow = api_with(|_| AppOptions {
        request_timeout: Duration::from_millis(50),
        ..AppOptions::default()
    })
    .await;
    // A body that never arrives.
    let stalled =
        axum::body::Body::from_stream(futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>());
    let p = slow
        .call(Method::POST, "/v1/prompts")
        .raw(Some("application/json"), stalled)
        .send()
        .await
        .problem(408);
    assert_eq!(p["code"], "timeout");
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let api = api().await;
    let spec = prompt_manager_server::openapi();
    let json = serde_json::to_value(&spec).unwrap();
    let paths = json["paths"].as_object().unwrap();
    assert!(paths.len() >= 14, "{:?}", paths.keys());
    for (path, item) in paths {
        // The change stream never ends, so its body cannot be read to the end here; it is routed
        // and read through a socket in tests/changes.rs.
        if path == "/v1/changes" {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let uri = path
                .replace("{id}", "greet")
                .replace("{label}", "production")
                .replace("{version}", "1.0.0");
            let reply = api.call(method.clone(), &uri).send().await;
            let code = if reply.header("content-type").contains("json") {
                reply.json().get("code").cloned().unwrap_or_default()
            } else {
                serde_json::Value::Null
            };
            assert!(
                code != "no_route" && code != "method_not_allowed",
                "{method} {path} is documented but not routed: {}",
                reply.text
            );
        }
    }
}

#[test]
fn the_openapi_document_lists_every_name_of_the_core_enums() {
    use std::collections::BTreeSet;

    use prompt_manager::{Bump, LabelEventKind, PromptFormat, PromptStatus, Role, VariableType};

    fn names<T>(all: &[T], as_str: fn(&T) -> &'static str) -> BTreeSet<String> {
        all.iter().map(|v| as_str(v).to_owned()).collect()
    }
    let doc = serde_json::to_value(prompt_manager_server::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    // The document describes the core enums with its own copies (core derives no schemas):
    // they must list exactly the names the core writes.
    for (schema, expected) in [
        ("Role", names(Role::ALL, Role::as_str)),
        ("Format", names(PromptFormat::ALL, PromptFormat::as_str)),
        ("Status", names(PromptStatus::ALL, PromptStatus::as_str)),
        ("Bump", names(Bump::ALL, Bump::as_str)),
        ("VariableType", names(VariableType::ALL, VariableType::as_str)),
        ("LabelEventKind", names(LabelEventKind::ALL, LabelEventKind::as_str)),
        ("AuditAction", names(prompt_manager::AuditAction::ALL, |a| a.as_str())),
    ] {
        let documented: BTreeSet<String> = serde_json::from_value(schemas[schema]["enum"].clone())
            .unwrap_or_else(|e| panic!("{schema} has no list of names: {e}: {}", schemas[schema]));
        assert_eq!(documented, expected, "{schema}");
    }
}

#[tokio::test]
async fn the_concurrency_limit_makes_requests_wait_their_turn() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let api = api_with(|_| AppOptions {
        concurrency_limit: 1,
        ..AppOptions::default()
    })
    .await;
    // The first request holds the only slot: its body never arrives.
    let stalled = Body::from_stream(futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>());
    let first = Request::post("/v1/prompts")
        .header("content-type", "application/json")
        .body(stalled)
        .unwrap();
    let holder = tokio::spawn(api.router.clone().oneshot(first));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = api
        .router
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap());
    assert!(
        tokio::time::timeout(Duration::from_millis(200), second).await.is_err(),
        "a second request waits while the first holds the slot"
    );
    holder.abort();
    let _ = holder.await;
    assert_eq!(
        api.get("/healthz").send().await.status,
        StatusCode::OK,
        "the slot is free again"
    );
}

#[tokio::test]
async fn an_exact_version_recreated_elsewhere_is_not_served_from_the_cache() {
    let api = api().await;
    let created = api.create_text("greet", "Hello {{ name }}!").await;
    let first = api.get("/v1/prompts/greet@1.0.0").send().await;
    assert_eq!(first.header("etag"), created.header("etag"));
    // Another process on the same SQLite file deletes the prompt and creates it again: same
    // version number, other content.
    let url = format!("sqlite://{}", api.dir.path().join("pm.db").display());
    let other = prompt_manager::open(&url).await.unwrap();
    other.delete("greet").await.unwrap();
    other
        .create(prompt_manager::Prompt::text("greet", "Bye {{ name }}!").unwrap())
        .await
        .unwrap();
    let fresh = other.get("greet@1.0.0").await.unwrap();
    let expected = format!("\"1.0.0-{}\"", fresh.content_hash);
    // The change log is read every 100 ms; the cached body must give way within a few reads.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let reply = api.get("/v1/prompts/greet@1.0.0").send().await;
        if reply.header("etag") == expected {
            assert_eq!(reply.json()["prompt"]["template"], "Bye {{ name }}!");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still served: {}", reply.text);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_version_edited_by_hand_is_a_500_that_names_the_version_but_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("prompts");
    let pm = prompt_manager::open(&format!("dir://{}", folder.display()))
        .await
        .unwrap();
    pm.create(prompt_manager::Prompt::text("greet", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    let path = folder.join("greet/1.0.0.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("Hello", "Howdy")).unwrap();
    let dir_api = common::Api {
        router: prompt_manager_server::app(
            prompt_manager_server::AppState::new(pm.clone(), prompt_manager_server::AppOptions::default()).unwrap(),
        ),
        pm,
        dir,
    };
    let p = dir_api.get("/v1/prompts/greet@1.0.0").send().await.problem(500);
    assert_eq!(p["code"], "content_hash_mismatch");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("version 1.0.0 of `greet`"), "{detail}");
    assert!(!detail.contains("1.0.0.yaml") && !detail.contains("/tmp"), "{detail}");
}

#[tokio::test]
async fn store_failures_are_generic_problems_that_name_no_file() {
    // A `dir://` store with a version file broken by hand: 500, and the path stays in the log.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("prompts");
    let pm = prompt_manager::open(&format!("dir://{}", folder.display()))
        .await
        .unwrap();
    pm.create(prompt_manager::Prompt::text("greet", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    std::fs::write(folder.join("greet/1.0.0.yaml"), "prompt: [unclosed\n").unwrap();
    let dir_api = common::Api {
        router: prompt_manager_server::app(
            prompt_manager_server::AppState::new(pm.clone(), prompt_manager_server::AppOptions::default()).unwrap(),
        ),
        pm,
        dir,
    };
    let p = dir_api.get("/v1/prompts/greet@1.0.0").send().await.problem(500);
    assert_eq!(p["code"], "store_corrupt");
    let detail = p["detail"].as_str().unwrap();
    assert!(!detail.contains("1.0.0.yaml") && !detail.contains("/tmp"), "{detail}");

    // A SQLite file overwritten underneath the server: 503, generic.
    let api = api().await;
    api.create_text("greet", "Hello {{ name }}!").await;
    for name in ["pm.db", "pm.db-wal", "pm.db-shm"] {
        let path = api.dir.path().join(name);
        if path.exists() {
            std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        }
    }
    let reply = api.get("/v1/prompts/greet/versions").send().await;
    let p = reply.problem(503);
    assert_eq!(p["code"], "store_unavailable");
    assert!(!p["detail"].as_str().unwrap().contains("pm.db"), "{p}");
    let ready = api.get("/readyz").send().await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{}", ready.text);
}

/// The status of every problem made from a manager error is the status of the error's kind, and
/// its code the error's code: the server keeps no table of its own.
#[tokio::test]
async fn problems_take_their_status_from_the_error_kind() {
    let api = api().await;
    api.create_text("greet", "Hello {{ name }}!").await;
    api.create_text("broken", "{{ 1 // 0 }}").await;
    let vars = prompt_manager::Variables::new;
    let cases: [(&str, prompt_manager::Error); 4] = [
        ("nope", api.pm.render("nope", &vars()).await.unwrap_err()),
        ("greet@@", api.pm.render("greet@@", &vars()).await.unwrap_err()),
        ("greet", api.pm.render("greet", &vars()).await.unwrap_err()),
        ("broken", api.pm.render("broken", &vars()).await.unwrap_err()),
    ];
    let mut statuses = std::collections::BTreeSet::new();
    for (reference, error) in cases {
        let status = error.kind().http_status();
        let p = api
            .post(&format!("/v1/prompts/{reference}/render"), json!({"variables": {}}))
            .send()
            .await
            .problem(status);
        assert_eq!(p["code"], error.code(), "{reference}: {p}");
        assert_eq!(p["detail"], error.to_string(), "{reference}: {p}");
        statuses.insert(status);
    }
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [400, 404, 422],
        "the cases cover a malformed reference, a missing prompt and failed checks"
    );

    // Includes nested deeper than the manager follows (core's MAX_INCLUDE_DEPTH, 16) are a
    // render limit, not an unsupported operation: the save that would nest them is refused.
    api.create_text("deep/30", "end").await;
    let mut refused = None;
    for i in (0..30).rev() {
        let body =
            json!({"prompt": {"id": format!("deep/{i}"), "template": format!("{{% include \"deep/{}\" %}}", i + 1)}});
        let reply = api.post("/v1/prompts", body).send().await;
        if reply.status != StatusCode::CREATED {
            refused = Some(reply.problem(422));
            break;
        }
    }
    let p = refused.expect("a chain of 30 includes is refused");
    assert_eq!(p["code"], "render_limit", "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("nest deeper than 16 levels"),
        "{p}"
    );
}
