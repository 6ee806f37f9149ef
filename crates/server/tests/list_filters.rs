//! The search (`q`) and `label` filters of `GET /v1/prompts`, through `app().oneshot()` on a
//! real SQLite file: what they match, combined with the other filters and with paging, and the
//! errors for bad values.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::api;
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn search_and_label_filter_the_list_and_page_through_it() {
    let api = api().await;
    for (id, description, tags) in [
        ("billing/refund", "Handles REFUND requests", json!(["finance"])),
        ("billing/invoice", "Invoices at 100% accuracy", json!(["finance_team"])),
        ("support/triage", "Sorts tickets", json!(["urgent"])),
        ("support/refund-faq", "Answers questions", json!([])),
    ] {
        let created = api
            .post(
                "/v1/prompts",
                json!({"prompt": {"id": id, "template": "x", "metadata": {"description": description, "tags": tags}}}),
            )
            .send()
            .await;
        assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    }
    api.pm.set_label("billing/refund", "production", "1.0.0").await.unwrap();
    api.pm.set_label("support/triage", "production", "1.0.0").await.unwrap();

    // Id, description (any ASCII case) and tag.
    let refund = api.get("/v1/prompts?q=ReFuNd").send().await.json();
    assert_eq!(ids(&refund), ["billing/refund", "support/refund-faq"]);
    let tagged = api.get("/v1/prompts?q=urgent").send().await.json();
    assert_eq!(ids(&tagged), ["support/triage"]);
    // `%` and `_` are literal, not wildcards (`%25` and `%5F` in the URL).
    let percent = api.get("/v1/prompts?q=100%25").send().await.json();
    assert_eq!(ids(&percent), ["billing/invoice"]);
    let underscore = api.get("/v1/prompts?q=e%5Ft").send().await.json();
    assert_eq!(ids(&underscore), ["billing/invoice"]);
    let none = api.get("/v1/prompts?q=nothing-like-this").send().await.json();
    assert!(ids(&none).is_empty(), "{none}");

    let labelled = api.get("/v1/prompts?label=production").send().await.json();
    assert_eq!(ids(&labelled), ["billing/refund", "support/triage"]);
    let both = api.get("/v1/prompts?label=production&q=refund").send().await.json();
    assert_eq!(ids(&both), ["billing/refund"]);
    let with_prefix = api.get("/v1/prompts?q=refund&prefix=support%2F").send().await.json();
    assert_eq!(ids(&with_prefix), ["support/refund-faq"]);

    // One match a page: the cursor continues after the last match, nothing skipped or repeated.
    let first = api.get("/v1/prompts?q=refund&limit=1").send().await.json();
    assert_eq!(ids(&first), ["billing/refund"]);
    let cursor = first["next_cursor"].as_str().unwrap().replace('/', "%2F");
    let second = api
        .get(&format!("/v1/prompts?q=refund&limit=1&cursor={cursor}"))
        .send()
        .await
        .json();
    assert_eq!(ids(&second), ["support/refund-faq"]);
    assert!(second.get("next_cursor").is_none(), "{second}");
}

#[tokio::test]
async fn bad_search_and_label_values_are_400() {
    let api = api().await;
    let p = api
        .get(&format!("/v1/prompts?q={}", "x".repeat(201)))
        .send()
        .await
        .problem(400);
    assert!(p["detail"].as_str().unwrap().contains("search"), "{p}");
    let p = api.get("/v1/prompts?label=not%20a%20label").send().await.problem(400);
    assert_eq!(p["code"], "invalid_label", "{p}");
    // 200 bytes is within the bound.
    let fine = api
        .get(&format!("/v1/prompts?q={}", "x".repeat(200)))
        .send()
        .await
        .json();
    assert!(ids(&fine).is_empty(), "{fine}");
}
