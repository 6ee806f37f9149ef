//! The diff page: defaults, side-by-side lines, chat messages, model config and schema changes,
//! the suggested bump, and clear errors for unknown versions and prompts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{client, seeded};
use prompt_manager::{Bump, ChatItem, Role, VariableSpec, VariableType};

#[tokio::test]
async fn by_default_the_latest_version_is_compared_with_its_parent() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/diff/support/triage").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("<option value=\"1.1.0\" selected>")
        .has("<option value=\"2.0.0\" selected>")
        .has("<del><span class=\"sr\">removed: </span>Classify this ticket: {{ ticket }}</del>")
        .has("<ins><span class=\"sr\">added: </span>Classify this ticket: {{ ticket }} for {{ team }}</ins>")
        .has("Suggested bump: <span class=\"badge bump-major\">major</span>")
        .has("added variable `team`")
        .has("<span class=\"badge add\">+ team</span>");
}

#[tokio::test]
async fn any_two_versions_or_labels_can_be_compared() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/diff/support/triage?from=1.0.0&to=1.1.0").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("bump-minor\">minor</span>").lacks("bump-major");
    let labels = ui.get("/ui/diff/support/triage?from=production&to=staging").await;
    assert_eq!(labels.status, StatusCode::OK);
    labels
        .has("<option value=\"1.1.0\" selected>")
        .has("<option value=\"2.0.0\" selected>");
    let same = ui.get("/ui/diff/support/triage?from=2.0.0&to=2.0.0").await;
    same.has("the same content");
    let backwards = ui.get("/ui/diff/support/triage?from=2.0.0&to=1.0.0").await;
    backwards.has("reads backwards");
}

#[tokio::test]
async fn the_first_version_has_nothing_to_compare_with() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/diff/chat/helper").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("is the first version");
}

#[tokio::test]
async fn chat_messages_model_config_and_schema_changes_are_listed() {
    let pm = seeded().await;
    let mut p = pm.get("chat/helper").await.unwrap().prompt.clone();
    p.template = prompt_manager::Template::Chat(vec![
        ChatItem::message(Role::System, "You are {{ persona }}. Be brief."),
        ChatItem::message(Role::User, "{{ question }}"),
        ChatItem::message(Role::Assistant, "Sure."),
    ]);
    p.model_config.temperature = Some(0.7);
    p.input_schema.variables = vec![
        VariableSpec::new("persona", VariableType::String),
        VariableSpec::new("question", VariableType::String),
    ];
    pm.update(p, Bump::Minor, "brief").await.unwrap();
    let mut ui = client(pm);
    let page = ui.get("/ui/diff/chat/helper").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("message 1 (system)")
        .has("<ins><span class=\"sr\">added: </span>You are {{ persona }}. Be brief.</ins>")
        .has("<span class=\"badge add\">added</span> at position 3")
        .has("<code>temperature</code>")
        .has("<code>0.7</code>")
        .has("Input schema")
        .has("<code>persona</code>");
}

#[tokio::test]
async fn unknown_versions_and_prompts_get_a_clear_error_page() {
    let mut ui = client(seeded().await);
    let page = ui.get("/ui/diff/support/triage?from=9.9.9").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.has("No such version").has("`9.9.9`").has("old (from)");
    let to = ui.get("/ui/diff/support/triage?to=nolabel").await;
    assert_eq!(to.status, StatusCode::NOT_FOUND);
    to.has("No such version");
    let prompt = ui.get("/ui/diff/nope").await;
    assert_eq!(prompt.status, StatusCode::NOT_FOUND);
    let garbage = ui.get("/ui/diff/support/triage?from=%7B%7B").await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
    garbage.has("No such version");
}
