//! The browse and prompt pages, sign-in and CSRF, through the router without a socket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{client, client_with, seeded};

#[tokio::test]
async fn the_root_redirects_to_the_ui_and_browse_lists_every_prompt() {
    let mut ui = client(seeded().await);
    let root = ui.get("/").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.location.as_deref(), Some("/ui/"));
    let page = ui.get("/ui/").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("support/triage")
        .has("chat/helper")
        .has("2.0.0")
        .has("production")
        .has("Sorts support tickets");
}

#[tokio::test]
async fn browse_searches_and_filters_in_the_store() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/?q=TICKETS").await;
    page.has("support/triage").lacks("chat/helper");
    let page = ui.get("/ui/?label=production").await;
    page.has("support/triage").lacks("chat/helper");
    let page = ui.get("/ui/?tag=support&status=deprecated").await;
    page.has("No prompt matches");
    let bad = ui.get("/ui/?status=sleepy").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.has("status `sleepy` is not one of");
    let bad = ui.get("/ui/?label=Not%20A%20Label").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn browse_pages_through_many_prompts_without_repeats() {
    let pm = prompt_manager::in_memory();
    for i in 0..120 {
        pm.create(prompt_manager::Prompt::text(format!("bulk/p{i:03}"), "x").unwrap())
            .await
            .unwrap();
    }
    let mut ui = client(pm);
    let mut seen = std::collections::BTreeSet::new();
    let mut url = "/ui/".to_owned();
    for _ in 0..5 {
        let page = ui.get(&url).await;
        assert_eq!(page.status, StatusCode::OK);
        for part in page.body.split("class=\"id\" href=\"/ui/p/").skip(1) {
            let id = part.split('"').next().unwrap().to_owned();
            assert!(seen.insert(id.clone()), "{id} shown twice");
        }
        match page.body.split("rel=\"next\" href=\"").nth(1) {
            Some(rest) => url = rest.split('"').next().unwrap().replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
}

#[tokio::test]
async fn the_prompt_page_shows_the_template_history_and_labels() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/p/support/triage").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("Version 2.0.0")
        .has("<span class=\"j-name\">team</span>")
        .has("route to a team")
        .has("clearer wording")
        .has("Label history");
    // The timeline is newest first.
    let timeline = &page.body[page.body.find("id=\"history\"").unwrap()..];
    let newest = timeline.find("route to a team").unwrap();
    let oldest = timeline.find("clearer wording").unwrap();
    assert!(newest < oldest, "the timeline lists 2.0.0 before 1.1.0");
    let old = ui.get("/ui/p/support/triage?v=1.0.0").await;
    old.has("Version 1.0.0").has("show latest");
    let chat = ui.get("/ui/p/chat/helper").await;
    chat.has("message role-system").has("message role-user");
}

#[tokio::test]
async fn unknown_prompts_and_bad_ids_get_an_error_page() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/p/nope").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.has("nope");
    let bad = ui.get("/ui/p/Bad..Id").await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    bad.has("is not a prompt id");
    let version = ui.get("/ui/p/support/triage?v=9.9.9").await;
    assert_eq!(version.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let mut ui = client(seeded().await);
    ui.get("/ui/").await;
    let page = ui.post_raw("/ui/logout", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    page.has("security token");
    let forged = ui.post_raw("/ui/logout", &[("_csrf", "0000")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_keys_a_visitor_signs_in_once_and_a_revoked_key_signs_out() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let reader =
        prompt_manager_server::keys::create(&keys, "reader", prompt_manager_server::keys::Scope::Read).unwrap();
    let options = prompt_manager_server::AppOptions {
        keys_file: Some(keys.clone()),
        keys_check_interval: std::time::Duration::ZERO,
        ..Default::default()
    };
    let mut ui = client_with(seeded().await, options);
    let page = ui.get("/ui/p/support/triage").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location.as_deref(),
        Some("/ui/login?next=%2Fui%2Fp%2Fsupport%2Ftriage")
    );
    ui.get("/ui/login").await.has("API key");
    let wrong = ui.post("/ui/login", &[("key", "pm_nope_nope"), ("next", "/ui/")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    wrong.has("not valid");
    let before = ui.cookie.clone();
    let signed = ui
        .post("/ui/login", &[("key", &reader.token), ("next", "/ui/p/support/triage")])
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_ne!(ui.cookie, before, "signing in starts a new session");
    let page = ui.get("/ui/p/support/triage").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("reader").lacks("Edit → new version");
    prompt_manager_server::keys::revoke(&keys, "reader").unwrap();
    let after = ui.get("/ui/").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "a revoked key ends the session");
}

#[tokio::test]
async fn assets_are_served_with_long_caching_when_the_hash_matches() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/").await;
    let start = page.body.find("/ui/assets/app.css?v=").unwrap();
    let url = page.body[start..].split('"').next().unwrap().to_owned();
    let css = ui.get(&url).await;
    assert_eq!(css.status, StatusCode::OK);
    css.has("prefers-color-scheme: dark");
    let missing = ui.get("/ui/assets/nope.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_keys_pages_answer_only_loopback_names() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let mut ui = client(seeded().await);
    let request = Request::get("/ui/")
        .header(header::HOST, "evil.example")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let page = ui.send(request).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    page.has("only answers requests addressed to localhost");
    let request = Request::post("/ui/logout")
        .header(header::HOST, "127.0.0.1")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(ui.send(request).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_oversized_form_is_refused_with_a_page_and_unknown_pages_are_html_404s() {
    let mut ui = client(seeded().await);
    ui.get("/ui/").await;
    let big = "x".repeat(2 * 1024 * 1024);
    let page = ui.post("/ui/logout", &[("filler", &big)]).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.body.contains("<html"), "{}", page.body);
    let missing = ui.get("/ui/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.body.contains("<html"),
        "a browser gets a page: {}",
        missing.body
    );
}
