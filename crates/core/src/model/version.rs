//! Immutable versions: [`PromptVersion`] (a prompt's content with its semver number),
//! [`VersionInfo`] (the same without the content), the [`ContentHash`] that pins the content,
//! and the [`Bump`] that makes the next number.
//!
//! State that moves without making a version (status, labels) is in [`state`](super::state).

use std::fmt;

use chrono::{DateTime, Utc};
use semver::Version;
use serde::{Deserialize, Serialize};

use super::Prompt;
use crate::error::Error;

/// A SHA-256 of a prompt's canonical content, as `sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(pub String);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An immutable snapshot of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptVersion {
    /// The content.
    pub prompt: Prompt,
    /// The semver number.
    pub version: Version,
    /// What changed and why.
    #[serde(default)]
    pub changelog: String,
    /// Who saved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// The version it was derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Version>,
    /// The hash of the content.
    pub content_hash: ContentHash,
}

impl PromptVersion {
    /// The version's description without the content.
    pub fn info(&self) -> VersionInfo {
        VersionInfo {
            version: self.version.clone(),
            changelog: self.changelog.clone(),
            author: self.author.clone(),
            created_at: self.created_at,
            parent: self.parent.clone(),
            content_hash: self.content_hash.clone(),
        }
    }

    /// `id@version`, the exact reference of this version.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.prompt.id, self.version)
    }

    /// Checks that the content still hashes to the recorded [`content_hash`](Self::content_hash),
    /// as every backend does when it loads a version: a version is immutable, and one whose file
    /// or row was changed after it was saved is an [`Error::ContentHashMismatch`]. `location`
    /// names where the version is stored (a file, a row), for the error.
    pub fn verify_content_hash(&self, location: impl FnOnce() -> String) -> Result<(), Error> {
        let actual = self.prompt.content_hash();
        if actual == self.content_hash {
            return Ok(());
        }
        Err(Error::ContentHashMismatch(Box::new(crate::error::HashMismatch {
            id: self.prompt.id.clone(),
            version: self.version.clone(),
            location: location(),
            expected: self.content_hash.clone(),
            actual,
        })))
    }
}

/// One entry of a prompt's history: a version without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionInfo {
    /// The semver number.
    pub version: Version,
    /// What changed and why.
    #[serde(default)]
    pub changelog: String,
    /// Who saved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// The version it was derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Version>,
    /// The hash of the content.
    pub content_hash: ContentHash,
}

/// A semver bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// `1.2.3 → 1.2.4`: whitespace and other changes that do not alter meaning.
    Patch,
    /// `1.2.3 → 1.3.0`: changed wording, config or metadata.
    Minor,
    /// `1.2.3 → 2.0.0`: a changed variable set or schema — callers must change.
    Major,
}

wire_names!(Bump, "bump", [
    Patch => "patch",
    Minor => "minor",
    Major => "major",
]);

impl Bump {
    /// The next version after `v`; `None` when a number would overflow.
    pub fn apply(self, v: &Version) -> Option<Version> {
        Some(match self {
            Bump::Major => Version::new(v.major.checked_add(1)?, 0, 0),
            Bump::Minor => Version::new(v.major, v.minor.checked_add(1)?, 0),
            Bump::Patch => Version::new(v.major, v.minor, v.patch.checked_add(1)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_names_are_the_serde_names() {
        crate::model::tests::assert_wire_names(Bump::ALL, Bump::as_str);
    }
}
