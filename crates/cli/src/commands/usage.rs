//! `prompt-manager usage RENDER_ID …` and `prompt-manager feedback RENDER_ID …`: what the model
//! call of a render used, and how its answer was judged, added to the render's aggregate by the
//! render id a render printed (`render` shows it on stderr, and as `render_id` in JSON).

use clap::Args;
use prompt_manager::analytics::{NanoUsd, RenderToken};
use prompt_manager::{Feedback, UsageReport};
use serde::Serialize;

use super::Context;
use crate::error::{Outcome, hinted};

/// Arguments of `usage`.
#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// The render id a render returned (`r1…`).
    #[arg(value_name = "RENDER_ID")]
    render_id: String,
    /// Tokens the model produced.
    #[arg(long, value_name = "N")]
    output_tokens: Option<u64>,
    /// How long the model call took, in milliseconds.
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// What the call actually cost, in US dollars (otherwise estimated from the price book).
    #[arg(long, value_name = "USD")]
    cost: Option<f64>,
}

/// Arguments of `feedback`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("judgement").required(true).multiple(true).args(["success", "failure", "score"]))]
pub(crate) struct FeedbackArgs {
    /// The render id a render returned (`r1…`).
    #[arg(value_name = "RENDER_ID")]
    render_id: String,
    /// The answer did its job.
    #[arg(long, conflicts_with = "failure")]
    success: bool,
    /// The answer did not.
    #[arg(long)]
    failure: bool,
    /// A score on your scale (at most ±1e6).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    score: Option<f64>,
}

/// What was recorded, for the output.
#[derive(Debug, Serialize)]
struct Recorded {
    render_id: String,
    prompt_id: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

impl Recorded {
    fn of(render_id: String, token: &RenderToken) -> Self {
        Self {
            render_id,
            prompt_id: token.key.prompt_id.to_string(),
            version: token.key.version.to_string(),
            label: token.key.label.as_ref().map(ToString::to_string),
        }
    }

    fn line(&self, what: &str) -> String {
        let label = self.label.as_deref().map(|l| format!(" via {l}")).unwrap_or_default();
        format!("recorded {what} for {}@{}{label}\n", self.prompt_id, self.version)
    }
}

/// Runs `usage`.
pub(crate) async fn report_usage(ctx: &Context, args: UsageArgs) -> anyhow::Result<Outcome> {
    let actual_cost = match args.cost {
        None => None,
        Some(usd) => Some(NanoUsd::from_dollars(usd).ok_or_else(|| {
            hinted(
                anyhow::anyhow!("--cost {usd}: not a cost"),
                "give a non-negative number of US dollars, e.g. --cost 0.0021",
            )
        })?),
    };
    let report = UsageReport {
        output_tokens: args.output_tokens,
        model_latency_ms: args.latency_ms,
        actual_cost,
    };
    if report.validate().is_err() {
        return Err(hinted(
            anyhow::anyhow!("nothing to report"),
            "give --output-tokens N, --latency-ms MS and/or --cost USD",
        ));
    }
    let pm = ctx.pm().await?;
    let token = pm.report_usage(&args.render_id, &report).await?;
    let out = Recorded::of(args.render_id, &token);
    ctx.printer.emit(&out, || out.line("usage"));
    Ok(Outcome::Success)
}

/// Runs `feedback`.
pub(crate) async fn report_feedback(ctx: &Context, args: FeedbackArgs) -> anyhow::Result<Outcome> {
    let success = match (args.success, args.failure) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let feedback = Feedback {
        success,
        score: args.score,
    };
    let pm = ctx.pm().await?;
    let token = pm.report_feedback(&args.render_id, &feedback).await?;
    let out = Recorded::of(args.render_id, &token);
    ctx.printer.emit(&out, || out.line("feedback"));
    Ok(Outcome::Success)
}
