//! The figures of one prompt-id label value ([`IdMetrics`]): its render series, one per version
//! rendered and label named ([`RenderSeries`]: error counters by code and kind and the latency
//! [`Histogram`]), versions created and label moves; and the render-cache figures
//! ([`CacheFigures`]). All atomics, so recording never locks. Error codes come from core's
//! `Error::CODES` and kind labels from `ErrorKind::as_str` (core's one table), so a code or kind
//! added to core gets its own counter without a change here. Which id and which series a render is
//! counted under is decided in `registry.rs`; the text format is written in `prometheus.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use prompt_manager_core::semver::Version;
use prompt_manager_core::{Error, ErrorKind, LabelEventKind, LabelName};

use super::prometheus::escape_label_value;

/// One counter per error code core knows, and one for any other.
const KNOWN_CODES: &[&str] = Error::CODES;
const ERROR_SLOTS: usize = KNOWN_CODES.len() + 1;

/// The label of a kind index that names no kind (never written: every kind is in `ErrorKind::ALL`).
const OTHER_KIND: &str = "other";

/// Where `kind` sits in `ErrorKind::ALL`, as stored in an [`ErrorSlot`].
fn kind_index(kind: ErrorKind) -> u8 {
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

/// The metrics label of a stored kind index.
fn kind_label(index: u8) -> &'static str {
    ErrorKind::ALL
        .get(usize::from(index))
        .map_or(OTHER_KIND, |k| k.as_str())
}

/// One label-move counter per [`LabelEventKind`], in the order of `LabelEventKind::ALL`.
const LABEL_MOVE_SLOTS: usize = LabelEventKind::ALL.len();

pub(crate) fn label_move_index(kind: LabelEventKind) -> Option<usize> {
    LabelEventKind::ALL.iter().position(|k| *k == kind)
}

/// A latency histogram: per-bucket (non-cumulative) counts and the sum in nanoseconds. The count is
/// the sum of the buckets, so an exposition is always self-consistent (`+Inf` = `_count`).
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub(crate) fn new(bounds: usize) -> Self {
        Histogram {
            buckets: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, bounds_nanos: &[u64], nanos: u64) {
        let i = bounds_nanos.partition_point(|b| *b < nanos);
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many values were observed: the renders (one counter less to bump per render).
    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// Cumulative counts per bucket (the last is `+Inf`), and the sum in nanoseconds.
    pub(crate) fn snapshot(&self) -> (Vec<u64>, u64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect();
        (cumulative, self.sum_nanos.load(Ordering::Relaxed))
    }
}

/// One error counter: the count and the kind of the last error recorded in it.
struct ErrorSlot {
    count: AtomicU64,
    kind: AtomicU8,
}

/// Which render series of a prompt id a render belongs to: the version rendered and the label the
/// reference named (`None` when it named none, or did not resolve).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey {
    version: Option<Version>,
    label: Option<LabelName>,
}

/// A [`SeriesKey`] borrowed from a render, to look its series up without allocating. Hashes as the
/// owned key does (a reference hashes as what it points to).
#[derive(Hash)]
pub(crate) struct SeriesQuery<'a> {
    pub(crate) version: Option<&'a Version>,
    pub(crate) label: Option<&'a LabelName>,
}

impl SeriesQuery<'_> {
    pub(crate) fn to_key(&self) -> SeriesKey {
        SeriesKey {
            version: self.version.cloned(),
            label: self.label.cloned(),
        }
    }
}

impl papaya::Equivalent<SeriesKey> for SeriesQuery<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.version == key.version.as_ref() && self.label == key.label.as_ref()
    }
}

/// The render figures of one (prompt id, version, label) series.
pub(crate) struct RenderSeries {
    /// The `version` label value, already escaped for the text format.
    pub(crate) version: Box<str>,
    /// The `label` label value, already escaped for the text format.
    pub(crate) label: Box<str>,
    errors: [ErrorSlot; ERROR_SLOTS],
    pub(crate) latency: Histogram,
    /// The attribute set this series is exported with over OTLP, built once.
    #[cfg(feature = "otlp")]
    pub(crate) otel_attributes: [opentelemetry::KeyValue; 3],
}

impl RenderSeries {
    pub(crate) fn new(prompt: &str, version: &str, label: &str, bounds: usize) -> Self {
        #[cfg(not(feature = "otlp"))]
        let _ = prompt;
        RenderSeries {
            version: escape_label_value(version).into_boxed_str(),
            label: escape_label_value(label).into_boxed_str(),
            errors: std::array::from_fn(|_| ErrorSlot {
                count: AtomicU64::new(0),
                kind: AtomicU8::new(0),
            }),
            latency: Histogram::new(bounds),
            #[cfg(feature = "otlp")]
            otel_attributes: [
                opentelemetry::KeyValue::new(crate::attributes::GEN_AI_PROMPT_NAME, prompt.to_owned()),
                opentelemetry::KeyValue::new(crate::attributes::GEN_AI_PROMPT_VERSION, version.to_owned()),
                opentelemetry::KeyValue::new(crate::attributes::GEN_AI_PROMPT_LABEL, label.to_owned()),
            ],
        }
    }

    /// `(code, kind, count)` of every error counter that is not zero.
    pub(crate) fn errors(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        self.errors.iter().enumerate().filter_map(|(i, slot)| {
            let count = slot.count.load(Ordering::Relaxed);
            let code = KNOWN_CODES.get(i).copied().unwrap_or("other");
            let kind = kind_label(slot.kind.load(Ordering::Relaxed));
            (count > 0).then_some((code, kind, count))
        })
    }

    /// Counts one error under its code and kind.
    pub(crate) fn count_error(&self, error: &Error) {
        let code = error.code();
        let slot = KNOWN_CODES.iter().position(|c| *c == code).unwrap_or(KNOWN_CODES.len());
        if let Some(slot) = self.errors.get(slot) {
            slot.count.fetch_add(1, Ordering::Relaxed);
            slot.kind.store(kind_index(error.kind()), Ordering::Relaxed);
        }
    }
}

/// The series of one prompt-id label value.
pub(crate) struct IdMetrics {
    /// The label value, already escaped for the text format.
    pub(crate) label: Box<str>,
    /// The render series by version and label, admitted against the observer's series bound
    /// (`registry.rs`). Empty for the `_other` and `_unresolved` ids, which use `folded` only.
    pub(crate) series: papaya::HashMap<SeriesKey, Arc<RenderSeries>, foldhash::fast::RandomState>,
    /// Renders past the series bound (`version="_other", label="_other"`), or every render of an
    /// id that is not split by version.
    pub(crate) folded: Arc<RenderSeries>,
    /// Whether renders get a series per version and label.
    pub(crate) by_version: bool,
    pub(crate) versions_created: AtomicU64,
    pub(crate) label_moves: [AtomicU64; LABEL_MOVE_SLOTS],
    /// The attribute set this id is exported with over OTLP, built once.
    #[cfg(feature = "otlp")]
    pub(crate) otel_attributes: [opentelemetry::KeyValue; 1],
}

impl IdMetrics {
    /// The figures of a prompt id whose renders get a series per version and label.
    pub(crate) fn new(label: &str, bounds: usize) -> Self {
        Self::with_folded(label, super::OTHER_VERSION, super::OTHER_LABEL, true, bounds)
    }

    /// The figures of a pseudo-id (`_other`, `_unresolved`) whose renders all go to one series
    /// with these `version` and `label` values.
    pub(crate) fn folded_only(label: &str, version: &str, label_value: &str, bounds: usize) -> Self {
        Self::with_folded(label, version, label_value, false, bounds)
    }

    fn with_folded(label: &str, version: &str, label_value: &str, by_version: bool, bounds: usize) -> Self {
        IdMetrics {
            label: escape_label_value(label).into_boxed_str(),
            series: papaya::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            folded: Arc::new(RenderSeries::new(label, version, label_value, bounds)),
            by_version,
            versions_created: AtomicU64::new(0),
            label_moves: std::array::from_fn(|_| AtomicU64::new(0)),
            #[cfg(feature = "otlp")]
            otel_attributes: [opentelemetry::KeyValue::new(
                crate::attributes::GEN_AI_PROMPT_NAME,
                label.to_owned(),
            )],
        }
    }

    /// Every render series of this id, sorted by version and label, the folded one last.
    pub(crate) fn render_series(&self) -> Vec<Arc<RenderSeries>> {
        let mut all: Vec<Arc<RenderSeries>> = self.series.pin().values().cloned().collect();
        all.sort_by(|a, b| (&a.version, &a.label).cmp(&(&b.version, &b.label)));
        all.push(Arc::clone(&self.folded));
        all
    }

    /// Renders of this id, over all its series.
    pub(crate) fn renders(&self) -> u64 {
        self.series.pin().values().map(|s| s.latency.count()).sum::<u64>() + self.folded.latency.count()
    }

    /// `(kind, count)` of every label-move counter that is not zero.
    pub(crate) fn label_moves(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        LabelEventKind::ALL
            .iter()
            .zip(&self.label_moves)
            .filter_map(|(kind, counter)| {
                let n = counter.load(Ordering::Relaxed);
                (n > 0).then_some((kind.as_str(), n))
            })
    }
}

/// The render-cache and registry figures of the last `CacheStats` snapshot.
#[derive(Default)]
pub(crate) struct CacheFigures {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) references: AtomicU64,
    pub(crate) prompts: AtomicU64,
    /// Whether the store reports its read sources (an `http://` store, a Redis cache).
    pub(crate) has_store_reads: std::sync::atomic::AtomicBool,
    /// Reads answered by the server (the store of record), the disk cache, the bundle and Redis.
    pub(crate) store_reads: [AtomicU64; 4],
}
