//! The bounded map from prompt id to its series ([`Inner`]): an allow-list or the first N ids seen
//! get their own, every other id is counted under `_other`, unresolved renders under
//! `_unresolved`. Recording a render looks its id up here. The series live in `series.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prompt_manager_core::{Error, PromptExecution, PromptId};

use super::series::{CacheFigures, IdMetrics};

/// The figures a [`MetricsObserver`](super::MetricsObserver) shares between its clones.
pub(crate) struct Inner {
    /// foldhash rather than SipHash: the map is bounded, so flooding it is not a concern, and the
    /// lookup is on the render path.
    pub(crate) ids: papaya::HashMap<PromptId, Arc<IdMetrics>, foldhash::fast::RandomState>,
    /// Whether ids not yet in `ids` may still be admitted, and how many more.
    pub(crate) first_seen_limit: Option<usize>,
    pub(crate) admitted: AtomicUsize,
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

    pub(crate) fn record_render(&self, execution: &PromptExecution<'_>, error: Option<&Error>) {
        let nanos = u64::try_from(execution.duration.as_nanos()).unwrap_or(u64::MAX);
        self.with_handle(execution.prompt_id, |m| {
            m.latency.observe(&self.bounds_nanos, nanos);
            if let Some(error) = error {
                m.count_error(error);
            }
            #[cfg(feature = "otlp")]
            if let Some(otel) = self.otel.get() {
                otel.record_latency(execution.duration, &m.otel_attributes);
            }
        });
    }
}
