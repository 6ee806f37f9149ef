//! The price routes on a real SQLite-backed manager: the shipped table listed, lookups by the
//! table's rules (snapshots, unknown models → 404 "no price"), runtime changes by an admin only,
//! and refused prices changing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{api, api_with};
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};
use serde_json::json;

#[tokio::test]
async fn the_table_is_listed_and_looked_up_by_its_rules() {
    let api = api().await;
    let r = api.get("/v1/prices").send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let prices = r.json()["prices"].as_array().unwrap().clone();
    assert!(prices.len() >= 40, "{} prices", prices.len());
    let models: Vec<&str> = prices.iter().map(|p| p["model"].as_str().unwrap()).collect();
    let mut sorted = models.clone();
    sorted.sort_unstable();
    assert_eq!(models, sorted);
    let mini = prices.iter().find(|p| p["model"] == "gpt-4o-mini").unwrap();
    assert_eq!(mini["input"], 0.15);
    assert_eq!(mini["output"], 0.6);
    assert_eq!(mini["cached_input"], 0.075);

    let r = api.get("/v1/prices/gpt-4o-mini-2024-07-18").send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["input"], 0.15);
    let r = api
        .get("/v1/prices/anthropic%2Fclaude-sonnet-4-5-20250929")
        .send()
        .await;
    assert_eq!(r.json()["output"], 15.0, "{}", r.text);

    let p = api.get("/v1/prices/my-model").send().await.problem(404);
    assert_eq!(p["code"], "no_price");
    assert!(p["detail"].as_str().unwrap().contains("my-model"));
}

#[tokio::test]
async fn an_admin_sets_prices_at_runtime_and_bad_ones_change_nothing() {
    let mut tokens = None;
    let api = api_with(|dir| {
        let path = dir.join("keys.json");
        tokens = Some((
            keys::create(&path, "reader", Scope::Read).unwrap().token,
            keys::create(&path, "writer", Scope::Write).unwrap().token,
            keys::create(&path, "boss", Scope::Admin).unwrap().token,
        ));
        AppOptions {
            keys_file: Some(path),
            keys_check_interval: Duration::ZERO,
            ..AppOptions::default()
        }
    })
    .await;
    let (read, write, admin) = tokens.unwrap();
    let body = json!({"input": 1.5, "output": 6.0});

    api.put("/v1/prices/my-model", body.clone()).send().await.problem(401);
    api.put("/v1/prices/my-model", body.clone())
        .bearer(&read)
        .send()
        .await
        .problem(403);
    api.put("/v1/prices/my-model", body.clone())
        .bearer(&write)
        .send()
        .await
        .problem(403);
    api.get("/v1/prices/my-model").bearer(&read).send().await.problem(404);

    let r = api.put("/v1/prices/My-Model", body.clone()).bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"model": "my-model", "input": 1.5, "output": 6.0}));
    let r = api.get("/v1/prices/my-model").bearer(&read).send().await;
    assert_eq!(r.json()["output"], 6.0, "{}", r.text);
    // The manager the renders use sees it too.
    let price = api.pm.prices().unwrap().price("my-model").unwrap();
    assert_eq!((price.input, price.output, price.cached_input), (1.5, 6.0, None));

    // Replacing a shipped price, with cached input.
    let r = api
        .put(
            "/v1/prices/gpt-4o",
            json!({"input": 2.0, "output": 8.0, "cached_input": 0.5}),
        )
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get("/v1/prices/gpt-4o-2024-11-20").bearer(&read).send().await;
    assert_eq!(r.json()["cached_input"], 0.5, "{}", r.text);

    // Refused: negative, wrong types, unknown fields, missing fields, a blank model.
    let before = api.get("/v1/prices").bearer(&read).send().await.text;
    for bad in [
        json!({"input": -1.0, "output": 6.0}),
        json!({"input": 1.0, "output": 6.0, "cached_input": -0.5}),
        json!({"input": "1", "output": 6.0}),
        json!({"input": 1.0}),
        json!({"input": 1.0, "output": 2.0, "cache": 0.1}),
    ] {
        let r = api.put("/v1/prices/my-model", bad.clone()).bearer(&admin).send().await;
        assert!(r.status.is_client_error(), "{bad}: {} {}", r.status, r.text);
        assert_eq!(r.header("content-type"), "application/problem+json");
    }
    let p = api
        .put("/v1/prices/my-model", json!({"input": -1.0, "output": 6.0}))
        .bearer(&admin)
        .send()
        .await
        .problem(422);
    assert_eq!(p["code"], "invalid_price");
    assert!(p["detail"].as_str().unwrap().contains("non-negative"), "{p}");
    api.put("/v1/prices/%20%20", body.clone())
        .bearer(&admin)
        .send()
        .await
        .problem(422);
    api.put("/v1/prices/a%0Ab", body)
        .bearer(&admin)
        .send()
        .await
        .problem(422);
    // A number too large for a double is refused by the JSON reader.
    let r = api
        .call(axum::http::Method::PUT, "/v1/prices/my-model")
        .bearer(&admin)
        .raw(Some("application/json"), "{\"input\": 1e999, \"output\": 1}")
        .send()
        .await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    assert_eq!(api.get("/v1/prices").bearer(&read).send().await.text, before);
}

#[tokio::test]
async fn the_openapi_document_describes_the_price_routes() {
    let doc = serde_json::to_value(prompt_manager_server::openapi()).unwrap();
    let paths = &doc["paths"];
    assert!(paths["/v1/prices"]["get"].is_object());
    assert!(paths["/v1/prices/{model}"]["get"].is_object());
    let put = &paths["/v1/prices/{model}"]["put"];
    assert!(put["requestBody"].is_object());
    assert!(put["responses"]["422"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["PriceBody"]["properties"]["input"]["minimum"],
        0.0
    );
}
