//! Handlebars prompts (`syntax: handlebars`) through the manager, on a real SQLite file: saved,
//! reopened and rendered; partials as includes at a label; every missing variable named;
//! refusals at save (syntax, unknown helpers, includes across syntaxes); the diff and bump of a
//! syntax change; and Jinja prompts' content hashes untouched by the new field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager::{Bump, ChatItem, Error, Prompt, Role, TemplateSyntax, Variables, VersioningExt};
use serde_json::json;

fn vars(value: serde_json::Value) -> Variables {
    Variables::from_serialize(&value).unwrap()
}

fn hbs(id: &str, source: &str) -> Prompt {
    Prompt::text(id, source)
        .unwrap()
        .with_syntax(TemplateSyntax::Handlebars)
}

#[tokio::test]
async fn handlebars_prompts_save_reopen_and_render_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    {
        let pm = prompt_manager::open(&url).await.unwrap();
        pm.create(hbs(
            "shared/tone",
            "Answer {{#if brief}}in one line{{else}}fully{{/if}}, as {{persona}}.",
        ))
        .await
        .unwrap();
        pm.set_label("shared/tone", "production", "1.0.0").await.unwrap();
        let chat = Prompt::chat(
            "support/reply",
            [
                ChatItem::message(Role::System, "{{> shared/tone@production}}"),
                ChatItem::placeholder("history"),
                ChatItem::message(
                    Role::User,
                    "{{#each tickets}}#{{@index}} {{title}} ({{../customer.name}}){{#unless @last}}\n{{/unless}}{{/each}}\n{{json meta}}",
                ),
            ],
        )
        .unwrap()
        .with_syntax(TemplateSyntax::Handlebars);
        pm.create(chat).await.unwrap();
    }
    // A fresh handle on the same file: the syntax was stored with the version.
    let pm = prompt_manager::open(&url).await.unwrap();
    let version = pm.get("support/reply").await.unwrap();
    assert_eq!(version.prompt.syntax, TemplateSyntax::Handlebars);
    let messages = pm
        .render_chat(
            "support/reply",
            &vars(json!({
                "persona": "a <support> agent",
                "history": [{"role": "user", "content": "earlier"}],
                "tickets": [{"title": "Login {{broken}}"}, {"title": "Refund"}],
                "customer": {"name": "Ada"},
                "meta": {"plan": "pro", "seats": 3}
            })),
        )
        .await
        .unwrap();
    let texts: Vec<(&str, &str)> = messages.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
    assert_eq!(
        texts,
        [
            ("system", "Answer fully, as a <support> agent."),
            ("user", "earlier"),
            (
                "user",
                "#0 Login {{broken}} (Ada)\n#1 Refund (Ada)\n{\"plan\":\"pro\",\"seats\":3}"
            ),
        ]
    );
    // Every missing variable, the include's too; `brief` and `tickets` are only tested (by
    // `#if` and `#each`), so optional, as Handlebars treats them.
    let err = pm
        .render_chat("support/reply", &vars(json!({"history": []})))
        .await
        .unwrap_err();
    let text = err.to_string();
    for name in ["persona", "customer", "meta"] {
        assert!(text.contains(&format!("`{name}`")), "{text}");
    }
    assert!(!text.contains("`brief`") && !text.contains("`tickets`"), "{text}");
    // A bundle of it holds the prompt and the partial it includes, found by its own engine.
    let bundle = prompt_manager::Bundle::export(
        pm.store().clone(),
        pm.engines().clone(),
        &["support/reply".to_owned()],
        "test",
    )
    .await
    .unwrap();
    let held = bundle.versions();
    assert!(
        held.iter().any(|v| v.starts_with("shared/tone")) && held.iter().any(|v| v.starts_with("support/reply")),
        "{held:?}"
    );
    let variables = pm.variables("support/reply").await.unwrap();
    assert_eq!(
        variables.into_iter().collect::<Vec<_>>(),
        ["brief", "customer", "history", "meta", "persona", "tickets"]
    );
}

#[tokio::test]
async fn bad_handlebars_is_refused_at_save_with_its_place_and_nothing_is_stored() {
    let pm = prompt_manager::in_memory();
    let cases = [
        ("Hello\n{{#if x}}open", "line 2"),
        ("Hi\n  {{shout name}}", "unknown helper `shout`"),
        ("{{> (pick kind)}}", "literal"),
        ("{{#*inline \"p\"}}x{{/inline}}{{> p}}", "inline partials"),
        ("{{> missing/prompt}}", "missing/prompt"),
    ];
    for (source, expected) in cases {
        let err = pm.create(hbs("bad", source)).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{source:?}: {err}");
    }
    assert!(matches!(pm.get("bad").await.unwrap_err(), Error::NotFound(_)));
}

#[tokio::test]
async fn includes_must_share_their_includer_syntax() {
    let pm = prompt_manager::in_memory();
    pm.create(hbs("hb", "Be {{tone}}.")).await.unwrap();
    pm.create(Prompt::text("jj", "Be {{ tone }}.").unwrap()).await.unwrap();
    let err = pm
        .create(Prompt::text("uses-hb", "{% include \"hb\" %}").unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a jinja template and includes `hb`, a handlebars one"),
        "{err}"
    );
    let err = pm.create(hbs("uses-jj", "{{> jj}}")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("a handlebars template and includes `jj`, a jinja one"),
        "{err}"
    );
}

#[tokio::test]
async fn a_syntax_change_is_a_major_change_in_the_diff() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("g", "Hi {{ name }}!").unwrap()).await.unwrap();
    let (diff, suggestion) = pm.suggest_update(&hbs("g", "Hi {{name}}!")).await.unwrap();
    assert_eq!(suggestion.bump, Bump::Major, "{suggestion:?}");
    assert!(diff.to_string().contains("syntax: jinja → handlebars"), "{diff}");
    pm.update(hbs("g", "Hi {{name}}!"), Bump::Major, "to handlebars")
        .await
        .unwrap();
    assert_eq!(pm.render("g", &vars(json!({"name": "Ada"}))).await.unwrap(), "Hi Ada!");
    assert_eq!(
        pm.render("g@1.0.0", &vars(json!({"name": "Ada"}))).await.unwrap(),
        "Hi Ada!"
    );
}

#[test]
fn the_default_syntax_leaves_stored_forms_and_hashes_as_they_were() {
    let jinja = Prompt::text("g", "Hi {{ name }}!").unwrap();
    let stored = serde_json::to_value(&jinja).unwrap();
    assert!(stored.get("syntax").is_none(), "{stored}");
    // SHA-256 of `{"format":"text","id":"g","template":"Hi {{ name }}!"}`: the hash every
    // release before the syntax field gave this prompt.
    assert_eq!(
        jinja.content_hash().to_string(),
        "sha256:648e4056f917f37efd8ba0c9908af74ba577fca6fa7b375b1613f6ab5cc2f584"
    );
    let hb = jinja.clone().with_syntax(TemplateSyntax::Handlebars);
    assert_ne!(hb.content_hash(), jinja.content_hash());
    let read: Prompt = serde_json::from_value(serde_json::to_value(&hb).unwrap()).unwrap();
    assert_eq!(read.syntax, TemplateSyntax::Handlebars);
    let err = serde_json::from_value::<Prompt>(json!({"id": "g", "syntax": "mustache", "template": "x"})).unwrap_err();
    assert!(err.to_string().contains("mustache"), "{err}");
}
