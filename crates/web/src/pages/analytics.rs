//! The usage pages: a prompt's analytics (`/ui/analytics/{id}`: renders, error rate, p50/p95
//! render time, tokens and cost over time, by version, label or variant, with totals) and the
//! experiment view of an A/B split label (`/ui/experiment/{id}?label=…`: its variants side by
//! side, each compared with the control by the tests of `prompt_manager::stats`, and a button
//! that promotes one variant, which ends the test).
//!
//! Both read the usage rows the server's instances flushed to the store
//! (`PromptManager::analytics`); a store that keeps no usage (`dir://`) gets a note, not an
//! error. Charts are inline SVG drawn here ([`crate::chart`]).

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use minijinja::Value;
use prompt_manager::analytics::{AnalyticsGroup, UsageSummary};
use prompt_manager::semver::Version;
use prompt_manager::stats::{self, VariantSample};
use prompt_manager::{Analytics, AnalyticsQuery, Bucket, Error, GroupBy, LabelName};
use serde::{Deserialize, Serialize};

use crate::Web;
use crate::chart::{Chart, Series, Unit};
use crate::session::Viewer;
use crate::view::{OrPage, PageError, PageResult, data, fail, ok};

/// The time ranges the pages offer: name, span in seconds, bucket of the series.
const RANGES: &[(&str, i64, Bucket)] = &[
    ("1h", 3_600, Bucket::Minute),
    ("24h", 86_400, Bucket::Hour),
    ("7d", 7 * 86_400, Bucket::Hour),
    ("30d", 30 * 86_400, Bucket::Day),
];

/// The query string of both pages.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    /// `1h`, `24h` (the default of the analytics page), `7d` (the experiment's default) or `30d`.
    range: Option<String>,
    /// `version` (the default), `label` or `variant`.
    by: Option<String>,
    /// The split label (experiment page).
    label: Option<String>,
}

/// The range named `name`, or a clear page error.
fn range(name: &str) -> Result<(&'static str, i64, Bucket), PageError> {
    RANGES.iter().find(|(n, ..)| *n == name).copied().ok_or_else(|| {
        let names: Vec<&str> = RANGES.iter().map(|r| r.0).collect();
        fail(
            StatusCode::BAD_REQUEST,
            "Bad request",
            &format!("range `{name}` is not one of {}", names.join(", ")),
        )
    })
}

fn parse_params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, PageError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad request", &e.body_text()))
}

/// What the page shows when the store keeps no usage, instead of figures.
fn unsupported(error: &Error) -> Option<String> {
    matches!(error, Error::Unsupported(_) | Error::FeatureMissing { .. }).then(|| error.to_string())
}

/// The prompt's analytics, or the note to show instead when the store keeps no usage.
async fn analytics_or_note(
    pm: &prompt_manager::PromptManager,
    id: &prompt_manager::PromptId,
    query: &AnalyticsQuery,
) -> Result<(Option<Analytics>, Option<String>), PageError> {
    match pm.analytics(id, query).await {
        Ok(a) => Ok((Some(a), None)),
        Err(e) => match unsupported(&e) {
            Some(note) => Ok((None, Some(note))),
            None => Err(e).or_page(),
        },
    }
}

/// The figures of one group, as a table row shows them.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    version: Option<String>,
    label: Option<String>,
    totals: UsageSummary,
    /// Total cost per 1,000 renders, in dollars.
    cost_per_1k: Option<f64>,
    /// Input tokens per render.
    tokens_per_render: Option<f64>,
}

fn group_name(group: &AnalyticsGroup, by: GroupBy) -> String {
    let version = group.version.as_ref().map(Version::to_string);
    let label = group.label.as_ref().map(|l| l.as_str().to_owned());
    match (by, label, version) {
        (GroupBy::Label, Some(l), _) => l,
        (GroupBy::Label, None, _) => "(no label)".into(),
        (GroupBy::Variant, Some(l), Some(v)) => format!("{l} → {v}"),
        (_, None, Some(v)) if by == GroupBy::Variant => format!("{v} (no label)"),
        (_, _, Some(v)) => v,
        _ => "(all)".into(),
    }
}

fn row(group: &AnalyticsGroup, by: GroupBy) -> Row {
    let t = &group.totals;
    let renders = t.renders as f64;
    Row {
        name: group_name(group, by),
        version: group.version.as_ref().map(Version::to_string),
        label: group.label.as_ref().map(|l| l.as_str().to_owned()),
        cost_per_1k: t
            .total_cost
            .filter(|_| t.renders > 0)
            .map(|c| c.dollars() / renders * 1000.0),
        tokens_per_render: t.input_tokens.filter(|_| t.renders > 0).map(|n| n as f64 / renders),
        totals: t.clone(),
    }
}

/// The cost column of the prompt page's timeline: each version's renders, tokens and cost over
/// the last 30 days (nothing when the store keeps no usage).
pub(crate) async fn by_version(pm: &prompt_manager::PromptManager, id: &prompt_manager::PromptId) -> Value {
    let query = AnalyticsQuery::last(
        std::time::Duration::from_secs(30 * 86_400),
        Bucket::Day,
        GroupBy::Version,
    );
    let rows: BTreeMap<String, Row> = match pm.analytics(id, &query).await {
        Ok(a) => a
            .groups
            .iter()
            .filter_map(|g| g.version.as_ref().map(|v| (v.to_string(), row(g, GroupBy::Version))))
            .collect(),
        Err(e) => {
            if unsupported(&e).is_none() {
                tracing::warn!(prompt = %id, "usage for the prompt page: {e}");
            }
            BTreeMap::new()
        }
    };
    data(&rows)
}

/// A chart's figure: title, unit, whether a bucket without records counts as zero (counts) or
/// has no value (rates, times), and how to read it from a summary.
type Metric = (&'static str, Unit, bool, fn(&UsageSummary) -> Option<f64>);

/// The analytics page's charts.
const PAGE_METRICS: [Metric; 6] = [
    ("Renders", Unit::Count, true, |s| Some(s.renders as f64)),
    ("Error rate", Unit::Ratio, false, |s| s.error_rate),
    ("Render time p50", Unit::Millis, false, |s| {
        s.latency_p50_us.map(|us| us / 1000.0)
    }),
    ("Render time p95", Unit::Millis, false, |s| {
        s.latency_p95_us.map(|us| us / 1000.0)
    }),
    ("Input tokens", Unit::Count, true, |s| s.input_tokens.map(|n| n as f64)),
    ("Cost", Unit::Dollars, true, |s| s.total_cost.map(|c| c.dollars())),
];

/// The experiment view's charts.
const EXPERIMENT_METRICS: [Metric; 3] = [
    ("Renders", Unit::Count, true, |s| Some(s.renders as f64)),
    ("Success rate", Unit::Ratio, false, |s| s.success_rate),
    ("Mean score", Unit::Count, false, |s| s.mean_score),
];

/// The charts of an analytics answer: one line per group, a point per bucket of the range.
fn charts(analytics: &Analytics, groups: &[&AnalyticsGroup], names: &[String], metrics: &[Metric]) -> Vec<Value> {
    let step = analytics.bucket.seconds();
    let from = analytics.bucket.floor(analytics.from.timestamp());
    let to = analytics.to.timestamp();
    let starts: Vec<i64> = (0..).map(|i| from + i * step).take_while(|t| *t < to).collect();
    metrics
        .iter()
        .map(|(title, unit, zero_when_empty, value)| {
            let series: Vec<Series> = groups
                .iter()
                .zip(names)
                .map(|(group, name)| {
                    let by_start: BTreeMap<i64, &UsageSummary> =
                        group.series.iter().map(|p| (p.start.timestamp(), &p.summary)).collect();
                    // A figure the group never had (tokens without a counter, cost without a
                    // price) has no points at all, rather than a line at zero.
                    let zero_when_empty = *zero_when_empty && value(&group.totals).is_some();
                    Series {
                        name: name.clone(),
                        points: starts
                            .iter()
                            .map(|t| {
                                let v = match by_start.get(t) {
                                    Some(s) => value(s),
                                    None if zero_when_empty => Some(0.0),
                                    None => None,
                                };
                                (*t, v)
                            })
                            .collect(),
                    }
                })
                .collect();
            let title = format!("{title} per {}", analytics.bucket);
            let chart = Chart {
                title: &title,
                unit: *unit,
                series: &series,
                from,
                to,
            };
            let (svg, legend) = (chart.svg(), chart.legend());
            minijinja::context! {
                title,
                svg => Value::from_safe_string(svg),
                legend => Value::from_safe_string(legend),
            }
        })
        .collect()
}

/// `GET /ui/analytics/{id}`: a prompt's usage over a range, by version, label or variant.
pub(crate) async fn page(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> PageResult {
    let params = parse_params(query)?;
    let id = super::prompt_id(&raw)?;
    let (range_name, span, bucket) = range(params.range.as_deref().unwrap_or("24h"))?;
    let by: GroupBy = match params.by.as_deref() {
        None | Some("") => GroupBy::Version,
        Some(by) => by
            .parse()
            .map_err(|e: Error| fail(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()))?,
    };
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let query = AnalyticsQuery::last(std::time::Duration::from_secs(span as u64), bucket, by);
    let (analytics, note) = analytics_or_note(pm, &id, &query).await?;
    let (rows, charts) = match &analytics {
        Some(a) => {
            let groups: Vec<&AnalyticsGroup> = a.groups.iter().collect();
            let names: Vec<String> = groups.iter().map(|g| group_name(g, by)).collect();
            let rows: Vec<Row> = a.groups.iter().map(|g| row(g, by)).collect();
            (rows, charts(a, &groups, &names, &PAGE_METRICS))
        }
        None => (Vec::new(), Vec::new()),
    };
    let splits: Vec<String> = summary.splits.keys().map(|l| l.as_str().to_owned()).collect();
    Ok(ok(
        "analytics.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            summary => data(&summary),
            ranges => RANGES.iter().map(|r| r.0).collect::<Vec<_>>(),
            range => range_name,
            by => by.as_str(),
            bucket => bucket.as_str(),
            rows => data(&rows),
            charts,
            note,
            splits,
        },
    ))
}

/// One variant of an experiment, as the page shows it.
#[derive(Debug, Serialize)]
struct VariantView {
    version: String,
    /// Its weight and share in the split (none: a version the label served before or after).
    weight: Option<u32>,
    share: Option<f64>,
    in_split: bool,
    control: bool,
    totals: Option<UsageSummary>,
    cost_per_1k: Option<f64>,
    tokens_per_render: Option<f64>,
    /// The success rate's 95 % Wilson interval.
    success_ci: Option<stats::Interval>,
    /// The comparison with the control (none for the control itself).
    comparison: Option<stats::Comparison>,
    verdict: Option<String>,
}

/// `GET /ui/experiment/{id}?label=L`: the variants of split label `L` side by side.
pub(crate) async fn experiment(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> PageResult {
    let params = parse_params(query)?;
    let id = super::prompt_id(&raw)?;
    let (range_name, span, bucket) = range(params.range.as_deref().unwrap_or("7d"))?;
    let label_text = params.label.as_deref().unwrap_or_default();
    let label = LabelName::new(label_text).map_err(|e| {
        fail(
            StatusCode::BAD_REQUEST,
            "Bad request",
            &format!("label: {e} (open an experiment from the prompt's analytics page)"),
        )
    })?;
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let split = summary.splits.get(&label);
    let query = AnalyticsQuery::last(std::time::Duration::from_secs(span as u64), bucket, GroupBy::Variant);
    let (analytics, note) = analytics_or_note(pm, &id, &query).await?;
    let groups: BTreeMap<Version, &AnalyticsGroup> = analytics
        .iter()
        .flat_map(|a| &a.groups)
        .filter(|g| g.label.as_ref() == Some(&label))
        .filter_map(|g| g.version.clone().map(|v| (v, g)))
        .collect();
    if split.is_none() && groups.is_empty() && note.is_none() {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "No experiment",
            &format!(
                "`{label}` of `{id}` is not an A/B split and served no renders in the last {range_name}: \
                 split it with `prompt-manager label split {id} {label} 1.0.0=50 1.1.0=50`"
            ),
        ));
    }
    // The split's variants oldest first (the oldest is the control), then versions the label
    // served in the range that are not in the split (before the test, or after it ended).
    let mut versions: Vec<(Version, Option<u32>)> = split
        .map(|s| {
            s.variants()
                .iter()
                .map(|v| (v.version.clone(), Some(v.weight)))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by(|a, b| a.0.cmp(&b.0));
    for version in groups.keys() {
        if !versions.iter().any(|(v, _)| v == version) {
            versions.push((version.clone(), None));
        }
    }
    let total_weight = split.map_or(0, |s| s.total_weight());
    let samples: Vec<(String, VariantSample)> = versions
        .iter()
        .map(|(v, _)| (v.to_string(), groups.get(v).map(|g| sample(g)).unwrap_or_default()))
        .collect();
    let experiment = stats::compare_to_control(samples.iter().map(|(n, s)| (n.as_str(), s)));
    let variants: Vec<VariantView> = versions
        .iter()
        .enumerate()
        .map(|(i, (version, weight))| {
            let group = groups.get(version);
            let r = group.map(|g| row(g, GroupBy::Variant));
            let comparison = i.checked_sub(1).and_then(|j| experiment.comparisons.get(j)).cloned();
            let sample = &samples[i].1;
            VariantView {
                version: version.to_string(),
                weight: *weight,
                share: weight
                    .filter(|_| total_weight > 0)
                    .map(|w| w as f64 / total_weight as f64),
                in_split: weight.is_some(),
                control: i == 0,
                totals: group.map(|g| g.totals.clone()),
                cost_per_1k: r.as_ref().and_then(|r| r.cost_per_1k),
                tokens_per_render: r.as_ref().and_then(|r| r.tokens_per_render),
                success_ci: (sample.feedback > 0).then(|| stats::wilson_interval(sample.successes, sample.feedback)),
                verdict: comparison.as_ref().map(stats::Comparison::verdict),
                comparison,
            }
        })
        .collect();
    let chart_groups: Vec<&AnalyticsGroup> = versions.iter().filter_map(|(v, _)| groups.get(v).copied()).collect();
    let names: Vec<String> = chart_groups
        .iter()
        .filter_map(|g| g.version.as_ref().map(Version::to_string))
        .collect();
    let charts = analytics
        .as_ref()
        .map(|a| charts(a, &chart_groups, &names, &EXPERIMENT_METRICS))
        .unwrap_or_default();
    let since = split_started(&web, &id, &label).await;
    Ok(ok(
        "experiment.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            label => label.as_str(),
            summary => data(&summary),
            split => split.is_some(),
            since => since.map(|t| t.to_rfc3339()),
            ranges => RANGES.iter().map(|r| r.0).collect::<Vec<_>>(),
            range => range_name,
            variants => data(&variants),
            control => experiment.control,
            min_samples => stats::MIN_SAMPLES,
            min_outcomes => stats::MIN_OUTCOMES,
            charts,
            note,
        },
    ))
}

/// The sample of one variant for the tests.
fn sample(group: &AnalyticsGroup) -> VariantSample {
    let c = &group.counts;
    VariantSample {
        renders: c.renders,
        errors: c.errors,
        feedback: c.successes.saturating_add(c.failures),
        successes: c.successes,
        scores: c.scores,
        score_sum: c.score_sum,
        score_sum_sq: c.score_sum_squares,
    }
}

/// When the label last became a split (from its history), for the page's header.
async fn split_started(web: &Web, id: &prompt_manager::PromptId, label: &LabelName) -> Option<DateTime<Utc>> {
    let history = web.app.manager().label_history(id, Some(label.clone())).await.ok()?;
    history.iter().rev().find(|e| e.to_split.is_some()).map(|e| e.at)
}
