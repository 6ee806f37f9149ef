//! The stores, backend by backend (`memory`, `dir`, `sqlite`, and `postgres` when
//! `PROMPT_MANAGER_TEST_POSTGRES_URL` is set): load one version, create one version (durable),
//! list 1,000 prompts, list by tag, the history of 1,000 versions, import 1,000 prompts.
//!
//! `cargo bench -p prompt-manager-benches --bench storage`
//! (`-- dir/` or `-- sqlite/` for one backend).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use prompt_manager::semver::Version;
use prompt_manager::{Expect, ListQuery, Prompt, PromptId, PromptStatus, PromptVersion, SaveRequest, Store};

const PROMPTS: usize = 1_000;
const HISTORY: usize = 1_000;

fn version(prompt: Prompt, number: Version) -> PromptVersion {
    PromptVersion {
        content_hash: prompt.content_hash(),
        prompt,
        version: number,
        changelog: "bench".into(),
        author: Some("bench".into()),
        created_at: chrono::Utc::now(),
        parent: None,
    }
}

fn request(prompt: Prompt, number: Version, expected: Expect) -> SaveRequest {
    SaveRequest {
        version: version(prompt, number),
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
        format!("You are the assistant of team {i}.\nAnswer {{{{ name }}}} politely about {{{{ topic }}}}.\n"),
    )
    .expect("valid")
    .with_tags(["bench", tag])
}

/// The same data in every store: 1,000 prompts under `p/` (half tagged `even`) and one prompt
/// with 1,000 versions.
async fn fill(store: &dyn Store) {
    let requests = (0..PROMPTS)
        .map(|i| {
            let id = format!("p/{i:04}");
            request(prompt(&id, i), Version::new(1, 0, 0), Expect::Absent)
        })
        .collect();
    store.save_all(requests).await.expect("fill prompts");
    let history = (0..HISTORY)
        .map(|i| {
            let expected = match i {
                0 => Expect::Absent,
                _ => Expect::Version(Version::new(1, i as u64 - 1, 0)),
            };
            request(prompt("history", i), Version::new(1, i as u64, 0), expected)
        })
        .collect();
    store.save_all(history).await.expect("fill history");
}

fn bench_backend(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: Arc<dyn Store>) {
    rt.block_on(fill(store.as_ref()));
    let mut group = c.benchmark_group(name);
    group.sample_size(20).measurement_time(Duration::from_secs(4));

    let ids: Vec<PromptId> = (0..PROMPTS)
        .map(|i| PromptId::new(format!("p/{i:04}")).expect("valid"))
        .collect();
    let v1 = Version::new(1, 0, 0);
    let mut n = 0;
    group.bench_function("load_one_version", |b| {
        b.to_async(rt).iter(|| {
            n = (n + 7919) % PROMPTS;
            let (store, id, v1) = (&store, &ids[n], &v1);
            async move { store.load(black_box(id), Some(v1)).await.expect("load") }
        })
    });

    let counter = AtomicU64::new(0);
    let create_id = "bench/create";
    rt.block_on(store.save(request(prompt(create_id, 0), Version::new(0, 0, 0), Expect::Any)))
        .expect("seed");
    group.bench_function("create_one_version", |b| {
        b.to_async(rt).iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            let store = &store;
            async move {
                let p = Prompt::text(create_id, format!("Version {n} for {{{{ name }}}}")).expect("valid");
                store
                    .save(request(p, Version::new(0, n, 0), Expect::Any))
                    .await
                    .expect("save")
            }
        })
    });

    let all = ListQuery {
        id_prefix: Some("p/".into()),
        ..ListQuery::default()
    };
    group.bench_function("list_1000_prompts", |b| {
        b.to_async(rt).iter(|| async {
            let page = store.list(black_box(&all)).await.expect("list");
            assert_eq!(page.items.len(), PROMPTS);
            page
        })
    });
    let by_tag = ListQuery {
        tags: vec!["even".into()],
        id_prefix: Some("p/".into()),
        ..ListQuery::default()
    };
    group.bench_function("list_by_tag_500_of_1000", |b| {
        b.to_async(rt).iter(|| async {
            let page = store.list(black_box(&by_tag)).await.expect("list");
            assert_eq!(page.items.len(), PROMPTS / 2);
            page
        })
    });

    let history = PromptId::new("history").expect("valid");
    group.bench_function("history_of_1000_versions", |b| {
        b.to_async(rt).iter(|| async {
            let versions = store.list_versions(black_box(&history)).await.expect("history");
            assert_eq!(versions.len(), HISTORY);
            versions
        })
    });

    // Each import writes 1,000 new prompts (fresh ids every time) in one batch.
    let round = AtomicU64::new(0);
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    group.bench_function("import_1000_prompts", |b| {
        b.to_async(rt).iter_batched(
            || {
                let r = round.fetch_add(1, Ordering::Relaxed);
                (0..PROMPTS)
                    .map(|i| {
                        let id = format!("import/{r}/{i:04}");
                        request(prompt(&id, i), Version::new(1, 0, 0), Expect::Absent)
                    })
                    .collect::<Vec<_>>()
            },
            |batch| {
                let store = &store;
                async move { store.save_all(batch).await.expect("import") }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn storage(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let folder = tempfile::tempdir().expect("temporary folder");

    bench_backend(c, &rt, "memory", Arc::new(prompt_manager::MemoryStore::new()));

    let dir = rt
        .block_on(prompt_manager::open_store(&format!(
            "dir://{}",
            folder.path().join("dir").display()
        )))
        .expect("dir store");
    bench_backend(c, &rt, "dir", dir);

    let sqlite_url = format!("sqlite://{}", folder.path().join("bench.db").display());
    let sqlite = rt
        .block_on(prompt_manager::open_store(&sqlite_url))
        .expect("sqlite store");
    bench_backend(c, &rt, "sqlite", sqlite);

    match std::env::var("PROMPT_MANAGER_TEST_POSTGRES_URL") {
        Ok(url) => {
            let schema = format!("pm_bench_{}", std::process::id());
            let separator = if url.contains('?') { '&' } else { '?' };
            let started = Instant::now();
            let postgres = rt
                .block_on(prompt_manager::open_store(&format!("{url}{separator}schema={schema}")))
                .expect("postgres store");
            eprintln!("postgres: schema {schema} (opened in {:?})", started.elapsed());
            bench_backend(c, &rt, "postgres", postgres);
            let dropped = rt.block_on(async {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await?;
                // The name is ours (`pm_bench_<pid>`), not input.
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await
            });
            if let Err(e) = dropped {
                eprintln!("postgres: could not drop the bench schema {schema}: {e}");
            }
        }
        Err(_) => eprintln!("postgres: PROMPT_MANAGER_TEST_POSTGRES_URL is not set; skipped"),
    }
}

criterion_group!(benches, storage);
criterion_main!(benches);
