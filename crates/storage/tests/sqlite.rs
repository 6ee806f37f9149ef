//! The SQLite store (`sqlite://`): the conformance suite, persistence across reopening, the
//! embedded migrations, its pragmas, races between two handles on one file, and clear errors for
//! bad paths and corrupt rows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{id, v};
use prompt_manager_core::{Error, ErrorKind, ListQuery, NotFound, StorageBackend, Store, VersionStore};
use prompt_manager_storage::SqliteStore;
use prompt_manager_storage::conformance;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("prompts.db")).await.unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn item_06_a_long_tag_filter_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("prompts.db")).await.unwrap();
    conformance::long_filters_are_refused_and_many_tags_are_one_query(&store).await;
}

#[tokio::test]
async fn item_09_one_id_grammar_for_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("prompts.db")).await.unwrap();
    conformance::ids_like_store_files_are_held_or_refused_alike(&store).await;
}

#[tokio::test]
async fn the_suite_runs_twice_on_one_file_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let store = SqliteStore::open(&path).await.unwrap();
    conformance::run_all(&store).await;
    store.close().await;
    drop(store);
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn everything_written_is_there_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let pid = id("persist/greeting");
    let store = SqliteStore::open(&path).await.unwrap();
    let before = common::write_fixture(&store, &pid).await;
    // Dropped without close: what was acknowledged is on disk.
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(common::snapshot(&store, &pid).await, before);
    assert_eq!(before.versions.len(), 2);
    assert_eq!(before.history.len(), 4, "{:#?}", before.history);
    assert_eq!(
        store.list(&ListQuery::default()).await.unwrap().items,
        std::slice::from_ref(&before.summary)
    );
}

#[tokio::test]
async fn migrations_run_once_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    for _ in 0..3 {
        SqliteStore::open(&path).await.unwrap().close().await;
    }
    let mut conn = raw(&path).await;
    let applied: Vec<(i64, String)> = sqlx::query_as("SELECT version, name FROM pm_schema_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        applied,
        [
            (1, "initial".to_owned()),
            (2, "change_log".to_owned()),
            (3, "governance".to_owned()),
            (4, "splits".to_owned())
        ],
        "each migration is recorded once"
    );

    sqlx::query("INSERT INTO pm_schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Backend { backend: "sqlite", .. }), "{err:?}");
    assert!(
        text.contains(&path.display().to_string()),
        "the error names the file: {text}"
    );
    assert!(text.contains("schema version 9999"), "{text}");
    assert!(text.contains("upgrade prompt-manager"), "{text}");
}

#[tokio::test]
async fn two_stores_opening_a_new_file_at_once_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let (a, b) = tokio::join!(SqliteStore::open(&path), SqliteStore::open(&path));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut conn = raw(&path).await;
    let (count, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT version) FROM pm_schema_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((count, distinct), (4, 4), "each of the four migrations is applied once");
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn the_file_is_in_wal_mode_with_foreign_keys_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut conn = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");

    // Deleting a prompt removes its versions, labels, events and tags through the cascades,
    // which SQLite applies only with foreign_keys on (the store's connections have it).
    let pid = id("cascade/greeting");
    common::write_fixture(&store, &pid).await;
    store.delete(&pid, conformance::deletion()).await.unwrap();
    for table in ["pm_versions", "pm_labels", "pm_label_events", "pm_tags"] {
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "{table} keeps nothing of a deleted prompt");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_lose_no_compare_and_set_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let stores: Vec<Arc<dyn Store>> = vec![
        Arc::new(SqliteStore::open(&path).await.unwrap()),
        Arc::new(SqliteStore::open(&path).await.unwrap()),
    ];
    common::race_compare_and_set(stores.clone(), &id("race/counter"), 50).await;
    common::race_creates(stores, &id("race/created")).await;
}

#[tokio::test]
async fn bad_urls_and_paths_are_named_in_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("no-such-dir").join("prompts.db");
    let err = SqliteStore::open(&missing_dir).await.unwrap_err().to_string();
    assert!(err.contains(&missing_dir.display().to_string()), "{err}");
    assert!(err.contains("does not exist"), "{err}");

    let not_a_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_a_db,
        "this is not a database, just some text that is long enough ".repeat(100),
    )
    .unwrap();
    let err = SqliteStore::open(&not_a_db).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&not_a_db.display().to_string()), "{text}");
    assert!(text.contains("not a database"), "the reason is given: {text}");

    for url in [
        "postgres://x",
        "sqlite://",
        "sqlite://:memory:",
        "sqlite://./a.db?mode=ro",
    ] {
        let err = SqliteStore::connect(url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err:?}");
        assert!(err.to_string().contains(url), "{url}: {err}");
    }

    let relative = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("ok.db").display()))
        .await
        .unwrap();
    assert!(relative.path().ends_with("ok.db"));
}

#[tokio::test]
async fn corrupt_rows_are_backend_errors_naming_the_prompt_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let pid = id("corrupt/greeting");
    common::write_fixture(&store, &pid).await;
    let mut conn = raw(&path).await;

    sqlx::query("UPDATE pm_versions SET prompt = '{\"id\": ' WHERE prompt_id = $1 AND version = '1.0.0'")
        .bind(pid.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    let err = store.load(&pid, Some(&v("1.0.0"))).await.unwrap_err();
    assert!(matches!(err, Error::Backend { backend: "sqlite", .. }), "{err:?}");
    assert!(
        err.to_string().contains("prompt `corrupt/greeting` version 1.0.0"),
        "{err}"
    );

    sqlx::query("UPDATE pm_versions SET parent = 'one point oh' WHERE prompt_id = $1")
        .bind(pid.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    let err = store.list_versions(&pid).await.unwrap_err();
    assert!(
        err.to_string().contains("`one point oh` is not a semver version"),
        "{err}"
    );

    sqlx::query("UPDATE pm_prompts SET status = 'frozen', updated_at = 'soon' WHERE id = $1")
        .bind(pid.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    for err in [
        store.summary(&pid).await.unwrap_err(),
        store.list(&ListQuery::default()).await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::Backend { .. }), "{err:?}");
        assert!(err.to_string().contains("corrupt/greeting"), "{err}");
    }

    // Other prompts are unaffected.
    let err = store.load(&id("corrupt/other"), None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(NotFound::Prompt(_))), "{err:?}");
}

#[tokio::test]
async fn a_changed_row_is_refused_naming_the_row_and_both_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let store = SqliteStore::open(&path).await.unwrap();
    conformance::tampered_version_is_refused(&store, |t| async move {
        let mut conn = raw(&path).await;
        let changed = sqlx::query("UPDATE pm_versions SET prompt = $1 WHERE prompt_id = $2 AND version = $3")
            .bind(serde_json::to_string(&t.changed_prompt()).unwrap())
            .bind(t.id.as_str())
            .bind(t.version.to_string())
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        format!(
            "SQLite database `{}`, table pm_versions, row (prompt_id '{}', version '{}')",
            path.display(),
            t.id,
            t.version
        )
    })
    .await;
}

#[tokio::test]
async fn an_edited_or_deleted_audit_row_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    let store = SqliteStore::open(&path).await.unwrap();
    conformance::audit_tampering_is_detected(&store, |t| {
        let path = path.clone();
        async move {
            let mut conn = raw(&path).await;
            let done = match t {
                conformance::AuditTamper::EditActor { seq } => {
                    sqlx::query("UPDATE pm_audit SET actor = 'mallory' WHERE seq = $1")
                        .bind(seq as i64)
                        .execute(&mut conn)
                        .await
                }
                conformance::AuditTamper::Delete { seq } => {
                    sqlx::query("DELETE FROM pm_audit WHERE seq = $1")
                        .bind(seq as i64)
                        .execute(&mut conn)
                        .await
                }
            };
            assert_eq!(done.unwrap().rows_affected(), 1);
        }
    })
    .await;
    store.close().await;
}

#[tokio::test]
async fn a_database_from_before_governance_gains_it_when_opened() {
    // A file at schema version 2 (what the previous release wrote), with a prompt in it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    std::fs::File::create(&path).unwrap();
    let mut conn = raw(&path).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        "CREATE TABLE pm_schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TEXT NOT NULL)"
            .to_owned(),
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for (n, name) in [(1, "initial"), (2, "change_log")] {
        let sql = std::fs::read_to_string(root.join(format!("{n:04}_{name}.sql"))).unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO pm_schema_migrations VALUES ($1, $2, '2025-01-01T00:00:00.000000Z')")
            .bind(n)
            .bind(name)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let old = conformance::text_version("legacy/greeting", "1.0.0", "Hello");
    sqlx::query(
        "INSERT INTO pm_prompts VALUES ('legacy/greeting', 'active', 'text', NULL, '1.0.0', 1, \
         '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO pm_versions VALUES ('legacy/greeting', '1.0.0', $1, '', NULL, '2025-01-01T00:00:00.000000Z', \
         NULL, $2)",
    )
    .bind(serde_json::to_string(&old.prompt).unwrap())
    .bind(old.content_hash.0.as_str())
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let pid = id("legacy/greeting");
    let summary = store.summary(&pid).await.unwrap();
    assert!(summary.protected.is_empty(), "no label is protected yet");
    assert!(
        conformance::audit_after(&store, 0).await.is_empty(),
        "the log starts empty"
    );
    store
        .save(conformance::save_request(
            conformance::text_version("legacy/greeting", "1.1.0", "Hi"),
            prompt_manager_core::Expect::Version(v("1.0.0")),
        ))
        .await
        .unwrap();
    let log = conformance::audit_after(&store, 0).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].seq, 1);
    assert_eq!(prompt_manager_core::verify_chain(&log), Ok(1));
    store.close().await;
}

#[tokio::test]
async fn a_database_from_before_splits_gains_them_when_opened() {
    // A file at schema version 3 (before A/B splits), with a labelled prompt and its history.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompts.db");
    std::fs::File::create(&path).unwrap();
    let mut conn = raw(&path).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        "CREATE TABLE pm_schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TEXT NOT NULL)"
            .to_owned(),
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for (n, name) in [(1, "initial"), (2, "change_log"), (3, "governance")] {
        let sql = std::fs::read_to_string(root.join(format!("{n:04}_{name}.sql"))).unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO pm_schema_migrations VALUES ($1, $2, '2025-01-01T00:00:00.000000Z')")
            .bind(n)
            .bind(name)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let mut statements = vec![
        "INSERT INTO pm_prompts VALUES ('legacy/greeting', 'active', 'text', NULL, '1.1.0', 2, \
         '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')"
            .to_owned(),
        "INSERT INTO pm_labels VALUES ('legacy/greeting', 'production', '1.0.0')".to_owned(),
        "INSERT INTO pm_label_events (prompt_id, label, from_version, to_version, kind, actor, at) \
         VALUES ('legacy/greeting', 'production', NULL, '1.0.0', 'set', 'old', '2025-01-01T00:00:00.000000Z')"
            .to_owned(),
    ];
    for (number, text) in [("1.0.0", "Hello"), ("1.1.0", "Hi")] {
        let old = conformance::text_version("legacy/greeting", number, text);
        statements.insert(
            1,
            format!(
                "INSERT INTO pm_versions VALUES ('legacy/greeting', '{number}', '{}', '', NULL, \
                 '2025-01-01T00:00:00.000000Z', NULL, '{}')",
                serde_json::to_string(&old.prompt).unwrap().replace('\'', "''"),
                old.content_hash.0
            ),
        );
    }
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let pid = id("legacy/greeting");
    let summary = store.summary(&pid).await.unwrap();
    assert!(summary.splits.is_empty(), "old labels are one-version labels");
    assert_eq!(
        summary
            .labels
            .get(&prompt_manager_core::LabelName::new("production").unwrap()),
        Some(&v("1.0.0"))
    );
    let history = store.label_history(&pid, None).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].from_split.as_ref(), history[0].to_split.as_ref()),
        (None, None)
    );
    let split: prompt_manager_core::Split = "1.0.0=90 1.1.0=10".parse().unwrap();
    store
        .assign_label(
            &pid,
            prompt_manager_core::AssignmentChange {
                label: prompt_manager_core::LabelName::new("production").unwrap(),
                to: Some(prompt_manager_core::LabelTarget::Split(split.clone())),
                expected: prompt_manager_core::ExpectTarget::Is(prompt_manager_core::LabelTarget::Version(v("1.0.0"))),
                kind: prompt_manager_core::LabelEventKind::Set,
                actor: None,
                authority: prompt_manager_core::Authority::User,
            },
        )
        .await
        .unwrap()
        .expect("the label changed");
    store.close().await;
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        reopened
            .summary(&pid)
            .await
            .unwrap()
            .splits
            .get(&prompt_manager_core::LabelName::new("production").unwrap()),
        Some(&split),
        "the split survives reopening"
    );
    reopened.close().await;
}
