//! The audit and dependents page: entries of one prompt for admins (a note for others), the
//! prompts that include it, and error pages for unknown prompts and bad pages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{client, client_with, seeded};
use prompt_manager::Prompt;
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};

#[tokio::test]
async fn admins_see_the_prompts_audit_entries_and_everyone_its_dependents() {
    let pm = seeded().await;
    pm.create(Prompt::text("app/main", "{% include \"support/triage@production\" %}").unwrap())
        .await
        .unwrap();
    // An include whose label was removed afterwards no longer resolves.
    pm.set_label("support/triage", "canary", "1.0.0").await.unwrap();
    pm.create(Prompt::text("app/other", "{% include \"support/triage@canary\" %}").unwrap())
        .await
        .unwrap();
    pm.remove_label("support/triage", "canary").await.unwrap();
    let mut ui = client(pm);
    let page = ui.get("/ui/audit/support/triage").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("Audit log")
        .has("version created")
        .has("label set")
        .has("<span class=\"chip\">production</span>")
        .has("version <code>1.1.0</code>")
        .lacks("chat/helper")
        .has("<a href=\"/ui/p/app/main?v=1.0.0\">app/main@1.0.0</a>")
        .has("<code>support/triage@production</code>")
        .has("<a href=\"/ui/p/support/triage?v=1.1.0\">1.1.0</a>")
        .has("does not resolve");
}

#[tokio::test]
async fn a_read_key_sees_a_note_instead_of_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.json");
    let key = keys::create(&file, "reader", Scope::Read).unwrap();
    let options = AppOptions {
        keys_file: Some(file),
        ..Default::default()
    };
    let mut ui = client_with(seeded().await, options);
    ui.get("/ui/login").await;
    ui.post("/ui/login", &[("key", &key.token), ("next", "/ui/")]).await;
    let page = ui.get("/ui/audit/support/triage").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("The audit log is for admins")
        .lacks("version created")
        .has("No stored prompt includes");
}

#[tokio::test]
async fn pages_of_entries_and_bad_requests() {
    let pm = seeded().await;
    for i in 0..110 {
        let version = if i % 2 == 0 { "1.0.0" } else { "2.0.0" };
        pm.set_label("support/triage", "canary", version).await.unwrap();
    }
    let mut ui = client(pm);
    let first = ui.get("/ui/audit/support/triage").await;
    first.has("Next page").has("?after=");
    let start = first.body.find("?after=").unwrap() + 7;
    let after: String = first.body[start..].chars().take_while(char::is_ascii_digit).collect();
    let second = ui.get(&format!("/ui/audit/support/triage?after={after}")).await;
    assert_eq!(second.status, StatusCode::OK);
    second.has("First page").lacks("Next page");
    let bad = ui.get("/ui/audit/support/triage?after=minus").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.has("entry number");
    let unknown = ui.get("/ui/audit/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
