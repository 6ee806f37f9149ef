//! Unit tests of the significance tests: the minimum-sample rule at its boundaries, edge input
//! (zero counts, zero variance, identical groups, overflowing sums) that must give finite figures
//! and never panic, and the verdicts. The figures against SciPy are in `tests/stats_reference.rs`.

use proptest::prelude::*;

use super::*;

fn scores(values: &[f64]) -> VariantSample {
    let mut sample = VariantSample::default();
    for &v in values {
        sample.record_score(v);
    }
    sample
}

fn feedback(successes: u64, n: u64) -> VariantSample {
    VariantSample {
        feedback: n,
        successes,
        ..VariantSample::default()
    }
}

fn assert_finite_proportion(r: &ProportionTest) {
    assert!(r.is_finite(), "{r:?}");
    assert!((0.0..=1.0).contains(&r.p_value), "{r:?}");
    assert!(r.ci_low <= r.ci_high, "{r:?}");
}

fn assert_finite_mean(r: &MeanTest) {
    assert!(r.is_finite(), "{r:?}");
    assert!((0.0..=1.0).contains(&r.p_value), "{r:?}");
    assert!(r.ci_low <= r.ci_high, "{r:?}");
}

#[test]
fn proportion_minimum_sample_boundaries() {
    // 30 observations with 5 of each outcome in both groups: enough.
    assert!(two_proportion_test(5, 30, 25, 30).enough_data);
    // 29 observations in one group.
    assert!(!two_proportion_test(5, 29, 10, 30).enough_data);
    // 4 successes, or 4 failures, in one group.
    assert!(!two_proportion_test(4, 30, 10, 30).enough_data);
    assert!(!two_proportion_test(10, 30, 26, 30).enough_data);
    // Lots of data but a rare outcome: still not enough.
    assert!(!two_proportion_test(3, 100_000, 40, 100_000).enough_data);
    // The figures are still there, only not vouched for.
    let rare = two_proportion_test(3, 100_000, 40, 100_000);
    assert!(rare.p_value < 1e-6 && !rare.significant());
}

#[test]
fn proportion_edge_input_is_finite() {
    let none = two_proportion_test(0, 0, 0, 0);
    assert_finite_proportion(&none);
    assert_eq!(
        (none.p_value, none.z, none.diff, none.enough_data),
        (1.0, 0.0, 0.0, false)
    );
    let one_side = two_proportion_test(0, 0, 10, 50);
    assert_finite_proportion(&one_side);
    assert_eq!(
        (one_side.p_b, one_side.p_value, one_side.enough_data),
        (0.2, 1.0, false)
    );
    // All successes in both groups: the pooled SE is 0; no difference, and not enough data.
    let all = two_proportion_test(100, 100, 80, 80);
    assert_finite_proportion(&all);
    assert_eq!((all.z, all.p_value, all.enough_data), (0.0, 1.0, false));
    // Identical groups: exactly no difference.
    let same = two_proportion_test(400, 1000, 400, 1000);
    assert_eq!(
        (same.z, same.p_value, same.diff, same.enough_data),
        (0.0, 1.0, 0.0, true)
    );
    // More successes than observations count as all successes.
    assert_eq!(two_proportion_test(50, 40, 10, 40), two_proportion_test(40, 40, 10, 40));
    // The largest counts there are.
    let huge = two_proportion_test(u64::MAX / 2, u64::MAX, u64::MAX / 3, u64::MAX);
    assert_finite_proportion(&huge);
    assert!(huge.significant());
}

#[test]
fn welch_minimum_sample_and_spread() {
    let a: Vec<f64> = (0..30).map(|i| f64::from(i % 5)).collect();
    let b: Vec<f64> = (0..30).map(|i| f64::from(i % 5) + 0.5).collect();
    assert!(welch_t_test(&scores(&a), &scores(&b)).enough_data);
    assert!(!welch_t_test(&scores(&a[..29]), &scores(&b)).enough_data);
    // Every score the same in both groups: SE 0, the test is not defined.
    let flat_a = scores(&[4.0; 100]);
    let flat_b = scores(&[5.0; 100]);
    let flat = welch_t_test(&flat_a, &flat_b);
    assert_finite_mean(&flat);
    assert_eq!(
        (flat.diff, flat.t, flat.p_value, flat.enough_data),
        (1.0, 0.0, 1.0, false)
    );
    // One flat group against one that varies is defined (the SE comes from the other group).
    let half = welch_t_test(&flat_a, &scores(&b));
    assert_finite_mean(&half);
    assert!(half.df > 0.0);
}

#[test]
fn welch_edge_input_is_finite() {
    let empty = VariantSample::default();
    for (a, b) in [
        (empty, empty),
        (empty, scores(&[1.0, 2.0, 3.0])),
        (scores(&[1.0]), scores(&[2.0])),
        (scores(&[1.0]), scores(&[2.0, 3.0, 4.0])),
    ] {
        let r = welch_t_test(&a, &b);
        assert_finite_mean(&r);
        assert!(!r.enough_data);
        assert_eq!(r.p_value, 1.0);
    }
    // Sums that overflowed, or are not numbers at all.
    let broken = [
        VariantSample {
            scores: 50,
            score_sum: f64::INFINITY,
            score_sum_sq: f64::INFINITY,
            ..empty
        },
        VariantSample {
            scores: 50,
            score_sum: f64::NAN,
            score_sum_sq: 1.0,
            ..empty
        },
        VariantSample {
            scores: 50,
            score_sum: 1e300,
            score_sum_sq: f64::MAX,
            ..empty
        },
    ];
    let fine = scores(&(0..50).map(f64::from).collect::<Vec<_>>());
    for b in broken {
        for r in [welch_t_test(&fine, &b), welch_t_test(&b, &fine), welch_t_test(&b, &b)] {
            assert_finite_mean(&r);
            assert!(!r.enough_data, "{b:?} gave {r:?}");
        }
    }
    // Σx² a hair below (Σx)²/n from rounding: the variance is 0, not negative.
    let rounded = VariantSample {
        scores: 3,
        score_sum: 0.3,
        score_sum_sq: 0.029_999_999_999_999_99,
        ..empty
    };
    assert_eq!(rounded.score_variance(), Some(0.0));
    // Identical groups: t = 0, p = 1.
    let same = welch_t_test(&fine, &fine);
    assert_eq!((same.t, same.p_value, same.enough_data), (0.0, 1.0, true));
}

#[test]
fn wilson_edges() {
    assert_eq!(wilson_interval(0, 0), Interval { low: 0.0, high: 1.0 });
    assert_eq!(wilson_interval(12, 10), wilson_interval(10, 10));
    let zero = wilson_interval(0, 10);
    assert_eq!(zero.low, 0.0);
    let huge = wilson_interval(u64::MAX / 2, u64::MAX);
    assert!(huge.low < 0.5 && 0.5 < huge.high && huge.high - huge.low < 1e-9);
}

#[test]
fn samples_add_up() {
    let mut a = VariantSample::default();
    a.record_render(true);
    a.record_render(false);
    a.record_success(true);
    a.record_success(false);
    a.record_score(2.0);
    a.record_score(f64::NAN);
    let mut b = VariantSample::default();
    b.record_render(true);
    b.record_success(true);
    b.record_score(4.0);
    a.merge(&b);
    assert_eq!(
        a,
        VariantSample {
            renders: 3,
            errors: 1,
            feedback: 3,
            successes: 2,
            scores: 2,
            score_sum: 6.0,
            score_sum_sq: 20.0
        }
    );
    assert_eq!(a.mean_score(), Some(3.0));
    assert_eq!(a.score_variance(), Some(2.0));
    assert_eq!(a.error_rate(), Some(1.0 / 3.0));
    assert_eq!(VariantSample::default().success_rate(), None);
    assert_eq!(VariantSample::default().mean_score(), None);
    assert_eq!(scores(&[1.0]).score_variance(), None);
}

#[test]
fn verdicts_in_plain_words() {
    let control = feedback(500, 1000);
    let better = feedback(560, 1000);
    let worse = feedback(440, 1000);
    let same = feedback(505, 1000);
    let small = feedback(10, 20);
    let experiment = compare_to_control([
        ("1.2.0", &control),
        ("1.3.0", &better),
        ("1.4.0", &worse),
        ("1.5.0", &same),
        ("1.6.0", &small),
    ]);
    assert_eq!(experiment.control, "1.2.0");
    let verdicts: Vec<String> = experiment.comparisons.iter().map(Comparison::verdict).collect();
    assert_eq!(
        verdicts,
        [
            "1.3.0 better than 1.2.0 at 95 % (success rate)",
            "1.4.0 worse than 1.2.0 at 95 % (success rate)",
            "no significant difference",
            "not enough data yet",
        ]
    );
    assert_eq!(experiment.comparisons[0].success_verdict, Verdict::Better);
    assert_eq!(experiment.comparisons[0].score_verdict, Verdict::NotEnoughData);

    // A lower error rate is better; findings on several metrics are all named.
    let mut a = VariantSample {
        renders: 10_000,
        errors: 300,
        ..feedback(500, 1000)
    };
    let mut b = VariantSample {
        renders: 10_000,
        errors: 100,
        ..feedback(440, 1000)
    };
    for i in 0..100 {
        a.record_score(f64::from(i % 5));
        b.record_score(f64::from(i % 5) + 1.0);
    }
    let experiment = compare_to_control([("A", &a), ("B", &b)]);
    assert_eq!(
        experiment.comparisons[0].verdict(),
        "B worse than A at 95 % (success rate); B better than A at 95 % (mean score); \
         B better than A at 95 % (error rate)"
    );

    // No variants, or only the control: nothing to compare.
    assert!(compare_to_control([]).comparisons.is_empty());
    assert!(compare_to_control([("A", &a)]).comparisons.is_empty());
}

#[test]
fn results_serialize_as_json() {
    let control = feedback(500, 1000);
    let variant = feedback(560, 1000);
    let experiment = compare_to_control([("1.2.0", &control), ("1.3.0", &variant)]);
    let json = serde_json::to_value(&experiment).expect("serializes");
    assert_eq!(json["comparisons"][0]["success_verdict"], "better");
    assert_eq!(json["comparisons"][0]["score"]["p_value"], 1.0);
    let back: Experiment = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, experiment);
}

proptest! {
    #[test]
    fn proportion_figures_are_always_finite(sa: u64, na: u64, sb: u64, nb: u64, small in 0u64..200, n in 0u64..400) {
        for r in [two_proportion_test(sa, na, sb, nb), two_proportion_test(small, n, sa % 1000, na % 1000)] {
            assert_finite_proportion(&r);
        }
        let w = wilson_interval(sa, na);
        prop_assert!(w.low.is_finite() && w.high.is_finite() && 0.0 <= w.low && w.low <= w.high && w.high <= 1.0);
    }

    #[test]
    fn mean_figures_are_always_finite(
        na: u64, sum_a: f64, sq_a: f64,
        nb in 0u64..1000, sum_b in -1e6f64..1e6, sq_b in 0f64..1e9,
    ) {
        let a = VariantSample { scores: na, score_sum: sum_a, score_sum_sq: sq_a, ..VariantSample::default() };
        let b = VariantSample { scores: nb, score_sum: sum_b, score_sum_sq: sq_b, ..VariantSample::default() };
        for r in [welch_t_test(&a, &b), welch_t_test(&b, &a), welch_t_test(&b, &b)] {
            assert_finite_mean(&r);
        }
    }
}
