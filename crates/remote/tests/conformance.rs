//! The remote store passes the conformance suite every backend runs, against a real server on a
//! real socket, over an in-memory store, a SQLite file, PostgreSQL with and without a shared
//! Redis in front, and an S3 bucket (`PROMPT_MANAGER_TEST_POSTGRES_URL`,
//! `PROMPT_MANAGER_TEST_REDIS_URL`, `PROMPT_MANAGER_TEST_S3_URL`; skipped without them unless
//! `PROMPT_MANAGER_REQUIRE_SERVICES=1`); with a disk cache too, which changes
//! no answer while the server answers.

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

/// `PROMPT_MANAGER_TEST_{name}_URL`, or `None` when the test should skip.
fn service(name: &str) -> Option<String> {
    let var = format!("PROMPT_MANAGER_TEST_{name}_URL");
    match std::env::var(&var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert_ne!(
                std::env::var("PROMPT_MANAGER_REQUIRE_SERVICES").as_deref(),
                Ok("1"),
                "{var} is required"
            );
            None
        }
    }
}

/// The suite through a server on a PostgreSQL schema of its own (dropped after), the store being
/// `store(postgres_url_with_schema)`.
async fn over_postgres(store: impl FnOnce(String) -> String) {
    let Some(postgres) = service("POSTGRES") else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("pm_test_remote_{}_{nanos}", std::process::id());
    let separator = if postgres.contains('?') { '&' } else { '?' };
    let url = store(format!("{postgres}{separator}schema={schema}"));
    let pm = prompt_manager::open(&url).await.unwrap();
    let server = common::serve(pm, AppOptions::default()).await;
    let remote = RemoteStore::connect(&format!("{}/", server.url)).unwrap();
    conformance::run_all(&remote).await;
    server.stop().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&postgres)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_server_on_postgres() {
    over_postgres(|postgres| postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_server_on_postgres_behind_redis() {
    let Some(redis) = service("REDIS") else { return };
    over_postgres(|postgres| {
        format!(
            "{redis}/0?namespace=pm_test_remote_{}&store={postgres}",
            std::process::id()
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_server_on_an_s3_bucket() {
    let Some(base) = service("S3") else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let (bucket, query) = base.split_once('?').unwrap_or((&base, ""));
    let url = format!(
        "{}/pm_test_remote/{}-{nanos}?{query}",
        bucket.trim_end_matches('/'),
        std::process::id()
    );
    let pm = prompt_manager::open(&url).await.unwrap();
    let server = common::serve(pm, AppOptions::default()).await;
    let remote = RemoteStore::connect(&format!("{}/", server.url)).unwrap();
    conformance::run_all(&remote).await;
    server.stop().await;
}
