//! The bounded map from prompt id to its series ([`Inner`]): an allow-list or the first N ids seen
//! get their own, every other id is counted under `_other`, unresolved renders under
//! `_unresolved`. Within an id, each (version, label) gets a render series of its own while the
//! observer's series bound lasts; past it, renders are folded into the id's
//! `version="_other", label="_other"` series and counted as overflow. Recording a render looks its
//! id and its series up here. The series live in `series.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use prompt_manager_core::{Error, PromptExecution, PromptId};

use super::series::{CacheFigures, IdMetrics, RenderSeries, SeriesQuery};

/// The figures a [`MetricsObserver`](super::MetricsObserver) shares between its clones.
pub(crate) struct Inner {
    /// foldhash rather than SipHash: the map is bounded, so flooding it is not a concern, and the
    /// lookup is on the render path.
    pub(crate) ids: papaya::HashMap<PromptId, Arc<IdMetrics>, foldhash::fast::RandomState>,
    /// Whether ids not yet in `ids` may still be admitted, and how many more.
    pub(crate) first_seen_limit: Option<usize>,
    pub(crate) admitted: AtomicUsize,
    /// The most (prompt id, version, label) render series this observer keeps.
    pub(crate) series_limit: usize,
    /// Render series admitted so far (at most `series_limit`).
    pub(crate) series_admitted: AtomicUsize,
    /// Renders folded into an id's `_other` series because the series bound was reached.
    pub(crate) series_overflow: AtomicU64,
    pub(crate) other: Arc<IdMetrics>,
    pub(crate) unresolved: Arc<IdMetrics>,
    pub(crate) bounds_nanos: Box<[u64]>,
    pub(crate) bounds_seconds: Box<[f64]>,
    pub(crate) cache: CacheFigures,
    #[cfg(feature = "otlp")]
    pub(crate) otel: std::sync::OnceLock<crate::otlp::OtelInstruments>,
}

impl Inner {
    /// Runs `f` on the series of `id`: its own when it is (or may become) labelled, else `other`.
    /// Borrows from the map without touching reference counts; allocates only the first time an id
    /// is admitted.
    pub(crate) fn with_handle<T>(&self, id: Option<&PromptId>, f: impl FnOnce(&IdMetrics) -> T) -> T {
        let Some(id) = id else {
            return f(&self.unresolved);
        };
        let ids = self.ids.pin();
        if let Some(found) = ids.get(id) {
            return f(found);
        }
        let Some(limit) = self.first_seen_limit else {
            return f(&self.other);
        };
        let reserved = self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1));
        if reserved.is_err() {
            return f(&self.other);
        }
        let fresh = Arc::new(IdMetrics::new(id.as_str(), self.bounds_nanos.len()));
        match ids.try_insert(id.clone(), fresh) {
            Ok(inserted) => f(inserted),
            Err(occupied) => {
                // Another thread admitted the same id first: give the slot back.
                self.admitted.fetch_sub(1, Ordering::AcqRel);
                f(occupied.current)
            }
        }
    }

    /// Every series, sorted by label value, `_other` and `_unresolved` included.
    pub(crate) fn all(&self) -> Vec<Arc<IdMetrics>> {
        let mut all: Vec<Arc<IdMetrics>> = self.ids.pin().values().cloned().collect();
        all.push(Arc::clone(&self.other));
        all.push(Arc::clone(&self.unresolved));
        all.sort_by(|a, b| a.label.cmp(&b.label));
        all
    }

    /// Runs `f` on the render series of `query` within `m`: its own when it has (or may still get)
    /// one, else `m`'s folded series, counting the overflow. Allocates only when a series is admitted.
    fn with_series<T>(
        &self,
        m: &IdMetrics,
        prompt: &str,
        query: &SeriesQuery<'_>,
        f: impl FnOnce(&RenderSeries) -> T,
    ) -> T {
        if !m.by_version {
            return f(&m.folded);
        }
        let series = m.series.pin();
        if let Some(found) = series.get(query) {
            return f(found);
        }
        let reserved = self
            .series_admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.series_limit).then_some(n + 1)
            });
        if reserved.is_err() {
            self.series_overflow.fetch_add(1, Ordering::Relaxed);
            return f(&m.folded);
        }
        let version = query.version.map(ToString::to_string).unwrap_or_default();
        let label = query.label.map_or("", |l| l.as_str());
        let fresh = Arc::new(RenderSeries::new(prompt, &version, label, self.bounds_nanos.len()));
        match series.try_insert(query.to_key(), fresh) {
            Ok(inserted) => f(inserted),
            Err(occupied) => {
                // Another thread admitted the same series first: give the slot back.
                self.series_admitted.fetch_sub(1, Ordering::AcqRel);
                f(occupied.current)
            }
        }
    }

    pub(crate) fn record_render(&self, execution: &PromptExecution<'_>, error: Option<&Error>) {
        let nanos = u64::try_from(execution.duration.as_nanos()).unwrap_or(u64::MAX);
        let query = SeriesQuery {
            version: execution.version,
            label: execution.label,
        };
        let prompt = execution.prompt_id.map_or("", PromptId::as_str);
        self.with_handle(execution.prompt_id, |m| {
            self.with_series(m, prompt, &query, |s| {
                s.latency.observe(&self.bounds_nanos, nanos);
                if let Some(error) = error {
                    s.count_error(error);
                }
                #[cfg(feature = "otlp")]
                if let Some(otel) = self.otel.get() {
                    otel.record_latency(execution.duration, &s.otel_attributes);
                }
            })
        });
    }
}
