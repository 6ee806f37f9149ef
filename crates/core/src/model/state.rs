//! Prompt-level state that moves without creating versions: the lifecycle [`PromptStatus`],
//! label moves ([`LabelEvent`], [`LabelEventKind`]) and the [`PromptSummary`] a store keeps
//! of a prompt.
//!
//! The versions themselves are in [`version`](super::version).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use semver::Version;
use serde::{Deserialize, Serialize};

use super::{LabelTarget, PromptFormat, Split};
use crate::id::{LabelName, PromptId};

/// The lifecycle of a prompt: `draft → active → deprecated → archived`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum PromptStatus {
    /// Being written; renders normally.
    #[default]
    Draft,
    /// In use.
    Active,
    /// Still renders, with a logged warning; move callers away.
    Deprecated,
    /// Refuses to render.
    Archived,
}

wire_names!(PromptStatus, "status", [
    Draft => "draft",
    Active => "active",
    Deprecated => "deprecated",
    Archived => "archived",
]);

impl PromptStatus {
    /// The status named `s`, if it names one: [`FromStr`](std::str::FromStr) without the error,
    /// for callers that word their own.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    /// Whether a prompt may move from `self` to `to`; `Err` says why not.
    ///
    /// Moves go forward (skipping steps is fine); a deprecated or archived prompt can be
    /// restored to `active`; nothing goes back to `draft`.
    pub fn check_transition(self, to: PromptStatus) -> Result<(), &'static str> {
        use PromptStatus::*;
        match (self, to) {
            (a, b) if a == b => Err("it already has that status"),
            (_, Draft) => Err("a prompt that left draft cannot go back to draft"),
            (Draft, _) | (Active, _) | (Deprecated, _) => Ok(()),
            (Archived, Active) => Ok(()),
            (Archived, _) => Err("an archived prompt can only be restored to active"),
        }
    }
}

/// How a label moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelEventKind {
    /// Set or moved explicitly.
    Set,
    /// Moved back to where it pointed before the current assignment.
    Rollback,
    /// Removed.
    Remove,
}

wire_names!(LabelEventKind, "label event kind", [
    Set => "set",
    Rollback => "rollback",
    Remove => "remove",
]);

/// One recorded move of a label: who, when, from, to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelEvent {
    /// The label.
    pub label: LabelName,
    /// Where it pointed before (none when new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Version>,
    /// Where it points now (none when removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Version>,
    /// Set, rollback or remove.
    pub kind: LabelEventKind,
    /// The split the label was before, when it was one (`from` is then its primary version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_split: Option<Split>,
    /// The split the label is now, when it is one (`to` is then its primary version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_split: Option<Split>,
    /// Who moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl LabelEvent {
    /// Where the label pointed before: a version or a split (none when new).
    pub fn from_target(&self) -> Option<LabelTarget> {
        self.from
            .clone()
            .map(|v| LabelTarget::from_parts(v, self.from_split.clone()))
    }

    /// Where the label points now: a version or a split (none when removed).
    pub fn to_target(&self) -> Option<LabelTarget> {
        self.to
            .clone()
            .map(|v| LabelTarget::from_parts(v, self.to_split.clone()))
    }
}

/// What a store knows about a prompt without loading its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptSummary {
    /// The id.
    pub id: PromptId,
    /// The lifecycle status.
    pub status: PromptStatus,
    /// The format of the latest version.
    pub format: PromptFormat,
    /// The newest version.
    pub latest_version: Version,
    /// How many versions exist.
    pub version_count: u64,
    /// Labels and the versions they point to; a split label points to its
    /// [`primary`](Split::primary) version here and has its split in [`splits`](Self::splits).
    pub labels: BTreeMap<LabelName, Version>,
    /// The labels that are A/B splits, with their variants.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub splits: BTreeMap<LabelName, Split>,
    /// Protected labels: moving, removing or rolling them back needs the admin role (a label may
    /// be protected before it is set).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub protected: BTreeSet<LabelName>,
    /// Tags of the latest version.
    pub tags: BTreeSet<String>,
    /// Description of the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the prompt was created.
    pub created_at: DateTime<Utc>,
    /// When a version, label or status last changed.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_moves_forward_and_can_be_restored() {
        use PromptStatus::*;
        assert!(Draft.check_transition(Active).is_ok());
        assert!(Active.check_transition(Archived).is_ok());
        assert!(Archived.check_transition(Active).is_ok());
        assert!(Active.check_transition(Draft).is_err());
        assert!(Archived.check_transition(Deprecated).is_err());
        assert!(Active.check_transition(Active).is_err());
    }

    #[test]
    fn status_names_are_the_serde_names() {
        crate::model::tests::assert_wire_names(PromptStatus::ALL, PromptStatus::as_str);
    }

    #[test]
    fn label_event_kind_names_are_the_serde_names() {
        crate::model::tests::assert_wire_names(LabelEventKind::ALL, LabelEventKind::as_str);
    }
}
