//! Every store URL opens its backend, and the same manager behaviour holds on each: create,
//! update, label, render, list by tag, reopen. Ids that could escape a folder or break SQL are
//! refused before the store is touched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager::{Bump, Error, ListQuery, Prompt, PromptManager, Variables};
use prompt_manager_tests::postgres::TestSchema;

const HOSTILE_IDS: [&str; 8] = [
    "../outside",
    "/etc/passwd",
    "a/../../b",
    "x'; DROP TABLE pm_prompts; --",
    "a\"b",
    "a%",
    "a\0b",
    "Robert",
];

async fn exercise(url: &str, backend: &str) {
    let pm = prompt_manager::open(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(pm.store().backend_name(), backend);

    pm.create(
        Prompt::text("greeting", "Hello {{ name }}!")
            .unwrap()
            .with_tags(["onboarding"]),
    )
    .await
    .unwrap();
    pm.set_label("greeting", "production", "1.0.0").await.unwrap();
    let shorter = Prompt::text("greeting", "Hi {{ name }}!")
        .unwrap()
        .with_tags(["onboarding"]);
    pm.update(shorter, Bump::Minor, "Shorter").await.unwrap();
    let vars = Variables::new().with("name", "Ada");
    assert_eq!(pm.render("greeting@production", &vars).await.unwrap(), "Hello Ada!");
    assert_eq!(pm.render("greeting", &vars).await.unwrap(), "Hi Ada!");

    for id in HOSTILE_IDS {
        let err = Prompt::text(id, "x").unwrap_err();
        assert!(matches!(err, Error::InvalidId { .. }), "{backend}: `{id}` -> {err:?}");
        let err = pm.render(&format!("{id}@production"), &vars).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidId { .. } | Error::InvalidReference { .. }),
            "{backend}: rendering `{id}` -> {err:?}"
        );
    }

    // What is stored survives a new manager on the same URL (the memory store excepted).
    let again = if backend == "memory" { pm } else { reopen(url).await };
    let listed = again
        .list(&ListQuery {
            tags: vec!["onboarding".into()],
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "{backend}: {listed:?}");
    let all = again.list(&ListQuery::default()).await.unwrap();
    let ids: Vec<_> = all.items.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, ["greeting"], "{backend}: nothing else was written");
    assert_eq!(again.history("greeting").await.unwrap().len(), 2);
    assert_eq!(again.render("greeting@production", &vars).await.unwrap(), "Hello Ada!");
}

async fn reopen(url: &str) -> PromptManager {
    prompt_manager::open(url).await.unwrap()
}

#[tokio::test]
async fn memory() {
    exercise("memory://", "memory").await;
}

#[tokio::test]
async fn dir() {
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path().join("prompts");
    exercise(&format!("dir://{}", root.display()), "dir").await;
    // Nothing was written outside the store's folder.
    let outside: Vec<_> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(outside, ["prompts"]);
}

#[tokio::test]
async fn sqlite() {
    let folder = tempfile::tempdir().unwrap();
    exercise(&format!("sqlite://{}", folder.path().join("pm.db").display()), "sqlite").await;
}

#[test]
fn postgres() {
    let Some(schema) = TestSchema::new("store_urls::postgres") else {
        return;
    };
    // The schema is dropped outside the runtime (its drop runs a runtime of its own).
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(exercise(schema.url(), "postgres"));
    drop(schema);
}

/// Two managers on one folder, as two processes would be: writes through one are seen by the
/// other's next uncached read, and after `refresh` by its renders too.
#[tokio::test]
async fn a_second_manager_sees_writes_after_refresh() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("dir://{}", folder.path().display());
    let writer = prompt_manager::open(&url).await.unwrap();
    let reader = prompt_manager::open(&url).await.unwrap();
    writer
        .create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    writer.set_label("greeting", "production", "1.0.0").await.unwrap();
    let vars = Variables::new().with("name", "Ada");
    assert_eq!(reader.render("greeting@production", &vars).await.unwrap(), "Hello Ada!");

    writer
        .update(
            Prompt::text("greeting", "Hi {{ name }}!").unwrap(),
            Bump::Minor,
            "Shorter",
        )
        .await
        .unwrap();
    writer.set_label("greeting", "production", "1.1.0").await.unwrap();
    // The store answers at once; the reader's render cache holds its resolution until refreshed.
    assert_eq!(reader.labels("greeting").await.unwrap().len(), 1);
    assert_eq!(reader.get("greeting@1.1.0").await.unwrap().version.to_string(), "1.1.0");
    reader.refresh(&"greeting".parse().unwrap());
    assert_eq!(reader.render("greeting@production", &vars).await.unwrap(), "Hi Ada!");
}
