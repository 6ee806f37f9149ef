//! # prompt-manager-versioning
//!
//! The version logic of prompt-manager over the models of `prompt-manager-core`, with no I/O:
//!
//! - [`diff`], [`diff_prompts`], [`diff_with_variables`]: the structural diff of two versions —
//!   a line diff of a text template, per-message changes of a chat template, format, model
//!   config, input schema, metadata and the set of template variables. A [`PromptDiff`] is
//!   `Serialize` (for JSON) and `Display` (a git-like text).
//! - [`suggest`] / [`suggest_bump`]: the semver bump a diff calls for, with the reasons (a changed
//!   variable set or schema is major, changed wording minor, whitespace patch).
//! - [`changelog_draft`]: a one-line changelog made from the diff.
//! - [`versions_between`], [`find_by_hash`], [`lineage`], [`latest`]: queries over a history.
//!
//! This crate reads no template syntax: [`diff`] and [`diff_prompts`] take the template engine
//! as `&dyn TemplateEngine` (core's trait) and ask it which variables each side reads
//! ([`template_variables`]); [`diff_with_variables`] takes sets the caller already has.
//!
//! ```
//! use prompt_manager_core::{Bump, ChatItem, Prompt, Role};
//! use prompt_manager_template::MiniJinjaEngine;
//! use prompt_manager_versioning::{changelog_draft, diff_prompts, suggest};
//!
//! let old = Prompt::chat("support/triage", [
//!     ChatItem::message(Role::System, "You triage tickets."),
//!     ChatItem::message(Role::User, "{{ ticket }}"),
//! ])?;
//! let new = Prompt::chat("support/triage", [
//!     ChatItem::message(Role::System, "You triage tickets. Answer in a {{ tone }} tone."),
//!     ChatItem::message(Role::User, "{{ ticket }}"),
//! ])?;
//!
//! let diff = diff_prompts(&MiniJinjaEngine::new().into(), &old, &new)?;
//! let suggestion = suggest(&diff);
//! assert_eq!(suggestion.bump, Bump::Major);
//! assert_eq!(suggestion.reasons, ["added variable `tone`"]);
//! assert_eq!(changelog_draft(&diff), "Changed wording of message 1 (system); added variable `tone`");
//! assert!(diff.to_string().contains("message 1 (system)\n@@ -1 +1 @@\n-You triage tickets.\n+You triage"));
//! # Ok::<(), prompt_manager_core::Error>(())
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bump;
mod diff;
mod history;
mod render;
mod text;

pub use bump::{BumpReason, Suggestion, changelog_draft, reasons, suggest, suggest_bump};
pub use diff::{
    ChatDiff, DiffSide, EntryChange, FieldChange, MessageChange, MetadataDiff, PlaceholderChange, PromptDiff,
    SchemaDiff, SpecChange, TemplateDiff, ValueChange, VariableSource, VariablesDiff, diff, diff_prompts,
    diff_versions_with_variables, diff_with_variables, template_variables,
};
pub use history::{find_by_hash, latest, lineage, versions_between};
pub use text::{CONTEXT_LINES, DiffLine, Hunk, LineTag, TextChange, diff_text, same_ignoring_whitespace};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use prompt_manager_core::{ChatItem, Error, MessagePlaceholder, Prompt, Role};
    use prompt_manager_template::MiniJinjaEngine;

    /// Pseudo-random sources built from Jinja-ish fragments, so odd and broken tags are common.
    fn sources(count: usize) -> Vec<String> {
        const FRAGMENTS: &[&str] = &[
            "{{", "}}", "{%", "%}", "{#", "#}", " ", "\n", "\r\n", "x", "for", "in", "set", "=", "==", "'", "\"", "\\",
            "|", ".", "(", ")", "raw", "endraw", "é", "日本", "if", "not", "is", "-", "1.5", "loop", ",", "{", "}",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        (0..count)
            .map(|_| {
                let len = next() % 24;
                (0..len).map(|_| FRAGMENTS[next() % FRAGMENTS.len()]).collect()
            })
            .collect()
    }

    /// Every output of a diff, for checks that nothing panics.
    fn exercise(d: &PromptDiff) {
        let _ = (d.to_string(), suggest(d), changelog_draft(d), serde_json::to_string(d));
    }

    /// The diff with the engine's variables; where the engine cannot read a side, checks that it
    /// says so as a syntax error and diffs the rest with no variables, so every pair is exercised.
    fn diff_or_syntax_error(old: &Prompt, new: &Prompt, parsed: &mut usize) -> PromptDiff {
        match diff_prompts(&prompt_manager_core::Engines::from(MiniJinjaEngine::new()), old, new) {
            Ok(d) => {
                *parsed += 1;
                d
            }
            Err(e) => {
                assert!(matches!(e, Error::TemplateSyntax { .. }), "{e:?}");
                diff_with_variables(old, new, &BTreeSet::new(), &BTreeSet::new())
            }
        }
    }

    #[test]
    fn nothing_panics_on_odd_input() {
        let texts = sources(300);
        let mut parsed = 0;
        for pair in texts.windows(2) {
            let old = Prompt::text("t", pair[0].clone()).expect("valid id");
            let new = Prompt::text("t", pair[1].clone()).expect("valid id");
            let d = diff_or_syntax_error(&old, &new, &mut parsed);
            exercise(&d);
            assert_eq!(d.is_empty(), pair[0] == pair[1]);
        }
        for chunk in texts.chunks(6) {
            let items = |flip: bool| -> Vec<ChatItem> {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, s)| match (i + usize::from(flip)) % 3 {
                        0 => ChatItem::message(Role::System, s.clone()),
                        1 => ChatItem::message(Role::User, s.clone()),
                        _ => ChatItem::Placeholder(MessagePlaceholder {
                            variable: format!("p{}", s.len() % 3),
                            optional: flip,
                        }),
                    })
                    .collect()
            };
            let old = Prompt::chat("t", items(false)).expect("valid id");
            let new = Prompt::chat("t", items(true).into_iter().rev().collect::<Vec<_>>()).expect("valid id");
            let d = diff_or_syntax_error(&old, &new, &mut parsed);
            exercise(&d);
            assert!(diff_or_syntax_error(&new, &new, &mut parsed).is_empty());
        }
        // The engine read both sides of some pairs, so its variables took part too.
        assert!(parsed > 10, "{parsed}");
    }
}
