//! The lifecycle of a prompt: status changes (compare-and-set) and deletion.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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

    ok(store.delete(&pid, deletion()).await, "deleting");
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
    assert_prompt_not_found(store.delete(&pid, deletion()).await, &pid, "deleting a deleted prompt");
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
        store
            .set_status(&pid, status_change(PromptStatus::Active, PromptStatus::Draft))
            .await,
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
            .set_status(&pid, status_change(PromptStatus::Deprecated, PromptStatus::Draft))
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
            .set_status(&missing, status_change(PromptStatus::Active, PromptStatus::Draft))
            .await,
        &missing,
        "set_status on a missing prompt",
    );
}
