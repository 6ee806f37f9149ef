//! The wire form of an [`Error`]: [`ErrorDetails`], what a server sends beside a problem's code so
//! that a client (the `http://` store) can rebuild the same variant with the same fields — a
//! `VersionConflict` with its expected and actual versions, a `NotFound` of a version — and its
//! callers can match on it as on any other store's errors. What a server may show of an error (no
//! paths, no SQL) is the server's decision: it builds the details from what it shows.

use semver::Version;
use serde::{Deserialize, Serialize};

use super::{Error, HashMismatch, NotFound};
use crate::id::{LabelName, PromptId};
use crate::model::{ContentHash, PromptStatus};

/// The fields of an [`Error`] a caller matches on, by name, beside its [`code`](Error::code)
/// and message. Every field is optional; a field that does not parse back (an id that is no
/// longer valid) is dropped and the error falls back to a [`Error::Backend`] with the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetails {
    /// The error's code ([`Error::code`]).
    pub code: String,
    /// The error's message, as [`Error`]'s `Display` writes it.
    pub message: String,
    /// For `not_found`: what is missing (`prompt`, `version`, `label`, `requirement`,
    /// `label_target`, `plugin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// The prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The version concerned (not found, not increasing, hash mismatch, label target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// The label concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A version requirement that matched nothing, a plugin's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For `version_conflict`: what was compared (`latest version`, `label production`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    /// For `version_conflict`: the version the writer expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Version>,
    /// For `version_conflict`: the version the store holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Version>,
    /// For `version_conflict` after repeated lost races: how many attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<usize>,
    /// For `version_not_increasing`: the latest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<Version>,
    /// For invalid input: the rejected input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// For invalid input and refused status moves: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `invalid_argument`: which argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argument: Option<String>,
    /// For `invalid_status_transition`: the current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<PromptStatus>,
    /// For `invalid_status_transition`: the requested status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<PromptStatus>,
    /// For `content_hash_mismatch`: where the version is stored (as far as the sender shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// For `content_hash_mismatch`: the recorded hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_hash: Option<ContentHash>,
    /// For `content_hash_mismatch`: the hash of the stored content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_hash: Option<ContentHash>,
}

/// The reasons of refused status moves, so that a rebuilt error keeps its `&'static str` reason.
const STATUS_REASONS: &[&str] = &[
    "it already has that status",
    "a prompt that left draft cannot go back to draft",
    "an archived prompt can only be restored to active",
    "the status changed meanwhile; reload and retry",
];

/// The arguments [`Error::InvalidArgument`] names.
const ARGUMENTS: &[&str] = &["bump", "variant", "price", "price table", "render id"];

impl ErrorDetails {
    /// The details of `error`, with `message` as its shown message (a server passes what it may
    /// show; [`Error`]'s `Display` otherwise).
    pub fn of(error: &Error, message: impl Into<String>) -> Self {
        let mut d = ErrorDetails {
            code: error.code().to_owned(),
            message: message.into(),
            ..Self::default()
        };
        match error {
            Error::InvalidId { input, reason }
            | Error::InvalidLabel { input, reason }
            | Error::InvalidReference { input, reason } => {
                d.input = Some(input.clone());
                d.reason = Some(reason.clone());
            }
            Error::InvalidQuery { reason } => d.reason = Some(reason.clone()),
            Error::InvalidArgument {
                argument,
                input,
                reason,
            } => {
                d.argument = Some((*argument).to_owned());
                d.input = Some(input.clone());
                d.reason = Some(reason.clone());
            }
            Error::InvalidPrompt { id, reason } => {
                d.id = Some(id.clone());
                d.reason = Some(reason.clone());
            }
            Error::NotFound(missing) => {
                let (what, id) = match missing {
                    NotFound::Prompt(id) => ("prompt", Some(id)),
                    NotFound::Version(id, v) => {
                        d.version = Some(v.clone());
                        ("version", Some(id))
                    }
                    NotFound::Label(id, l) => {
                        d.label = Some(l.to_string());
                        ("label", Some(id))
                    }
                    NotFound::Requirement(id, r) => {
                        d.name = Some(r.clone());
                        ("requirement", Some(id))
                    }
                    NotFound::LabelTarget(id, l, v) => {
                        d.label = Some(l.to_string());
                        d.version = Some(v.clone());
                        ("label_target", Some(id))
                    }
                    NotFound::Plugin(name) => {
                        d.name = Some(name.clone());
                        ("plugin", None)
                    }
                };
                d.missing = Some(what.to_owned());
                d.id = id.map(ToString::to_string);
            }
            Error::AlreadyExists { id } | Error::Archived { id } => d.id = Some(id.to_string()),
            Error::VersionConflict {
                id,
                what,
                expected,
                actual,
            } => {
                d.id = Some(id.to_string());
                d.what = Some(what.clone());
                d.expected = expected.clone();
                d.actual = actual.clone();
            }
            Error::UpdateContended { id, attempts } => {
                d.id = Some(id.to_string());
                d.attempts = Some(*attempts);
            }
            Error::VersionNotIncreasing { id, version, latest } => {
                d.id = Some(id.to_string());
                d.version = Some(version.clone());
                d.latest = Some(latest.clone());
            }
            Error::InvalidStatusTransition { id, from, to, reason } => {
                d.id = Some(id.to_string());
                d.from = Some(*from);
                d.to = Some(*to);
                d.reason = Some((*reason).to_owned());
            }
            Error::LabelProtected { id, label } => {
                d.id = Some(id.to_string());
                d.label = Some(label.to_string());
            }
            Error::ContentHashMismatch(m) => {
                d.id = Some(m.id.to_string());
                d.version = Some(m.version.clone());
                d.expected_hash = Some(m.expected.clone());
                d.actual_hash = Some(m.actual.clone());
            }
            _ => {}
        }
        d
    }

    /// Rebuilds the error: the same variant with the same fields when the code is one of
    /// [`Error::CODES`] and its fields are all here, else an [`Error::Backend`] of `backend`
    /// carrying the message (a failure of the server's own store is one too).
    pub fn into_error(self, backend: &'static str) -> Error {
        self.rebuild().unwrap_or_else(|| Error::backend(backend, self.message))
    }

    fn rebuild(&self) -> Option<Error> {
        let id = self.id.as_deref().and_then(|id| PromptId::new(id).ok());
        let label = self.label.as_deref().and_then(|l| LabelName::new(l).ok());
        let error = match self.code.as_str() {
            "invalid_id" | "invalid_label" | "invalid_reference" => {
                let (input, reason) = (
                    self.input.clone().unwrap_or_default(),
                    self.reason.clone().unwrap_or_default(),
                );
                match self.code.as_str() {
                    "invalid_id" => Error::InvalidId { input, reason },
                    "invalid_label" => Error::InvalidLabel { input, reason },
                    _ => Error::InvalidReference { input, reason },
                }
            }
            "invalid_query" => Error::InvalidQuery {
                reason: self.reason.clone().unwrap_or_else(|| self.message.clone()),
            },
            "invalid_argument" => Error::InvalidArgument {
                argument: self
                    .argument
                    .as_deref()
                    .and_then(|a| ARGUMENTS.iter().find(|k| **k == a).copied())
                    .unwrap_or("argument"),
                input: self.input.clone().unwrap_or_default(),
                reason: self.reason.clone().unwrap_or_else(|| self.message.clone()),
            },
            "invalid_prompt" => Error::InvalidPrompt {
                id: self.id.clone().unwrap_or_default(),
                reason: self.reason.clone().unwrap_or_else(|| self.message.clone()),
            },
            "not_found" => {
                let missing = match (self.missing.as_deref(), id.clone()) {
                    (Some("prompt"), Some(id)) => Some(NotFound::Prompt(id)),
                    (Some("version"), Some(id)) => self.version.clone().map(|v| NotFound::Version(id, v)),
                    (Some("label"), Some(id)) => label.clone().map(|l| NotFound::Label(id, l)),
                    (Some("requirement"), Some(id)) => self.name.clone().map(|r| NotFound::Requirement(id, r)),
                    (Some("label_target"), Some(id)) => label
                        .clone()
                        .zip(self.version.clone())
                        .map(|(l, v)| NotFound::LabelTarget(id, l, v)),
                    (Some("plugin"), _) => self.name.clone().map(NotFound::Plugin),
                    _ => None,
                };
                match missing {
                    Some(missing) => Error::NotFound(missing),
                    None => return None,
                }
            }
            "already_exists" => match id {
                Some(id) => Error::AlreadyExists { id },
                None => return None,
            },
            "archived" => match id {
                Some(id) => Error::Archived { id },
                None => return None,
            },
            "version_conflict" => match (id, self.attempts) {
                (Some(id), Some(attempts)) => Error::UpdateContended { id, attempts },
                (Some(id), None) => Error::VersionConflict {
                    id,
                    what: self.what.clone().unwrap_or_default(),
                    expected: self.expected.clone(),
                    actual: self.actual.clone(),
                },
                _ => return None,
            },
            "version_not_increasing" => match (id, self.version.clone(), self.latest.clone()) {
                (Some(id), Some(version), Some(latest)) => Error::VersionNotIncreasing { id, version, latest },
                _ => return None,
            },
            "invalid_status_transition" => match (id, self.from, self.to) {
                (Some(id), Some(from), Some(to)) => Error::InvalidStatusTransition {
                    id,
                    from,
                    to,
                    reason: self
                        .reason
                        .as_deref()
                        .and_then(|r| STATUS_REASONS.iter().find(|k| **k == r).copied())
                        .unwrap_or("the store refused the move"),
                },
                _ => return None,
            },
            "label_protected" => match (id, label) {
                (Some(id), Some(label)) => Error::LabelProtected { id, label },
                _ => return None,
            },
            "unsupported" => Error::Unsupported(self.message.clone()),
            "config" => Error::Config(self.message.clone()),
            "content_hash_mismatch" => match (
                id,
                self.version.clone(),
                self.expected_hash.clone(),
                self.actual_hash.clone(),
            ) {
                (Some(id), Some(version), Some(expected), Some(actual)) => {
                    Error::ContentHashMismatch(Box::new(HashMismatch {
                        id,
                        version,
                        location: self.location.clone().unwrap_or_else(|| "the server's store".to_owned()),
                        expected,
                        actual,
                    }))
                }
                _ => return None,
            },
            _ => return None,
        };
        Some(error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn round_trip(error: Error) {
        let json = serde_json::to_string(&ErrorDetails::of(&error, error.to_string())).unwrap();
        let back = serde_json::from_str::<ErrorDetails>(&json).unwrap().into_error("http");
        assert_eq!(back.code(), error.code(), "{json}");
        assert_eq!(back.to_string(), error.to_string(), "{json}");
        assert_eq!(format!("{back:?}"), format!("{error:?}"), "{json}");
    }

    #[test]
    fn the_variants_a_store_returns_come_back_whole() {
        let id = PromptId::new("a/b").unwrap();
        let label = LabelName::new("production").unwrap();
        let v = |s: &str| Version::parse(s).unwrap();
        for error in [
            Error::InvalidId {
                input: "A".into(),
                reason: "uppercase".into(),
            },
            Error::InvalidQuery { reason: "tag".into() },
            Error::invalid_argument("bump", "huge", "major, minor or patch"),
            Error::InvalidPrompt {
                id: "a/b".into(),
                reason: "tags".into(),
            },
            Error::prompt_not_found(&id),
            Error::NotFound(NotFound::Version(id.clone(), v("1.0.0"))),
            Error::NotFound(NotFound::Label(id.clone(), label.clone())),
            Error::NotFound(NotFound::Requirement(id.clone(), "^2".into())),
            Error::NotFound(NotFound::LabelTarget(id.clone(), label.clone(), v("3.0.0"))),
            Error::AlreadyExists { id: id.clone() },
            Error::VersionConflict {
                id: id.clone(),
                what: "label production".into(),
                expected: None,
                actual: Some(v("1.0.0")),
            },
            Error::UpdateContended {
                id: id.clone(),
                attempts: 5,
            },
            Error::VersionNotIncreasing {
                id: id.clone(),
                version: v("1.0.0"),
                latest: v("2.0.0"),
            },
            Error::InvalidStatusTransition {
                id: id.clone(),
                from: PromptStatus::Active,
                to: PromptStatus::Draft,
                reason: STATUS_REASONS[1],
            },
            Error::LabelProtected {
                id: id.clone(),
                label: label.clone(),
            },
            Error::Unsupported("no splits".into()),
        ] {
            round_trip(error);
        }
    }

    #[test]
    fn what_cannot_be_rebuilt_is_a_backend_error_with_the_message() {
        let details = ErrorDetails {
            code: "not_found".into(),
            message: "gone".into(),
            ..ErrorDetails::default()
        };
        let error = details.into_error("http");
        assert!(matches!(&error, Error::Backend { backend: "http", .. }), "{error:?}");
        assert_eq!(error.to_string(), "http store: gone");
    }
}
