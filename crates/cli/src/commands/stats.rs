//! `prompt-manager stats ID [--since 24h] [--by version|label|variant] [--bucket hour]`: a
//! prompt's usage analytics — renders, errors, latency percentiles, tokens, cost and feedback per
//! group — as a table (totals; `--series` adds one row per bucket) or the whole answer as JSON or
//! YAML (`--output json`).

use std::time::Duration;

use clap::Args;
use prompt_manager::analytics::{TokenAccuracy, UsageSummary};
use prompt_manager::{AnalyticsQuery, Bucket, GroupBy};

use super::Context;
use crate::error::{Outcome, hinted};

/// The grouping of `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ByArg {
    /// Per version.
    Version,
    /// Per label (renders without a label form one group).
    Label,
    /// Per label × version: the variants of a split label.
    Variant,
}

/// The bucket width of `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BucketArg {
    /// Minutes (at most a day).
    Minute,
    /// Hours.
    Hour,
    /// Days.
    Day,
}

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// The prompt id.
    id: String,
    /// How far back: `90m`, `24h`, `7d`, `30s`.
    #[arg(long, default_value = "24h", value_parser = parse_span, value_name = "SPAN")]
    since: Duration,
    /// The groups.
    #[arg(long, value_enum, default_value = "version")]
    by: ByArg,
    /// The width of a series point.
    #[arg(long, value_enum, default_value = "hour")]
    bucket: BucketArg,
    /// Also print one row per bucket under each group's totals.
    #[arg(long)]
    series: bool,
}

/// `90m`, `24h`, `7d`, `30s` as a duration.
fn parse_span(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a span; use a number and a unit: 30s, 90m, 24h, 7d");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    if n == 0 || n > 3_650 * 86_400 / seconds {
        return Err(format!("`{text}`: give a span between 1s and 3650d"));
    }
    Ok(Duration::from_secs(n * seconds))
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn row(name: String, s: &UsageSummary) -> Vec<String> {
    let tokens = match (s.input_tokens, s.input_tokens_accuracy) {
        (Some(t), TokenAccuracy::Exact) => t.to_string(),
        (Some(t), _) => format!("~{t}"),
        (None, _) => "-".to_owned(),
    };
    let cost = s.total_cost.map_or_else(|| "-".to_owned(), |c| c.to_string());
    let score = match (s.mean_score, s.scores) {
        (Some(m), n) => format!("{m:.2} (n={n})"),
        (None, _) => "-".to_owned(),
    };
    vec![
        name,
        s.renders.to_string(),
        format!("{} ({})", s.errors, percent(s.error_rate)),
        opt(s.latency_p50_us, 1),
        opt(s.latency_p95_us, 1),
        tokens,
        s.output_tokens.to_string(),
        cost,
        percent(s.success_rate),
        score,
    ]
}

/// Runs `stats`.
pub(crate) async fn run(ctx: &Context, args: StatsArgs) -> anyhow::Result<Outcome> {
    let by = match args.by {
        ByArg::Version => GroupBy::Version,
        ByArg::Label => GroupBy::Label,
        ByArg::Variant => GroupBy::Variant,
    };
    let bucket = match args.bucket {
        BucketArg::Minute => Bucket::Minute,
        BucketArg::Hour => Bucket::Hour,
        BucketArg::Day => Bucket::Day,
    };
    let query = AnalyticsQuery::last(args.since, bucket, by);
    let pm = ctx.pm().await?;
    let analytics = pm.analytics(args.id.as_str(), &query).await.map_err(|e| {
        let hint = match e.kind() {
            prompt_manager::ErrorKind::InvalidInput => "use a wider --bucket or a shorter --since",
            prompt_manager::ErrorKind::Unsupported => {
                "usage is recorded in sqlite:// and postgres:// stores; point --store at the server's store"
            }
            _ => "",
        };
        let e = anyhow::Error::new(e);
        if hint.is_empty() { e } else { hinted(e, hint) }
    })?;
    ctx.printer.emit(&analytics, || {
        if analytics.groups.is_empty() {
            return format!(
                "no usage of `{}` recorded since {} (renders are recorded by servers and commands on a sqlite:// or postgres:// store)\n",
                analytics.prompt_id,
                analytics.from.format("%Y-%m-%d %H:%M UTC")
            );
        }
        let name = |version: Option<&prompt_manager::semver::Version>, label: Option<&prompt_manager::LabelName>| {
            match (label, version) {
                (Some(l), Some(v)) => format!("{l} → {v}"),
                (Some(l), None) => l.to_string(),
                (None, Some(v)) if by == GroupBy::Variant => format!("(no label) → {v}"),
                (None, Some(v)) => v.to_string(),
                (None, None) => "(no label)".to_owned(),
            }
        };
        let mut rows = Vec::new();
        for group in &analytics.groups {
            rows.push(row(name(group.version.as_ref(), group.label.as_ref()), &group.totals));
            if args.series {
                for point in &group.series {
                    rows.push(row(
                        format!("  {}", point.start.format("%Y-%m-%d %H:%M")),
                        &point.summary,
                    ));
                }
            }
        }
        let header = format!(
            "{} since {} (by {}; latency in µs; ~ marks estimated tokens; cost in USD)\n",
            analytics.prompt_id,
            analytics.from.format("%Y-%m-%d %H:%M UTC"),
            by.as_str()
        );
        header
            + &ctx.printer.table(
                &[
                    by.as_str(),
                    "renders",
                    "errors",
                    "p50",
                    "p95",
                    "input tokens",
                    "output tokens",
                    "cost",
                    "success",
                    "mean score",
                ],
                rows,
            )
    });
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn spans_parse_or_say_why_not() {
        assert_eq!(parse_span("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_span("90m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_span("7d").unwrap(), Duration::from_secs(604_800));
        for bad in ["", "h", "24", "24w", "-1h", "0s", "99999d"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
    }
}
