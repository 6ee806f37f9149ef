//! Warm renders through `PromptManager` by reference, side by side with rendering the same
//! compiled minijinja template directly, on the shared workload (`benches/workload/`).
//!
//! `cargo bench -p prompt-manager-benches --bench render`

#![allow(clippy::expect_used, missing_docs)]

use criterion::async_executor::FuturesExecutor;
use criterion::{Criterion, criterion_group, criterion_main};
use prompt_manager::{ChatItem, ChatMessage, Prompt, PromptManager, Variables};
use std::hint::black_box;

fn workload(file: &str) -> String {
    let path = format!("{}/workload/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn data(key: &str) -> serde_json::Value {
    let all: serde_json::Value = serde_json::from_str(&workload("data.json")).expect("valid json");
    all[key].clone()
}

fn manager() -> PromptManager {
    fill(prompt_manager::in_memory())
}

/// A manager with the rendered-output cache on.
fn cached_manager() -> PromptManager {
    fill(
        prompt_manager::builder()
            .render_cache(prompt_manager::RenderCacheConfig::default())
            .build()
            .expect("manager"),
    )
}

fn fill(pm: PromptManager) -> PromptManager {
    futures_block_on(async {
        pm.create(Prompt::text("bench/simple", workload("simple.j2")).expect("valid"))
            .await
            .expect("create");
        pm.set_label("bench/simple", "production", "1.0.0")
            .await
            .expect("label");
        let messages: Vec<ChatMessage> = serde_json::from_str(&workload("complex_chat.json")).expect("messages");
        let chat = Prompt::chat("bench/complex", messages.into_iter().map(ChatItem::Message)).expect("valid");
        pm.create(chat).await.expect("create");
        pm.set_label("bench/complex", "production", "1.0.0")
            .await
            .expect("label");
        pm.create(Prompt::text("bench/complex-text", workload("complex.j2")).expect("valid"))
            .await
            .expect("create");
        pm.set_label("bench/complex-text", "production", "1.0.0")
            .await
            .expect("label");
    });
    pm
}

fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

fn bench_simple(c: &mut Criterion) {
    let pm = manager();
    let json = data("simple");
    let vars = Variables::try_from(json.clone()).expect("object");
    let env = env();
    let source = workload("simple.j2");
    let template = env.template_from_str(&source).expect("compiles");
    let prepared = minijinja::Value::from(minijinja::value::Serde(&json));
    assert_eq!(
        template.render(prepared.clone()).expect("renders"),
        futures_block_on(pm.render("bench/simple@production", &vars)).expect("renders")
    );

    let mut group = c.benchmark_group("render/simple_text");
    group.bench_function("minijinja_direct_prepared_context", |b| {
        b.iter(|| template.render(black_box(prepared.clone())).expect("renders"))
    });
    group.bench_function("minijinja_direct_from_json", |b| {
        b.iter(|| {
            template
                .render(minijinja::Value::from(minijinja::value::Serde(black_box(&json))))
                .expect("renders")
        })
    });
    group.bench_function("manager_by_reference", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render(black_box("bench/simple@production"), black_box(&vars))
                .await
                .expect("renders")
        })
    });
    // What the executor alone costs per iteration, to read the line above against.
    group.bench_function("executor_overhead_ready_future", |b| {
        b.to_async(FuturesExecutor).iter(|| async { black_box(1) })
    });
    group.finish();
}

fn bench_complex(c: &mut Criterion) {
    let pm = manager();
    let json = data("complex");
    let vars = Variables::try_from(json.clone()).expect("object");
    let env = env();
    let messages: Vec<ChatMessage> = serde_json::from_str(&workload("complex_chat.json")).expect("messages");
    let templates: Vec<_> = messages
        .iter()
        .map(|m| env.template_from_str(&m.content).expect("compiles"))
        .collect();
    let prepared = minijinja::Value::from(minijinja::value::Serde(&json));
    let text_source = workload("complex.j2");
    let text_template = env.template_from_str(&text_source).expect("compiles");

    let mut group = c.benchmark_group("render/complex_chat");
    group.bench_function("minijinja_direct_prepared_context", |b| {
        b.iter(|| {
            templates
                .iter()
                .map(|t| t.render(black_box(prepared.clone())).expect("renders"))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("minijinja_direct_from_json", |b| {
        b.iter(|| {
            let ctx = minijinja::Value::from(minijinja::value::Serde(black_box(&json)));
            templates
                .iter()
                .map(|t| t.render(ctx.clone()).expect("renders"))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("manager_by_reference", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render_chat(black_box("bench/complex@production"), black_box(&vars))
                .await
                .expect("renders")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("render/complex_text");
    group.bench_function("minijinja_direct_prepared_context", |b| {
        b.iter(|| text_template.render(black_box(prepared.clone())).expect("renders"))
    });
    group.bench_function("manager_by_reference", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render(black_box("bench/complex-text@production"), black_box(&vars))
                .await
                .expect("renders")
        })
    });
    group.finish();
}

/// The rendered-output cache: a hit returns the kept output of the same version and variables.
/// The same prompts written in Handlebars (`simple.hbs`, `complex.hbs`), through the manager.
fn bench_handlebars(c: &mut Criterion) {
    let pm = manager();
    futures_block_on(async {
        for (id, file) in [("bench/hbs-simple", "simple.hbs"), ("bench/hbs-complex", "complex.hbs")] {
            let prompt = Prompt::text(id, workload(file))
                .expect("valid")
                .with_syntax(prompt_manager::TemplateSyntax::Handlebars);
            pm.create(prompt).await.expect("create");
        }
    });
    let simple = Variables::try_from(data("simple")).expect("object");
    let complex = Variables::try_from(data("complex")).expect("object");
    assert_eq!(
        futures_block_on(pm.render("bench/hbs-simple", &simple)).expect("renders"),
        futures_block_on(pm.render("bench/simple@production", &simple)).expect("renders"),
        "the Handlebars prompt says what the Jinja one says"
    );
    futures_block_on(pm.render("bench/hbs-complex", &complex)).expect("renders");
    let mut group = c.benchmark_group("render/handlebars");
    for (name, id, vars) in [
        ("simple_text", "bench/hbs-simple", &simple),
        ("complex_text", "bench/hbs-complex", &complex),
    ] {
        group.bench_function(format!("{name}/manager_by_reference"), |b| {
            b.to_async(FuturesExecutor)
                .iter(|| async { pm.render(black_box(id), black_box(vars)).await.expect("renders") })
        });
    }
    group.finish();
}

fn bench_cache_hit(c: &mut Criterion) {
    let pm = cached_manager();
    let simple = Variables::try_from(data("simple")).expect("object");
    let complex = Variables::try_from(data("complex")).expect("object");
    let mut group = c.benchmark_group("render/cache_hit");
    group.bench_function("simple_text", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render(black_box("bench/simple@production"), black_box(&simple))
                .await
                .expect("renders")
        })
    });
    group.bench_function("complex_chat", |b| {
        b.to_async(FuturesExecutor).iter(|| async {
            pm.render_chat(black_box("bench/complex@production"), black_box(&complex))
                .await
                .expect("renders")
        })
    });
    group.finish();
    // When a filter skipped both benches above, nothing was rendered and there is nothing to check.
    let stats = pm.cache_stats();
    assert!(
        stats.render_hits + stats.render_misses == 0 || stats.render_hits > stats.render_misses,
        "the bench measured hits: {stats:?}"
    );
}

/// The cost of the built-in observers: the simple render with the logging and metrics observers
/// attached, against the same render without observers.
fn bench_observers(c: &mut Criterion) {
    use prompt_manager::observability::{LoggingObserver, MetricsConfig, MetricsObserver};
    let plain = manager();
    let observed = fill(
        prompt_manager::builder()
            .observer(std::sync::Arc::new(LoggingObserver::new()))
            .observer(std::sync::Arc::new(MetricsObserver::new(MetricsConfig::default())))
            .build()
            .expect("manager"),
    );
    let vars = Variables::try_from(data("simple")).expect("object");
    let mut group = c.benchmark_group("render/observers");
    for (name, pm) in [("none", &plain), ("logging_and_metrics", &observed)] {
        group.bench_function(name, |b| {
            b.to_async(FuturesExecutor).iter(|| async {
                pm.render(black_box("bench/simple@production"), black_box(&vars))
                    .await
                    .expect("renders")
            })
        });
    }
    group.finish();
}

/// The metrics observer's own share of a render: recording one (the prompt id, then its version
/// and label looked up, the latency histogram bumped), without the render around it.
fn bench_metrics_record(c: &mut Criterion) {
    use prompt_manager::observability::{MetricsConfig, MetricsObserver};
    use prompt_manager::{LabelName, Observer, PromptExecution, PromptId};
    let metrics = MetricsObserver::new(MetricsConfig::default());
    let id = PromptId::new("bench/simple").expect("id");
    let version = prompt_manager::semver::Version::new(1, 2, 0);
    let label = LabelName::new("production").expect("label");
    let execution = PromptExecution {
        id: 1,
        reference: "bench/simple@production",
        prompt_id: Some(&id),
        version: Some(&version),
        label: Some(&label),
        duration: std::time::Duration::from_micros(3),
        error: None,
        output_bytes: 10,
        token_estimate: 3,
    };
    c.bench_function("render/observers/metrics_record", |b| {
        b.iter(|| metrics.on_render_complete(black_box(&execution)))
    });
}

/// The cost of usage recording on the render path: the same renders with recording off and on
/// (no flush during the measurement: flushing is a background task, off the render path).
/// `render_prompt` also builds the render id.
fn bench_usage(c: &mut Criterion) {
    let off = manager();
    let on = fill(
        prompt_manager::builder()
            .usage(prompt_manager::UsageConfig::default())
            .build()
            .expect("manager"),
    );
    let simple = Variables::try_from(data("simple")).expect("object");
    let complex = Variables::try_from(data("complex")).expect("object");
    let mut group = c.benchmark_group("render/usage");
    for (name, pm) in [("off", &off), ("on", &on)] {
        group.bench_function(format!("simple_text/{name}"), |b| {
            b.to_async(FuturesExecutor).iter(|| async {
                pm.render(black_box("bench/simple@production"), black_box(&simple))
                    .await
                    .expect("renders")
            })
        });
    }
    for (name, pm) in [("off", &off), ("on", &on)] {
        group.bench_function(format!("simple_render_prompt/{name}"), |b| {
            b.to_async(FuturesExecutor).iter(|| async {
                pm.render_prompt(black_box("bench/simple@production"), black_box(&simple))
                    .await
                    .expect("renders")
            })
        });
    }
    for (name, pm) in [("off", &off), ("on", &on)] {
        group.bench_function(format!("complex_chat/{name}"), |b| {
            b.to_async(FuturesExecutor).iter(|| async {
                pm.render_chat(black_box("bench/complex@production"), black_box(&complex))
                    .await
                    .expect("renders")
            })
        });
    }
    group.finish();
    assert!(on.usage_keys_in_memory() > 0, "the recording manager recorded");
}

criterion_group!(
    benches,
    bench_simple,
    bench_complex,
    bench_handlebars,
    bench_cache_hit,
    bench_observers,
    bench_metrics_record,
    bench_usage
);
criterion_main!(benches);
