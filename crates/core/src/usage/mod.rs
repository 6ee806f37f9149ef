//! Usage records: what every render through a [`PromptManager`](crate::PromptManager) adds to an
//! aggregate per prompt × version × label × time bucket, and what callers report after the model
//! call. Variables are never recorded.
//!
//! | module | holds |
//! |---|---|
//! | here | the aggregate ([`UsageCounts`]), its key and bucket, the rows a store keeps ([`UsageRow`]) and their query |
//! | `render_id` | [`RenderId`]: the self-describing token a render returns, and what callers report with it |
//! | `recorder` | the in-memory, sharded recorder on the render path, and the flush that turns it into rows |
//! | `analytics` | the grouped series and totals computed from stored rows ([`Analytics`]) |
//!
//! The render path only adds to counters in memory; a flush ([`PromptManager::flush_usage`](crate::PromptManager::flush_usage),
//! run periodically by the umbrella crate's flusher and the server) writes minute rows and their
//! hour and day roll-ups to the store *additively*, so instances sharing one database add up.

mod analytics;
pub(crate) mod recorder;
mod render_id;

use std::collections::BTreeMap;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{LabelName, PromptId};
/// Costs in usage records are integer nano-dollars.
pub use crate::tokens::NanoUsd;

pub use analytics::{
    Analytics, AnalyticsGroup, AnalyticsQuery, GroupBy, LabelExperiment, MAX_SERIES_POINTS, SeriesPoint, TokenAccuracy,
    UsageSummary, VariantComparison, percentile_ns, variant_sample,
};
pub(crate) use recorder::Recorder;
pub use recorder::{FlushReport, UsageConfig};
pub(crate) use render_id::KeyPrefix;
pub use render_id::{Feedback, MAX_SCORE, RenderId, RenderToken, UsageReport};

/// Buckets of the render-duration histogram: bucket 0 holds durations under 128 ns, bucket `i`
/// (1 ≤ i < 23) those in [2^(i+6), 2^(i+7)) ns, bucket 23 everything from 2^29 ns (0.54 s) up.
/// Fixed and log-scaled, so histograms of any number of renders and instances add up bucket by
/// bucket and percentiles are read from the sums.
pub const DURATION_BUCKETS: usize = 24;

/// The histogram bucket of a render that took `nanos`.
pub fn duration_bucket(nanos: u64) -> usize {
    let bits = 64 - nanos.leading_zeros() as usize;
    bits.saturating_sub(7).min(DURATION_BUCKETS - 1)
}

/// The bounds of histogram bucket `i` in nanoseconds: `[lower, upper)`; the last is open-ended
/// (its upper bound is reported as twice its lower).
pub fn duration_bucket_bounds(i: usize) -> (u64, u64) {
    match i {
        0 => (0, 128),
        i => (1 << (i + 6), 1 << (i + 7)),
    }
}

/// The width of a time bucket of usage rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One minute: what a render records into.
    Minute,
    /// One hour: minute rows rolled up when they are written.
    Hour,
    /// One day (UTC): minute rows rolled up when they are written.
    Day,
}

impl Bucket {
    /// Every bucket, finest first.
    pub const ALL: [Bucket; 3] = [Bucket::Minute, Bucket::Hour, Bucket::Day];

    /// Its width in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            Bucket::Minute => 60,
            Bucket::Hour => 3_600,
            Bucket::Day => 86_400,
        }
    }

    /// The start (unix seconds) of the bucket holding `unix_seconds`.
    pub fn floor(self, unix_seconds: i64) -> i64 {
        unix_seconds.div_euclid(self.seconds()) * self.seconds()
    }

    /// Its name in stores and URLs: `minute`, `hour`, `day`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Bucket::Minute => "minute",
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        }
    }
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Bucket {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "minute" => Ok(Bucket::Minute),
            "hour" => Ok(Bucket::Hour),
            "day" => Ok(Bucket::Day),
            other => Err(crate::model::unknown_name("bucket", other, &["minute", "hour", "day"])),
        }
    }
}

/// What a usage aggregate is about: the prompt, the exact version rendered, and the label the
/// reference named (for a split label, the version is the variant the split chose).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UsageKey {
    /// The prompt.
    pub prompt_id: PromptId,
    /// The version rendered.
    pub version: Version,
    /// The label of the reference, `None` for a reference by version, requirement or `latest`.
    pub label: Option<LabelName>,
}

/// Additive counters of renders and of what callers reported about them. Every field is a sum,
/// so aggregates of any instances and time ranges add up with [`UsageCounts::add`]; costs are
/// integer nano-dollars so that they sum exactly. On the wire (the `http://` store's
/// `add_usage`), a missing field is 0.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UsageCounts {
    /// Renders, successful or not.
    pub renders: u64,
    /// Renders that failed.
    pub errors: u64,
    /// Failed renders per error code (`invalid_variables`, `archived`, …).
    pub error_kinds: BTreeMap<String, u64>,
    /// Total render time in nanoseconds.
    pub duration_ns: u64,
    /// The render-time histogram ([`DURATION_BUCKETS`]).
    pub duration_buckets: [u64; DURATION_BUCKETS],
    /// Bytes of output of the successful renders.
    pub output_bytes: u64,
    /// Input tokens of the successful renders: counted for sampled renders, estimated for the
    /// others from the version's tokens per byte ([`TokenAccuracy`]).
    pub input_tokens: u64,
    /// Renders whose input tokens were counted with the model's own tokenizer.
    pub input_tokens_exact_renders: u64,
    /// Renders whose input tokens are known at all (counted or estimated); 0 when no token
    /// counter is configured.
    pub input_tokens_renders: u64,
    /// Estimated input cost of the priced renders.
    pub input_cost: NanoUsd,
    /// Renders whose model has a price.
    pub priced_renders: u64,
    /// Usage reports received (`report_usage`).
    pub usage_reports: u64,
    /// Output tokens reported.
    pub output_tokens: u64,
    /// Output tokens × output price, for the reports that gave no actual cost.
    pub output_cost: NanoUsd,
    /// Actual costs reported.
    pub actual_cost: NanoUsd,
    /// Reports that gave an actual cost.
    pub actual_cost_reports: u64,
    /// Model latency reported, in milliseconds.
    pub model_latency_ms: u64,
    /// Reports that gave a model latency.
    pub model_latency_reports: u64,
    /// Feedback reports received.
    pub feedback: u64,
    /// Feedback reports saying the answer succeeded.
    pub successes: u64,
    /// Feedback reports saying it failed.
    pub failures: u64,
    /// Feedback reports with a score.
    pub scores: u64,
    /// The sum of the scores.
    pub score_sum: f64,
    /// The sum of the squared scores (for variances and Welch's t-test).
    pub score_sum_squares: f64,
}

impl UsageCounts {
    /// Adds `other` into `self`, field by field (saturating).
    pub fn add(&mut self, other: &UsageCounts) {
        macro_rules! sum {
            ($($field:ident),*) => { $( self.$field = self.$field.saturating_add(other.$field); )* };
        }
        sum!(
            renders,
            errors,
            duration_ns,
            output_bytes,
            input_tokens,
            input_tokens_exact_renders,
            input_tokens_renders,
            input_cost,
            priced_renders,
            usage_reports,
            output_tokens,
            output_cost,
            actual_cost,
            actual_cost_reports,
            model_latency_ms,
            model_latency_reports,
            feedback,
            successes,
            failures,
            scores
        );
        for (kind, n) in &other.error_kinds {
            let count = self.error_kinds.entry(kind.clone()).or_default();
            *count = count.saturating_add(*n);
        }
        for (mine, theirs) in self.duration_buckets.iter_mut().zip(other.duration_buckets) {
            *mine = mine.saturating_add(theirs);
        }
        self.score_sum += other.score_sum;
        self.score_sum_squares += other.score_sum_squares;
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.renders == 0 && self.usage_reports == 0 && self.feedback == 0
    }
}

/// One row of a store's usage table: the counts of one key in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// Prompt, version, label.
    pub key: UsageKey,
    /// The bucket's width.
    pub bucket: Bucket,
    /// The bucket's start, unix seconds (a multiple of the width).
    pub start: i64,
    /// The counts.
    pub counts: UsageCounts,
}

/// Which rows [`StorageBackend::usage`](crate::StorageBackend::usage) returns: one prompt's rows
/// of one bucket width whose start is in `[from, to)` (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    /// The prompt.
    pub prompt_id: PromptId,
    /// The bucket width.
    pub bucket: Bucket,
    /// The first bucket start included.
    pub from: i64,
    /// The first bucket start excluded.
    pub to: i64,
}

/// The error of a store that keeps no usage records.
pub fn usage_unsupported(backend: &str) -> Error {
    Error::Unsupported(format!(
        "the {backend} store keeps no usage records; use a sqlite:// or postgres:// store (or memory:// in tests) \
         for usage and analytics"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_buckets_are_octaves() {
        assert_eq!(duration_bucket(0), 0);
        assert_eq!(duration_bucket(127), 0);
        assert_eq!(duration_bucket(128), 1);
        assert_eq!(duration_bucket(255), 1);
        assert_eq!(duration_bucket(256), 2);
        assert_eq!(duration_bucket(1 << 29), 23);
        assert_eq!(duration_bucket(u64::MAX), 23);
        for i in 1..DURATION_BUCKETS {
            let (lo, hi) = duration_bucket_bounds(i);
            assert_eq!(duration_bucket(lo), i);
            if i < DURATION_BUCKETS - 1 {
                assert_eq!(duration_bucket(hi - 1), i);
            }
        }
    }

    #[test]
    fn buckets_floor_and_parse() {
        assert_eq!(Bucket::Hour.floor(7_199), 3_600);
        assert_eq!(Bucket::Day.floor(86_400 * 3 + 5), 86_400 * 3);
        assert_eq!(Bucket::Minute.floor(-1), -60);
        assert_eq!("hour".parse::<Bucket>().unwrap(), Bucket::Hour);
        let err = "week".parse::<Bucket>().unwrap_err().to_string();
        assert!(err.contains("week") && err.contains("minute, hour or day"), "{err}");
    }

    #[test]
    fn counts_add_field_by_field() {
        let mut a = UsageCounts {
            renders: 2,
            errors: 1,
            ..UsageCounts::default()
        };
        a.error_kinds.insert("archived".into(), 1);
        a.duration_buckets[3] = 2;
        let mut b = a.clone();
        b.score_sum = 1.5;
        b.input_cost = NanoUsd(7);
        a.add(&b);
        assert_eq!(a.renders, 4);
        assert_eq!(a.error_kinds["archived"], 2);
        assert_eq!(a.duration_buckets[3], 4);
        assert_eq!(a.input_cost, NanoUsd(7));
        assert_eq!(a.score_sum, 1.5);
    }
}
