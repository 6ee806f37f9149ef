//! Usage over HTTP: a render returns its render id, usage and feedback reports are accepted with
//! it and refused (400 problem+json) without a valid one, analytics answers per version, label
//! and variant and refuses bad parameters clearly; a real server on SQLite flushes on graceful
//! shutdown, so a restarted one reads every render.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use axum::http::StatusCode;
use common::Api;
use prompt_manager::{Prompt, UsageConfig};
use prompt_manager_server::{AppOptions, AppState, Server, ServerConfig, app};
use serde_json::{Value, json};

async fn usage_api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pm.db").display());
    let pm = prompt_manager::builder()
        .store(prompt_manager::open_store(&url).await.unwrap())
        .usage(UsageConfig::default())
        .build()
        .unwrap();
    let state = AppState::new(pm.clone(), AppOptions::default()).unwrap();
    Api {
        router: app(state),
        pm,
        dir,
    }
}

async fn render(api: &Api, reference: &str, name: Option<&str>) -> common::Reply {
    let variables = match name {
        Some(name) => json!({ "name": name }),
        None => json!({}),
    };
    api.post(
        &format!("/v1/prompts/{}/render", reference.replace('/', "%2F")),
        json!({ "variables": variables }),
    )
    .send()
    .await
}

#[tokio::test]
async fn renders_report_and_read_back_over_http() {
    let api = usage_api().await;
    api.create_text("support/greet", "Hello {{ name }}!").await;
    api.pm.set_label("support/greet", "production", "1.0.0").await.unwrap();
    let mut ids = Vec::new();
    for name in ["Ada", "Grace", "Alan"] {
        let reply = render(&api, "support/greet@production", Some(name)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let id = reply.json()["render_id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("r1"), "{id}");
        ids.push(id);
    }
    render(&api, "support/greet@production", None).await.problem(422);

    let accepted = api
        .post(
            &format!("/v1/renders/{}/usage", ids[0]),
            json!({"output_tokens": 40, "model_latency_ms": 900, "actual_cost_usd": 0.002}),
        )
        .send()
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let body = accepted.json();
    assert_eq!(body["prompt_id"], "support/greet");
    assert_eq!(body["version"], "1.0.0");
    assert_eq!(body["label"], "production");
    for (i, id) in ids.iter().enumerate() {
        let reply = api
            .post(
                &format!("/v1/renders/{id}/feedback"),
                json!({"success": i != 2, "score": i as f64}),
            )
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
    api.pm.flush_usage().await.unwrap();

    for by in ["version", "label", "variant"] {
        let reply = api
            .get(&format!("/v1/prompts/support%2Fgreet/analytics?by={by}&bucket=minute"))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let a = reply.json();
        assert_eq!(a["by"], by);
        assert_eq!(a["bucket"], "minute");
        let groups = a["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 1, "{a}");
        let t = &groups[0]["totals"];
        assert_eq!(t["renders"], 4, "{t}");
        assert_eq!(t["errors"], 1);
        assert_eq!(t["errors_by_kind"]["invalid_variables"], 1);
        assert_eq!(t["error_rate"], 0.25);
        assert_eq!(t["output_tokens"], 40);
        assert_eq!(t["total_cost"], 2_000_000);
        assert_eq!(t["feedback"], 3);
        assert_eq!(t["success_rate"], json!(2.0 / 3.0));
        assert_eq!(t["mean_score"], 1.0);
        // The umbrella's builder counts tokens (prompt-manager-cost): exact or estimated, never absent.
        assert!(t["input_tokens"].as_u64().unwrap() > 0, "{t}");
        assert!(
            matches!(t["input_tokens_accuracy"].as_str(), Some("exact" | "estimated")),
            "{t}"
        );
        assert!(t["latency_p95_us"].as_f64().unwrap() > 0.0);
        let series = groups[0]["series"].as_array().unwrap();
        assert!(!series.is_empty());
        assert_eq!(series.iter().map(|p| p["renders"].as_u64().unwrap()).sum::<u64>(), 4);
        if by != "version" {
            assert_eq!(groups[0]["label"], "production");
        }
    }
    let spec = api.get("/openapi.json").send().await.json();
    for path in [
        "/v1/renders/{render_id}/usage",
        "/v1/renders/{render_id}/feedback",
        "/v1/prompts/{id}/analytics",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn bad_render_ids_reports_and_parameters_are_clear_400s() {
    let api = usage_api().await;
    api.create_text("greet", "Hi {{ name }}").await;
    let id = render(&api, "greet", Some("x")).await.json()["render_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for bad in ["nonsense", "r1AAAA", "r1!x", &id[..id.len() - 2]] {
        let p = api
            .post(&format!("/v1/renders/{bad}/feedback"), json!({"success": true}))
            .send()
            .await
            .problem(404);
        assert!(p["detail"].as_str().unwrap().contains("render id"), "{p}");
    }
    let p = api
        .post(&format!("/v1/renders/{id}/feedback"), json!({}))
        .send()
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("success"), "{p}");
    api.post(&format!("/v1/renders/{id}/feedback"), json!({"score": 1e9}))
        .send()
        .await
        .problem(400);
    api.post(&format!("/v1/renders/{id}/usage"), json!({}))
        .send()
        .await
        .problem(400);
    let p = api
        .post(&format!("/v1/renders/{id}/usage"), json!({"actual_cost_usd": -1}))
        .send()
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("actual_cost_usd"), "{p}");
    api.post(&format!("/v1/renders/{id}/usage"), json!({"tokens": 1}))
        .send()
        .await
        .problem(422);

    for (query, needle) in [
        ("bucket=week", "week"),
        ("by=model", "model"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("colour=blue", "colour"),
    ] {
        let reply = api.get(&format!("/v1/prompts/greet/analytics?{query}")).send().await;
        let p = reply.problem(400);
        assert!(p["detail"].as_str().unwrap().contains(needle), "{query}: {p}");
    }
    // Well-formed ranges the server will not compute are unprocessable.
    for (query, needle) in [
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "before"),
        (
            "bucket=minute&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "buckets",
        ),
    ] {
        let reply = api.get(&format!("/v1/prompts/greet/analytics?{query}")).send().await;
        let p = reply.problem(422);
        assert!(p["detail"].as_str().unwrap().contains(needle), "{query}: {p}");
    }
    api.get("/v1/prompts/Greet/analytics").send().await.problem(400);
}

#[tokio::test]
async fn a_server_flushes_on_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("pm.db").display());
    let config = ServerConfig {
        store: store.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        app: AppOptions::default(),
        seed_example: false,
        shutdown_grace: std::time::Duration::from_secs(5),
    };
    let server = Server::bind(config).await.unwrap();
    server
        .state()
        .manager()
        .create(Prompt::text("greet", "Hi {{ name }}").unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let reply = client
            .post(format!("http://{addr}/v1/prompts/greet/render"))
            .json(&json!({"variables": {"name": "Ada"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let body: Value = reply.json().await.unwrap();
        assert!(body["render_id"].is_string(), "{body}");
    }
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    // A fresh manager on the same file: the renders were written when the server stopped.
    let pm = prompt_manager::open(&store).await.unwrap();
    let query = prompt_manager::AnalyticsQuery::last(
        std::time::Duration::from_secs(3_600),
        prompt_manager::Bucket::Minute,
        prompt_manager::GroupBy::Version,
    );
    let analytics = pm.analytics("greet", &query).await.unwrap();
    assert_eq!(analytics.groups.len(), 1);
    assert_eq!(analytics.groups[0].totals.renders, 5);
}

#[tokio::test]
async fn variants_of_a_label_come_with_their_comparison() {
    let api = usage_api().await;
    api.create_text("greet", "Hi {{ name }}").await;
    api.pm
        .update(
            Prompt::text("greet", "Hello {{ name }}").unwrap(),
            prompt_manager::Bump::Minor,
            "warmer",
        )
        .await
        .unwrap();
    for version in ["1.0.0", "1.1.0"] {
        api.pm.set_label("greet", "production", version).await.unwrap();
        for _ in 0..3 {
            let reply = render(&api, "greet@production", Some("Ada")).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        }
    }
    api.pm.flush_usage().await.unwrap();
    let a = api.get("/v1/prompts/greet/analytics?by=variant").send().await.json();
    assert_eq!(a["groups"].as_array().unwrap().len(), 2, "{a}");
    let experiment = &a["experiments"][0];
    assert_eq!(experiment["label"], "production");
    assert_eq!(experiment["control"], "1.0.0");
    let comparison = &experiment["comparisons"][0];
    assert_eq!(comparison["variant"], "1.1.0");
    assert_eq!(comparison["verdict"], "not enough data yet");
    assert_eq!(comparison["success"]["enough_data"], false);
    let by_version = api.get("/v1/prompts/greet/analytics").send().await.json();
    assert!(by_version.get("experiments").is_none(), "{by_version}");
}
