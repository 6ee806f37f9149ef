//! Token counting and pricing (`prompt-manager-cost`): what `cost`, `diff` and usage recording
//! pay per render. The workload is the complex chat prompt's messages
//! (`benches/workload/complex_chat.json`, about 2 KB of text in 6 messages) counted as a chat
//! request: `cost/count/complex_chat/o200k_base` (gpt-4o), `…/cl100k_base` (gpt-4),
//! `…/estimate` (claude-sonnet-4-5); `cost/count/long_text/o200k_base` a 20 KB text; and
//! `cost/price/…` a price lookup by exact name and by a dated snapshot. The first use of each
//! encoding loads its ranks; the time it took is printed once, before the benchmarks.
//!
//! `cargo bench -p prompt-manager-benches --bench cost`

#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use prompt_manager::cost::{Counter, PriceTable};
use prompt_manager::{ChatMessage, PriceBook, RenderOutput, TokenCounter};

fn workload(file: &str) -> String {
    let path = format!("{}/workload/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bench_cost(c: &mut Criterion) {
    let messages: Vec<ChatMessage> = serde_json::from_str(&workload("complex_chat.json")).expect("messages");
    let chat = RenderOutput::Messages(messages);
    let long = RenderOutput::Text(
        "Customer support tickets arrive at all hours, and the triage model decides within seconds whether a \
         ticket is about billing, a bug, or a feature request (section 4.2: refunds within 30 days). "
            .repeat(100),
    );
    let counter = Counter::new();
    for model in ["gpt-4o", "gpt-4"] {
        let start = Instant::now();
        let count = counter.count(Some(model), &chat);
        eprintln!(
            "first count with {model} ({count:?}), loading its encoding: {:?}",
            start.elapsed()
        );
    }
    let mut group = c.benchmark_group("cost/count");
    for (name, model) in [
        ("o200k_base", "gpt-4o"),
        ("cl100k_base", "gpt-4"),
        ("estimate", "claude-sonnet-4-5"),
    ] {
        group.bench_function(format!("complex_chat/{name}"), |b| {
            b.iter(|| counter.count(black_box(Some(model)), black_box(&chat)))
        });
    }
    group.bench_function("long_text/o200k_base", |b| {
        b.iter(|| counter.count(black_box(Some("gpt-4o")), black_box(&long)))
    });
    group.finish();

    let prices = PriceTable::shipped();
    let mut group = c.benchmark_group("cost/price");
    group.bench_function("exact", |b| b.iter(|| prices.price(black_box("gpt-4o-mini"))));
    group.bench_function("snapshot", |b| {
        b.iter(|| prices.price(black_box("claude-sonnet-4-5-20250929")))
    });
    group.bench_function("shipped_table_parse", |b| b.iter(PriceTable::shipped));
    group.finish();
}

criterion_group!(benches, bench_cost);
criterion_main!(benches);
