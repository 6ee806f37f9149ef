//! Registry and store lookups: `id@production` among 100,000 prompts, and the history of a prompt
//! with 1,000 versions.
//!
//! `cargo bench -p prompt-manager-benches --bench registry`

#![allow(clippy::expect_used, missing_docs)]

use criterion::async_executor::FuturesExecutor;
use criterion::{Criterion, criterion_group, criterion_main};
use prompt_manager::{Bump, CreateOptions, LabelName, Prompt, PromptId};
use std::hint::black_box;

const PROMPTS: usize = 100_000;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn bench_lookup(c: &mut Criterion) {
    let pm = prompt_manager::in_memory();
    let ids: Vec<String> = (0..PROMPTS).map(|i| format!("team-{}/prompt-{i}", i % 100)).collect();
    let references: Vec<String> = ids.iter().map(|id| format!("{id}@production")).collect();
    block_on(async {
        for id in &ids {
            let prompt = Prompt::text(id, "Hello {{ name }}, this is prompt {{ n }}.").expect("valid");
            let options = CreateOptions {
                labels: vec![LabelName::new("production").expect("valid")],
                ..CreateOptions::default()
            };
            pm.create_with(prompt, options).await.expect("create");
        }
        // Renders fill the registry; `get` then reads the cached resolution.
        let vars = prompt_manager::Variables::new().with("name", "Ada").with("n", 1);
        for r in &references {
            pm.render(r, &vars).await.expect("warm");
        }
    });
    // A fixed pseudo-random walk over the ids, so lookups do not hit the same cache lines of the
    // registry. The walk's strings are copied into one fresh list, as a caller holds its reference
    // in hot memory (a literal or a request buffer): what is measured is the registry, not the bench.
    let order: Vec<usize> = (0..4096).map(|i| (i * 7919 + 13) % PROMPTS).collect();
    let walk: Vec<String> = order.iter().map(|&i| references[i].clone()).collect();

    let mut group = c.benchmark_group("registry");
    let mut i = 0;
    group.bench_function("lookup_id_at_production_among_100k", |b| {
        b.to_async(FuturesExecutor).iter(|| {
            i = (i + 1) % walk.len();
            let reference = &walk[i];
            let pm = &pm;
            async move { pm.get(black_box(reference)).await.expect("found") }
        })
    });
    let store = pm.store().clone();
    let parsed: Vec<PromptId> = ids.iter().map(|id| PromptId::new(id).expect("valid")).collect();
    let mut j = 0;
    group.bench_function("memory_store_summary_and_load_among_100k", |b| {
        b.to_async(FuturesExecutor).iter(|| {
            j = (j + 1) % order.len();
            let id = &parsed[order[j]];
            let store = store.clone();
            async move {
                let summary = store.summary(black_box(id)).await.expect("found");
                let version = &summary.labels["production"];
                store.load(id, Some(version)).await.expect("found")
            }
        })
    });
    group.finish();
}

fn bench_history(c: &mut Criterion) {
    let pm = prompt_manager::in_memory();
    block_on(async {
        pm.create(Prompt::text("long/history", "v0 {{ x }}").expect("valid"))
            .await
            .expect("create");
        for n in 1..1000 {
            let prompt = Prompt::text("long/history", format!("v{n} {{{{ x }}}}")).expect("valid");
            pm.update(prompt, Bump::Patch, format!("change {n}"))
                .await
                .expect("update");
        }
    });
    let mut group = c.benchmark_group("history");
    group.bench_function("history_of_1000_versions", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            let h = pm.history(black_box("long/history")).await.expect("found");
            assert_eq!(h.len(), 1000);
            h
        })
    });
    group.finish();
}

criterion_group!(benches, bench_lookup, bench_history);
criterion_main!(benches);
