//! An application whose server is down still renders: from the disk cache a restarted
//! application finds (checked, atomically written), from a shipped bundle as the last resort,
//! within the budget when the server hangs; never a deleted prompt, never a damaged copy. All
//! against real servers on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use prompt_manager::{Error, Prompt, PromptManager, Split, SplitVariant, Variables};
use prompt_manager_remote::{Bundle, RemoteStore, Source};
use prompt_manager_server::AppOptions;

fn v(s: &str) -> prompt_manager::semver::Version {
    prompt_manager::semver::Version::parse(s).unwrap()
}

/// A store with a prompt that includes another, a labelled prompt and an A/B split.
async fn team_prompts() -> PromptManager {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("shared/footer", "-- the support team").unwrap())
        .await
        .unwrap();
    pm.set_label("shared/footer", "production", "1.0.0").await.unwrap();
    pm.create(
        Prompt::text(
            "support/greet",
            r#"Hello {{ name }}! {% include "shared/footer@production" %}"#,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    pm.set_label("support/greet", "production", "1.0.0").await.unwrap();
    pm.create(Prompt::text("support/ask", "Ask {{ name }} (A)").unwrap())
        .await
        .unwrap();
    pm.update(
        Prompt::text("support/ask", "Ask {{ name }} (B)").unwrap(),
        prompt_manager::Bump::Minor,
        "variant B",
    )
    .await
    .unwrap();
    let split = Split::new([SplitVariant::new(v("1.0.0"), 1), SplitVariant::new(v("1.1.0"), 1)]).unwrap();
    pm.set_split("support/ask", "production", split).await.unwrap();
    pm
}

fn vars() -> Variables {
    Variables::new().with("name", "Ada")
}

/// Renders every kind of reference an application uses: a label with an include, both variants
/// of a split, an exact version.
async fn render_all(pm: &PromptManager) -> Vec<String> {
    let mut out = vec![
        pm.render("support/greet@production", &vars()).await.unwrap(),
        pm.render("support/ask@1.0.0", &vars()).await.unwrap(),
    ];
    let mut variants = std::collections::BTreeSet::new();
    for user in 0..32 {
        let key = format!("user-{user}");
        let options = prompt_manager::RenderOptions::split_key(&key);
        variants.insert(
            pm.render_with("support/ask@production", &vars(), &options)
                .await
                .unwrap(),
        );
    }
    out.extend(variants);
    out
}

fn client(url: &str) -> (PromptManager, RemoteStore) {
    let store = RemoteStore::connect(url).unwrap();
    let pm = prompt_manager::builder()
        .store(std::sync::Arc::new(store.clone()))
        .build()
        .unwrap();
    (pm, store)
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_in(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_application_renders_from_its_disk_cache_while_the_server_is_down() {
    let server = common::serve(team_prompts().await, AppOptions::default()).await;
    let cache = tempfile::tempdir().unwrap();
    let url = format!("{}/?cache={}", server.url, cache.path().display());

    let (first, store) = client(&url);
    let expected = render_all(&first).await;
    assert_eq!(expected[0], "Hello Ada! -- the support team");
    assert_eq!(expected.len(), 4, "both variants of the split served: {expected:?}");
    assert_eq!(store.read_sources().cache, 0);
    assert!(store.read_sources().server > 0);
    assert!(store.copies_served().is_empty());
    drop(first);
    server.stop().await;

    // A new process: nothing in memory, the server gone, the cache on disk.
    let (restarted, store) = client(&url);
    assert_eq!(render_all(&restarted).await, expected);
    let sources = store.read_sources();
    assert_eq!(sources.server, 0, "{sources:?}");
    assert!(sources.cache >= 4, "{sources:?}");
    let served = store.copies_served();
    let greet = served.iter().find(|c| c.what == "support/greet@production").unwrap();
    assert_eq!(greet.source, Source::Cache);
    assert!(greet.path.starts_with(cache.path()));
    assert!(greet.reason.contains("cannot be reached"), "{}", greet.reason);
    assert!(greet.saved_at <= chrono::Utc::now());
    assert!(
        served.iter().any(|c| c.what == "shared/footer@production"),
        "{served:?}"
    );

    // What was never read has no copy: the server's error, which says it is unreachable.
    let err = restarted.render("support/greet@1.0.0", &vars()).await.unwrap_err();
    assert!(matches!(err, Error::Backend { backend: "http", .. }), "{err:?}");
    assert!(err.to_string().contains("cannot be reached"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_prompt_is_never_served_from_the_cache() {
    let server_pm = team_prompts().await;
    let server = common::serve(server_pm.clone(), AppOptions::default()).await;
    let cache = tempfile::tempdir().unwrap();
    let url = format!("{}/?cache={}", server.url, cache.path().display());
    let (first, _) = client(&url);
    first.render("support/ask@1.0.0", &vars()).await.unwrap();
    let before = files_in(cache.path()).len();
    assert!(before >= 1);

    server_pm.delete("support/ask").await.unwrap();
    let (second, store) = client(&url);
    let err = second.render("support/ask@1.0.0", &vars()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(store.copies_served().is_empty());
    assert_eq!(
        files_in(cache.path()).len(),
        before - 1,
        "the deleted prompt's copy is gone"
    );

    // Down now: the copy is gone, so nothing renders the deleted prompt.
    server.stop().await;
    let (third, _) = client(&url);
    assert!(third.render("support/ask@1.0.0", &vars()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_cache_file_is_ignored_not_served() {
    let server = common::serve(team_prompts().await, AppOptions::default()).await;
    let cache = tempfile::tempdir().unwrap();
    let url = format!("{}/?cache={}", server.url, cache.path().display());
    let (first, _) = client(&url);
    first.render("support/ask@1.0.0", &vars()).await.unwrap();
    server.stop().await;

    let files = files_in(cache.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("Ask {{ name }} (A)"));
    std::fs::write(&files[0], text.replace("(A)", "(X)")).unwrap();

    let (second, store) = client(&url);
    let err = second.render("support/ask@1.0.0", &vars()).await.unwrap_err();
    assert!(err.to_string().contains("cannot be reached"), "{err}");
    assert_eq!(store.read_sources().cache, 0);
    assert!(store.copies_served().is_empty());
}

/// A server that accepts connections and never answers: without a budget a render would wait
/// for the call's timeout (10 s, three times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_costs_a_render_no_more_than_the_budget_when_a_copy_exists() {
    let server = common::serve(team_prompts().await, AppOptions::default()).await;
    let cache = tempfile::tempdir().unwrap();
    let (first, _) = client(&format!("{}/?cache={}", server.url, cache.path().display()));
    first.render("support/ask@1.0.0", &vars()).await.unwrap();
    server.stop().await;

    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            open.push(socket);
        }
    });
    let (hung, store) = client(&format!(
        "http://{addr}/?cache={}&budget_ms=250",
        cache.path().display()
    ));
    let started = Instant::now();
    assert_eq!(hung.render("support/ask@1.0.0", &vars()).await.unwrap(), "Ask Ada (A)");
    let took = started.elapsed();
    println!("a render against a hung server with a 250 ms budget took {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "the budget did not bound the call: {took:?}"
    );
    let served = store.copies_served();
    assert_eq!(served.len(), 1);
    assert!(served[0].reason.contains("budget of 250 ms"), "{}", served[0].reason);
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_the_last_resort_and_is_checked() {
    let team = team_prompts().await;
    let server = common::serve(team.clone(), AppOptions::default()).await;
    let references = vec![
        "support/greet@production".to_owned(),
        "support/ask@production".to_owned(),
    ];
    let source = RemoteStore::connect(&server.url).unwrap();
    let mut bundle = Bundle::export(
        std::sync::Arc::new(source),
        team.engines().clone(),
        &references,
        &server.url,
    )
    .await
    .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("prompts.bundle");
    let sha256 = bundle.write(&path).unwrap();
    assert_eq!(sha256.len(), 64);
    let expected = {
        let (pm, _) = client(&server.url);
        render_all(&pm).await
    };
    let server_url = server.url.clone();
    server.stop().await;

    // Read back: what it holds, the include and both variants among it.
    let read = Bundle::read(&path, Some(&sha256)).unwrap();
    assert_eq!(read.references(), &references[..]);
    assert_eq!(
        read.versions(),
        [
            "shared/footer 1.0.0",
            "support/ask 1.0.0",
            "support/ask 1.1.0",
            "support/greet 1.0.0"
        ]
    );

    // No server, no disk cache: the bundle serves the references it was made for.
    let url = format!("{server_url}/?bundle={}&bundle_sha256={sha256}", path.display());
    let (offline, store) = client(&url);
    assert_eq!(
        offline.render("support/greet@production", &vars()).await.unwrap(),
        expected[0]
    );
    let mut variants = std::collections::BTreeSet::new();
    for user in 0..32 {
        let key = format!("user-{user}");
        let options = prompt_manager::RenderOptions::split_key(&key);
        variants.insert(
            offline
                .render_with("support/ask@production", &vars(), &options)
                .await
                .unwrap(),
        );
    }
    assert_eq!(variants.into_iter().collect::<Vec<_>>(), expected[2..]);
    assert!(store.read_sources().bundle > 0);
    assert!(
        store
            .copies_served()
            .iter()
            .all(|c| c.source == Source::Bundle && c.path == path)
    );
    // Not in the bundle: the server's error.
    assert!(offline.render("support/ask@1.0.0", &vars()).await.is_err());

    // A bundle pinned to another hash, or changed after export, is refused at start-up, by name.
    let other = "0".repeat(64);
    let err = RemoteStore::connect(&format!(
        "{server_url}/?bundle={}&bundle_sha256={other}",
        path.display()
    ))
    .unwrap_err();
    assert!(err.to_string().contains("not the 0000"), "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("the support team", "someone else")).unwrap();
    let err = Bundle::read(&path, None).unwrap_err();
    assert!(err.to_string().contains("prompts.bundle"), "{err}");
    assert!(err.to_string().contains("hashes to"), "{err}");
}

#[tokio::test]
async fn offline_parameters_are_checked() {
    for (url, says) in [
        ("http://127.0.0.1:1/?cache=", "`cache` needs a path"),
        ("http://127.0.0.1:1/?budget_ms=0", "`budget_ms` must be 1 to 60000"),
        ("http://127.0.0.1:1/?budget_ms=soon", "`budget_ms` must be 1 to 60000"),
        ("http://127.0.0.1:1/?bundle_sha256=abc", "64 hex digits"),
        (
            &format!("http://127.0.0.1:1/?bundle_sha256={}", "a".repeat(64)),
            "give the bundle too",
        ),
        (
            "http://127.0.0.1:1/?bundle=/nonexistent/prompts.bundle",
            "cannot read the bundle",
        ),
        ("http://127.0.0.1:1/?cachez=1", "the parameters are key, ca, cache"),
    ] {
        let err = RemoteStore::connect(url).unwrap_err();
        assert!(err.to_string().contains(says), "{url}: {err}");
    }
}
