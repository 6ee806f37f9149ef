//! The new-prompt page (`/ui/new`): from scratch (text or chat, through the card actions) or by
//! pasting a prompt file; bad ids, taken ids, parse and syntax errors refused inline with nothing
//! stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Client, client, client_with, seeded};
use prompt_manager::{ChatItem, ListQuery, PromptManager, Template};

async fn count(pm: &PromptManager) -> usize {
    pm.list(&ListQuery::default()).await.unwrap().items.len()
}

async fn opened(pm: &PromptManager) -> Client {
    let mut ui = client(pm.clone());
    let page = ui.get("/ui/new").await;
    assert_eq!(page.status, StatusCode::OK);
    page.has("name=\"id\"").has("Create prompt");
    ui
}

#[tokio::test]
async fn a_text_prompt_is_created_from_scratch_and_the_page_confirms_it() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let check = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "sales/pitch"),
                ("format", "text"),
                ("template", "Sell {{ product }}"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(check.status, StatusCode::OK);
    check.has("Ready: saving creates version 1.0.0").has("no problems");
    assert_eq!(count(&pm).await, 2, "a check stores nothing");
    let saved = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "sales/pitch"),
                ("format", "text"),
                ("template", "Sell {{ product }}"),
                ("description", "A pitch"),
                ("tags", "sales, short"),
                ("input_schema", "- name: product\n"),
                ("model_config", "temperature: 0.9"),
                ("changelog", "First pitch"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location.as_deref(), Some("/ui/p/sales/pitch?v=1.0.0&saved=1.0.0"));
    let v = pm.get("sales/pitch@1.0.0").await.unwrap();
    assert_eq!(v.changelog, "First pitch");
    assert_eq!(v.prompt.metadata.tags.len(), 2);
    assert_eq!(v.prompt.input_schema.variables[0].name, "product");
    assert_eq!(v.prompt.model_config.temperature, Some(0.9));
    ui.get(saved.location.as_deref().unwrap())
        .await
        .has("Saved version 1.0.0");
}

#[tokio::test]
async fn a_chat_prompt_is_built_with_the_card_buttons() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let chat = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "chat/new"),
                ("format", "text"),
                ("template", "Be brief."),
                ("action", "to_chat"),
            ],
        )
        .await;
    assert_eq!(chat.status, StatusCode::OK);
    chat.has("name=\"m0.content\"").has("Be brief.");
    let added = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "chat/new"),
                ("format", "chat"),
                ("m0.kind", "message"),
                ("m0.role", "user"),
                ("m0.content", "Be brief."),
                ("action", "add_placeholder"),
            ],
        )
        .await;
    added.has("name=\"m1.variable\"");
    let saved = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "chat/new"),
                ("format", "chat"),
                ("m0.kind", "message"),
                ("m0.role", "system"),
                ("m0.content", "Be brief."),
                ("m1.kind", "placeholder"),
                ("m1.variable", "history"),
                ("m1.optional", "1"),
                ("m2.kind", "message"),
                ("m2.role", "user"),
                ("m2.name", "ada"),
                ("m2.content", "{{ question }}"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let v = pm.get("chat/new@latest").await.unwrap();
    let Template::Chat(items) = &v.prompt.template else {
        panic!("a chat template")
    };
    assert_eq!(items.len(), 3);
    assert!(matches!(&items[1], ChatItem::Placeholder(p) if p.variable == "history" && p.optional));
    assert!(matches!(&items[2], ChatItem::Message(m) if m.name.as_deref() == Some("ada")));
}

#[tokio::test]
async fn bad_and_taken_ids_and_syntax_errors_are_refused_inline() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let bad = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "Bad Id!"),
                ("format", "text"),
                ("template", "x"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.has("is not a valid id").has("value=\"Bad Id!\"");
    let taken = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "support/triage"),
                ("format", "text"),
                ("template", "x"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    taken.has("already exists");
    let broken = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "x/broken"),
                ("format", "text"),
                ("template", "ok\n{% if x %}"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    broken.has("template syntax error").has("line error");
    let empty_chat = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "x/chat"),
                ("format", "chat"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(empty_chat.status, StatusCode::UNPROCESSABLE_ENTITY);
    empty_chat.has("needs at least one message");
    assert_eq!(count(&pm).await, 2, "nothing was stored");
}

#[tokio::test]
async fn a_pasted_yaml_or_json_file_creates_the_prompt() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    ui.get("/ui/new?mode=file").await.has("name=\"file\"");
    let yaml = "id: pasted/yaml\nmetadata:\n  description: From YAML\ntemplate: |\n  Hello {{ name }}\ninput_schema:\n  - name: name\n";
    let saved = ui
        .post("/ui/new", &[("mode", "file"), ("file", yaml), ("action", "save")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        pm.get("pasted/yaml@1.0.0")
            .await
            .unwrap()
            .prompt
            .metadata
            .description
            .as_deref(),
        Some("From YAML")
    );
    let json = r#"{"id": "pasted/json", "template": [{"role": "user", "content": "{{ q }}"}]}"#;
    let saved = ui
        .post("/ui/new", &[("mode", "file"), ("file", json), ("action", "save")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert!(pm.get("pasted/json@latest").await.unwrap().prompt.format.is_chat());
    let loaded = ui
        .post(
            "/ui/new",
            &[
                ("mode", "file"),
                ("file", &yaml.replace("pasted/yaml", "pasted/load")),
                ("action", "load"),
            ],
        )
        .await;
    assert_eq!(loaded.status, StatusCode::OK);
    loaded
        .has("value=\"pasted/load\"")
        .has("name=\"template\"")
        .has("Hello {{ name }}");
}

#[tokio::test]
async fn a_pasted_file_that_does_not_parse_names_its_line_and_stores_nothing() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let bad = "id: pasted/bad\ntemplate: Hello\ntemplate_typo: [\n";
    let page = ui
        .post("/ui/new", &[("mode", "file"), ("file", bad), ("action", "save")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.has("Line ").has("class=\"line error\"");
    let unknown = ui
        .post(
            "/ui/new",
            &[
                ("mode", "file"),
                ("file", "id: pasted/bad\ntemplate: x\ncolour: red\n"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    unknown.has("Line 3").has("colour");
    let empty = ui
        .post("/ui/new", &[("mode", "file"), ("file", " "), ("action", "save")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    empty.has("paste a prompt file");
    assert_eq!(count(&pm).await, 2);
}

#[tokio::test]
async fn a_pasted_file_is_linted_as_the_cli_lints_it_with_positions_in_the_file() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let broken = "id: pasted/broken\ntemplate: |\n  Hello\n  {{ name }\n";
    let page = ui
        .post("/ui/new", &[("mode", "file"), ("file", broken), ("action", "save")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.has("template_syntax")
        .has("line 4, column")
        .has("class=\"line error\"");
    let undeclared = "id: pasted/vars\ntemplate: Hi {{ name }} {{ other }}\ninput_schema:\n  - name: name\n";
    let refused = ui
        .post("/ui/new", &[("mode", "file"), ("file", undeclared), ("action", "save")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused
        .has("undefined_variable")
        .has("line 2, column 28")
        .has("lint found 1 problem");
    assert_eq!(count(&pm).await, 2);
    let forced = ui
        .post(
            "/ui/new",
            &[
                ("mode", "file"),
                ("file", undeclared),
                ("ignore_lint", "1"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(forced.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_oversized_form_creates_nothing() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    let huge = format!("id: big/one\ntemplate: {}\n", "x".repeat(1024 * 1024));
    let page = ui
        .post("/ui/new", &[("mode", "file"), ("file", &huge), ("action", "save")])
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&pm).await, 2);
}

#[tokio::test]
async fn a_read_only_key_cannot_create() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let reader =
        prompt_manager_server::keys::create(&keys, "reader", prompt_manager_server::keys::Scope::Read).unwrap();
    let options = prompt_manager_server::AppOptions {
        keys_file: Some(keys.clone()),
        keys_check_interval: std::time::Duration::ZERO,
        ..Default::default()
    };
    let pm = seeded().await;
    let mut ui = client_with(pm.clone(), options);
    ui.get("/ui/login").await;
    ui.post("/ui/login", &[("key", &reader.token), ("next", "/ui/")]).await;
    ui.get("/ui/").await.lacks("href=\"/ui/new\"");
    assert_eq!(ui.get("/ui/new").await.status, StatusCode::FORBIDDEN);
    let post = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "x/y"),
                ("format", "text"),
                ("template", "x"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert_eq!(count(&pm).await, 2);
}

#[tokio::test]
async fn a_handlebars_prompt_is_checked_with_its_own_engine_and_saved_with_its_syntax() {
    let pm = seeded().await;
    let mut ui = opened(&pm).await;
    ui.get("/ui/new").await.has("name=\"syntax\"").has("handlebars");
    // Handlebars' own checks run on the form: an unknown helper is refused at its line.
    let refused = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "sales/hb"),
                ("format", "text"),
                ("syntax", "handlebars"),
                ("template", "Sell {{product}}\n{{shout product}}"),
                ("action", "save"),
                ("changelog", "First"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.has("unknown helper `shout`");
    assert_eq!(count(&pm).await, 2, "nothing stored");
    let saved = ui
        .post(
            "/ui/new",
            &[
                ("mode", "form"),
                ("id", "sales/hb"),
                ("format", "text"),
                ("syntax", "handlebars"),
                (
                    "template",
                    "Sell {{product}}{{#if discount}} at {{discount}} off{{/if}}",
                ),
                ("changelog", "First"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let v = pm.get("sales/hb").await.unwrap();
    assert_eq!(v.prompt.syntax, prompt_manager::TemplateSyntax::Handlebars);
    let vars = prompt_manager::Variables::new().with("product", "tea");
    assert_eq!(pm.render("sales/hb", &vars).await.unwrap(), "Sell tea");
    // The prompt's page says which syntax it is written in.
    ui.get("/ui/p/sales/hb")
        .await
        .has("<span class=\"kind\" title=\"template syntax\">handlebars</span>");
    // The edit form keeps the syntax.
    ui.get("/ui/edit/sales/hb")
        .await
        .has("<option value=\"handlebars\" selected>handlebars</option>");
}
