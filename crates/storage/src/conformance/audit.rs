//! The audit log: every write appends exactly its entries (actor, before, after) in the same
//! transaction, a refused write appends nothing, external events are appended and others
//! refused, queries filter and page, and the chain verifies. (An edited or deleted entry is
//! found too: that check needs the backend's tampering, and lives in `integrity`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager_core::{
    AuditAction, AuditEntry, AuditQuery, AuditRecord, ChainVerifier, GENESIS_HASH, MAX_AUDIT_LIMIT, ProtectionChange,
    UNKNOWN_ACTOR,
};
use serde_json::{Value, json};

use super::*;

/// Every entry after `after`, oldest first, read page by page.
pub async fn audit_after(store: &dyn Store, after: u64) -> Vec<AuditEntry> {
    let mut all = Vec::new();
    let mut cursor = after;
    loop {
        let page = ok(
            store
                .audit(&AuditQuery {
                    after_seq: Some(cursor),
                    limit: Some(MAX_AUDIT_LIMIT),
                    ..AuditQuery::default()
                })
                .await,
            "reading the audit log",
        );
        let Some(last) = page.last() else { return all };
        assert!(last.seq > cursor, "the audit log's pages must move forward");
        cursor = last.seq;
        all.extend(page);
    }
}

/// The number of the last audit entry (0 for an empty log).
pub async fn audit_head(store: &dyn Store) -> u64 {
    audit_after(store, 0).await.last().map_or(0, |e| e.seq)
}

/// One expected entry: action, label, before, after, actor, forced.
type Expected<'a> = (
    AuditAction,
    Option<&'a str>,
    Option<Value>,
    Option<Value>,
    &'a str,
    bool,
);

#[track_caller]
fn assert_entries(entries: &[AuditEntry], prompt: &PromptId, expected: &[Expected<'_>], doing: &str) {
    let got: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.action,
                e.label.as_ref().map(LabelName::as_str),
                e.before.clone(),
                e.after.clone(),
                e.actor.as_str(),
                e.forced,
            )
        })
        .collect();
    assert_eq!(
        got, expected,
        "{doing}: the audit entries (action, label, before, after, actor, forced)"
    );
    for entry in entries {
        assert_eq!(
            entry.prompt.as_ref(),
            Some(prompt),
            "{doing}: the entry's prompt ({entry:?})"
        );
    }
}

fn v(number: &str) -> Option<Value> {
    Some(json!({ "version": number }))
}

/// Each write appends exactly its entries, numbered on from the head, chained, with who did it,
/// when, and the state before and after; a no-op appends nothing; the entries of a deleted
/// prompt stay.
pub async fn every_write_is_audited(store: &dyn Store) {
    let prefix = "conformance/audit-writes/";
    clean(store, prefix).await;
    let pid = id("conformance/audit-writes/a");
    let head = audit_head(store).await;
    let before_writes = Utc::now().trunc_subsecs(6);

    let first = text_version(pid.as_str(), "1.0.0", "one");
    let first_hash = first.content_hash.0.clone();
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(first, Expect::Absent)
            })
            .await,
        "creating",
    );
    let second = text_version(pid.as_str(), "1.1.0", "two");
    let second_hash = second.content_hash.0.clone();
    ok(
        store
            .save(SaveRequest {
                labels: labels(&["staging"]),
                ..save_request(second, Expect::Version(version("1.0.0")))
            })
            .await,
        "updating",
    );
    let change = |name: &str, to: Option<&str>, kind: LabelEventKind| LabelChange {
        label: label(name),
        to: to.map(version),
        expected: Expect::Any,
        kind,
        actor: Some("alice".into()),
        authority: Authority::User,
    };
    ok(
        store
            .set_label(&pid, change("production", Some("1.1.0"), LabelEventKind::Set))
            .await,
        "moving",
    );
    let noop = ok(
        store
            .set_label(&pid, change("production", Some("1.1.0"), LabelEventKind::Set))
            .await,
        "a no-op move",
    );
    assert!(noop.is_none(), "a move to where the label points records nothing");
    ok(
        store
            .set_label(&pid, change("production", Some("1.0.0"), LabelEventKind::Rollback))
            .await,
        "rolling back",
    );
    ok(
        store
            .set_label(&pid, change("staging", None, LabelEventKind::Remove))
            .await,
        "removing",
    );
    ok(
        store
            .set_status(&pid, status_change(PromptStatus::Active, PromptStatus::Draft))
            .await,
        "activating",
    );
    let protect = |protected: bool| ProtectionChange {
        label: label("production"),
        protected,
        authority: Authority::Admin,
        actor: Some("root".into()),
    };
    assert!(ok(store.set_protection(&pid, protect(true)).await, "protecting"));
    assert!(
        !ok(store.set_protection(&pid, protect(true)).await, "protecting again"),
        "a no-op protection"
    );
    assert!(ok(
        store.set_protection(&pid, protect(false)).await,
        "lifting the protection"
    ));
    ok(store.delete(&pid, deletion()).await, "deleting");
    let after_writes = Utc::now();

    let entries = audit_after(store, head).await;
    let mine: Vec<AuditEntry> = entries
        .iter()
        .filter(|e| e.prompt.as_ref() == Some(&pid))
        .cloned()
        .collect();
    let protected = |p: bool| Some(json!({ "protected": p }));
    assert_entries(
        &mine,
        &pid,
        &[
            (
                AuditAction::VersionCreated,
                None,
                None,
                Some(json!({"version": "1.0.0", "content_hash": first_hash})),
                ACTOR,
                false,
            ),
            (
                AuditAction::LabelSet,
                Some("production"),
                None,
                v("1.0.0"),
                ACTOR,
                false,
            ),
            (
                AuditAction::VersionCreated,
                None,
                v("1.0.0"),
                Some(json!({"version": "1.1.0", "content_hash": second_hash})),
                ACTOR,
                false,
            ),
            (AuditAction::LabelSet, Some("staging"), None, v("1.1.0"), ACTOR, false),
            (
                AuditAction::LabelSet,
                Some("production"),
                v("1.0.0"),
                v("1.1.0"),
                "alice",
                false,
            ),
            (
                AuditAction::LabelRolledBack,
                Some("production"),
                v("1.1.0"),
                v("1.0.0"),
                "alice",
                false,
            ),
            (
                AuditAction::LabelRemoved,
                Some("staging"),
                v("1.1.0"),
                None,
                "alice",
                false,
            ),
            (
                AuditAction::StatusChanged,
                None,
                Some(json!({"status": "draft"})),
                Some(json!({"status": "active"})),
                ACTOR,
                false,
            ),
            (
                AuditAction::LabelProtected,
                Some("production"),
                protected(false),
                protected(true),
                "root",
                false,
            ),
            (
                AuditAction::LabelUnprotected,
                Some("production"),
                protected(true),
                protected(false),
                "root",
                false,
            ),
            (
                AuditAction::PromptDeleted,
                None,
                Some(json!({"latest_version": "1.1.0", "version_count": 2, "labels": {"production": "1.0.0"}})),
                None,
                ACTOR,
                false,
            ),
        ],
        "one write of each kind",
    );
    // Another writer may share the store: only this check's entries are asserted, but all are
    // numbered without gaps and chained.
    let mut expected_seq = head;
    let mut prev = None::<String>;
    for entry in &entries {
        expected_seq += 1;
        assert_eq!(
            entry.seq, expected_seq,
            "audit entries are numbered without gaps ({entry:?})"
        );
        if let Some(prev) = &prev {
            assert_eq!(
                &entry.prev_hash, prev,
                "each entry carries the hash of the one before ({entry:?})"
            );
        }
        assert_eq!(
            entry.hash,
            entry.compute_hash(),
            "the stored hash is the hash of the entry ({entry:?})"
        );
        prev = Some(entry.hash.clone());
    }
    for entry in &mine {
        assert!(
            entry.at >= before_writes && entry.at <= after_writes,
            "the entry's time is when it was written ({entry:?})"
        );
    }
    let of_prompt = ok(
        store.audit(&AuditQuery::prompt(pid.clone())).await,
        "reading a deleted prompt's entries",
    );
    assert!(
        of_prompt.ends_with(&mine),
        "a deleted prompt's entries stay, and a prompt filter finds them"
    );
}

/// A refused write — of any kind — appends nothing.
pub async fn refused_writes_append_nothing(store: &dyn Store) {
    let prefix = "conformance/audit-refused/";
    clean(store, prefix).await;
    let pid = id("conformance/audit-refused/a");
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
            .set_protection(
                &pid,
                ProtectionChange {
                    label: label("production"),
                    protected: true,
                    authority: Authority::User,
                    actor: Some(ACTOR.into()),
                },
            )
            .await,
        "protecting (anyone may protect)",
    );
    let head = audit_head(store).await;
    let missing = id("conformance/audit-refused/missing");
    let user_move = |name: &str, to: &str| LabelChange {
        label: label(name),
        to: Some(version(to)),
        expected: Expect::Any,
        kind: LabelEventKind::Set,
        actor: Some(ACTOR.into()),
        authority: Authority::User,
    };
    refused(
        store
            .save(save_request(text_version(pid.as_str(), "2.0.0", "x"), Expect::Absent))
            .await,
        "creating twice",
    );
    refused(
        store
            .save(save_request(
                text_version(pid.as_str(), "2.0.0", "x"),
                Expect::Version(version("0.9.0")),
            ))
            .await,
        "a stale compare-and-set",
    );
    refused(
        store
            .save(save_request(text_version(pid.as_str(), "0.1.0", "x"), Expect::Any))
            .await,
        "a version not above the latest",
    );
    refused(
        store
            .save(SaveRequest {
                labels: labels(&["production"]),
                ..save_request(text_version(pid.as_str(), "2.0.0", "x"), Expect::Any)
            })
            .await,
        "a save moving a protected label",
    );
    refused(
        store
            .save_all(vec![
                save_request(
                    text_version("conformance/audit-refused/b", "1.0.0", "b"),
                    Expect::Absent,
                ),
                save_request(text_version(pid.as_str(), "0.1.0", "x"), Expect::Any),
            ])
            .await,
        "a batch with one refused request",
    );
    refused(
        store.set_label(&pid, user_move("staging", "9.9.9")).await,
        "a label to a missing version",
    );
    let noop = ok(
        store.set_label(&pid, user_move("production", "1.0.0")).await,
        "a no-op move",
    );
    assert!(
        noop.is_none(),
        "a protected label moved to where it points: nothing to refuse, nothing recorded"
    );
    refused(
        store.set_label(&missing, user_move("staging", "1.0.0")).await,
        "a label of a missing prompt",
    );
    refused(
        store
            .set_status(&pid, status_change(PromptStatus::Active, PromptStatus::Deprecated))
            .await,
        "a stale status",
    );
    refused(store.delete(&missing, deletion()).await, "deleting a missing prompt");
    refused(
        store
            .set_protection(
                &pid,
                ProtectionChange {
                    label: label("production"),
                    protected: false,
                    authority: Authority::User,
                    actor: Some(ACTOR.into()),
                },
            )
            .await,
        "lifting a protection without the admin role",
    );
    refused(
        store
            .append_audit(AuditRecord::new(AuditAction::LabelSet, Some(ACTOR.into())))
            .await,
        "appending an entry the store records itself",
    );
    let after = audit_after(store, head).await;
    assert!(after.is_empty(), "refused writes appended {after:?}");
}

/// `append_audit` chains external events (API keys) after the head and returns them as stored;
/// a blank actor is recorded as `unknown`; other actions are refused.
pub async fn external_events_are_appended_and_others_refused(store: &dyn Store) {
    let head = audit_head(store).await;
    let record = AuditRecord {
        after: Some(json!({"key": "ci-bot", "scopes": ["read", "write"]})),
        ..AuditRecord::new(AuditAction::KeyCreated, Some("admin@example".into()))
    };
    let created = ok(store.append_audit(record).await, "appending key_created");
    let revoked = ok(
        store
            .append_audit(AuditRecord {
                before: Some(json!({"key": "ci-bot"})),
                ..AuditRecord::new(AuditAction::KeyRevoked, Some("  ".into()))
            })
            .await,
        "appending key_revoked",
    );
    assert_eq!(
        (created.seq, revoked.seq),
        (head + 1, head + 2),
        "numbered on from the head"
    );
    assert_eq!(created.actor, "admin@example");
    assert_eq!(revoked.actor, UNKNOWN_ACTOR, "a blank actor is recorded as unknown");
    assert_eq!(revoked.prev_hash, created.hash);
    if head == 0 {
        assert_eq!(created.prev_hash, GENESIS_HASH);
    }
    assert_eq!(
        audit_after(store, head).await,
        [created, revoked],
        "read back as appended"
    );
    for action in AuditAction::ALL.iter().filter(|a| !a.is_external()) {
        let err = refused(
            store.append_audit(AuditRecord::new(*action, Some(ACTOR.into()))).await,
            "appending an action the store records itself",
        );
        assert!(matches!(err, Error::InvalidQuery { .. }), "{action}: {err:?}");
    }
    assert_eq!(audit_head(store).await, head + 2, "refused appends append nothing");
}

/// Queries filter by prompt and page by `after_seq` and `limit`; a limit out of bounds is
/// `InvalidQuery`.
pub async fn audit_queries_filter_page_and_are_bounded(store: &dyn Store) {
    let prefix = "conformance/audit-query/";
    clean(store, prefix).await;
    let (a, b) = (id("conformance/audit-query/a"), id("conformance/audit-query/b"));
    let head = audit_head(store).await;
    for n in 0..4 {
        for pid in [&a, &b] {
            let expected = if n == 0 {
                Expect::Absent
            } else {
                Expect::Version(version(&format!("1.{}.0", n - 1)))
            };
            ok(
                store
                    .save(save_request(
                        text_version(pid.as_str(), &format!("1.{n}.0"), &format!("{n}")),
                        expected,
                    ))
                    .await,
                "saving",
            );
        }
    }
    let of_a = ok(
        store
            .audit(&AuditQuery {
                prompt: Some(a.clone()),
                after_seq: Some(head),
                limit: None,
            })
            .await,
        "reading a's entries",
    );
    assert_eq!(of_a.len(), 4, "four versions of a: {of_a:?}");
    assert!(of_a.iter().all(|e| e.prompt.as_ref() == Some(&a)), "only a's entries");
    assert!(of_a.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");
    let first_two = ok(
        store
            .audit(&AuditQuery {
                prompt: Some(a.clone()),
                after_seq: Some(head),
                limit: Some(2),
            })
            .await,
        "a page of a's entries",
    );
    let rest = ok(
        store
            .audit(&AuditQuery {
                prompt: Some(a.clone()),
                after_seq: first_two.last().map(|e| e.seq),
                limit: Some(2),
            })
            .await,
        "the next page",
    );
    assert_eq!([first_two, rest].concat(), of_a, "pages add up to the whole");
    let none = ok(
        store
            .audit(&AuditQuery {
                limit: Some(0),
                ..AuditQuery::default()
            })
            .await,
        "a zero limit",
    );
    assert!(none.is_empty());
    let err = refused(
        store
            .audit(&AuditQuery {
                limit: Some(MAX_AUDIT_LIMIT + 1),
                ..AuditQuery::default()
            })
            .await,
        "a limit out of bounds",
    );
    assert!(matches!(err, Error::InvalidQuery { .. }), "{err:?}");
    assert_eq!(
        audit_after(store, head).await.len(),
        8,
        "all eight saves are in the log"
    );
}

/// The whole log verifies: numbered from 1, each entry linked to the one before and hashing to
/// its recorded hash.
pub async fn the_audit_chain_verifies(store: &dyn Store) {
    let entries = audit_after(store, 0).await;
    assert!(!entries.is_empty(), "the suite's writes are in the log");
    let mut verifier = ChainVerifier::new();
    for entry in &entries {
        if let Err(e) = verifier.push(entry) {
            panic!("the audit log does not verify: {e}");
        }
    }
}
