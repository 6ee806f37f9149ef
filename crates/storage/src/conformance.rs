//! The conformance suite every storage backend runs: what the trait docs of
//! [`StorageBackend`](prompt_manager_core::StorageBackend) and
//! [`VersionStore`](prompt_manager_core::VersionStore) promise, checked through `&dyn Store`.
//!
//! A backend's test calls [`run_all`] on a fresh store (or each check on its own, to see them as
//! separate tests):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use prompt_manager_storage::{MemoryStore, conformance};
//!
//! conformance::run_all(&MemoryStore::new()).await;
//! # }
//! ```
//!
//! Each check works under its own id prefix (`conformance/<check>/…`) and first deletes whatever a
//! previous run left there, so the checks do not interfere with each other or with other data,
//! and a persistent store (a database, a folder) can run the suite again. A failed check panics
//! with a message that says what the store did and what was expected.
//!
//! The module is behind the `conformance` feature; it holds only the checks and the small helpers
//! they share, no backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ChatItem, ContentHash, Error, ErrorKind, Expect, LabelChange, LabelEvent, LabelEventKind, LabelName, ListQuery,
    MAX_FILTER_TAGS, MAX_ID_LEN, MAX_TAG_LEN, NotFound, Prompt, PromptFormat, PromptId, PromptStatus, PromptSummary,
    PromptVersion, Result, Role, SaveRequest, Store,
};

/// The actor the helpers put on saves, as recorded in label events.
pub const ACTOR: &str = "conformance";

/// Runs every check, one after the other.
pub async fn run_all(store: &dyn Store) {
    create_load_exists(store).await;
    versions_are_immutable_and_increasing(store).await;
    identical_version_is_refused(store).await;
    conflict_leaves_store_unchanged(store).await;
    labels_and_history(store).await;
    label_to_missing_version_is_refused(store).await;
    list_filters_and_pagination(store).await;
    delete_removes_everything(store).await;
    status_compare_and_set(store).await;
    summary_fields(store).await;
    save_all_is_all_or_nothing(store).await;
    listing_is_literal_and_in_byte_order(store).await;
    save_with_wrong_content_hash_is_refused(store).await;
    long_filters_are_refused_and_many_tags_are_one_query(store).await;
    ids_like_store_files_are_held_or_refused_alike(store).await;
}

// ----- helpers ---------------------------------------------------------------------------------

/// A text prompt version `number` of `id` with `template` as its content, no parent.
///
/// `created_at` is now, truncated to milliseconds so that backends storing coarser timestamps
/// than chrono's nanoseconds still return an equal version.
pub fn text_version(id: &str, number: &str, template: &str) -> PromptVersion {
    versioned(Prompt::text(id, template).expect("the test id is valid"), number)
}

/// Wraps `prompt` as version `number`, with its content hash, now as `created_at` (milliseconds)
/// and no parent.
pub fn versioned(prompt: Prompt, number: &str) -> PromptVersion {
    PromptVersion {
        content_hash: prompt.content_hash(),
        version: version(number),
        changelog: format!("version {number}"),
        author: Some(ACTOR.into()),
        created_at: Utc::now().trunc_subsecs(3),
        parent: None,
        prompt,
    }
}

/// A save of `version` with `expected`, status `draft`, no labels and [`ACTOR`] as the actor.
pub fn save_request(version: PromptVersion, expected: Expect) -> SaveRequest {
    SaveRequest {
        version,
        expected,
        status: PromptStatus::Draft,
        labels: Vec::new(),
        actor: Some(ACTOR.into()),
    }
}

/// Deletes every prompt whose id starts with `prefix` (what an earlier run left behind).
pub async fn clean(store: &dyn Store, prefix: &str) {
    let query = ListQuery {
        id_prefix: Some(prefix.into()),
        ..ListQuery::default()
    };
    // Deleting while paging would move the cursor's ground; list everything, then delete.
    let leftovers = collect_all(store, &query, 100).await;
    for summary in leftovers {
        store
            .delete(&summary.id)
            .await
            .unwrap_or_else(|e| panic!("cleaning up `{}` before the check: {e}", summary.id));
    }
}

fn version(s: &str) -> Version {
    Version::parse(s).expect("the test version is valid semver")
}

fn id(s: &str) -> PromptId {
    PromptId::new(s).expect("the test id is valid")
}

fn label(s: &str) -> LabelName {
    LabelName::new(s).expect("the test label is valid")
}

fn labels(names: &[&str]) -> Vec<LabelName> {
    names.iter().map(|n| label(n)).collect()
}

/// Unwraps `result` or panics naming what was being done (at the caller's line).
#[track_caller]
fn ok<T>(result: Result<T>, doing: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{doing}: the store failed with {e} ({e:?})"),
    }
}

/// The error of `result`, or a panic saying what should have been refused.
#[track_caller]
fn refused<T: Debug>(result: Result<T>, doing: &str) -> Error {
    match result {
        Ok(value) => panic!("{doing}: should have been refused, but the store returned Ok({value:?})"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_prompt_not_found<T: Debug>(result: Result<T>, missing: &PromptId, doing: &str) {
    let err = refused(result, doing);
    assert!(
        matches!(&err, Error::NotFound(NotFound::Prompt(p)) if p == missing),
        "{doing}: expected NotFound::Prompt({missing}), got {err:?}"
    );
}

#[track_caller]
fn assert_event(
    event: &LabelEvent,
    (name, from, to): (&str, Option<&str>, Option<&str>),
    kind: LabelEventKind,
    actor: Option<&str>,
    doing: &str,
) {
    assert_eq!(event.label.as_str(), name, "{doing}: the event's label ({event:?})");
    assert_eq!(event.from, from.map(version), "{doing}: the event's `from` ({event:?})");
    assert_eq!(event.to, to.map(version), "{doing}: the event's `to` ({event:?})");
    assert_eq!(event.kind, kind, "{doing}: the event's kind ({event:?})");
    assert_eq!(event.actor.as_deref(), actor, "{doing}: the event's actor ({event:?})");
}

fn ids(summaries: &[PromptSummary]) -> Vec<String> {
    summaries.iter().map(|s| s.id.to_string()).collect()
}

/// Pages through `query` with `limit` per page, checking the paging contract on the way.
async fn collect_all(store: &dyn Store, query: &ListQuery, limit: usize) -> Vec<PromptSummary> {
    let mut all = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = ok(
            store
                .list(&ListQuery {
                    limit: Some(limit),
                    cursor: cursor.clone(),
                    ..query.clone()
                })
                .await,
            "listing a page",
        );
        assert!(
            page.items.len() <= limit,
            "a page with limit {limit} has {} items",
            page.items.len()
        );
        all.extend(page.items);
        match page.next_cursor {
            None => return all,
            Some(next) => {
                assert!(
                    cursor.as_ref() != Some(&next),
                    "the cursor did not move ({next}); paging would never end"
                );
                cursor = Some(next);
            }
        }
    }
    panic!("paging with limit {limit} did not end after 10000 pages");
}

// ----- checks ----------------------------------------------------------------------------------

/// Creating with `Expect::Absent`, loading the latest and an exact version, `exists`, and the
/// errors for missing prompts and versions and for creating twice.
pub async fn create_load_exists(store: &dyn Store) {
    const P: &str = "conformance/create-load/";
    clean(store, P).await;
    assert!(!store.backend_name().is_empty(), "a backend has a name");
    let greeting = id("conformance/create-load/greeting");

    assert!(
        !ok(store.exists(&greeting).await, "exists"),
        "a new store has no `{greeting}`"
    );
    assert_prompt_not_found(store.load(&greeting, None).await, &greeting, "loading a missing prompt");
    assert_prompt_not_found(
        store.load(&greeting, Some(&version("1.0.0"))).await,
        &greeting,
        "loading a version of a missing prompt",
    );
    assert_prompt_not_found(
        store
            .save(save_request(
                text_version(&greeting, "1.0.0", "Hi"),
                Expect::Version(version("0.1.0")),
            ))
            .await,
        &greeting,
        "updating a missing prompt",
    );
    assert!(
        !ok(store.exists(&greeting).await, "exists"),
        "a refused update must not create the prompt"
    );

    let first = text_version(&greeting, "1.0.0", "Hello {{ name }}!");
    let events = ok(
        store.save(save_request(first.clone(), Expect::Absent)).await,
        "creating a prompt",
    );
    assert!(
        events.is_empty(),
        "a save without labels records no label event: {events:?}"
    );
    assert!(
        ok(store.exists(&greeting).await, "exists"),
        "`{greeting}` exists after its creation"
    );
    assert_eq!(
        *ok(store.load(&greeting, None).await, "loading the latest"),
        first,
        "the latest version is the one saved, unchanged"
    );
    assert_eq!(
        *ok(store.load(&greeting, Some(&version("1.0.0"))).await, "loading 1.0.0"),
        first,
        "the exact version is the one saved, unchanged"
    );
    assert_eq!(*ok(store.get_latest(&greeting).await, "get_latest"), first);
    assert_eq!(
        *ok(store.get_version(&greeting, &version("1.0.0")).await, "get_version"),
        first
    );

    let err = refused(
        store.load(&greeting, Some(&version("2.0.0"))).await,
        "loading a missing version",
    );
    assert!(
        matches!(&err, Error::NotFound(NotFound::Version(p, v)) if *p == greeting && *v == version("2.0.0")),
        "loading a missing version: expected NotFound::Version, got {err:?}"
    );

    let err = refused(
        store
            .save(save_request(text_version(&greeting, "2.0.0", "Other"), Expect::Absent))
            .await,
        "creating an existing prompt",
    );
    assert!(
        matches!(&err, Error::AlreadyExists { id } if *id == greeting),
        "creating an existing prompt: expected AlreadyExists, got {err:?}"
    );
    assert_eq!(
        ok(store.load(&greeting, None).await, "loading the latest").version,
        version("1.0.0"),
        "a refused create must not add a version"
    );

    // `Expect::Any` creates a missing prompt as well.
    let other = id("conformance/create-load/other");
    ok(
        store
            .save(save_request(text_version(&other, "0.1.0", "Any"), Expect::Any))
            .await,
        "creating with Expect::Any",
    );
    assert!(
        ok(store.exists(&other).await, "exists"),
        "Expect::Any creates a missing prompt"
    );
    assert!(
        !ok(store.exists(&id("conformance/create-load")).await, "exists"),
        "a prefix of an id is not an id"
    );
}

/// Versions accumulate, keep their content, are ordered as semver (not as text) and must increase.
pub async fn versions_are_immutable_and_increasing(store: &dyn Store) {
    const P: &str = "conformance/versions/";
    clean(store, P).await;
    let pid = id("conformance/versions/history");
    let mut saved = Vec::new();
    let mut previous: Option<Version> = None;
    for (number, expected) in [
        ("1.0.0", Expect::Absent),
        ("1.1.0", Expect::Version(version("1.0.0"))),
        ("2.0.0", Expect::Any),
        ("2.1.0-rc.1", Expect::Version(version("2.0.0"))),
        ("2.1.0", Expect::Version(version("2.1.0-rc.1"))),
        ("10.0.0", Expect::Any),
    ] {
        let mut v = text_version(&pid, number, &format!("content of {number}"));
        v.parent = previous.replace(v.version.clone());
        ok(
            store.save(save_request(v.clone(), expected)).await,
            &format!("saving {number}"),
        );
        saved.push(v);
    }

    for (number, latest) in [("1.5.0", "10.0.0"), ("9.0.0", "10.0.0"), ("0.9.0", "10.0.0")] {
        let err = refused(
            store
                .save(save_request(text_version(&pid, number, "late"), Expect::Any))
                .await,
            &format!("saving {number} after {latest}"),
        );
        assert!(
            matches!(&err, Error::VersionNotIncreasing { id, version: v, latest: l }
                if *id == pid && *v == version(number) && *l == version(latest)),
            "saving {number} after {latest}: expected VersionNotIncreasing, got {err:?}"
        );
    }

    let history = ok(store.list_versions(&pid).await, "listing versions");
    let expected: Vec<_> = saved.iter().rev().map(PromptVersion::info).collect();
    assert_eq!(
        history, expected,
        "list_versions returns every version, newest first by semver order"
    );
    assert_eq!(
        ok(store.load(&pid, None).await, "loading the latest").version,
        version("10.0.0"),
        "the latest is the highest semver, not the highest text"
    );
    for v in &saved {
        assert_eq!(
            *ok(store.load(&pid, Some(&v.version)).await, "loading a version"),
            *v,
            "version {} is unchanged by later saves",
            v.version
        );
    }
    assert_prompt_not_found(
        store.list_versions(&id("conformance/versions/missing")).await,
        &id("conformance/versions/missing"),
        "listing versions of a missing prompt",
    );
}

/// Saving a version number that exists is refused, whatever the content, and the stored
/// version stays as it was.
pub async fn identical_version_is_refused(store: &dyn Store) {
    const P: &str = "conformance/identical/";
    clean(store, P).await;
    let pid = id("conformance/identical/greeting");
    let original = text_version(&pid, "1.0.0", "Hello");
    ok(
        store.save(save_request(original.clone(), Expect::Absent)).await,
        "creating",
    );

    let mut changed = text_version(&pid, "1.0.0", "Changed");
    changed.changelog = "an attempt to overwrite".into();
    for (what, attempt, expected) in [
        ("the identical version", original.clone(), Expect::Any),
        (
            "the identical version",
            original.clone(),
            Expect::Version(version("1.0.0")),
        ),
        ("other content under the same number", changed.clone(), Expect::Any),
        (
            "other content under the same number",
            changed,
            Expect::Version(version("1.0.0")),
        ),
    ] {
        let err = refused(
            store.save(save_request(attempt, expected.clone())).await,
            &format!("saving {what} with {expected:?}"),
        );
        assert!(
            matches!(&err, Error::VersionNotIncreasing { version: v, latest, .. }
                if *v == version("1.0.0") && *latest == version("1.0.0")),
            "saving {what} with {expected:?}: expected VersionNotIncreasing, got {err:?}"
        );
    }
    assert_eq!(
        *ok(store.load(&pid, None).await, "loading"),
        original,
        "a refused save must not overwrite the stored version"
    );
    assert_eq!(ok(store.list_versions(&pid).await, "listing versions").len(), 1);
}

/// A refused save (lost compare-and-set, not increasing, already exists) changes nothing:
/// no version, no label, no label event, no new `updated_at`.
pub async fn conflict_leaves_store_unchanged(store: &dyn Store) {
    const P: &str = "conformance/conflict/";
    clean(store, P).await;
    let pid = id("conformance/conflict/greeting");
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["staging"]),
                ..save_request(text_version(&pid, "1.0.0", "one"), Expect::Absent)
            })
            .await,
        "creating",
    );
    ok(
        store
            .save(save_request(
                text_version(&pid, "1.1.0", "two"),
                Expect::Version(version("1.0.0")),
            ))
            .await,
        "updating",
    );
    let summary = ok(store.summary(&pid).await, "summary");
    let history = ok(store.label_history(&pid, None).await, "label history");
    let versions = ok(store.list_versions(&pid).await, "list versions");

    let err = refused(
        store
            .save(SaveRequest {
                labels: labels(&["production", "staging"]),
                ..save_request(text_version(&pid, "2.0.0", "three"), Expect::Version(version("1.0.0")))
            })
            .await,
        "saving against a stale latest version",
    );
    match &err {
        Error::VersionConflict {
            id,
            what,
            expected,
            actual,
        } => {
            assert_eq!(*id, pid, "the conflict names the prompt");
            assert_eq!(what, "latest version", "the conflict says what was compared");
            assert_eq!(
                *expected,
                Some(version("1.0.0")),
                "the conflict shows what was expected"
            );
            assert_eq!(*actual, Some(version("1.1.0")), "the conflict shows what is stored");
        }
        other => panic!("saving against a stale latest version: expected VersionConflict, got {other:?}"),
    }

    let other_refusals = [
        (
            "a save that does not increase",
            SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(&pid, "1.0.5", "x"), Expect::Any)
            },
        ),
        (
            "a create of an existing prompt",
            SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(&pid, "3.0.0", "x"), Expect::Absent)
            },
        ),
    ];
    for (what, request) in other_refusals {
        refused(store.save(request).await, what);
    }

    assert_eq!(
        ok(store.summary(&pid).await, "summary"),
        summary,
        "refused saves must leave the summary (labels, versions, updated_at) unchanged"
    );
    assert_eq!(
        ok(store.label_history(&pid, None).await, "label history"),
        history,
        "refused saves must record no label event"
    );
    assert_eq!(
        ok(store.list_versions(&pid).await, "list versions"),
        versions,
        "refused saves must add no version"
    );
    let err = refused(
        store.load(&pid, Some(&version("2.0.0"))).await,
        "loading the refused version",
    );
    assert!(
        matches!(err, Error::NotFound(NotFound::Version(..))),
        "the refused version must not exist: {err:?}"
    );
}

/// Labels set by saves and by `set_label`, compare-and-set on labels, no-op moves, removal and
/// the recorded history (oldest first, filtered by label).
pub async fn labels_and_history(store: &dyn Store) {
    const P: &str = "conformance/labels/";
    clean(store, P).await;
    let pid = id("conformance/labels/greeting");
    let (production, staging, canary) = (label("production"), label("staging"), label("canary"));

    let events = ok(
        store
            .save(SaveRequest {
                labels: labels(&["staging"]),
                ..save_request(text_version(&pid, "1.0.0", "one"), Expect::Absent)
            })
            .await,
        "creating with a label",
    );
    assert_eq!(events.len(), 1, "one event per label: {events:?}");
    assert_event(
        &events[0],
        ("staging", None, Some("1.0.0")),
        LabelEventKind::Set,
        Some(ACTOR),
        "creating with a label",
    );

    let mut events = ok(
        store
            .save(SaveRequest {
                labels: labels(&["staging", "production"]),
                ..save_request(text_version(&pid, "1.1.0", "two"), Expect::Version(version("1.0.0")))
            })
            .await,
        "updating with two labels",
    );
    events.sort_by(|a, b| a.label.cmp(&b.label));
    assert_eq!(events.len(), 2, "one event per label: {events:?}");
    assert_event(
        &events[0],
        ("production", None, Some("1.1.0")),
        LabelEventKind::Set,
        Some(ACTOR),
        "updating with two labels",
    );
    assert_event(
        &events[1],
        ("staging", Some("1.0.0"), Some("1.1.0")),
        LabelEventKind::Set,
        Some(ACTOR),
        "updating with two labels",
    );
    assert_eq!(
        ok(store.labels(&pid).await, "labels"),
        BTreeMap::from([
            (production.clone(), version("1.1.0")),
            (staging.clone(), version("1.1.0"))
        ]),
        "the labels point at the new version"
    );
    assert_eq!(ok(store.get_label(&pid, &staging).await, "get_label"), version("1.1.0"));
    let err = refused(store.get_label(&pid, &canary).await, "getting an unset label");
    assert!(
        matches!(&err, Error::NotFound(NotFound::Label(p, l)) if *p == pid && *l == canary),
        "getting an unset label: expected NotFound::Label, got {err:?}"
    );

    // A rollback-style move with compare-and-set.
    let event = ok(
        store
            .set_label(
                &pid,
                LabelChange {
                    label: production.clone(),
                    to: Some(version("1.0.0")),
                    expected: Expect::Version(version("1.1.0")),
                    kind: LabelEventKind::Rollback,
                    actor: Some("bob".into()),
                },
            )
            .await,
        "moving production back",
    )
    .expect("moving a label to another version records an event");
    assert_event(
        &event,
        ("production", Some("1.1.0"), Some("1.0.0")),
        LabelEventKind::Rollback,
        Some("bob"),
        "moving production back",
    );
    assert_eq!(
        ok(store.get_label(&pid, &production).await, "get_label"),
        version("1.0.0")
    );

    // Pointing a label where it already points records nothing.
    let before = ok(store.label_history(&pid, None).await, "label history");
    let summary_before = ok(store.summary(&pid).await, "summary");
    let none = ok(
        store
            .set_label(
                &pid,
                LabelChange {
                    label: production.clone(),
                    to: Some(version("1.0.0")),
                    expected: Expect::Any,
                    kind: LabelEventKind::Set,
                    actor: None,
                },
            )
            .await,
        "setting a label to where it points",
    );
    assert_eq!(none, None, "setting a label to where it already points returns None");
    assert_eq!(
        ok(store.label_history(&pid, None).await, "label history"),
        before,
        "a no-op move records no event"
    );
    assert_eq!(
        ok(store.summary(&pid).await, "summary"),
        summary_before,
        "a no-op move changes nothing"
    );

    // Compare-and-set on a label: a stale expectation is refused and changes nothing.
    let err = refused(
        store
            .set_label(
                &pid,
                LabelChange {
                    label: production.clone(),
                    to: Some(version("1.1.0")),
                    expected: Expect::Version(version("1.1.0")),
                    kind: LabelEventKind::Set,
                    actor: None,
                },
            )
            .await,
        "moving a label with a stale expectation",
    );
    match &err {
        Error::VersionConflict {
            id,
            what,
            expected,
            actual,
        } => {
            assert_eq!(*id, pid);
            assert_eq!(what, "label production", "the conflict names the label");
            assert_eq!(*expected, Some(version("1.1.0")));
            assert_eq!(*actual, Some(version("1.0.0")));
        }
        other => panic!("moving a label with a stale expectation: expected VersionConflict, got {other:?}"),
    }
    assert_eq!(
        ok(store.get_label(&pid, &production).await, "get_label"),
        version("1.0.0"),
        "a refused label move changes nothing"
    );

    // `Expect::Absent` on labels: set only if unset.
    let set_canary = |to: &str| LabelChange {
        label: canary.clone(),
        to: Some(version(to)),
        expected: Expect::Absent,
        kind: LabelEventKind::Set,
        actor: Some(ACTOR.into()),
    };
    let event = ok(store.set_label(&pid, set_canary("1.0.0")).await, "setting a new label")
        .expect("setting a new label records an event");
    assert_event(
        &event,
        ("canary", None, Some("1.0.0")),
        LabelEventKind::Set,
        Some(ACTOR),
        "setting a new label",
    );
    let err = refused(
        store.set_label(&pid, set_canary("1.1.0")).await,
        "setting an existing label with Expect::Absent",
    );
    assert!(
        matches!(&err, Error::VersionConflict { expected: None, actual: Some(a), .. } if *a == version("1.0.0")),
        "setting an existing label with Expect::Absent: expected VersionConflict, got {err:?}"
    );

    // Removal.
    let remove = || LabelChange {
        label: canary.clone(),
        to: None,
        expected: Expect::Any,
        kind: LabelEventKind::Remove,
        actor: Some("carol".into()),
    };
    let event = ok(store.set_label(&pid, remove()).await, "removing a label").expect("a removal records an event");
    assert_event(
        &event,
        ("canary", Some("1.0.0"), None),
        LabelEventKind::Remove,
        Some("carol"),
        "removing a label",
    );
    assert!(
        !ok(store.labels(&pid).await, "labels").contains_key(&canary),
        "a removed label is gone from labels()"
    );
    let err = refused(store.get_label(&pid, &canary).await, "getting a removed label");
    assert!(
        matches!(err, Error::NotFound(NotFound::Label(..))),
        "getting a removed label: expected NotFound::Label, got {err:?}"
    );
    let err = refused(store.set_label(&pid, remove()).await, "removing an unset label");
    assert!(
        matches!(err, Error::NotFound(NotFound::Label(..))),
        "removing an unset label: expected NotFound::Label, got {err:?}"
    );

    // History: oldest first, every move, filterable by label.
    let history = ok(store.label_history(&pid, None).await, "label history");
    assert_eq!(history.len(), 6, "six moves were recorded: {history:#?}");
    assert!(
        history.windows(2).all(|w| w[0].at <= w[1].at),
        "label history is oldest first: {history:#?}"
    );
    let moves: Vec<_> = history
        .iter()
        .map(|e| (e.label.as_str(), e.to.as_ref().map(Version::to_string)))
        .collect();
    let label_at = |i: usize| moves[i].0;
    assert_eq!(moves[0], ("staging", Some("1.0.0".to_owned())));
    assert_eq!(
        BTreeSet::from([label_at(1), label_at(2)]),
        BTreeSet::from(["staging", "production"]),
        "the two labels of the second save come next: {moves:?}"
    );
    assert_eq!(
        &moves[3..],
        [
            ("production", Some("1.0.0".to_owned())),
            ("canary", Some("1.0.0".to_owned())),
            ("canary", None)
        ],
        "then the explicit moves in order"
    );

    let only_production = ok(
        store.label_history(&pid, Some(&production)).await,
        "production's history",
    );
    assert_eq!(only_production.len(), 2, "production moved twice: {only_production:#?}");
    assert_event(
        &only_production[0],
        ("production", None, Some("1.1.0")),
        LabelEventKind::Set,
        Some(ACTOR),
        "production's first move",
    );
    assert_eq!(
        only_production[1], history[3],
        "history filtered by label keeps the events as they are"
    );
    assert!(
        ok(
            store.label_history(&pid, Some(&label("never-set"))).await,
            "history of an unused label"
        )
        .is_empty(),
        "a label that never moved has an empty history"
    );

    // Label operations on a missing prompt.
    let missing = id("conformance/labels/missing");
    assert_prompt_not_found(store.labels(&missing).await, &missing, "labels of a missing prompt");
    assert_prompt_not_found(
        store.get_label(&missing, &production).await,
        &missing,
        "get_label of a missing prompt",
    );
    assert_prompt_not_found(
        store.label_history(&missing, None).await,
        &missing,
        "label history of a missing prompt",
    );
}

/// A label cannot point at a version that does not exist, nor be set on a missing prompt.
pub async fn label_to_missing_version_is_refused(store: &dyn Store) {
    const P: &str = "conformance/label-missing/";
    clean(store, P).await;
    let pid = id("conformance/label-missing/greeting");
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(&pid, "1.0.0", "one"), Expect::Absent)
            })
            .await,
        "creating",
    );
    let history = ok(store.label_history(&pid, None).await, "label history");
    let summary = ok(store.summary(&pid).await, "summary");

    for name in ["production", "staging"] {
        let err = refused(
            store
                .set_label(
                    &pid,
                    LabelChange {
                        label: label(name),
                        to: Some(version("9.9.9")),
                        expected: Expect::Any,
                        kind: LabelEventKind::Set,
                        actor: None,
                    },
                )
                .await,
            &format!("pointing {name} at a missing version"),
        );
        assert!(
            matches!(&err, Error::NotFound(NotFound::Version(p, v)) if *p == pid && *v == version("9.9.9")),
            "pointing {name} at a missing version: expected NotFound::Version, got {err:?}"
        );
    }
    assert_eq!(
        ok(store.summary(&pid).await, "summary"),
        summary,
        "refused label moves change no label"
    );
    assert_eq!(
        ok(store.label_history(&pid, None).await, "label history"),
        history,
        "refused label moves record nothing"
    );

    let missing = id("conformance/label-missing/missing");
    assert_prompt_not_found(
        store
            .set_label(
                &missing,
                LabelChange {
                    label: label("production"),
                    to: Some(version("1.0.0")),
                    expected: Expect::Any,
                    kind: LabelEventKind::Set,
                    actor: None,
                },
            )
            .await,
        &missing,
        "setting a label on a missing prompt",
    );
}

/// `list` filters by tags (of the latest version), status and id prefix, orders by id, and
/// pages so that every item comes exactly once whatever the page size.
pub async fn list_filters_and_pagination(store: &dyn Store) {
    const P: &str = "conformance/list/";
    clean(store, P).await;
    let fixtures: [(&str, &[&str], PromptStatus); 7] = [
        ("alpha", &["support"], PromptStatus::Draft),
        ("beta", &["support", "billing"], PromptStatus::Active),
        ("gamma", &["billing"], PromptStatus::Active),
        ("sub/delta", &["support"], PromptStatus::Deprecated),
        ("sub/epsilon", &[], PromptStatus::Draft),
        ("subway", &["support"], PromptStatus::Active),
        ("zeta", &["support"], PromptStatus::Active),
    ];
    // Created out of order: the listing must sort.
    for (name, tags, status) in fixtures.iter().rev() {
        let prompt = Prompt::text(format!("{P}{name}"), "x")
            .expect("valid id")
            .with_tags(tags.iter().copied());
        ok(
            store
                .save(SaveRequest {
                    status: *status,
                    ..save_request(versioned(prompt, "1.0.0"), Expect::Absent)
                })
                .await,
            &format!("creating {name}"),
        );
    }
    // Tags are those of the latest version: zeta loses `support`. The status of an update is ignored.
    ok(
        store
            .save(SaveRequest {
                status: PromptStatus::Archived,
                ..save_request(text_version(&format!("{P}zeta"), "1.1.0", "y"), Expect::Any)
            })
            .await,
        "updating zeta",
    );

    let full = |names: &[&str]| -> Vec<String> { names.iter().map(|n| format!("{P}{n}")).collect() };
    let query = |tags: &[&str], status: Option<PromptStatus>, prefix: &str| ListQuery {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        status,
        id_prefix: Some(prefix.to_owned()),
        ..ListQuery::default()
    };
    let everything = ["alpha", "beta", "gamma", "sub/delta", "sub/epsilon", "subway", "zeta"];
    let cases: [(&str, ListQuery, &[&str]); 7] = [
        ("everything", query(&[], None, P), &everything),
        (
            "tag support",
            query(&["support"], None, P),
            &["alpha", "beta", "sub/delta", "subway"],
        ),
        (
            "tags support and billing",
            query(&["support", "billing"], None, P),
            &["beta"],
        ),
        (
            "status active",
            query(&[], Some(PromptStatus::Active), P),
            &["beta", "gamma", "subway", "zeta"],
        ),
        (
            "status active and tag billing",
            query(&["billing"], Some(PromptStatus::Active), P),
            &["beta", "gamma"],
        ),
        (
            "prefix sub/",
            query(&[], None, &format!("{P}sub/")),
            &["sub/delta", "sub/epsilon"],
        ),
        ("an unknown tag", query(&["no-such-tag"], None, P), &[]),
    ];
    for (what, query, expected) in cases {
        let page = ok(store.list(&query).await, &format!("listing {what}"));
        assert_eq!(
            ids(&page.items),
            full(expected),
            "listing {what}: the ids, ordered by id"
        );
        assert_eq!(page.next_cursor, None, "listing {what} without a limit is one page");
        for summary in &page.items {
            assert_eq!(
                *summary,
                ok(store.summary(&summary.id).await, "summary"),
                "listing {what}: a listed summary equals summary()"
            );
        }
        for limit in 1..=expected.len() + 1 {
            let paged = collect_all(store, &query, limit).await;
            assert_eq!(
                ids(&paged),
                full(expected),
                "listing {what} with {limit} per page: every item exactly once, in order"
            );
        }
    }

    // The last full page says there is no more.
    let first = ok(
        store
            .list(&ListQuery {
                limit: Some(3),
                ..query(&["support"], None, P)
            })
            .await,
        "first page",
    );
    assert_eq!(ids(&first.items), full(&["alpha", "beta", "sub/delta"]));
    assert!(
        first.next_cursor.is_some(),
        "a page followed by more items has a cursor"
    );
    let second = ok(
        store
            .list(&ListQuery {
                limit: Some(3),
                cursor: first.next_cursor,
                ..query(&["support"], None, P)
            })
            .await,
        "second page",
    );
    assert_eq!(ids(&second.items), full(&["subway"]));
    assert_eq!(second.next_cursor, None, "the last page has no cursor");
    let exact = ok(
        store
            .list(&ListQuery {
                limit: Some(4),
                ..query(&["support"], None, P)
            })
            .await,
        "a page holding exactly the rest",
    );
    assert_eq!(exact.items.len(), 4);
    assert_eq!(
        exact.next_cursor, None,
        "a page that holds exactly the remaining items has no cursor"
    );
}

/// `delete` removes the prompt with its versions, labels and history, touches nothing else,
/// and a prompt created again under the same id starts afresh.
pub async fn delete_removes_everything(store: &dyn Store) {
    const P: &str = "conformance/delete/";
    clean(store, P).await;
    let pid = id("conformance/delete/greeting");
    let sibling = id("conformance/delete/greeting-2");
    for target in [&pid, &sibling] {
        ok(
            store
                .save(SaveRequest {
                    labels: labels(&["production"]),
                    status: PromptStatus::Active,
                    ..save_request(text_version(target, "1.0.0", "one"), Expect::Absent)
                })
                .await,
            "creating",
        );
        ok(
            store
                .save(SaveRequest {
                    labels: labels(&["production"]),
                    ..save_request(text_version(target, "1.1.0", "two"), Expect::Any)
                })
                .await,
            "updating",
        );
    }

    ok(store.delete(&pid).await, "deleting");
    assert!(
        !ok(store.exists(&pid).await, "exists"),
        "a deleted prompt does not exist"
    );
    assert_prompt_not_found(store.load(&pid, None).await, &pid, "loading a deleted prompt");
    assert_prompt_not_found(
        store.load(&pid, Some(&version("1.0.0"))).await,
        &pid,
        "loading a version of a deleted prompt",
    );
    assert_prompt_not_found(store.summary(&pid).await, &pid, "summary of a deleted prompt");
    assert_prompt_not_found(store.list_versions(&pid).await, &pid, "versions of a deleted prompt");
    assert_prompt_not_found(store.labels(&pid).await, &pid, "labels of a deleted prompt");
    assert_prompt_not_found(
        store.label_history(&pid, None).await,
        &pid,
        "label history of a deleted prompt",
    );
    assert_prompt_not_found(store.delete(&pid).await, &pid, "deleting a deleted prompt");
    let listed = ok(
        store
            .list(&ListQuery {
                id_prefix: Some(P.into()),
                ..ListQuery::default()
            })
            .await,
        "listing",
    );
    assert_eq!(
        ids(&listed.items),
        [sibling.to_string()],
        "a deleted prompt is not listed; its sibling is"
    );
    assert_eq!(
        ok(store.list_versions(&sibling).await, "sibling's versions").len(),
        2,
        "deleting a prompt does not touch another"
    );

    ok(
        store
            .save(save_request(text_version(&pid, "0.1.0", "again"), Expect::Absent))
            .await,
        "creating the deleted prompt again",
    );
    let summary = ok(store.summary(&pid).await, "summary");
    assert_eq!(summary.version_count, 1, "a recreated prompt has only its new version");
    assert_eq!(
        summary.status,
        PromptStatus::Draft,
        "a recreated prompt has its new status"
    );
    assert!(summary.labels.is_empty(), "a recreated prompt has no old labels");
    assert!(
        ok(store.label_history(&pid, None).await, "label history").is_empty(),
        "a recreated prompt has no old label history"
    );
}

/// `set_status` is a compare-and-set on the status; saves set the status of new prompts only.
pub async fn status_compare_and_set(store: &dyn Store) {
    const P: &str = "conformance/status/";
    clean(store, P).await;
    let pid = id("conformance/status/greeting");
    ok(
        store
            .save(save_request(text_version(&pid, "1.0.0", "one"), Expect::Absent))
            .await,
        "creating",
    );
    let created = ok(store.summary(&pid).await, "summary");
    assert_eq!(
        created.status,
        PromptStatus::Draft,
        "a new prompt has the status of its save request"
    );

    ok(
        store.set_status(&pid, PromptStatus::Active, PromptStatus::Draft).await,
        "activating",
    );
    let active = ok(store.summary(&pid).await, "summary");
    assert_eq!(active.status, PromptStatus::Active, "set_status changes the status");
    assert!(
        active.updated_at >= created.updated_at,
        "set_status does not move updated_at backwards"
    );

    let err = refused(
        store
            .set_status(&pid, PromptStatus::Deprecated, PromptStatus::Draft)
            .await,
        "set_status with a stale expected status",
    );
    assert!(
        matches!(&err, Error::InvalidStatusTransition { id, from: PromptStatus::Active, to: PromptStatus::Deprecated, .. } if *id == pid),
        "set_status with a stale expected status: expected InvalidStatusTransition from active, got {err:?}"
    );
    assert_eq!(
        ok(store.summary(&pid).await, "summary"),
        active,
        "a refused status change changes nothing"
    );

    ok(
        store
            .save(SaveRequest {
                status: PromptStatus::Archived,
                ..save_request(text_version(&pid, "1.1.0", "two"), Expect::Any)
            })
            .await,
        "updating",
    );
    assert_eq!(
        ok(store.summary(&pid).await, "summary").status,
        PromptStatus::Active,
        "the status of a save request is ignored for an existing prompt"
    );

    let born_active = id("conformance/status/born-active");
    ok(
        store
            .save(SaveRequest {
                status: PromptStatus::Active,
                ..save_request(text_version(&born_active, "1.0.0", "one"), Expect::Absent)
            })
            .await,
        "creating an active prompt",
    );
    assert_eq!(
        ok(store.summary(&born_active).await, "summary").status,
        PromptStatus::Active
    );

    let missing = id("conformance/status/missing");
    assert_prompt_not_found(
        store
            .set_status(&missing, PromptStatus::Active, PromptStatus::Draft)
            .await,
        &missing,
        "set_status on a missing prompt",
    );
}

/// `summary` reports status, the latest version's format, tags and description, the version
/// count, labels, and timestamps that are set on creation and move on writes.
pub async fn summary_fields(store: &dyn Store) {
    const P: &str = "conformance/summary/";
    clean(store, P).await;
    let pid = id("conformance/summary/greeting");
    let slack = Duration::seconds(1);
    let before: DateTime<Utc> = Utc::now();
    let prompt = Prompt::text(&pid, "Complete: {{ text }}")
        .expect("valid id")
        .with_format(PromptFormat::Completion)
        .with_description("First")
        .with_tags(["a", "b"]);
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(versioned(prompt, "1.0.0"), Expect::Absent)
            })
            .await,
        "creating",
    );
    let after = Utc::now();
    let first = ok(store.summary(&pid).await, "summary");
    assert_eq!(first.id, pid);
    assert_eq!(first.status, PromptStatus::Draft);
    assert_eq!(
        first.format,
        PromptFormat::Completion,
        "the format of the latest version"
    );
    assert_eq!(first.latest_version, version("1.0.0"));
    assert_eq!(first.version_count, 1);
    assert_eq!(first.labels, BTreeMap::from([(label("production"), version("1.0.0"))]));
    assert_eq!(first.tags, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    assert_eq!(first.description.as_deref(), Some("First"));
    assert!(
        first.created_at >= before - slack && first.created_at <= after + slack,
        "created_at ({}) is the time of the creation ({before} to {after})",
        first.created_at
    );
    assert!(
        first.updated_at >= first.created_at,
        "updated_at is not before created_at"
    );

    let chat = Prompt::chat(&pid, [ChatItem::message(Role::System, "You are {{ bot }}.")])
        .expect("valid id")
        .with_tags(["c"]);
    ok(
        store
            .save(save_request(
                versioned(chat, "2.0.0"),
                Expect::Version(version("1.0.0")),
            ))
            .await,
        "updating",
    );
    let second = ok(store.summary(&pid).await, "summary");
    assert_eq!(
        second.format,
        PromptFormat::Chat,
        "the format follows the latest version"
    );
    assert_eq!(second.latest_version, version("2.0.0"));
    assert_eq!(second.version_count, 2);
    assert_eq!(
        second.labels, first.labels,
        "a save without labels leaves the labels where they were"
    );
    assert_eq!(
        second.tags,
        BTreeSet::from(["c".to_owned()]),
        "tags follow the latest version"
    );
    assert_eq!(second.description, None, "the description follows the latest version");
    assert_eq!(second.created_at, first.created_at, "created_at does not change");
    assert!(
        second.updated_at >= first.updated_at,
        "updated_at moves forward on a save"
    );

    ok(
        store
            .set_label(
                &pid,
                LabelChange {
                    label: label("staging"),
                    to: Some(version("2.0.0")),
                    expected: Expect::Absent,
                    kind: LabelEventKind::Set,
                    actor: None,
                },
            )
            .await,
        "setting staging",
    );
    let third = ok(store.summary(&pid).await, "summary");
    assert_eq!(
        third.labels,
        BTreeMap::from([
            (label("production"), version("1.0.0")),
            (label("staging"), version("2.0.0"))
        ]),
        "summary lists every label"
    );
    assert!(
        third.updated_at >= second.updated_at,
        "updated_at moves forward on a label move"
    );

    let missing = id("conformance/summary/missing");
    assert_prompt_not_found(store.summary(&missing).await, &missing, "summary of a missing prompt");
}

/// `save_all` applies its requests in order, each seeing the ones before it; one refused request
/// refuses them all and leaves every prompt as it was.
pub async fn save_all_is_all_or_nothing(store: &dyn Store) {
    const P: &str = "conformance/save-all/";
    clean(store, P).await;
    let existing = id("conformance/save-all/existing");
    let fresh = id("conformance/save-all/fresh");
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(&existing, "1.0.0", "one"), Expect::Absent)
            })
            .await,
        "creating",
    );

    // A new prompt, a labelled update, and an update that expects `third_expects` as the latest.
    let batch = |third_expects: &str| {
        vec![
            SaveRequest {
                labels: labels(&["staging"]),
                ..save_request(text_version(&fresh, "1.0.0", "new"), Expect::Absent)
            },
            SaveRequest {
                labels: labels(&["production"]),
                ..save_request(
                    text_version(&existing, "1.1.0", "two"),
                    Expect::Version(version("1.0.0")),
                )
            },
            save_request(
                text_version(&existing, "1.2.0", "three"),
                Expect::Version(version(third_expects)),
            ),
        ]
    };

    // The third request conflicts (it expects 1.0.0, but the second made 1.1.0 the latest).
    let err = refused(
        store.save_all(batch("1.0.0")).await,
        "a batch whose last request conflicts",
    );
    assert!(
        matches!(&err, Error::VersionConflict { id, .. } if *id == existing),
        "a batch whose last request conflicts: expected VersionConflict on {existing}, got {err:?}"
    );
    assert!(
        !ok(store.exists(&fresh).await, "exists"),
        "a refused batch creates no prompt"
    );
    let versions = ok(store.list_versions(&existing).await, "versions");
    assert_eq!(versions.len(), 1, "a refused batch adds no version: {versions:?}");
    assert_eq!(
        ok(store.get_label(&existing, &label("production")).await, "label"),
        version("1.0.0"),
        "a refused batch moves no label"
    );
    assert_eq!(
        ok(store.label_history(&existing, None).await, "history").len(),
        1,
        "a refused batch records no label event"
    );

    // The same batch, made consistent, is applied in order.
    let events = ok(store.save_all(batch("1.1.0")).await, "a consistent batch");
    assert_eq!(events.len(), 2, "one event per label set: {events:?}");
    assert_event(
        &events[1],
        ("production", Some("1.0.0"), Some("1.1.0")),
        LabelEventKind::Set,
        Some(ACTOR),
        "the batch's production move",
    );
    assert_eq!(
        ok(store.load(&existing, None).await, "latest").version,
        version("1.2.0"),
        "later requests see earlier ones"
    );
    assert_eq!(
        ok(store.get_label(&fresh, &label("staging")).await, "label"),
        version("1.0.0")
    );
    assert!(
        ok(store.save_all(Vec::new()).await, "an empty batch").is_empty(),
        "an empty batch records nothing"
    );
}

/// Listing order is Rust's byte order of ids, and prefixes and cursors are taken literally:
/// `_` and `%` are no wildcards (as they would be in SQL `LIKE`), case matters, and a cursor or
/// prefix that no id could hold (uppercase, a NUL) is still answered.
pub async fn listing_is_literal_and_in_byte_order(store: &dyn Store) {
    const P: &str = "conformance/literal/";
    clean(store, P).await;
    let names = ["a_b/x", "a_b/y", "axb/z", "a-b/w", "a.b/v", "a_c", "ab", "a0", "a/b"];
    for name in names {
        ok(
            store
                .save(save_request(
                    text_version(&format!("{P}{name}"), "1.0.0", "x"),
                    Expect::Absent,
                ))
                .await,
            "creating",
        );
    }
    let list = |prefix: &str, cursor: Option<&str>| {
        let query = ListQuery {
            id_prefix: Some(format!("{P}{prefix}")),
            cursor: cursor.map(|c| format!("{P}{c}")),
            ..ListQuery::default()
        };
        async move {
            let page = ok(store.list(&query).await, "listing");
            page.items
                .into_iter()
                .map(|s| s.id.as_str().trim_start_matches(P).to_owned())
                .collect::<Vec<_>>()
        }
    };
    let mut sorted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    sorted.sort();
    assert_eq!(list("", None).await, sorted, "ids are listed in Rust's (byte) order");
    assert_eq!(list("a_b/", None).await, ["a_b/x", "a_b/y"], "`_` is no wildcard");
    assert!(list("a%", None).await.is_empty(), "`%` is no wildcard");
    assert_eq!(list("a-", None).await, ["a-b/w"]);
    assert!(list("A_B/", None).await.is_empty(), "prefixes are case-sensitive");
    assert_eq!(list("a_b/", Some("a_b/x")).await, ["a_b/y"], "after a cursor");
    assert_eq!(list("a_b/", Some("a_b/x\0zzz")).await, ["a_b/y"], "a NUL in a cursor");
    assert!(list("a\0", None).await.is_empty(), "a NUL in a prefix");
    let before_everything = ListQuery {
        id_prefix: Some(format!("{P}a_b/")),
        cursor: Some("A not an id".into()),
        ..ListQuery::default()
    };
    let ids: Vec<String> = ok(store.list(&before_everything).await, "listing")
        .items
        .into_iter()
        .map(|s| s.id.as_str().trim_start_matches(P).to_owned())
        .collect();
    assert_eq!(
        ids,
        ["a_b/x", "a_b/y"],
        "a cursor before the prefix starts at the prefix"
    );
}

/// A save whose recorded content hash does not match its content is refused before anything is
/// written: every backend checks the hash when it loads a version, so it could never be read.
pub async fn save_with_wrong_content_hash_is_refused(store: &dyn Store) {
    const P: &str = "conformance/wrong-hash/";
    clean(store, P).await;
    let pid = id("conformance/wrong-hash/greeting");
    let mut bad = text_version(&pid, "1.0.0", "Hello");
    bad.content_hash = text_version(&pid, "1.0.0", "Something else").content_hash;
    let err = refused(
        store.save(save_request(bad.clone(), Expect::Absent)).await,
        "creating a version with another content's hash",
    );
    assert!(
        matches!(&err, Error::InvalidPrompt { .. }),
        "creating a version with another content's hash: expected InvalidPrompt, got {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&bad.content_hash.0) && text.contains(&bad.prompt.content_hash().0),
        "the refusal names both hashes: {text}"
    );
    assert_prompt_not_found(store.load(&pid, None).await, &pid, "loading after the refusal");

    let good = text_version(&pid, "1.0.0", "Hello");
    ok(store.save(save_request(good, Expect::Absent)).await, "creating");
    let mut bad = text_version(&pid, "1.1.0", "Hello again");
    bad.content_hash = ContentHash("sha256:0000".into());
    refused(
        store.save(save_request(bad, Expect::Version(version("1.0.0")))).await,
        "updating with a wrong hash",
    );
    assert_eq!(
        ok(store.load(&pid, None).await, "loading after the refusal").version,
        version("1.0.0"),
        "a refused save must not add a version"
    );
}

/// What [`tampered_version_is_refused`] sets up and asks the backend's tamper function to change.
#[derive(Debug, Clone)]
pub struct Tamper {
    /// The prompt whose version to change.
    pub id: PromptId,
    /// The version to change behind the store's back.
    pub version: Version,
    /// The version as saved.
    pub saved: PromptVersion,
    /// The template to put in the stored prompt instead of the saved one.
    pub template: String,
}

impl Tamper {
    /// The saved prompt with [`template`](Tamper::template) in place of its own: what a
    /// backend that stores prompts as rows writes over the saved one.
    pub fn changed_prompt(&self) -> Prompt {
        let mut prompt = self.saved.prompt.clone();
        prompt.template = prompt_manager_core::Template::Text(self.template.clone());
        prompt
    }
}

/// A version changed behind the store's back — a hand-edited file, an `UPDATE` of its row — is
/// refused when loaded, with [`Error::ContentHashMismatch`] naming the place and both hashes;
/// the prompt's other versions, its history and labels, the listing and other prompts still
/// load.
///
/// `tamper` changes the stored prompt of [`Tamper::version`] so that its template is
/// [`Tamper::template`] (leaving the recorded hash as it is) and returns the text the error's
/// location must contain: the file, or the table and row.
pub async fn tampered_version_is_refused<F, Fut>(store: &dyn Store, tamper: F)
where
    F: FnOnce(Tamper) -> Fut,
    Fut: Future<Output = String>,
{
    const P: &str = "conformance/tampered/";
    clean(store, P).await;
    let pid = id("conformance/tampered/greeting");
    let other = id("conformance/tampered/other");
    ok(
        store
            .save(save_request(
                text_version(&pid, "1.0.0", "Hello {{ name }}"),
                Expect::Absent,
            ))
            .await,
        "creating",
    );
    let saved = text_version(&pid, "2.0.0", "Hello {{ name }}!");
    let mut second = save_request(saved.clone(), Expect::Version(version("1.0.0")));
    second.labels = labels(&["production"]);
    ok(store.save(second).await, "adding 2.0.0");
    ok(
        store
            .save(save_request(text_version(&other, "1.0.0", "Bye"), Expect::Absent))
            .await,
        "creating another prompt",
    );

    let template = "Hello {{ name }}, edited by hand".to_owned();
    let expected_actual = Prompt::text(pid.as_str(), &template).expect("valid").content_hash();
    let place = tamper(Tamper {
        id: pid.clone(),
        version: version("2.0.0"),
        saved: saved.clone(),
        template,
    })
    .await;

    for (what, number) in [
        ("the tampered version", Some(version("2.0.0"))),
        ("the latest version", None),
    ] {
        let err = refused(store.load(&pid, number.as_ref()).await, &format!("loading {what}"));
        match &err {
            Error::ContentHashMismatch(m) => {
                assert_eq!(m.id, pid, "loading {what}: the error's prompt");
                assert_eq!(m.version, version("2.0.0"), "loading {what}: the error's version");
                assert!(
                    m.location.contains(&place),
                    "loading {what}: `{}` should name `{place}`",
                    m.location
                );
                assert_eq!(m.expected, saved.content_hash, "loading {what}: the recorded hash");
                assert_eq!(m.actual, expected_actual, "loading {what}: the hash of the content");
            }
            other => panic!("loading {what}: expected ContentHashMismatch, got {other:?}"),
        }
        let text = err.to_string();
        for part in [place.as_str(), &saved.content_hash.0, &expected_actual.0] {
            assert!(
                text.contains(part),
                "loading {what}: the message should name `{part}`: {text}"
            );
        }
    }

    assert_eq!(
        ok(store.load(&pid, Some(&version("1.0.0"))).await, "loading 1.0.0")
            .prompt
            .template
            .sources(),
        ["Hello {{ name }}"],
        "the untouched version still loads"
    );
    ok(store.load(&other, None).await, "loading another prompt");
    let history = ok(store.list_versions(&pid).await, "listing the versions");
    assert_eq!(history.len(), 2, "the history still lists both versions: {history:?}");
    assert_eq!(
        ok(store.labels(&pid).await, "reading the labels").get(&label("production")),
        Some(&version("2.0.0"))
    );
    let listed = collect_all(
        store,
        &ListQuery {
            id_prefix: Some(P.into()),
            ..ListQuery::default()
        },
        10,
    )
    .await;
    assert_eq!(
        ids(&listed),
        ["conformance/tampered/greeting", "conformance/tampered/other"],
        "the listing still shows every prompt"
    );
}

/// Issue 12, item 6: a filter of a thousand tags was a 503 on SQLite ("Expression tree is too
/// large"). Filters out of bounds are [`Error::InvalidQuery`] on every store; within bounds, the
/// most tags a query may name, and a tag repeated a thousand times, are answered.
pub async fn long_filters_are_refused_and_many_tags_are_one_query(store: &dyn Store) {
    const P: &str = "conformance/long-filter/";
    clean(store, P).await;
    let all: Vec<String> = (0..MAX_FILTER_TAGS).map(|i| format!("t{i}")).collect();
    let everything = Prompt::text(format!("{P}everything"), "x")
        .expect("valid id")
        .with_tags(all.iter().cloned());
    let some = Prompt::text(format!("{P}some"), "x")
        .expect("valid id")
        .with_tags(all.iter().take(3).cloned());
    for prompt in [everything, some] {
        ok(
            store
                .save(save_request(versioned(prompt, "1.0.0"), Expect::Absent))
                .await,
            "creating a tagged prompt",
        );
    }
    let listed = |tags: Vec<String>| {
        let query = ListQuery {
            tags,
            id_prefix: Some(P.into()),
            ..ListQuery::default()
        };
        async move { store.list(&query).await.map(|page| ids(&page.items)) }
    };

    let thousand: Vec<String> = (0..1000).map(|i| format!("t{i}")).collect();
    let err = refused(listed(thousand).await, "listing with a thousand tags");
    assert!(
        matches!(err, Error::InvalidQuery { .. }) && err.kind() == ErrorKind::InvalidInput,
        "a thousand tags: expected an invalid query, got {err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("at most {MAX_FILTER_TAGS} distinct tags")),
        "{err}"
    );
    let long_tag = "t".repeat(MAX_TAG_LEN + 1);
    let err = refused(listed(vec![long_tag]).await, "listing with an overlong tag");
    assert!(matches!(err, Error::InvalidQuery { .. }), "an overlong tag: {err:?}");
    for (prefix, cursor) in [
        (Some("p".repeat(MAX_ID_LEN + 1)), None),
        (None, Some("c".repeat(MAX_ID_LEN + 1))),
    ] {
        let query = ListQuery {
            id_prefix: prefix,
            cursor,
            ..ListQuery::default()
        };
        let err = refused(store.list(&query).await, "listing with an overlong prefix or cursor");
        assert!(
            matches!(err, Error::InvalidQuery { .. }),
            "an overlong prefix or cursor: {err:?}"
        );
    }

    let full = format!("{P}everything");
    assert_eq!(
        ok(listed(all.clone()).await, "listing with the most tags a query may name"),
        std::slice::from_ref(&full),
        "{MAX_FILTER_TAGS} tags: only the prompt that has every one"
    );
    assert_eq!(
        ok(
            listed(vec!["t1".into(); 1000]).await,
            "listing with one tag named a thousand times"
        ),
        [full.clone(), format!("{P}some")],
        "a repeated tag counts once"
    );
    let mut missing = all[..MAX_FILTER_TAGS - 1].to_vec();
    missing.push("absent".into());
    assert!(
        ok(listed(missing).await, "listing with a tag nobody has").is_empty(),
        "every tag must match"
    );
}

/// Issue 12, item 9: SQLite accepted `a/1.0.0.yaml`, which a folder store (and an export to a
/// folder) cannot hold. The core's id grammar refuses it for every store, and every store holds
/// the ids that come closest to its files' names.
pub async fn ids_like_store_files_are_held_or_refused_alike(store: &dyn Store) {
    const P: &str = "conformance/file-like-ids/";
    clean(store, P).await;
    for bad in ["a/1.0.0.yaml", "_labels.yaml", "a/x.yaml", "p.yaml/child"] {
        let err = PromptId::new(format!("{P}{bad}")).expect_err(bad);
        assert!(
            matches!(err, Error::InvalidId { .. }) && err.to_string().contains(".yaml`"),
            "`{bad}` must be an invalid id quoting its segment: {err}"
        );
    }
    // A prompt and, below it, prompts named like its files without being them.
    let names = [
        "p",
        "p/1.0.0",
        "p/1.0.0/deeper",
        "p/labels",
        "p/1.0.0.yml",
        "p/x.yaml.bak",
        "p/yaml",
        "p/2.0.0-rc.1",
    ];
    for name in names {
        ok(
            store
                .save(save_request(
                    text_version(&format!("{P}{name}"), "1.0.0", name),
                    Expect::Absent,
                ))
                .await,
            &format!("creating `{P}{name}`"),
        );
    }
    for name in names {
        let pid = id(&format!("{P}{name}"));
        let loaded = ok(store.load(&pid, None).await, &format!("loading `{pid}`"));
        assert_eq!(
            loaded.prompt.template,
            text_version(&pid, "1.0.0", name).prompt.template,
            "{pid}"
        );
        assert_eq!(
            ok(store.list_versions(&pid).await, "listing versions").len(),
            1,
            "`{pid}` has exactly its own version"
        );
    }
    let listed = collect_all(
        store,
        &ListQuery {
            id_prefix: Some(P.into()),
            ..ListQuery::default()
        },
        3,
    )
    .await;
    let mut expected: Vec<String> = names.iter().map(|n| format!("{P}{n}")).collect();
    expected.sort();
    assert_eq!(ids(&listed), expected, "every file-like id is listed, once");
}
