//! The playground page: the form built from the schema (or the template), renders of text and
//! chat prompts with every framework's payload, problems next to their field, the shareable URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Client, client, seeded};
use prompt_manager::{ChatItem, InputSchema, Prompt, PromptManager, Role, VariableSpec, VariableType};

/// The seeded store plus `play/typed`, a text prompt with a schema of every kind of field, and
/// `play/thread`, a chat prompt with a message placeholder.
async fn store() -> PromptManager {
    let pm = seeded().await;
    let mut typed = Prompt::text(
        "play/typed",
        "Hi {{ name }} x{{ count }}{% if formal %} (formal){% endif %} tags={{ tags|join(',') }} ratio={{ ratio }}",
    )
    .unwrap();
    typed.input_schema = InputSchema {
        variables: vec![
            VariableSpec::new("name", VariableType::String).with_description("Who to greet"),
            VariableSpec::new("count", VariableType::Integer).with_default(3),
            VariableSpec::new("formal", VariableType::Boolean).optional(),
            VariableSpec::new("tags", VariableType::Array).with_default(serde_json::json!([])),
            VariableSpec::new("ratio", VariableType::Number).with_default(0.5),
        ],
    };
    typed.model_config.model = Some("gpt-4o".into());
    typed.model_config.max_tokens = Some(256);
    pm.create(typed).await.unwrap();
    pm.set_label("play/typed", "production", "1.0.0").await.unwrap();
    let thread = Prompt::chat(
        "play/thread",
        vec![
            ChatItem::message(Role::System, "You are {{ persona }}."),
            ChatItem::placeholder("history"),
        ],
    )
    .unwrap();
    let mut thread = thread;
    thread.model_config.model = Some("gpt-4o".into());
    thread.model_config.max_tokens = Some(256);
    pm.create(thread).await.unwrap();
    pm
}

const FRAMEWORKS: &[(&str, &str)] = &[
    ("openai", "OpenAI"),
    ("anthropic", "Anthropic"),
    ("gemini", "Gemini"),
    ("langchain", "LangChain"),
    ("litellm", "LiteLLM"),
];

/// The text of the element `<tag … id="id" …>…</tag>` (its first line of content is enough).
fn element<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in:\n{body}"));
    let rest = &body[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find("</").unwrap();
    &rest[open..open + close]
}

/// The inline problem shown next to variable `name`.
fn field_error<'a>(body: &'a str, name: &str) -> &'a str {
    let marker = format!("data-error-for=\"{name}\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no error slot for {name}"));
    let rest = &body[start + marker.len()..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find("</p>").unwrap();
    &rest[open..open + close]
}

#[tokio::test]
async fn a_text_prompt_renders_as_text_and_as_every_framework_payload() {
    let mut ui = client(store().await);
    let page = ui
        .get("/ui/play/play/typed?ref=production&vars=%7B%22name%22%3A%22Ada%22%2C%22formal%22%3Afalse%7D")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(element(&page.body, "out-text"), "Hi Ada x3 tags= ratio=0.5");
    for (name, title) in FRAMEWORKS {
        page.has(&format!("data-tab=\"panel-{name}\">{title}</a>"));
        assert!(
            element(&page.body, &format!("out-{name}")).contains("Hi Ada x3"),
            "{name}"
        );
    }
    page.has("&quot;model&quot;: &quot;gpt-4o&quot;");
    page.has("<option value=\"play/typed@production\" selected>")
        .has("value=\"play/typed@1.0.0\"");
}

#[tokio::test]
async fn without_a_schema_each_variable_the_template_reads_gets_a_text_field() {
    let mut ui = client(store().await);
    let page = ui
        .get(
            "/ui/play/support/triage?ref=support/triage@production&vars=%7B%22ticket%22%3A%22printer%20on%20fire%22%7D",
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(element(&page.body, "out-text"), "Classify this ticket: printer on fire");
    page.has("name=\"var.ticket\"")
        .has("No input schema")
        .has("name=\"vars_json\"");
    // The selector offers every version and label, the shown one selected.
    page.has("<option value=\"support/triage@production\" selected>")
        .has("value=\"support/triage@staging\"")
        .has("value=\"support/triage@1.0.0\"")
        .has("2.0.0 (latest)");
    // A framework that cannot take the prompt says why in its own section; the others render.
    page.has("OpenAI cannot take this prompt").has("no model");
    assert!(element(&page.body, "out-gemini").contains("printer on fire"));
    // Another version of the prompt reads other variables.
    let latest = ui.get("/ui/play/support/triage").await;
    latest.has("name=\"var.team\"");
}

#[tokio::test]
async fn a_chat_prompt_renders_as_message_cards_and_its_placeholder_takes_messages() {
    let mut ui = client(store().await);
    let page = ui.get("/ui/play/play/thread").await;
    assert_eq!(page.status, StatusCode::OK);
    // The placeholder's field is a JSON editor for a list of messages.
    page.has("name=\"var.history\"").has("messages").has("&quot;role&quot;");
    let page = ui
        .post(
            "/ui/play/play/thread",
            &[
                ("ref", "play/thread"),
                ("var.persona", "a pirate"),
                ("var.history", r#"[{"role":"user","content":"Ahoy?"}]"#),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.has("message role-system")
        .has("You are a pirate.")
        .has("message role-user")
        .has("Ahoy?");
    assert!(element(&page.body, "out-messages").contains("&quot;role&quot;: &quot;system&quot;"));
    for (name, _) in FRAMEWORKS {
        assert!(element(&page.body, &format!("out-{name}")).contains("Ahoy?"), "{name}");
    }
}

#[tokio::test]
async fn the_form_follows_the_input_schema() {
    let mut ui = client(store().await);
    let page = ui.get("/ui/play/play/typed").await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    // A string is a text box, required and described.
    assert!(body.contains("<textarea id=\"var-1\" name=\"var.name\" rows=\"2\" aria-required=\"true\""));
    page.has("Who to greet");
    // An integer is a whole-number input, its default filled in (and so not required).
    page.has("type=\"number\" id=\"var-2\" name=\"var.count\" value=\"3\" step=\"1\"");
    // A boolean is a checkbox (a hidden `false` stands for an unticked box).
    page.has("name=\"var.formal\" value=\"false\"")
        .has("type=\"checkbox\" id=\"var-3\" name=\"var.formal\" value=\"true\"");
    // A list is a JSON editor; a number takes decimals.
    page.has("id=\"var-4\" name=\"var.tags\" class=\"code-input\"")
        .has("name=\"var.ratio\" value=\"0.5\" step=\"any\"");
    let required: Vec<_> = body.match_indices("<span class=\"req\">required</span>").collect();
    assert_eq!(required.len(), 1, "only `name` is required");
    // A first visit without variables shows no errors, only what is required.
    page.lacks("problem\" role=\"alert\"");
}

#[tokio::test]
async fn the_form_renders_typed_values() {
    let mut ui = client(store().await);
    ui.get("/ui/play/play/typed").await;
    let page = ui
        .post(
            "/ui/play/play/typed",
            &[
                ("var.name", "Ada"),
                ("var.count", "7"),
                ("var.formal", "false"),
                ("var.formal", "true"),
                ("var.tags", r#"["a","b"]"#),
                ("var.ratio", "1.25"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        element(&page.body, "out-text"),
        "Hi Ada x7 (formal) tags=a,b ratio=1.25"
    );
}

#[tokio::test]
async fn problems_show_next_to_their_field_and_in_a_summary() {
    let mut ui = client(store().await);
    ui.get("/ui/play/play/typed").await;
    // Missing required, not a whole number, bad JSON: all at once, nothing rendered.
    let page = ui
        .post(
            "/ui/play/play/typed",
            &[
                ("var.name", ""),
                ("var.count", "1.5"),
                ("var.formal", "false"),
                ("var.tags", "[oops"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_error(&page.body, "name").contains("required, but not given"),
        "{}",
        page.body
    );
    assert_eq!(field_error(&page.body, "count"), "`1.5` is not a whole number");
    assert!(field_error(&page.body, "tags").starts_with("not valid JSON"));
    assert_eq!(field_error(&page.body, "ratio"), "");
    page.has("3 problems")
        .has("aria-invalid=\"true\"")
        .lacks("id=\"out-text\"");
    // What was typed stays in the form.
    page.has(">[oops</textarea>").has("value=\"1.5\"");

    // A shared URL with a value of the wrong type: the schema's check, on its field.
    let page = ui.get("/ui/play/play/typed?vars=%7B%22name%22%3A5%7D").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_error(&page.body, "name"), "expected string, got integer");

    // The JSON editor with bad JSON: said next to it, and the form still shows.
    let page = ui
        .post("/ui/play/play/typed", &[("mode", "json"), ("vars_json", "{\"name\": ")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_error(&page.body, "_json").starts_with("not valid JSON"),
        "{}",
        page.body
    );
    page.has("name=\"var.name\"");
    let page = ui
        .post("/ui/play/play/typed", &[("mode", "json"), ("vars_json", "[1]")])
        .await;
    assert!(field_error(&page.body, "_json").contains("JSON object"));

    // A message placeholder given something else than messages.
    ui.get("/ui/play/play/thread").await;
    let page = ui
        .post(
            "/ui/play/play/thread",
            &[("var.persona", "x"), ("var.history", r#"[{"content": 1}]"#)],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!field_error(&page.body, "history").is_empty(), "{}", page.body);
}

#[tokio::test]
async fn a_render_error_is_a_summary_not_a_crashed_page() {
    let pm = store().await;
    pm.create(Prompt::text("play/broken", "{{ n + \"a\" }}").unwrap())
        .await
        .unwrap();
    let mut ui = client(pm);
    let page = ui.get("/ui/play/play/broken?vars=%7B%22n%22%3A1%7D").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.has("problem\" role=\"alert\"")
        .has("rendering play/broken@1.0.0 failed")
        .has("name=\"var.n\"");
}

#[tokio::test]
async fn the_shared_url_restores_the_reference_and_the_values() {
    let mut ui = client(store().await);
    ui.get("/ui/play/play/typed").await;
    let page = ui
        .post(
            "/ui/play/play/typed",
            &[
                ("ref", "play/typed@1.0.0"),
                ("var.name", "Bo"),
                ("var.formal", "false"),
                ("var.count", "2"),
            ],
        )
        .await;
    let share = element(&page.body, "share-url").replace("&amp;", "&");
    assert!(
        share.starts_with("/ui/play/play/typed?ref=play%2Ftyped%401.0.0&vars="),
        "{share}"
    );
    let restored = ui.get(&share).await;
    assert_eq!(restored.status, StatusCode::OK);
    restored
        .has("name=\"var.name\" rows=\"2\" aria-required=\"true\" aria-describedby=\"var-1-err\">Bo</textarea>")
        .has("name=\"var.count\" value=\"2\"")
        .has("<option value=\"play/typed@1.0.0\" selected>");
    assert_eq!(element(&restored.body, "out-text"), "Hi Bo x2 tags= ratio=0.5");
}

#[tokio::test]
async fn a_script_gets_the_result_fragment() {
    let mut ui = client(store().await);
    ui.get("/ui/play/play/typed").await;
    let csrf = ui.csrf.clone().unwrap();
    let body = serde_urlencoded::to_string([("var.name", "Cy"), ("var.count", "x"), ("var.formal", "false")]).unwrap();
    let mut request = Request::post("/ui/play/play/typed")
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-csrf-token", &csrf)
        .header("x-requested-with", "fetch");
    if let Some(cookie) = &ui.cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let page = ui.send(request.body(Body::from(body)).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .trim_start()
            .starts_with("<section class=\"card result\" id=\"result\""),
        "{}",
        page.body
    );
    page.lacks("<html")
        .has("data-errors=\"{&quot;count&quot;:&quot;`x` is not a whole number&quot;}\"");
    // Without the CSRF header the render is refused, as every POST is.
    let mut forged = Client { csrf: None, ..ui };
    let refused = forged.post_raw("/ui/play/play/typed", &[("var.name", "Cy")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_prompts_and_references_get_a_clear_error_page() {
    let mut ui = client(store().await);
    let page = ui.get("/ui/play/nope").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.has("prompt `nope` not found");
    let page = ui.get("/ui/play/support/triage?ref=9.9.9").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.has("has no version 9.9.9");
    let page = ui.get("/ui/play/support/triage?ref=support/triage@nolabel").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.has("has no label");
    let page = ui.get("/ui/play/support/triage?ref=chat/helper@1.0.0").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    page.has("names another prompt");
    let page = ui.get("/ui/play/support/triage?ref=support/triage@1.2").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_read_only_key_may_render() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let reader =
        prompt_manager_server::keys::create(&keys, "reader", prompt_manager_server::keys::Scope::Read).unwrap();
    let options = prompt_manager_server::AppOptions {
        keys_file: Some(keys),
        keys_check_interval: std::time::Duration::ZERO,
        ..Default::default()
    };
    let mut ui = common::client_with(store().await, options);
    ui.get("/ui/login").await;
    ui.post("/ui/login", &[("key", reader.token.as_str()), ("next", "/ui/")])
        .await;
    ui.get("/ui/play/play/typed").await;
    let page = ui
        .post("/ui/play/play/typed", &[("var.name", "Di"), ("var.formal", "false")])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(element(&page.body, "out-text"), "Hi Di x3 tags= ratio=0.5");
}

#[tokio::test]
async fn a_first_visit_hides_missing_variables_but_not_other_refusals() {
    let pm = store().await;
    pm.archive("play/thread").await.unwrap();
    let mut ui = client(pm);
    let page = ui.get("/ui/play/play/typed").await;
    page.lacks("problem\" role=\"alert\"").has("Fill in the variables");
    assert_eq!(field_error(&page.body, "name"), "");
    let archived = ui.get("/ui/play/play/thread").await;
    archived
        .has("problem\" role=\"alert\"")
        .has("is archived and cannot be rendered");
}
