//! Integrity: a version changed behind the store's back is refused when loaded, and an audit
//! entry edited or deleted is found by the chain's verification. The backend supplies the
//! tampering (a file edit, an `UPDATE`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager_core::{AuditAction, AuditBreak, AuditRecord, verify_chain};
use serde_json::json;

use super::audit::audit_after;
use super::*;

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

/// What [`audit_tampering_is_detected`] asks the backend's tamper function to do to a stored
/// entry, behind the store's back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditTamper {
    /// Change the actor of entry `seq` (leaving its recorded hash).
    EditActor {
        /// The entry.
        seq: u64,
    },
    /// Delete entry `seq`.
    Delete {
        /// The entry.
        seq: u64,
    },
}

/// An audit entry edited behind the store's back is found by [`verify_chain`] as
/// [`AuditBreak::Edited`]; a deleted one as [`AuditBreak::Missing`]. Run it on a store of its
/// own: it leaves the log broken.
pub async fn audit_tampering_is_detected<F, Fut>(store: &dyn Store, tamper: F)
where
    F: Fn(AuditTamper) -> Fut,
    Fut: Future<Output = ()>,
{
    for key in ["a", "b", "c"] {
        ok(
            store
                .append_audit(AuditRecord {
                    after: Some(json!({ "key": key })),
                    ..AuditRecord::new(AuditAction::KeyCreated, Some(ACTOR.into()))
                })
                .await,
            "appending",
        );
    }
    let entries = audit_after(store, 0).await;
    assert!(verify_chain(&entries).is_ok(), "the untouched log verifies");
    let victim = entries[entries.len() - 2].seq;
    tamper(AuditTamper::EditActor { seq: victim }).await;
    let edited = audit_after(store, 0).await;
    assert_ne!(edited, entries, "the tamper function changed nothing");
    match verify_chain(&edited) {
        Err(AuditBreak::Edited { seq, .. }) => assert_eq!(seq, victim),
        other => panic!("an edited entry: expected AuditBreak::Edited at {victim}, got {other:?}"),
    }
    tamper(AuditTamper::Delete { seq: victim }).await;
    let deleted = audit_after(store, 0).await;
    assert_eq!(
        deleted.len(),
        entries.len() - 1,
        "the tamper function deleted one entry"
    );
    assert_eq!(
        verify_chain(&deleted),
        Err(AuditBreak::Missing {
            expected: victim,
            found: victim + 1
        }),
        "a deleted entry"
    );
}
