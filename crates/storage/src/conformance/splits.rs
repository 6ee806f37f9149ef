//! A/B splits of labels (`VersionStore::assign_label`): setting, reading back (summary,
//! resolve, history, audit), compare-and-set against a split, ending a test with `set_label`,
//! rolling back to a split, saves over a split, protection, and refusals that change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager_core::{AssignmentChange, AuditAction, ExpectTarget, LabelTarget, PromptRef, Split};

use super::*;

/// A split from `1.0.0=90 1.1.0=10`-style text.
pub fn split(text: &str) -> Split {
    text.parse().expect("the test split is valid")
}

fn assign(name: &str, to: Option<LabelTarget>, expected: ExpectTarget, kind: LabelEventKind) -> AssignmentChange {
    AssignmentChange {
        label: label(name),
        to,
        expected,
        kind,
        actor: Some(ACTOR.into()),
        authority: Authority::User,
    }
}

async fn prompt_with_three_versions(store: &dyn Store, pid: &PromptId) {
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(pid, "1.0.0", "one"), Expect::Absent)
            })
            .await,
        "creating",
    );
    for (number, previous) in [("1.1.0", "1.0.0"), ("1.2.0", "1.1.0")] {
        ok(
            store
                .save(save_request(
                    text_version(pid, number, number),
                    Expect::Version(version(previous)),
                ))
                .await,
            "adding a version",
        );
    }
}

/// A split is set, read back everywhere (summary, resolve, history, audit), compared against,
/// changed, ended with `set_label`, rolled back to, and dropped by a save that moves the label.
pub async fn splits_are_set_read_and_ended(store: &dyn Store) {
    const P: &str = "conformance/splits/";
    clean(store, P).await;
    let pid = id("conformance/splits/triage");
    prompt_with_three_versions(store, &pid).await;
    let production = label("production");
    let ab = split("1.0.0=90 1.1.0=10");
    let head = audit_head(store).await;

    // Setting a split, compare-and-set on the one version the label pointed at.
    let event = ok(
        store
            .assign_label(
                &pid,
                assign(
                    "production",
                    Some(LabelTarget::Split(ab.clone())),
                    ExpectTarget::Is(LabelTarget::Version(version("1.0.0"))),
                    LabelEventKind::Set,
                ),
            )
            .await,
        "setting a split",
    )
    .expect("the label changed");
    assert_event(
        &event,
        ("production", Some("1.0.0"), Some("1.0.0")),
        LabelEventKind::Set,
        Some(ACTOR),
        "setting a split",
    );
    assert_eq!(event.from_split, None, "it was one version");
    assert_eq!(event.to_split.as_ref(), Some(&ab), "the event records the split");

    let summary = ok(store.summary(&pid).await, "summary");
    assert_eq!(
        summary.splits.get(&production),
        Some(&ab),
        "the summary shows the split"
    );
    assert_eq!(
        summary.labels.get(&production),
        Some(&version("1.0.0")),
        "labels show the primary"
    );
    let resolved = ok(
        store
            .resolve(&PromptRef::parse("conformance/splits/triage@production").unwrap())
            .await,
        "resolving the split label",
    );
    assert_eq!(resolved.split.as_ref(), Some(&ab), "resolve returns the split");
    assert_eq!(resolved.version.version, version("1.0.0"), "and the primary version");
    let latest = ok(
        store
            .resolve(&PromptRef::parse("conformance/splits/triage").unwrap())
            .await,
        "latest",
    );
    assert_eq!(latest.split, None, "a reference without a label has no split");

    let entries = audit_after(store, head).await;
    let last = entries.last().expect("an audit entry");
    assert_eq!(
        last.action,
        AuditAction::LabelSplit,
        "a split is audited as label_split"
    );
    assert_eq!(last.label.as_ref(), Some(&production));
    assert_eq!(last.before, Some(serde_json::json!({"version": "1.0.0"})));
    assert_eq!(
        last.after,
        Some(serde_json::json!({"version": "1.0.0", "split": [
            {"version": "1.0.0", "weight": 90}, {"version": "1.1.0", "weight": 10}
        ]}))
    );

    // The same split again changes nothing; a stale expectation is a conflict.
    let same = assign(
        "production",
        Some(LabelTarget::Split(ab.clone())),
        ExpectTarget::Any,
        LabelEventKind::Set,
    );
    assert_eq!(ok(store.assign_label(&pid, same).await, "the same split"), None);
    let ab2 = split("1.0.0=80 1.1.0=20");
    let stale = assign(
        "production",
        Some(LabelTarget::Split(ab2.clone())),
        ExpectTarget::Is(LabelTarget::Version(version("1.0.0"))),
        LabelEventKind::Set,
    );
    let err = refused(
        store.assign_label(&pid, stale).await,
        "a split expected to be one version",
    );
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let plain_cas = LabelChange {
        label: production.clone(),
        to: Some(version("1.2.0")),
        expected: Expect::Version(version("1.0.0")),
        kind: LabelEventKind::Set,
        actor: Some(ACTOR.into()),
        authority: Authority::User,
    };
    let err = refused(
        store.set_label(&pid, plain_cas).await,
        "set_label expecting the primary",
    );
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "a split never matches a version: {err}"
    );

    // Changing the weights, compare-and-set on the split.
    let event = ok(
        store
            .assign_label(
                &pid,
                assign(
                    "production",
                    Some(LabelTarget::Split(ab2.clone())),
                    ExpectTarget::Is(LabelTarget::Split(ab.clone())),
                    LabelEventKind::Set,
                ),
            )
            .await,
        "changing the weights",
    )
    .expect("changed");
    assert_eq!(
        (event.from_split.as_ref(), event.to_split.as_ref()),
        (Some(&ab), Some(&ab2))
    );

    // Ending the test: set_label points the label at one version.
    let event = ok(
        store
            .set_label(
                &pid,
                LabelChange {
                    label: production.clone(),
                    to: Some(version("1.1.0")),
                    expected: Expect::Any,
                    kind: LabelEventKind::Set,
                    actor: Some(ACTOR.into()),
                    authority: Authority::User,
                },
            )
            .await,
        "ending the test",
    )
    .expect("changed");
    assert_eq!((event.from_split.as_ref(), event.to_split.as_ref()), (Some(&ab2), None));
    let summary = ok(store.summary(&pid).await, "summary");
    assert!(summary.splits.is_empty(), "no split left: {:?}", summary.splits);
    assert_eq!(summary.labels.get(&production), Some(&version("1.1.0")));
    let last = audit_after(store, head).await.pop().expect("an entry");
    assert_eq!(last.action, AuditAction::LabelSet);
    assert!(
        last.before.as_ref().and_then(|b| b.get("split")).is_some(),
        "ending a test records the split it ended: {last:?}"
    );

    // Rolling back restores the split.
    let event = ok(
        store
            .assign_label(
                &pid,
                assign(
                    "production",
                    Some(LabelTarget::Split(ab2.clone())),
                    ExpectTarget::Is(LabelTarget::Version(version("1.1.0"))),
                    LabelEventKind::Rollback,
                ),
            )
            .await,
        "rolling back to the split",
    )
    .expect("changed");
    assert_eq!(event.kind, LabelEventKind::Rollback);
    assert_eq!(
        ok(store.summary(&pid).await, "summary").splits.get(&production),
        Some(&ab2)
    );
    let last = audit_after(store, head).await.pop().expect("an entry");
    assert_eq!(last.action, AuditAction::LabelRolledBack);

    // The history has every change, with its splits, oldest first.
    let history = ok(store.label_history(&pid, Some(&production)).await, "history");
    let targets: Vec<_> = history.iter().map(|e| e.to_target()).collect();
    assert_eq!(
        targets,
        vec![
            Some(LabelTarget::Version(version("1.0.0"))),
            Some(LabelTarget::Split(ab.clone())),
            Some(LabelTarget::Split(ab2.clone())),
            Some(LabelTarget::Version(version("1.1.0"))),
            Some(LabelTarget::Split(ab2.clone())),
        ],
        "history: {history:?}"
    );

    // A save that moves the label makes it one version again.
    let events = ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(&pid, "1.3.0", "four"), Expect::Version(version("1.2.0")))
            })
            .await,
        "saving over a split label",
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].from_split.as_ref(), Some(&ab2), "the save ends the split");
    let summary = ok(store.summary(&pid).await, "summary");
    assert!(summary.splits.is_empty());
    assert_eq!(summary.labels.get(&production), Some(&version("1.3.0")));

    // Removing a split label records the split it removed; deleting the prompt removes all.
    ok(
        store
            .assign_label(
                &pid,
                assign(
                    "production",
                    Some(LabelTarget::Split(ab.clone())),
                    ExpectTarget::Any,
                    LabelEventKind::Set,
                ),
            )
            .await,
        "splitting again",
    );
    let event = ok(
        store
            .assign_label(
                &pid,
                assign("production", None, ExpectTarget::Any, LabelEventKind::Remove),
            )
            .await,
        "removing the split label",
    )
    .expect("changed");
    assert_eq!((event.from_split.as_ref(), event.to), (Some(&ab), None));
    assert!(ok(store.summary(&pid).await, "summary").splits.is_empty());
    ok(store.delete(&pid, deletion()).await, "deleting");
}

/// Refused splits change nothing: a missing version, a protected label without an
/// administrator, a prompt that does not exist.
pub async fn refused_splits_change_nothing(store: &dyn Store) {
    const P: &str = "conformance/splits-refused/";
    clean(store, P).await;
    let pid = id("conformance/splits-refused/triage");
    prompt_with_three_versions(store, &pid).await;
    let before = ok(store.summary(&pid).await, "summary");
    let history = ok(store.label_history(&pid, None).await, "history");
    let head = audit_head(store).await;

    let missing = assign(
        "production",
        Some(LabelTarget::Split(split("1.0.0=50 9.9.9=50"))),
        ExpectTarget::Any,
        LabelEventKind::Set,
    );
    let err = refused(
        store.assign_label(&pid, missing).await,
        "a split with a missing version",
    );
    assert!(
        matches!(&err, Error::NotFound(NotFound::Version(p, v)) if *p == pid && *v == version("9.9.9")),
        "expected NotFound::Version(9.9.9), got {err:?}"
    );

    ok(
        store
            .set_protection(
                &pid,
                prompt_manager_core::ProtectionChange {
                    label: label("production"),
                    protected: true,
                    authority: Authority::User,
                    actor: Some(ACTOR.into()),
                },
            )
            .await,
        "protecting",
    );
    let head_protected = audit_head(store).await;
    let user = assign(
        "production",
        Some(LabelTarget::Split(split("1.0.0=50 1.1.0=50"))),
        ExpectTarget::Any,
        LabelEventKind::Set,
    );
    let err = refused(
        store.assign_label(&pid, user.clone()).await,
        "a split of a protected label",
    );
    assert!(matches!(err, Error::LabelProtected { .. }), "{err:?}");
    let absent = refused(
        store
            .assign_label(&id("conformance/splits-refused/none"), user.clone())
            .await,
        "a split on a missing prompt",
    );
    assert!(matches!(absent, Error::NotFound(NotFound::Prompt(_))), "{absent:?}");

    let after = ok(store.summary(&pid).await, "summary");
    assert_eq!(
        (&after.labels, &after.splits),
        (&before.labels, &before.splits),
        "refusals change nothing"
    );
    assert_eq!(ok(store.label_history(&pid, None).await, "history"), history);
    assert_eq!(head_protected, head + 1, "only the protection was audited");
    assert_eq!(audit_head(store).await, head_protected, "refusals append nothing");

    // An administrator may split a protected label.
    let admin = AssignmentChange {
        authority: Authority::Admin,
        ..user
    };
    ok(store.assign_label(&pid, admin).await, "an administrator's split").expect("changed");
    ok(store.delete(&pid, deletion()).await, "deleting");
}
