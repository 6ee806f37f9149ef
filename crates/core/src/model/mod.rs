//! The domain model: prompts, their templates and configuration, versions, labels and renders.
//!
//! A [`Prompt`] is the content a person writes; a [`PromptVersion`] is an immutable snapshot of
//! it with a semver number. Status and labels are prompt-level state that moves without creating
//! versions, so they live in [`PromptSummary`] and [`LabelEvent`], not in the snapshot.
//!
//! The types are split by responsibility and all re-exported here, so `crate::model::X` names
//! each of them:
//! - [`prompt`]: the prompt, its format, metadata and model configuration, and its validation;
//! - [`chat`]: roles, chat messages, tool calls, placeholders and the template;
//! - [`schema`]: declared variables and their types;
//! - [`version`]: versions, content hashes and bumps;
//! - [`state`]: status, label moves and the summary a store keeps;
//! - [`output`]: what a render produces and reports;
//! - [`split`]: A/B splits of a label and how a render is assigned a variant.
//!
//! Storage, rendering and the manager that use these types live elsewhere.
//!
//! Every enum that is stored, written to a file or sent as a bare string ([`PromptFormat`],
//! [`Role`], [`VariableType`], [`PromptStatus`], [`LabelEventKind`], [`Bump`]) has its names
//! in one table, given to `wire_names!` below: `ALL`, `as_str`, `FromStr` and `Display` come
//! from it, so code elsewhere never spells the names out again.

use crate::error::Error;

/// Gives a fieldless enum its wire names from one table of `Variant => "name"` pairs: `ALL`
/// (every variant, in the table's order), `const fn as_str`, `FromStr` (an unknown name is an
/// error that names it and lists the accepted ones) and `Display` (the name, padded).
///
/// The names must be the enum's serde names; each enum's test checks that, with
/// `tests::assert_wire_names`. `as_str` matches exhaustively, so a variant left out of the
/// table does not compile — and `ALL`, built from the same table, cannot forget one.
macro_rules! wire_names {
    ($ty:ident, $what:literal, [$($variant:ident => $name:literal),+ $(,)?]) => {
        impl $ty {
            #[doc = concat!("Every ", $what, ", in declaration order.")]
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            #[doc = concat!("The name of the ", $what, " as it is stored, written and sent (its serde name).")]
            pub const fn as_str(&self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::error::Error;

            #[doc = concat!("Reads a ", $what, " from its name, as [`", stringify!($ty), "::as_str`] writes it.")]
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err($crate::model::unknown_name($what, other, &[$($name),+])),
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}
pub(crate) use wire_names;

mod chat;
mod output;
mod prompt;
mod schema;
mod split;
mod state;
mod version;

pub use chat::{ChatItem, ChatMessage, MessagePlaceholder, Role, Template, ToolCall};
pub use output::{PromptExecution, RenderOutput, RenderedPrompt};
pub use prompt::{MAX_TAG_LEN, Metadata, ModelConfig, Prompt, PromptFormat, TemplateSyntax};
pub use schema::{InputSchema, VariableSpec, VariableType};
pub use split::{
    LabelTarget, MAX_SPLIT_VARIANTS, MAX_SPLIT_WEIGHT, MIN_SPLIT_VARIANTS, ServedVariant, Split, SplitVariant,
    context_seed, mix64, pick_at_random, pick_by_key, split_key_hash, version_hash, xxh64,
};
pub use state::{LabelEvent, LabelEventKind, PromptStatus, PromptSummary};
pub use version::{Bump, ContentHash, PromptVersion, VersionInfo};

/// The error of a name that is none of `accepted`: it names the input (escaped, as it may hold
/// anything) and lists the names that would have been read.
pub(crate) fn unknown_name(what: &'static str, input: &str, accepted: &[&str]) -> Error {
    let list = match accepted.split_last() {
        Some((last, init)) if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        Some((only, _)) => (*only).to_owned(),
        None => String::new(),
    };
    Error::invalid_argument(what, &input.escape_debug().to_string(), format!("use {list}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fmt::{Debug, Display};
    use std::str::FromStr;

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::error::Error;

    /// Checks the wire names of an enum made by `wire_names!`: for every variant in `all`, the
    /// name is the serde name both ways, `FromStr` reads it back, `Display` writes it, and no
    /// variant is listed twice; an unknown or differently cased name is refused with an error
    /// that names it and lists every accepted name.
    pub(crate) fn assert_wire_names<T>(all: &[T], as_str: fn(&T) -> &'static str)
    where
        T: Copy + Debug + Display + PartialEq + Serialize + DeserializeOwned + FromStr<Err = Error>,
    {
        assert!(!all.is_empty());
        for (i, variant) in all.iter().enumerate() {
            let name = as_str(variant);
            assert!(!all[..i].contains(variant), "{variant:?} is listed twice");
            assert_eq!(
                serde_json::to_value(variant).expect("serializes"),
                serde_json::json!(name)
            );
            assert_eq!(
                serde_json::from_value::<T>(serde_json::json!(name)).expect("deserializes"),
                *variant
            );
            assert_eq!(name.parse::<T>().expect("parses"), *variant);
            assert_eq!(variant.to_string(), name);
            let shouted = name.to_uppercase();
            assert!(
                shouted.parse::<T>().is_err(),
                "{shouted} is read like serde, case-sensitively"
            );
            assert!(serde_json::from_value::<T>(serde_json::json!(shouted)).is_err());
        }
        let err = "no such\nname".parse::<T>().expect_err("unknown name").to_string();
        assert!(err.contains("`no such\\nname`"), "{err}");
        for variant in all {
            assert!(err.contains(as_str(variant)), "{err} lists {variant:?}");
        }
    }
}
