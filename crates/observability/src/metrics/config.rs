//! How a [`MetricsObserver`](super::MetricsObserver) labels and buckets what it records: which prompt
//! ids get a label of their own ([`PromptIdLabels`]) and the latency buckets ([`MetricsConfig`]).
//! The series themselves live in `series.rs`, the bounded id map in `registry.rs`.

use std::time::Duration;

use prompt_manager_core::PromptId;

/// How many distinct prompt ids get their own label by default.
pub const DEFAULT_MAX_PROMPT_IDS: usize = 100;

/// How many distinct (prompt id, version, label) render series an observer keeps by default.
pub const DEFAULT_MAX_RENDER_SERIES: usize = 1000;

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
    /// Exactly these ids; every other id is counted as [`OTHER_PROMPT`](super::OTHER_PROMPT).
    AllowList(Vec<PromptId>),
    /// The first N distinct ids seen; later ones are counted as [`OTHER_PROMPT`](super::OTHER_PROMPT).
    FirstSeen(usize),
}

impl Default for PromptIdLabels {
    fn default() -> Self {
        PromptIdLabels::FirstSeen(DEFAULT_MAX_PROMPT_IDS)
    }
}

/// How a [`MetricsObserver`](super::MetricsObserver) labels and buckets what it records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Which prompt ids get a label of their own.
    pub prompt_ids: PromptIdLabels,
    /// Upper bounds of the latency histogram's buckets, ascending; `+Inf` is implicit.
    pub latency_buckets: Vec<Duration>,
    /// The most distinct (prompt id, version, label) render series kept (default
    /// [`DEFAULT_MAX_RENDER_SERIES`]); later combinations are counted under the prompt id's
    /// `version="_other", label="_other"` series. Each series is a renders counter, a latency
    /// histogram (one sample per bucket, plus sum and count) and its error counters.
    pub max_render_series: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            prompt_ids: PromptIdLabels::default(),
            latency_buckets: DEFAULT_LATENCY_BUCKETS.to_vec(),
            max_render_series: DEFAULT_MAX_RENDER_SERIES,
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

    /// The same configuration with another bound on the (prompt id, version, label) render series.
    pub fn with_max_render_series(mut self, n: usize) -> Self {
        self.max_render_series = n;
        self
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
