//! The metrics observer: render counts, errors by kind, a latency histogram, version and label events
//! and the render-cache counters, kept in atomics and exposed in the Prometheus text format.
//! Exporting the same figures over OTLP lives in `otlp.rs`.
//!
//! Every series is labelled by prompt id with a bounded set of values: an allow-list, or the first N
//! distinct ids seen; every other id is counted under [`OTHER_PROMPT`]. Renders whose reference did
//! not resolve to a prompt are counted under [`UNRESOLVED_PROMPT`]. Both values start with `_`, which a
//! [`PromptId`] never does, so they can never collide with a real prompt.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use prompt_manager_core::{
    CacheStats, Error, ErrorKind, LabelEvent, LabelEventKind, Observer, PromptExecution, PromptId, PromptVersion,
};

/// The label value of every prompt id outside the allow-list or past the first N.
pub const OTHER_PROMPT: &str = "_other";
/// The label value of renders whose reference resolved to no prompt (not found, invalid reference).
pub const UNRESOLVED_PROMPT: &str = "_unresolved";

/// How many distinct prompt ids get their own label by default.
pub const DEFAULT_MAX_PROMPT_IDS: usize = 100;

/// The default latency buckets: 1 µs to 1 s, since a warm render takes microseconds and a cold one
/// (load + compile) milliseconds.
pub const DEFAULT_LATENCY_BUCKETS: [Duration; 19] = [
    Duration::from_micros(1),
    Duration::from_nanos(2_500),
    Duration::from_micros(5),
    Duration::from_micros(10),
    Duration::from_micros(25),
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2_500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// Which prompt ids get a label of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PromptIdLabels {
    /// Exactly these ids; every other id is counted as [`OTHER_PROMPT`].
    AllowList(Vec<PromptId>),
    /// The first N distinct ids seen; later ones are counted as [`OTHER_PROMPT`].
    FirstSeen(usize),
}

impl Default for PromptIdLabels {
    fn default() -> Self {
        PromptIdLabels::FirstSeen(DEFAULT_MAX_PROMPT_IDS)
    }
}

/// How a [`MetricsObserver`] labels and buckets what it records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Which prompt ids get a label of their own.
    pub prompt_ids: PromptIdLabels,
    /// Upper bounds of the latency histogram's buckets, ascending; `+Inf` is implicit.
    pub latency_buckets: Vec<Duration>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            prompt_ids: PromptIdLabels::default(),
            latency_buckets: DEFAULT_LATENCY_BUCKETS.to_vec(),
        }
    }
}

impl MetricsConfig {
    /// Label only the ids of `allow`.
    pub fn allow_list(allow: impl IntoIterator<Item = PromptId>) -> Self {
        MetricsConfig {
            prompt_ids: PromptIdLabels::AllowList(allow.into_iter().collect()),
            ..MetricsConfig::default()
        }
    }

    /// Label the first `n` distinct ids seen.
    pub fn first_seen(n: usize) -> Self {
        MetricsConfig {
            prompt_ids: PromptIdLabels::FirstSeen(n),
            ..MetricsConfig::default()
        }
    }

    /// The same configuration with other latency buckets (sorted and deduplicated here).
    pub fn with_latency_buckets(mut self, buckets: impl IntoIterator<Item = Duration>) -> Self {
        let mut buckets: Vec<Duration> = buckets.into_iter().collect();
        buckets.sort_unstable();
        buckets.dedup();
        self.latency_buckets = buckets;
        self
    }
}

/// One counter per error code core knows, and one for any other.
const KNOWN_CODES: &[&str] = prompt_manager_core::Error::CODES;
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

const LABEL_MOVE_KINDS: [&str; 4] = ["set", "rollback", "remove", "other"];

fn label_move_index(kind: LabelEventKind) -> usize {
    match kind {
        LabelEventKind::Set => 0,
        LabelEventKind::Rollback => 1,
        LabelEventKind::Remove => 2,
        #[allow(unreachable_patterns)]
        _ => 3,
    }
}

/// A latency histogram: per-bucket (non-cumulative) counts and the sum in nanoseconds. The count is
/// the sum of the buckets, so an exposition is always self-consistent (`+Inf` = `_count`).
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new(bounds: usize) -> Self {
        Histogram {
            buckets: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, bounds_nanos: &[u64], nanos: u64) {
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

/// The series of one prompt-id label value.
pub(crate) struct IdMetrics {
    /// The label value, already escaped for the text format.
    pub(crate) label: Box<str>,
    errors: [ErrorSlot; ERROR_SLOTS],
    pub(crate) latency: Histogram,
    pub(crate) versions_created: AtomicU64,
    label_moves: [AtomicU64; 4],
    /// The attribute set this id is exported with over OTLP, built once.
    #[cfg(feature = "otlp")]
    pub(crate) otel_attributes: [opentelemetry::KeyValue; 1],
}

impl IdMetrics {
    fn new(label: &str, bounds: usize) -> Self {
        IdMetrics {
            label: escape_label_value(label).into_boxed_str(),
            errors: std::array::from_fn(|_| ErrorSlot {
                count: AtomicU64::new(0),
                kind: AtomicU8::new(0),
            }),
            latency: Histogram::new(bounds),
            versions_created: AtomicU64::new(0),
            label_moves: std::array::from_fn(|_| AtomicU64::new(0)),
            #[cfg(feature = "otlp")]
            otel_attributes: [opentelemetry::KeyValue::new(
                crate::attributes::GEN_AI_PROMPT_NAME,
                label.to_owned(),
            )],
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
}

impl IdMetrics {
    /// `(kind, count)` of every label-move counter that is not zero.
    pub(crate) fn label_moves(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        LABEL_MOVE_KINDS
            .iter()
            .zip(&self.label_moves)
            .filter_map(|(kind, counter)| {
                let n = counter.load(Ordering::Relaxed);
                (n > 0).then_some((*kind, n))
            })
    }
}

/// The render-cache and registry figures of the last [`CacheStats`] snapshot.
#[derive(Default)]
pub(crate) struct CacheFigures {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) references: AtomicU64,
    pub(crate) prompts: AtomicU64,
}

pub(crate) struct Inner {
    /// foldhash rather than SipHash: the map is bounded, so flooding it is not a concern, and the
    /// lookup is on the render path.
    ids: papaya::HashMap<PromptId, Arc<IdMetrics>, foldhash::fast::RandomState>,
    /// Whether ids not yet in `ids` may still be admitted, and how many more.
    first_seen_limit: Option<usize>,
    admitted: AtomicUsize,
    other: Arc<IdMetrics>,
    unresolved: Arc<IdMetrics>,
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
    fn with_handle<T>(&self, id: Option<&PromptId>, f: impl FnOnce(&IdMetrics) -> T) -> T {
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

    fn record_render(&self, execution: &PromptExecution<'_>, error: Option<&Error>) {
        let nanos = u64::try_from(execution.duration.as_nanos()).unwrap_or(u64::MAX);
        self.with_handle(execution.prompt_id, |m| {
            m.latency.observe(&self.bounds_nanos, nanos);
            if let Some(error) = error {
                let code = error.code();
                let slot = KNOWN_CODES.iter().position(|c| *c == code).unwrap_or(KNOWN_CODES.len());
                if let Some(slot) = m.errors.get(slot) {
                    slot.count.fetch_add(1, Ordering::Relaxed);
                    slot.kind.store(kind_index(error.kind()), Ordering::Relaxed);
                }
            }
            #[cfg(feature = "otlp")]
            if let Some(otel) = self.otel.get() {
                otel.record_latency(execution.duration, &m.otel_attributes);
            }
        });
    }
}

/// An [`Observer`] that counts renders, render errors (by error code and kind), versions created and
/// label moves, keeps a render-latency histogram, and renders it all in the Prometheus text format.
///
/// Cheap to clone; clones share the figures, so one clone goes to the manager and another serves
/// `/metrics`. Recording a render costs a few relaxed atomic adds and one lookup in a concurrent map,
/// without allocating (except the first time an id is admitted).
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
                other: Arc::new(IdMetrics::new(OTHER_PROMPT, n)),
                unresolved: Arc::new(IdMetrics::new(UNRESOLVED_PROMPT, n)),
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
    }

    /// Everything recorded so far in the Prometheus text exposition format (version 0.0.4), for a
    /// `/metrics` endpoint (`Content-Type: text/plain; version=0.0.4`).
    pub fn render_prometheus(&self) -> String {
        let inner = &self.inner;
        let all = inner.all();
        let mut out = String::with_capacity(1024 + all.len() * 256);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        family(
            &mut out,
            "prompt_manager_renders_total",
            "counter",
            "Renders, successful or not, by prompt id.",
        );
        for m in &all {
            let n = m.latency.count();
            if n > 0 || is_allow_listed(inner, m) {
                let _ = writeln!(out, "prompt_manager_renders_total{{prompt_id=\"{}\"}} {n}", m.label);
            }
        }

        family(
            &mut out,
            "prompt_manager_render_errors_total",
            "counter",
            "Failed renders by prompt id, error code and error kind.",
        );
        for m in &all {
            for (code, kind, n) in m.errors() {
                let _ = writeln!(
                    out,
                    "prompt_manager_render_errors_total{{prompt_id=\"{}\",code=\"{code}\",kind=\"{kind}\"}} {n}",
                    m.label
                );
            }
        }

        family(
            &mut out,
            "prompt_manager_render_duration_seconds",
            "histogram",
            "Render latency by prompt id, from resolution to output.",
        );
        for m in &all {
            let (cumulative, sum_nanos) = m.latency.snapshot();
            let count = cumulative.last().copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            for (bound, n) in inner.bounds_seconds.iter().zip(&cumulative) {
                let _ = writeln!(
                    out,
                    "prompt_manager_render_duration_seconds_bucket{{prompt_id=\"{}\",le=\"{bound}\"}} {n}",
                    m.label
                );
            }
            let _ = writeln!(
                out,
                "prompt_manager_render_duration_seconds_bucket{{prompt_id=\"{}\",le=\"+Inf\"}} {count}",
                m.label
            );
            let sum = Duration::from_nanos(sum_nanos).as_secs_f64();
            let _ = writeln!(
                out,
                "prompt_manager_render_duration_seconds_sum{{prompt_id=\"{}\"}} {sum}",
                m.label
            );
            let _ = writeln!(
                out,
                "prompt_manager_render_duration_seconds_count{{prompt_id=\"{}\"}} {count}",
                m.label
            );
        }

        family(
            &mut out,
            "prompt_manager_versions_created_total",
            "counter",
            "New versions saved, by prompt id.",
        );
        for m in &all {
            let n = load(&m.versions_created);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "prompt_manager_versions_created_total{{prompt_id=\"{}\"}} {n}",
                    m.label
                );
            }
        }

        family(
            &mut out,
            "prompt_manager_label_moves_total",
            "counter",
            "Labels set, rolled back or removed, by prompt id.",
        );
        for m in &all {
            for (kind, n) in m.label_moves() {
                let _ = writeln!(
                    out,
                    "prompt_manager_label_moves_total{{prompt_id=\"{}\",kind=\"{kind}\"}} {n}",
                    m.label
                );
            }
        }

        let c = &inner.cache;
        for (name, kind, help, value) in [
            (
                "prompt_manager_render_cache_hits_total",
                "counter",
                "Renders served from the rendered-output cache.",
                &c.hits,
            ),
            (
                "prompt_manager_render_cache_misses_total",
                "counter",
                "Renders that missed the rendered-output cache.",
                &c.misses,
            ),
            (
                "prompt_manager_render_cache_entries",
                "gauge",
                "Rendered outputs kept in the cache.",
                &c.entries,
            ),
            (
                "prompt_manager_render_cache_bytes",
                "gauge",
                "Approximate size of the rendered outputs kept.",
                &c.bytes,
            ),
            (
                "prompt_manager_registry_references",
                "gauge",
                "Reference strings with a cached, compiled resolution.",
                &c.references,
            ),
            (
                "prompt_manager_registry_prompts",
                "gauge",
                "Prompts the in-process registry tracks.",
                &c.prompts,
            ),
        ] {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {}", load(value));
        }
        out
    }
}

fn is_allow_listed(inner: &Inner, m: &IdMetrics) -> bool {
    inner.first_seen_limit.is_none() && &*m.label != OTHER_PROMPT && &*m.label != UNRESOLVED_PROMPT
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes `\`, `"` and newlines, as the text format requires in label values.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
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
            if let Some(counter) = m.label_moves.get(label_move_index(event.kind)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use chrono::Utc;
    use prompt_manager_core::{ContentHash, LabelName, NotFound, Prompt};
    use semver::Version;

    use super::*;

    fn id(s: &str) -> PromptId {
        PromptId::new(s).unwrap()
    }

    static V1: Version = Version::new(1, 0, 0);

    /// A render of `prompt` (leaked: test ids live for the test process).
    fn execution(prompt: Option<&str>, micros: u64, error: Option<&'static str>) -> PromptExecution<'static> {
        let prompt_id: Option<&'static PromptId> = prompt.map(|p| &*Box::leak(Box::new(id(p))));
        PromptExecution {
            id: 1,
            reference: prompt_id.map_or("missing", |p| p.as_str()),
            prompt_id,
            version: Some(&V1),
            label: None,
            duration: Duration::from_micros(micros),
            error: error.map(Cow::Borrowed),
            output_bytes: 10,
            token_estimate: 3,
        }
    }

    fn version(prompt: &str) -> PromptVersion {
        PromptVersion {
            prompt: Prompt::text(prompt, "Hello {{ name }}").unwrap(),
            version: Version::new(1, 0, 0),
            changelog: String::new(),
            author: None,
            created_at: Utc::now(),
            parent: None,
            content_hash: ContentHash("abc".into()),
        }
    }

    fn label_event(kind: LabelEventKind) -> LabelEvent {
        LabelEvent {
            label: LabelName::new("production").unwrap(),
            from: None,
            to: Some(Version::new(1, 0, 0)),
            kind,
            actor: None,
            at: Utc::now(),
        }
    }

    /// Parses the exposition with an independent parser and returns `(metric, labels, value)`.
    fn samples(text: &str) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        scrape
            .samples
            .into_iter()
            .flat_map(|s| {
                let labels: std::collections::BTreeMap<String, String> =
                    s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => vec![(s.metric, labels, v)],
                    prometheus_parse::Value::Histogram(buckets) => buckets
                        .into_iter()
                        .map(|b| {
                            let mut l = labels.clone();
                            l.insert("le".into(), b.less_than.to_string());
                            (format!("{}_bucket", s.metric), l, b.count)
                        })
                        .collect(),
                    prometheus_parse::Value::Summary(_) => vec![],
                }
            })
            .collect()
    }

    fn value(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples(text).into_iter().find_map(|(m, l, v)| {
            let matches = m == metric
                && labels
                    .iter()
                    .all(|(k, want)| l.get(*k).map(String::as_str) == Some(*want));
            matches.then_some(v)
        })
    }

    #[test]
    fn counts_renders_errors_versions_and_label_moves() {
        let m = MetricsObserver::default();
        m.on_render_complete(&execution(Some("a/one"), 3, None));
        m.on_render_complete(&execution(Some("a/one"), 7, None));
        let err = Error::NotFound(NotFound::Prompt(id("a/one")));
        m.on_render_error(&execution(Some("a/one"), 2, Some("not_found")), &err);
        let err = Error::InvalidVariables {
            reference: "x".into(),
            problems: vec![],
        };
        m.on_render_error(&execution(None, 2, Some("invalid_variables")), &err);
        m.on_version_created(&version("a/one"));
        m.on_label_moved(&id("a/one"), &label_event(LabelEventKind::Set));
        m.on_label_moved(&id("a/one"), &label_event(LabelEventKind::Rollback));
        m.on_label_moved(&id("a/one"), &label_event(LabelEventKind::Rollback));

        let text = m.render_prometheus();
        let renders = |p| value(&text, "prompt_manager_renders_total", &[("prompt_id", p)]);
        assert_eq!(renders("a/one"), Some(3.0));
        assert_eq!(renders(UNRESOLVED_PROMPT), Some(1.0));
        assert_eq!(
            value(
                &text,
                "prompt_manager_render_errors_total",
                &[("prompt_id", "a/one"), ("code", "not_found"), ("kind", "not_found")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                "prompt_manager_render_errors_total",
                &[
                    ("prompt_id", UNRESOLVED_PROMPT),
                    ("code", "invalid_variables"),
                    ("kind", "invalid_content")
                ]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                "prompt_manager_versions_created_total",
                &[("prompt_id", "a/one")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                "prompt_manager_label_moves_total",
                &[("prompt_id", "a/one"), ("kind", "rollback")]
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                "prompt_manager_label_moves_total",
                &[("prompt_id", "a/one"), ("kind", "set")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "prompt_manager_label_moves_total", &[("kind", "remove")]),
            None
        );
    }

    #[test]
    fn first_seen_ids_beyond_the_limit_are_other() {
        let m = MetricsObserver::new(MetricsConfig::first_seen(2));
        for p in ["p/a", "p/b", "p/c", "p/d", "p/a", "p/c"] {
            m.on_render_complete(&execution(Some(p), 1, None));
        }
        m.on_version_created(&version("p/e"));
        let text = m.render_prometheus();
        let renders = |p| value(&text, "prompt_manager_renders_total", &[("prompt_id", p)]);
        assert_eq!(renders("p/a"), Some(2.0));
        assert_eq!(renders("p/b"), Some(1.0));
        assert_eq!(renders("p/c"), None);
        assert_eq!(renders("p/d"), None);
        assert_eq!(renders(OTHER_PROMPT), Some(3.0));
        assert_eq!(
            value(
                &text,
                "prompt_manager_versions_created_total",
                &[("prompt_id", OTHER_PROMPT)]
            ),
            Some(1.0)
        );
        let distinct: std::collections::BTreeSet<String> = samples(&text)
            .into_iter()
            .filter_map(|(_, l, _)| l.get("prompt_id").cloned())
            .collect();
        assert_eq!(
            distinct.into_iter().collect::<Vec<_>>(),
            ["_other", "p/a", "p/b"],
            "never more than the limit plus `_other` (and `_unresolved` when used)"
        );
    }

    #[test]
    fn the_limit_holds_under_concurrent_first_sightings() {
        let m = MetricsObserver::new(MetricsConfig::first_seen(5));
        std::thread::scope(|s| {
            for t in 0..4 {
                let m = m.clone();
                s.spawn(move || {
                    for i in 0..50 {
                        let p = format!("t/id-{}", (i * 7 + t) % 20);
                        m.on_render_complete(&execution(Some(&p), 1, None));
                    }
                });
            }
        });
        assert_eq!(m.inner.ids.len(), 5);
        let total: f64 = samples(&m.render_prometheus())
            .into_iter()
            .filter(|(name, _, _)| name == "prompt_manager_renders_total")
            .map(|(_, _, v)| v)
            .sum();
        assert_eq!(total, 200.0, "no render is lost, whichever label it lands on");
    }

    #[test]
    fn an_allow_list_labels_exactly_its_ids() {
        let m = MetricsObserver::new(MetricsConfig::allow_list([id("keep/me"), id("keep/too")]));
        m.on_render_complete(&execution(Some("keep/me"), 1, None));
        m.on_render_complete(&execution(Some("not/listed"), 1, None));
        let text = m.render_prometheus();
        let renders = |p| value(&text, "prompt_manager_renders_total", &[("prompt_id", p)]);
        assert_eq!(renders("keep/me"), Some(1.0));
        assert_eq!(
            renders("keep/too"),
            Some(0.0),
            "allow-listed ids are exported from the start"
        );
        assert_eq!(renders("not/listed"), None);
        assert_eq!(renders(OTHER_PROMPT), Some(1.0));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_consistent() {
        let config = MetricsConfig::default().with_latency_buckets([
            Duration::from_micros(10),
            Duration::from_micros(1),
            Duration::from_micros(100),
        ]);
        let m = MetricsObserver::new(config);
        for micros in [0, 1, 5, 10, 50, 100, 1_000] {
            m.on_render_complete(&execution(Some("h/x"), micros, None));
        }
        let text = m.render_prometheus();
        let bucket = |le: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "prompt_manager_render_duration_seconds_bucket{{prompt_id=\"h/x\",le=\"{le}\"}}"
                    ))
                })
                .and_then(|l| l.rsplit(' ').next())
                .map(|v| v.parse::<u64>().unwrap())
        };
        // A bucket counts observations <= its bound.
        assert_eq!(bucket("0.000001"), Some(2));
        assert_eq!(bucket("0.00001"), Some(4));
        assert_eq!(bucket("0.0001"), Some(6));
        assert_eq!(bucket("+Inf"), Some(7));
        assert!(text.contains("prompt_manager_render_duration_seconds_count{prompt_id=\"h/x\"} 7\n"));
        let sum = value(
            &text,
            "prompt_manager_render_duration_seconds_sum",
            &[("prompt_id", "h/x")],
        );
        let want = 1_166e-6;
        assert!(sum.is_some_and(|s| (s - want).abs() < 1e-9), "{sum:?}");
        // The independent parser reads it as a histogram too.
        assert_eq!(
            value(
                &text,
                "prompt_manager_render_duration_seconds_bucket",
                &[("prompt_id", "h/x"), ("le", "0.00001")]
            ),
            Some(4.0)
        );
    }

    #[test]
    fn cache_stats_are_exported() {
        let m = MetricsObserver::default();
        let mut stats = CacheStats::default();
        stats.render_hits = 40;
        stats.render_misses = 2;
        stats.rendered_entries = 3;
        stats.rendered_bytes = 1234;
        stats.references = 5;
        stats.prompts = 4;
        m.record_cache_stats(&stats);
        let text = m.render_prometheus();
        assert_eq!(value(&text, "prompt_manager_render_cache_hits_total", &[]), Some(40.0));
        assert_eq!(value(&text, "prompt_manager_render_cache_misses_total", &[]), Some(2.0));
        assert_eq!(value(&text, "prompt_manager_render_cache_entries", &[]), Some(3.0));
        assert_eq!(value(&text, "prompt_manager_render_cache_bytes", &[]), Some(1234.0));
        assert_eq!(value(&text, "prompt_manager_registry_references", &[]), Some(5.0));
        assert_eq!(value(&text, "prompt_manager_registry_prompts", &[]), Some(4.0));
    }

    #[test]
    fn the_exposition_is_well_formed_text_format() {
        let m = MetricsObserver::default();
        m.on_render_complete(&execution(Some("w/a"), 3, None));
        let err = Error::NotFound(NotFound::Prompt(id("w/a")));
        m.on_render_error(&execution(Some("w/a"), 3, Some("not_found")), &err);
        m.on_version_created(&version("w/a"));
        m.on_label_moved(&id("w/a"), &label_event(LabelEventKind::Remove));
        let text = m.render_prometheus();
        assert!(text.ends_with('\n'));
        let mut typed = std::collections::BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(
                    typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "one TYPE per family: {line}"
                );
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            // name{labels} value
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            let family = typed
                .keys()
                .find(|f| name == f.as_str() || ["_bucket", "_sum", "_count"].iter().any(|s| name == format!("{f}{s}")))
                .unwrap_or_else(|| panic!("sample without a TYPE line before it: {line}"));
            if typed[family] == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            if let Some(labels) = series.strip_prefix(name)
                && !labels.is_empty()
            {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            }
        }
        assert!(samples(&text).len() >= 10);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn errors_are_labelled_by_cores_tables() {
        // Every code and kind core has gets its own series, labelled as core names them.
        let m = MetricsObserver::default();
        let errors = [
            Error::LabelProtected {
                id: id("k/a"),
                label: LabelName::new("production").unwrap(),
            },
            Error::Internal("x".into()),
            Error::backend("sqlite", "down"),
            Error::Archived { id: id("k/a") },
        ];
        for error in &errors {
            m.on_render_error(&execution(Some("k/a"), 1, Some(error.code())), error);
        }
        let text = m.render_prometheus();
        for error in &errors {
            let labels = [
                ("prompt_id", "k/a"),
                ("code", error.code()),
                ("kind", error.kind().as_str()),
            ];
            assert_eq!(
                value(&text, "prompt_manager_render_errors_total", &labels),
                Some(1.0),
                "{labels:?}\n{text}"
            );
        }
        assert_eq!(ErrorKind::InvalidContent.as_str(), "invalid_content");
        assert!(
            !text.contains("code=\"other\"") && !text.contains("kind=\"other\""),
            "{text}"
        );
    }
}
