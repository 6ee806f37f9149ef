"""Reference values for the significance tests of `prompt_manager_core::stats`, from SciPy and
statsmodels (versions pinned in tests/python/requirements.txt).

    python3 reference.py cases.json            # prints {case name: {figure: value}} as JSON
    python3 reference.py cases.json --write    # stores them as each case's "expected" (pinning)

`crates/core/tests/stats_reference.rs` runs the first form in CI and compares our figures with
SciPy's live; the pinned "expected" values are compared on every `cargo test`, Python or not.
Welch cases give the sums our API takes; the means and variances are computed from them exactly
(fractions), so the reference does not share our floating-point shortcuts.
"""

import json
import sys
import warnings
from fractions import Fraction

from scipy import stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

Z_95 = stats.norm.ppf(0.975)


def proportion(case):
    sa, na = case["a"]
    sb, nb = case["b"]
    # Variant b against control a: statsmodels' first group is b, so the difference is p_b - p_a.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z, p = proportions_ztest([sb, sa], [nb, na])  # pooled standard error
    low, high = confint_proportions_2indep(sb, nb, sa, na, method="wald", compare="diff")
    return {
        "p_a": sa / na,
        "p_b": sb / nb,
        "diff": sb / nb - sa / na,
        "ci_low": low,
        "ci_high": high,
        "z": z,
        "p_value": p,
    }


def moments(group):
    n = group["n"]
    total = Fraction(group["sum"])
    total_sq = Fraction(group["sum_sq"])
    mean = total / n
    variance = (total_sq - total * mean) / (n - 1)
    return n, mean, variance


def welch(case):
    na, mean_a, var_a = moments(case["a"])
    nb, mean_b, var_b = moments(case["b"])
    t, p = stats.ttest_ind_from_stats(
        float(mean_b), float(var_b) ** 0.5, nb, float(mean_a), float(var_a) ** 0.5, na, equal_var=False
    )
    va, vb = var_a / na, var_b / nb
    se2 = va + vb
    df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    se = float(se2) ** 0.5
    critical = stats.t.ppf(0.975, float(df))
    diff = float(mean_b - mean_a)
    return {
        "mean_a": float(mean_a),
        "mean_b": float(mean_b),
        "diff": diff,
        "ci_low": diff - critical * se,
        "ci_high": diff + critical * se,
        "t": t,
        "df": float(df),
        "p_value": p,
    }


def wilson(case):
    low, high = proportion_confint(case["successes"], case["n"], alpha=0.05, method="wilson")
    return {"low": low, "high": high}


def distribution(case):
    kind = case["kind"]
    if kind == "normal_cdf":
        return {"value": stats.norm.cdf(case["x"])}
    if kind == "t_cdf":
        return {"value": stats.t.cdf(case["t"], case["df"])}
    if kind == "t_two_sided_p":
        return {"value": 2 * stats.t.sf(abs(case["t"]), case["df"])}
    if kind == "t_quantile":
        return {"value": stats.t.ppf(case["p"], case["df"])}
    raise ValueError(f"unknown kind {kind!r}")


def reference(case):
    kind = case["kind"]
    if kind == "proportion":
        values = proportion(case)
    elif kind == "welch":
        values = welch(case)
    elif kind == "wilson":
        values = wilson(case)
    else:
        values = distribution(case)
    return {name: float(value) for name, value in values.items()}


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    results = {case["name"]: reference(case) for case in document["cases"]}
    if "--write" in sys.argv[2:]:
        for case in document["cases"]:
            case["expected"] = results[case["name"]]
        with open(path, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, ensure_ascii=False)
            f.write("\n")
    else:
        json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
