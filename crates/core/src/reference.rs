//! References: the one string that names what to render — `id` (latest), `id@1.4.2` (exact),
//! `id@^1.4` / `id@~1.4` (newest matching version), `id@production` (a label). The same syntax
//! is used by the library, the CLI, the REST API and `{% include %}`.

use std::fmt;
use std::str::FromStr;

use semver::{Version, VersionReq};

use crate::error::Error;
use crate::id::{LabelName, PromptId, truncate_for_message};

/// What a reference selects among a prompt's versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The newest version (`id` or `id@latest`).
    Latest,
    /// One exact version (`id@1.2.0`).
    Exact(Version),
    /// The newest version matching a requirement (`id@^1.2`, `id@~1.2`, `id@>=1, <2`).
    Requirement(VersionReq),
    /// The version a label points to (`id@production`).
    Label(LabelName),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Latest => f.write_str("latest"),
            Selector::Exact(v) => write!(f, "{v}"),
            Selector::Requirement(r) => write!(f, "{r}"),
            Selector::Label(l) => write!(f, "{l}"),
        }
    }
}

/// A parsed reference.
///
/// ```
/// use prompt_manager_core::{PromptRef, Selector};
/// let r: PromptRef = "support/triage@production".parse()?;
/// assert_eq!(r.id.as_str(), "support/triage");
/// assert!(matches!(r.selector, Selector::Label(_)));
/// assert!("support/triage@1.2".parse::<PromptRef>().is_err()); // not a full version
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    /// The prompt.
    pub id: PromptId,
    /// Which version.
    pub selector: Selector,
}

impl PromptRef {
    /// Parses `input`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::InvalidReference {
            input: truncate_for_message(input),
            reason,
        };
        let (id, selector) = match input.split_once('@') {
            None => (input, None),
            Some((id, sel)) => (id, Some(sel)),
        };
        let id = PromptId::new(id).map_err(|e| match e {
            Error::InvalidId { reason, .. } => bad(reason),
            other => other,
        })?;
        let selector = match selector {
            None | Some("latest") => Selector::Latest,
            Some("") => return Err(bad("nothing after `@`; name a version, a requirement or a label".into())),
            Some(s) if s.contains('@') => return Err(bad("a reference has at most one `@`".into())),
            Some(s) => parse_selector(s).map_err(bad)?,
        };
        Ok(PromptRef { id, selector })
    }

    /// A reference to the newest version.
    pub fn latest(id: PromptId) -> Self {
        PromptRef {
            id,
            selector: Selector::Latest,
        }
    }

    /// The label this reference names, if any.
    pub fn label(&self) -> Option<&LabelName> {
        match &self.selector {
            Selector::Label(l) => Some(l),
            _ => None,
        }
    }
}

fn parse_selector(s: &str) -> Result<Selector, String> {
    let first = s.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() {
        if s.bytes().filter(|b| *b == b'.').count() < 2 && !s.contains([' ', ',', '<', '>']) {
            return Err(format!(
                "`{s}` is not a full version; write `{s}{}` for that version, or `^{s}` / `~{s}` for the newest matching one",
                if s.contains('.') { ".0" } else { ".0.0" }
            ));
        }
        return Version::parse(s)
            .map(Selector::Exact)
            .map_err(|e| format!("`{s}` is not a valid version: {e}"));
    }
    if matches!(first, '^' | '~' | '=' | '<' | '>' | '*') {
        return VersionReq::parse(s)
            .map(Selector::Requirement)
            .map_err(|e| format!("`{s}` is not a valid version requirement: {e}"));
    }
    LabelName::new(s).map(Selector::Label).map_err(|e| match e {
        Error::InvalidLabel { reason, .. } => format!("`{s}` is not a valid label: {reason}"),
        other => other.to_string(),
    })
}

impl FromStr for PromptRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        PromptRef::parse(s)
    }
}

impl fmt::Display for PromptRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Selector::Latest => write!(f, "{}", self.id),
            other => write!(f, "{}@{other}", self.id),
        }
    }
}

/// Picks the newest version matching `req` from `versions`.
pub fn newest_matching<'a>(versions: impl IntoIterator<Item = &'a Version>, req: &VersionReq) -> Option<&'a Version> {
    versions.into_iter().filter(|v| req.matches(v)).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let cases = [
            ("greeting", "greeting"),
            ("greeting@latest", "greeting"),
            ("greeting@1.2.0", "greeting@1.2.0"),
            ("greeting@^1", "greeting@^1"),
            ("greeting@~1.4", "greeting@~1.4"),
            ("a/b@production", "a/b@production"),
            ("a@>=1.0.0, <2.0.0", "a@>=1.0.0, <2.0.0"),
        ];
        for (input, shown) in cases {
            let r = PromptRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), shown);
        }
        assert!(matches!(
            PromptRef::parse("g@1.2.0").map(|r| r.selector),
            Ok(Selector::Exact(_))
        ));
        assert!(matches!(
            PromptRef::parse("g@^1").map(|r| r.selector),
            Ok(Selector::Requirement(_))
        ));
    }

    #[test]
    fn bad_references_say_why() {
        for (input, expected) in [
            ("g@", "nothing after `@`"),
            ("g@1.2", "not a full version; write `1.2.0`"),
            ("g@1", "write `1.0.0`"),
            ("g@1.x.0", "not a valid version"),
            ("g@^x", "not a valid version requirement"),
            ("g@Prod", "not a valid label"),
            ("../g@production", "could escape"),
            ("g@a@b", "at most one `@`"),
        ] {
            let err = PromptRef::parse(input).expect_err(input).to_string();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn newest_matching_picks_the_highest() {
        let vs: Vec<Version> = ["1.0.0", "1.4.0", "1.4.2", "2.0.0"]
            .iter()
            .map(|v| Version::parse(v).expect("v"))
            .collect();
        let req = VersionReq::parse("^1").expect("req");
        assert_eq!(
            newest_matching(&vs, &req).map(|v| v.to_string()).as_deref(),
            Some("1.4.2")
        );
        let req = VersionReq::parse("~1.3").expect("req");
        assert_eq!(newest_matching(&vs, &req), None);
    }
}
