//! `prompt-manager cost REF -v key=value …`: what one render costs as the input of a model —
//! its tokens (exact for OpenAI models, else estimated, and said so), the input cost from the
//! price table, and with `--output-tokens N` the output and total cost. `diff` uses the same
//! estimate ([`RenderCost`]) per side.

use std::path::PathBuf;

use clap::Args;
use prompt_manager::cost::{Counter, PriceMatch, PriceSource, PriceTable};
use prompt_manager::{NanoUsd, PromptManager, RenderedPrompt, TokenCount, TokenCounter, TokenMethod};
use serde::Serialize;

use super::Context;
use super::render::{explain, parse_variables};
use crate::error::Outcome;
use crate::output::Style;

/// Arguments of `cost`.
#[derive(Debug, Args)]
pub(crate) struct CostArgs {
    /// What to render: `id`, `id@1.2.0`, `id@^1`, `id@production`.
    #[arg(value_name = "REF")]
    reference: String,
    /// A variable: `key=value` (a string) or `key:=json`. Repeatable.
    #[arg(long = "var", short = 'v', value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// Variables from a JSON or YAML file holding an object; `-` reads stdin.
    #[arg(long = "vars", value_name = "FILE")]
    vars_file: Option<PathBuf>,
    /// The model to price: default, the one the version's model config names.
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Output tokens to price too (the reply's expected length), for the total cost.
    #[arg(long, value_name = "N")]
    output_tokens: Option<u64>,
}

/// An amount of US dollars, exact in nano-dollars and as a number for display.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Money {
    /// Dollars (rounded to the nano-dollar).
    pub(crate) usd: f64,
    /// Billionths of a dollar, exact.
    pub(crate) nano_usd: u64,
}

impl From<NanoUsd> for Money {
    fn from(amount: NanoUsd) -> Self {
        Money {
            usd: amount.dollars(),
            nano_usd: amount.0,
        }
    }
}

/// The price a model was found at.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PriceOut {
    /// The price table's entry (`gpt-4o-mini` for `gpt-4o-mini-2024-07-18`).
    pub(crate) entry: String,
    /// USD per million input tokens.
    pub(crate) input: f64,
    /// USD per million output tokens.
    pub(crate) output: f64,
    /// USD per million cached input tokens, where priced apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cached_input: Option<f64>,
    /// `shipped`, `config` or `runtime`.
    pub(crate) source: PriceSource,
}

/// What one render costs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RenderCost {
    /// The model priced, when one is known (`--model`, else the version's model config).
    pub(crate) model: Option<String>,
    /// The input tokens, and how they were counted (`exact` with the encoding, or `estimate`).
    pub(crate) input_tokens: TokenCount,
    /// The price found; `None`: no price (unknown model, or no model).
    pub(crate) price: Option<PriceOut>,
    /// What the input costs, when priced.
    pub(crate) input_cost: Option<Money>,
    /// The output tokens given with `--output-tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) output_tokens: Option<u64>,
    /// What they cost, when priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) output_cost: Option<Money>,
    /// Input and output, when priced.
    pub(crate) total_cost: Option<Money>,
}

impl RenderCost {
    /// The cost of `rendered` as the input of `model` (default: the version's model).
    pub(crate) fn of(
        pm: &PromptManager,
        prices: &PriceTable,
        rendered: &RenderedPrompt,
        model: Option<&str>,
        output_tokens: Option<u64>,
    ) -> Self {
        let model = model
            .or(rendered.model_config.model.as_deref())
            .map(str::to_owned)
            .filter(|m| !m.trim().is_empty());
        let fallback = Counter::new();
        let counter: &dyn TokenCounter = match pm.token_counter() {
            Some(counter) => counter.as_ref(),
            None => &fallback,
        };
        let input_tokens = counter.count(model.as_deref(), &rendered.output);
        let found: Option<PriceMatch> = model.as_deref().and_then(|m| prices.lookup(m));
        let input_cost = found.as_ref().map(|m| m.price.input_cost(input_tokens.tokens));
        let output_cost = found
            .as_ref()
            .and_then(|m| output_tokens.map(|n| m.price.output_cost(n)));
        let total_cost = input_cost.map(|input| input.saturating_add(output_cost.unwrap_or_default()));
        RenderCost {
            model,
            input_tokens,
            price: found.map(|m| PriceOut {
                entry: m.model,
                input: m.price.input,
                output: m.price.output,
                cached_input: m.price.cached_input,
                source: m.source,
            }),
            input_cost: input_cost.map(Money::from),
            output_tokens,
            output_cost: output_cost.map(Money::from),
            total_cost: total_cost.map(Money::from),
        }
    }

    /// `412 tokens (exact, o200k_base)` / `412 tokens (estimate)`.
    pub(crate) fn tokens_text(&self) -> String {
        format!(
            "{} tokens ({})",
            self.input_tokens.tokens,
            method_text(self.input_tokens.method)
        )
    }

    /// Why there is no price, for people.
    pub(crate) fn no_price_text(&self) -> String {
        match &self.model {
            Some(model) => format!(
                "no price for `{model}`: add [prices.\"{model}\"] input = …, output = … (USD per million tokens) to prompt-manager.toml"
            ),
            None => "no price: the version names no model; pass --model MODEL".to_owned(),
        }
    }
}

/// A price per million tokens: `$2.50`, `$0.075`.
pub(crate) fn rate(usd: f64) -> String {
    if (usd * 100.0).fract() == 0.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd}")
    }
}

/// `exact, o200k_base` or `estimate`.
pub(crate) fn method_text(method: TokenMethod) -> String {
    match method {
        TokenMethod::Exact(encoding) => format!("exact, {encoding}"),
        TokenMethod::Estimate => "estimate".to_owned(),
    }
}

/// What `cost` prints as JSON or YAML.
#[derive(Debug, Serialize)]
struct CostOut<'a> {
    /// The reference as given.
    reference: &'a str,
    /// The prompt.
    id: String,
    /// The exact version rendered.
    version: String,
    /// The date of the shipped prices.
    prices_as_of: &'a str,
    #[serde(flatten)]
    cost: &'a RenderCost,
}

/// Runs `cost`.
pub(crate) async fn run(ctx: &Context, args: CostArgs) -> anyhow::Result<Outcome> {
    let vars = parse_variables(&args.vars, args.vars_file.as_deref())?;
    let pm = ctx.pm().await?;
    let prices = ctx.prices()?;
    let rendered = pm.render_prompt(&args.reference, &vars).await.map_err(explain)?;
    let cost = RenderCost::of(pm, &prices, &rendered, args.model.as_deref(), args.output_tokens);
    let out = CostOut {
        reference: &args.reference,
        id: rendered.id.to_string(),
        version: rendered.version.to_string(),
        prices_as_of: prices.as_of(),
        cost: &cost,
    };
    let printer = &ctx.printer;
    printer.emit(&out, || {
        let model = cost.model.as_deref().unwrap_or("no model");
        let mut rows = vec![vec!["input tokens".to_owned(), cost.tokens_text()]];
        match (&cost.price, cost.input_cost) {
            (Some(price), Some(input_cost)) => {
                let from = match price.source {
                    PriceSource::Shipped => format!("price table of {}", prices.as_of()),
                    PriceSource::Config => "prompt-manager.toml".to_owned(),
                    PriceSource::Runtime => "set at runtime".to_owned(),
                };
                rows.push(vec![
                    "input cost".to_owned(),
                    format!(
                        "{input_cost} ({} per million, `{}`, {from})",
                        rate(price.input),
                        price.entry
                    ),
                ]);
                if let (Some(n), Some(output_cost)) = (cost.output_tokens, cost.output_cost) {
                    rows.push(vec!["output tokens".to_owned(), format!("{n} (given)")]);
                    rows.push(vec![
                        "output cost".to_owned(),
                        format!("{output_cost} ({} per million)", rate(price.output)),
                    ]);
                }
                if let Some(total) = cost.total_cost {
                    rows.push(vec!["total".to_owned(), total.to_string()]);
                }
            }
            _ => {
                rows.push(vec!["cost".to_owned(), cost.no_price_text()]);
            }
        }
        let mut text = printer.paint(&format!("{}@{} on {model}", rendered.id, rendered.version), Style::Bold);
        text.push('\n');
        for row in rows {
            text.push_str(&format!("{:<14} {}\n", row[0], row[1]));
        }
        if !cost.input_tokens.method.is_exact() {
            text.push_str(&printer.paint(
                "(an estimate: this model's tokenizer is not available offline; see docs/cost.md)\n",
                Style::Dim,
            ));
        }
        text
    });
    Ok(Outcome::Success)
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        NanoUsd(self.nano_usd).fmt(f)
    }
}
