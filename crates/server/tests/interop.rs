//! `POST /v1/import` and `GET /v1/export` on a real SQLite-backed manager: Langfuse and Prompty
//! files imported all or nothing (warnings for fields left behind, errors at file:line:column),
//! rendered, and exported back; keys that may not write are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{api, api_with};
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};
use serde_json::json;

const LANGFUSE: &str = r#"[{"name": "movie-critic", "version": 1, "type": "text", "prompt": "Do you like {{movie}}?", "config": {}, "labels": [], "tags": []},
 {"name": "movie-critic", "version": 2, "type": "text", "prompt": "As a {{level}} critic, do you like {{movie}}?",
  "config": {"model": "gpt-4o"}, "labels": ["production", "latest"], "tags": ["movies"], "shiny": 1}]"#;

const PROMPTY: &str = "---\nname: Triage\nmodel:\n  id: gpt-4o\ninputs:\n  - name: ticket\n    kind: string\n---\nsystem:\nRoute the ticket.\n\nuser:\n{{ ticket }}\n";

#[tokio::test]
async fn files_import_render_and_export() {
    let api = api().await;
    let r = api
        .post(
            "/v1/import",
            json!({"format": "langfuse", "files": [{"name": "critic.json", "text": LANGFUSE}]}),
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(body["created"].as_array().unwrap().len(), 2, "{body}");
    assert!(
        body["warnings"][0]["message"].as_str().unwrap().contains("`shiny`"),
        "{body}"
    );
    assert_eq!(body["warnings"][0]["line"], 2, "{body}");
    let r = api
        .post(
            "/v1/import",
            json!({"format": "prompty", "files": [{"name": "support/triage.prompty", "text": PROMPTY}]}),
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let out = api
        .pm
        .render(
            "movie-critic@production",
            &json!({"level": "harsh", "movie": "Alien"})
                .as_object()
                .unwrap()
                .clone()
                .into(),
        )
        .await
        .unwrap();
    assert_eq!(out, "As a harsh critic, do you like Alien?");
    assert_eq!(api.versions("support/triage").await, 1);

    let r = api.get("/v1/export?format=langfuse&all_versions=true").send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let files = r.json()["files"].as_array().unwrap().clone();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["movie-critic.json", "support/triage.json"]);
    let critic: serde_json::Value = serde_json::from_str(files[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(critic[1]["prompt"], "As a {{level}} critic, do you like {{movie}}?");
    let r = api.get("/v1/export?format=prompty&label=production").send().await;
    let files = r.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 1, "only the labelled prompt: {files:?}");
    assert!(files[0]["text"].as_str().unwrap().contains("As a {{level}} critic"));

    // MLflow's prompt versions: in with their aliases, out as MLflow's JSON.
    let r = api
        .post(
            "/v1/import",
            json!({"format": "mlflow", "files": [{"name": "qa.json", "text": MLFLOW}]}),
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let out = api
        .pm
        .render(
            "qa@production",
            &json!({"question": "Why?"}).as_object().unwrap().clone().into(),
        )
        .await
        .unwrap();
    assert_eq!(out, "Answer briefly: Why?");
    let r = api.get("/v1/export?format=mlflow&prefix=qa").send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let files = r.json()["files"].as_array().unwrap().clone();
    let qa: serde_json::Value = serde_json::from_str(files[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(qa[0]["template"], "Answer briefly: {{ question }}", "{qa}");
    assert_eq!(qa[0]["aliases"], json!(["production"]), "{qa}");
}

const MLFLOW: &str = r#"{"name": "qa", "version": 1, "template": "Answer briefly: {{ question }}",
  "aliases": ["production"], "model_config": {"model_name": "gpt-4o", "temperature": 0.1}}"#;

#[tokio::test]
async fn bad_requests_say_what_and_where_and_change_nothing() {
    let api = api().await;
    let bad = r#"{"name": "bad", "type": "text",
  "prompt": "Hi {{user-name}}"}"#;
    let p = api
        .post(
            "/v1/import",
            json!({"format": "langfuse", "files": [
                {"name": "good.json", "text": r#"{"name": "good", "type": "text", "prompt": "fine"}"#},
                {"name": "bad.json", "text": bad}]}),
        )
        .send()
        .await
        .problem(422);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("bad.json:2:17") && detail.contains("`user-name`"),
        "{p}"
    );
    assert_eq!(api.versions("good").await, 0, "all or nothing");
    let p = api
        .post(
            "/v1/import",
            json!({"format": "yaml", "files": [{"name": "x", "text": "y"}]}),
        )
        .send()
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("`yaml`"), "{p}");
    let p = api.get("/v1/export?format=yaml").send().await.problem(400);
    assert!(
        p["detail"].as_str().unwrap().contains("langfuse, prompty, mlflow"),
        "{p}"
    );
    api.get("/v1/export?format=langfuse&label=").send().await.problem(422);
    api.post(
        "/v1/import",
        json!({"format": "langfuse", "files": [{"name": "e.json", "text": "[]"}]}),
    )
    .send()
    .await
    .problem(422);
    api.post("/v1/import", json!({"format": "prompty", "files": []}))
        .send()
        .await
        .problem(400);
    api.get("/v1/export").send().await.problem(400);
    api.get("/v1/export?format=langfuse&colour=red")
        .send()
        .await
        .problem(400);
    // A prompt Langfuse cannot express is refused, not written wrong.
    api.create_text("looped", "{% for x in xs %}{{ x }}{% endfor %}").await;
    let p = api.get("/v1/export?format=langfuse").send().await.problem(422);
    assert!(p["detail"].as_str().unwrap().contains("looped"), "{p}");
}

#[tokio::test]
async fn a_read_key_may_export_but_not_import() {
    let mut tokens = None;
    let api = api_with(|dir| {
        let path = dir.join("keys.json");
        tokens = Some((
            keys::create(&path, "reader", Scope::Read).unwrap().token,
            keys::create(&path, "writer", Scope::Write).unwrap().token,
        ));
        AppOptions {
            keys_file: Some(path),
            keys_check_interval: Duration::ZERO,
            ..AppOptions::default()
        }
    })
    .await;
    let (reader, writer) = tokens.unwrap();
    let request = json!({"format": "prompty", "files": [{"name": "t.prompty", "text": PROMPTY}]});
    api.post("/v1/import", request.clone())
        .bearer(&reader)
        .send()
        .await
        .problem(403);
    let r = api.post("/v1/import", request).bearer(&writer).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get("/v1/export?format=prompty").bearer(&reader).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["files"][0]["path"], "t.prompty");
}
