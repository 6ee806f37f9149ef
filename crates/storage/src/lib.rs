//! # prompt-manager-storage
//!
//! Storage backends of prompt-manager: implementations of the [`StorageBackend`] and
//! [`VersionStore`] traits of `prompt-manager-core`, which keep a prompt's versions, labels,
//! label history, protected labels and the audit log together so every write — with its audit
//! entries — is atomic. [`MemoryStore`] is the reference backend
//! (`memory://`); file, SQLite and PostgreSQL backends come behind features.
//!
//! With the `sqlite` feature, `SqliteStore` keeps prompts in one SQLite file (`sqlite://PATH`,
//! SQLite compiled in); with `postgres`, `PostgresStore` keeps them in a PostgreSQL database
//! (`postgres://…`, optionally in its own schema) that many instances can share. Both create
//! and migrate their schema when they open, and make every write one transaction.
//!
//! With `redis`, [`RedisCachedStore`] puts a Redis in front of any of them
//! (`redis://HOST:PORT/DB?store=URL`): a cache shared by every instance and a bus that carries
//! each write to all of them, for stores with no change feed of their own. Redis is never the
//! store of record.
//!
//! With `s3`, `S3Store` keeps prompts in an S3 bucket or an S3-compatible one
//! (`s3://BUCKET/PREFIX`): versions as immutable objects and every write a commit object
//! created only if absent, so writers anywhere never lose an update.
//!
//! With the `conformance` feature, the [`conformance`] module holds the test suite every backend
//! must pass, so a backend written elsewhere can run it too.
//!
//! With `fs`, [`lint`] checks a folder of prompt files (the dir layout, libraries, single-prompt
//! files) and says what is wrong at `file:line:column`, asking the engine it is given about
//! templates.
//!
//! Applications usually hold a store as `Arc<dyn Store>` and let `PromptManager` drive it; the
//! traits can also be used directly:
//!
//! ```
//! use std::sync::Arc;
//!
//! use chrono::Utc;
//! use prompt_manager_core::semver::Version;
//! use prompt_manager_core::{Authority, Expect, Prompt, PromptStatus, PromptVersion, SaveRequest, Store};
//! use prompt_manager_storage::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> prompt_manager_core::Result<()> {
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//!
//! let prompt = Prompt::text("greeting", "Hello {{ name }}!")?;
//! let version = PromptVersion {
//!     content_hash: prompt.content_hash(),
//!     prompt,
//!     version: Version::new(1, 0, 0),
//!     changelog: "Initial version".into(),
//!     author: Some("alice".into()),
//!     created_at: Utc::now(),
//!     parent: None,
//! };
//! let events = store
//!     .save(SaveRequest {
//!         version,
//!         expected: Expect::Absent, // create; fails if `greeting` exists
//!         status: PromptStatus::Draft,
//!         labels: vec!["production".parse()?],
//!         actor: Some("alice".into()),
//!         authority: Authority::User, // an administrator may move protected labels
//!     })
//!     .await?;
//! assert_eq!(events.len(), 1, "one label event: production → 1.0.0");
//!
//! let id = "greeting".parse()?;
//! assert_eq!(store.get_latest(&id).await?.version, Version::new(1, 0, 0));
//! assert_eq!(store.get_label(&id, &"production".parse()?).await?, Version::new(1, 0, 0));
//!
//! // Every write is in the audit log, hash-chained: a version created, a label set.
//! let log = store.audit(&Default::default()).await?;
//! assert_eq!(log.len(), 2);
//! assert_eq!(prompt_manager_core::verify_chain(&log), Ok(2));
//! # Ok(())
//! # }
//! ```
//!
//! [`StorageBackend`]: prompt_manager_core::StorageBackend
//! [`VersionStore`]: prompt_manager_core::VersionStore

#[cfg(feature = "fs")]
mod dir;
#[cfg(feature = "fs")]
pub mod library;
#[cfg(feature = "fs")]
pub mod lint;
mod memory;
#[cfg(feature = "redis")]
mod redis;
pub mod rules;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "fs")]
pub mod source;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "fs")]
mod yaml;

#[cfg(feature = "conformance")]
pub mod conformance;

#[cfg(feature = "fs")]
pub use dir::{AUDIT_DIR, DirStore, LABELS_FILE};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisCachedStore, RedisOptions, RedisStats, RedisUrl};
#[cfg(feature = "s3")]
pub use s3::{S3Options, S3Store, S3Url};
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;

/// The URL without its password, for messages and logs: the password of the user info
/// (`postgres://user:secret@host` → `postgres://user:***@host`, even when it holds a `/` or `@`)
/// and `password=` / `sslpassword=` parameters and the API key of an `http://` store (`key=`) are
/// masked.
///
/// ```
/// assert_eq!(
///     prompt_manager_storage::redact_url("postgres://ada:s3/cr@t@db/pm?password=x&sslmode=require"),
///     "postgres://ada:***@db/pm?password=***&sslmode=require"
/// );
/// assert_eq!(prompt_manager_storage::redact_url("http://pm:8080/?key=pm_x_y"), "http://pm:8080/?key=***");
/// // The store behind a Redis cache is masked too.
/// assert_eq!(
///     prompt_manager_storage::redact_url("redis://:pw@cache/0?ttl=60&store=http://pm/?key=k&cache=/tmp"),
///     "redis://:***@cache/0?ttl=60&store=http://pm/?key=***&cache=/tmp"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    const SECRET_PARAMS: &[&str] = &["password", "sslpassword", "key", "secret_access_key", "session_token"];
    // A `redis://…?store=URL` holds a second URL, to its end: each is masked on its own.
    if let Some(query) = url.find('?') {
        let nested = ["?store=", "&store="]
            .iter()
            .filter_map(|marker| url[query..].find(marker).map(|i| query + i + marker.len()))
            .min();
        if let Some(at) = nested {
            let marker = at - "store=".len();
            return format!("{}store={}", redact_url(&url[..marker]), redact_url(&url[at..]));
        }
    }
    // Without `://` (a typo such as `postgres:/u:pw@h`) the whole text is searched: masking
    // too much beats echoing a password.
    let start = url.find("://").map_or(0, |i| i + 3);
    let mut shown = url.to_owned();
    // The last `@` ends the user info: a password may hold `/`, `?` or `@` written unescaped.
    // (An `@` in a parameter can make this mask more than the password, never less.)
    if let Some(at) = shown.rfind('@').filter(|&at| at > start)
        && let Some(colon) = shown[start..at].find(':')
    {
        shown.replace_range(start + colon + 1..at, "***");
    }
    if let Some((base, query)) = shown.split_once('?') {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if SECRET_PARAMS.iter().any(|s| key.eq_ignore_ascii_case(s)) => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{base}?{}", pairs.join("&"));
    }
    shown
}
