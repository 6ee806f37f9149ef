//! The web UI's pages against the REST API calls behind them, through the router (no socket) on
//! a SQLite store holding 10,000 prompts and one prompt with 1,000 versions:
//! `web/browse_10k` vs `api/list_10k` (`GET /ui/` vs `GET /v1/prompts?limit=50`),
//! `web/search_10k` (`GET /ui/?q=…`), and `web/prompt_page_1000_versions` vs `api/versions_1000`
//! (`GET /ui/p/{id}` vs `GET /v1/prompts/{id}/versions`).
//!
//! `cargo bench -p prompt-manager-benches --bench web`

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use prompt_manager::semver::Version;
use prompt_manager::{Expect, Prompt, PromptManager, PromptStatus, PromptVersion, SaveRequest};
use prompt_manager_server::{AppOptions, AppState, app_with};
use tower::ServiceExt;

const PROMPTS: usize = 10_000;
const HISTORY: u64 = 1_000;
/// The prompt with [`HISTORY`] versions.
const LONG: &str = "history/long";

fn request(prompt: Prompt, number: Version, parent: Option<Version>, expected: Expect) -> SaveRequest {
    SaveRequest {
        version: PromptVersion {
            content_hash: prompt.content_hash(),
            prompt,
            version: number,
            changelog: "bench".into(),
            author: Some("bench".into()),
            created_at: chrono::Utc::now(),
            parent,
        },
        expected,
        status: PromptStatus::Active,
        labels: Vec::new(),
        actor: Some("bench".into()),
        authority: prompt_manager::Authority::User,
    }
}

/// A prompt of realistic size: a few lines, a description and tags.
fn prompt(id: &str, i: usize) -> Prompt {
    let tag = if i.is_multiple_of(2) { "even" } else { "odd" };
    Prompt::text(
        id,
        format!(
            "You are the assistant of team {i}.\n{{% if topic %}}Answer {{{{ name }}}} politely about {{{{ topic }}}}.\
             {{% else %}}Greet {{{{ name | title }}}}.{{% endif %}}\n"
        ),
    )
    .expect("valid")
    .with_description(format!("Prompt number {i} of the bench"))
    .with_tags(["bench", tag])
}

/// 10,000 prompts under `p/`, and [`LONG`] with 1,000 versions and labels moved along them, in
/// two batches (one transaction each).
async fn fill(pm: &PromptManager) {
    let requests = (0..PROMPTS)
        .map(|i| {
            request(
                prompt(&format!("p/{i:05}"), i),
                Version::new(1, 0, 0),
                None,
                Expect::Absent,
            )
        })
        .collect();
    pm.save_all(requests).await.expect("fill prompts");
    let history = (0..HISTORY)
        .map(|i| {
            let (parent, expected) = match i {
                0 => (None, Expect::Absent),
                _ => (
                    Some(Version::new(1, i - 1, 0)),
                    Expect::Version(Version::new(1, i - 1, 0)),
                ),
            };
            request(prompt(LONG, i as usize), Version::new(1, i, 0), parent, expected)
        })
        .collect();
    pm.save_all(history).await.expect("fill history");
    // Labels that moved along the history: 100 label events.
    for i in 0..50 {
        pm.set_label(LONG, "staging", format!("1.{}.0", i * 20 + 10).as_str())
            .await
            .expect("label");
        pm.set_label(LONG, "canary", format!("1.{}.0", i * 20 + 15).as_str())
            .await
            .expect("label");
    }
}

/// GETs `path` (as a browser: loopback host, HTML first, the session cookie once it has one) and
/// returns the body's length; panics unless 200.
async fn get(router: &Router, path: &str, cookie: Option<&str>) -> (usize, Option<String>) {
    let mut builder = Request::get(path)
        .header(header::HOST, "127.0.0.1")
        .header(header::ACCEPT, "text/html,application/json");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    let response = router
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (body.len(), set_cookie)
}

fn bench_web(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("web.db").display());
    let router = rt.block_on(async {
        let pm = prompt_manager::open(&url).await.unwrap();
        let started = std::time::Instant::now();
        fill(&pm).await;
        eprintln!(
            "seeded {PROMPTS} prompts and {HISTORY} versions of {LONG} in {:?}",
            started.elapsed()
        );
        let state = AppState::new(pm, AppOptions::default()).unwrap();
        app_with(state.clone(), prompt_manager_web::router(state))
    });
    // One session for every page, as a browser keeps its cookie.
    let (_, cookie) = rt.block_on(get(&router, "/ui/", None));
    let cookie = cookie.expect("the first page starts a session");
    let cookie = Some(cookie.as_str());
    let long = LONG.replace('/', "%2F");
    let pages = [
        ("web/browse_10k", "/ui/".to_owned()),
        ("api/list_10k", "/v1/prompts?limit=50".to_owned()),
        ("web/search_10k", "/ui/?q=p/0999".to_owned()),
        ("api/search_10k", "/v1/prompts?limit=50&prefix=p/0999".to_owned()),
        ("web/prompt_page_1000_versions", format!("/ui/p/{LONG}")),
        ("api/versions_1000", format!("/v1/prompts/{long}/versions")),
        ("api/latest_1000", format!("/v1/prompts/{long}")),
    ];
    for (_, path) in &pages {
        let (bytes, _) = rt.block_on(get(&router, path, cookie));
        eprintln!("GET {path}: {bytes} bytes");
    }
    for (name, path) in &pages {
        c.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(get(&router, path, cookie).await) });
        });
    }
}

criterion_group!(benches, bench_web);
criterion_main!(benches);
