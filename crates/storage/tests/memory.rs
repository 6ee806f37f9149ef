//! `MemoryStore` against the conformance suite, and under concurrent compare-and-set writers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{Error, Expect, PromptId, SaveRequest, StorageBackend, VersionStore};
use prompt_manager_storage::{MemoryStore, conformance};

#[tokio::test]
async fn memory_store_passes_the_conformance_suite() {
    conformance::run_all(&MemoryStore::new()).await;
}

#[tokio::test]
async fn the_suite_can_run_twice_on_one_store() {
    // Persistent backends rerun the suite over old data; each check cleans its prefix first.
    let store = MemoryStore::new();
    conformance::run_all(&store).await;
    conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_compare_and_set_writers_lose_no_update() {
    const WRITERS: u64 = 8;
    const UPDATES: u64 = 50;
    let store = Arc::new(MemoryStore::new());
    let id = PromptId::new("concurrency/counter").unwrap();
    store
        .save(conformance::save_request(
            conformance::text_version(&id, "1.0.0", "start"),
            Expect::Absent,
        ))
        .await
        .unwrap();

    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            let id = id.clone();
            tokio::spawn(async move {
                let mut conflicts = 0_u64;
                for update in 0..UPDATES {
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
                            Err(Error::VersionConflict { .. }) => {
                                conflicts += 1;
                                tokio::task::yield_now().await;
                            }
                            Err(other) => panic!("writer {writer}: unexpected error {other}"),
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

    let history = store.list_versions(&id).await.unwrap();
    assert_eq!(
        history.len() as u64,
        1 + WRITERS * UPDATES,
        "every update made exactly one version ({conflicts} conflicts were retried)"
    );
    assert_eq!(history[0].version, Version::new(1, WRITERS * UPDATES, 0));
    // Newest first: strictly decreasing, and each version's parent is the one below it, so no
    // writer ever built on a version that another had already superseded.
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
            "the parent of {}",
            pair[0].version
        );
    }
}
