//! YAML libraries: many prompts in one file, to import into a store and to export from one.
//!
//! ```yaml
//! prompts:
//!   - id: greeting                 # the prompt's fields, as in a version file …
//!     template: Hello {{ name }}!
//!     metadata: { tags: [onboarding] }
//!     version: 1.0.0               # … and optional entry fields: version, labels, status,
//!     labels: [production]         #     changelog, author, created_at
//!   - id: support/triage
//!     format: chat
//!     template:
//!       - { role: system, content: "You triage tickets for {{ product }}." }
//!       - { placeholder: history }
//! ```
//!
//! An entry without `version` becomes 1.0.0 for a new prompt, the next minor version when its
//! content differs from the prompt's latest, and nothing when it is the same. Several entries may
//! name the same id: they are versions in order (an export with every version reads like that).
//!
//! [`plan_import`] checks a whole library against a store before anything is written; the plan
//! is then saved with one [`StorageBackend::save_all`](prompt_manager_core::StorageBackend::save_all),
//! so one bad entry refuses the whole file and the store is unchanged. Errors name the file,
//! the entry's line and column, and the prompt.
//!
//! [`read_text_file`] is how prompt-manager reads any file a user hands it (libraries, prompt
//! files, `--vars` files, config and keys files): regular files only, at most [`MAX_FILE_BYTES`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ContentHash, Error, Expect, LabelName, ListQuery, NotFound, Prompt, PromptId, PromptStatus, PromptVersion, Result,
    SaveRequest, Store,
};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::yaml;

/// One prompt version of a library.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryEntry {
    /// The content.
    pub prompt: Prompt,
    /// The version number; see the [module documentation](self) when `None`.
    pub version: Option<Version>,
    /// Labels to point at this version.
    pub labels: Vec<LabelName>,
    /// The status of a prompt this entry creates (`draft` when `None`).
    pub status: Option<PromptStatus>,
    /// The changelog (`imported` when empty).
    pub changelog: String,
    /// Who wrote it.
    pub author: Option<String>,
    /// When it was written (the import's time when `None`).
    pub created_at: Option<DateTime<Utc>>,
    /// Where the entry starts in its file, 1-based `(line, column)`; `(0, 0)` when not from a file.
    pub position: (usize, usize),
}

impl LibraryEntry {
    /// An entry for `version`, as an export writes it.
    pub fn from_version(version: &PromptVersion, labels: Vec<LabelName>, status: PromptStatus) -> Self {
        Self {
            prompt: version.prompt.clone(),
            version: Some(version.version.clone()),
            labels,
            status: Some(status),
            changelog: version.changelog.clone(),
            author: version.author.clone(),
            created_at: Some(version.created_at),
            position: (0, 0),
        }
    }
}

/// The fields an entry has besides the prompt's.
const ENTRY_FIELDS: [&str; 6] = ["version", "labels", "status", "changelog", "author", "created_at"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LibraryIn {
    #[serde(default)]
    prompts: Vec<Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFields {
    version: Option<Version>,
    #[serde(default)]
    labels: Vec<LabelName>,
    status: Option<PromptStatus>,
    #[serde(default)]
    changelog: String,
    author: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct LibraryOut<'a> {
    prompts: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    id: &'a PromptId,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a Version>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    labels: &'a [LabelName],
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<PromptStatus>,
    #[serde(skip_serializing_if = "str::is_empty")]
    changelog: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    prompt: serde_json::Map<String, serde_json::Value>,
}

/// Parses a library; `file` names it in errors. Every entry is checked (its id, its fields,
/// its prompt) and the first problem is reported with the entry's line and column.
pub fn parse_library(text: &str, file: &str) -> Result<Vec<LibraryEntry>> {
    let library: LibraryIn = yaml::parse(text, file)?;
    let mut seen = BTreeSet::new();
    library
        .prompts
        .into_iter()
        .enumerate()
        .map(|(index, spanned)| {
            let position = (spanned.referenced.line() as usize, spanned.referenced.column() as usize);
            let entry = parse_entry(spanned.value, position)
                .map_err(|(name, message)| entry_error(file, position, index, name.as_deref(), message))?;
            if let Some(version) = &entry.version
                && !seen.insert((entry.prompt.id.clone(), version.clone()))
            {
                return Err(entry_error(
                    file,
                    position,
                    index,
                    Some(entry.prompt.id.as_str()),
                    format!("version {version} appears twice in the library"),
                ));
            }
            Ok(entry)
        })
        .collect()
}

/// The most prompt-manager reads from one file it is given (a prompt file, a library, a
/// `--vars` file, a config or keys file) or from stdin: 16 MiB. A bigger library can be split
/// into several files of a folder.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a user's file as text: a regular file (a symlink to one is followed) of at most
/// [`MAX_FILE_BYTES`], in UTF-8.
///
/// Anything else is refused before it is opened: a folder, a FIFO (opening one would wait for
/// a writer), a device such as `/dev/zero` (reading one would never end), a socket. A file that
/// grows past the limit while it is read is refused too. Errors keep their [`std::io::ErrorKind`]
/// (`NotFound` stays `NotFound`, so a caller may treat a missing file as empty) and say what is
/// wrong without naming the file, for the caller to add.
pub fn read_text_file(path: &Path) -> std::io::Result<String> {
    // Checked on the path first: opening a FIFO blocks. Checked again on the open handle, in
    // case the path was replaced in between.
    let refuse_special = |metadata: &std::fs::Metadata| {
        if metadata.is_file() {
            return Ok(());
        }
        let (kind, what) = if metadata.is_dir() {
            (std::io::ErrorKind::IsADirectory, "a folder")
        } else {
            (std::io::ErrorKind::InvalidInput, special_file_kind(metadata))
        };
        Err(std::io::Error::new(
            kind,
            format!("it is {what}, not a regular file; prompt-manager reads regular files only"),
        ))
    };
    refuse_special(&std::fs::metadata(path)?)?;
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    refuse_special(&metadata)?;
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(Some(metadata.len())));
    }
    read_text(file)
}

/// Reads text from `reader` (stdin, an open file) up to [`MAX_FILE_BYTES`], with the errors of
/// [`read_text_file`].
pub fn read_text(reader: impl std::io::Read) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(None));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

fn too_large(size: Option<u64>) -> std::io::Error {
    const MIB: u64 = 1024 * 1024;
    let size = size.map_or_else(String::new, |s| format!(" ({:.1} MiB)", s as f64 / MIB as f64));
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!(
            "it is larger{size} than {} MiB, the most prompt-manager reads from one file; split it into smaller files",
            MAX_FILE_BYTES / MIB
        ),
    )
}

/// What a file that is neither a regular file nor a folder is, in words.
fn special_file_kind(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let kind = metadata.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    let _ = metadata;
    "a special file"
}

/// Reads and parses the library file at `path` (see [`read_text_file`]).
pub fn read_library(path: &Path) -> Result<Vec<LibraryEntry>> {
    let file = path.display().to_string();
    let text = read_text_file(path).map_err(|e| Error::InvalidFile {
        file: file.clone(),
        line: None,
        column: None,
        message: format!("cannot read it: {e}"),
    })?;
    parse_library(&text, &file)
}

fn parse_entry(
    value: serde_json::Value,
    position: (usize, usize),
) -> std::result::Result<LibraryEntry, (Option<String>, String)> {
    let serde_json::Value::Object(mut map) = value else {
        return Err((
            None,
            "an entry must be a mapping with at least `id` and `template`".into(),
        ));
    };
    let name = map.get("id").and_then(|v| v.as_str()).map(str::to_owned);
    let mut fields = serde_json::Map::new();
    for key in ENTRY_FIELDS {
        if let Some(value) = map.remove(key) {
            fields.insert(key.to_owned(), value);
        }
    }
    let fields: EntryFields =
        serde_json::from_value(serde_json::Value::Object(fields)).map_err(|e| (name.clone(), e.to_string()))?;
    let prompt: Prompt =
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| (name.clone(), e.to_string()))?;
    Ok(LibraryEntry {
        prompt,
        version: fields.version,
        labels: fields.labels,
        status: fields.status,
        changelog: fields.changelog,
        author: fields.author,
        created_at: fields.created_at,
        position,
    })
}

/// One entry from its value, with errors as [`parse_library`] reports them (see [`crate::source`]).
pub(crate) fn parse_one_entry(
    value: serde_json::Value,
    file: &str,
    index: usize,
    position: (usize, usize),
) -> Result<LibraryEntry> {
    parse_entry(value, position).map_err(|(name, message)| entry_error(file, position, index, name.as_deref(), message))
}

fn entry_error(file: &str, position: (usize, usize), index: usize, name: Option<&str>, message: String) -> Error {
    let what = match name {
        Some(name) => format!("entry {} (`{name}`)", index + 1),
        None => format!("entry {}", index + 1),
    };
    Error::InvalidFile {
        file: file.to_owned(),
        line: (position.0 > 0).then_some(position.0),
        column: (position.1 > 0).then_some(position.1),
        message: format!("{what}: {message}"),
    }
}

/// Writes entries as a library (stable field order, templates as `|` blocks).
pub fn render_library(entries: &[LibraryEntry]) -> Result<String> {
    let prompts = entries
        .iter()
        .map(|entry| {
            let mut prompt = match serde_json::to_value(&entry.prompt) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => serde_json::Map::new(),
                Err(e) => {
                    return Err(Error::backend_with(
                        "library",
                        format!("cannot write `{}`", entry.prompt.id),
                        e,
                    ));
                }
            };
            prompt.remove("id");
            Ok(EntryOut {
                id: &entry.prompt.id,
                version: entry.version.as_ref(),
                labels: &entry.labels,
                status: entry.status,
                changelog: &entry.changelog,
                author: entry.author.as_deref(),
                created_at: entry.created_at,
                prompt,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let body = yaml::render(&LibraryOut { prompts }, "the library")?;
    Ok(format!(
        "# A prompt-manager library: prompts with their versions and labels.\n{body}"
    ))
}

/// Writes `entries` as a library file at `path`, atomically and durably (a temporary file
/// renamed into place): a reader never sees half a library.
pub fn write_library(path: &Path, entries: &[LibraryEntry]) -> Result<()> {
    let text = render_library(entries)?;
    crate::dir::files::write_atomic(path, text.as_bytes())
}

/// What an import will do.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// The versions to save, in order, as one batch.
    pub requests: Vec<SaveRequest>,
    /// Entries already in the store with the same content: `(id, version)`.
    pub unchanged: Vec<(PromptId, Version)>,
}

/// Checks every entry against `store` and the entries before it, and returns the saves to make.
/// Nothing is written. Errors name `file` and the entry's line and column.
///
/// Each save is a compare-and-set on the latest version seen here, so a write that lands
/// between planning and saving makes the whole batch fail rather than overwrite it.
pub async fn plan_import(
    store: &dyn Store,
    entries: Vec<LibraryEntry>,
    file: &str,
    actor: Option<&str>,
) -> Result<ImportPlan> {
    /// What the store and the entries before this one hold of a prompt.
    #[derive(Default)]
    struct Known {
        latest: Option<Version>,
        hashes: BTreeMap<Version, ContentHash>,
    }
    let now = Utc::now();
    let mut known: BTreeMap<PromptId, Known> = BTreeMap::new();
    let mut plan = ImportPlan::default();
    for (index, entry) in entries.into_iter().enumerate() {
        let id = entry.prompt.id.clone();
        let fail = |message: String| entry_error(file, entry.position, index, Some(id.as_str()), message);
        entry.prompt.validate().map_err(|e| fail(e.to_string()))?;
        if !known.contains_key(&id) {
            let mut state = Known::default();
            match store.list_versions(&id).await {
                Ok(versions) => {
                    for info in versions {
                        state.latest = state.latest.max(Some(info.version.clone()));
                        state.hashes.insert(info.version, info.content_hash);
                    }
                }
                Err(Error::NotFound(NotFound::Prompt(_))) => {}
                Err(e) => return Err(e),
            }
            known.insert(id.clone(), state);
        }
        let Some(state) = known.get_mut(&id) else {
            continue; // inserted just above
        };
        let hash = entry.prompt.content_hash();
        let number = match (&entry.version, &state.latest) {
            // Without a number, content the prompt already has is that version: importing the
            // same library twice changes nothing.
            (None, _) if let Some((v, _)) = state.hashes.iter().find(|(_, h)| **h == hash) => {
                plan.unchanged.push((id.clone(), v.clone()));
                continue;
            }
            (None, None) => Version::new(1, 0, 0),
            (None, Some(latest)) => Version::new(latest.major, latest.minor + 1, 0),
            (Some(v), Some(latest)) if v <= latest => match state.hashes.get(v) {
                Some(existing) if *existing == hash => {
                    plan.unchanged.push((id.clone(), v.clone()));
                    continue;
                }
                Some(_) => {
                    return Err(fail(format!(
                        "version {v} already exists with different content; versions are immutable, \
                         so give this entry a new version"
                    )));
                }
                None => {
                    return Err(fail(format!(
                        "version {v} is not above the prompt's latest version {latest}"
                    )));
                }
            },
            (Some(v), _) => v.clone(),
        };
        let current = state.latest.replace(number.clone());
        state.hashes.insert(number.clone(), hash.clone());
        let expected = current.clone().map_or(Expect::Absent, Expect::Version);
        let parent = current;
        plan.requests.push(SaveRequest {
            version: PromptVersion {
                prompt: entry.prompt,
                version: number,
                changelog: if entry.changelog.is_empty() {
                    "imported".into()
                } else {
                    entry.changelog
                },
                author: entry.author.or_else(|| actor.map(str::to_owned)),
                created_at: entry.created_at.unwrap_or(now),
                parent,
                content_hash: hash,
            },
            expected,
            status: entry.status.unwrap_or_default(),
            labels: entry.labels,
            actor: actor.map(str::to_owned),
            // An import moves no protected label: the plan's caller may raise this.
            authority: prompt_manager_core::Authority::User,
        });
    }
    Ok(plan)
}

/// Every prompt of `store` as library entries, oldest version first.
///
/// With `all_versions`, every version; otherwise the latest version and every version a label
/// points to, so the labels keep working where the library is imported.
pub async fn export_entries(store: &dyn Store, query: &ListQuery, all_versions: bool) -> Result<Vec<LibraryEntry>> {
    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list(&ListQuery {
                cursor: cursor.take(),
                limit: Some(500),
                ..query.clone()
            })
            .await?;
        for summary in &page.items {
            let mut numbers: BTreeSet<Version> = summary.labels.values().cloned().collect();
            numbers.insert(summary.latest_version.clone());
            if all_versions {
                numbers.extend(store.list_versions(&summary.id).await?.into_iter().map(|v| v.version));
            }
            for number in numbers {
                let version = store.load(&summary.id, Some(&number)).await?;
                let labels = summary
                    .labels
                    .iter()
                    .filter(|(_, target)| **target == number)
                    .map(|(label, _)| label.clone())
                    .collect();
                entries.push(LibraryEntry::from_version(&version, labels, summary.status));
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(entries),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::MemoryStore;
    use prompt_manager_core::StorageBackend;

    const LIBRARY: &str = "\
prompts:
  - id: greeting
    template: Hello {{ name }}!
    labels: [production]
  - id: support/triage
    format: chat
    version: 2.0.0
    template:
      - { role: system, content: 'You triage tickets for {{ product }}.' }
      - { placeholder: history }
";

    #[test]
    fn item_04_only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let regular = dir.path().join("a.yaml");
        std::fs::write(&regular, "id: a\n").unwrap();
        assert_eq!(read_text_file(&regular).unwrap(), "id: a\n");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.yaml");
            std::os::unix::fs::symlink(&regular, &link).unwrap();
            assert_eq!(
                read_text_file(&link).unwrap(),
                "id: a\n",
                "a symlink to a regular file is followed"
            );
            let zero = dir.path().join("zero.yaml");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            let err = read_text_file(&zero).unwrap_err();
            assert!(err.to_string().contains("a device, not a regular file"), "{err}");
            let fifo = dir.path().join("fifo.yaml");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success());
            let err = read_text_file(&fifo).unwrap_err();
            assert!(err.to_string().contains("a FIFO, not a regular file"), "{err}");
        }
        let err = read_text_file(dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::IsADirectory);
        let big = dir.path().join("big.yaml");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let err = read_text_file(&big).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("than 16 MiB"), "{err}");
        let err = read_text(std::io::repeat(b'a')).unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::FileTooLarge,
            "an endless stream stops at the limit"
        );
        let missing = read_text_file(&dir.path().join("missing.yaml")).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        std::fs::write(&regular, b"\xff\xfe").unwrap();
        assert_eq!(
            read_text_file(&regular).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
        let err = read_library(&big).unwrap_err();
        assert!(err.to_string().contains("cannot read it: it is larger"), "{err}");
    }

    #[test]
    fn parses_entries_with_their_positions() {
        let entries = parse_library(LIBRARY, "lib.yaml").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].prompt.id.as_str(), "greeting");
        assert_eq!(entries[0].labels, [LabelName::new("production").unwrap()]);
        assert_eq!(entries[0].position, (2, 5));
        assert_eq!(entries[1].version, Some(Version::new(2, 0, 0)));
        assert_eq!(entries[1].position.0, 5);
    }

    #[test]
    fn a_bad_entry_is_named_with_its_line_and_column() {
        let text = LIBRARY.replace("id: support/triage", "id: support/../triage");
        let err = parse_library(&text, "lib.yaml").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("lib.yaml:5:5: entry 2 (`support/../triage`): "),
            "{message}"
        );
        assert!(message.contains("segment 2 is `..`"), "{message}");

        let text = LIBRARY.replace("labels: [production]", "labels: [Production]");
        let err = parse_library(&text, "lib.yaml").unwrap_err().to_string();
        assert!(err.starts_with("lib.yaml:2:5: entry 1 (`greeting`): "), "{err}");

        let err = parse_library("prompts:\n  - just a string\n", "lib.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("lib.yaml:2:5: entry 1: an entry must be a mapping"),
            "{err}"
        );

        let err = parse_library("prompts: [\n", "lib.yaml").unwrap_err();
        assert!(matches!(err, Error::InvalidFile { line: Some(_), .. }), "{err:?}");
    }

    #[test]
    fn render_then_parse_is_the_identity() {
        let entries = parse_library(LIBRARY, "lib.yaml").unwrap();
        let text = render_library(&entries).unwrap();
        let back = parse_library(&text, "again.yaml").unwrap();
        assert_eq!(back.len(), entries.len());
        for (a, b) in entries.iter().zip(&back) {
            assert_eq!((&a.prompt, &a.version, &a.labels), (&b.prompt, &b.version, &b.labels));
        }
        assert!(text.contains("- id: greeting\n"), "{text}");
    }

    #[tokio::test]
    async fn planning_numbers_versions_and_skips_what_is_there() {
        let store = MemoryStore::new();
        let entries = parse_library(LIBRARY, "lib.yaml").unwrap();
        let plan = plan_import(&store, entries.clone(), "lib.yaml", Some("importer"))
            .await
            .unwrap();
        assert_eq!(plan.requests.len(), 2);
        assert_eq!(plan.requests[0].version.version, Version::new(1, 0, 0));
        assert_eq!(plan.requests[1].version.version, Version::new(2, 0, 0));
        store.save_all(plan.requests).await.unwrap();

        // The same library again changes nothing.
        let again = plan_import(&store, entries.clone(), "lib.yaml", None).await.unwrap();
        assert!(again.requests.is_empty());
        assert_eq!(again.unchanged.len(), 2);

        // A changed template without a version becomes the next minor version.
        let text = LIBRARY.replace("Hello {{ name }}!", "Hi {{ name }}!");
        let changed = parse_library(&text, "lib.yaml").unwrap();
        let plan = plan_import(&store, changed, "lib.yaml", None).await.unwrap();
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.requests[0].version.version, Version::new(1, 1, 0));
        assert_eq!(plan.requests[0].expected, Expect::Version(Version::new(1, 0, 0)));

        // Changed content under an existing version number is refused, naming the entry.
        let text = LIBRARY.replace("{{ product }}", "{{ team }}");
        let clash = parse_library(&text, "lib.yaml").unwrap();
        let err = plan_import(&store, clash, "lib.yaml", None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("lib.yaml:5:5: entry 2 (`support/triage`): version 2.0.0 already exists"),
            "{err}"
        );
    }
}
