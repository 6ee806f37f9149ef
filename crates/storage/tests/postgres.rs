//! The PostgreSQL store (`postgres://`): the conformance suite, persistence across reconnecting,
//! the embedded migrations, races between several stores (pools) on one database, and clear
//! errors for bad URLs and schema names.
//!
//! The tests need a server: `PROMPT_MANAGER_TEST_POSTGRES_URL` names a database (such as
//! `postgres://postgres@127.0.0.1:5432/test`) in which each test creates a schema of its own
//! (`pm_test_<pid>_<nanos>_<n>`), dropped at the end. Without the variable they skip with a
//! notice, or fail when `PROMPT_MANAGER_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{id, v};
use prompt_manager_core::{
    Error, ErrorKind, Expect, ListQuery, PromptStatus, SaveRequest, StorageBackend, Store, VersionStore,
};
use prompt_manager_storage::PostgresStore;
use prompt_manager_storage::conformance;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

const URL_VAR: &str = "PROMPT_MANAGER_TEST_POSTGRES_URL";

/// The server's URL, or `None` (after a notice) when the tests should skip.
fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("PROMPT_MANAGER_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "{URL_VAR} is not set, but PROMPT_MANAGER_REQUIRE_SERVICES=1 requires the PostgreSQL tests to run; \
             set it to a database URL such as postgres://postgres@127.0.0.1:5432/test"
        ),
        _ => {
            // Straight to stderr: the test harness would swallow eprintln! of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "skipping a PostgreSQL test: {URL_VAR} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// A schema name no other test or run uses.
fn fresh_schema() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!(
        "pm_test_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The server URL with `schema=NAME` added.
fn with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}schema={schema}")
}

async fn raw(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap()
}

/// Runs `body(server_url, schema)` with a fresh schema, then drops the schema (even when the body
/// panicked, and best effort).
async fn in_fresh_schema<F, Fut>(body: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = server_url() else { return };
    let schema = fresh_schema();
    let outcome = tokio::spawn(body(url.clone(), schema.clone())).await;
    if let Ok(mut conn) = PgConnection::connect(&url).await {
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
            .execute(&mut conn)
            .await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn conformance_suite() {
    in_fresh_schema(|url, schema| async move {
        let store = PostgresStore::connect(&with_schema(&url, &schema)).await.unwrap();
        conformance::run_all(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn item_06_a_long_tag_filter_is_a_clear_error() {
    in_fresh_schema(|url, schema| async move {
        let store = PostgresStore::connect(&with_schema(&url, &schema)).await.unwrap();
        conformance::long_filters_are_refused_and_many_tags_are_one_query(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn item_09_one_id_grammar_for_every_backend() {
    in_fresh_schema(|url, schema| async move {
        let store = PostgresStore::connect(&with_schema(&url, &schema)).await.unwrap();
        conformance::ids_like_store_files_are_held_or_refused_alike(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_suite_runs_twice_on_one_schema_across_a_reconnect() {
    in_fresh_schema(|url, schema| async move {
        let store = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        conformance::run_all(&store).await;
        store.close().await;
        drop(store);
        let store = PostgresStore::connect(&with_schema(&url, &schema)).await.unwrap();
        conformance::run_all(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn everything_written_is_there_after_a_reconnect() {
    in_fresh_schema(|url, schema| async move {
        let pid = id("persist/greeting");
        let store = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        let before = common::write_fixture(&store, &pid).await;
        drop(store);
        let store = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        assert_eq!(common::snapshot(&store, &pid).await, before);
        assert_eq!(before.versions.len(), 2);
        assert_eq!(before.history.len(), 4, "{:#?}", before.history);
        assert_eq!(
            store.list(&ListQuery::default()).await.unwrap().items,
            std::slice::from_ref(&before.summary)
        );
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn schemas_keep_runs_apart() {
    in_fresh_schema(|url, schema| async move {
        // Mixed case: the name is quoted, never folded to lower case.
        let other = format!("{schema}_B");
        let a = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        let b = PostgresStore::connect_with_schema(&url, &other).await.unwrap();
        common::write_fixture(&a, &id("apart/greeting")).await;
        assert!(b.list(&ListQuery::default()).await.unwrap().items.is_empty());
        a.close().await;
        b.close().await;
        let mut conn = raw(&url).await;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA \"{other}\" CASCADE")))
            .execute(&mut conn)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn migrations_run_once_and_a_newer_schema_is_refused() {
    in_fresh_schema(|url, schema| async move {
        // Several stores connecting to a new schema at once create it and migrate it once.
        let opens = (0..4).map(|_| {
            let (url, schema) = (url.clone(), schema.clone());
            async move { PostgresStore::connect_with_schema(&url, &schema).await }
        });
        for store in futures_join_all(opens).await {
            store.unwrap().close().await;
        }
        PostgresStore::connect_with_schema(&url, &schema)
            .await
            .unwrap()
            .close()
            .await;

        let mut conn = raw(&url).await;
        let applied: Vec<(i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT version, name FROM \"{schema}\".pm_schema_migrations ORDER BY version"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            applied,
            [
                (1, "initial".to_owned()),
                (2, "change_feed".to_owned()),
                (3, "governance".to_owned()),
                (4, "splits".to_owned())
            ],
            "each migration is recorded once"
        );
        let triggers: Vec<String> = sqlx::query_scalar(
            "SELECT tgname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY 1",
        )
        .bind(&schema)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            triggers,
            ["pm_labels_notify", "pm_prompts_notify", "pm_protected_labels_notify"],
            "the change feed's triggers"
        );

        let mut indexes: Vec<String> =
            sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname")
                .bind(&schema)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        indexes.sort();
        for expected in [
            "pm_prompts_pkey",
            "pm_prompts_status",
            "pm_versions_pkey",
            "pm_labels_pkey",
            "pm_label_events_prompt",
            "pm_tags_pkey",
            "pm_tags_prompt",
        ] {
            assert!(indexes.iter().any(|i| i == expected), "{expected} in {indexes:?}");
        }

        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{schema}\".pm_schema_migrations (version, name, applied_at) VALUES (9999, 'future', now())"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        let err = PostgresStore::connect_with_schema(&url, &schema).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                Error::Backend {
                    backend: "postgres",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            text.contains(&format!("schema `{schema}`")),
            "the error names the schema: {text}"
        );
        assert!(text.contains("schema version 9999"), "{text}");
        assert!(text.contains("upgrade prompt-manager"), "{text}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_lose_no_compare_and_set_update() {
    in_fresh_schema(|url, schema| async move {
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..2 {
            stores.push(Arc::new(
                PostgresStore::connect_with_schema(&url, &schema).await.unwrap(),
            ));
        }
        common::race_compare_and_set(stores.clone(), &id("race/counter"), 50).await;
        for _ in 0..2 {
            stores.push(Arc::new(
                PostgresStore::connect_with_schema(&url, &schema).await.unwrap(),
            ));
        }
        for round in 0..5 {
            common::race_creates(stores.clone(), &id(&format!("race/created-{round}"))).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_batches_neither_deadlock_nor_fail() {
    in_fresh_schema(|url, schema| async move {
        let a = Arc::new(PostgresStore::connect_with_schema(&url, &schema).await.unwrap());
        let b = Arc::new(PostgresStore::connect_with_schema(&url, &schema).await.unwrap());
        let (x, y) = (id("batch/x"), id("batch/y"));
        for pid in [&x, &y] {
            a.save(conformance::save_request(
                conformance::text_version(pid, "1.0.0", "start"),
                Expect::Absent,
            ))
            .await
            .unwrap();
        }
        const BATCHES: u64 = 20;
        // One writer names x then y, the other y then x: without a lock order they would deadlock.
        let tasks: Vec<_> = [(a, [x.clone(), y.clone()]), (b, [y.clone(), x.clone()])]
            .into_iter()
            .map(|(store, order)| {
                tokio::spawn(async move {
                    for _ in 0..BATCHES {
                        loop {
                            let mut batch = Vec::new();
                            for pid in &order {
                                let latest = store.load(pid, None).await.unwrap().version.clone();
                                let next = v(&format!("1.{}.0", latest.minor + 1));
                                batch.push(conformance::save_request(
                                    conformance::text_version(pid, &next.to_string(), "batch"),
                                    Expect::Version(latest),
                                ));
                            }
                            match store.save_all(batch).await {
                                Ok(_) => break,
                                Err(Error::VersionConflict { .. }) => tokio::task::yield_now().await,
                                Err(other) => panic!("a batch failed with {other} ({other:?})"),
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let check = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        for pid in [&x, &y] {
            assert_eq!(
                check.list_versions(pid).await.unwrap().len() as u64,
                1 + 2 * BATCHES,
                "every batch added one version of {pid}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn text_postgresql_cannot_hold_is_refused_and_changes_nothing() {
    in_fresh_schema(|url, schema| async move {
        let store = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        let pid = id("nul/greeting");
        let mut version = conformance::text_version(&pid, "1.0.0", "x");
        version.changelog = "before\0after".into();
        let err = store
            .save(conformance::save_request(version, Expect::Absent))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidPrompt { .. }), "{err:?}");
        assert!(err.to_string().contains("NUL"), "{err}");
        assert!(!store.exists(&pid).await.unwrap());

        // A NUL inside the template is fine: it is escaped in the stored JSON.
        let version = conformance::text_version(&pid, "1.0.0", "a\0b");
        store
            .save(SaveRequest {
                status: PromptStatus::Active,
                ..conformance::save_request(version.clone(), Expect::Absent)
            })
            .await
            .unwrap();
        assert_eq!(*store.load(&pid, None).await.unwrap(), version);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn bad_urls_and_schema_names_are_named_in_clear_errors() {
    // No server needed: these fail before or at connecting.
    for url in [
        "mysql://u@h/db",
        "postgres://u@h/db?schema=x;drop",
        "postgres://u@h/db?schema=pg_x",
    ] {
        let err = PostgresStore::connect(url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err:?}");
    }
    let err = PostgresStore::connect_with_schema("postgres://u@h/db?schema=a", "b")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("schema `a`"), "{err}");

    // Nothing listens on port 1: the error names the URL, masks the password, and says why.
    let err = PostgresStore::connect("postgres://alice:hunter2@127.0.0.1:1/prompts?schema=s")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "postgres",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!text.contains("hunter2"), "the password never shows: {text}");
    assert!(text.contains("postgres://alice:***@127.0.0.1:1/prompts"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "the reason is given: {text}");
}

/// Awaits every future, concurrently (a tiny stand-in for `futures::future::join_all`).
async fn futures_join_all<F: Future + Send + 'static>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_changed_row_is_refused_naming_the_row_and_both_hashes() {
    in_fresh_schema(|url, schema| async move {
        let store = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        conformance::tampered_version_is_refused(&store, |t| async move {
            let mut conn = raw(&url).await;
            let changed = sqlx::query(AssertSqlSafe(format!(
                "UPDATE \"{schema}\".pm_versions SET prompt = $1 WHERE prompt_id = $2 AND version = $3"
            )))
            .bind(serde_json::to_string(&t.changed_prompt()).unwrap())
            .bind(t.id.as_str())
            .bind(t.version.to_string())
            .execute(&mut conn)
            .await
            .unwrap();
            assert_eq!(changed.rows_affected(), 1);
            format!(
                "(schema `{schema}`), table pm_versions, row (prompt_id '{}', version '{}')",
                t.id, t.version
            )
        })
        .await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_edited_or_deleted_audit_row_breaks_the_chain() {
    in_fresh_schema(|url, schema| async move {
        let store = PostgresStore::connect_with_schema(&url, &schema).await.unwrap();
        conformance::audit_tampering_is_detected(&store, |t| {
            let (url, schema) = (url.clone(), schema.clone());
            async move {
                let mut conn = raw(&url).await;
                let (sql, seq) = match t {
                    conformance::AuditTamper::EditActor { seq } => {
                        ("UPDATE \"{s}\".pm_audit SET actor = 'mallory'", seq)
                    }
                    conformance::AuditTamper::Delete { seq } => ("DELETE FROM \"{s}\".pm_audit", seq),
                };
                let done = sqlx::query(AssertSqlSafe(format!("{} WHERE seq = $1", sql.replace("{s}", &schema))))
                    .bind(seq as i64)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(done.rows_affected(), 1);
            }
        })
        .await;
        store.close().await;
    })
    .await;
}

/// Writers on several stores (pools, as several instances would have) writing different prompts
/// at once keep one audit chain: every write's entries, numbered without gaps, each linked to the
/// one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_one_gap_free_audit_chain() {
    in_fresh_schema(|url, schema| async move {
        let url = with_schema(&url, &schema);
        let mut stores = Vec::new();
        for _ in 0..3 {
            stores.push(Arc::new(PostgresStore::connect(&url).await.unwrap()));
        }
        let (writers, saves) = (6, 8);
        let tasks = (0..writers).map(|w| {
            let store = Arc::clone(&stores[w % stores.len()]);
            async move {
                for i in 0..saves {
                    let pid = format!("chain/w{w}");
                    let expected = if i == 0 {
                        Expect::Absent
                    } else {
                        Expect::Version(v(&format!("1.{}.0", i - 1)))
                    };
                    store
                        .save(SaveRequest {
                            labels: vec!["production".parse().unwrap()],
                            ..conformance::save_request(
                                conformance::text_version(&pid, &format!("1.{i}.0"), "x"),
                                expected,
                            )
                        })
                        .await
                        .unwrap();
                }
            }
        });
        futures_join_all(tasks).await;
        let entries = conformance::audit_after(stores[0].as_ref(), 0).await;
        // Each save: version_created and label_set.
        assert_eq!(entries.len(), writers * saves * 2);
        assert_eq!(
            prompt_manager_core::verify_chain(&entries),
            Ok((writers * saves * 2) as u64)
        );
        for store in stores {
            store.close().await;
        }
    })
    .await;
}
