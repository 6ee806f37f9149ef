//! The full in-process lifecycle through the umbrella crate: create, update, label, render, diff,
//! list, status — and what users see when they get something wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use prompt_manager::semver::Version;
use prompt_manager::versioning::suggest_bump;
use prompt_manager::{
    Bump, ChatItem, CreateOptions, Error, LabelEventKind, LabelName, ListQuery, NotFound, Observer, Prompt,
    PromptExecution, PromptStatus, Role, UpdateOptions, VariableProblem, VariableSpec, VariableType, Variables,
    VersioningExt,
};
use serde_json::json;

fn vars(value: serde_json::Value) -> Variables {
    Variables::try_from(value).expect("an object")
}

#[tokio::test]
async fn create_update_label_render_rollback() {
    let pm = prompt_manager::in_memory();
    let v1 = pm
        .create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    assert_eq!(v1.version, Version::new(1, 0, 0));
    assert_eq!(v1.parent, None);

    let minor = pm
        .update(
            Prompt::text("greeting", "Hi {{ name }}!").unwrap(),
            Bump::Minor,
            "friendlier",
        )
        .await
        .unwrap();
    assert!(minor.created);
    assert_eq!(minor.version.version, Version::new(1, 1, 0));
    assert_eq!(minor.version.parent, Some(Version::new(1, 0, 0)));
    assert_eq!(minor.version.changelog, "friendlier");

    let same = pm
        .update(
            Prompt::text("greeting", "Hi {{ name }}!").unwrap(),
            Bump::Major,
            "no-op",
        )
        .await
        .unwrap();
    assert!(!same.created, "identical content returns the existing version");
    assert_eq!(same.version.version, Version::new(1, 1, 0));

    let major = pm
        .update(
            Prompt::text("greeting", "Hi {{ name }} of {{ team }}!").unwrap(),
            Bump::Major,
            "team",
        )
        .await
        .unwrap();
    assert_eq!(major.version.version, Version::new(2, 0, 0));
    let patch = pm
        .update(
            Prompt::text("greeting", "Hi {{ name }} of {{ team }}! ").unwrap(),
            Bump::Patch,
            "space",
        )
        .await
        .unwrap();
    assert_eq!(patch.version.version, Version::new(2, 0, 1));

    let v = vars(json!({"name": "Ada", "team": "core"}));
    assert_eq!(pm.render("greeting", &v).await.unwrap(), "Hi Ada of core! ");
    assert_eq!(pm.render("greeting@1.0.0", &v).await.unwrap(), "Hello Ada!");
    assert_eq!(pm.render("greeting@^1", &v).await.unwrap(), "Hi Ada!");
    assert_eq!(pm.render("greeting@~2.0", &v).await.unwrap(), "Hi Ada of core! ");

    pm.set_label("greeting", "production", "1.0.0").await.unwrap();
    assert_eq!(pm.render("greeting@production", &v).await.unwrap(), "Hello Ada!");
    pm.set_label("greeting", "production", "1.1.0").await.unwrap();
    assert_eq!(
        pm.render("greeting@production", &v).await.unwrap(),
        "Hi Ada!",
        "a moved label is seen at once"
    );
    pm.set_label("greeting", "production", "2.0.0").await.unwrap();
    pm.set_label("greeting", "staging", "2.0.1").await.unwrap();

    let back = pm.rollback("greeting", "production").await.unwrap();
    assert_eq!(
        (back.from, back.to),
        (Some(Version::new(2, 0, 0)), Some(Version::new(1, 1, 0)))
    );
    assert_eq!(back.kind, LabelEventKind::Rollback);
    assert_eq!(pm.render("greeting@production", &v).await.unwrap(), "Hi Ada!");
    pm.rollback("greeting", "production").await.unwrap();
    assert_eq!(pm.render("greeting@production", &v).await.unwrap(), "Hello Ada!");
    let err = pm.rollback("greeting", "production").await.unwrap_err();
    assert!(err.to_string().contains("no earlier version"), "{err}");

    let history = pm.label_history("greeting", Some("production")).await.unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|e| (e.kind, e.to.as_ref().map(ToString::to_string)))
        .collect();
    assert_eq!(
        moves,
        vec![
            (LabelEventKind::Set, Some("1.0.0".into())),
            (LabelEventKind::Set, Some("1.1.0".into())),
            (LabelEventKind::Set, Some("2.0.0".into())),
            (LabelEventKind::Rollback, Some("1.1.0".into())),
            (LabelEventKind::Rollback, Some("1.0.0".into())),
        ]
    );
    let labels = pm.labels("greeting").await.unwrap();
    assert_eq!(labels.get("staging"), Some(&Version::new(2, 0, 1)));

    let history = pm.history("greeting").await.unwrap();
    let versions: Vec<_> = history.iter().map(|h| h.version.to_string()).collect();
    assert_eq!(versions, vec!["2.0.1", "2.0.0", "1.1.0", "1.0.0"]);
}

#[tokio::test]
async fn chat_prompts_expand_placeholders_and_keep_values_literal() {
    let pm = prompt_manager::in_memory();
    let prompt = Prompt::chat(
        "support/triage",
        [
            ChatItem::message(Role::System, "You help with {{ product }}."),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{ question }}"),
        ],
    )
    .unwrap()
    .with_variable(VariableSpec::new("product", VariableType::String).with_default("Acme"));
    pm.create(prompt).await.unwrap();
    let messages = pm
        .render_chat(
            "support/triage",
            &vars(json!({
                "question": "Why {{ 1 + 1 }}?",
                "history": [{"role": "user", "content": "{{ earlier }}"}, {"role": "assistant", "content": "ok", "name": "bot"}]
            })),
        )
        .await
        .unwrap();
    let shown: Vec<_> = messages
        .iter()
        .map(|m| (m.role.as_str(), m.content.as_str(), m.name.as_deref()))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("system", "You help with Acme.", None),
            ("user", "{{ earlier }}", None),
            ("assistant", "ok", Some("bot")),
            ("user", "Why {{ 1 + 1 }}?", None),
        ]
    );
    let err = pm.render("support/triage", &Variables::new()).await.unwrap_err();
    assert!(err.to_string().contains("is a chat prompt; use render_chat"), "{err}");

    let err = pm
        .render_chat("support/triage", &vars(json!({"history": [{"role": "user"}]})))
        .await
        .unwrap_err();
    let Error::InvalidVariables { problems, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 2, "{err}");
    assert!(err.to_string().contains("`question`"), "{err}");
    assert!(err.to_string().contains("item 1 has no `content`"), "{err}");
}

#[tokio::test]
async fn input_schema_checks_every_variable() {
    let pm = prompt_manager::in_memory();
    let prompt = Prompt::text("order", "{{ customer }} ordered {{ count }} x {{ item }} ({{ note }})")
        .unwrap()
        .with_variable(VariableSpec::new("customer", VariableType::String))
        .with_variable(VariableSpec::new("count", VariableType::Integer))
        .with_variable(VariableSpec::new("item", VariableType::String))
        .with_variable(VariableSpec::new("note", VariableType::String).with_default("none"));
    pm.create(prompt).await.unwrap();
    let err = pm.render("order", &vars(json!({"count": "three"}))).await.unwrap_err();
    let Error::InvalidVariables { reference, problems } = &err else {
        panic!("{err}")
    };
    assert_eq!(reference, "order@1.0.0");
    assert_eq!(
        problems,
        &vec![
            VariableProblem::Missing {
                name: "customer".into(),
                expected: Some(VariableType::String),
                line: Some(1),
                message: None,
            },
            VariableProblem::WrongType {
                name: "count".into(),
                expected: VariableType::Integer,
                found: "string"
            },
            VariableProblem::Missing {
                name: "item".into(),
                expected: Some(VariableType::String),
                line: Some(1),
                message: None,
            },
        ]
    );
    let ok = pm
        .render("order", &vars(json!({"customer": "Bo", "count": 2, "item": "tea"})))
        .await
        .unwrap();
    assert_eq!(ok, "Bo ordered 2 x tea (none)");
}

#[tokio::test]
async fn missing_variables_without_a_schema_are_all_named() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("t", "{{ a }} {{ b }}\n{{ c }}").unwrap())
        .await
        .unwrap();
    let err = pm.render("t", &vars(json!({"b": 1}))).await.unwrap_err();
    assert_eq!(err.to_string(), "t@1.0.0: missing variables `a` (line 1), `c` (line 2)");
    // A chat prompt says which message reads each one (placeholders counted, as written).
    pm.create(
        Prompt::chat(
            "c",
            [
                ChatItem::message(Role::System, "You help {{ team }}."),
                ChatItem::placeholder("history"),
                ChatItem::message(Role::User, "Hi\n{{ question }}"),
            ],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let err = pm
        .render_chat("c", &vars(json!({"history": [], "team": "ops"})))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "c@1.0.0: missing variable `question` (message 3, line 2)"
    );
}

#[tokio::test]
async fn diff_and_suggested_bump() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("d", "Summarise {{ text }}.").unwrap())
        .await
        .unwrap();
    pm.update(Prompt::text("d", "Summarise   {{ text }}.").unwrap(), Bump::Patch, "ws")
        .await
        .unwrap();
    pm.update(
        Prompt::text("d", "Briefly summarise {{ text }}.").unwrap(),
        Bump::Minor,
        "w",
    )
    .await
    .unwrap();
    pm.update(
        Prompt::text("d", "Briefly summarise {{ text }} in {{ lang }}.").unwrap(),
        Bump::Major,
        "v",
    )
    .await
    .unwrap();
    assert_eq!(suggest_bump(&pm.diff("d@1.0.0", "d@1.0.1").await.unwrap()), Bump::Patch);
    assert_eq!(suggest_bump(&pm.diff("d@1.0.1", "d@1.1.0").await.unwrap()), Bump::Minor);
    assert_eq!(suggest_bump(&pm.diff("d@1.1.0", "d@2.0.0").await.unwrap()), Bump::Major);

    let (outcome, suggestion) = pm
        .update_suggested(
            Prompt::text("d", "Briefly summarise {{ text }} in {{ lang }}!").unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(suggestion.bump, Bump::Minor);
    assert_eq!(outcome.version.version, Version::new(2, 1, 0));
    assert!(!outcome.version.changelog.is_empty(), "a drafted changelog");
}

#[tokio::test]
async fn list_filters_and_pages() {
    let pm = prompt_manager::in_memory();
    for (id, tags) in [
        ("a/one", vec!["x"]),
        ("a/two", vec!["x", "y"]),
        ("b/three", vec!["y"]),
        ("b/four", vec![]),
    ] {
        pm.create(Prompt::text(id, "t").unwrap().with_tags(tags)).await.unwrap();
    }
    pm.set_status("a/two", PromptStatus::Active).await.unwrap();
    let ids = |page: prompt_manager::Page<prompt_manager::PromptSummary>| {
        page.items.into_iter().map(|s| s.id.to_string()).collect::<Vec<_>>()
    };
    let q = |f: fn(&mut ListQuery)| {
        let mut q = ListQuery::default();
        f(&mut q);
        q
    };
    assert_eq!(
        ids(pm.list(&q(|q| q.tags = vec!["x".into()])).await.unwrap()),
        vec!["a/one", "a/two"]
    );
    assert_eq!(
        ids(pm.list(&q(|q| q.tags = vec!["x".into(), "y".into()])).await.unwrap()),
        vec!["a/two"]
    );
    assert_eq!(
        ids(pm.list(&q(|q| q.status = Some(PromptStatus::Active))).await.unwrap()),
        vec!["a/two"]
    );
    assert_eq!(
        ids(pm.list(&q(|q| q.id_prefix = Some("b/".into()))).await.unwrap()),
        vec!["b/four", "b/three"]
    );

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = pm
            .list(&ListQuery {
                limit: Some(3),
                cursor: cursor.clone(),
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        cursor = page.next_cursor.clone();
        seen.extend(ids(page));
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec!["a/one", "a/two", "b/four", "b/three"]);
}

#[tokio::test]
async fn lifecycle_statuses() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("s", "hi").unwrap()).await.unwrap();
    assert_eq!(pm.summary("s").await.unwrap().status, PromptStatus::Draft);
    assert_eq!(pm.render("s", &Variables::new()).await.unwrap(), "hi", "drafts render");
    pm.set_status("s", PromptStatus::Active).await.unwrap();
    pm.set_status("s", PromptStatus::Deprecated).await.unwrap();
    assert_eq!(
        pm.render("s", &Variables::new()).await.unwrap(),
        "hi",
        "deprecated renders (with a warning)"
    );
    pm.archive("s").await.unwrap();
    let err = pm.render("s", &Variables::new()).await.unwrap_err();
    assert!(matches!(err, Error::Archived { .. }), "{err}");
    assert!(err.to_string().contains("archived and cannot be rendered"), "{err}");
    let err = pm.set_status("s", PromptStatus::Draft).await.unwrap_err();
    assert!(matches!(err, Error::InvalidStatusTransition { .. }), "{err}");
    pm.set_status("s", PromptStatus::Active).await.unwrap();
    assert_eq!(pm.render("s", &Variables::new()).await.unwrap(), "hi", "restored");
}

#[tokio::test]
async fn every_change_is_seen_by_the_next_render() {
    let pm = prompt_manager::in_memory();
    pm.create_with(
        Prompt::text("live", "v1 {{ x }}").unwrap(),
        CreateOptions {
            labels: vec![LabelName::new("production").unwrap()],
            ..CreateOptions::default()
        },
    )
    .await
    .unwrap();
    let v = vars(json!({"x": 1}));
    for _ in 0..3 {
        assert_eq!(pm.render("live@production", &v).await.unwrap(), "v1 1");
    }
    let outcome = pm
        .update_with(
            Prompt::text("live", "v2 {{ x }}").unwrap(),
            UpdateOptions {
                labels: vec![LabelName::new("production").unwrap()],
                ..UpdateOptions::new(Bump::Minor, "v2")
            },
        )
        .await
        .unwrap();
    assert_eq!(outcome.labels.len(), 1);
    assert_eq!(pm.render("live@production", &v).await.unwrap(), "v2 1");
    assert_eq!(pm.render("live", &v).await.unwrap(), "v2 1");
    pm.archive("live").await.unwrap();
    assert!(pm.render("live@production", &v).await.is_err());
    pm.set_status("live", PromptStatus::Active).await.unwrap();
    pm.delete("live").await.unwrap();
    let err = pm.render("live@production", &v).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(NotFound::Prompt(_))), "{err}");
    pm.create(Prompt::text("live", "reborn {{ x }}").unwrap())
        .await
        .unwrap();
    assert_eq!(
        pm.render("live@1.0.0", &v).await.unwrap(),
        "reborn 1",
        "no stale compiled template"
    );
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

impl Observer for Recorder {
    fn on_render_start(&self, reference: &str) {
        self.events.lock().unwrap().push(format!("start {reference}"));
    }
    fn on_render_complete(&self, e: &PromptExecution<'_>) {
        let version = e.version.as_ref().map(ToString::to_string).unwrap_or_default();
        self.events.lock().unwrap().push(format!(
            "ok {version} {}B label={:?}",
            e.output_bytes,
            e.label.map(|l| l.as_str())
        ));
    }
    fn on_render_error(&self, e: &PromptExecution<'_>, _error: &Error) {
        self.events
            .lock()
            .unwrap()
            .push(format!("error {}", e.error.as_deref().unwrap_or("?")));
    }
    fn on_version_created(&self, v: &prompt_manager::PromptVersion) {
        self.events.lock().unwrap().push(format!("version {}", v.reference()));
    }
    fn on_label_moved(&self, id: &prompt_manager::PromptId, e: &prompt_manager::LabelEvent) {
        self.events.lock().unwrap().push(format!("label {id} {}", e.label));
    }
}

struct Panicker;
impl Observer for Panicker {
    fn on_render_complete(&self, _: &PromptExecution<'_>) {
        panic!("observer bug");
    }
}

#[tokio::test]
async fn observers_see_renders_and_never_fail_them() {
    let recorder = Arc::new(Recorder::default());
    let pm = prompt_manager::builder()
        .observer(recorder.clone())
        .observer(Arc::new(Panicker))
        .build()
        .unwrap();
    pm.create(Prompt::text("o", "hello").unwrap()).await.unwrap();
    pm.set_label("o", "production", "1.0.0").await.unwrap();
    assert_eq!(pm.render("o@production", &Variables::new()).await.unwrap(), "hello");
    assert!(pm.render("o@staging", &Variables::new()).await.is_err());
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(
        events,
        vec![
            "version o@1.0.0",
            "label o production",
            "start o@production",
            "ok 1.0.0 5B label=Some(\"production\")",
            "start o@staging",
            "error not_found",
        ]
    );
}

/// Counts compilations of the engine it wraps.
#[derive(Debug)]
struct CountingEngine {
    inner: prompt_manager::MiniJinjaEngine,
    compiles: std::sync::atomic::AtomicUsize,
}

impl prompt_manager::TemplateEngine for CountingEngine {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn compile(
        &self,
        unit: prompt_manager::CompileUnit<'_>,
    ) -> prompt_manager::Result<Arc<dyn prompt_manager::CompiledTemplate>> {
        self.compiles.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.compile(unit)
    }
    fn includes(&self, name: &str, source: &str) -> prompt_manager::Result<Vec<String>> {
        self.inner.includes(name, source)
    }
    fn extract_variables(
        &self,
        name: &str,
        source: &str,
    ) -> prompt_manager::Result<std::collections::BTreeSet<String>> {
        self.inner.extract_variables(name, source)
    }
}

#[tokio::test]
async fn templates_compile_once_per_version() {
    let engine = Arc::new(CountingEngine {
        inner: prompt_manager::MiniJinjaEngine::new(),
        compiles: std::sync::atomic::AtomicUsize::new(0),
    });
    let pm = prompt_manager::builder().engine(engine.clone()).build().unwrap();
    let compiles = || engine.compiles.load(std::sync::atomic::Ordering::SeqCst);
    pm.create(Prompt::text("once", "Hi {{ name }}").unwrap()).await.unwrap();
    assert_eq!(compiles(), 1, "checked on create");
    let v = vars(json!({"name": "Ada"}));
    for reference in ["once", "once@1.0.0", "once@^1", "once"] {
        assert_eq!(pm.render(reference, &v).await.unwrap(), "Hi Ada");
    }
    pm.set_label("once", "production", "1.0.0").await.unwrap();
    assert_eq!(pm.render("once@production", &v).await.unwrap(), "Hi Ada");
    assert_eq!(
        compiles(),
        1,
        "renders and label moves reuse the version's compiled template"
    );
    pm.update(Prompt::text("once", "Hello {{ name }}").unwrap(), Bump::Minor, "m")
        .await
        .unwrap();
    assert_eq!(pm.render("once", &v).await.unwrap(), "Hello Ada");
    assert_eq!(pm.render("once@1.0.0", &v).await.unwrap(), "Hi Ada");
    assert_eq!(compiles(), 2, "one more version, one more compile");
}
