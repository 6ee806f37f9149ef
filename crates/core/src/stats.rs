//! Significance tests for comparing the variants of an A/B split (or any two versions): pure
//! functions over the counts and sums the usage records aggregate, so they give the same answer
//! on one instance or summed over many. What lives here: the per-variant [`VariantSample`], the
//! two-proportion z-test ([`two_proportion_test`]) for feedback success rates and render error
//! rates, the Wilson score interval of one proportion ([`wilson_interval`]), Welch's t-test for
//! mean scores ([`welch_t_test`]), and [`compare_to_control`], which compares every variant with
//! the control and says in plain words what the data shows. Recording and aggregating usage is
//! not here (see the `usage` module of the manager).
//!
//! # The tests
//!
//! - **Success rate** (feedback with a success flag) and **error rate** (renders that failed):
//!   two-sided two-proportion z-test. The statistic uses the pooled standard error (under the
//!   null hypothesis both groups share one rate); the 95 % confidence interval of the difference
//!   `p_b − p_a` uses the unpooled (Wald) standard error. This is what statsmodels'
//!   `proportions_ztest` and `confint_proportions_2indep(method="wald")` compute. Near the margin
//!   the two can disagree (an interval that just excludes 0 with p just above 0.05); the verdict
//!   follows the p-value.
//! - **Mean score**: Welch's unequal-variances t-test, two-sided, with Welch–Satterthwaite
//!   degrees of freedom; the confidence interval is `diff ± t(0.975, df) · se`. As SciPy's
//!   `ttest_ind(equal_var=False)`.
//! - **One rate**: the Wilson score interval, which unlike `p ± 1.96·se` stays inside [0, 1] and
//!   is sensible for 0 or n successes.
//!
//! # When there is "not enough data yet"
//!
//! A result has `enough_data: false` — and [`compare_to_control`] says "not enough data yet" —
//! when the normal approximations behind the tests do not hold yet:
//!
//! - a proportion test needs at least [`MIN_SAMPLES`] (30) observations in each group **and** at
//!   least [`MIN_OUTCOMES`] (5) of each outcome (successes and failures, errors and clean
//!   renders) in each group — the usual `n·p ≥ 5` and `n·(1 − p) ≥ 5` rule;
//! - a t-test needs at least [`MIN_SAMPLES`] scores in each group and some spread: when every
//!   score of both groups is the same, the standard error is 0 and the test is not defined.
//!
//! Every figure of a result is finite whatever the input (zero counts, more successes than
//! observations, non-finite or overflowing sums): where a figure is not defined it is 0 (the
//! rates, the difference, the statistic) and the p-value is 1, and `enough_data` is false.
//!
//! Each comparison is made at 95 % on its own: with several variants or several metrics, the
//! chance that one of them shows a difference by luck grows (no multiple-comparison correction).
//!
//! ```
//! use prompt_manager_core::stats::{VariantSample, compare_to_control};
//!
//! let control = VariantSample { feedback: 1000, successes: 500, ..VariantSample::default() };
//! let variant = VariantSample { feedback: 1000, successes: 560, ..VariantSample::default() };
//! let experiment = compare_to_control([("1.2.0", &control), ("1.3.0", &variant)]);
//! let comparison = &experiment.comparisons[0];
//! assert!(comparison.success.p_value < 0.01);
//! assert_eq!(comparison.verdict(), "1.3.0 better than 1.2.0 at 95 % (success rate)");
//! ```

mod special;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use special::{
    erfc, normal_cdf, normal_two_sided_p, regularized_incomplete_beta, student_t_cdf, student_t_quantile,
    student_t_two_sided_p,
};

/// Observations each group needs before a test says anything: feedback reports for the success
/// rate, renders for the error rate, scores for the mean score.
pub const MIN_SAMPLES: u64 = 30;
/// Each outcome (success and failure; error and clean render) a proportion test needs in each
/// group.
pub const MIN_OUTCOMES: u64 = 5;
/// The confidence level of every interval and test here.
pub const CONFIDENCE: f64 = 0.95;
/// The standard normal quantile at 0.975: the two-sided 95 % critical value.
pub const Z_95: f64 = 1.959_963_984_540_054;
/// The significance level: a difference is significant when its p-value is below this.
pub const ALPHA: f64 = 1.0 - CONFIDENCE;

/// What the tests need to know about one variant: counts and sums, additive over time buckets and
/// instances ([`VariantSample::merge`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariantSample {
    /// Renders served.
    pub renders: u64,
    /// Renders that failed (at most `renders`; more counts as `renders`).
    pub errors: u64,
    /// Feedback reports that carried a success flag.
    pub feedback: u64,
    /// Of those, the successes (at most `feedback`; more counts as `feedback`).
    pub successes: u64,
    /// Feedback reports that carried a numeric score.
    pub scores: u64,
    /// The sum of the scores.
    pub score_sum: f64,
    /// The sum of the squared scores.
    pub score_sum_sq: f64,
}

impl VariantSample {
    /// Counts one render.
    pub fn record_render(&mut self, ok: bool) {
        self.renders = self.renders.saturating_add(1);
        if !ok {
            self.errors = self.errors.saturating_add(1);
        }
    }

    /// Counts one success flag.
    pub fn record_success(&mut self, success: bool) {
        self.feedback = self.feedback.saturating_add(1);
        if success {
            self.successes = self.successes.saturating_add(1);
        }
    }

    /// Counts one score; a non-finite score is ignored.
    pub fn record_score(&mut self, score: f64) {
        if score.is_finite() {
            self.scores = self.scores.saturating_add(1);
            self.score_sum += score;
            self.score_sum_sq += score * score;
        }
    }

    /// Adds `other` (another time bucket, another instance) to this sample.
    pub fn merge(&mut self, other: &VariantSample) {
        self.renders = self.renders.saturating_add(other.renders);
        self.errors = self.errors.saturating_add(other.errors);
        self.feedback = self.feedback.saturating_add(other.feedback);
        self.successes = self.successes.saturating_add(other.successes);
        self.scores = self.scores.saturating_add(other.scores);
        self.score_sum += other.score_sum;
        self.score_sum_sq += other.score_sum_sq;
    }

    /// The share of feedback that reported success, `None` without feedback.
    pub fn success_rate(&self) -> Option<f64> {
        rate(self.successes, self.feedback)
    }

    /// The share of renders that failed, `None` without renders.
    pub fn error_rate(&self) -> Option<f64> {
        rate(self.errors, self.renders)
    }

    /// The mean score, `None` without scores (or with sums that are not finite).
    pub fn mean_score(&self) -> Option<f64> {
        let moments = ScoreMoments::of(self)?;
        Some(moments.mean)
    }

    /// The sample variance of the scores (divided by `n − 1`), `None` below two scores.
    pub fn score_variance(&self) -> Option<f64> {
        let moments = ScoreMoments::of(self)?;
        (self.scores >= 2).then_some(moments.variance)
    }

    /// The Wilson 95 % interval of the success rate.
    pub fn success_interval(&self) -> Interval {
        wilson_interval(self.successes, self.feedback)
    }

    /// The Wilson 95 % interval of the error rate.
    pub fn error_interval(&self) -> Interval {
        wilson_interval(self.errors, self.renders)
    }
}

fn rate(count: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| count.min(n) as f64 / n as f64)
}

/// Mean and sample variance from the sums, when they are finite.
struct ScoreMoments {
    n: f64,
    mean: f64,
    variance: f64,
}

impl ScoreMoments {
    fn of(sample: &VariantSample) -> Option<ScoreMoments> {
        if sample.scores == 0 {
            return None;
        }
        let n = sample.scores as f64;
        let mean = sample.score_sum / n;
        // Σx² − n·mean² loses digits when the mean is large against the spread: a result a
        // rounding error below zero is 0; one far below zero (or not finite) means the sums do
        // not belong together (Σx² ≥ (Σx)²/n always), and there are no moments to give.
        let centered = sample.score_sum_sq - sample.score_sum * mean;
        if !mean.is_finite() || !centered.is_finite() || centered < -1e-9 * sample.score_sum_sq.abs() {
            return None;
        }
        let variance = if sample.scores >= 2 {
            centered.max(0.0) / (n - 1.0)
        } else {
            0.0
        };
        Some(ScoreMoments { n, mean, variance })
    }
}

/// A 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The lower bound.
    pub low: f64,
    /// The upper bound.
    pub high: f64,
}

/// The Wilson score interval (95 %) of a proportion, `successes` out of `n`. With `n = 0` it is
/// `[0, 1]`: nothing is known. `successes` above `n` count as `n`.
pub fn wilson_interval(successes: u64, n: u64) -> Interval {
    if n == 0 {
        return Interval { low: 0.0, high: 1.0 };
    }
    let x = successes.min(n) as f64;
    let n = n as f64;
    let z2 = Z_95 * Z_95;
    let denominator = n + z2;
    let center = (x + z2 / 2.0) / denominator;
    let half = Z_95 / denominator * (x * (n - x) / n + z2 / 4.0).sqrt();
    Interval {
        low: (center - half).clamp(0.0, 1.0),
        high: (center + half).clamp(0.0, 1.0),
    }
}

/// The result of a two-proportion z-test between a control `a` and a variant `b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProportionTest {
    /// The control's rate (0 without observations).
    pub p_a: f64,
    /// The variant's rate (0 without observations).
    pub p_b: f64,
    /// `p_b − p_a`.
    pub diff: f64,
    /// Lower bound of the 95 % confidence interval of `diff` (unpooled standard error).
    pub ci_low: f64,
    /// Upper bound of the 95 % confidence interval of `diff`.
    pub ci_high: f64,
    /// The z statistic (pooled standard error); 0 where it is not defined.
    pub z: f64,
    /// The two-sided p-value; 1 where the test is not defined.
    pub p_value: f64,
    /// Whether both groups reach [`MIN_SAMPLES`] observations and [`MIN_OUTCOMES`] of each outcome.
    pub enough_data: bool,
}

impl ProportionTest {
    /// Whether the difference is significant at 95 % (and there is enough data to say so).
    pub fn significant(&self) -> bool {
        self.enough_data && self.p_value < ALPHA
    }
}

/// The two-sided two-proportion z-test of `successes_b / n_b` against `successes_a / n_a`: pooled
/// standard error for the statistic, unpooled for the 95 % interval of the difference. Counts
/// above their `n` count as `n`; see the module documentation for when `enough_data` is false.
pub fn two_proportion_test(successes_a: u64, n_a: u64, successes_b: u64, n_b: u64) -> ProportionTest {
    let sa = successes_a.min(n_a);
    let sb = successes_b.min(n_b);
    let enough_data = [(sa, n_a), (sb, n_b)]
        .iter()
        .all(|&(s, n)| n >= MIN_SAMPLES && s >= MIN_OUTCOMES && n - s >= MIN_OUTCOMES);
    let undefined = ProportionTest {
        p_a: rate(sa, n_a).unwrap_or(0.0),
        p_b: rate(sb, n_b).unwrap_or(0.0),
        diff: 0.0,
        ci_low: 0.0,
        ci_high: 0.0,
        z: 0.0,
        p_value: 1.0,
        enough_data: false,
    };
    if n_a == 0 || n_b == 0 {
        return undefined;
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let (p_a, p_b) = (sa as f64 / na, sb as f64 / nb);
    let diff = p_b - p_a;
    let se_unpooled = (p_a * (1.0 - p_a) / na + p_b * (1.0 - p_b) / nb).sqrt();
    let pooled = (sa as f64 + sb as f64) / (na + nb);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let (z, p_value) = if se_pooled > 0.0 && diff != 0.0 {
        let z = diff / se_pooled;
        (z, normal_two_sided_p(z))
    } else {
        // Both groups all successes or all failures (or the same rate): no evidence of a difference.
        (0.0, 1.0)
    };
    let result = ProportionTest {
        p_a,
        p_b,
        diff,
        ci_low: diff - Z_95 * se_unpooled,
        ci_high: diff + Z_95 * se_unpooled,
        z,
        p_value,
        enough_data,
    };
    if result.is_finite() { result } else { undefined }
}

impl ProportionTest {
    fn is_finite(&self) -> bool {
        [
            self.p_a,
            self.p_b,
            self.diff,
            self.ci_low,
            self.ci_high,
            self.z,
            self.p_value,
        ]
        .iter()
        .all(|x| x.is_finite())
    }
}

/// The result of Welch's t-test between the mean scores of a control `a` and a variant `b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanTest {
    /// The control's mean score (0 without scores).
    pub mean_a: f64,
    /// The variant's mean score (0 without scores).
    pub mean_b: f64,
    /// `mean_b − mean_a`.
    pub diff: f64,
    /// Lower bound of the 95 % confidence interval of `diff`.
    pub ci_low: f64,
    /// Upper bound of the 95 % confidence interval of `diff`.
    pub ci_high: f64,
    /// The t statistic; 0 where it is not defined.
    pub t: f64,
    /// The Welch–Satterthwaite degrees of freedom; 0 where they are not defined.
    pub df: f64,
    /// The two-sided p-value; 1 where the test is not defined.
    pub p_value: f64,
    /// Whether both groups reach [`MIN_SAMPLES`] scores and the scores vary.
    pub enough_data: bool,
}

impl MeanTest {
    /// Whether the difference is significant at 95 % (and there is enough data to say so).
    pub fn significant(&self) -> bool {
        self.enough_data && self.p_value < ALPHA
    }

    fn is_finite(&self) -> bool {
        [
            self.mean_a,
            self.mean_b,
            self.diff,
            self.ci_low,
            self.ci_high,
            self.t,
            self.df,
            self.p_value,
        ]
        .iter()
        .all(|x| x.is_finite())
    }
}

/// Welch's two-sided t-test of the mean score of `b` against that of `a`, from their `scores`,
/// `score_sum` and `score_sum_sq`. See the module documentation for when `enough_data` is false.
pub fn welch_t_test(a: &VariantSample, b: &VariantSample) -> MeanTest {
    let ma = ScoreMoments::of(a);
    let mb = ScoreMoments::of(b);
    let mut undefined = MeanTest {
        mean_a: ma.as_ref().map_or(0.0, |m| m.mean),
        mean_b: mb.as_ref().map_or(0.0, |m| m.mean),
        diff: 0.0,
        ci_low: 0.0,
        ci_high: 0.0,
        t: 0.0,
        df: 0.0,
        p_value: 1.0,
        enough_data: false,
    };
    let (Some(ma), Some(mb)) = (ma, mb) else {
        return undefined;
    };
    undefined.diff = mb.mean - ma.mean;
    undefined.ci_low = undefined.diff;
    undefined.ci_high = undefined.diff;
    if !undefined.diff.is_finite() {
        undefined.diff = 0.0;
        undefined.ci_low = 0.0;
        undefined.ci_high = 0.0;
    }
    if ma.n < 2.0 || mb.n < 2.0 {
        return undefined;
    }
    let va = ma.variance / ma.n;
    let vb = mb.variance / mb.n;
    let se2 = va + vb;
    let se = se2.sqrt();
    let df = se2 * se2 / (va * va / (ma.n - 1.0) + vb * vb / (mb.n - 1.0));
    if !special::positive(se) || !special::positive(df) {
        return undefined;
    }
    let diff = undefined.diff;
    let t = diff / se;
    let critical = student_t_quantile(0.5 + CONFIDENCE / 2.0, df);
    let result = MeanTest {
        mean_a: ma.mean,
        mean_b: mb.mean,
        diff,
        ci_low: diff - critical * se,
        ci_high: diff + critical * se,
        t,
        df,
        p_value: student_t_two_sided_p(t, df),
        enough_data: a.scores >= MIN_SAMPLES && b.scores >= MIN_SAMPLES,
    };
    if result.is_finite() { result } else { undefined }
}

/// What one comparison shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The test's minimum sample is not reached yet.
    NotEnoughData,
    /// Enough data, and no difference significant at 95 %.
    NoSignificantDifference,
    /// The variant is significantly better than the control (higher success rate or score,
    /// lower error rate).
    Better,
    /// The variant is significantly worse than the control.
    Worse,
}

impl Verdict {
    fn of(enough_data: bool, significant: bool, diff: f64, higher_is_better: bool) -> Verdict {
        if !enough_data {
            Verdict::NotEnoughData
        } else if !significant {
            Verdict::NoSignificantDifference
        } else if (diff > 0.0) == higher_is_better {
            Verdict::Better
        } else {
            Verdict::Worse
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::NotEnoughData => "not enough data yet",
            Verdict::NoSignificantDifference => "no significant difference",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
        })
    }
}

/// One variant compared with the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The variant's name (its version).
    pub variant: String,
    /// The control's name.
    pub control: String,
    /// The variant's sample.
    pub sample: VariantSample,
    /// Feedback success rate, variant against control.
    pub success: ProportionTest,
    /// What the success rates show.
    pub success_verdict: Verdict,
    /// Render error rate, variant against control.
    pub errors: ProportionTest,
    /// What the error rates show (lower is better).
    pub errors_verdict: Verdict,
    /// Mean score, variant against control.
    pub score: MeanTest,
    /// What the mean scores show.
    pub score_verdict: Verdict,
}

impl Comparison {
    /// The comparison in plain words: `"1.3.0 better than 1.2.0 at 95 % (success rate)"`, one such
    /// clause per significant metric joined by `"; "`; otherwise `"no significant difference"`
    /// when at least one metric has enough data, else `"not enough data yet"`.
    pub fn verdict(&self) -> String {
        let metrics = [
            ("success rate", self.success_verdict),
            ("mean score", self.score_verdict),
            ("error rate", self.errors_verdict),
        ];
        let findings: Vec<String> = metrics
            .iter()
            .filter(|(_, v)| matches!(v, Verdict::Better | Verdict::Worse))
            .map(|(metric, v)| format!("{} {v} than {} at 95 % ({metric})", self.variant, self.control))
            .collect();
        if !findings.is_empty() {
            findings.join("; ")
        } else if metrics.iter().any(|(_, v)| *v == Verdict::NoSignificantDifference) {
            Verdict::NoSignificantDifference.to_string()
        } else {
            Verdict::NotEnoughData.to_string()
        }
    }
}

/// Every variant compared with the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// The control's name.
    pub control: String,
    /// The control's sample.
    pub control_sample: VariantSample,
    /// One comparison per other variant, in the order given.
    pub comparisons: Vec<Comparison>,
}

/// Compares each variant with the control, the first one given (by convention the oldest
/// variant, the version the label pointed at before the split). Fewer than two variants give an
/// experiment without comparisons (and an empty control name for none).
pub fn compare_to_control<'a, I>(variants: I) -> Experiment
where
    I: IntoIterator<Item = (&'a str, &'a VariantSample)>,
{
    let mut variants = variants.into_iter();
    let Some((control, control_sample)) = variants.next() else {
        return Experiment {
            control: String::new(),
            control_sample: VariantSample::default(),
            comparisons: Vec::new(),
        };
    };
    let comparisons = variants
        .map(|(name, sample)| compare(control, control_sample, name, sample))
        .collect();
    Experiment {
        control: control.to_owned(),
        control_sample: *control_sample,
        comparisons,
    }
}

fn compare(control: &str, a: &VariantSample, variant: &str, b: &VariantSample) -> Comparison {
    let success = two_proportion_test(a.successes, a.feedback, b.successes, b.feedback);
    let errors = two_proportion_test(a.errors, a.renders, b.errors, b.renders);
    let score = welch_t_test(a, b);
    Comparison {
        variant: variant.to_owned(),
        control: control.to_owned(),
        sample: *b,
        success_verdict: Verdict::of(success.enough_data, success.significant(), success.diff, true),
        success,
        errors_verdict: Verdict::of(errors.enough_data, errors.significant(), errors.diff, false),
        errors,
        score_verdict: Verdict::of(score.enough_data, score.significant(), score.diff, true),
        score,
    }
}

#[cfg(test)]
mod tests;
