//! Labels: set by saves and by `set_label`, compare-and-set, no-op moves, removal, rollback,
//! the recorded history, and targets that must exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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
                    authority: Authority::User,
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
                    authority: Authority::User,
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
                    authority: Authority::User,
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
        authority: Authority::User,
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
        authority: Authority::User,
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
                        authority: Authority::User,
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
                    authority: Authority::User,
                },
            )
            .await,
        &missing,
        "setting a label on a missing prompt",
    );
}
