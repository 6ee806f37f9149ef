//! Analytics: a prompt's stored usage rows grouped by version, label or variant, as series over
//! time buckets and totals, with the derived figures (error rate, latency percentiles from the
//! histogram, tokens, cost, feedback success rate and mean score).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use semver::Version;
use serde::Serialize;

use super::{Bucket, DURATION_BUCKETS, UsageCounts, UsageRow, duration_bucket_bounds};
use crate::error::{Error, Result};
use crate::id::{LabelName, PromptId};
use crate::stats::{Comparison, VariantSample, compare_to_control};
use crate::tokens::NanoUsd;

/// The most buckets one analytics query may span (a day of minutes fits).
pub const MAX_SERIES_POINTS: i64 = 1_500;

/// How analytics groups the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Per version, whatever label rendered it.
    #[default]
    Version,
    /// Per label (renders without a label form one group).
    Label,
    /// Per label and version: the variants of a split label, and of any label over time.
    Variant,
}

impl GroupBy {
    /// Its name in URLs: `version`, `label`, `variant`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GroupBy::Version => "version",
            GroupBy::Label => "label",
            GroupBy::Variant => "variant",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "version" => Ok(GroupBy::Version),
            "label" => Ok(GroupBy::Label),
            "variant" => Ok(GroupBy::Variant),
            other => Err(crate::model::unknown_name(
                "by",
                other,
                &["version", "label", "variant"],
            )),
        }
    }
}

/// What [`PromptManager::analytics`](crate::PromptManager::analytics) computes: the time range
/// `[from, to)`, the bucket width of the series and the grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// The start (rounded down to the bucket).
    pub from: DateTime<Utc>,
    /// The end, excluded.
    pub to: DateTime<Utc>,
    /// The width of a series point.
    pub bucket: Bucket,
    /// The grouping.
    pub by: GroupBy,
}

impl AnalyticsQuery {
    /// The last `span` up to now, in `bucket`s, grouped `by`.
    pub fn last(span: std::time::Duration, bucket: Bucket, by: GroupBy) -> Self {
        let to = Utc::now();
        let from = to - chrono::Duration::from_std(span).unwrap_or(chrono::Duration::days(1));
        Self { from, to, bucket, by }
    }

    /// The first whole second at or after `to`: bucket starts are whole seconds, so a bucket
    /// that starts before `to` starts before this too (a render 0.2 s into a minute, read 0.4 s
    /// into it, is in the range; truncating `to` to its second would leave it out).
    pub fn end_second(&self) -> i64 {
        self.to.timestamp() + i64::from(self.to.timestamp_subsec_nanos() > 0)
    }

    /// Refuses an empty or reversed range, and one of more than [`MAX_SERIES_POINTS`] buckets.
    pub fn validate(&self) -> Result<()> {
        if self.from >= self.to {
            return Err(Error::InvalidQuery {
                reason: format!("from ({}) must be before to ({})", self.from, self.to),
            });
        }
        let points = (self.to.timestamp() - self.bucket.floor(self.from.timestamp())) / self.bucket.seconds() + 1;
        if points > MAX_SERIES_POINTS {
            return Err(Error::InvalidQuery {
                reason: format!(
                    "the range spans {points} {} buckets; at most {MAX_SERIES_POINTS}: use a wider bucket or a \
                     shorter range",
                    self.bucket
                ),
            });
        }
        Ok(())
    }
}

/// Whether input token figures are counted, estimated or absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAccuracy {
    /// Every render's tokens were counted with the model's own tokenizer.
    Exact,
    /// Some renders were counted (or the counter itself estimates) and the rest extrapolated
    /// from the version's tokens per byte.
    Estimated,
    /// No token counter was configured when these renders were recorded.
    None,
}

/// The figures of one group or one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageSummary {
    /// Renders, successful or not.
    pub renders: u64,
    /// Failed renders.
    pub errors: u64,
    /// `errors / renders` (`None` without renders).
    pub error_rate: Option<f64>,
    /// Failed renders per error code.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Median render time in microseconds, from the histogram.
    pub latency_p50_us: Option<f64>,
    /// 95th percentile render time in microseconds, from the histogram.
    pub latency_p95_us: Option<f64>,
    /// Mean render time in microseconds.
    pub latency_mean_us: Option<f64>,
    /// Bytes of output.
    pub output_bytes: u64,
    /// Input tokens (`None` when no token counter was configured).
    pub input_tokens: Option<u64>,
    /// Whether `input_tokens` is exact.
    pub input_tokens_accuracy: TokenAccuracy,
    /// Output tokens reported after the model calls.
    pub output_tokens: u64,
    /// Usage reports received.
    pub usage_reports: u64,
    /// Mean model latency reported, in milliseconds.
    pub model_latency_mean_ms: Option<f64>,
    /// Estimated input cost (`None`: no price for the model, or no token counter).
    pub input_cost: Option<NanoUsd>,
    /// Total cost: actual costs reported, plus estimated output cost of the other reports, plus
    /// the input estimate of the renders without an actual cost (`None`: nothing priced).
    pub total_cost: Option<NanoUsd>,
    /// Feedback reports.
    pub feedback: u64,
    /// Successes among the feedback.
    pub successes: u64,
    /// Failures among the feedback.
    pub failures: u64,
    /// `successes / (successes + failures)`.
    pub success_rate: Option<f64>,
    /// Scores received.
    pub scores: u64,
    /// Mean score.
    pub mean_score: Option<f64>,
    /// Sample standard deviation of the scores (two scores or more).
    pub score_sd: Option<f64>,
}

/// `q` (0–1) of the renders in `buckets` took at most this many nanoseconds: the bucket holding
/// that rank, interpolated geometrically inside it (linearly in the first).
pub fn percentile_ns(buckets: &[u64; DURATION_BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
    let mut seen = 0.0;
    for (i, &n) in buckets.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let n = n as f64;
        if seen + n >= rank {
            let fraction = (rank - seen) / n;
            let (lo, hi) = duration_bucket_bounds(i);
            let (lo, hi) = (lo as f64, hi as f64);
            return Some(match i {
                0 => lo + fraction * (hi - lo),
                i if i == DURATION_BUCKETS - 1 => lo,
                _ => lo * (hi / lo).powf(fraction),
            });
        }
        seen += n;
    }
    None
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl UsageSummary {
    /// The figures of `c`.
    pub fn of(c: &UsageCounts) -> Self {
        let ok = c.renders - c.errors.min(c.renders);
        let accuracy = if c.input_tokens_renders == 0 {
            TokenAccuracy::None
        } else if c.input_tokens_exact_renders >= c.input_tokens_renders {
            TokenAccuracy::Exact
        } else {
            TokenAccuracy::Estimated
        };
        let input_cost = (c.priced_renders > 0).then_some(c.input_cost);
        let priced = c.priced_renders > 0 || c.actual_cost_reports > 0 || c.output_cost.0 > 0;
        let total_cost = priced.then(|| {
            let without_actual = ok.saturating_sub(c.actual_cost_reports);
            let input = if ok == 0 {
                0
            } else {
                (u128::from(c.input_cost.0) * u128::from(without_actual) / u128::from(ok)) as u64
            };
            c.actual_cost
                .saturating_add(c.output_cost)
                .saturating_add(NanoUsd(input))
        });
        let judged = c.successes + c.failures;
        let mean = ratio(0, c.scores).map(|_| c.score_sum / c.scores as f64);
        let score_sd = (c.scores >= 2).then(|| {
            let n = c.scores as f64;
            ((c.score_sum_squares - c.score_sum * c.score_sum / n) / (n - 1.0))
                .max(0.0)
                .sqrt()
        });
        Self {
            renders: c.renders,
            errors: c.errors,
            error_rate: ratio(c.errors, c.renders),
            errors_by_kind: c.error_kinds.clone(),
            latency_p50_us: percentile_ns(&c.duration_buckets, 0.5).map(|ns| ns / 1e3),
            latency_p95_us: percentile_ns(&c.duration_buckets, 0.95).map(|ns| ns / 1e3),
            latency_mean_us: ratio(c.duration_ns, c.renders).map(|ns| ns / 1e3),
            output_bytes: c.output_bytes,
            input_tokens: (c.input_tokens_renders > 0).then_some(c.input_tokens),
            input_tokens_accuracy: accuracy,
            output_tokens: c.output_tokens,
            usage_reports: c.usage_reports,
            model_latency_mean_ms: ratio(c.model_latency_ms, c.model_latency_reports),
            input_cost,
            total_cost,
            feedback: c.feedback,
            successes: c.successes,
            failures: c.failures,
            success_rate: ratio(c.successes, judged),
            scores: c.scores,
            mean_score: mean,
            score_sd,
        }
    }
}

/// One bucket of a group's series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// Its figures.
    #[serde(flatten)]
    pub summary: UsageSummary,
}

/// One group of an [`Analytics`] answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticsGroup {
    /// The version (grouping by version or variant).
    pub version: Option<Version>,
    /// The label (grouping by label or variant; `None` also for renders without a label).
    pub label: Option<LabelName>,
    /// The figures over the whole range.
    pub totals: UsageSummary,
    /// The figures per bucket, oldest first; buckets without records are left out.
    pub series: Vec<SeriesPoint>,
    /// The raw sums over the whole range (for significance tests).
    #[serde(skip)]
    pub counts: UsageCounts,
}

/// A prompt's usage over a time range, grouped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analytics {
    /// The prompt.
    pub prompt_id: PromptId,
    /// The first bucket's start.
    pub from: DateTime<Utc>,
    /// The end of the range, excluded.
    pub to: DateTime<Utc>,
    /// The series' bucket width.
    pub bucket: Bucket,
    /// The grouping.
    pub by: GroupBy,
    /// The groups, ordered by label then version.
    pub groups: Vec<AnalyticsGroup>,
    /// With [`GroupBy::Variant`]: per label rendered at two versions or more, every other
    /// version compared with the lowest (the control) — success rate, error rate, mean score —
    /// with significance tests from [`crate::stats`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<LabelExperiment>,
}

/// The variants of one label compared with its control (the lowest version rendered under it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelExperiment {
    /// The label.
    pub label: LabelName,
    /// The control's version.
    pub control: String,
    /// The control's counts.
    pub control_sample: VariantSample,
    /// One comparison per other version.
    pub comparisons: Vec<VariantComparison>,
}

/// One variant compared with the control, and what it shows in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantComparison {
    /// The tests.
    #[serde(flatten)]
    pub comparison: Comparison,
    /// `"1.3.0 better than 1.2.0 at 95 % (success rate)"`, `"no significant difference"` or
    /// `"not enough data yet"`.
    pub verdict: String,
}

/// What the significance tests need of a group's counts.
pub fn variant_sample(c: &UsageCounts) -> VariantSample {
    VariantSample {
        renders: c.renders,
        errors: c.errors,
        feedback: c.successes + c.failures,
        successes: c.successes,
        scores: c.scores,
        score_sum: c.score_sum,
        score_sum_sq: c.score_sum_squares,
    }
}

/// The experiments of variant groups: per label with two versions or more.
fn experiments(groups: &[AnalyticsGroup]) -> Vec<LabelExperiment> {
    let mut by_label: BTreeMap<&LabelName, Vec<(String, VariantSample)>> = BTreeMap::new();
    for group in groups {
        if let (Some(label), Some(version)) = (&group.label, &group.version) {
            by_label
                .entry(label)
                .or_default()
                .push((version.to_string(), variant_sample(&group.counts)));
        }
    }
    by_label
        .into_iter()
        .filter(|(_, variants)| variants.len() >= 2)
        .map(|(label, variants)| {
            let experiment = compare_to_control(variants.iter().map(|(name, sample)| (name.as_str(), sample)));
            LabelExperiment {
                label: label.clone(),
                control: experiment.control,
                control_sample: experiment.control_sample,
                comparisons: experiment
                    .comparisons
                    .into_iter()
                    .map(|comparison| VariantComparison {
                        verdict: comparison.verdict(),
                        comparison,
                    })
                    .collect(),
            }
        })
        .collect()
}

impl Analytics {
    /// Groups `rows` (of one prompt and one bucket width) as `query` asks.
    pub fn from_rows(prompt_id: PromptId, query: &AnalyticsQuery, rows: Vec<UsageRow>) -> Self {
        type GroupKey = (Option<LabelName>, Option<Version>);
        let mut groups: BTreeMap<GroupKey, BTreeMap<i64, UsageCounts>> = BTreeMap::new();
        for row in rows {
            let key = match query.by {
                GroupBy::Version => (None, Some(row.key.version)),
                GroupBy::Label => (row.key.label, None),
                GroupBy::Variant => (row.key.label, Some(row.key.version)),
            };
            groups
                .entry(key)
                .or_default()
                .entry(row.start)
                .or_default()
                .add(&row.counts);
        }
        let groups: Vec<AnalyticsGroup> = groups
            .into_iter()
            .map(|((label, version), series)| {
                let mut totals = UsageCounts::default();
                let series = series
                    .into_iter()
                    .map(|(start, counts)| {
                        totals.add(&counts);
                        SeriesPoint {
                            start: Utc.timestamp_opt(start, 0).single().unwrap_or_default(),
                            summary: UsageSummary::of(&counts),
                        }
                    })
                    .collect();
                AnalyticsGroup {
                    version,
                    label,
                    totals: UsageSummary::of(&totals),
                    series,
                    counts: totals,
                }
            })
            .collect();
        let from = Utc
            .timestamp_opt(query.bucket.floor(query.from.timestamp()), 0)
            .single()
            .unwrap_or(query.from);
        let experiments = match query.by {
            GroupBy::Variant => experiments(&groups),
            _ => Vec::new(),
        };
        Analytics {
            prompt_id,
            from,
            to: query.to,
            bucket: query.bucket,
            by: query.by,
            groups,
            experiments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::duration_bucket;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut buckets = [0; DURATION_BUCKETS];
        for ns in [1_000u64; 90].iter().chain(&[100_000u64; 10]) {
            buckets[duration_bucket(*ns)] += 1;
        }
        let p50 = percentile_ns(&buckets, 0.5).unwrap();
        assert!((512.0..1_024.0).contains(&p50), "{p50}");
        let p95 = percentile_ns(&buckets, 0.95).unwrap();
        assert!((65_536.0..131_072.0).contains(&p95), "{p95}");
        assert_eq!(percentile_ns(&[0; DURATION_BUCKETS], 0.5), None);
    }

    #[test]
    fn summaries_derive_rates_and_costs() {
        let c = UsageCounts {
            renders: 10,
            errors: 2,
            input_tokens: 800,
            input_tokens_renders: 8,
            input_tokens_exact_renders: 8,
            input_cost: NanoUsd(8_000),
            priced_renders: 8,
            usage_reports: 4,
            output_cost: NanoUsd(300),
            actual_cost: NanoUsd(5_000),
            actual_cost_reports: 4,
            successes: 3,
            failures: 1,
            feedback: 4,
            scores: 2,
            score_sum: 6.0,
            score_sum_squares: 20.0,
            ..UsageCounts::default()
        };
        let s = UsageSummary::of(&c);
        assert_eq!(s.error_rate, Some(0.2));
        assert_eq!(s.input_tokens_accuracy, TokenAccuracy::Exact);
        // 5000 actual + 300 output + half of the 8000 input estimate (4 of 8 renders have no actual cost).
        assert_eq!(s.total_cost, Some(NanoUsd(9_300)));
        assert_eq!(s.success_rate, Some(0.75));
        assert_eq!(s.mean_score, Some(3.0));
        assert_eq!(s.score_sd, Some(2f64.sqrt()));
        let none = UsageSummary::of(&UsageCounts {
            renders: 1,
            ..UsageCounts::default()
        });
        assert_eq!(none.input_tokens, None);
        assert_eq!(none.input_tokens_accuracy, TokenAccuracy::None);
        assert_eq!(none.total_cost, None);
    }

    #[test]
    fn variants_of_a_label_are_compared_with_the_lowest_version() {
        use crate::usage::UsageKey;
        let row = |version: &str, successes: u64, failures: u64| UsageRow {
            key: UsageKey {
                prompt_id: PromptId::new("support/triage").unwrap(),
                version: Version::parse(version).unwrap(),
                label: Some(LabelName::new("production").unwrap()),
            },
            bucket: super::super::Bucket::Hour,
            start: 3_600,
            counts: UsageCounts {
                renders: successes + failures,
                feedback: successes + failures,
                successes,
                failures,
                ..UsageCounts::default()
            },
        };
        let query = AnalyticsQuery {
            from: Utc.timestamp_opt(0, 0).unwrap(),
            to: Utc.timestamp_opt(7_200, 0).unwrap(),
            bucket: Bucket::Hour,
            by: GroupBy::Variant,
        };
        let rows = vec![row("1.3.0", 560, 440), row("1.2.0", 500, 500)];
        let a = Analytics::from_rows(PromptId::new("support/triage").unwrap(), &query, rows.clone());
        assert_eq!(a.experiments.len(), 1);
        let e = &a.experiments[0];
        assert_eq!(e.control, "1.2.0");
        assert_eq!(
            e.comparisons[0].verdict,
            "1.3.0 better than 1.2.0 at 95 % (success rate)"
        );
        assert!(e.comparisons[0].comparison.success.p_value < 0.01);
        let by_version = Analytics::from_rows(
            PromptId::new("support/triage").unwrap(),
            &AnalyticsQuery {
                by: GroupBy::Version,
                ..query
            },
            rows,
        );
        assert!(by_version.experiments.is_empty());
    }

    #[test]
    fn the_end_of_a_range_includes_the_bucket_it_falls_in() {
        let query = |to: &str| AnalyticsQuery {
            from: "2026-12-03T14:57:00Z".parse().unwrap(),
            to: to.parse().unwrap(),
            bucket: Bucket::Minute,
            by: GroupBy::Version,
        };
        let minute = "2026-12-04T14:57:00Z".parse::<DateTime<Utc>>().unwrap().timestamp();
        // Read 0.39 s into the minute a render was recorded in: the minute's row is in range.
        assert!(minute < query("2026-12-04T14:57:00.393Z").end_second());
        // Read at the minute's first instant: the range ends before it.
        assert_eq!(query("2026-12-04T14:57:00Z").end_second(), minute);
    }

    #[test]
    fn queries_are_bounded() {
        let to = Utc::now();
        let q = |from, bucket| AnalyticsQuery {
            from,
            to,
            bucket,
            by: GroupBy::Version,
        };
        assert!(q(to - chrono::Duration::hours(24), Bucket::Minute).validate().is_ok());
        assert!(q(to - chrono::Duration::days(30), Bucket::Minute).validate().is_err());
        assert!(q(to, Bucket::Hour).validate().is_err());
        assert!("week".parse::<GroupBy>().is_err());
    }
}
