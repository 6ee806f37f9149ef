//! The SQL stores, `SqliteStore` (feature `sqlite`) and `PostgresStore` (feature `postgres`),
//! and what they share: the embedded migrations and their planning, errors, and the conversion
//! of rows into models. What a write may do is decided by `crate::rules`, as for every backend.
//!
//! Reads that are the same SQL in both dialects live once, in `reads`; writes other than saves
//! in `writes`; the audit log and protected labels in `audit`. Each backend module holds the SQL
//! that differs (saves and locking, timestamps, JSON aggregation, listing, the change feed),
//! next to the code that runs it, and tells the shared code its dialect (`reads::Dialect`).
//! Apart from those three, nothing here talks to a database.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ChangeListener, ContentHash, Error, LabelEvent, LabelEventKind, LabelName, Prompt, PromptFormat, PromptId,
    PromptStatus, PromptSummary, PromptVersion, Split, VersionInfo,
};

mod audit;
#[cfg(feature = "postgres")]
mod postgres;
mod reads;
#[cfg(feature = "sqlite")]
mod sqlite;
pub(crate) mod usage;
mod writes;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// The change feed of a store ([`StorageBackend::watch`](prompt_manager_core::StorageBackend::watch)):
/// one task per store, however many caches listen (a manager's registry, a server's response
/// cache), fanning each report out to all of them. The task is aborted when the last clone of the
/// store is dropped.
#[derive(Default)]
pub(crate) struct Feed {
    listeners: Arc<Listeners>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Feed {
    /// Adds `listener`. The first one starts the feed: `run` gets the fan-out listener and
    /// returns the task's future, spawned on the caller's tokio runtime (without one there is no
    /// feed, and `false` is returned). A later one is told `lost` at once, as the feed told the
    /// others when it started: whatever it cached before may be stale.
    pub(crate) fn watch<F>(
        &self,
        listener: Arc<dyn ChangeListener>,
        run: impl FnOnce(Arc<dyn ChangeListener>) -> F,
    ) -> bool
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        self.listeners.add(Arc::clone(&listener));
        let mut task = match self.task.lock() {
            Ok(task) => task,
            Err(poisoned) => poisoned.into_inner(),
        };
        match &*task {
            Some(_) => listener.lost(),
            None => *task = Some(runtime.spawn(run(Arc::clone(&self.listeners) as Arc<dyn ChangeListener>))),
        }
        true
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let task = match self.task.get_mut() {
            Ok(task) => task,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(task) = task.take() {
            task.abort();
        }
    }
}

/// Every listener of a feed, as one.
#[derive(Default)]
struct Listeners(std::sync::RwLock<Vec<Arc<dyn ChangeListener>>>);

impl Listeners {
    fn add(&self, listener: Arc<dyn ChangeListener>) {
        match self.0.write() {
            Ok(mut all) => all.push(listener),
            Err(poisoned) => poisoned.into_inner().push(listener),
        }
    }

    fn each(&self, f: impl Fn(&dyn ChangeListener)) {
        let all = match self.0.read() {
            Ok(all) => all,
            Err(poisoned) => poisoned.into_inner(),
        };
        for listener in all.iter() {
            f(listener.as_ref());
        }
    }
}

impl ChangeListener for Listeners {
    fn changed(&self, id: &PromptId) {
        self.each(|l| l.changed(id));
    }

    fn lost(&self) {
        self.each(|l| l.lost());
    }
}

/// One step of a backend's schema, embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Its number: migrations run in increasing order, each once.
    pub(crate) version: i64,
    /// Its name, as in the file name `NNNN_name.sql`.
    pub(crate) name: &'static str,
    /// The statements.
    pub(crate) sql: &'static str,
}

/// Logs an applied migration: at info when it upgrades an existing database (an operator's
/// concern), at debug when it creates a new one (which would bury `serve`'s first lines).
pub(crate) fn log_migration(backend: &'static str, location: &str, migration: &Migration, upgrading: bool) {
    if upgrading {
        tracing::info!(
            backend,
            version = migration.version,
            name = migration.name,
            "applied migration to {location}"
        );
    } else {
        tracing::debug!(
            backend,
            version = migration.version,
            name = migration.name,
            "applied migration to {location}"
        );
    }
}

/// The migrations a database at `applied` (the highest version it recorded, `None` when fresh)
/// still needs, or an error when it was migrated by a newer build than this one.
pub(crate) fn pending_migrations<'m>(
    backend: &'static str,
    location: &str,
    applied: Option<i64>,
    known: &'m [Migration],
) -> Result<&'m [Migration], Error> {
    let newest_known = known.last().map_or(0, |m| m.version);
    let applied = applied.unwrap_or(0);
    if applied > newest_known {
        return Err(Error::backend(
            backend,
            format!(
                "{location} has schema version {applied}, but this build of prompt-manager knows only up to \
                 {newest_known}; upgrade prompt-manager (the database was left unchanged)"
            ),
        ));
    }
    let start = known.partition_point(|m| m.version <= applied);
    Ok(&known[start..])
}

/// Why a write transaction stopped: the store refused it (nothing to retry), or the driver failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A refusal to hand to the caller as it is (conflict, not found, …).
    Refused(Error),
    /// A driver error, to be named with what was being done.
    Sql(sqlx::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Refused(e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

impl Failure {
    /// The error for the caller; `doing` says what was being done, naming the prompt.
    pub(crate) fn into_error(self, backend: &'static str, doing: impl fmt::Display) -> Error {
        match self {
            Failure::Refused(e) => e,
            Failure::Sql(e) => sql_error(backend, doing, e),
        }
    }
}

/// A driver error as a backend error: what was being done, the driver's reason, and the source.
/// Driver messages name no SQL text and no password.
pub(crate) fn sql_error(backend: &'static str, doing: impl fmt::Display, e: sqlx::Error) -> Error {
    Error::backend_with(backend, format!("{doing}: {e}"), e)
}

/// Names the database in a content hash mismatch's location (`SQLite database `x.db`, table
/// pm_versions, row …`); other errors pass unchanged.
pub(crate) fn in_database(error: Error, database: &str) -> Error {
    match error {
        Error::ContentHashMismatch(mut mismatch) => {
            mismatch.location = format!("{database}, {}", mismatch.location);
            Error::ContentHashMismatch(mismatch)
        }
        other => other,
    }
}

// ----- the checks of a write (the others are in `crate::rules`) ---------------------------------

/// `updated_at` after a write at `now`: never before what it was, even if the clock went back.
pub(crate) fn advance(updated_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    updated_at.max(now)
}

// ----- values in columns ------------------------------------------------------------------------

/// The prompt of a version as the JSON text stored in its row.
pub(crate) fn prompt_json(version: &PromptVersion) -> Result<String, Error> {
    serde_json::to_string(&version.prompt).map_err(|e| Error::InvalidPrompt {
        id: version.prompt.id.to_string(),
        reason: format!("cannot be stored as JSON: {e}"),
    })
}

/// The name of a label event kind in the `kind` column.
pub(crate) fn kind_name(kind: LabelEventKind) -> &'static str {
    match kind {
        LabelEventKind::Set => "set",
        LabelEventKind::Rollback => "rollback",
        LabelEventKind::Remove => "remove",
    }
}

/// The smallest string above every string that starts with `prefix`, if there is one: `id >=
/// prefix AND id < successor` selects exactly the ids with that prefix, in byte order (which is
/// code point order for UTF-8), with an index and no LIKE escaping.
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            char::MAX => continue,
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Reads what a backend stored, naming the prompt (and version) when it is corrupt.
pub(crate) struct Decoder {
    backend: &'static str,
}

impl Decoder {
    pub(crate) const fn new(backend: &'static str) -> Self {
        Self { backend }
    }

    pub(crate) fn corrupt(&self, id: &str, what: impl fmt::Display) -> Error {
        Error::backend(self.backend, format!("prompt `{id}`: {what} (corrupt row)"))
    }

    pub(crate) fn id(&self, id: &str) -> Result<PromptId, Error> {
        PromptId::new(id).map_err(|e| self.corrupt(id, format_args!("stored id is invalid: {e}")))
    }

    pub(crate) fn version(&self, id: &str, column: &str, text: &str) -> Result<Version, Error> {
        Version::parse(text).map_err(|e| {
            self.corrupt(
                id,
                format_args!("{column} `{}` is not a semver version: {e}", text.escape_debug()),
            )
        })
    }

    pub(crate) fn optional_version(
        &self,
        id: &str,
        column: &str,
        text: Option<&str>,
    ) -> Result<Option<Version>, Error> {
        text.map(|t| self.version(id, column, t)).transpose()
    }

    pub(crate) fn label(&self, id: &str, text: &str) -> Result<LabelName, Error> {
        LabelName::new(text).map_err(|e| self.corrupt(id, format_args!("stored label is invalid: {e}")))
    }

    pub(crate) fn status(&self, id: &str, text: &str) -> Result<PromptStatus, Error> {
        PromptStatus::parse(text)
            .ok_or_else(|| self.corrupt(id, format_args!("unknown status `{}`", text.escape_debug())))
    }

    pub(crate) fn format(&self, id: &str, text: &str) -> Result<PromptFormat, Error> {
        Ok(match text {
            "text" => PromptFormat::Text,
            "chat" => PromptFormat::Chat,
            "completion" => PromptFormat::Completion,
            "instruction" => PromptFormat::Instruction,
            other => return Err(self.corrupt(id, format_args!("unknown format `{}`", other.escape_debug()))),
        })
    }

    pub(crate) fn kind(&self, id: &str, text: &str) -> Result<LabelEventKind, Error> {
        Ok(match text {
            "set" => LabelEventKind::Set,
            "rollback" => LabelEventKind::Rollback,
            "remove" => LabelEventKind::Remove,
            other => return Err(self.corrupt(id, format_args!("unknown label event kind `{}`", other.escape_debug()))),
        })
    }

    pub(crate) fn count(&self, id: &str, n: i64) -> Result<u64, Error> {
        u64::try_from(n).map_err(|_| self.corrupt(id, format_args!("negative version count {n}")))
    }

    /// A version row: the stored prompt must parse, carry the row's id and still hash to the
    /// row's content hash (a row changed after it was saved is an [`Error::ContentHashMismatch`]
    /// naming the table and the row).
    pub(crate) fn prompt_version(&self, id: &PromptId, row: VersionRow) -> Result<PromptVersion, Error> {
        let version = self.version(id, "version", &row.version)?;
        let prompt: Prompt = serde_json::from_str(&row.prompt).map_err(|e| {
            Error::backend_with(
                self.backend,
                format!("prompt `{id}` version {version}: the stored prompt is not valid: {e} (corrupt row)"),
                e,
            )
        })?;
        if prompt.id != *id {
            return Err(Error::backend(
                self.backend,
                format!(
                    "prompt `{id}` version {version}: the stored prompt has the id `{}` (corrupt row)",
                    prompt.id
                ),
            ));
        }
        let loaded = PromptVersion {
            prompt,
            version,
            changelog: row.changelog,
            author: row.author,
            created_at: row.created_at,
            parent: self.optional_version(id, "parent", row.parent.as_deref())?,
            content_hash: ContentHash(row.content_hash),
        };
        loaded.verify_content_hash(|| {
            format!(
                "table pm_versions, row (prompt_id '{id}', version '{}')",
                loaded.version
            )
        })?;
        Ok(loaded)
    }

    /// History entries, newest first by semver order (text order would put 10.0.0 before 9.0.0).
    pub(crate) fn history(&self, id: &PromptId, rows: Vec<InfoRow>) -> Result<Vec<VersionInfo>, Error> {
        let mut infos = rows
            .into_iter()
            .map(|row| {
                Ok(VersionInfo {
                    version: self.version(id, "version", &row.version)?,
                    changelog: row.changelog,
                    author: row.author,
                    created_at: row.created_at,
                    parent: self.optional_version(id, "parent", row.parent.as_deref())?,
                    content_hash: ContentHash(row.content_hash),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        infos.sort_by(|a, b| b.version.cmp(&a.version));
        Ok(infos)
    }

    /// A stored split (JSON text), checked as [`Split::new`] checks a new one.
    pub(crate) fn optional_split(&self, id: &str, what: &str, text: Option<&str>) -> Result<Option<Split>, Error> {
        text.map(|json| {
            serde_json::from_str::<Split>(json)
                .map_err(|e| self.corrupt(id, format_args!("the stored {what} is not a valid split: {e}")))
        })
        .transpose()
    }

    pub(crate) fn event(&self, id: &str, row: EventRow) -> Result<LabelEvent, Error> {
        Ok(LabelEvent {
            label: self.label(id, &row.label)?,
            from: self.optional_version(id, "label event `from`", row.from_version.as_deref())?,
            to: self.optional_version(id, "label event `to`", row.to_version.as_deref())?,
            kind: self.kind(id, &row.kind)?,
            from_split: self.optional_split(id, "label event `from_split`", row.from_split.as_deref())?,
            to_split: self.optional_split(id, "label event `to_split`", row.to_split.as_deref())?,
            actor: row.actor,
            at: row.at,
        })
    }

    pub(crate) fn summary(&self, row: SummaryRow) -> Result<PromptSummary, Error> {
        let raw_id = row.id;
        let id = self.id(&raw_id)?;
        let tags: BTreeSet<String> = match row.tags_json.as_deref() {
            None => BTreeSet::new(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| self.corrupt(&raw_id, format_args!("the stored tags are not a list of strings: {e}")))?,
        };
        let raw_labels: BTreeMap<String, String> = match row.labels_json.as_deref() {
            None => BTreeMap::new(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| self.corrupt(&raw_id, format_args!("the stored labels are not a map: {e}")))?,
        };
        let labels = raw_labels
            .iter()
            .map(|(label, version)| {
                Ok((
                    self.label(&raw_id, label)?,
                    self.version(&raw_id, "label target", version)?,
                ))
            })
            .collect::<Result<_, Error>>()?;
        let raw_protected: Vec<String> = match row.protected_json.as_deref() {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| self.corrupt(&raw_id, format_args!("the stored protected labels are not a list: {e}")))?,
        };
        let protected = raw_protected
            .iter()
            .map(|label| self.label(&raw_id, label))
            .collect::<Result<_, Error>>()?;
        let raw_splits: BTreeMap<String, Split> = match row.splits_json.as_deref() {
            None => BTreeMap::new(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| self.corrupt(&raw_id, format_args!("the stored splits are not valid: {e}")))?,
        };
        let splits = raw_splits
            .into_iter()
            .map(|(label, split): (String, Split)| Ok((self.label(&raw_id, &label)?, split)))
            .collect::<Result<_, Error>>()?;
        Ok(PromptSummary {
            status: self.status(&raw_id, &row.status)?,
            format: self.format(&raw_id, &row.format)?,
            latest_version: self.version(&raw_id, "latest version", &row.latest_version)?,
            version_count: self.count(&raw_id, row.version_count)?,
            labels,
            splits,
            protected,
            tags,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
            id,
        })
    }
}

/// A row of the versions table, as read.
pub(crate) struct VersionRow {
    pub(crate) version: String,
    pub(crate) prompt: String,
    pub(crate) changelog: String,
    pub(crate) author: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) parent: Option<String>,
    pub(crate) content_hash: String,
}

/// A row of the versions table without the prompt.
pub(crate) struct InfoRow {
    pub(crate) version: String,
    pub(crate) changelog: String,
    pub(crate) author: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) parent: Option<String>,
    pub(crate) content_hash: String,
}

/// A row of the label events table.
pub(crate) struct EventRow {
    pub(crate) label: String,
    pub(crate) from_version: Option<String>,
    pub(crate) to_version: Option<String>,
    pub(crate) from_split: Option<String>,
    pub(crate) to_split: Option<String>,
    pub(crate) kind: String,
    pub(crate) actor: Option<String>,
    pub(crate) at: DateTime<Utc>,
}

/// A prompt row with its tags and labels aggregated as JSON (a list and a map).
pub(crate) struct SummaryRow {
    pub(crate) id: String,
    pub(crate) status: String,
    pub(crate) format: String,
    pub(crate) description: Option<String>,
    pub(crate) latest_version: String,
    pub(crate) version_count: i64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) tags_json: Option<String>,
    pub(crate) labels_json: Option<String>,
    pub(crate) protected_json: Option<String>,
    pub(crate) splits_json: Option<String>,
}

/// The number of rows to ask for so that one more than `limit` tells whether a next page exists.
pub(crate) fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const KNOWN: &[Migration] = &[
        Migration {
            version: 1,
            name: "initial",
            sql: "",
        },
        Migration {
            version: 2,
            name: "more",
            sql: "",
        },
    ];

    #[test]
    fn pending_migrations_are_those_above_the_applied_version() {
        let names = |applied| {
            pending_migrations("sqlite", "db", applied, KNOWN)
                .unwrap()
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(None), ["initial", "more"]);
        assert_eq!(names(Some(1)), ["more"]);
        assert!(names(Some(2)).is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused_with_both_versions() {
        let err = pending_migrations("sqlite", "database `x.db`", Some(3), KNOWN).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("database `x.db` has schema version 3"), "{text}");
        assert!(text.contains("knows only up to 2"), "{text}");
    }

    #[test]
    fn prefix_successor_bounds_exactly_the_prefixed_strings() {
        assert_eq!(prefix_successor("support/"), Some("support0".into()));
        assert_eq!(prefix_successor("a_b%"), Some("a_b&".into()));
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("a\u{10FFFF}"), Some("b".into()));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        assert_eq!(prefix_successor("x\u{D7FF}"), Some("x\u{E000}".into()));
        let succ = prefix_successor("sub/").unwrap();
        for inside in ["sub/", "sub/a", "sub/\u{10FFFF}\u{10FFFF}"] {
            assert!(inside >= "sub/" && inside < succ.as_str(), "{inside}");
        }
        for outside in ["sub", "sub.", "sub0", "subway", "suc"] {
            assert!(!(outside >= "sub/" && outside < succ.as_str()), "{outside}");
        }
    }

    #[test]
    fn corrupt_rows_are_errors_naming_prompt_and_version() {
        let decoder = Decoder::new("sqlite");
        let id = PromptId::new("a/b").unwrap();
        let row = |version: &str, prompt: &str| VersionRow {
            version: version.into(),
            prompt: prompt.into(),
            changelog: String::new(),
            author: None,
            created_at: Utc::now(),
            parent: None,
            content_hash: String::new(),
        };
        let err = decoder.prompt_version(&id, row("1.0.0", "{not json")).unwrap_err();
        assert!(err.to_string().contains("prompt `a/b` version 1.0.0"), "{err}");
        let err = decoder.prompt_version(&id, row("one", "{}")).unwrap_err();
        assert!(
            err.to_string().contains("prompt `a/b`: version `one` is not a semver"),
            "{err}"
        );
        let other = serde_json::to_string(&Prompt::text("c", "x").unwrap()).unwrap();
        let err = decoder.prompt_version(&id, row("1.0.0", &other)).unwrap_err();
        assert!(err.to_string().contains("has the id `c`"), "{err}");
    }

    #[test]
    fn history_is_newest_first_by_semver() {
        let row = |v: &str| InfoRow {
            version: v.into(),
            changelog: String::new(),
            author: None,
            created_at: Utc::now(),
            parent: None,
            content_hash: String::new(),
        };
        let id = PromptId::new("a").unwrap();
        let history = Decoder::new("sqlite")
            .history(&id, vec![row("9.0.0"), row("10.0.0"), row("10.0.0-rc.1"), row("1.2.3")])
            .unwrap();
        let order: Vec<String> = history.iter().map(|i| i.version.to_string()).collect();
        assert_eq!(order, ["10.0.0", "10.0.0-rc.1", "9.0.0", "1.2.3"]);
    }
}
