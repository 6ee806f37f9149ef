//! The special functions the significance tests need, written here so core takes no numerical
//! dependency: log-gamma and log-beta (Stirling's series, shifted by the recurrence below 10),
//! the regularized incomplete gamma and beta functions (series and continued fractions evaluated
//! with the modified Lentz method, after Numerical Recipes §6.2 and §6.4), and from them the
//! normal and Student t distributions. Every function returns a finite value for every finite
//! input in its documented domain and never panics; outside the domain it returns NaN, which the
//! callers in `stats` never pass on.
//!
//! Precision: about 1e-14 relative over the range the tests use (checked against SciPy in
//! `crates/core/tests/stats_reference.rs`), except for Student's t with a very large `df`: the
//! continued fraction then cancels in its first terms and keeps about `1e-17 · df` relative
//! (1e-10 at df = 1e7, 1e-8 at df = 1e9); above df = 1e10 the normal distribution is used. The
//! log-beta avoids the cancellation of `ln Γ(a) − ln Γ(a + b)` for a large `a` (a t-test with
//! millions of scores has `df/2` in the millions), and the t distribution's tails are computed
//! from `ln(1 + t²/df)`, not from `df / (df + t²)`, for the same reason.

/// `ln √(2π)`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// `ln Γ(1/2) = ln √π`.
const LN_SQRT_PI: f64 = 0.572_364_942_924_700_1;
/// Relative precision the series and continued fractions stop at.
const EPS: f64 = 1e-16;
/// Smallest magnitude the Lentz method lets a denominator take.
const FPMIN: f64 = 1e-300;
/// Iterations a series or continued fraction may take. The continued fraction of the incomplete
/// beta needs O(√max(a, b)) of them near its switch-over point; a = 5·10⁹ still converges.
const MAX_ITERATIONS: usize = 200_000;
/// Above these degrees of freedom Student's t is the normal distribution (the difference, about
/// `t⁴ / (4 df)` relative, is below the continued fraction's own error there) and the continued
/// fraction would need more than a million steps.
const NORMAL_FROM_DF: f64 = 1e10;
/// Stirling's series is used from here on; below, the recurrence `Γ(x + 1) = x Γ(x)` shifts up.
const STIRLING_FROM: f64 = 10.0;

/// The correction term of Stirling's series, `ln Γ(x) − ((x − ½) ln x − x + ln √(2π))`, for
/// `x ≥ 10` (eight terms: below 1e-17 there).
fn stirling_correction(x: f64) -> f64 {
    // B₂ₙ / (2n (2n − 1)) for n = 1..=8.
    const C: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // Horner in 1/x², highest term first.
    let mut sum = 0.0;
    for c in C.iter().rev() {
        sum = sum * inv2 + c;
    }
    sum * inv
}

/// `ln Γ(x)` for `x > 0`.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    if !positive(x) {
        return f64::NAN;
    }
    // Shift up to the range of Stirling's series: ln Γ(x) = ln Γ(x + k) − ln(x (x + 1) … (x + k − 1)).
    let mut shifted = x;
    let mut product = 1.0;
    while shifted < STIRLING_FROM {
        product *= shifted;
        shifted += 1.0;
    }
    (shifted - 0.5) * shifted.ln() - shifted + LN_SQRT_2PI + stirling_correction(shifted) - product.ln()
}

/// `ln Γ(l) − ln Γ(l + s)` for `l ≥ 10`, `s > 0`, without the cancellation of subtracting two
/// numbers of the size of `l ln l`.
fn ln_gamma_ratio(l: f64, s: f64) -> f64 {
    -(l - 0.5) * (s / l).ln_1p() - s * (l + s).ln() + s + stirling_correction(l) - stirling_correction(l + s)
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)` for `a, b > 0`.
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    if !positive(a) || !positive(b) {
        return f64::NAN;
    }
    let (small, large) = if a < b { (a, b) } else { (b, a) };
    if large < STIRLING_FROM {
        ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
    } else if small < STIRLING_FROM {
        ln_gamma(small) + ln_gamma_ratio(large, small)
    } else {
        // Both large: Stirling for all three, the `x ln x` terms combined before they are summed.
        let sum = a + b;
        LN_SQRT_2PI - (a - 0.5) * (b / a).ln_1p() - (b - 0.5) * (a / b).ln_1p() - 0.5 * sum.ln()
            + stirling_correction(a)
            + stirling_correction(b)
            - stirling_correction(sum)
    }
}

/// Whether `x` is a finite number above zero.
pub(crate) fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Replaces a denominator too close to zero for the Lentz method.
fn guard(x: f64) -> f64 {
    if x.abs() < FPMIN { FPMIN } else { x }
}

/// The regularized upper incomplete gamma function `Q(½, x)`, for `x ≥ 0`: `erfc(√x)`.
fn gamma_q_half(x: f64) -> f64 {
    const A: f64 = 0.5;
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let prefactor = (-x + A * x.ln() - LN_SQRT_PI).exp();
    if x < A + 1.0 {
        // The series of P(a, x); Q = 1 − P is not small here, so nothing cancels.
        let mut term = 1.0 / A;
        let mut sum = term;
        let mut ap = A;
        for _ in 0..MAX_ITERATIONS {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * EPS {
                break;
            }
        }
        1.0 - sum * prefactor
    } else {
        // The continued fraction of Q(a, x), modified Lentz.
        let mut b = x + 1.0 - A;
        let mut c = 1.0 / FPMIN;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..=MAX_ITERATIONS {
            let i = i as f64;
            let an = -i * (i - A);
            b += 2.0;
            d = 1.0 / guard(an * d + b);
            c = guard(b + an / c);
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < EPS {
                break;
            }
        }
        prefactor * h
    }
}

/// The complementary error function `erfc(x)`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let q = gamma_q_half(x * x);
    if x >= 0.0 { q } else { 2.0 - q }
}

/// The standard normal distribution's cumulative distribution function `Φ(x)`.
pub fn normal_cdf(x: f64) -> f64 {
    // Φ(x) = ½ erfc(−x/√2) = ½ Q(½, x²/2) for x < 0; the upper tail the same way for x > 0.
    let tail = 0.5 * gamma_q_half(0.5 * x * x);
    if x < 0.0 { tail } else { 1.0 - tail }
}

/// Two-sided p-value of a standard normal statistic: `P(|Z| ≥ |z|) = erfc(|z|/√2)`.
pub fn normal_two_sided_p(z: f64) -> f64 {
    gamma_q_half(0.5 * z * z)
}

/// The continued fraction of the incomplete beta function (Numerical Recipes `betacf`), modified
/// Lentz; converges fast for `x < (a + 1) / (a + b + 2)`. `y = 1 − x`, from the caller.
fn beta_continued_fraction(a: f64, b: f64, x: f64, y: f64) -> f64 {
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    // 1 − (a + b) x / (a + 1), written with y: for a large and x near 1 the direct form would
    // cancel to a few digits.
    let mut d = 1.0 / guard((1.0 - b + qab * y) / qap);
    let mut h = d;
    for m in 1..=MAX_ITERATIONS {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// `I_x(a, b)` given `x`, `y = 1 − x` and their logarithms, each computed by the caller without
/// cancellation.
fn incomplete_beta_parts(a: f64, b: f64, x: f64, y: f64, ln_x: f64, ln_y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let front = (a * ln_x + b * ln_y - ln_beta(a, b)).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x, y) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, y, x) / b
    }
}

/// The regularized incomplete beta function `I_x(a, b)` for `a, b > 0` and `0 ≤ x ≤ 1`.
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if !positive(a) || !positive(b) || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    let y = 1.0 - x;
    incomplete_beta_parts(a, b, x, y, x.ln(), (-x).ln_1p())
}

/// The upper tail `P(T ≥ t)` of Student's t distribution with `df` degrees of freedom, for
/// `t ≥ 0`: `½ I_{df/(df+t²)}(df/2, ½)`.
fn student_t_upper_tail(t: f64, df: f64) -> f64 {
    let t2 = t * t;
    if t2 == 0.0 {
        return 0.5;
    }
    if !t2.is_finite() {
        return 0.0;
    }
    if df > NORMAL_FROM_DF {
        return 0.5 * normal_two_sided_p(t);
    }
    let ratio = t2 / df;
    if !ratio.is_finite() {
        return 0.0;
    }
    // x = df/(df + t²) = 1/(1 + t²/df), y = 1 − x = t²/(df + t²), each without cancellation.
    let x = 1.0 / (1.0 + ratio);
    let y = ratio / (1.0 + ratio);
    let ln_x = -ratio.ln_1p();
    let ln_y = ratio.ln() - ratio.ln_1p();
    0.5 * incomplete_beta_parts(0.5 * df, 0.5, x, y, ln_x, ln_y)
}

/// Student's t distribution's cumulative distribution function with `df > 0` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    let tail = student_t_upper_tail(t.abs(), df);
    if t < 0.0 { tail } else { 1.0 - tail }
}

/// Two-sided p-value of a t statistic with `df > 0` degrees of freedom: `P(|T| ≥ |t|)`.
pub fn student_t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    (2.0 * student_t_upper_tail(t.abs(), df)).min(1.0)
}

/// The quantile of Student's t distribution: the `t` with `student_t_cdf(t, df) = p`, for
/// `0 < p < 1`, by bisection on the tail (monotone, so it always converges; about 60 steps).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if !(0.0..1.0).contains(&p) || p == 0.0 || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    let target = 1.0 - p;
    if target >= 0.5 {
        return 0.0;
    }
    let mut lo = 0.0_f64;
    let mut hi = 1.0_f64;
    // Widen until the tail at `hi` is below the target (df = 1, p = 1 − 1e-16 needs ~1e16).
    while student_t_upper_tail(hi, df) > target {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return f64::MAX;
        }
    }
    loop {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            return mid;
        }
        if student_t_upper_tail(mid, df) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, rel: f64) {
        let scale = expected.abs().max(f64::MIN_POSITIVE);
        assert!(
            ((actual - expected) / scale).abs() <= rel,
            "{actual} vs {expected} (relative {})",
            ((actual - expected) / scale).abs()
        );
    }

    #[test]
    fn ln_gamma_matches_factorials_and_half_integers() {
        // Absolute precision near the zeros of ln Γ (the shift subtracts two numbers near 12.8).
        assert!(ln_gamma(1.0).abs() < 1e-14 && ln_gamma(2.0).abs() < 1e-14);
        close(ln_gamma(5.0), 24.0_f64.ln(), 1e-14);
        close(ln_gamma(21.0), 2_432_902_008_176_640_000.0_f64.ln(), 1e-15);
        close(ln_gamma(0.5), LN_SQRT_PI, 1e-14);
        // Γ(1e-300) ≈ 1e300.
        close(ln_gamma(1e-300), 300.0 * 10.0_f64.ln(), 1e-14);
        assert!(ln_gamma(0.0).is_nan() && ln_gamma(-1.0).is_nan());
    }

    #[test]
    fn ln_beta_has_no_cancellation_for_large_arguments() {
        // B(a, ½) ~ √(π/a) for large a: ln B = ln √π − ½ ln a + 1/(8a) + O(1/a³).
        let a = 1e12;
        close(ln_beta(a, 0.5), LN_SQRT_PI - 0.5 * a.ln() + 1.0 / (8.0 * a), 1e-14);
        // The three branches agree where they meet.
        close(
            ln_beta(9.999, 10.001),
            ln_gamma(9.999) + ln_gamma(10.001) - ln_gamma(20.0),
            1e-13,
        );
        close(ln_beta(3.0, 4.0), (1.0_f64 / 60.0).ln(), 1e-14);
    }

    #[test]
    fn erfc_and_normal_cdf_at_known_points() {
        assert_eq!(erfc(0.0), 1.0);
        close(erfc(1.0), 0.157_299_207_050_285_13, 1e-14);
        close(erfc(-1.0), 1.842_700_792_949_715, 1e-15);
        close(erfc(5.0), 1.537_459_794_428_034_8e-12, 1e-13);
        close(normal_cdf(1.959_963_984_540_054), 0.975, 1e-15);
        close(normal_cdf(-1.959_963_984_540_054), 0.025, 1e-14);
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(normal_two_sided_p(40.0), 0.0);
    }

    #[test]
    fn incomplete_beta_at_closed_forms() {
        // I_x(1, 1) = x; I_x(a, 1) = x^a; I_½(a, a) = ½.
        close(regularized_incomplete_beta(1.0, 1.0, 0.3), 0.3, 1e-14);
        close(regularized_incomplete_beta(3.0, 1.0, 0.7), 0.343, 1e-14);
        close(regularized_incomplete_beta(50.0, 50.0, 0.5), 0.5, 1e-14);
        assert_eq!(regularized_incomplete_beta(2.0, 3.0, 0.0), 0.0);
        assert_eq!(regularized_incomplete_beta(2.0, 3.0, 1.0), 1.0);
        assert!(regularized_incomplete_beta(2.0, 3.0, 1.5).is_nan());
    }

    #[test]
    fn student_t_at_closed_forms() {
        // df = 1 is Cauchy: P(T ≤ t) = ½ + atan(t)/π.
        for t in [-3.0, -0.5, 0.0, 0.25, 1.0, 7.0] {
            close(student_t_cdf(t, 1.0), 0.5 + f64::atan(t) / std::f64::consts::PI, 1e-14);
        }
        // df = 2: P(T ≤ t) = ½ + t / (2 √(t² + 2)).
        for t in [-2.0, 0.3, 4.0] {
            close(student_t_cdf(t, 2.0), 0.5 + t / (2.0 * (t * t + 2.0).sqrt()), 1e-14);
        }
        close(
            student_t_quantile(0.975, 1.0),
            (std::f64::consts::PI * 0.475).tan(),
            1e-14,
        );
        close(student_t_quantile(0.025, 2.0), -4.302_652_729_749_464, 1e-14);
        // Huge df tends to the normal distribution.
        close(student_t_quantile(0.975, 1e12), 1.959_963_984_540_054, 1e-9);
        close(student_t_two_sided_p(1.959_963_984_540_054, 1e12), 0.05, 1e-9);
    }

    #[test]
    fn student_t_with_a_huge_df_keeps_the_documented_precision() {
        // mpmath at 40 digits: I_{df/(df+t²)}(df/2, ½). The bound is 1e-17·df relative, documented.
        for (t, df, expected) in [
            (3.0, 1e9, 0.002_699_796_129_737_915_7),
            (5.0, 1e8, 5.733_041_101_267_286e-7),
            (10.0, 1e7, 1.524_359_229_027_375_6e-23),
        ] {
            close(student_t_two_sided_p(t, df), expected, 2e-17 * df);
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e-320, 1e308] {
            let _ = erfc(x);
            let _ = normal_cdf(x);
            let _ = student_t_cdf(x, 3.0);
            let _ = student_t_cdf(1.0, x);
            let _ = student_t_quantile(0.9, x);
            let _ = student_t_quantile(x, 3.0);
            let _ = regularized_incomplete_beta(x, 1.0, 0.5);
            let _ = ln_beta(x, x);
        }
    }
}
