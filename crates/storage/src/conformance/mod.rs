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
//! they share, no backend. The checks are grouped by area, one file each: `saves`, `labels`,
//! `listing`, `lifecycle` (status and deletion), `integrity` (tampered versions), `audit` (the
//! audit log and its chain), `protection` (protected labels), `resolve` (references),
//! `search` (the search and label filters of a listing) and `splits` (A/B splits of labels); all
//! are re-exported here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    Authority, ChatItem, ContentHash, DeleteRequest, Error, ErrorKind, Expect, LabelChange, LabelEvent, LabelEventKind,
    LabelName, ListQuery, MAX_FILTER_TAGS, MAX_ID_LEN, MAX_TAG_LEN, NotFound, Prompt, PromptFormat, PromptId,
    PromptStatus, PromptSummary, PromptVersion, Result, Role, SaveRequest, StatusChange, Store,
};

mod audit;
mod integrity;
mod labels;
mod lifecycle;
mod listing;
mod protection;
mod resolve;
mod saves;
mod search;
mod splits;

pub use audit::*;
pub use integrity::*;
pub use labels::*;
pub use lifecycle::*;
pub use listing::*;
pub use protection::*;
pub use resolve::*;
pub use saves::*;
pub use search::*;
pub use splits::*;

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
    every_write_is_audited(store).await;
    refused_writes_append_nothing(store).await;
    external_events_are_appended_and_others_refused(store).await;
    audit_queries_filter_page_and_are_bounded(store).await;
    protected_labels_need_an_administrator(store).await;
    protection_survives_reads_and_goes_with_the_prompt(store).await;
    references_resolve_as_the_reads_say(store).await;
    the_audit_chain_verifies(store).await;
    list_search_and_label_filters(store).await;
    search_pages_over_many_prompts(store).await;
    long_search_is_refused(store).await;
    splits_are_set_read_and_ended(store).await;
    refused_splits_change_nothing(store).await;
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
        authority: Authority::User,
    }
}

/// A status change from `expected` to `status` by [`ACTOR`].
pub fn status_change(status: PromptStatus, expected: PromptStatus) -> StatusChange {
    StatusChange {
        status,
        expected,
        actor: Some(ACTOR.into()),
    }
}

/// A deletion by [`ACTOR`].
pub fn deletion() -> DeleteRequest {
    DeleteRequest {
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
            .delete(&summary.id, deletion())
            .await
            .unwrap_or_else(|e| panic!("cleaning up `{}` before the check: {e}", summary.id));
    }
}

pub(crate) fn version(s: &str) -> Version {
    Version::parse(s).expect("the test version is valid semver")
}

pub(crate) fn id(s: &str) -> PromptId {
    PromptId::new(s).expect("the test id is valid")
}

pub(crate) fn label(s: &str) -> LabelName {
    LabelName::new(s).expect("the test label is valid")
}

pub(crate) fn labels(names: &[&str]) -> Vec<LabelName> {
    names.iter().map(|n| label(n)).collect()
}

/// Unwraps `result` or panics naming what was being done (at the caller's line).
#[track_caller]
pub(crate) fn ok<T>(result: Result<T>, doing: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{doing}: the store failed with {e} ({e:?})"),
    }
}

/// The error of `result`, or a panic saying what should have been refused.
#[track_caller]
pub(crate) fn refused<T: Debug>(result: Result<T>, doing: &str) -> Error {
    match result {
        Ok(value) => panic!("{doing}: should have been refused, but the store returned Ok({value:?})"),
        Err(e) => e,
    }
}

#[track_caller]
pub(crate) fn assert_prompt_not_found<T: Debug>(result: Result<T>, missing: &PromptId, doing: &str) {
    let err = refused(result, doing);
    assert!(
        matches!(&err, Error::NotFound(NotFound::Prompt(p)) if p == missing),
        "{doing}: expected NotFound::Prompt({missing}), got {err:?}"
    );
}

#[track_caller]
pub(crate) fn assert_event(
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

pub(crate) fn ids(summaries: &[PromptSummary]) -> Vec<String> {
    summaries.iter().map(|s| s.id.to_string()).collect()
}

/// Pages through `query` with `limit` per page, checking the paging contract on the way.
pub(crate) async fn collect_all(store: &dyn Store, query: &ListQuery, limit: usize) -> Vec<PromptSummary> {
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
