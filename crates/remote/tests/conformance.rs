//! The remote store passes the conformance suite every backend runs, against a real server on a
//! real socket, over an in-memory store and over a SQLite file.

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
