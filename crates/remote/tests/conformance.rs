//! The remote store passes the conformance suite every backend runs, against a real server on a
//! real socket, over an in-memory store and over a SQLite file; with a disk cache too, which
//! changes no answer while the server answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use prompt_manager_remote::RemoteStore;
use prompt_manager_server::AppOptions;
use prompt_manager_storage::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_server_on_a_memory_store() {
    let server = common::serve(prompt_manager::in_memory(), AppOptions::default()).await;
    let store = RemoteStore::connect(&server.url).unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_a_disk_cache() {
    let cache = tempfile::tempdir().unwrap();
    let server = common::serve(prompt_manager::in_memory(), AppOptions::default()).await;
    let store = RemoteStore::connect(&format!("{}/?cache={}", server.url, cache.path().display())).unwrap();
    conformance::run_all(&store).await;
    let sources = store.read_sources();
    assert!(sources.server > 0 && sources.cache == 0, "{sources:?}");
    assert!(
        std::fs::read_dir(cache.path()).unwrap().count() > 0,
        "answers were kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_server_on_a_sqlite_file() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("pm.db").display());
    let pm = prompt_manager::open(&url).await.unwrap();
    let server = common::serve(pm, AppOptions::default()).await;
    let store = RemoteStore::connect(&format!("{}/", server.url)).unwrap();
    conformance::run_all(&store).await;
    // A second run over the same data, as a persistent store must allow.
    conformance::run_all(&store).await;
}
