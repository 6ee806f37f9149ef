//! # prompt-manager-cost
//!
//! Tokens and cost of prompt-manager renders, implementing core's contracts:
//!
//! - [`Counter`] is a [`TokenCounter`](prompt_manager_core::TokenCounter): OpenAI models are
//!   counted with their own BPE encodings (`o200k_base`, `cl100k_base`, embedded, no network),
//!   chat messages with OpenAI's per-message overhead; every other model (Anthropic, Gemini,
//!   unknown) gets a documented estimate whose [`TokenMethod`](prompt_manager_core::TokenMethod)
//!   says so. The rules are in [`counter`].
//! - [`PriceTable`] is a [`PriceBook`](prompt_manager_core::PriceBook): a price table shipped as
//!   data (`data/prices.toml`, US dollars per million tokens, dated), overridable from
//!   configuration and at runtime; an unknown model has no price, never a price of zero. The
//!   lookup rules are in [`prices`].
//!
//! Feature `openai-tokens` (on by default) embeds the encodings (tiktoken-rs); without it every
//! model is estimated.
//!
//! ```
//! use prompt_manager_core::{PriceBook, RenderOutput, TokenCounter, TokenMethod};
//! use prompt_manager_cost::{Counter, PriceTable};
//!
//! let counter = Counter::new();
//! let count = counter.count(Some("gpt-4o-mini"), &RenderOutput::Text("Hello, world!".into()));
//! # #[cfg(feature = "openai-tokens")]
//! assert_eq!((count.tokens, count.method), (4, TokenMethod::Exact("o200k_base")));
//!
//! let prices = PriceTable::shipped();
//! let price = prices.price("gpt-4o-mini-2024-07-18").expect("priced");
//! assert_eq!(price.input_cost(1_000_000).to_string(), "$0.1500");
//! assert_eq!(prices.price("my-own-model"), None);
//! ```

pub mod counter;
pub mod prices;

pub use counter::{Counter, Encoding, count_exact, encoding_for_model, estimate_text};
pub use prices::{PriceMatch, PriceSource, PriceTable};
