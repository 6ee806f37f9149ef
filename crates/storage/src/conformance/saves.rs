//! Saves: creating, loading, versions that only increase, compare-and-set, `save_all` as one
//! unit, and the content hash checked before anything is written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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

    // A prompt's template syntax is part of its content and comes back as it went in.
    let handlebars = id("conformance/create-load/handlebars");
    let written = versioned(
        Prompt::text(handlebars.as_str(), "Hi {{name}}")
            .expect("the test id is valid")
            .with_syntax(prompt_manager_core::TemplateSyntax::Handlebars),
        "1.0.0",
    );
    ok(
        store.save(save_request(written.clone(), Expect::Absent)).await,
        "creating a Handlebars prompt",
    );
    assert_eq!(
        *ok(store.load(&handlebars, None).await, "loading a Handlebars prompt"),
        written,
        "a Handlebars prompt is loaded with its syntax"
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
