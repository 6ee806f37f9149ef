//! References: `VersionStore::resolve` — the trait's default or a backend's own query — finds
//! the version each selector names (latest, exact, requirement, label) with the prompt's status,
//! and fails with the `NotFound` that says what is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager_core::PromptRef;

use super::*;

/// Every selector resolves to the version the reads say, and every miss is the right `NotFound`.
pub async fn references_resolve_as_the_reads_say(store: &dyn Store) {
    let prefix = "conformance/resolve/";
    clean(store, prefix).await;
    let pid = id("conformance/resolve/a");
    let mut expected = Expect::Absent;
    for (number, labels_set) in [("1.0.0", &[][..]), ("1.2.0", &["production"][..]), ("10.0.0", &[][..])] {
        ok(
            store
                .save(SaveRequest {
                    labels: labels(labels_set),
                    ..save_request(text_version(pid.as_str(), number, number), expected.clone())
                })
                .await,
            "saving",
        );
        expected = Expect::Version(version(number));
    }
    ok(
        store
            .set_status(&pid, status_change(PromptStatus::Active, PromptStatus::Draft))
            .await,
        "activating",
    );
    let resolve = |text: String| async move { store.resolve(&text.parse::<PromptRef>().unwrap()).await };
    for (selector, found) in [
        ("", "10.0.0"),
        ("@latest", "10.0.0"),
        ("@1.0.0", "1.0.0"),
        ("@^1", "1.2.0"),
        ("@~1.0", "1.0.0"),
        ("@>=2", "10.0.0"),
        ("@production", "1.2.0"),
    ] {
        let doing = format!("resolving {pid}{selector}");
        let resolved = ok(resolve(format!("{pid}{selector}")).await, &doing);
        assert_eq!(resolved.version.version, version(found), "{doing}");
        assert_eq!(
            resolved.version.prompt.template.sources(),
            [found],
            "{doing}: the content"
        );
        assert_eq!(resolved.status, PromptStatus::Active, "{doing}: the status");
        assert_eq!(
            *resolved.version,
            *ok(store.load(&pid, Some(&version(found))).await, "loading"),
            "{doing}: as loaded"
        );
    }
    let missing = id("conformance/resolve/missing");
    for selector in ["", "@1.0.0", "@^1", "@production"] {
        assert_prompt_not_found(
            resolve(format!("{missing}{selector}")).await,
            &missing,
            &format!("resolving {missing}{selector}"),
        );
    }
    let err = refused(resolve(format!("{pid}@2.0.0")).await, "a missing version");
    assert!(
        matches!(&err, Error::NotFound(NotFound::Version(p, v)) if *p == pid && *v == version("2.0.0")),
        "{err:?}"
    );
    let err = refused(resolve(format!("{pid}@^3")).await, "a requirement nothing meets");
    assert!(
        matches!(&err, Error::NotFound(NotFound::Requirement(p, _)) if *p == pid),
        "{err:?}"
    );
    let err = refused(resolve(format!("{pid}@staging")).await, "an unset label");
    assert!(
        matches!(&err, Error::NotFound(NotFound::Label(p, l)) if *p == pid && l.as_str() == "staging"),
        "{err:?}"
    );
}
