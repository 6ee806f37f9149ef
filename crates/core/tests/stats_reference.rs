//! The significance tests of `prompt_manager_core::stats` against SciPy and statsmodels (issue 15:
//! "significance computations against known values"). The cases are data, in
//! `tests/stats/cases.json`: inputs, why each case is there, and the reference figures pinned by
//! `tests/stats/reference.py --write`. Two tests:
//!
//! - `pinned_reference_values`: our figures against the pinned ones, on every `cargo test`;
//! - `scipy_recomputes_the_reference`: runs `reference.py` (SciPy, statsmodels) now and compares
//!   our figures with what it prints, so a changed case or a changed reference is caught. Without
//!   python3 and scipy it prints why and passes, unless `PROMPT_MANAGER_REQUIRE_SCIPY=1` is set
//!   (CI sets it; `pip install -r tests/python/requirements.txt`).
//!
//! Tolerance: 1e-9 relative (plus 1e-15 absolute, for figures that are 0).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use prompt_manager_core::stats::{
    VariantSample, normal_cdf, student_t_cdf, student_t_quantile, student_t_two_sided_p, two_proportion_test,
    welch_t_test, wilson_interval,
};
use serde_json::{Map, Value};

const REQUIRE: &str = "PROMPT_MANAGER_REQUIRE_SCIPY";
const RELATIVE: f64 = 1e-9;
const ABSOLUTE: f64 = 1e-15;

fn cases_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stats/cases.json")
}

fn cases() -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(cases_path()).expect("tests/stats/cases.json reads");
    let document: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    document["cases"]
        .as_array()
        .expect("cases.json has a list `cases`")
        .iter()
        .map(|case| case.as_object().expect("each case is an object").clone())
        .collect()
}

fn u(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("expected an unsigned integer, got {value}"))
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {value}"))
}

fn group(value: &Value) -> VariantSample {
    VariantSample {
        scores: u(&value["n"]),
        score_sum: f(&value["sum"]),
        score_sum_sq: f(&value["sum_sq"]),
        ..VariantSample::default()
    }
}

/// Our figures for a case, by the names the reference script uses.
fn ours(case: &Map<String, Value>) -> BTreeMap<String, f64> {
    let kind = case["kind"].as_str().expect("a string kind");
    let pairs: Vec<(&str, f64)> = match kind {
        "proportion" => {
            let r = two_proportion_test(u(&case["a"][0]), u(&case["a"][1]), u(&case["b"][0]), u(&case["b"][1]));
            vec![
                ("p_a", r.p_a),
                ("p_b", r.p_b),
                ("diff", r.diff),
                ("ci_low", r.ci_low),
                ("ci_high", r.ci_high),
                ("z", r.z),
                ("p_value", r.p_value),
            ]
        }
        "welch" => {
            let r = welch_t_test(&group(&case["a"]), &group(&case["b"]));
            vec![
                ("mean_a", r.mean_a),
                ("mean_b", r.mean_b),
                ("diff", r.diff),
                ("ci_low", r.ci_low),
                ("ci_high", r.ci_high),
                ("t", r.t),
                ("df", r.df),
                ("p_value", r.p_value),
            ]
        }
        "wilson" => {
            let r = wilson_interval(u(&case["successes"]), u(&case["n"]));
            vec![("low", r.low), ("high", r.high)]
        }
        "normal_cdf" => vec![("value", normal_cdf(f(&case["x"])))],
        "t_cdf" => vec![("value", student_t_cdf(f(&case["t"]), f(&case["df"])))],
        "t_two_sided_p" => vec![("value", student_t_two_sided_p(f(&case["t"]), f(&case["df"])))],
        "t_quantile" => vec![("value", student_t_quantile(f(&case["p"]), f(&case["df"])))],
        other => panic!("unknown case kind {other:?}"),
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Compares every case's figures with `reference` (case name → figure → value); returns the
/// mismatches, one line each.
fn mismatches(reference: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for case in cases() {
        let name = case["name"].as_str().expect("a string name");
        let expected = reference
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("no reference figures for case {name}"));
        let ours = ours(&case);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            expected
                .keys()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
            "case {name}: the figures compared differ from the reference's"
        );
        for (figure, value) in &ours {
            let want = f(&expected[figure]);
            let error = (value - want).abs();
            if !value.is_finite() || error > RELATIVE * want.abs() + ABSOLUTE {
                problems.push(format!(
                    "{name}.{figure}: ours {value:e}, reference {want:e} (relative error {:e})",
                    error / want.abs().max(f64::MIN_POSITIVE)
                ));
            }
        }
    }
    problems
}

#[test]
fn pinned_reference_values() {
    let pinned: Map<String, Value> = cases()
        .into_iter()
        .map(|case| {
            let name = case["name"].as_str().expect("a string name").to_owned();
            let expected = case.get("expected").cloned().unwrap_or_else(|| {
                panic!("case {name} has no pinned `expected`: run `python3 tests/stats/reference.py tests/stats/cases.json --write`")
            });
            (name, expected)
        })
        .collect();
    let problems = mismatches(&pinned);
    println!(
        "stats reference cases: {} pinned, {} mismatches",
        pinned.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "figures differ from the pinned SciPy values:\n{}",
        problems.join("\n")
    );
}

#[test]
fn scipy_recomputes_the_reference() {
    let required = std::env::var(REQUIRE).is_ok_and(|v| v == "1");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stats/reference.py");
    let output = Command::new("python3").arg(&script).arg(cases_path()).output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            let why = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(!required, "{REQUIRE}=1 but reference.py failed:\n{why}");
            println!("skipped: reference.py failed (pip install -r tests/python/requirements.txt):\n{why}");
            return;
        }
        Err(e) => {
            assert!(!required, "{REQUIRE}=1 but python3 cannot run: {e}");
            println!("skipped: python3 cannot run: {e}");
            return;
        }
    };
    let live: Map<String, Value> = serde_json::from_slice(&output.stdout).expect("reference.py prints a JSON object");
    let problems = mismatches(&live);
    println!(
        "stats reference cases: {} recomputed by SciPy, {} mismatches",
        live.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "figures differ from SciPy's:\n{}",
        problems.join("\n")
    );
}
