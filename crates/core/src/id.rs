//! Validated names: [`PromptId`] (path-like prompt ids) and [`LabelName`] (version pointers).
//!
//! Both map safely to file names, SQL rows and URL path segments, so every check happens here,
//! before any I/O. Errors quote the offending part.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// Longest accepted prompt id, in bytes.
pub const MAX_ID_LEN: usize = 200;
/// The file-name ending no id segment may have: a `dir://` store keeps its own files under it.
pub(crate) const RESERVED_SEGMENT_SUFFIX: &str = ".yaml";
/// Longest accepted label name, in bytes.
pub const MAX_LABEL_LEN: usize = 64;

/// The identifier of a prompt: segments of `[a-z0-9][a-z0-9._-]*` joined by `/`, at most
/// [`MAX_ID_LEN`] bytes, e.g. `support/triage-v2`. A segment must not end in `.yaml`: in a
/// `dir://` store (and an export to a folder) a segment is a folder beside the prompt's
/// `<version>.yaml` and `_labels.yaml` files, and a `.yaml` name there is read as one of them.
/// Every backend refuses what one of them cannot hold, so any store can be exported to any other.
///
/// ```
/// use prompt_manager_core::PromptId;
/// let id: PromptId = "support/triage-v2".parse()?;
/// assert_eq!(id.as_str(), "support/triage-v2");
/// assert!("../etc/passwd".parse::<PromptId>().is_err());
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromptId(Arc<str>);

impl PromptId {
    /// Validates `input` and returns it as an id.
    pub fn new(input: impl AsRef<str>) -> Result<Self, Error> {
        let input = input.as_ref();
        validate_id(input)?;
        Ok(PromptId(input.into()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments of the id.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

fn invalid_id(input: &str, reason: String) -> Error {
    Error::InvalidId {
        input: truncate_for_message(input),
        reason,
    }
}

/// Keeps error messages readable when the input is huge.
pub(crate) fn truncate_for_message(input: &str) -> String {
    const SHOWN: usize = 80;
    if input.len() <= SHOWN {
        return input.to_owned();
    }
    let mut end = SHOWN;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &input[..end], input.len())
}

fn validate_id(input: &str) -> Result<(), Error> {
    if input.is_empty() {
        return Err(invalid_id(input, "a prompt id must not be empty".into()));
    }
    if input.len() > MAX_ID_LEN {
        return Err(invalid_id(
            input,
            format!(
                "a prompt id is at most {MAX_ID_LEN} bytes, this one has {}",
                input.len()
            ),
        ));
    }
    if input.starts_with('/') {
        return Err(invalid_id(
            input,
            "a prompt id must not start with `/` (absolute paths are refused)".into(),
        ));
    }
    for (index, segment) in input.split('/').enumerate() {
        let position = index + 1;
        if segment.is_empty() {
            return Err(invalid_id(
                input,
                format!("segment {position} is empty (`//` or a trailing `/`)"),
            ));
        }
        if segment == "." || segment == ".." {
            return Err(invalid_id(
                input,
                format!("segment {position} is `{segment}`, which could escape the prompt folder"),
            ));
        }
        let mut chars = segment.chars();
        // `segment` is non-empty, so there is a first char.
        let first = chars.next().unwrap_or('a');
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
            return Err(invalid_id(
                input,
                format!(
                    "segment `{}` must start with a lowercase letter or a digit, not {}",
                    segment.escape_debug(),
                    describe_char(first)
                ),
            ));
        }
        if let Some(bad) =
            chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
        {
            return Err(invalid_id(
                input,
                format!(
                    "segment `{}` contains {}; allowed are a-z, 0-9, `.`, `_` and `-`",
                    segment.escape_debug(),
                    describe_char(bad)
                ),
            ));
        }
        if segment.ends_with(RESERVED_SEGMENT_SUFFIX) {
            return Err(invalid_id(
                input,
                format!(
                    "segment `{segment}` ends in `{RESERVED_SEGMENT_SUFFIX}`, which names a version or labels file \
                     in a dir:// store or a folder export (`1.0.0.yaml`, `_labels.yaml`); drop or change the ending"
                ),
            ));
        }
    }
    Ok(())
}

fn describe_char(c: char) -> String {
    if c.is_control() {
        format!("the control character {:?}", c)
    } else if c.is_ascii_uppercase() {
        format!("the uppercase letter `{c}` (ids are lowercase)")
    } else {
        format!("`{c}`")
    }
}

impl fmt::Display for PromptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PromptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl FromStr for PromptId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        PromptId::new(s)
    }
}

impl TryFrom<&str> for PromptId {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        PromptId::new(s)
    }
}

impl TryFrom<String> for PromptId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        validate_id(&s)?;
        Ok(PromptId(Arc::from(s)))
    }
}

impl Deref for PromptId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PromptId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for PromptId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for PromptId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PromptId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromptId::try_from(s).map_err(serde::de::Error::custom)
    }
}

/// The name of a label: a named pointer to one version of a prompt (`production`, `staging`, …).
///
/// A label starts with a lowercase letter and continues with `[a-z0-9._-]`, at most
/// [`MAX_LABEL_LEN`] bytes. Starting with a letter keeps `id@1.2.0` (a version), `id@^1` (a
/// requirement) and `id@production` (a label) unambiguous. `latest` is implicit and reserved.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelName(Arc<str>);

impl LabelName {
    /// The label most applications render.
    pub const PRODUCTION: &'static str = "production";
    /// The label used for pre-release checks.
    pub const STAGING: &'static str = "staging";
    /// The implicit label that always names the newest version; it cannot be set.
    pub const LATEST: &'static str = "latest";

    /// Validates `input` and returns it as a label name.
    pub fn new(input: impl AsRef<str>) -> Result<Self, Error> {
        let input = input.as_ref();
        validate_label(input)?;
        Ok(LabelName(input.into()))
    }

    /// The label as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate_label(input: &str) -> Result<(), Error> {
    let bad = |reason: String| Error::InvalidLabel {
        input: truncate_for_message(input),
        reason,
    };
    if input.is_empty() {
        return Err(bad("a label must not be empty".into()));
    }
    if input.len() > MAX_LABEL_LEN {
        return Err(bad(format!(
            "a label is at most {MAX_LABEL_LEN} bytes, this one has {}",
            input.len()
        )));
    }
    if input == LabelName::LATEST {
        return Err(bad("`latest` always names the newest version and cannot be set".into()));
    }
    let mut chars = input.chars();
    let first = chars.next().unwrap_or('a');
    if !first.is_ascii_lowercase() {
        return Err(bad(format!(
            "a label must start with a lowercase letter, not {} (versions start with a digit)",
            describe_char(first)
        )));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))) {
        return Err(bad(format!(
            "it contains {}; allowed are a-z, 0-9, `.`, `_` and `-`",
            describe_char(c)
        )));
    }
    Ok(())
}

impl fmt::Display for LabelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LabelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl FromStr for LabelName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        LabelName::new(s)
    }
}

impl Deref for LabelName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for LabelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for LabelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for LabelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LabelName::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_path_like_ids() {
        for ok in ["greeting", "support/triage-v2", "a/b/c", "v1.2_x-y", "0abc"] {
            assert_eq!(PromptId::new(ok).map(|id| id.to_string()).ok().as_deref(), Some(ok));
        }
    }

    #[test]
    fn refuses_bad_ids_and_quotes_the_bad_part() {
        let cases = [
            ("../x", "could escape"),
            ("a/../b", "could escape"),
            ("./a", "could escape"),
            ("A", "uppercase letter `A`"),
            ("support/Triage", "uppercase letter `T`"),
            ("", "must not be empty"),
            ("a//b", "segment 2 is empty"),
            ("a/", "segment 2 is empty"),
            ("/abs", "absolute"),
            ("a b", "` `"),
            ("tab\tx", "control character"),
            ("-x", "must start with"),
            ("a/é", "`é`"),
            ("a/1.0.0.yaml", "segment `1.0.0.yaml` ends in `.yaml`"),
            ("x.yaml/b", "segment `x.yaml` ends in `.yaml`"),
        ];
        for (input, expected) in cases {
            let err = PromptId::new(input).expect_err(input).to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
        let long = "a".repeat(300);
        let err = PromptId::new(&long).expect_err("300 bytes").to_string();
        assert!(err.contains("at most 200 bytes, this one has 300"), "{err}");
        assert!(err.len() < 300, "the message stays short: {err}");
    }

    #[test]
    fn labels_cannot_look_like_versions() {
        assert!(LabelName::new("production").is_ok());
        assert!(LabelName::new("canary-2").is_ok());
        for bad in ["1.2.0", "^1", "latest", "", "Prod", "a b", "x/y"] {
            assert!(LabelName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_validates() {
        let ok: Result<PromptId, _> = serde_json::from_str("\"a/b\"");
        assert!(ok.is_ok());
        let err = serde_json::from_str::<PromptId>("\"../b\"").expect_err("invalid");
        assert!(err.to_string().contains("could escape"), "{err}");
    }

    fn segment() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9._-]{0,15}".prop_filter("not . or ..", |s| s != "." && s != "..")
    }

    /// Segments that look like the files of a `dir://` store, or almost.
    fn file_like_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            segment(),
            "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(\\.yaml|\\.yml|\\.yaml\\.bak|)",
            "[a-z0-9]{1,8}(\\.yaml|\\.tmp|\\.lock|\\.journal|-labels\\.yaml)",
            Just("labels.yaml".to_owned()),
        ]
    }

    #[test]
    fn item_09_ids_a_folder_store_cannot_hold_are_refused_by_the_core() {
        // `a/1.0.0.yaml` was accepted by SQLite and refused by dir://; one grammar refuses it.
        let err = PromptId::new("a/1.0.0.yaml").expect_err("a version file name as a segment");
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        let message = err.to_string();
        assert!(message.contains("`1.0.0.yaml`"), "quotes the bad segment: {message}");
        for ok in ["a/1.0.0", "a/1.0.0.yml", "a/labels", "a/x.yaml.bak", "yaml", "a/yaml"] {
            assert!(PromptId::new(ok).is_ok(), "{ok}");
        }
    }

    proptest! {
        #[test]
        fn valid_ids_round_trip(segments in prop::collection::vec(segment(), 1..5)) {
            let raw = segments.join("/");
            let id = PromptId::new(&raw).expect("generated ids are valid");
            prop_assert_eq!(id.as_str(), raw.as_str());
            let json = serde_json::to_string(&id).expect("serialize");
            let back: PromptId = serde_json::from_str(&json).expect("deserialize");
            prop_assert_eq!(back, id);
        }

        #[test]
        fn any_string_is_accepted_only_if_it_matches_the_grammar(raw in "\\PC{0,40}|[a-zA-Z0-9./_ -]{0,40}") {
            let expected = !raw.is_empty()
                && raw.len() <= MAX_ID_LEN
                && raw.split('/').all(|s| {
                    let mut cs = s.chars();
                    matches!(cs.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
                        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
                        && s != "." && s != ".."
                        && !s.ends_with(".yaml")
                });
            prop_assert_eq!(PromptId::new(&raw).is_ok(), expected, "{:?}", raw);
        }

        #[test]
        fn item_09_no_accepted_segment_names_a_store_file(segments in prop::collection::vec(file_like_segment(), 1..4)) {
            let raw = segments.join("/");
            let accepted = PromptId::new(&raw).is_ok();
            let collides = segments.iter().any(|s| s.ends_with(".yaml"));
            prop_assert_eq!(accepted, !collides, "{:?}", raw);
        }

        #[test]
        fn accepted_ids_never_escape(raw in "[a-z0-9./]{1,30}") {
            if let Ok(id) = PromptId::new(&raw) {
                prop_assert!(id.segments().all(|s| s != ".." && s != "." && !s.is_empty()));
                prop_assert!(!id.starts_with('/'));
            }
        }
    }

    #[test]
    fn labels_have_a_length_limit_and_read_as_str() {
        let long = "a".repeat(MAX_LABEL_LEN + 1);
        let err = LabelName::new(&long).expect_err("too long").to_string();
        assert!(
            err.contains(&format!(
                "a label is at most {MAX_LABEL_LEN} bytes, this one has {}",
                long.len()
            )),
            "{err}"
        );
        let longest = "a".repeat(MAX_LABEL_LEN);
        assert_eq!(LabelName::new(&longest).expect("at the limit").as_str(), longest);

        let label: LabelName = "staging".parse().expect("valid");
        let as_ref: &str = label.as_ref();
        assert_eq!((&*label, as_ref), ("staging", "staging"));
        assert_eq!(serde_json::to_string(&label).unwrap(), "\"staging\"");
        let err = serde_json::from_str::<LabelName>("\"latest\"")
            .expect_err("reserved")
            .to_string();
        assert!(err.contains("`latest` always names the newest version"), "{err}");

        let id = PromptId::try_from("support/triage").expect("valid");
        assert_eq!(id.as_str(), "support/triage");
        assert!(
            PromptId::try_from("Support").is_err(),
            "uppercase is refused through TryFrom too"
        );
    }
}
