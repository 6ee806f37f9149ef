//! Observability for prompt-manager: a one-call logging setup, a Prometheus metrics observer, a
//! logging observer, and (feature `otlp`) OpenTelemetry export of traces and metrics over OTLP/HTTP.
//! It depends on `prompt-manager-core` only; the umbrella wires it to a `PromptManager`.
//!
//! - [`init_logging`]: human-readable or JSON log lines on stderr with a `RUST_LOG`-style filter.
//! - [`MetricsObserver`]: renders, render errors by code and kind, a latency histogram, versions
//!   created, label moves and render-cache counters, labelled by prompt id — and the render figures
//!   by version and label too — with bounded cardinality ([`MetricsConfig`]), in the Prometheus
//!   text format ([`MetricsObserver::render_prometheus`]).
//! - [`LoggingObserver`]: render errors at `warn`, versions and label moves at `info`.
//! - `init_telemetry` (feature `otlp`): the above plus OTLP/HTTP export of the `tracing` spans and
//!   of the metrics when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! - [`attributes`]: the span-field and attribute names (`gen_ai.prompt.name`, …) that render spans
//!   carry, shared with the core.
//!
//! ```
//! use std::sync::Arc;
//! use prompt_manager_core::Observer;
//! use prompt_manager_observability::{LoggingObserver, MetricsConfig, MetricsObserver};
//!
//! // Once, at start-up: `init_logging(LogFormat::Json, &filter_from_env("info"))?;`
//! let metrics = MetricsObserver::new(MetricsConfig::first_seen(100));
//! let observers: Vec<Arc<dyn Observer>> = vec![Arc::new(LoggingObserver::new()), Arc::new(metrics.clone())];
//! // `PromptManager::builder().observer(…)` for each; then, on each scrape of `/metrics`:
//! // `metrics.record_cache_stats(&pm.cache_stats());`
//! let body = metrics.render_prometheus();
//! assert!(body.contains("prompt_manager_render_duration_seconds"));
//! # drop(observers);
//! ```

pub mod attributes;
mod logging;
mod metrics;

pub use logging::{EVENTS_TARGET, InitError, LogFormat, LoggingObserver, filter_from_env, init_logging};
pub use metrics::{
    DEFAULT_LATENCY_BUCKETS, DEFAULT_MAX_PROMPT_IDS, DEFAULT_MAX_RENDER_SERIES, MetricsConfig, MetricsObserver,
    OTHER_LABEL, OTHER_PROMPT, OTHER_VERSION, PromptIdLabels, UNRESOLVED_PROMPT,
};
#[cfg(feature = "otlp")]
mod otlp;

#[cfg(feature = "otlp")]
pub use otlp::{
    OTEL_EXPORTER_OTLP_ENDPOINT, OtlpEndpoint, SERVICE_NAME, Telemetry, TelemetryConfig, init_telemetry,
    init_telemetry_with,
};
