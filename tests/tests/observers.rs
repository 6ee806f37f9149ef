//! The built-in observers on a real manager: metrics count renders, errors by kind, versions and
//! label moves, bounded by prompt id; a panicking observer never fails a render.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use prompt_manager::observability::{LoggingObserver, MetricsConfig, MetricsObserver};
use prompt_manager::{Observer, Prompt, PromptExecution, Variables};

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
        text.contains("prompt_manager_renders_total{prompt_id=\"a\"} 3"),
        "{text}"
    );
    // Only the first two ids get a series of their own; the third is `_other`.
    assert!(
        text.contains("prompt_manager_renders_total{prompt_id=\"_other\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("prompt_manager_render_errors_total{prompt_id=\"b\",code=\"invalid_variables\""),
        "{text}"
    );
    assert!(text.contains("prompt_manager_render_duration_seconds_bucket"), "{text}");
    assert!(
        text.contains("prompt_manager_label_moves_total{prompt_id=\"a\""),
        "{text}"
    );
}
