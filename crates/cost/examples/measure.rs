//! Prints what counting costs: the first use of each encoding (loading its ranks) and the time
//! of a count, over a few sizes. `cargo run --release -p prompt-manager-cost --example measure`
//! (the criterion figures are `cargo bench -p prompt-manager-benches --bench cost`).

#![allow(clippy::print_stdout, missing_docs)]

use std::time::Instant;

use prompt_manager_cost::{Counter, estimate_text};

fn main() {
    let counter = Counter::new();
    for model in ["gpt-4o", "gpt-4"] {
        let start = Instant::now();
        let count = counter.count_text(Some(model), "Hello, world!");
        println!("{model}: first count ({count:?}) took {:?}", start.elapsed());
    }
    let paragraph = "Customer support tickets arrive at all hours, and the triage model decides within \
        seconds whether a ticket is about billing, a bug, or a feature request (section 4.2). ";
    for repeat in [1usize, 10, 100, 1000] {
        let text = paragraph.repeat(repeat);
        for model in ["gpt-4o", "gpt-4", "claude-sonnet-4-5"] {
            let runs = 2000 / repeat.max(1) + 5;
            let start = Instant::now();
            let mut tokens = 0;
            for _ in 0..runs {
                tokens = counter.count_text(Some(model), &text).tokens;
            }
            let each = start.elapsed() / runs as u32;
            println!("{model}: {} bytes → {tokens} tokens in {each:?}", text.len());
        }
    }
    let worst = "a".repeat(100_000);
    let start = Instant::now();
    let tokens = counter.count_text(Some("gpt-4o"), &worst).tokens;
    println!(
        "gpt-4o: 100,000 × 'a' → {tokens} tokens in {:?} (estimate {})",
        start.elapsed(),
        estimate_text(&worst)
    );
}
