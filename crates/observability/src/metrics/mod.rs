//! The metrics observer: render counts, errors by code and kind, a latency histogram, version and
//! label events and the render-cache counters, kept in atomics and exposed in the Prometheus text
//! format. Exporting the same figures over OTLP lives in `otlp.rs`.
//!
//! Every series is labelled by prompt id with a bounded set of values: an allow-list, or the first N
//! distinct ids seen; every other id is counted under [`OTHER_PROMPT`]. Renders whose reference did
//! not resolve to a prompt are counted under [`UNRESOLVED_PROMPT`]. Both values start with `_`, which a
//! [`PromptId`] never does, so they can never collide with a real prompt.
//!
//! The render series (renders, errors, latency) are also labelled by `version` (the exact version
//! rendered; for a split label, the variant chosen) and `label` (the label the reference named, or
//! empty). Their number is bounded too: at most [`MetricsConfig::max_render_series`] distinct
//! (prompt id, version, label) series per observer (default [`DEFAULT_MAX_RENDER_SERIES`]); a
//! render that would need one more is counted in its prompt id's [`OTHER_VERSION`] /
//! [`OTHER_LABEL`] series and in `prompt_manager_render_series_overflow_total`. Neither a semver
//! version nor a label name can start with `_`, so these values never collide with real ones.
//!
//! Here: [`MetricsObserver`], what it hears from the manager and its constructor. Elsewhere in this
//! folder: the configuration (`config.rs`), one id's series (`series.rs`), the bounded id map
//! (`registry.rs`) and the text format (`prometheus.rs`). Errors are labelled by core's tables
//! (`Error::CODES`, `ErrorKind::as_str`), never by a copy of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use prompt_manager_core::{CacheStats, Error, LabelEvent, Observer, PromptExecution, PromptId, PromptVersion};

mod config;
mod prometheus;
mod registry;
mod series;
#[cfg(test)]
mod tests;

pub use config::{
    DEFAULT_LATENCY_BUCKETS, DEFAULT_MAX_PROMPT_IDS, DEFAULT_MAX_RENDER_SERIES, MetricsConfig, PromptIdLabels,
};
pub(crate) use registry::Inner;
use series::{CacheFigures, IdMetrics, label_move_index};

/// The label value of every prompt id outside the allow-list or past the first N.
pub const OTHER_PROMPT: &str = "_other";
/// The label value of renders whose reference resolved to no prompt (not found, invalid reference).
pub const UNRESOLVED_PROMPT: &str = "_unresolved";
/// The `version` label value of renders past the render-series bound, and of every render
/// counted under [`OTHER_PROMPT`].
pub const OTHER_VERSION: &str = "_other";
/// The `label` label value of renders past the render-series bound, and of every render counted
/// under [`OTHER_PROMPT`].
pub const OTHER_LABEL: &str = "_other";

/// An [`Observer`] that counts renders, render errors (by error code and kind), versions created and
/// label moves, keeps a render-latency histogram, and renders it all in the Prometheus text format.
///
/// Cheap to clone; clones share the figures, so one clone goes to the manager and another serves
/// `/metrics`. Recording a render costs a few relaxed atomic adds and two lookups in concurrent
/// maps (the prompt id, then its version and label), without allocating (except the first time an
/// id or a series is admitted).
///
/// ```
/// use std::sync::Arc;
/// use prompt_manager_observability::{MetricsConfig, MetricsObserver};
///
/// let metrics = MetricsObserver::new(MetricsConfig::first_seen(50));
/// // builder.observer(Arc::new(metrics.clone()))  — then, on a scrape:
/// // metrics.record_cache_stats(&pm.cache_stats());
/// let text = metrics.render_prometheus();
/// assert!(text.contains("# TYPE prompt_manager_renders_total counter"));
/// ```
#[derive(Clone)]
pub struct MetricsObserver {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for MetricsObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsObserver")
            .field("labelled_ids", &self.inner.ids.len())
            .field("first_seen_limit", &self.inner.first_seen_limit)
            .field("render_series", &self.inner.series_admitted.load(Ordering::Relaxed))
            .field("max_render_series", &self.inner.series_limit)
            .finish_non_exhaustive()
    }
}

impl Default for MetricsObserver {
    fn default() -> Self {
        MetricsObserver::new(MetricsConfig::default())
    }
}

impl MetricsObserver {
    /// A metrics observer with nothing recorded yet.
    pub fn new(config: MetricsConfig) -> Self {
        let mut bounds = config.latency_buckets;
        bounds.sort_unstable();
        bounds.dedup();
        let bounds_nanos: Box<[u64]> = bounds
            .iter()
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .collect();
        let bounds_seconds = bounds.iter().map(Duration::as_secs_f64).collect();
        let n = bounds_nanos.len();
        let ids = papaya::HashMap::with_hasher(foldhash::fast::RandomState::default());
        let first_seen_limit = match config.prompt_ids {
            PromptIdLabels::AllowList(allow) => {
                let pinned = ids.pin();
                for id in allow {
                    let metrics = Arc::new(IdMetrics::new(id.as_str(), n));
                    pinned.insert(id, metrics);
                }
                None
            }
            PromptIdLabels::FirstSeen(limit) => Some(limit),
        };
        MetricsObserver {
            inner: Arc::new(Inner {
                ids,
                first_seen_limit,
                admitted: AtomicUsize::new(0),
                series_limit: config.max_render_series,
                series_admitted: AtomicUsize::new(0),
                series_overflow: AtomicU64::new(0),
                other: Arc::new(IdMetrics::folded_only(OTHER_PROMPT, OTHER_VERSION, OTHER_LABEL, n)),
                unresolved: Arc::new(IdMetrics::folded_only(UNRESOLVED_PROMPT, "", "", n)),
                bounds_nanos,
                bounds_seconds,
                cache: CacheFigures::default(),
                #[cfg(feature = "otlp")]
                otel: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Takes a snapshot of the manager's cache counters (`PromptManager::cache_stats()`), for example
    /// right before [`render_prometheus`](Self::render_prometheus) on each scrape. The hit and miss
    /// counters are the manager's own running totals, stored as they are.
    pub fn record_cache_stats(&self, stats: &CacheStats) {
        let c = &self.inner.cache;
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        c.hits.store(stats.render_hits, Ordering::Relaxed);
        c.misses.store(stats.render_misses, Ordering::Relaxed);
        c.entries.store(as_u64(stats.rendered_entries), Ordering::Relaxed);
        c.bytes.store(stats.rendered_bytes, Ordering::Relaxed);
        c.references.store(as_u64(stats.references), Ordering::Relaxed);
        c.prompts.store(as_u64(stats.prompts), Ordering::Relaxed);
        if let Some(reads) = &stats.store_reads {
            c.has_store_reads.store(true, Ordering::Relaxed);
            for (slot, n) in c
                .store_reads
                .iter()
                .zip([reads.server, reads.cache, reads.bundle, reads.redis])
            {
                slot.store(n, Ordering::Relaxed);
            }
        }
    }
}

impl Observer for MetricsObserver {
    fn on_render_complete(&self, execution: &PromptExecution<'_>) {
        self.inner.record_render(execution, None);
    }

    fn on_render_error(&self, execution: &PromptExecution<'_>, error: &Error) {
        self.inner.record_render(execution, Some(error));
    }

    fn on_version_created(&self, version: &PromptVersion) {
        self.inner.with_handle(Some(&version.prompt.id), |m| {
            m.versions_created.fetch_add(1, Ordering::Relaxed);
        });
    }

    fn on_label_moved(&self, id: &PromptId, event: &LabelEvent) {
        self.inner.with_handle(Some(id), |m| {
            if let Some(counter) = label_move_index(event.kind).and_then(|i| m.label_moves.get(i)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}
