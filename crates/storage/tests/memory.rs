//! `MemoryStore` against the conformance suite, and under concurrent compare-and-set writers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use prompt_manager_core::{PromptId, Store};
use prompt_manager_storage::{MemoryStore, conformance};

mod common;

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

#[tokio::test]
async fn item_06_a_long_tag_filter_is_a_clear_error() {
    conformance::long_filters_are_refused_and_many_tags_are_one_query(&MemoryStore::new()).await;
}

#[tokio::test]
async fn item_09_one_id_grammar_for_every_backend() {
    conformance::ids_like_store_files_are_held_or_refused_alike(&MemoryStore::new()).await;
}

/// Eight writers sharing one store, each adding 50 versions with compare-and-set and retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_compare_and_set_writers_lose_no_update() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let id = PromptId::new("concurrency/counter").unwrap();
    common::race_compare_and_set(vec![store; 8], &id, 50).await;
}
