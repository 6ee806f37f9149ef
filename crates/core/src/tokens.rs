//! Tokens and prices as the manager uses them: a [`TokenCounter`] counts the input tokens of a
//! rendered prompt for its model, a [`PriceBook`] prices tokens per model, and [`NanoUsd`] holds
//! the result as an integer, so costs summed by many instances add up exactly.
//!
//! Core defines only the contracts; the implementations (OpenAI's BPE encodings, a documented
//! estimate for other providers, a price table shipped as data) live in `prompt-manager-cost`,
//! which the umbrella crate wires into the manager.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::model::RenderOutput;

/// How a [`TokenCount`] was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "method", content = "encoding")]
pub enum TokenMethod {
    /// Counted with the model's own tokenizer, named here (`o200k_base`, `cl100k_base`).
    Exact(&'static str),
    /// Estimated: the model's tokenizer is not available offline (the counter documents how).
    Estimate,
}

impl TokenMethod {
    /// Whether the count is the tokenizer's own.
    pub fn is_exact(self) -> bool {
        matches!(self, TokenMethod::Exact(_))
    }
}

/// A number of tokens and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TokenCount {
    /// The tokens.
    pub tokens: u64,
    /// Exact or estimated.
    #[serde(flatten)]
    pub method: TokenMethod,
}

/// Counts the input tokens a rendered prompt costs a model. Sync and CPU-only, like rendering;
/// it must not panic on any input.
pub trait TokenCounter: Send + Sync + Debug {
    /// The tokens `output` costs as the input of `model` (`None`: the prompt names no model, and
    /// the counter uses its default). Chat messages include the provider's per-message overhead
    /// where it is known.
    fn count(&self, model: Option<&str>, output: &RenderOutput) -> TokenCount;
}

/// US dollars in billionths: integer, so that costs added by many instances sum exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NanoUsd(pub u64);

impl NanoUsd {
    /// The amount in dollars, for display.
    pub fn dollars(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `dollars` rounded to the nearest billionth; negative, NaN and infinite amounts are refused.
    pub fn from_dollars(dollars: f64) -> Option<Self> {
        (dollars.is_finite() && dollars >= 0.0 && dollars * 1e9 <= u64::MAX as f64)
            .then(|| NanoUsd((dollars * 1e9).round() as u64))
    }

    /// The sum, saturating.
    pub fn saturating_add(self, other: NanoUsd) -> NanoUsd {
        NanoUsd(self.0.saturating_add(other.0))
    }
}

impl std::fmt::Display for NanoUsd {
    /// `$0.000123`: six decimals below a cent, two above a dollar, four between.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.dollars();
        if d >= 1.0 {
            write!(f, "${d:.2}")
        } else if d >= 0.01 {
            write!(f, "${d:.4}")
        } else {
            write!(f, "${d:.6}")
        }
    }
}

/// What a model charges, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
    /// Per million cached input tokens, where the provider prices them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}

impl Price {
    /// What `tokens` input tokens cost.
    pub fn input_cost(&self, tokens: u64) -> NanoUsd {
        per_million(self.input, tokens)
    }

    /// What `tokens` output tokens cost.
    pub fn output_cost(&self, tokens: u64) -> NanoUsd {
        per_million(self.output, tokens)
    }

    /// What `tokens` cached input tokens cost (the input price when they are not priced apart).
    pub fn cached_input_cost(&self, tokens: u64) -> NanoUsd {
        per_million(self.cached_input.unwrap_or(self.input), tokens)
    }
}

/// `tokens` at `usd_per_million`, in nano-dollars: `usd_per_million × 1000` nano-dollars a token.
fn per_million(usd_per_million: f64, tokens: u64) -> NanoUsd {
    NanoUsd::from_dollars(usd_per_million * tokens as f64 / 1e6).unwrap_or_default()
}

/// Prices per model. An unknown model has no price (`None`), never a price of zero.
pub trait PriceBook: Send + Sync + Debug {
    /// The price of `model` (a provider's model name, `gpt-4o-mini`, `claude-sonnet-4-5`).
    fn price(&self, model: &str) -> Option<Price>;

    /// Every model the book prices by name, sorted by name, for listing (`GET /v1/prices`). The
    /// default lists none.
    fn entries(&self) -> Vec<(String, Price)> {
        Vec::new()
    }

    /// Adds or replaces the price of `model` while the process runs. The default refuses: the
    /// book cannot change. An implementation refuses a price that is negative or not finite with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument), changing nothing.
    fn set_price(&self, model: &str, price: Price) -> crate::Result<()> {
        let _ = price;
        Err(crate::Error::Unsupported(format!(
            "this price book cannot change: the price of `{model}` was not set"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_exact_integers_per_million() {
        let price = Price {
            input: 2.5,
            output: 10.0,
            cached_input: None,
        };
        assert_eq!(price.input_cost(1_000_000), NanoUsd(2_500_000_000));
        assert_eq!(price.input_cost(1), NanoUsd(2_500));
        assert_eq!(price.output_cost(123), NanoUsd(1_230_000));
        assert_eq!(price.cached_input_cost(10), price.input_cost(10));
        assert_eq!(NanoUsd(2_500).to_string(), "$0.000003");
        assert_eq!(NanoUsd(2_500_000_000).to_string(), "$2.50");
    }

    #[test]
    fn bad_amounts_are_refused() {
        assert_eq!(NanoUsd::from_dollars(-1.0), None);
        assert_eq!(NanoUsd::from_dollars(f64::NAN), None);
        assert_eq!(NanoUsd::from_dollars(f64::INFINITY), None);
        assert_eq!(NanoUsd::from_dollars(0.25), Some(NanoUsd(250_000_000)));
    }
}
