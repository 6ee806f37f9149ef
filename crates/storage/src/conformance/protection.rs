//! Protected labels: moving, removing or rolling back a protected label — by `set_label` or
//! through a save — needs an administrator, refused atomically otherwise; a label may be
//! protected before it is set; lifting a protection needs an administrator; an override
//! (`Authority::Forced`) is recorded in the audit log; protections show in summaries and go
//! with the prompt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager_core::{AuditAction, ProtectionChange};

use super::audit::{audit_after, audit_head};
use super::*;

fn protection(name: &str, protected: bool, authority: Authority) -> ProtectionChange {
    ProtectionChange {
        label: label(name),
        protected,
        authority,
        actor: Some(ACTOR.into()),
    }
}

fn moving(name: &str, to: Option<&str>, kind: LabelEventKind, authority: Authority) -> LabelChange {
    LabelChange {
        label: label(name),
        to: to.map(version),
        expected: Expect::Any,
        kind,
        actor: Some(ACTOR.into()),
        authority,
    }
}

#[track_caller]
fn assert_protected(err: Error, pid: &PromptId, name: &str, doing: &str) {
    assert!(
        matches!(&err, Error::LabelProtected { id, label } if id == pid && label.as_str() == name),
        "{doing}: expected LabelProtected for {name} of {pid}, got {err:?}"
    );
    assert_eq!(err.code(), "label_protected", "{doing}");
}

/// Without an administrator, a protected label cannot be moved, rolled back, removed, set by a
/// save (alone or in a batch) or unprotected, and each refusal changes nothing; an
/// administrator can, and an override is recorded as forced.
pub async fn protected_labels_need_an_administrator(store: &dyn Store) {
    let prefix = "conformance/protection/";
    clean(store, prefix).await;
    let pid = id("conformance/protection/a");
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(pid.as_str(), "1.0.0", "one"), Expect::Absent)
            })
            .await,
        "creating",
    );
    ok(
        store
            .save(save_request(
                text_version(pid.as_str(), "1.1.0", "two"),
                Expect::Version(version("1.0.0")),
            ))
            .await,
        "updating",
    );
    assert!(ok(
        store
            .set_protection(&pid, protection("production", true, Authority::User))
            .await,
        "protecting"
    ));
    assert!(
        !ok(
            store
                .set_protection(&pid, protection("production", true, Authority::User))
                .await,
            "protecting twice"
        ),
        "protecting a protected label changes nothing"
    );
    let summary = ok(store.summary(&pid).await, "reading the summary");
    assert_eq!(
        summary.protected,
        BTreeSet::from([label("production")]),
        "the summary shows the protection"
    );
    let history = ok(store.label_history(&pid, None).await, "reading the history");
    let head = audit_head(store).await;

    for (doing, change) in [
        (
            "moving",
            moving("production", Some("1.1.0"), LabelEventKind::Set, Authority::User),
        ),
        (
            "rolling back",
            moving("production", Some("1.1.0"), LabelEventKind::Rollback, Authority::User),
        ),
        (
            "removing",
            moving("production", None, LabelEventKind::Remove, Authority::User),
        ),
    ] {
        let err = refused(store.set_label(&pid, change).await, doing);
        assert_protected(err, &pid, "production", doing);
    }
    let err = refused(
        store
            .save(SaveRequest {
                labels: labels(&["staging", "production"]),
                ..save_request(
                    text_version(pid.as_str(), "1.2.0", "three"),
                    Expect::Version(version("1.1.0")),
                )
            })
            .await,
        "a save setting a protected label",
    );
    assert_protected(err, &pid, "production", "a save setting a protected label");
    let err = refused(
        store
            .save_all(vec![
                save_request(
                    text_version("conformance/protection/other", "1.0.0", "x"),
                    Expect::Absent,
                ),
                SaveRequest {
                    labels: labels(&["production"]),
                    ..save_request(text_version(pid.as_str(), "1.2.0", "three"), Expect::Any)
                },
            ])
            .await,
        "a batch setting a protected label",
    );
    assert_protected(err, &pid, "production", "a batch setting a protected label");
    let err = refused(
        store
            .set_protection(&pid, protection("production", false, Authority::User))
            .await,
        "unprotecting without the admin role",
    );
    assert_protected(err, &pid, "production", "unprotecting");

    let after = ok(store.summary(&pid).await, "reading the summary after the refusals");
    assert_eq!(after.latest_version, version("1.1.0"), "no refused save was written");
    assert_eq!(after.labels, summary.labels, "no label moved");
    assert_eq!(after.protected, summary.protected, "still protected");
    assert!(
        !ok(store.exists(&id("conformance/protection/other")).await, "exists"),
        "the batch saved nothing"
    );
    assert_eq!(
        ok(store.label_history(&pid, None).await, "history"),
        history,
        "no label event recorded"
    );
    assert_eq!(audit_head(store).await, head, "no audit entry appended");

    // A label may be protected before it exists; then setting it needs the role too.
    assert!(ok(
        store
            .set_protection(&pid, protection("canary", true, Authority::User))
            .await,
        "protecting an unset label"
    ));
    let err = refused(
        store
            .set_label(
                &pid,
                moving("canary", Some("1.0.0"), LabelEventKind::Set, Authority::User),
            )
            .await,
        "setting a protected label for the first time",
    );
    assert_protected(err, &pid, "canary", "setting a protected label");

    // An administrator may; an override is recorded as such.
    let head = audit_head(store).await;
    ok(
        store
            .set_label(
                &pid,
                moving("canary", Some("1.0.0"), LabelEventKind::Set, Authority::Admin),
            )
            .await,
        "an administrator setting a protected label",
    );
    ok(
        store
            .set_label(
                &pid,
                moving("production", Some("1.1.0"), LabelEventKind::Set, Authority::Forced),
            )
            .await,
        "a forced move",
    );
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                authority: Authority::Forced,
                ..save_request(
                    text_version(pid.as_str(), "1.2.0", "three"),
                    Expect::Version(version("1.1.0")),
                )
            })
            .await,
        "a forced save moving a protected label",
    );
    let entries = audit_after(store, head).await;
    let flags: Vec<(AuditAction, Option<&str>, bool)> = entries
        .iter()
        .filter(|e| e.prompt.as_ref() == Some(&pid))
        .map(|e| (e.action, e.label.as_ref().map(LabelName::as_str), e.forced))
        .collect();
    assert_eq!(
        flags,
        [
            (AuditAction::LabelSet, Some("canary"), false),
            (AuditAction::LabelSet, Some("production"), true),
            (AuditAction::VersionCreated, None, true),
            (AuditAction::LabelSet, Some("production"), true),
        ],
        "administrators' writes are audited, overrides marked forced"
    );
    let labels_now = ok(store.labels(&pid).await, "labels");
    assert_eq!(labels_now.get(&label("production")), Some(&version("1.2.0")));

    // Lifting a protection needs the role; then anyone may move the label.
    assert!(ok(
        store
            .set_protection(&pid, protection("production", false, Authority::Admin))
            .await,
        "an administrator unprotecting"
    ));
    ok(
        store
            .set_label(
                &pid,
                moving("production", Some("1.0.0"), LabelEventKind::Rollback, Authority::User),
            )
            .await,
        "moving an unprotected label",
    );
    assert_eq!(
        ok(store.summary(&pid).await, "summary").protected,
        BTreeSet::from([label("canary")])
    );
    let missing = id("conformance/protection/missing");
    assert_prompt_not_found(
        store
            .set_protection(&missing, protection("production", true, Authority::Admin))
            .await,
        &missing,
        "protecting a label of a missing prompt",
    );
}

/// Protections show in listings and go with the prompt: a prompt created again under the same id
/// starts without them.
pub async fn protection_survives_reads_and_goes_with_the_prompt(store: &dyn Store) {
    let prefix = "conformance/protection-life/";
    clean(store, prefix).await;
    let pid = id("conformance/protection-life/a");
    let create = || save_request(text_version(pid.as_str(), "1.0.0", "one"), Expect::Absent);
    ok(store.save(create()).await, "creating");
    ok(
        store
            .set_protection(&pid, protection("production", true, Authority::User))
            .await,
        "protecting",
    );
    let listed = ok(
        store
            .list(&ListQuery {
                id_prefix: Some(prefix.into()),
                ..ListQuery::default()
            })
            .await,
        "listing",
    );
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.items[0].protected,
        BTreeSet::from([label("production")]),
        "listings show protections"
    );
    ok(store.delete(&pid, deletion()).await, "deleting");
    ok(store.save(create()).await, "creating again");
    assert!(
        ok(store.summary(&pid).await, "summary").protected.is_empty(),
        "a prompt created again starts without protections"
    );
}
