//! What the manager's operations take: one options struct per operation that has options
//! ([`CreateOptions`], [`UpdateOptions`], [`LabelOptions`]), and the argument traits that let a
//! caller pass either a typed value it already checked ([`PromptId`], [`LabelName`], [`Version`])
//! — which the manager then uses as it is, without parsing it again — or a string, which the
//! manager checks at its edge, as `reqwest` takes a `Url` or a `&str` (`IntoUrl`).

use semver::Version;

use crate::error::{Error, Result};
use crate::id::{LabelName, PromptId};
use crate::model::{Bump, PromptStatus};
use crate::store::{Expect, ExpectTarget};

/// How deep includes may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// How many times [`PromptManager::update_with`](super::PromptManager::update_with) without an
/// expected version tries to save when other writes keep landing first. Each lost race means
/// another write succeeded, so a bound above the number of concurrent writers of one prompt is
/// never reached.
pub const MAX_UPDATE_ATTEMPTS: usize = 1000;

/// Options of [`PromptManager::create_with`](super::PromptManager::create_with).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The first version number (default `1.0.0`).
    pub version: Option<Version>,
    /// The initial status (default `draft`).
    pub status: PromptStatus,
    /// Labels to point at the first version.
    pub labels: Vec<LabelName>,
    /// The changelog message (default "Initial version").
    pub changelog: Option<String>,
    /// Who creates it (default: the manager's actor).
    pub author: Option<String>,
}

/// Options of [`PromptManager::update_with`](super::PromptManager::update_with).
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// How to bump the version.
    pub bump: Bump,
    /// What changed and why.
    pub changelog: String,
    /// Who updates (default: the manager's actor).
    pub author: Option<String>,
    /// Compare-and-set: fail with a version conflict unless the latest version is this one.
    pub expected: Option<Version>,
    /// Labels to point at the new version in the same transaction.
    pub labels: Vec<LabelName>,
}

impl UpdateOptions {
    /// A bump with a changelog message.
    pub fn new(bump: Bump, changelog: impl Into<String>) -> Self {
        UpdateOptions {
            bump,
            changelog: changelog.into(),
            author: None,
            expected: None,
            labels: Vec::new(),
        }
    }
}

/// Options of a render ([`render_with`](super::PromptManager::render_with),
/// [`render_prompt_with`](super::PromptManager::render_prompt_with), …); the default is what
/// the methods without `_with` do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderOptions<'a> {
    /// The split key of a render by an A/B split label (a user id, a session id): the same key
    /// always gets the same variant, on every instance and after restarts, and a change of
    /// weights moves as few keys as it must. Without one, the variant is picked at random in
    /// proportion to the weights. Ignored when the reference names no split.
    pub split_key: Option<&'a str>,
}

impl<'a> RenderOptions<'a> {
    /// Options with `key` as the split key.
    pub fn split_key(key: &'a str) -> Self {
        Self { split_key: Some(key) }
    }
}

/// Options of an A/B split ([`set_split_with`](super::PromptManager::set_split_with)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitOptions {
    /// Compare-and-set on where the label points now: [`ExpectTarget::Is`] a version or a split,
    /// [`ExpectTarget::Absent`], or [`ExpectTarget::Any`] (the default). When the label is
    /// elsewhere the change fails with a version conflict and nothing is recorded.
    pub expected: ExpectTarget,
}

/// Options of the label moves: [`set_label_with`](super::PromptManager::set_label_with) and
/// [`remove_label_with`](super::PromptManager::remove_label_with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelOptions {
    /// Compare-and-set on where the label points now, for callers with optimistic concurrency
    /// (HTTP `If-Match`): [`Expect::Version`] (it must point there), [`Expect::Absent`] (it must
    /// be unset), or [`Expect::Any`] (the default: no check). When the label is elsewhere the
    /// move fails with a version conflict and nothing is recorded.
    pub expected: Expect,
}

impl LabelOptions {
    /// Only if the label points to `version` now.
    pub fn expecting(version: Version) -> Self {
        LabelOptions {
            expected: Expect::Version(version),
        }
    }

    /// Only if the label is unset now.
    pub fn expecting_absent() -> Self {
        LabelOptions {
            expected: Expect::Absent,
        }
    }
}

/// A prompt id argument: a [`PromptId`] (used as it is) or a string (checked, so a bad one is
/// [`Error::InvalidId`]).
pub trait IntoPromptId {
    /// The id, or why the input is not one.
    fn into_prompt_id(self) -> Result<PromptId>;
}

impl IntoPromptId for PromptId {
    fn into_prompt_id(self) -> Result<PromptId> {
        Ok(self)
    }
}

impl IntoPromptId for &PromptId {
    fn into_prompt_id(self) -> Result<PromptId> {
        Ok(self.clone())
    }
}

impl IntoPromptId for &str {
    fn into_prompt_id(self) -> Result<PromptId> {
        PromptId::new(self)
    }
}

impl IntoPromptId for &String {
    fn into_prompt_id(self) -> Result<PromptId> {
        PromptId::new(self)
    }
}

/// A label argument: a [`LabelName`] (used as it is) or a string (checked, so a bad one is
/// [`Error::InvalidLabel`]).
pub trait IntoLabelName {
    /// The label, or why the input is not one.
    fn into_label_name(self) -> Result<LabelName>;
}

impl IntoLabelName for LabelName {
    fn into_label_name(self) -> Result<LabelName> {
        Ok(self)
    }
}

impl IntoLabelName for &LabelName {
    fn into_label_name(self) -> Result<LabelName> {
        Ok(self.clone())
    }
}

impl IntoLabelName for &str {
    fn into_label_name(self) -> Result<LabelName> {
        LabelName::new(self)
    }
}

impl IntoLabelName for &String {
    fn into_label_name(self) -> Result<LabelName> {
        LabelName::new(self)
    }
}

/// An exact version argument: a [`Version`] (used as it is) or a string holding a full version
/// such as `1.2.0` (checked, so a bad one is [`Error::InvalidReference`]).
pub trait IntoVersion {
    /// The version, or why the input is not one.
    fn into_version(self) -> Result<Version>;
}

impl IntoVersion for Version {
    fn into_version(self) -> Result<Version> {
        Ok(self)
    }
}

impl IntoVersion for &Version {
    fn into_version(self) -> Result<Version> {
        Ok(self.clone())
    }
}

impl IntoVersion for &str {
    fn into_version(self) -> Result<Version> {
        parse_version(self)
    }
}

impl IntoVersion for &String {
    fn into_version(self) -> Result<Version> {
        parse_version(self)
    }
}

fn parse_version(input: &str) -> Result<Version> {
    Version::parse(input).map_err(|e| Error::InvalidReference {
        input: input.to_owned(),
        reason: format!("`{input}` is not a full version (like 1.2.0): {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_arguments_pass_through_and_strings_are_checked() {
        let id = PromptId::new("support/triage").expect("valid");
        assert_eq!((&id).into_prompt_id().expect("typed"), id);
        assert_eq!("support/triage".into_prompt_id().expect("parsed"), id);
        let err = "Bad Id".into_prompt_id().expect_err("uppercase");
        assert_eq!(err.code(), "invalid_id");

        let label = LabelName::new("production").expect("valid");
        assert_eq!((&label).into_label_name().expect("typed"), label);
        assert_eq!(
            String::from("production").as_str().into_label_name().expect("parsed"),
            label
        );
        assert_eq!(
            "latest".into_label_name().expect_err("reserved").code(),
            "invalid_label"
        );

        assert_eq!("1.2.0".into_version().expect("full"), Version::new(1, 2, 0));
        let err = "1.2".into_version().expect_err("partial");
        assert_eq!(err.code(), "invalid_reference");
        assert!(err.to_string().contains("`1.2` is not a full version"), "{err}");
    }

    #[test]
    fn label_options_say_what_they_expect() {
        assert_eq!(LabelOptions::default().expected, Expect::Any);
        assert_eq!(
            LabelOptions::expecting(Version::new(1, 0, 0)).expected,
            Expect::Version(Version::new(1, 0, 0))
        );
        assert_eq!(LabelOptions::expecting_absent().expected, Expect::Absent);
    }
}
