//! The edit page (`/ui/edit/{id}`): the form, card actions, preview (diff, suggested bump, lint),
//! save with compare-and-set on the base version, and every refusal storing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Client, client, client_with, seeded};
use prompt_manager::{Bump, PromptManager, Template};

/// The seeded text prompt's form as a browser sends it, with `template` and `extra` fields.
fn text_form<'a>(template: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("base", "2.0.0"),
        ("format", "text"),
        ("template", template),
        ("description", "Sorts support tickets"),
        ("tags", "support"),
        ("input_schema", ""),
        ("model_config", ""),
        ("bump", "suggested"),
    ];
    fields.extend_from_slice(extra);
    fields
}

async fn versions(pm: &PromptManager, id: &str) -> usize {
    pm.history(id).await.unwrap().len()
}

async fn opened(pm: &PromptManager) -> Client {
    let mut ui = client(pm.clone());
    let page = ui.get("/ui/edit/support/triage").await;
    assert_eq!(page.status, StatusCode::OK);
    ui
}

#[tokio::test]
async fn the_form_holds_the_latest_version_and_chat_prompts_get_cards() {
    let pm = seeded().await;
    let mut ui = client(pm.clone());
    let page = ui.get("/ui/edit/support/triage").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("name=\"base\" value=\"2.0.0\"")
        .has("Classify this ticket: {{ ticket }} for {{ team }}")
        .has("value=\"Sorts support tickets\"")
        .has("Save new version");
    let chat = ui.get("/ui/edit/chat/helper").await;
    chat.has("name=\"m0.role\"")
        .has("<option value=\"system\" selected>")
        .has("name=\"m1.content\"")
        .has("value=\"move_up:1\"")
        .has("Add placeholder");
    let missing = ui.get("/ui/edit/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let post = ui
        .post("/ui/edit/nope", &text_form("x", &[("action", "preview")]))
        .await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn card_actions_rearrange_the_form_and_save_nothing() {
    let pm = seeded().await;
    let mut ui = client(pm.clone());
    ui.get("/ui/edit/chat/helper").await;
    let base = [
        ("base", "1.0.0"),
        ("format", "chat"),
        ("m0.kind", "message"),
        ("m0.role", "system"),
        ("m0.content", "You are {{ persona }}."),
        ("m1.kind", "message"),
        ("m1.role", "user"),
        ("m1.content", "{{ question }}"),
    ];
    let with = |action: &'static str| {
        let mut f = base.to_vec();
        f.push(("action", action));
        f
    };
    let added = ui.post("/ui/edit/chat/helper", &with("add_placeholder")).await;
    assert_eq!(added.status, StatusCode::OK);
    added.has("name=\"m2.variable\" type=\"text\" value=\"history\"");
    let moved = ui.post("/ui/edit/chat/helper", &with("move_up:1")).await;
    let user = moved.body.find("{{ question }}").unwrap();
    let system = moved.body.find("You are {{ persona }}.").unwrap();
    assert!(user < system, "the user message moved first");
    let removed = ui.post("/ui/edit/chat/helper", &with("remove:0")).await;
    removed.lacks("You are {{ persona }}.").has("{{ question }}");
    let text = ui.post("/ui/edit/chat/helper", &with("to_text")).await;
    text.has("name=\"template\"")
        .has("You are {{ persona }}.\n\n{{ question }}");
    assert_eq!(versions(&pm, "chat/helper").await, 1, "card actions save nothing");
}

#[tokio::test]
async fn preview_shows_the_diff_the_suggested_bump_and_a_changelog_draft() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let page = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                "Classify this support ticket: {{ ticket }} for {{ team }}",
                &[("action", "preview")],
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("Suggested bump")
        .has("bump-minor")
        .has("class=\"dl insert\"")
        .has("Classify this support ticket")
        .has("class=\"dl delete\"")
        .has("no problems")
        .has("2.0.0 → 2.1.0")
        .has("name=\"changelog\" type=\"text\" value=\"Changed wording");
    let major = ui
        .post(
            "/ui/edit/support/triage",
            &text_form("{{ ticket }} {{ tone }}", &[("action", "preview")]),
        )
        .await;
    major.has("bump-major").has("<code>tone</code>");
    assert_eq!(versions(&pm, "support/triage").await, 3, "a preview saves nothing");
}

#[tokio::test]
async fn a_syntax_error_is_shown_at_its_line_and_refused_on_save() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let broken = "Line one\nClassify {{ ticket }";
    let preview = ui
        .post("/ui/edit/support/triage", &text_form(broken, &[("action", "preview")]))
        .await;
    assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY);
    preview
        .has("template syntax error")
        .has("line 2, column")
        .has("<span class=\"line error\" aria-invalid=\"true\">");
    let save = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(broken, &[("action", "save"), ("changelog", "broken")]),
        )
        .await;
    assert_eq!(save.status, StatusCode::UNPROCESSABLE_ENTITY);
    save.has("does not parse").has("Classify {{ ticket }");
    assert_eq!(versions(&pm, "support/triage").await, 3);
}

#[tokio::test]
async fn an_undefined_variable_is_a_lint_problem_saved_only_when_acknowledged() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let schema = "- name: ticket\n  type: string\n";
    let template = "Classify: {{ ticket }}\nfor {{ team }}";
    let preview = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(template, &[("input_schema", schema), ("action", "preview")]),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    preview.has("undefined_variable").has("line 2, column 8").has("`team`");
    let refused = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                template,
                &[("input_schema", schema), ("changelog", "schema"), ("action", "save")],
            ),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.has("lint found 1 problem");
    assert_eq!(versions(&pm, "support/triage").await, 3);
    let saved = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                template,
                &[
                    ("input_schema", schema),
                    ("changelog", "schema"),
                    ("ignore_lint", "1"),
                    ("action", "save"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(versions(&pm, "support/triage").await, 4);
}

#[tokio::test]
async fn a_bad_schema_or_config_names_its_line_and_stores_nothing() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let page = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                "{{ ticket }}",
                &[
                    ("model_config", "model: gpt-4o\ntemprature: 0.3\n"),
                    ("action", "save"),
                    ("changelog", "x"),
                ],
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.has("the model config is wrong at line 2")
        .has("aria-invalid=\"true\"");
    let json = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                "{{ ticket }}",
                &[("input_schema", "[{\"name\": 3"), ("action", "preview")],
            ),
        )
        .await;
    assert_eq!(json.status, StatusCode::UNPROCESSABLE_ENTITY);
    json.has("the input schema is wrong");
    assert_eq!(versions(&pm, "support/triage").await, 3);
}

#[tokio::test]
async fn save_redirects_to_the_new_version_with_a_confirmation() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let saved = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                "Classify this ticket, please: {{ ticket }} for {{ team }}",
                &[
                    ("model_config", "{\"model\": \"gpt-4o\", \"temperature\": 0.2}"),
                    ("tags", "support, triage"),
                    ("changelog", "Politer"),
                    ("action", "save"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        saved.location.as_deref(),
        Some("/ui/p/support/triage?v=2.1.0&saved=2.1.0")
    );
    let v = pm.get("support/triage@2.1.0").await.unwrap();
    assert_eq!(v.changelog, "Politer");
    assert_eq!(v.prompt.model_config.temperature, Some(0.2));
    assert!(v.prompt.metadata.tags.contains("triage"));
    let page = ui.get(saved.location.as_deref().unwrap()).await;
    page.has("Saved version 2.1.0");
    // A chosen bump overrides the suggestion.
    let patch = ui
        .post(
            "/ui/edit/support/triage",
            &[
                ("base", "2.1.0"),
                ("format", "text"),
                ("template", "Classify this ticket: {{ ticket }} for {{ team }}"),
                ("changelog", "Back"),
                ("bump", "patch"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(
        patch.location.as_deref(),
        Some("/ui/p/support/triage?v=2.1.1&saved=2.1.1")
    );
}

#[tokio::test]
async fn identical_content_says_so_and_stores_nothing() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let page = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                "Classify this ticket: {{ ticket }} for {{ team }}",
                &[("changelog", "same"), ("action", "save")],
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("No change: identical to 2.0.0");
    assert_eq!(versions(&pm, "support/triage").await, 3);
    let empty = ui
        .post(
            "/ui/edit/support/triage",
            &text_form("{{ ticket }}", &[("action", "save")]),
        )
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty changelog is refused"
    );
    empty.has("write a changelog");
}

#[tokio::test]
async fn a_version_saved_meanwhile_is_a_conflict_that_keeps_the_edits() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let mut other = pm.get("support/triage@2.0.0").await.unwrap().prompt.clone();
    other.template = Template::Text("Someone else: {{ ticket }} for {{ team }}".into());
    pm.update(other, Bump::Minor, "meanwhile").await.unwrap();
    let mine = "My own edit: {{ ticket }} for {{ team }}";
    let page = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(mine, &[("changelog", "mine"), ("action", "save")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    page.has("Conflict: version 2.1.0")
        .has("after you started editing 2.0.0")
        .has(mine)
        .has("value=\"rebase\"");
    assert_eq!(versions(&pm, "support/triage").await, 4, "nothing of mine was saved");
    let rebased = ui
        .post("/ui/edit/support/triage", &text_form(mine, &[("action", "rebase")]))
        .await;
    assert_eq!(rebased.status, StatusCode::OK);
    rebased.has("name=\"base\" value=\"2.1.0\"").has("Someone else");
}

#[tokio::test]
async fn a_save_the_store_refuses_keeps_the_edits() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let mine = "{{ ticket }} {% include \"missing/part\" %}";
    let page = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(mine, &[("changelog", "include"), ("action", "save")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.has("missing/part")
        .has("Nothing was saved.")
        .has("{% include &quot;missing/part&quot; %}");
    assert_eq!(versions(&pm, "support/triage").await, 3);
}

#[tokio::test]
async fn an_oversized_form_is_refused_before_anything_is_stored() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let huge = "x".repeat(1024 * 1024 + 10);
    let page = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(&huge, &[("changelog", "huge"), ("action", "save")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    page.has("larger than the server");
    assert_eq!(versions(&pm, "support/triage").await, 3);
}

#[tokio::test]
async fn a_read_only_key_is_refused_and_a_write_key_is_the_author() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    use prompt_manager_server::keys::{Scope, create};
    let reader = create(&keys, "reader", Scope::Read).unwrap();
    let writer = create(&keys, "ada", Scope::Write).unwrap();
    let options = prompt_manager_server::AppOptions {
        keys_file: Some(keys.clone()),
        keys_check_interval: std::time::Duration::ZERO,
        ..Default::default()
    };
    let pm = seeded().await;
    let mut ui = client_with(pm.clone(), options.clone());
    ui.get("/ui/login").await;
    ui.post("/ui/login", &[("key", &reader.token), ("next", "/ui/")]).await;
    let page = ui.get("/ui/edit/support/triage").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    page.has("write scope");
    ui.get("/ui/p/support/triage").await.lacks("Edit → new version");
    let post = ui
        .post(
            "/ui/edit/support/triage",
            &text_form("{{ ticket }}", &[("changelog", "no"), ("action", "save")]),
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert_eq!(versions(&pm, "support/triage").await, 3);

    let mut ui = client_with(pm.clone(), options);
    ui.get("/ui/login").await;
    ui.post("/ui/login", &[("key", &writer.token), ("next", "/ui/")]).await;
    ui.get("/ui/edit/support/triage").await;
    let saved = ui
        .post(
            "/ui/edit/support/triage",
            &text_form(
                "{{ ticket }} and {{ team }}",
                &[("changelog", "by ada"), ("action", "save")],
            ),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let latest = pm.get("support/triage@latest").await.unwrap();
    assert_eq!(latest.author.as_deref(), Some("ada"));
}
