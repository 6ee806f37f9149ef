//! A/B splits: a warm render by a split label (with a split key, with varying keys, without a
//! key) side by side with the same render by a plain label, and the assignment alone. Both
//! labels point into the same prompt, whose two versions are the shared simple workload.
//!
//! `cargo bench -p prompt-manager-benches --bench split`

#![allow(clippy::expect_used, missing_docs)]

use criterion::async_executor::FuturesExecutor;
use criterion::{Criterion, criterion_group, criterion_main};
use prompt_manager::{Bump, Prompt, PromptManager, RenderOptions, Split, Variables};
use std::hint::black_box;

fn workload(file: &str) -> String {
    let path = format!("{}/workload/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// `bench/ab` with versions 1.0.0 and 1.1.0; `production` at 1.0.0, `experiment` a 90/10 split.
fn manager() -> PromptManager {
    let pm = prompt_manager::in_memory();
    block_on(async {
        let source = workload("simple.j2");
        pm.create(Prompt::text("bench/ab", source.clone()).expect("valid"))
            .await
            .expect("create");
        pm.update(
            Prompt::text("bench/ab", format!("{source}\n")).expect("valid"),
            Bump::Minor,
            "b",
        )
        .await
        .expect("update");
        pm.set_label("bench/ab", "production", "1.0.0").await.expect("label");
        let split: Split = "1.0.0=90 1.1.0=10".parse().expect("split");
        pm.set_split("bench/ab", "experiment", split).await.expect("split");
    });
    pm
}

fn bench_split(c: &mut Criterion) {
    let pm = manager();
    let data: serde_json::Value = serde_json::from_str(&workload("data.json")).expect("json");
    let vars = Variables::try_from(data["simple"].clone()).expect("object");
    let keys: Vec<String> = (0..1024).map(|i| format!("user-{i:06}")).collect();
    let with_key = RenderOptions::split_key("user-000042");
    let served = block_on(pm.render_prompt_with("bench/ab@experiment", &vars, &with_key)).expect("renders");
    assert!(served.variant.is_some(), "the experiment label is a split");

    let mut group = c.benchmark_group("render/split_vs_label");
    group.bench_function("plain_label", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render_prompt(black_box("bench/ab@production"), black_box(&vars))
                .await
                .expect("renders")
        })
    });
    group.bench_function("split_label_one_key", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render_prompt_with(black_box("bench/ab@experiment"), black_box(&vars), &with_key)
                .await
                .expect("renders")
        })
    });
    let mut next = 0usize;
    group.bench_function("split_label_1024_keys", |b| {
        b.to_async(FuturesExecutor).iter(|| {
            next = (next + 1) % keys.len();
            let options = RenderOptions::split_key(&keys[next]);
            let pm = &pm;
            let vars = &vars;
            async move {
                pm.render_prompt_with(black_box("bench/ab@experiment"), black_box(vars), &options)
                    .await
                    .expect("renders")
            }
        })
    });
    group.bench_function("split_label_no_key", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render_prompt(black_box("bench/ab@experiment"), black_box(&vars))
                .await
                .expect("renders")
        })
    });
    group.finish();

    // The assignment alone: one key hash and a weighted rendezvous pick over the variants.
    let split: Split = "1.0.0=90 1.1.0=10".parse().expect("split");
    let seed = prompt_manager::split::context_seed("bench/ab", "experiment");
    let hashes: Vec<u64> = split
        .variants()
        .iter()
        .map(|v| prompt_manager::split::version_hash(&v.version))
        .collect();
    let weights: Vec<u32> = split.variants().iter().map(|v| v.weight).collect();
    let mut group = c.benchmark_group("split/assign");
    group.bench_function("two_variants", |b| {
        b.iter(|| {
            let key = prompt_manager::split::split_key_hash(seed, black_box("user-000042"));
            prompt_manager::split::pick_by_key(key, &hashes, &weights)
        })
    });
    let ten: Split = (0..10)
        .map(|i| format!("1.{i}.0=10"))
        .collect::<Vec<_>>()
        .join(" ")
        .parse()
        .expect("split");
    let ten_hashes: Vec<u64> = ten
        .variants()
        .iter()
        .map(|v| prompt_manager::split::version_hash(&v.version))
        .collect();
    let ten_weights: Vec<u32> = ten.variants().iter().map(|v| v.weight).collect();
    group.bench_function("ten_variants", |b| {
        b.iter(|| {
            let key = prompt_manager::split::split_key_hash(seed, black_box("user-000042"));
            prompt_manager::split::pick_by_key(key, &ten_hashes, &ten_weights)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_split);
criterion_main!(benches);
