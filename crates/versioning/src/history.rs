//! Queries over a prompt's history as a store returns it (`&[VersionInfo]`, in any order). No I/O:
//! loading the history is the store's job.

use std::collections::BTreeSet;

use prompt_manager_core::VersionInfo;
use prompt_manager_core::semver::Version;

/// The newest version of a history (by semver order), if any.
pub fn latest(history: &[VersionInfo]) -> Option<&VersionInfo> {
    history.iter().max_by(|a, b| a.version.cmp(&b.version))
}

/// The versions after `from` up to and including `to`, oldest first — what changed on the way
/// from `from` to `to`, like `git log from..to`. Empty when `from >= to`.
///
/// ```
/// # use prompt_manager_core::{ContentHash, VersionInfo, semver::Version};
/// # let info = |v: &str| VersionInfo {
/// #     version: v.parse().expect("semver"), changelog: String::new(), author: None,
/// #     created_at: Default::default(), parent: None, content_hash: ContentHash(v.into()),
/// # };
/// use prompt_manager_versioning::versions_between;
///
/// let history = [info("1.0.0"), info("1.1.0"), info("2.0.0"), info("2.0.1")];
/// let between = versions_between(&history, &Version::new(1, 0, 0), &Version::new(2, 0, 0));
/// let numbers: Vec<String> = between.iter().map(|v| v.version.to_string()).collect();
/// assert_eq!(numbers, ["1.1.0", "2.0.0"]);
/// ```
pub fn versions_between<'a>(history: &'a [VersionInfo], from: &Version, to: &Version) -> Vec<&'a VersionInfo> {
    let mut out: Vec<&VersionInfo> = history
        .iter()
        .filter(|v| &v.version > from && &v.version <= to)
        .collect();
    out.sort_by(|a, b| a.version.cmp(&b.version));
    out
}

/// The version whose content hash is `hash` — the full `sha256:<hex>` or the hex alone. When the
/// same content was saved more than once (a revert), the newest such version.
pub fn find_by_hash<'a>(history: &'a [VersionInfo], hash: &str) -> Option<&'a VersionInfo> {
    let wanted = hash.trim();
    if wanted.is_empty() {
        return None;
    }
    history
        .iter()
        .filter(|v| {
            let full = v.content_hash.0.as_str();
            full == wanted || full.strip_prefix("sha256:") == Some(wanted)
        })
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// The chain of versions from `version` back through its parents, newest first, starting with
/// `version` itself. Stops at a version without a parent, a parent missing from the history, or a
/// cycle (which a well-formed history never has). Empty when `version` is not in the history.
pub fn lineage<'a>(history: &'a [VersionInfo], version: &Version) -> Vec<&'a VersionInfo> {
    let find = |v: &Version| history.iter().find(|i| &i.version == v);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut current = find(version);
    while let Some(info) = current {
        if !seen.insert(&info.version) {
            break;
        }
        out.push(info);
        current = info.parent.as_ref().and_then(find);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_manager_core::ContentHash;

    fn info(v: &str, parent: Option<&str>, hash: &str) -> VersionInfo {
        VersionInfo {
            version: v.parse().expect("semver"),
            changelog: format!("v{v}"),
            author: None,
            created_at: Default::default(),
            parent: parent.map(|p| p.parse().expect("semver")),
            content_hash: ContentHash(format!("sha256:{hash}")),
        }
    }

    fn history() -> Vec<VersionInfo> {
        // Deliberately out of order, with a revert (2.0.1 has the content of 1.1.0).
        vec![
            info("2.0.0", Some("1.1.0"), "cc"),
            info("1.0.0", None, "aa"),
            info("2.0.1", Some("2.0.0"), "bb"),
            info("1.1.0", Some("1.0.0"), "bb"),
        ]
    }

    fn numbers(list: &[&VersionInfo]) -> Vec<String> {
        list.iter().map(|v| v.version.to_string()).collect()
    }

    #[test]
    fn latest_is_the_highest_semver() {
        assert_eq!(
            latest(&history()).map(|v| v.version.to_string()).as_deref(),
            Some("2.0.1")
        );
        assert!(latest(&[]).is_none());
    }

    #[test]
    fn between_is_exclusive_inclusive_and_sorted() {
        let h = history();
        let v = |s: &str| s.parse::<Version>().expect("semver");
        assert_eq!(
            numbers(&versions_between(&h, &v("1.0.0"), &v("2.0.1"))),
            ["1.1.0", "2.0.0", "2.0.1"]
        );
        assert_eq!(numbers(&versions_between(&h, &v("0.0.0"), &v("1.0.0"))), ["1.0.0"]);
        assert!(versions_between(&h, &v("2.0.0"), &v("1.0.0")).is_empty());
        assert!(versions_between(&h, &v("1.1.0"), &v("1.1.0")).is_empty());
    }

    #[test]
    fn hashes_are_found_with_or_without_prefix_newest_first() {
        let h = history();
        let found = |s: &str| find_by_hash(&h, s).map(|v| v.version.to_string());
        assert_eq!(found("sha256:aa").as_deref(), Some("1.0.0"));
        assert_eq!(found("cc").as_deref(), Some("2.0.0"));
        assert_eq!(found("bb").as_deref(), Some("2.0.1"));
        assert_eq!(found("dd"), None);
        assert_eq!(found(""), None);
        assert_eq!(found("sha256:"), None);
    }

    #[test]
    fn lineage_follows_parents_and_survives_cycles() {
        let h = history();
        let v = |s: &str| s.parse::<Version>().expect("semver");
        assert_eq!(numbers(&lineage(&h, &v("2.0.1"))), ["2.0.1", "2.0.0", "1.1.0", "1.0.0"]);
        assert!(lineage(&h, &v("9.9.9")).is_empty());
        let cyclic = vec![info("1.0.0", Some("1.1.0"), "a"), info("1.1.0", Some("1.0.0"), "b")];
        assert_eq!(numbers(&lineage(&cyclic, &v("1.1.0"))), ["1.1.0", "1.0.0"]);
    }
}
