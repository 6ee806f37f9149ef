//! `prompt-manager diff REF [REF]`: the structural diff of two versions — a line diff for text,
//! one section per changed message for chat prompts — and the bump it suggests, and how the new
//! version changes the tokens of a render and the cost of 1,000 renders (each side rendered with
//! `-v`/`--vars` when given, else with its schema's defaults; when a side cannot be rendered the
//! diff says why and is still shown).

use std::path::PathBuf;

use clap::Args;
use prompt_manager::versioning::{PromptDiff, suggest};
use prompt_manager::{Error, NanoUsd, PromptId, PromptManager, PromptRef, VersioningExt};
use serde::Serialize;

use super::Context;
use super::cost::{Money, RenderCost, method_text};
use super::render::parse_variables;
use crate::error::Outcome;
use crate::output::{Printer, Style};

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The old side: `id@1.0.0`, `id@production`, …
    #[arg(value_name = "FROM")]
    from: String,
    /// The new side; the latest version of FROM's prompt when left out.
    #[arg(value_name = "TO")]
    to: Option<String>,
    /// A variable for the token and cost estimate: `key=value` or `key:=json`. Repeatable.
    /// Without any, each side renders with its schema's defaults.
    #[arg(long = "var", short = 'v', value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// Variables for the estimate from a JSON or YAML file; `-` reads stdin.
    #[arg(long = "vars", value_name = "FILE")]
    vars_file: Option<PathBuf>,
    /// The model to price both sides as: default, each version's own model.
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Output tokens per render to price too.
    #[arg(long, value_name = "N")]
    output_tokens: Option<u64>,
}

/// How the new version changes what a render costs.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum CostChange {
    /// Both sides rendered.
    Estimated {
        /// `given` (-v/--vars) or `defaults` (the schemas' defaults).
        variables: &'static str,
        /// One render of the old side.
        from: Box<RenderCost>,
        /// One render of the new side.
        to: Box<RenderCost>,
        /// New minus old input tokens per render.
        tokens_change: i64,
        /// What 1,000 renders cost, each side, when both are priced.
        per_1000_renders: Option<PerThousand>,
    },
    /// A side could not be rendered or counted.
    Unavailable {
        /// Why.
        unavailable: String,
    },
}

/// The cost of 1,000 renders, old and new.
#[derive(Debug, Serialize)]
struct PerThousand {
    from: Money,
    to: Money,
    /// New minus old, in dollars.
    change_usd: f64,
}

#[derive(Debug, Serialize)]
struct DiffOut<'a> {
    from: String,
    to: String,
    /// Whether anything differs.
    changed: bool,
    /// The bump the diff calls for.
    bump: String,
    /// Why.
    reasons: Vec<String>,
    /// The structural diff.
    diff: &'a PromptDiff,
    /// Tokens per render and cost per 1,000 renders, old and new.
    cost: CostChange,
}

/// Runs `diff`.
pub(crate) async fn run(ctx: &Context, args: DiffArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let args_cost = CostArgs {
        vars: args.vars,
        vars_file: args.vars_file,
        model: args.model,
        output_tokens: args.output_tokens,
    };
    let to = match args.to {
        Some(to) => to,
        None => {
            let from: PromptRef = args.from.parse()?;
            PromptRef::latest(PromptId::new(from.id.as_str())?).to_string()
        }
    };
    let diff = pm.diff(&args.from, &to).await?;
    let suggestion = suggest(&diff);
    let out = DiffOut {
        from: diff.old.reference(),
        to: diff.new.reference(),
        changed: !diff.is_empty(),
        bump: suggestion.bump.to_string(),
        reasons: suggestion.reasons.clone(),
        diff: &diff,
        cost: cost_change(ctx, pm, &diff.old.reference(), &diff.new.reference(), &args_cost).await,
    };
    ctx.printer.emit(&out, || {
        let mut text = colour_diff(&ctx.printer, &diff.to_string());
        if !diff.is_empty() {
            let line = format!(
                "suggested bump: {} ({})",
                suggestion.bump,
                suggestion.reasons.join("; ")
            );
            text.push_str(&ctx.printer.paint(&line, Style::Info));
            text.push('\n');
        }
        text.push_str(&cost_text(&out.cost));
        text
    });
    Ok(Outcome::Success)
}

/// What `diff` needs for the estimate.
struct CostArgs {
    vars: Vec<String>,
    vars_file: Option<PathBuf>,
    model: Option<String>,
    output_tokens: Option<u64>,
}

/// Renders both sides and prices them; never fails the diff.
async fn cost_change(ctx: &Context, pm: &PromptManager, from: &str, to: &str, args: &CostArgs) -> CostChange {
    let given = !args.vars.is_empty() || args.vars_file.is_some();
    let unavailable = |why: String| CostChange::Unavailable { unavailable: why };
    let vars = match parse_variables(&args.vars, args.vars_file.as_deref()) {
        Ok(vars) => vars,
        Err(e) => return unavailable(format!("{e:#}")),
    };
    let prices = match ctx.prices() {
        Ok(prices) => prices,
        Err(e) => return unavailable(format!("{e:#}")),
    };
    let mut sides = Vec::with_capacity(2);
    for reference in [from, to] {
        match pm.render_prompt(reference, &vars).await {
            Ok(rendered) => sides.push(RenderCost::of(
                pm,
                &prices,
                &rendered,
                args.model.as_deref(),
                args.output_tokens,
            )),
            Err(Error::InvalidVariables { problems, .. }) => {
                let names: Vec<String> = problems.iter().map(|p| format!("`{}`", p.name())).collect();
                let how = if given {
                    "pass them with -v key=value (or -v key:=JSON)"
                } else {
                    "its schema gives no defaults for them; pass them with -v key=value"
                };
                return unavailable(format!(
                    "cannot estimate tokens: `{reference}` needs {} ({how})",
                    names.join(", ")
                ));
            }
            Err(e) => return unavailable(format!("cannot estimate tokens: `{reference}` does not render: {e}")),
        }
    }
    let (Some(to), Some(from)) = (sides.pop(), sides.pop()) else {
        return unavailable("cannot estimate tokens".to_owned());
    };
    let per_1000_renders = match (from.total_cost, to.total_cost) {
        (Some(a), Some(b)) => Some(PerThousand {
            from: Money::from(NanoUsd(a.nano_usd.saturating_mul(1000))),
            to: Money::from(NanoUsd(b.nano_usd.saturating_mul(1000))),
            change_usd: (b.nano_usd as f64 - a.nano_usd as f64) * 1000.0 / 1e9,
        }),
        _ => None,
    };
    CostChange::Estimated {
        variables: if given { "given" } else { "defaults" },
        tokens_change: to.input_tokens.tokens as i64 - from.input_tokens.tokens as i64,
        from: Box::new(from),
        to: Box::new(to),
        per_1000_renders,
    }
}

/// The estimate for people: two lines under the diff.
fn cost_text(change: &CostChange) -> String {
    match change {
        CostChange::Unavailable { unavailable } => format!("tokens per render: {unavailable}\n"),
        CostChange::Estimated {
            variables,
            from,
            to,
            tokens_change,
            per_1000_renders,
        } => {
            let a = from.input_tokens.tokens;
            let b = to.input_tokens.tokens;
            let percent = if a > 0 {
                format!(", {:+.1} %", *tokens_change as f64 * 100.0 / a as f64)
            } else {
                String::new()
            };
            let methods = if from.input_tokens.method == to.input_tokens.method {
                method_text(to.input_tokens.method)
            } else {
                format!(
                    "{} → {}",
                    method_text(from.input_tokens.method),
                    method_text(to.input_tokens.method)
                )
            };
            let models = match (&from.model, &to.model) {
                (a, b) if a == b => a.clone().unwrap_or_else(|| "no model".into()),
                (a, b) => format!(
                    "{} → {}",
                    a.as_deref().unwrap_or("no model"),
                    b.as_deref().unwrap_or("no model")
                ),
            };
            let vars = if *variables == "given" {
                "with the given variables"
            } else {
                "with the schema defaults"
            };
            let mut text =
                format!("tokens per render: {a} → {b} ({tokens_change:+}{percent}; {methods}; {models}; {vars})\n");
            let what = if to.output_tokens.is_some() {
                "input and output"
            } else {
                "input"
            };
            match per_1000_renders {
                Some(k) => {
                    let sign = if k.change_usd < 0.0 { "-" } else { "+" };
                    let change = NanoUsd(k.to.nano_usd.abs_diff(k.from.nano_usd));
                    text.push_str(&format!(
                        "cost per 1,000 renders: {} → {} ({sign}{change}, {what})\n",
                        k.from, k.to
                    ));
                }
                None => {
                    let missing = if from.total_cost.is_none() { from } else { to };
                    text.push_str(&format!("cost per 1,000 renders: {}\n", missing.no_price_text()));
                }
            }
            text
        }
    }
}

/// Colours a git-like diff by each line's first characters.
pub(crate) fn colour_diff(printer: &Printer, text: &str) -> String {
    if !printer.colour() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            Some(Style::Bold)
        } else if line.starts_with("@@") {
            Some(Style::Info)
        } else if line.starts_with('+') || line.trim_start().starts_with("+ ") && line.starts_with(' ') {
            Some(Style::Added)
        } else if line.starts_with('-') {
            Some(Style::Removed)
        } else if line.starts_with("message ") || line.starts_with("entry ") {
            Some(Style::Bold)
        } else {
            None
        };
        match style {
            Some(style) => out.push_str(&printer.paint(line, style)),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}
