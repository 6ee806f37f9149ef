//! The price table: model → [`Price`], shipped as data (`data/prices.toml`, compiled in),
//! overridable from configuration and while the process runs.
//!
//! ## Lookup
//! A model name is looked up
//! 1. as written (after trimming and lower-casing: provider names are lower case);
//! 2. without a router's provider prefix: `openai/`, `anthropic/`, `gemini/`, `google/`,
//!    `vertex_ai/`, `models/` (`openai/gpt-4o` → `gpt-4o`);
//! 3. then, one at a time, without a snapshot suffix, trying the name after each removal:
//!    a date `-2024-08-06` or `-20250929`, a Gemini preview date `-06-05`, a version `-0613` or
//!    `-001`, `-latest`, `-preview` (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`,
//!    `gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, `gemini-2.5-flash-preview-05-20` →
//!    `gemini-2.5-flash`).
//!
//! There is no other prefix matching: `gpt-4o-mini` is never priced as `gpt-4o`, and a model
//! found by none of these steps has no price (`None`), never a price of zero. An exact entry
//! wins over its family (`gpt-4o-2024-05-13` keeps its own, higher price).

use std::collections::BTreeMap;
use std::sync::RwLock;

use prompt_manager_core::{Error, Price, PriceBook};
use serde::{Deserialize, Serialize};

/// The shipped table, as compiled in.
pub const SHIPPED_PRICES: &str = include_str!("../data/prices.toml");

/// Where the price of a model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The table shipped with prompt-manager.
    Shipped,
    /// A configuration file (`[prices."model"]` in `prompt-manager.toml`).
    Config,
    /// Set while the process runs (`PUT /v1/prices/{model}`, [`PriceTable::set`]).
    Runtime,
}

/// A price found for a model, with the entry that gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceMatch {
    /// The name of the entry (`gpt-4o-mini` for `gpt-4o-mini-2024-07-18`).
    pub model: String,
    /// The price.
    pub price: Price,
    /// Where it came from.
    pub source: PriceSource,
}

/// The file format of a price table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    /// The date the prices were collected (`YYYY-MM-DD`).
    as_of: String,
    /// Model → price.
    models: BTreeMap<String, Price>,
}

/// Prices per model, safe to share: lookups take a read lock, overrides a write lock.
#[derive(Debug)]
pub struct PriceTable {
    as_of: String,
    entries: RwLock<BTreeMap<String, (Price, PriceSource)>>,
}

impl Default for PriceTable {
    /// The shipped table.
    fn default() -> Self {
        Self::shipped()
    }
}

impl PriceTable {
    /// The table shipped with prompt-manager (`data/prices.toml`): current OpenAI, Anthropic and
    /// Gemini models, as of [`as_of`](Self::as_of).
    pub fn shipped() -> Self {
        // The shipped file is checked by the crate's tests; should it ever fail to parse, the
        // table is empty (every model "no price") rather than a panic.
        Self::from_toml(SHIPPED_PRICES, PriceSource::Shipped).unwrap_or_else(|_| Self::empty())
    }

    /// A table without prices.
    pub fn empty() -> Self {
        PriceTable {
            as_of: String::new(),
            entries: RwLock::new(BTreeMap::new()),
        }
    }

    /// A table read from TOML in the shipped format (`as_of = "YYYY-MM-DD"` and a `[models]`
    /// table of `"name" = { input = …, output = …, cached_input = … }`), every price checked.
    pub fn from_toml(text: &str, source: PriceSource) -> Result<Self, Error> {
        let file: PriceFile = toml::from_str(text).map_err(|e| Error::InvalidArgument {
            argument: "price table",
            input: String::new(),
            reason: e.to_string(),
        })?;
        let mut entries = BTreeMap::new();
        for (model, price) in file.models {
            check(&model, &price)?;
            entries.insert(normalize(&model), (price, source));
        }
        Ok(PriceTable {
            as_of: file.as_of,
            entries: RwLock::new(entries),
        })
    }

    /// The date the shipped prices were collected (`2026-03-21`); empty for a table built
    /// without one.
    pub fn as_of(&self) -> &str {
        &self.as_of
    }

    /// Adds or replaces the price of `model`. A negative or non-finite amount, or an empty name,
    /// is refused with [`Error::InvalidArgument`] and changes nothing.
    pub fn set(&self, model: &str, price: Price, source: PriceSource) -> Result<(), Error> {
        check(model, &price)?;
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.insert(normalize(model), (price, source));
        Ok(())
    }

    /// Sets every price of `overrides` (from a configuration file), or none of them if one is
    /// refused (the error names it).
    pub fn apply(&self, overrides: &BTreeMap<String, Price>, source: PriceSource) -> Result<(), Error> {
        for (model, price) in overrides {
            check(model, price)?;
        }
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (model, price) in overrides {
            entries.insert(normalize(model), (*price, source));
        }
        Ok(())
    }

    /// The price of `model` and the entry that gave it, by the lookup rules of this module.
    pub fn lookup(&self, model: &str) -> Option<PriceMatch> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        candidates(model).into_iter().find_map(|name| {
            entries.get(&name).map(|(price, source)| PriceMatch {
                model: name,
                price: *price,
                source: *source,
            })
        })
    }

    /// Every entry, sorted by model name.
    pub fn list(&self) -> Vec<PriceMatch> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .iter()
            .map(|(model, (price, source))| PriceMatch {
                model: model.clone(),
                price: *price,
                source: *source,
            })
            .collect()
    }
}

impl PriceBook for PriceTable {
    fn price(&self, model: &str) -> Option<Price> {
        self.lookup(model).map(|m| m.price)
    }

    fn entries(&self) -> Vec<(String, Price)> {
        self.list().into_iter().map(|m| (m.model, m.price)).collect()
    }

    fn set_price(&self, model: &str, price: Price) -> prompt_manager_core::Result<()> {
        self.set(model, price, PriceSource::Runtime)
    }
}

/// Refuses an empty model name and amounts that are negative or not finite.
pub fn check(model: &str, price: &Price) -> Result<(), Error> {
    let refuse = |reason: String| Error::InvalidArgument {
        argument: "price",
        input: model.chars().take(200).collect(),
        reason,
    };
    let name = model.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(refuse(
            "a model name is 1 to 200 bytes without control characters".into(),
        ));
    }
    let amounts = [
        ("input", Some(price.input)),
        ("output", Some(price.output)),
        ("cached_input", price.cached_input),
    ];
    for (field, amount) in amounts {
        if let Some(amount) = amount
            && !(amount.is_finite() && amount >= 0.0)
        {
            return Err(refuse(format!(
                "`{field}` must be a finite, non-negative number of US dollars per million tokens, got {amount}"
            )));
        }
    }
    Ok(())
}

/// Model names are compared trimmed and in lower case.
fn normalize(model: &str) -> String {
    model.trim().to_lowercase()
}

/// Router prefixes removed before lookup.
const PROVIDER_PREFIXES: &[&str] = &["openai/", "anthropic/", "gemini/", "google/", "vertex_ai/", "models/"];

/// The names `model` is looked up under, in order (see the module documentation).
fn candidates(model: &str) -> Vec<String> {
    let mut name = normalize(model);
    let mut out = vec![name.clone()];
    if let Some(rest) = PROVIDER_PREFIXES.iter().find_map(|p| name.strip_prefix(p)) {
        name = rest.to_owned();
        out.push(name.clone());
    }
    while let Some(shorter) = strip_snapshot(&name) {
        name = shorter.to_owned();
        out.push(name.clone());
    }
    out
}

/// `name` without one snapshot suffix, if it ends in one.
fn strip_snapshot(name: &str) -> Option<&str> {
    for suffix in ["-latest", "-preview"] {
        if let Some(rest) = name.strip_suffix(suffix)
            && !rest.is_empty()
        {
            return Some(rest);
        }
    }
    // Digit groups: `-YYYY-MM-DD`, `-MM-DD`, `-YYYYMMDD`, `-NNNN`, `-NNN`.
    let patterns: &[&[usize]] = &[&[4, 2, 2], &[2, 2], &[8], &[4], &[3]];
    patterns.iter().find_map(|groups| strip_digit_groups(name, groups))
}

/// `name` without a tail of `-`-separated all-digit groups of exactly these lengths.
fn strip_digit_groups<'a>(name: &'a str, groups: &[usize]) -> Option<&'a str> {
    let mut rest = name;
    for len in groups.iter().rev() {
        let (head, group) = rest.rsplit_once('-')?;
        if group.len() != *len || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest = head;
    }
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn snapshot_suffixes_are_removed_one_at_a_time() {
        assert_eq!(
            candidates("GPT-4o-mini-2024-07-18"),
            ["gpt-4o-mini-2024-07-18", "gpt-4o-mini"]
        );
        assert_eq!(
            candidates("anthropic/claude-sonnet-4-5-20250929"),
            [
                "anthropic/claude-sonnet-4-5-20250929",
                "claude-sonnet-4-5-20250929",
                "claude-sonnet-4-5"
            ]
        );
        assert_eq!(
            candidates("gemini-2.5-flash-preview-05-20"),
            [
                "gemini-2.5-flash-preview-05-20",
                "gemini-2.5-flash-preview",
                "gemini-2.5-flash"
            ]
        );
        assert_eq!(candidates("gpt-4-0613"), ["gpt-4-0613", "gpt-4"]);
        assert_eq!(
            candidates("gemini-2.0-flash-001"),
            ["gemini-2.0-flash-001", "gemini-2.0-flash"]
        );
        assert_eq!(candidates("claude-opus-4-1"), ["claude-opus-4-1"]);
        assert_eq!(candidates("-2024"), ["-2024"]);
    }
}
