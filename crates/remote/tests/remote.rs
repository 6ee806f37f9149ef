//! A manager whose store is a real server: the whole manager works on it, what another client
//! changes reaches its renders through the change stream (latency printed, not asserted), keys
//! are enforced, and URLs and keys are handled with care.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use prompt_manager::{
    Authority, Bump, Error, LabelChange, LabelEventKind, LabelName, Prompt, PromptId, RenderOptions, SaveRequest,
    Split, SplitVariant, StorageBackend, Variables, VersionStore, VersioningExt,
};
use prompt_manager_remote::RemoteStore;
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};

/// How long a change may take to reach another client before the test fails (it takes
/// milliseconds).
const DEADLINE: Duration = Duration::from_secs(10);

fn v(s: &str) -> prompt_manager::semver::Version {
    prompt_manager::semver::Version::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_manager_works_over_a_server() {
    let server = common::serve(prompt_manager::in_memory(), AppOptions::default()).await;
    let pm = prompt_manager::open(&server.url).await.unwrap();
    assert_eq!(pm.store().backend_name(), "http");
    let vars = Variables::new().with("name", "Ada");

    pm.create(Prompt::text("greet", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    pm.update(Prompt::text("greet", "Hi {{ name }}!").unwrap(), Bump::Minor, "shorter")
        .await
        .unwrap();
    pm.set_label("greet", "release", "1.0.0").await.unwrap();
    assert_eq!(pm.render("greet@release", &vars).await.unwrap(), "Hello Ada!");
    assert_eq!(pm.render("greet", &vars).await.unwrap(), "Hi Ada!");
    assert_eq!(pm.render("greet@^1.1", &vars).await.unwrap(), "Hi Ada!");
    assert_eq!(pm.history("greet").await.unwrap().len(), 2);
    let diff = pm.diff("greet@1.0.0", "greet@1.1.0").await.unwrap();
    assert!(format!("{diff:?}").contains("Hello"), "{diff:?}");

    // An A/B split, assigned by key on this side.
    let split = Split::new([SplitVariant::new(v("1.0.0"), 1), SplitVariant::new(v("1.1.0"), 1)]).unwrap();
    pm.set_split("greet", "experiment", split).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for user in 0..64 {
        let key = format!("user-{user}");
        let options = RenderOptions::split_key(&key);
        let once = pm.render_with("greet@experiment", &vars, &options).await.unwrap();
        assert_eq!(once, pm.render_with("greet@experiment", &vars, &options).await.unwrap());
        seen.insert(once);
    }
    assert_eq!(seen.len(), 2, "both variants serve: {seen:?}");

    // The server sees what the client wrote, and refusals come back as the same errors.
    let err = pm.create(Prompt::text("greet", "again").unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    let err = pm.render("missing", &vars).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_moved_elsewhere_reaches_a_clients_render_through_the_change_stream() {
    let server_pm = prompt_manager::in_memory();
    let server = common::serve(server_pm.clone(), AppOptions::default()).await;
    server_pm.create(Prompt::text("moving", "one").unwrap()).await.unwrap();
    server_pm
        .update(Prompt::text("moving", "two").unwrap(), Bump::Minor, "two")
        .await
        .unwrap();
    server_pm.set_label("moving", "release", "1.0.0").await.unwrap();

    let client = prompt_manager::open(&server.url).await.unwrap();
    let other = RemoteStore::connect(&server.url).unwrap();
    let vars = Variables::new();
    assert_eq!(client.render("moving@release", &vars).await.unwrap(), "one");
    // Let the client's stream start before the first move.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let id = PromptId::new("moving").unwrap();
    let label = LabelName::new("release").unwrap();
    let mut latencies = Vec::new();
    for i in 0..200 {
        let (to, text) = if i % 2 == 0 { ("1.1.0", "two") } else { ("1.0.0", "one") };
        let started = Instant::now();
        if i % 4 < 2 {
            // Through a second client's store protocol.
            let change = LabelChange {
                label: label.clone(),
                to: Some(v(to)),
                expected: prompt_manager::Expect::Any,
                kind: LabelEventKind::Set,
                actor: Some("other".into()),
                authority: Authority::User,
            };
            other.set_label(&id, change).await.unwrap();
        } else {
            // Directly on the server's manager.
            server_pm.set_label("moving", "release", to).await.unwrap();
        }
        let moved = Instant::now();
        loop {
            if client.render("moving@release", &vars).await.unwrap() == text {
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "move {i} to {to} did not reach the client"
            );
            // Not `sleep`: tokio's timer ticks in milliseconds, which would be the measurement.
            tokio::task::yield_now().await;
        }
        latencies.push(moved.elapsed());
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "label move → client render, {} moves: p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        p(0.50),
        p(0.99),
        latencies[latencies.len() - 1]
    );
}

/// A warm render is in-process: it makes no call to the server, so it goes on while the server
/// is away (a dropped stream alone does not make the client forget what it holds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_renders_need_no_server() {
    let server_pm = prompt_manager::in_memory();
    server_pm
        .create(Prompt::text("warm", "Hi {{ name }}").unwrap())
        .await
        .unwrap();
    server_pm.set_label("warm", "release", "1.0.0").await.unwrap();
    let server = common::serve(server_pm, AppOptions::default()).await;
    let client = prompt_manager::open(&server.url).await.unwrap();
    let vars = Variables::new().with("name", "Ada");
    assert_eq!(client.render("warm@release", &vars).await.unwrap(), "Hi Ada");
    // Once the change stream has started (its `ready` makes the client forget what it read
    // before), warm the registry again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(client.render("warm@release", &vars).await.unwrap(), "Hi Ada");
    server.stop().await;

    let started = Instant::now();
    for _ in 0..10_000 {
        assert_eq!(client.render("warm@release", &vars).await.unwrap(), "Hi Ada");
    }
    println!("10,000 warm renders with the server down: {:?}", started.elapsed());
    // Something not cached needs the server, and says it is unreachable.
    let err = client.render("warm@1.0.0", &vars).await.unwrap_err();
    assert!(matches!(err, Error::Backend { backend: "http", .. }), "{err:?}");
}

/// A server that restarts (a new process, a new epoch) cannot replay what its client missed: the
/// client's reconnect is answered with `reset`, and the client forgets what it cached. (In-memory
/// stores, so that nothing but the `reset` can tell the client.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_forgets_what_it_cached_when_the_server_restarted() {
    async fn with_release_at(version: &str) -> prompt_manager::PromptManager {
        let pm = prompt_manager::in_memory();
        pm.create(Prompt::text("restarted", "one").unwrap()).await.unwrap();
        pm.update(Prompt::text("restarted", "two").unwrap(), Bump::Minor, "two")
            .await
            .unwrap();
        pm.set_label("restarted", "release", version).await.unwrap();
        pm
    }
    let first = common::serve(with_release_at("1.0.0").await, AppOptions::default()).await;
    let (url, addr) = (first.url.clone(), first.addr);

    let client = prompt_manager::open(&url).await.unwrap();
    let vars = Variables::new();
    assert_eq!(client.render("restarted@release", &vars).await.unwrap(), "one");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Down, and up again on the same port with the label elsewhere.
    first.stop().await;
    let _second = common::serve_on(with_release_at("1.1.0").await, AppOptions::default(), addr).await;

    let started = Instant::now();
    loop {
        // Cached: the client does not ask the server until the stream says so.
        if client.render("restarted@release", &vars).await.unwrap() == "two" {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the client still renders what it cached before the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "the client forgot what it cached {:?} after the server came back",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_enforced_and_a_write_key_cannot_claim_more() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("keys.json");
    let read = keys::create(&path, "reader", Scope::Read).unwrap().token;
    let write = keys::create(&path, "writer", Scope::Write).unwrap().token;
    let admin = keys::create(&path, "boss", Scope::Admin).unwrap().token;
    let server_pm = prompt_manager::in_memory();
    let options = AppOptions {
        keys_file: Some(path),
        keys_check_interval: Duration::ZERO,
        ..AppOptions::default()
    };
    let server = common::serve(server_pm.clone(), options).await;
    let store = |key: &str| RemoteStore::connect(&format!("{}/?key={key}", server.url)).unwrap();
    let version = |id: &str, n: &str, text: &str| {
        let prompt = Prompt::text(id, text).unwrap();
        prompt_manager::PromptVersion {
            content_hash: prompt.content_hash(),
            version: v(n),
            changelog: String::new(),
            author: Some("someone-else".into()),
            created_at: chrono::Utc::now(),
            parent: None,
            prompt,
        }
    };
    let save = |id: &str, n: &str, authority: Authority| SaveRequest {
        version: version(id, n, "text"),
        expected: prompt_manager::Expect::Any,
        status: prompt_manager::PromptStatus::Active,
        labels: vec![LabelName::new("release").unwrap()],
        actor: Some("someone-else".into()),
        authority,
    };

    // No key at all: refused, and the key-less error says so.
    let err = RemoteStore::connect(&server.url)
        .unwrap()
        .summary(&PromptId::new("x").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");

    // A read key reads but may not write (403), and its key shows nowhere.
    let reader = store(&read);
    let err = reader.save(save("keyed", "1.0.0", Authority::User)).await.unwrap_err();
    let text = format!("{err} {err:?} {reader:?}");
    assert!(text.contains("403"), "{text}");
    assert!(!text.contains(&read), "the key leaked: {text}");
    assert!(!reader.exists(&PromptId::new("keyed").unwrap()).await.unwrap());

    // A write key writes as itself, whatever actor it names.
    let writer = store(&write);
    let events = writer.save(save("keyed", "1.0.0", Authority::User)).await.unwrap();
    assert_eq!(events[0].actor.as_deref(), Some("writer"));
    let saved = writer.load(&PromptId::new("keyed").unwrap(), None).await.unwrap();
    assert_eq!(saved.author.as_deref(), Some("writer"));

    // (The server's configuration protects `production`: the same refusal.)
    let mut configured = save("keyed", "1.5.0", Authority::Admin);
    configured.labels = vec![LabelName::new("production").unwrap()];
    let err = writer.save(configured).await.unwrap_err();
    assert!(matches!(err, Error::LabelProtected { .. }), "{err:?}");

    // An admin protects the label; the write key's claim of Admin or Forced does not move it.
    let id = PromptId::new("keyed").unwrap();
    let boss = store(&admin);
    assert!(
        boss.set_protection(
            &id,
            prompt_manager::ProtectionChange {
                label: LabelName::new("release").unwrap(),
                protected: true,
                authority: Authority::Admin,
                actor: None,
            },
        )
        .await
        .unwrap()
    );
    for claim in [Authority::Admin, Authority::Forced] {
        let err = writer.save(save("keyed", "2.0.0", claim)).await.unwrap_err();
        assert!(matches!(err, Error::LabelProtected { .. }), "{claim:?}: {err:?}");
    }
    // The admin key may.
    let events = boss.save(save("keyed", "2.0.0", Authority::Admin)).await.unwrap();
    assert_eq!(events[0].actor.as_deref(), Some("boss"));
    assert_eq!(
        server_pm
            .store()
            .get_label(&id, &LabelName::new("release").unwrap())
            .await
            .unwrap(),
        v("2.0.0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_unreachable_servers_get_clear_errors_without_the_key() {
    for url in [
        "http://",
        "http://[::1/?key=SECRET1",
        "gopher://h/?key=SECRET1",
        "http://h/?key=SECRET1&x=1",
    ] {
        let err = RemoteStore::connect(url).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{url}: {err:?}");
        assert!(!format!("{err} {err:?}").contains("SECRET1"), "{url}: {err}");
    }
    // Through the umbrella too.
    let err = prompt_manager::open("http://h:1/?key=SECRET1&x=1").await.unwrap_err();
    assert!(!err.to_string().contains("SECRET1"), "{err}");

    // A port nothing listens on, and a host that does not resolve: backend errors naming the URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for base in [
        format!("http://127.0.0.1:{port}"),
        "http://no-such-host.invalid:8080".to_owned(),
    ] {
        let store = RemoteStore::connect(&format!("{base}/?key=SECRET2")).unwrap();
        let started = Instant::now();
        let err = store.summary(&PromptId::new("x").unwrap()).await.unwrap_err();
        let text = format!("{err} {err:?} {store:?}");
        assert!(matches!(err, Error::Backend { backend: "http", .. }), "{err:?}");
        assert!(text.contains(&base), "{text}");
        assert!(!text.contains("SECRET2"), "the key leaked: {text}");
        assert!(started.elapsed() < DEADLINE, "{:?}", started.elapsed());
    }
}

/// An application that renders in-process on the `http://` store records its renders, usage
/// and feedback in the server's store: the server's analytics (and so its A/B verdicts) count
/// them, added to what the server rendered itself; a read key cannot add usage, and a row that
/// does not start its bucket is refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applications_renders_reach_the_servers_analytics() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("keys.json");
    let read = keys::create(&path, "reader", Scope::Read).unwrap().token;
    let write = keys::create(&path, "app", Scope::Write).unwrap().token;
    let server_pm = prompt_manager::in_memory();
    server_pm
        .create(Prompt::text("greet", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    let options = AppOptions {
        keys_file: Some(path),
        keys_check_interval: Duration::ZERO,
        ..AppOptions::default()
    };
    let server = common::serve(server_pm.clone(), options).await;
    let store = RemoteStore::connect(&format!("{}/?key={write}", server.url)).unwrap();
    assert!(store.records_usage());
    let app = prompt_manager::builder()
        .store(std::sync::Arc::new(store))
        .usage(prompt_manager::UsageConfig::default())
        .build()
        .unwrap();
    let vars = Variables::new().with("name", "Ada");
    let mut ids = Vec::new();
    for _ in 0..7 {
        let rendered = app.render_prompt("greet", &vars).await.unwrap();
        ids.push(rendered.render_id.expect("recorded renders have ids").to_string());
    }
    assert!(
        app.render("greet", &Variables::new()).await.is_err(),
        "a failed render counts too"
    );
    let report = prompt_manager::UsageReport {
        output_tokens: Some(42),
        ..Default::default()
    };
    app.report_usage(&ids[0], &report).await.unwrap();
    let feedback = prompt_manager::Feedback {
        success: Some(true),
        ..Default::default()
    };
    app.report_feedback(&ids[1], &feedback).await.unwrap();
    let flushed = app.flush_usage().await.unwrap();
    assert!(flushed.rows >= 3, "{flushed:?}");

    // The server, and any other client, sees them.
    let query = prompt_manager::AnalyticsQuery::last(
        Duration::from_secs(3_600),
        prompt_manager::Bucket::Minute,
        prompt_manager::GroupBy::Version,
    );
    let seen = server_pm.analytics("greet", &query).await.unwrap();
    let totals = &seen.groups[0].totals;
    assert_eq!((totals.renders, totals.errors), (8, 1), "{totals:?}");
    assert_eq!(totals.output_tokens, 42, "{totals:?}");
    assert_eq!((totals.feedback, totals.successes), (1, 1), "{totals:?}");
    let reader = prompt_manager::open(&format!("{}/?key={read}", server.url))
        .await
        .unwrap();
    let through_http = reader.analytics("greet", &query).await.unwrap();
    assert_eq!(through_http.groups[0].totals.renders, 8);

    // A read key may not add usage; nothing was added.
    let reading = RemoteStore::connect(&format!("{}/?key={read}", server.url)).unwrap();
    let row = prompt_manager::UsageRow {
        key: prompt_manager::analytics::UsageKey {
            prompt_id: PromptId::new("greet").unwrap(),
            version: v("1.0.0"),
            label: None,
        },
        bucket: prompt_manager::Bucket::Minute,
        start: 120,
        counts: prompt_manager::analytics::UsageCounts::default(),
    };
    let err = reading.add_usage(std::slice::from_ref(&row)).await.unwrap_err();
    assert!(err.to_string().contains("write"), "{err}");
    // A start inside a bucket is refused, naming the row.
    let writing = RemoteStore::connect(&format!("{}/?key={write}", server.url)).unwrap();
    let err = writing
        .add_usage(&[prompt_manager::UsageRow {
            start: 121,
            ..row.clone()
        }])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("rows[0]: start 121 is not the start of a minute"),
        "{err}"
    );
    let after = server_pm.analytics("greet", &query).await.unwrap();
    assert_eq!(after.groups[0].totals.renders, 8);

    // A server that cannot be reached certainly added nothing: an error, so the recorder keeps
    // the rows for its next flush.
    let url = server.url.clone();
    server.stop().await;
    let gone = RemoteStore::connect(&format!("{url}/?key={write}")).unwrap();
    let row = prompt_manager::UsageRow { start: 180, ..row };
    let err = gone.add_usage(&[row]).await.unwrap_err();
    assert!(err.to_string().contains("cannot be reached"), "{err}");
}
