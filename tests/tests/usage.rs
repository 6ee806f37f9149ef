//! Usage records end to end, with real stores: renders and reports add up exactly in analytics;
//! two processes flushing to one PostgreSQL database (and one SQLite file) add up exactly; a
//! SQLite store keeps the sums across a restart; render ids round-trip and garbage is refused;
//! input tokens are counted for sampled renders and estimated for the rest; memory stays bounded
//! with many prompts, and what was dropped is counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use prompt_manager::analytics::{TokenAccuracy, UsageSummary};
use prompt_manager::{
    AnalyticsQuery, Bucket, ErrorKind, Feedback, GroupBy, ModelConfig, Prompt, PromptManager, RenderOutput,
    UsageConfig, UsageReport, Variables,
};
use prompt_manager_core::{NanoUsd, Price, PriceBook, TokenCount, TokenCounter, TokenMethod};
use prompt_manager_tests::postgres::TestSchema;

const WORKER: &str = env!("CARGO_BIN_EXE_store-worker");

/// One token per whitespace-separated word: exact by its own rules, so tests know the count.
#[derive(Debug)]
struct WordCounter;

impl TokenCounter for WordCounter {
    fn count(&self, _model: Option<&str>, output: &RenderOutput) -> TokenCount {
        let words = match output {
            RenderOutput::Text(t) => t.split_whitespace().count(),
            RenderOutput::Messages(ms) => ms.iter().map(|m| m.content.split_whitespace().count()).sum(),
        };
        TokenCount {
            tokens: words as u64,
            method: TokenMethod::Exact("words"),
        }
    }
}

/// `test-model` at $1 per million input tokens and $2 per million output tokens; no other model.
#[derive(Debug)]
struct TestPrices;

impl PriceBook for TestPrices {
    fn price(&self, model: &str) -> Option<Price> {
        (model == "test-model").then_some(Price {
            input: 1.0,
            output: 2.0,
            cached_input: None,
        })
    }
}

fn day() -> AnalyticsQuery {
    AnalyticsQuery::last(Duration::from_secs(86_400), Bucket::Hour, GroupBy::Version)
}

async fn totals(pm: &PromptManager, id: &str, by: GroupBy) -> Vec<UsageSummary> {
    let query = AnalyticsQuery { by, ..day() };
    pm.analytics(id, &query)
        .await
        .unwrap()
        .groups
        .into_iter()
        .map(|g| g.totals)
        .collect()
}

async fn greeting(pm: &PromptManager, model: Option<&str>) {
    let mut prompt = Prompt::text("greeting", "Hello {{ name }}, welcome to the show").unwrap();
    prompt.model_config = ModelConfig {
        model: model.map(str::to_owned),
        ..ModelConfig::default()
    };
    pm.create(prompt).await.unwrap();
    pm.set_label("greeting", "production", "1.0.0").await.unwrap();
}

#[tokio::test]
async fn renders_and_reports_add_up_in_analytics() {
    let pm = prompt_manager::builder()
        .usage(UsageConfig::default())
        .token_counter(Arc::new(WordCounter))
        .prices(Arc::new(TestPrices))
        .build()
        .unwrap();
    greeting(&pm, Some("test-model")).await;
    let vars = Variables::new().with("name", "Ada");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            pm.render_prompt("greeting@production", &vars)
                .await
                .unwrap()
                .render_id
                .unwrap(),
        );
    }
    pm.render("greeting@1.0.0", &vars).await.unwrap();
    // Two failures of one kind: the variable is missing.
    for _ in 0..2 {
        let err = pm.render("greeting@production", &Variables::new()).await.unwrap_err();
        assert_eq!(err.code(), "invalid_variables");
    }
    let token = prompt_manager::RenderId::parse(ids[0].as_str()).unwrap();
    assert_eq!(token.key.prompt_id.as_str(), "greeting");
    assert_eq!(token.key.label.as_ref().map(|l| l.as_str()), Some("production"));
    for (i, id) in ids.iter().enumerate() {
        let report = UsageReport {
            output_tokens: Some(100),
            model_latency_ms: Some(200 + i as u64 * 100),
            actual_cost: (i == 2).then_some(NanoUsd(1_000_000)),
        };
        pm.report_usage(id.as_str(), &report).await.unwrap();
        let feedback = Feedback {
            success: Some(i != 1),
            score: Some(i as f64 + 1.0),
        };
        pm.report_feedback(id.as_str(), &feedback).await.unwrap();
    }
    assert!(pm.usage_keys_in_memory() > 0);
    let flushed = pm.flush_usage().await.unwrap();
    assert_eq!(flushed.renders, 6);
    assert_eq!(pm.usage_keys_in_memory(), 0);

    let by_label = totals(&pm, "greeting", GroupBy::Label).await;
    assert_eq!(by_label.len(), 2, "production and no label");
    let production = &by_label[1];
    assert_eq!(production.renders, 5);
    assert_eq!(production.errors, 2);
    assert_eq!(production.errors_by_kind["invalid_variables"], 2);
    assert_eq!(production.error_rate, Some(0.4));
    let text = "Hello Ada, welcome to the show";
    assert_eq!(production.output_bytes, 3 * text.len() as u64);
    // Two of the three successful renders were sampled and counted, the third estimated from
    // their tokens per byte: the same output, so the same count.
    assert_eq!(production.input_tokens, Some(3 * 6));
    assert_eq!(production.output_tokens, 300);
    assert_eq!(production.usage_reports, 3);
    assert_eq!(production.model_latency_mean_ms, Some(300.0));
    assert_eq!(production.successes, 2);
    assert_eq!(production.failures, 1);
    assert_eq!(production.mean_score, Some(2.0));
    assert_eq!(production.score_sd, Some(1.0));
    assert!(production.latency_p50_us.is_some() && production.latency_p95_us >= production.latency_p50_us);
    // Input: 18 tokens at $1/M = 18,000 nano-dollars; output: 2 reports × 100 tokens at $2/M;
    // actual: $0.001 for the third, whose input estimate (a third of the input cost) is left out.
    assert_eq!(production.input_cost, Some(NanoUsd(18_000)));
    assert_eq!(
        production.total_cost,
        Some(NanoUsd(1_000_000 + 2 * 200_000 + 18_000 * 2 / 3))
    );
    let all = totals(&pm, "greeting", GroupBy::Version).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].renders, 6);

    // Minute and day rows hold the same sums as the hour rows.
    for bucket in [Bucket::Minute, Bucket::Day] {
        let query = AnalyticsQuery { bucket, ..day() };
        let analytics = pm.analytics("greeting", &query).await.unwrap();
        let renders: u64 = analytics.groups.iter().map(|g| g.totals.renders).sum();
        assert_eq!(renders, 6, "{bucket} rows");
    }
}

#[tokio::test]
async fn render_ids_are_checked_and_reports_need_a_usage_store() {
    let pm = prompt_manager::builder().usage(UsageConfig::default()).build().unwrap();
    greeting(&pm, None).await;
    for bad in ["", "nonsense", "r1AAAAAAAAAAAAAAAAAAAAAAAA", "r1!!"] {
        let err = pm
            .report_feedback(
                bad,
                &Feedback {
                    success: Some(true),
                    score: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
        assert!(err.to_string().contains("render id"), "{err}");
    }
    let rendered = pm
        .render_prompt("greeting", &Variables::new().with("name", "x"))
        .await
        .unwrap();
    let id = rendered.render_id.unwrap();
    let empty = pm.report_usage(id.as_str(), &UsageReport::default()).await.unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidInput);
    let nan = pm
        .report_feedback(
            id.as_str(),
            &Feedback {
                success: None,
                score: Some(f64::INFINITY),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(nan.kind(), ErrorKind::InvalidInput);

    // Without recording, renders carry no id; reports still go straight to a store that keeps usage.
    let plain = prompt_manager::in_memory();
    greeting(&plain, None).await;
    let rendered = plain
        .render_prompt("greeting", &Variables::new().with("name", "x"))
        .await
        .unwrap();
    assert_eq!(rendered.render_id, None);
    plain
        .report_usage(
            id.as_str(),
            &UsageReport {
                output_tokens: Some(5),
                ..UsageReport::default()
            },
        )
        .await
        .unwrap();
    let t = totals(&plain, "greeting", GroupBy::Version).await;
    assert_eq!((t[0].renders, t[0].output_tokens), (0, 5));

    // A folder store keeps no usage and says so.
    let folder = tempfile::tempdir().unwrap();
    let dir = prompt_manager::open(&format!("dir://{}", folder.path().display()))
        .await
        .unwrap();
    let err = dir
        .report_usage(
            id.as_str(),
            &UsageReport {
                output_tokens: Some(5),
                ..UsageReport::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("sqlite://"), "{err}");
}

#[tokio::test]
async fn tokens_are_estimated_past_the_samples_and_absent_without_a_counter() {
    let pm = prompt_manager::builder()
        .usage(UsageConfig::default())
        .token_counter(Arc::new(WordCounter))
        .build()
        .unwrap();
    greeting(&pm, Some("unpriced-model")).await;
    let vars = Variables::new().with("name", "Ada");
    for _ in 0..200 {
        pm.render("greeting@production", &vars).await.unwrap();
    }
    pm.flush_usage().await.unwrap();
    let t = &totals(&pm, "greeting", GroupBy::Version).await[0];
    assert_eq!(t.renders, 200);
    // Every render has the same output, so the estimate from the sampled ratio is exact in value.
    assert_eq!(t.input_tokens, Some(200 * 6));
    assert_eq!(t.input_tokens_accuracy, TokenAccuracy::Estimated);
    assert_eq!(t.input_cost, None, "an unpriced model has no cost, not a zero one");
    assert_eq!(t.total_cost, None);

    // The core builder: no token counter (the umbrella's `builder()` sets one).
    let bare = PromptManager::builder()
        .engine(Arc::new(prompt_manager::MiniJinjaEngine::new()))
        .store(Arc::new(prompt_manager::MemoryStore::new()))
        .usage(UsageConfig::default())
        .build()
        .unwrap();
    greeting(&bare, Some("test-model")).await;
    bare.render("greeting", &vars).await.unwrap();
    bare.flush_usage().await.unwrap();
    let t = &totals(&bare, "greeting", GroupBy::Version).await[0];
    assert_eq!(
        (t.renders, t.input_tokens, t.input_tokens_accuracy),
        (1, None, TokenAccuracy::None)
    );
}

#[tokio::test]
async fn memory_is_bounded_with_many_prompts_and_losses_are_counted() {
    let pm = prompt_manager::builder()
        .usage(UsageConfig::default().with_max_keys(64))
        .build()
        .unwrap();
    let vars = Variables::new();
    for i in 0..500 {
        pm.create(Prompt::text(format!("many/p{i}"), "static text").unwrap())
            .await
            .unwrap();
    }
    for i in 0..500 {
        pm.render(&format!("many/p{i}"), &vars).await.unwrap();
    }
    // 64 keys over 16 shards: 4 per shard, and a single-threaded test uses one shard.
    assert!(pm.usage_keys_in_memory() <= 64, "{}", pm.usage_keys_in_memory());
    assert!(pm.usage_needs_flush(), "a full recorder asks for a flush");
    let report = pm.flush_usage().await.unwrap();
    assert_eq!(report.renders + report.lost_renders, 500, "{report:?}");
    assert!(report.lost_renders > 0);
    assert!(!pm.usage_needs_flush());
    // After a flush there is room again.
    pm.render("many/p0", &vars).await.unwrap();
    assert_eq!(pm.flush_usage().await.unwrap().renders, 1);
}

#[tokio::test]
async fn sqlite_keeps_exact_sums_across_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("usage.db").display());
    let open = || async {
        prompt_manager::builder()
            .store(prompt_manager::open_store(&url).await.unwrap())
            .usage(UsageConfig::default())
            .build()
            .unwrap()
    };
    let pm = open().await;
    greeting(&pm, None).await;
    let vars = Variables::new().with("name", "Ada");
    let mut last = None;
    for _ in 0..7 {
        last = pm.render_prompt("greeting@production", &vars).await.unwrap().render_id;
    }
    pm.flush_usage().await.unwrap();
    drop(pm);

    let pm = open().await;
    for _ in 0..5 {
        pm.render("greeting@production", &vars).await.unwrap();
    }
    // A report on a render of the first process, through the second.
    pm.report_feedback(
        last.unwrap().as_str(),
        &Feedback {
            success: Some(true),
            score: None,
        },
    )
    .await
    .unwrap();
    pm.flush_usage().await.unwrap();
    let t = &totals(&pm, "greeting", GroupBy::Version).await[0];
    assert_eq!((t.renders, t.successes), (12, 1));
}

struct Run {
    child: std::process::Child,
}

fn renderer(url: &str, reference: &str, n: usize) -> Run {
    let child =
        prompt_manager_tests::worker::start(WORKER, &["usage-renderer", url, reference, &n.to_string()]).unwrap();
    Run { child }
}

fn finish(mut run: Run, n: usize) {
    let status = run.child.wait().unwrap();
    let mut out = String::new();
    run.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    run.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "renderer failed ({status}):\n{err}");
    assert_eq!(out, format!("done {n}\n"), "{err}");
}

/// Two processes render one prompt at once, each flushing every 20 ms to the same store; the
/// totals are the exact sums of both.
async fn two_processes_add_up(url: &str) {
    const N: usize = 1_500;
    let pm = prompt_manager::builder()
        .store(prompt_manager::open_store(url).await.unwrap())
        .build()
        .unwrap();
    greeting(&pm, None).await;
    let runs = [
        renderer(url, "greeting@production", N),
        renderer(url, "greeting@production", N),
    ];
    for run in runs {
        finish(run, N);
    }
    let started = Utc::now();
    for by in [GroupBy::Version, GroupBy::Label, GroupBy::Variant] {
        let t = totals(&pm, "greeting", by).await;
        assert_eq!(t.len(), 1, "{by:?}: {t:#?}");
        let t = &t[0];
        assert_eq!(t.renders, 2 * N as u64);
        assert_eq!(t.errors, 0);
        assert_eq!(t.usage_reports, 2 * N as u64);
        assert_eq!(t.output_tokens, 2 * 10 * N as u64);
        assert_eq!(t.model_latency_mean_ms, Some(100.0));
        // Feedback on even renders; success on multiples of 4; score = i mod 5.
        assert_eq!(t.feedback, N as u64);
        assert_eq!(t.successes, 2 * (N as u64).div_ceil(4));
        let score_sum: u64 = (0..N).step_by(2).map(|i| (i % 5) as u64).sum();
        assert_eq!(t.mean_score, Some(2.0 * score_sum as f64 / N as f64));
    }
    assert!(Utc::now() >= started);
}

#[test]
fn two_processes_on_one_postgres_add_up_exactly() {
    let Some(schema) = TestSchema::new("two_processes_on_one_postgres_add_up_exactly") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(two_processes_add_up(schema.url()));
}

#[test]
fn two_processes_on_one_sqlite_file_add_up_exactly() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("usage.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(two_processes_add_up(&url));
}

#[tokio::test]
async fn split_renders_are_counted_under_their_variant_and_compared() {
    use prompt_manager::{Bump, RenderOptions, Split};
    let pm = prompt_manager::builder().usage(UsageConfig::default()).build().unwrap();
    greeting(&pm, None).await;
    pm.update(
        Prompt::text("greeting", "Hi {{ name }}!").unwrap(),
        Bump::Minor,
        "shorter",
    )
    .await
    .unwrap();
    let split: Split = "1.0.0=50 1.1.0=50".parse().unwrap();
    pm.set_split("greeting", "production", split).await.unwrap();
    let vars = Variables::new().with("name", "Ada");
    let mut served = std::collections::BTreeMap::<String, u64>::new();
    for i in 0..200 {
        let key = format!("user-{i}");
        let rendered = pm
            .render_prompt_with("greeting@production", &vars, &RenderOptions::split_key(&key))
            .await
            .unwrap();
        let id = rendered.render_id.unwrap();
        let token = prompt_manager::RenderId::parse(id.as_str()).unwrap();
        assert_eq!(
            token.key.version, rendered.version,
            "the token names the variant served"
        );
        assert_eq!(token.key.label.as_ref().map(|l| l.as_str()), Some("production"));
        *served.entry(rendered.version.to_string()).or_default() += 1;
        pm.report_feedback(
            id.as_str(),
            &Feedback {
                success: Some(i % 3 != 0),
                score: None,
            },
        )
        .await
        .unwrap();
    }
    pm.flush_usage().await.unwrap();
    let query = AnalyticsQuery {
        by: GroupBy::Variant,
        ..day()
    };
    let analytics = pm.analytics("greeting", &query).await.unwrap();
    let counted: std::collections::BTreeMap<String, u64> = analytics
        .groups
        .iter()
        .map(|g| (g.version.as_ref().unwrap().to_string(), g.totals.renders))
        .collect();
    assert_eq!(counted, served, "each variant counted as served");
    assert_eq!(analytics.experiments.len(), 1);
    let experiment = &analytics.experiments[0];
    assert_eq!(experiment.control, "1.0.0");
    assert_eq!(experiment.comparisons[0].comparison.variant, "1.1.0");
    assert_eq!(
        experiment.control_sample.feedback + experiment.comparisons[0].comparison.sample.feedback,
        200
    );
}
