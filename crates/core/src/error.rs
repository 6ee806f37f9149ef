//! The one error type of prompt-manager, and the kinds callers act on.
//!
//! Every variant says what went wrong and where (which prompt, which version, which line).
//! Backends map their driver errors onto [`Error::Backend`] and keep the source.

use std::fmt;

use semver::Version;

use crate::id::{LabelName, PromptId};
use crate::model::{ContentHash, PromptStatus, VariableType};

/// A specialised `Result` for prompt-manager.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in prompt-manager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A prompt id is malformed.
    #[error("invalid prompt id `{input}`: {reason}")]
    InvalidId {
        /// The rejected input (shortened when huge).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A label name is malformed.
    #[error("invalid label `{input}`: {reason}")]
    InvalidLabel {
        /// The rejected input.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A reference (`id`, `id@1.2.0`, `id@^1`, `id@production`) is malformed.
    #[error("invalid reference `{input}`: {reason}")]
    InvalidReference {
        /// The rejected input.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The filters of a listing are out of bounds (too many tags, a tag or prefix longer than
    /// any stored one can be).
    #[error("invalid list query: {reason}")]
    InvalidQuery {
        /// What is wrong, naming the filter.
        reason: String,
    },
    /// A prompt's content breaks a rule (format and template disagree, a bad tag, …).
    #[error("invalid prompt `{id}`: {reason}")]
    InvalidPrompt {
        /// The prompt.
        id: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A file (a prompt file, a library, a store's own file) cannot be read as what it should hold.
    /// The message says what is wrong; line and column are 1-based, when known.
    #[error("{file}{}: {message}", show_position(*.line, *.column))]
    InvalidFile {
        /// The file, as the user named it (or a description such as `library entry 3`).
        file: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A prompt, version or label does not exist.
    #[error("{0}")]
    NotFound(NotFound),
    /// A prompt with this id already exists.
    #[error("prompt `{id}` already exists; use update to add a version")]
    AlreadyExists {
        /// The prompt.
        id: PromptId,
    },
    /// A compare-and-set write lost a race: someone else changed the prompt first. Nothing was written.
    #[error("version conflict on `{id}`: expected the current {what} to be {}, but it is {}; nothing was written — reload and retry", show_opt(.expected), show_opt(.actual))]
    VersionConflict {
        /// The prompt.
        id: PromptId,
        /// What was compared (`latest version`, `label production`).
        what: String,
        /// What the writer expected.
        expected: Option<Version>,
        /// What the store holds.
        actual: Option<Version>,
    },
    /// An update without an expected version kept losing races: each time it was about to be
    /// saved, another write to the prompt had landed first. Nothing was written.
    #[error(
        "version conflict on `{id}`: other writes to it landed first {attempts} times in a row while this update was being saved; nothing was written — retry"
    )]
    UpdateContended {
        /// The prompt.
        id: PromptId,
        /// How many times the update tried.
        attempts: usize,
    },
    /// A version number is not above the current latest version.
    #[error("cannot save `{id}` as {version}: versions must increase and the latest is {latest}")]
    VersionNotIncreasing {
        /// The prompt.
        id: PromptId,
        /// The refused version.
        version: Version,
        /// The current latest version.
        latest: Version,
    },
    /// A template does not parse.
    #[error("template syntax error in {template} at line {line}, column {column}: {message}")]
    TemplateSyntax {
        /// Which template (`greeting@1.2.0`, or `greeting@1.2.0 message 3`).
        template: String,
        /// The parser's message.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Variables are missing or have the wrong type. Lists every problem, not just the first.
    #[error("{reference}: {}", ShowProblems(.problems))]
    InvalidVariables {
        /// What was being rendered.
        reference: String,
        /// Every missing or mistyped variable.
        problems: Vec<VariableProblem>,
    },
    /// A template failed while rendering (a bad filter argument, an undefined attribute, …).
    #[error("rendering {template} failed{}: {message}", .line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Render {
        /// Which template.
        template: String,
        /// The engine's message.
        message: String,
        /// 1-based line, when known.
        line: Option<usize>,
    },
    /// A render hit a safety limit (fuel, recursion, output size) and was stopped.
    #[error("rendering {template} was stopped: {limit}")]
    RenderLimit {
        /// Which template.
        template: String,
        /// Which limit, with its value.
        limit: String,
    },
    /// Includes form a cycle.
    #[error("include cycle: {}", .cycle.join(" → "))]
    IncludeCycle {
        /// The references along the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// The prompt is archived and refuses to render.
    #[error("prompt `{id}` is archived and cannot be rendered; set its status to active to use it again")]
    Archived {
        /// The prompt.
        id: PromptId,
    },
    /// A protected label was to be moved, removed or rolled back without the admin role.
    #[error(
        "label `{label}` of `{id}` is protected: moving, removing or rolling it back needs the admin role (an admin API key, or --force on the command line)"
    )]
    LabelProtected {
        /// The prompt.
        id: PromptId,
        /// The label.
        label: LabelName,
    },
    /// A lifecycle move that is not allowed.
    #[error("prompt `{id}` cannot move from {from} to {to}: {reason}")]
    InvalidStatusTransition {
        /// The prompt.
        id: PromptId,
        /// Current status.
        from: PromptStatus,
        /// Requested status.
        to: PromptStatus,
        /// Why not.
        reason: &'static str,
    },
    /// The caller asked for something the prompt cannot give (a text render of a chat prompt, a rollback without history).
    #[error("{0}")]
    Unsupported(String),
    /// A plugin failed or refused the prompt.
    #[error("plugin `{plugin}`: {message}")]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// What went wrong.
        message: String,
    },
    /// A stored version no longer matches the content hash recorded when it was saved: its file
    /// or row was changed afterwards (edited by hand, corrupted). Versions are immutable, so the
    /// version is refused; other versions and prompts are unaffected.
    #[error("{0}")]
    ContentHashMismatch(Box<HashMismatch>),
    /// The manager or a backend is misconfigured.
    #[error("configuration error: {0}")]
    Config(String),
    /// A storage backend failed (I/O, database, corrupt data).
    #[error("{backend} store: {message}")]
    Backend {
        /// The backend's name (`memory`, `dir`, `sqlite`, …).
        backend: &'static str,
        /// What failed, naming the file or object where known.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// Which stored version failed its content hash check, where it is stored, and both hashes
/// ([`Error::ContentHashMismatch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashMismatch {
    /// The prompt.
    pub id: PromptId,
    /// The version.
    pub version: Version,
    /// Where the version is stored: a file (`prompts/greeting/2.0.0.yaml`) or a row
    /// (``SQLite database `pm.db`, table pm_versions, row (prompt_id 'greeting', version '2.0.0')``).
    pub location: String,
    /// The hash recorded when the version was saved.
    pub expected: ContentHash,
    /// The hash of the content as it is stored now.
    pub actual: ContentHash,
}

impl fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: version {} of `{}` was changed after it was saved: the recorded content hash is {}, but the \
             content hashes to {}; restore the stored version, or save the change as a new version",
            self.location, self.version, self.id, self.expected, self.actual
        )
    }
}

fn show_position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

fn show_opt(v: &Option<Version>) -> String {
    v.as_ref().map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// What was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotFound {
    /// No prompt with this id.
    Prompt(PromptId),
    /// The prompt exists but not this version.
    Version(PromptId, Version),
    /// The prompt exists but the label is not set.
    Label(PromptId, LabelName),
    /// No version matches the requirement.
    Requirement(PromptId, String),
    /// A label points to a version that does not exist (a corrupt or hand-edited store).
    LabelTarget(PromptId, LabelName, Version),
    /// A plugin with this name is not registered.
    Plugin(String),
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotFound::Prompt(id) => write!(f, "prompt `{id}` not found"),
            NotFound::Version(id, v) => write!(f, "prompt `{id}` has no version {v}"),
            NotFound::Label(id, l) => write!(f, "prompt `{id}` has no label `{l}`"),
            NotFound::Requirement(id, r) => write!(f, "prompt `{id}` has no version matching `{r}`"),
            NotFound::LabelTarget(id, l, v) => {
                write!(
                    f,
                    "label `{l}` of prompt `{id}` points to version {v}, which does not exist"
                )
            }
            NotFound::Plugin(name) => write!(f, "no plugin named `{name}` is registered"),
        }
    }
}

/// One problem with the variables given to a render.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VariableProblem {
    /// A variable the template or schema needs was not given.
    Missing {
        /// The variable.
        name: String,
        /// Its declared type, when the input schema declares one.
        expected: Option<VariableType>,
        /// The line of the template that first reads it, when a template does.
        line: Option<usize>,
        /// For a chat prompt, the message (1-based, placeholders counted) whose template
        /// first reads it.
        message: Option<usize>,
    },
    /// A variable has the wrong type for the input schema.
    WrongType {
        /// The variable.
        name: String,
        /// The declared type.
        expected: VariableType,
        /// The JSON type that was given.
        found: &'static str,
    },
    /// A message placeholder's variable is not a list of messages.
    BadMessages {
        /// The variable.
        name: String,
        /// What is wrong, naming the item.
        reason: String,
    },
}

impl VariableProblem {
    /// The variable the problem is about.
    pub fn name(&self) -> &str {
        match self {
            VariableProblem::Missing { name, .. }
            | VariableProblem::WrongType { name, .. }
            | VariableProblem::BadMessages { name, .. } => name,
        }
    }
}

impl fmt::Display for VariableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariableProblem::Missing {
                name,
                expected,
                line,
                message,
            } => {
                write!(f, "`{name}`")?;
                let mut notes = Vec::new();
                if let Some(t) = expected {
                    notes.push(t.to_string());
                }
                match (message, line) {
                    (Some(m), Some(l)) => notes.push(format!("message {m}, line {l}")),
                    (None, Some(l)) => notes.push(format!("line {l}")),
                    (Some(m), None) => notes.push(format!("message {m}")),
                    (None, None) => {}
                }
                if !notes.is_empty() {
                    write!(f, " ({})", notes.join(", "))?;
                }
                Ok(())
            }
            VariableProblem::WrongType { name, expected, found } => {
                write!(f, "`{name}` must be {expected}, got {found}")
            }
            VariableProblem::BadMessages { name, reason } => write!(f, "`{name}` {reason}"),
        }
    }
}

struct ShowProblems<'a>(&'a [VariableProblem]);

impl fmt::Display for ShowProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let missing: Vec<_> = self
            .0
            .iter()
            .filter(|p| matches!(p, VariableProblem::Missing { .. }))
            .collect();
        let other: Vec<_> = self
            .0
            .iter()
            .filter(|p| !matches!(p, VariableProblem::Missing { .. }))
            .collect();
        if !missing.is_empty() {
            write!(f, "missing variable{} ", if missing.len() == 1 { "" } else { "s" })?;
            for (i, p) in missing.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{p}")?;
            }
        }
        if !other.is_empty() {
            if !missing.is_empty() {
                f.write_str("; ")?;
            }
            f.write_str("invalid variable ")?;
            for (i, p) in other.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{p}")?;
            }
        }
        Ok(())
    }
}

/// The broad kind of an [`Error`], for callers that map errors to statuses or exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Malformed input: ids, labels, references, prompts, variables, templates.
    InvalidInput,
    /// Something named does not exist.
    NotFound,
    /// The write conflicts with the current state (exists already, lost a race, not increasing).
    Conflict,
    /// A render was refused or stopped (archived, limits, engine errors).
    Render,
    /// Not possible for this prompt or configuration.
    Unsupported,
    /// The store or a plugin failed, or stored data failed its integrity check.
    Internal,
}

impl Error {
    /// The broad kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidId { .. }
            | Error::InvalidLabel { .. }
            | Error::InvalidReference { .. }
            | Error::InvalidQuery { .. }
            | Error::InvalidPrompt { .. }
            | Error::InvalidFile { .. }
            | Error::TemplateSyntax { .. }
            | Error::InvalidVariables { .. }
            | Error::IncludeCycle { .. } => ErrorKind::InvalidInput,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists { .. }
            | Error::VersionConflict { .. }
            | Error::UpdateContended { .. }
            | Error::VersionNotIncreasing { .. }
            | Error::InvalidStatusTransition { .. }
            | Error::LabelProtected { .. } => ErrorKind::Conflict,
            Error::Render { .. } | Error::RenderLimit { .. } | Error::Archived { .. } => ErrorKind::Render,
            Error::Unsupported(_) | Error::Config(_) => ErrorKind::Unsupported,
            Error::Plugin { .. } | Error::Backend { .. } | Error::ContentHashMismatch(_) => ErrorKind::Internal,
        }
    }

    /// Every value [`code`](Error::code) can return, in a stable order (metrics keep one
    /// counter per code; a test checks that each variant's code is listed).
    pub const CODES: &'static [&'static str] = &[
        "invalid_id",
        "invalid_label",
        "invalid_reference",
        "invalid_query",
        "invalid_prompt",
        "invalid_file",
        "not_found",
        "already_exists",
        "version_conflict",
        "version_not_increasing",
        "template_syntax",
        "invalid_variables",
        "render",
        "render_limit",
        "include_cycle",
        "archived",
        "invalid_status_transition",
        "label_protected",
        "unsupported",
        "plugin",
        "content_hash_mismatch",
        "config",
        "backend",
    ];

    /// A short, stable, machine-readable name of the variant (`not_found`, `version_conflict`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidId { .. } => "invalid_id",
            Error::InvalidLabel { .. } => "invalid_label",
            Error::InvalidReference { .. } => "invalid_reference",
            Error::InvalidQuery { .. } => "invalid_query",
            Error::InvalidPrompt { .. } => "invalid_prompt",
            Error::InvalidFile { .. } => "invalid_file",
            Error::NotFound(_) => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            // The same answer to a client: the prompt moved under the write; retry.
            Error::VersionConflict { .. } | Error::UpdateContended { .. } => "version_conflict",
            Error::VersionNotIncreasing { .. } => "version_not_increasing",
            Error::TemplateSyntax { .. } => "template_syntax",
            Error::InvalidVariables { .. } => "invalid_variables",
            Error::Render { .. } => "render",
            Error::RenderLimit { .. } => "render_limit",
            Error::IncludeCycle { .. } => "include_cycle",
            Error::Archived { .. } => "archived",
            Error::InvalidStatusTransition { .. } => "invalid_status_transition",
            Error::LabelProtected { .. } => "label_protected",
            Error::Unsupported(_) => "unsupported",
            Error::Plugin { .. } => "plugin",
            Error::ContentHashMismatch(_) => "content_hash_mismatch",
            Error::Config(_) => "config",
            Error::Backend { .. } => "backend",
        }
    }

    /// A backend error with a message and no source.
    pub fn backend(backend: &'static str, message: impl Into<String>) -> Self {
        Error::Backend {
            backend,
            message: message.into(),
            source: None,
        }
    }

    /// A backend error that keeps its source.
    pub fn backend_with(
        backend: &'static str,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Backend {
            backend,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Shorthand for a prompt that does not exist.
    pub fn prompt_not_found(id: &PromptId) -> Self {
        Error::NotFound(NotFound::Prompt(id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once() {
        // Every code `code()` returns (read from its source, so a new variant cannot be
        // forgotten) is in CODES, and CODES lists each once.
        let source = include_str!("error.rs");
        let body = &source[source.find("pub fn code(&self)").expect("code()")..];
        let body = &body[..body.find("\n    }\n").expect("end of code()")];
        let returned: Vec<&str> = body.split('"').skip(1).step_by(2).collect();
        assert!(returned.len() >= 20, "{returned:?}");
        for code in &returned {
            assert!(
                Error::CODES.contains(code),
                "`{code}` is returned by code() but not in Error::CODES"
            );
        }
        for code in Error::CODES {
            assert!(
                returned.contains(code),
                "`{code}` is in Error::CODES but code() never returns it"
            );
        }
        let mut sorted = Error::CODES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), Error::CODES.len(), "a code is listed twice");
        assert_eq!(
            Error::UpdateContended {
                id: "p".parse().expect("id"),
                attempts: 2
            }
            .code(),
            "version_conflict"
        );
    }

    #[test]
    fn variable_errors_name_every_variable() {
        let err = Error::InvalidVariables {
            reference: "greeting@production".into(),
            problems: vec![
                VariableProblem::Missing {
                    name: "name".into(),
                    expected: Some(VariableType::String),
                    line: None,
                    message: None,
                },
                VariableProblem::Missing {
                    name: "city".into(),
                    expected: None,
                    line: None,
                    message: None,
                },
                VariableProblem::WrongType {
                    name: "age".into(),
                    expected: VariableType::Integer,
                    found: "string",
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "greeting@production: missing variables `name` (string), `city`; invalid variable `age` must be integer, got string"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn file_errors_read_like_compiler_messages() {
        let err = Error::InvalidFile {
            file: "prompts/greeting/1.0.0.yaml".into(),
            line: Some(3),
            column: Some(9),
            message: "unknown variant `texty`".into(),
        };
        assert_eq!(
            err.to_string(),
            "prompts/greeting/1.0.0.yaml:3:9: unknown variant `texty`"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = Error::InvalidFile {
            file: "library.yaml".into(),
            line: None,
            column: None,
            message: "empty".into(),
        };
        assert_eq!(err.to_string(), "library.yaml: empty");
    }

    #[test]
    fn conflicts_say_nothing_was_written() {
        let err = Error::VersionConflict {
            id: PromptId::new("a").expect("valid"),
            what: "latest version".into(),
            expected: Some(Version::new(1, 0, 0)),
            actual: Some(Version::new(1, 1, 0)),
        };
        let text = err.to_string();
        assert!(
            text.contains("expected the current latest version to be 1.0.0, but it is 1.1.0"),
            "{text}"
        );
        assert!(text.contains("nothing was written"), "{text}");
        assert_eq!(err.code(), "version_conflict");
    }

    #[test]
    fn hash_mismatches_name_the_place_and_both_hashes() {
        let err = Error::ContentHashMismatch(Box::new(HashMismatch {
            id: PromptId::new("greeting").expect("valid"),
            version: Version::new(2, 0, 0),
            location: "prompts/greeting/2.0.0.yaml".into(),
            expected: ContentHash("sha256:aaa".into()),
            actual: ContentHash("sha256:bbb".into()),
        }));
        assert_eq!(
            err.to_string(),
            "prompts/greeting/2.0.0.yaml: version 2.0.0 of `greeting` was changed after it was saved: the recorded \
             content hash is sha256:aaa, but the content hashes to sha256:bbb; restore the stored version, or save the \
             change as a new version"
        );
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(err.code(), "content_hash_mismatch");
    }
}
