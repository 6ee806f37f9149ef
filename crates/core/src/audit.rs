//! The audit log: what every state change of a store records ([`AuditEntry`]), the hash chain
//! that links the entries, and its verification ([`verify_chain`], [`ChainVerifier`]).
//!
//! Stores append entries in the same transaction as the change they record (see
//! [`StorageBackend::audit`](crate::StorageBackend::audit)); this module holds only the types and
//! the pure functions over them, no I/O.
//!
//! # The chain
//!
//! Entries are numbered 1, 2, 3, … (`seq`, gap-free, one sequence per store). Each entry carries
//! the hash of the one before it (`prev_hash`; the first carries [`GENESIS_HASH`]) and its own
//! `hash`: `sha256:` and the hex SHA-256 of the canonical JSON encoding of the entry without its
//! `hash` field — an object with exactly the keys `action`, `actor`, `after`, `at`, `before`,
//! `forced`, `label`, `prev_hash`, `prompt` and `seq`, sorted, without whitespace, where `at` is
//! RFC 3339 in UTC with microseconds (`2025-01-31T12:00:00.123456Z`), `seq` a number, `forced` a
//! boolean and an absent value `null` (the encoding of content hashes, `Prompt::content_hash`).
//! Editing an entry changes its hash; recomputing that hash breaks the next entry's link;
//! deleting an entry leaves a gap in `seq`. Removing the newest entries is only visible against
//! a head known from elsewhere (the seq a caller saw before).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{LabelName, PromptId, truncate_for_message};

/// The `prev_hash` of the first entry of every log.
pub const GENESIS_HASH: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The actor recorded when a change names none (the manager always names one).
pub const UNKNOWN_ACTOR: &str = "unknown";

/// How many entries one [`AuditQuery`] returns when it sets no limit.
pub const DEFAULT_AUDIT_LIMIT: usize = 1_000;

/// The most entries one [`AuditQuery`] may ask for.
pub const MAX_AUDIT_LIMIT: usize = 10_000;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A version was saved. `before`: `{"version"}` of the previous latest (none for a new
    /// prompt); `after`: `{"version", "content_hash"}`.
    VersionCreated,
    /// A label was set or moved to one version. `before` / `after`: `{"version"}` (none when it
    /// was unset); `before` also has `"split"` when it was a split (ending an A/B test).
    LabelSet,
    /// A label was removed. `before`: `{"version"}` (or `{"version", "split"}`).
    LabelRemoved,
    /// A label was made an A/B split, or its split changed. `before`: `{"version"}` or
    /// `{"version", "split"}` (none when it was unset); `after`: `{"version", "split"}`, where
    /// `version` is the split's primary and `split` its `[{"version", "weight"}]`.
    LabelSplit,
    /// A label was moved back. `before` / `after`: `{"version"}`, with `"split"` on a side that
    /// is a split.
    LabelRolledBack,
    /// The status changed. `before` / `after`: `{"status"}`.
    StatusChanged,
    /// A prompt was deleted with its versions and labels. `before`:
    /// `{"latest_version", "version_count", "labels"}`. Its audit entries stay.
    PromptDeleted,
    /// A label was protected. `before` / `after`: `{"protected"}`.
    LabelProtected,
    /// A label's protection was lifted. `before` / `after`: `{"protected"}`.
    LabelUnprotected,
    /// An API key was created (recorded by the server through
    /// [`append_audit`](crate::StorageBackend::append_audit)).
    KeyCreated,
    /// An API key was revoked (recorded by the server).
    KeyRevoked,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::VersionCreated,
        AuditAction::LabelSet,
        AuditAction::LabelRemoved,
        AuditAction::LabelSplit,
        AuditAction::LabelRolledBack,
        AuditAction::StatusChanged,
        AuditAction::PromptDeleted,
        AuditAction::LabelProtected,
        AuditAction::LabelUnprotected,
        AuditAction::KeyCreated,
        AuditAction::KeyRevoked,
    ];

    /// The wire name (`version_created`, `label_set`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::VersionCreated => "version_created",
            AuditAction::LabelSet => "label_set",
            AuditAction::LabelRemoved => "label_removed",
            AuditAction::LabelSplit => "label_split",
            AuditAction::LabelRolledBack => "label_rolled_back",
            AuditAction::StatusChanged => "status_changed",
            AuditAction::PromptDeleted => "prompt_deleted",
            AuditAction::LabelProtected => "label_protected",
            AuditAction::LabelUnprotected => "label_unprotected",
            AuditAction::KeyCreated => "key_created",
            AuditAction::KeyRevoked => "key_revoked",
        }
    }

    /// Whether the action records something outside the store (API keys), which callers append
    /// themselves; the store records every other action with the change it makes.
    pub fn is_external(self) -> bool {
        matches!(self, AuditAction::KeyCreated | AuditAction::KeyRevoked)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = Error;

    /// Parses a wire name; anything else is [`Error::InvalidQuery`] listing the names.
    fn from_str(s: &str) -> Result<Self> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::InvalidQuery {
                reason: format!(
                    "unknown audit action `{}`; one of {}",
                    truncate_for_message(s).escape_debug(),
                    AuditAction::ALL
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }
}

/// An entry to append, before the store numbers, dates and chains it ([`AuditRecord::seal`]).
/// On the wire: a JSON object with these field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Who did it; [`UNKNOWN_ACTOR`] is recorded when `None` or blank.
    pub actor: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// The prompt it concerns, if any.
    pub prompt: Option<PromptId>,
    /// The label it concerns, if any.
    pub label: Option<LabelName>,
    /// The relevant state before (small: versions, a status, label targets).
    pub before: Option<serde_json::Value>,
    /// The relevant state after.
    pub after: Option<serde_json::Value>,
    /// Whether an administrator's override (`--force`) allowed it.
    pub forced: bool,
}

impl AuditRecord {
    /// A record of `action` by `actor`, about nothing in particular yet.
    pub fn new(action: AuditAction, actor: Option<String>) -> Self {
        Self {
            actor,
            action,
            prompt: None,
            label: None,
            before: None,
            after: None,
            forced: false,
        }
    }

    /// The entry this record becomes as number `seq`, at `at` (truncated to microseconds, as
    /// every store keeps it), after the entry whose hash is `prev_hash`.
    pub fn seal(self, seq: u64, at: DateTime<Utc>, prev_hash: String) -> AuditEntry {
        let actor = match self.actor {
            Some(actor) if !actor.trim().is_empty() => actor,
            _ => UNKNOWN_ACTOR.to_owned(),
        };
        let mut entry = AuditEntry {
            seq,
            at: at.trunc_subsecs(6),
            actor,
            action: self.action,
            prompt: self.prompt,
            label: self.label,
            before: self.before,
            after: self.after,
            forced: self.forced,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }
}

/// Seals `records` in order after the entry `(seq, hash)` of the log's head (`(0,`
/// [`GENESIS_HASH`]`)` for an empty log), all at `at`.
pub fn seal_all(records: Vec<AuditRecord>, head: (u64, String), at: DateTime<Utc>) -> Vec<AuditEntry> {
    let (mut seq, mut prev) = head;
    records
        .into_iter()
        .map(|record| {
            seq += 1;
            let entry = record.seal(seq, at, std::mem::take(&mut prev));
            prev = entry.hash.clone();
            entry
        })
        .collect()
}

/// One recorded state change, chained to the one before it (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Its number: 1-based, gap-free, one sequence per store.
    pub seq: u64,
    /// When it was recorded (microseconds).
    pub at: DateTime<Utc>,
    /// Who did it (never blank).
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// The prompt it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptId>,
    /// The label it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelName>,
    /// The relevant state before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The relevant state after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// Whether an administrator's override (`--force`) allowed it.
    #[serde(default)]
    pub forced: bool,
    /// The hash of the entry before ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// The hash of this entry (see the module docs for what it covers).
    pub hash: String,
}

impl AuditEntry {
    /// `at` as the chain encodes it: RFC 3339, UTC, microseconds.
    pub fn at_text(&self) -> String {
        self.at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// The hash this entry's fields (all but `hash`) give, as the module docs define it.
    pub fn compute_hash(&self) -> String {
        let value = serde_json::json!({
            "seq": self.seq,
            "at": self.at_text(),
            "actor": self.actor,
            "action": self.action.as_str(),
            "prompt": self.prompt.as_ref().map(PromptId::as_str),
            "label": self.label.as_ref().map(LabelName::as_str),
            "before": self.before,
            "after": self.after,
            "forced": self.forced,
            "prev_hash": self.prev_hash,
        });
        crate::hash::canonical_sha256(&value)
    }
}

/// What [`StorageBackend::audit`](crate::StorageBackend::audit) returns: entries oldest first.
/// On the wire: a JSON object with these field names, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Only entries about this prompt.
    pub prompt: Option<PromptId>,
    /// Only entries after this number (pages: pass the last `seq` seen).
    pub after_seq: Option<u64>,
    /// At most this many ([`DEFAULT_AUDIT_LIMIT`] when `None`, at most [`MAX_AUDIT_LIMIT`]).
    pub limit: Option<usize>,
}

impl AuditQuery {
    /// Every entry of `prompt` (the first [`DEFAULT_AUDIT_LIMIT`]).
    pub fn prompt(id: PromptId) -> Self {
        Self {
            prompt: Some(id),
            ..Self::default()
        }
    }

    /// Refuses a limit above [`MAX_AUDIT_LIMIT`] with [`Error::InvalidQuery`]; every store calls it.
    pub fn validate(&self) -> Result<()> {
        match self.limit {
            Some(limit) if limit > MAX_AUDIT_LIMIT => Err(Error::InvalidQuery {
                reason: format!("limit: at most {MAX_AUDIT_LIMIT} audit entries can be read at once, not {limit}"),
            }),
            _ => Ok(()),
        }
    }

    /// The number of entries to return at most.
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_AUDIT_LIMIT).min(MAX_AUDIT_LIMIT)
    }

    /// Whether `entry` passes the filters (not the limit). Stores that filter in memory use it.
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.after_seq.is_none_or(|after| entry.seq > after)
            && self.prompt.as_ref().is_none_or(|p| entry.prompt.as_ref() == Some(p))
    }
}

/// Where a chain of audit entries is broken: the first problem found, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditBreak {
    /// The entry's content no longer gives its hash: it was edited.
    #[error("audit entry {seq} was edited: its content hashes to {actual}, not to the recorded {recorded}")]
    Edited {
        /// The entry.
        seq: u64,
        /// The hash it records.
        recorded: String,
        /// The hash its content gives.
        actual: String,
    },
    /// Entries are missing before this one: deleted.
    #[error("audit entries {expected} to {} are missing (deleted): the next entry found is {found}", found - 1)]
    Missing {
        /// The number that should have come.
        expected: u64,
        /// The number found instead.
        found: u64,
    },
    /// An entry's number is not above the one before: entries were reordered or duplicated.
    #[error("audit entry {found} comes after entry {previous}: entries were reordered or duplicated")]
    OutOfOrder {
        /// The number of the entry before.
        previous: u64,
        /// The number found.
        found: u64,
    },
    /// The entry does not carry the hash of the entry before: it (or the one before) was
    /// replaced with its hash recomputed.
    #[error("audit entry {seq} does not link to entry {}: it records {recorded} as the previous hash, but that entry's hash is {expected}", seq - 1)]
    Unlinked {
        /// The entry.
        seq: u64,
        /// The previous hash it records.
        recorded: String,
        /// The previous entry's hash.
        expected: String,
    },
}

/// Verifies a log entry by entry, so that a long log can be read in pages
/// ([`AuditQuery::after_seq`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerifier {
    /// The number of the last entry checked (0 before the first).
    last_seq: u64,
    /// The hash the next entry must link to.
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting the log's first entry.
    pub fn new() -> Self {
        Self {
            last_seq: 0,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Checks the next entry: its number follows the last one, it links to it, and its content
    /// gives its hash.
    pub fn push(&mut self, entry: &AuditEntry) -> Result<(), AuditBreak> {
        if entry.seq <= self.last_seq {
            return Err(AuditBreak::OutOfOrder {
                previous: self.last_seq,
                found: entry.seq,
            });
        }
        if entry.seq != self.last_seq + 1 {
            return Err(AuditBreak::Missing {
                expected: self.last_seq + 1,
                found: entry.seq,
            });
        }
        let actual = entry.compute_hash();
        if actual != entry.hash {
            return Err(AuditBreak::Edited {
                seq: entry.seq,
                recorded: entry.hash.clone(),
                actual,
            });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(AuditBreak::Unlinked {
                seq: entry.seq,
                recorded: entry.prev_hash.clone(),
                expected: self.prev_hash.clone(),
            });
        }
        self.last_seq = entry.seq;
        self.prev_hash.clone_from(&entry.hash);
        Ok(())
    }

    /// The number of the last entry checked (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
}

/// Verifies a whole log, read from its first entry: `Ok` with the number of entries, or the
/// first break.
pub fn verify_chain<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> Result<u64, AuditBreak> {
    let mut verifier = ChainVerifier::new();
    for entry in entries {
        verifier.push(entry)?;
    }
    Ok(verifier.last_seq())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn log(n: u64) -> Vec<AuditEntry> {
        let records = (0..n)
            .map(|i| AuditRecord {
                prompt: Some(PromptId::new("a/b").unwrap()),
                label: (i % 2 == 1).then(|| LabelName::new("production").unwrap()),
                before: (i > 0).then(|| serde_json::json!({"version": format!("1.{}.0", i - 1)})),
                after: Some(serde_json::json!({"version": format!("1.{i}.0")})),
                ..AuditRecord::new(AuditAction::VersionCreated, Some(format!("user{i}")))
            })
            .collect();
        seal_all(records, (0, GENESIS_HASH.to_owned()), Utc::now())
    }

    #[test]
    fn a_sealed_log_verifies_and_links_each_entry_to_the_one_before() {
        let entries = log(5);
        assert_eq!(verify_chain(&entries), Ok(5));
        assert_eq!(entries[0].prev_hash, GENESIS_HASH);
        for pair in entries.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
            assert_eq!(pair[1].seq, pair[0].seq + 1);
        }
        assert!(
            entries
                .iter()
                .all(|e| e.hash.starts_with("sha256:") && e.hash.len() == 71)
        );
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let entry = &log(2)[1];
        type Edit = Box<dyn Fn(&mut AuditEntry)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.seq += 1),
            Box::new(|e| e.at += chrono::Duration::microseconds(1)),
            Box::new(|e| e.actor.push('x')),
            Box::new(|e| e.action = AuditAction::LabelSet),
            Box::new(|e| e.prompt = None),
            Box::new(|e| e.label = None),
            Box::new(|e| e.before = None),
            Box::new(|e| e.after = Some(serde_json::json!({"version": "9.9.9"}))),
            Box::new(|e| e.forced = true),
            Box::new(|e| e.prev_hash = GENESIS_HASH.to_owned()),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut edited = entry.clone();
            edit(&mut edited);
            assert_ne!(edited.compute_hash(), entry.hash, "edit {i} went unnoticed");
        }
    }

    #[test]
    fn edited_deleted_reordered_and_relinked_entries_are_found() {
        let entries = log(4);
        let mut edited = entries.clone();
        edited[2].actor = "mallory".into();
        assert!(matches!(verify_chain(&edited), Err(AuditBreak::Edited { seq: 3, .. })));

        let mut deleted = entries.clone();
        deleted.remove(1);
        assert_eq!(
            verify_chain(&deleted),
            Err(AuditBreak::Missing { expected: 2, found: 3 })
        );
        assert!(verify_chain(&entries[1..]).is_err(), "a log missing its first entry");

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        assert!(matches!(
            verify_chain(&swapped),
            Err(AuditBreak::Missing { expected: 2, found: 3 })
        ));
        let mut duplicated = entries.clone();
        duplicated.insert(2, entries[1].clone());
        assert_eq!(
            verify_chain(&duplicated),
            Err(AuditBreak::OutOfOrder { previous: 2, found: 2 })
        );

        // An edit with the hash recomputed breaks the link of the next entry.
        let mut rehashed = entries.clone();
        rehashed[1].actor = "mallory".into();
        rehashed[1].hash = rehashed[1].compute_hash();
        assert!(matches!(
            verify_chain(&rehashed),
            Err(AuditBreak::Unlinked { seq: 3, .. })
        ));
        let text = verify_chain(&rehashed).unwrap_err().to_string();
        assert!(text.contains("entry 3 does not link to entry 2"), "{text}");
    }

    #[test]
    fn pages_verify_as_the_whole() {
        let entries = log(6);
        let mut verifier = ChainVerifier::new();
        for page in entries.chunks(4) {
            for entry in page {
                verifier.push(entry).unwrap();
            }
        }
        assert_eq!(verifier.last_seq(), 6);
    }

    #[test]
    fn actions_round_trip_through_their_wire_names() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>().unwrap(), *action);
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::String(action.as_str().into())
            );
        }
        let err = "label_moved".parse::<AuditAction>().unwrap_err().to_string();
        assert!(
            err.contains("unknown audit action `label_moved`") && err.contains("label_set"),
            "{err}"
        );
    }

    #[test]
    fn a_blank_actor_is_recorded_as_unknown_and_time_is_in_microseconds() {
        let at = DateTime::parse_from_rfc3339("2025-01-31T12:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let entry = AuditRecord::new(AuditAction::KeyCreated, Some("  ".into())).seal(1, at, GENESIS_HASH.into());
        assert_eq!(entry.actor, UNKNOWN_ACTOR);
        assert_eq!(entry.at_text(), "2025-01-31T12:00:00.123456Z");
        let json = serde_json::to_string(&entry).unwrap();
        let back: AuditEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, entry);
        assert_eq!(verify_chain([&back]), Ok(1));
    }

    #[test]
    fn queries_are_bounded() {
        assert!(AuditQuery::default().validate().is_ok());
        assert_eq!(AuditQuery::default().effective_limit(), DEFAULT_AUDIT_LIMIT);
        let too_many = AuditQuery {
            limit: Some(MAX_AUDIT_LIMIT + 1),
            ..AuditQuery::default()
        };
        assert!(matches!(too_many.validate(), Err(Error::InvalidQuery { .. })));
    }
}
