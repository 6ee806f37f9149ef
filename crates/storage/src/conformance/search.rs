//! The `search` and `label` filters of `list`: what a search matches (id, latest description,
//! latest tags; ASCII case folded, every character literal), what a label filter keeps, both
//! combined with the other filters, and paging through them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager_core::MAX_SEARCH_LEN;

use super::*;

const P: &str = "conformance/search/";

/// Creates `name` under [`P`] as version 1.0.0 with `description`, `tags` and `labels`.
async fn create(store: &dyn Store, name: &str, description: Option<&str>, tags: &[&str], set: &[&str]) {
    let mut prompt = Prompt::text(format!("{P}{name}"), "x")
        .expect("valid id")
        .with_tags(tags.iter().copied());
    if let Some(description) = description {
        prompt = prompt.with_description(description);
    }
    ok(
        store
            .save(SaveRequest {
                labels: labels(set),
                ..save_request(versioned(prompt, "1.0.0"), Expect::Absent)
            })
            .await,
        &format!("creating {name}"),
    );
}

/// `search` matches the id, the latest version's description or one of its tags, folding ASCII
/// case only; `%`, `_` and `\` are literal; `label` keeps the prompts with that label set. Every
/// case is also paged through with every page size, so no page skips or repeats an item.
pub async fn list_search_and_label_filters(store: &dyn Store) {
    clean(store, P).await;
    create(
        store,
        "billing/refund",
        Some("Handles REFUND requests"),
        &["finance"],
        &["production"],
    )
    .await;
    create(
        store,
        "billing/invoice_v2",
        Some("Invoices at 100% accuracy"),
        &["Finance_Team"],
        &[],
    )
    .await;
    create(store, "support/triage", None, &["urgent"], &["production", "staging"]).await;
    create(
        store,
        "support/greeting",
        Some("Grüße, Ünïcode HELLO"),
        &[],
        &["staging"],
    )
    .await;
    create(store, "support/percent", Some("100 percent"), &["a\\b"], &[]).await;
    // The older version's description and tag are not searched: only the latest's are.
    let old = Prompt::text(format!("{P}other/plain"), "x")
        .expect("valid id")
        .with_description("legacy wording")
        .with_tags(["oldtag"]);
    ok(
        store.save(save_request(versioned(old, "1.0.0"), Expect::Absent)).await,
        "creating other/plain",
    );
    let new = Prompt::text(format!("{P}other/plain"), "y")
        .expect("valid id")
        .with_description("nothing here")
        .with_tags(["misc"]);
    ok(
        store.save(save_request(versioned(new, "1.1.0"), Expect::Any)).await,
        "updating other/plain",
    );

    let base = || ListQuery {
        id_prefix: Some(P.to_owned()),
        ..ListQuery::default()
    };
    let search = |text: &str| ListQuery {
        search: Some(text.to_owned()),
        ..base()
    };
    let with_label = |name: &str| ListQuery {
        label: Some(label(name)),
        ..base()
    };
    let everything = [
        "billing/invoice_v2",
        "billing/refund",
        "other/plain",
        "support/greeting",
        "support/percent",
        "support/triage",
    ];
    let cases: Vec<(&str, ListQuery, &[&str])> = vec![
        ("an empty search", search(""), &everything),
        (
            "an id part",
            search("support/"),
            &["support/greeting", "support/percent", "support/triage"],
        ),
        (
            "an id part in upper case",
            search("BILLING/"),
            &["billing/invoice_v2", "billing/refund"],
        ),
        (
            "a description part, other case",
            search("refund requests"),
            &["billing/refund"],
        ),
        (
            "a tag, any ASCII case",
            search("FINANCE"),
            &["billing/invoice_v2", "billing/refund"],
        ),
        ("a tag only", search("urgent"), &["support/triage"]),
        ("a literal %", search("%"), &["billing/invoice_v2"]),
        ("a literal % after text", search("100%"), &["billing/invoice_v2"]),
        ("a literal _", search("_"), &["billing/invoice_v2"]),
        ("a literal _ between letters", search("e_t"), &["billing/invoice_v2"]),
        ("a literal backslash", search("\\"), &["support/percent"]),
        ("a backslash before a letter", search("a\\b"), &["support/percent"]),
        ("non-ASCII as written", search("Ünï"), &["support/greeting"]),
        ("non-ASCII in another case (not folded)", search("ünï"), &[]),
        ("ASCII folded inside non-ASCII text", search("grüsse"), &[]),
        ("ASCII folded next to non-ASCII", search("grÜ"), &[]),
        ("ASCII case next to non-ASCII", search("gRü"), &["support/greeting"]),
        ("only the latest description", search("legacy"), &[]),
        ("only the latest tags", search("oldtag"), &[]),
        ("nothing matches", search("no such text"), &[]),
        (
            "label production",
            with_label("production"),
            &["billing/refund", "support/triage"],
        ),
        (
            "label staging",
            with_label("staging"),
            &["support/greeting", "support/triage"],
        ),
        ("a label nobody has", with_label("nope"), &[]),
        (
            "search and label",
            ListQuery {
                label: Some(label("staging")),
                ..search("SUPPORT")
            },
            &["support/greeting", "support/triage"],
        ),
        (
            "search, label and tag",
            ListQuery {
                label: Some(label("production")),
                tags: vec!["finance".into()],
                ..search("fin")
            },
            &["billing/refund"],
        ),
        (
            "search and status",
            ListQuery {
                status: Some(PromptStatus::Active),
                ..search("support")
            },
            &[],
        ),
        (
            "search and a narrower prefix",
            ListQuery {
                id_prefix: Some(format!("{P}billing/")),
                ..search("e")
            },
            &["billing/invoice_v2", "billing/refund"],
        ),
    ];
    let full = |names: &[&str]| -> Vec<String> { names.iter().map(|n| format!("{P}{n}")).collect() };
    for (what, query, expected) in cases {
        let page = ok(store.list(&query).await, &format!("listing {what}"));
        assert_eq!(
            ids(&page.items),
            full(expected),
            "listing {what}: the ids, ordered by id"
        );
        assert_eq!(page.next_cursor, None, "listing {what} without a limit is one page");
        for limit in 1..=expected.len() + 1 {
            let paged = collect_all(store, &query, limit).await;
            assert_eq!(
                ids(&paged),
                full(expected),
                "listing {what} with {limit} per page: every item exactly once, in order"
            );
        }
    }

    // A label that moves away stops matching.
    ok(
        store
            .set_label(
                &id(&format!("{P}support/triage")),
                LabelChange {
                    label: label("staging"),
                    to: None,
                    expected: Expect::Any,
                    kind: LabelEventKind::Remove,
                    actor: Some(ACTOR.into()),
                    authority: Authority::User,
                },
            )
            .await,
        "removing staging from support/triage",
    );
    let page = ok(store.list(&with_label("staging")).await, "listing label staging again");
    assert_eq!(
        ids(&page.items),
        full(&["support/greeting"]),
        "a removed label no longer matches"
    );
}

/// Paging through a search that matches every third of many prompts: the cursor continues
/// after the last match, so no page skips or repeats one, and a page is full whenever more
/// matches follow (the store filters before it counts, not after).
pub async fn search_pages_over_many_prompts(store: &dyn Store) {
    const MANY: &str = "conformance/search-many/";
    clean(store, MANY).await;
    let mut expected = Vec::new();
    for n in 0..24 {
        let name = format!("{MANY}item-{n:02}");
        let tags: &[&str] = if n % 3 == 0 { &["needle_x"] } else { &["needlex"] };
        let prompt = Prompt::text(&name, "x")
            .expect("valid id")
            .with_tags(tags.iter().copied());
        ok(
            store
                .save(save_request(versioned(prompt, "1.0.0"), Expect::Absent))
                .await,
            &format!("creating {name}"),
        );
        if n % 3 == 0 {
            expected.push(name);
        }
    }
    let query = ListQuery {
        id_prefix: Some(MANY.to_owned()),
        search: Some("Needle_X".to_owned()),
        ..ListQuery::default()
    };
    for limit in [1, 2, 3, 5, 8, 9] {
        let mut cursor = None;
        let mut seen = Vec::new();
        loop {
            let page = ok(
                store
                    .list(&ListQuery {
                        limit: Some(limit),
                        cursor: cursor.clone(),
                        ..query.clone()
                    })
                    .await,
                "listing a page of the search",
            );
            let more = page.next_cursor.is_some();
            if more {
                assert_eq!(page.items.len(), limit, "a page followed by more matches is full");
            }
            seen.extend(ids(&page.items));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(
                seen.len() <= expected.len(),
                "paging with {limit} per page repeats items"
            );
        }
        assert_eq!(
            seen, expected,
            "searching with {limit} per page: every match once, in order"
        );
    }
}

/// A search text longer than [`MAX_SEARCH_LEN`] bytes is [`Error::InvalidQuery`]; one of exactly
/// that length is a query like any other.
pub async fn long_search_is_refused(store: &dyn Store) {
    let query = |len: usize| ListQuery {
        search: Some("é".repeat(len / 2) + &"x".repeat(len % 2)),
        id_prefix: Some(P.to_owned()),
        ..ListQuery::default()
    };
    let err = refused(store.list(&query(MAX_SEARCH_LEN + 1)).await, "an overlong search");
    assert!(
        matches!(err, Error::InvalidQuery { .. }) && err.kind() == ErrorKind::InvalidInput,
        "an overlong search: {err:?}"
    );
    assert!(
        err.to_string().contains("search") && err.to_string().contains(&MAX_SEARCH_LEN.to_string()),
        "the message names the filter and the bound: {err}"
    );
    ok(
        store.list(&query(MAX_SEARCH_LEN)).await,
        "a search of the longest length",
    );
}
