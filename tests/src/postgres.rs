//! A fresh PostgreSQL schema per test, from `PROMPT_MANAGER_TEST_POSTGRES_URL`, dropped at the end.

use std::time::{SystemTime, UNIX_EPOCH};

/// A test's own schema: [`TestSchema::url`] opens a store in it; dropping the value drops the
/// schema (best effort: a failure is printed, never a panic).
#[derive(Debug)]
pub struct TestSchema {
    base: String,
    schema: String,
    url: String,
}

impl TestSchema {
    /// A new schema on the database `PROMPT_MANAGER_TEST_POSTGRES_URL` names; `None` (with a
    /// notice on stderr) when it is unset. With `PROMPT_MANAGER_REQUIRE_SERVICES=1` an unset
    /// URL panics instead, so CI fails rather than skips.
    pub fn new(test: &str) -> Option<Self> {
        let Ok(base) = std::env::var("PROMPT_MANAGER_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("PROMPT_MANAGER_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{test}: PROMPT_MANAGER_TEST_POSTGRES_URL is not set, and PROMPT_MANAGER_REQUIRE_SERVICES=1"
            );
            eprintln!("{test}: skipped; set PROMPT_MANAGER_TEST_POSTGRES_URL (postgres://user@host/db) to run it");
            return None;
        };
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let schema = format!("pm_test_{}_{nanos}", std::process::id());
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}schema={schema}");
        Some(Self { base, schema, url })
    }

    /// The store URL of the schema.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let dropped = (|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&self.base)
                    .await?;
                // The name is ours (`pm_test_<pid>_<nanos>`), not input.
                let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
                pool.close().await;
                Ok::<_, anyhow::Error>(())
            })
        })();
        if let Err(e) = dropped {
            eprintln!("could not drop the test schema `{}`: {e}", self.schema);
        }
    }
}
