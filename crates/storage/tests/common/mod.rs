//! What the backends' tests share: a race of compare-and-set writers over several store
//! handles, concurrent creates, and a fixture written before a reopen and checked after it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    Error, Expect, LabelChange, LabelEvent, LabelEventKind, LabelName, Prompt, PromptId, PromptStatus, PromptSummary,
    PromptVersion, SaveRequest, Store, VersionInfo,
};
use prompt_manager_storage::conformance;

pub fn id(s: &str) -> PromptId {
    PromptId::new(s).unwrap()
}

pub fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

pub fn label(s: &str) -> LabelName {
    LabelName::new(s).unwrap()
}

/// Creates `id`, then has one writer per store add `updates` versions each, every save a
/// compare-and-set on the latest version, retried on conflict. Checks that every update made
/// exactly one version and that the history is one unbroken chain (no lost update).
pub async fn race_compare_and_set(stores: Vec<Arc<dyn Store>>, id: &PromptId, updates: u64) {
    conformance::clean(stores[0].as_ref(), id).await;
    stores[0]
        .save(conformance::save_request(
            conformance::text_version(id, "1.0.0", "start"),
            Expect::Absent,
        ))
        .await
        .unwrap();
    let tasks: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(writer, store)| {
            let store = Arc::clone(store);
            let id = id.clone();
            tokio::spawn(async move {
                let mut conflicts = 0_u64;
                for update in 0..updates {
                    loop {
                        let latest = store.load(&id, None).await.unwrap().version.clone();
                        let next = Version::new(latest.major, latest.minor + 1, 0);
                        let mut version = conformance::text_version(
                            &id,
                            &next.to_string(),
                            &format!("writer {writer}, update {update}"),
                        );
                        version.parent = Some(latest.clone());
                        match store
                            .save(SaveRequest {
                                actor: Some(format!("writer-{writer}")),
                                ..conformance::save_request(version, Expect::Version(latest))
                            })
                            .await
                        {
                            Ok(_) => break,
                            // Another writer saved between our load and our save.
                            Err(Error::VersionConflict { .. }) => {
                                conflicts += 1;
                                tokio::task::yield_now().await;
                            }
                            Err(other) => panic!("writer {writer}: unexpected error {other} ({other:?})"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let expected_new = stores.len() as u64 * updates;
    // Every handle sees the same history.
    for store in &stores {
        let history = store.list_versions(id).await.unwrap();
        assert_eq!(
            history.len() as u64,
            1 + expected_new,
            "every update made exactly one version ({conflicts} conflicts were retried)"
        );
    }
    let history = stores[0].list_versions(id).await.unwrap();
    assert_eq!(history[0].version, Version::new(1, expected_new, 0));
    for pair in history.windows(2) {
        assert!(
            pair[0].version > pair[1].version,
            "{} then {}",
            pair[0].version,
            pair[1].version
        );
        assert_eq!(
            pair[0].parent.as_ref(),
            Some(&pair[1].version),
            "the parent of {}: a writer built on a superseded version",
            pair[0].version
        );
    }
}

/// Several handles create the same prompt at once: exactly one wins, the others are told it
/// exists (never a generic backend error), and the winner's version is the one stored.
pub async fn race_creates(stores: Vec<Arc<dyn Store>>, id: &PromptId) {
    conformance::clean(stores[0].as_ref(), id).await;
    let tasks: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let store = Arc::clone(store);
            let id = id.clone();
            tokio::spawn(async move {
                store
                    .save(conformance::save_request(
                        conformance::text_version(&id, "1.0.0", &format!("creator {i}")),
                        Expect::Absent,
                    ))
                    .await
                    .map(|_| i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(i) => winners.push(i),
            Err(Error::AlreadyExists { id: existing }) => assert_eq!(existing, *id),
            Err(other) => panic!("a concurrent create failed with {other} ({other:?}), not AlreadyExists"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent create wins: {winners:?}");
    let stored = stores[0].load(id, None).await.unwrap();
    assert_eq!(
        stored.prompt.template.sources(),
        [format!("creator {}", winners[0])],
        "the winner's content is stored"
    );
    assert_eq!(stores[0].list_versions(id).await.unwrap().len(), 1);
}

/// Everything a store holds about one prompt, to compare before and after a reopen.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub summary: PromptSummary,
    pub versions: Vec<VersionInfo>,
    pub contents: Vec<PromptVersion>,
    pub labels: BTreeMap<LabelName, Version>,
    pub history: Vec<LabelEvent>,
}

pub async fn snapshot(store: &dyn Store, id: &PromptId) -> Snapshot {
    let versions = store.list_versions(id).await.unwrap();
    let mut contents = Vec::new();
    for info in &versions {
        contents.push((*store.load(id, Some(&info.version)).await.unwrap()).clone());
    }
    Snapshot {
        summary: store.summary(id).await.unwrap(),
        versions,
        contents,
        labels: store.labels(id).await.unwrap(),
        history: store.label_history(id, None).await.unwrap(),
    }
}

/// Writes a prompt with two versions (a chat one with tags, description and a parent), labels
/// moved by saves and by hand, and a status change; returns its snapshot.
pub async fn write_fixture(store: &dyn Store, id: &PromptId) -> Snapshot {
    conformance::clean(store, id).await;
    store
        .save(SaveRequest {
            labels: vec![label("staging")],
            status: PromptStatus::Draft,
            ..conformance::save_request(
                conformance::text_version(id, "1.0.0", "Hello {{ name }}"),
                Expect::Absent,
            )
        })
        .await
        .unwrap();
    let chat = Prompt::chat(
        id.as_str(),
        [prompt_manager_core::ChatItem::message(
            prompt_manager_core::Role::System,
            "You are {{ bot }}. Ünïcödé ✓, \"quotes\", 'single', back\\slash, 100% _under_",
        )],
    )
    .unwrap()
    .with_description("A chat prompt")
    .with_tags(["support", "billing"]);
    let mut second = conformance::versioned(chat, "1.1.0-rc.1+build.7");
    second.parent = Some(v("1.0.0"));
    second.author = None;
    second.changelog = "Line one\nline two".into();
    store
        .save(SaveRequest {
            labels: vec![label("staging"), label("production")],
            ..conformance::save_request(second, Expect::Version(v("1.0.0")))
        })
        .await
        .unwrap();
    store
        .set_label(
            id,
            LabelChange {
                label: label("production"),
                to: Some(v("1.0.0")),
                expected: Expect::Version(v("1.1.0-rc.1+build.7")),
                kind: LabelEventKind::Rollback,
                actor: Some("bob".into()),
                authority: prompt_manager_core::Authority::User,
            },
        )
        .await
        .unwrap();
    store
        .set_status(
            id,
            conformance::status_change(PromptStatus::Active, PromptStatus::Draft),
        )
        .await
        .unwrap();
    snapshot(store, id).await
}
