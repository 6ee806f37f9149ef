//! Reads of many prompts: `list` with its filters, pagination and bounds, summaries, and the id
//! grammar every store holds alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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
                    authority: Authority::User,
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
