//! The built-in observers on a real manager: metrics count renders, errors by kind, versions and
//! label moves, bounded by prompt id, and renders by version and label, bounded by series; a
//! panicking observer never fails a render.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use prompt_manager::observability::{LoggingObserver, MetricsConfig, MetricsObserver};
use prompt_manager::{Bump, Observer, Prompt, PromptExecution, RenderOptions, Split, Variables};

struct Panics;

impl Observer for Panics {
    fn on_render_complete(&self, _: &PromptExecution<'_>) {
        panic!("a broken observer");
    }
}

#[tokio::test]
async fn metrics_and_logging_observers_on_a_manager() {
    let metrics = MetricsObserver::new(MetricsConfig::first_seen(2));
    let pm = prompt_manager::builder()
        .observer(Arc::new(LoggingObserver::new()))
        .observer(Arc::new(metrics.clone()))
        .observer(Arc::new(Panics))
        .build()
        .unwrap();
    for id in ["a", "b", "c"] {
        pm.create(Prompt::text(id, "Hello {{ name }}!").unwrap()).await.unwrap();
    }
    pm.set_label("a", "production", "1.0.0").await.unwrap();
    let vars = Variables::new().with("name", "Ada");
    for _ in 0..3 {
        // The panicking observer is caught: the render still succeeds.
        assert_eq!(pm.render("a@production", &vars).await.unwrap(), "Hello Ada!");
    }
    pm.render("c", &vars).await.unwrap();
    assert!(pm.render("b", &Variables::new()).await.is_err());
    metrics.record_cache_stats(&pm.cache_stats());

    let text = metrics.render_prometheus();
    assert!(
        text.contains("prompt_manager_renders_total{prompt_id=\"a\",version=\"1.0.0\",label=\"production\"} 3"),
        "{text}"
    );
    // Only the first two ids get a series of their own; the third is `_other`.
    assert!(
        text.contains("prompt_manager_renders_total{prompt_id=\"_other\",version=\"_other\",label=\"_other\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "prompt_manager_render_errors_total{prompt_id=\"b\",version=\"1.0.0\",label=\"\",code=\"invalid_variables\""
        ),
        "{text}"
    );
    assert!(text.contains("prompt_manager_render_duration_seconds_bucket"), "{text}");
    assert!(
        text.contains("prompt_manager_label_moves_total{prompt_id=\"a\""),
        "{text}"
    );
}

/// `(prompt_id, version, label) → renders` of the renders counter, read with an independent parser.
fn renders_by_series(text: &str) -> std::collections::BTreeMap<(String, String, String), f64> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    scrape
        .samples
        .into_iter()
        .filter(|s| s.metric == "prompt_manager_renders_total")
        .map(|s| {
            let prometheus_parse::Value::Counter(v) = s.value else {
                panic!("renders_total is a counter");
            };
            let get = |k: &str| s.labels.get(k).unwrap_or_default().to_owned();
            ((get("prompt_id"), get("version"), get("label")), v)
        })
        .collect()
}

fn scalar(text: &str, metric: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.split(' ').next() == Some(metric))
        .unwrap_or_else(|| panic!("{metric} is exported:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn renders_by_version_and_label_with_a_bounded_number_of_series() {
    let metrics = MetricsObserver::new(MetricsConfig::first_seen(10).with_max_render_series(3));
    let pm = prompt_manager::builder()
        .observer(Arc::new(metrics.clone()))
        .build()
        .unwrap();
    pm.create(Prompt::text("triage", "v1 {{ name }}").unwrap())
        .await
        .unwrap();
    pm.update(Prompt::text("triage", "v2 {{ name }}").unwrap(), Bump::Minor, "v2")
        .await
        .unwrap();
    pm.set_label("triage", "production", "1.0.0").await.unwrap();
    pm.set_label("triage", "staging", "1.1.0").await.unwrap();
    let vars = Variables::new().with("name", "Ada");
    for _ in 0..4 {
        assert_eq!(pm.render("triage@production", &vars).await.unwrap(), "v1 Ada");
    }
    for _ in 0..2 {
        assert_eq!(pm.render("triage@staging", &vars).await.unwrap(), "v2 Ada");
    }
    // Latest (no label named): the third series, and the last one the bound allows.
    pm.render("triage", &vars).await.unwrap();
    // Past the bound: an exact version, and a label moved to another version.
    pm.render("triage@1.0.0", &vars).await.unwrap();
    pm.set_label("triage", "staging", "1.0.0").await.unwrap();
    pm.render("triage@staging", &vars).await.unwrap();

    let text = metrics.render_prometheus();
    let series = renders_by_series(&text);
    let key = |v: &str, l: &str| ("triage".to_owned(), v.to_owned(), l.to_owned());
    assert_eq!(series.get(&key("1.0.0", "production")), Some(&4.0), "{text}");
    assert_eq!(series.get(&key("1.1.0", "staging")), Some(&2.0), "{text}");
    assert_eq!(series.get(&key("1.1.0", "")), Some(&1.0), "{text}");
    assert_eq!(series.get(&key("_other", "_other")), Some(&2.0), "{text}");
    assert_eq!(series.len(), 4, "three series and the folded one: {series:?}");
    assert_eq!(series.values().sum::<f64>(), 9.0, "every render is counted once");
    assert_eq!(scalar(&text, "prompt_manager_render_series"), 3.0);
    assert_eq!(scalar(&text, "prompt_manager_render_series_limit"), 3.0);
    assert_eq!(scalar(&text, "prompt_manager_render_series_overflow_total"), 2.0);
    // The histogram carries the same labels.
    assert!(
        text.contains(
            "prompt_manager_render_duration_seconds_count{prompt_id=\"triage\",version=\"1.0.0\",label=\"production\"} 4\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_split_labels_each_render_with_the_variant_that_served_it() {
    let metrics = MetricsObserver::new(MetricsConfig::default());
    let pm = prompt_manager::builder()
        .observer(Arc::new(metrics.clone()))
        .build()
        .unwrap();
    pm.create(Prompt::text("ab", "A {{ name }}").unwrap()).await.unwrap();
    pm.update(Prompt::text("ab", "B {{ name }}").unwrap(), Bump::Minor, "b")
        .await
        .unwrap();
    pm.set_split("ab", "production", "1.0.0=50 1.1.0=50".parse::<Split>().unwrap())
        .await
        .unwrap();
    let vars = Variables::new().with("name", "x");
    let mut served = std::collections::BTreeMap::<String, f64>::new();
    for i in 0..200 {
        let key = format!("user-{i}");
        let rendered = pm
            .render_prompt_with("ab@production", &vars, &RenderOptions::split_key(&key))
            .await
            .unwrap();
        *served.entry(rendered.version.to_string()).or_default() += 1.0;
    }
    assert_eq!(served.len(), 2, "both variants served: {served:?}");
    let series = renders_by_series(&metrics.render_prometheus());
    for (version, n) in &served {
        assert_eq!(
            series.get(&("ab".to_owned(), version.clone(), "production".to_owned())),
            Some(n),
            "{series:?}"
        );
    }
}
