//! The one error type of prompt-manager, and the one classification of it.
//!
//! Every variant says what went wrong and where (which prompt, which version, which line).
//! Backends map their driver errors onto [`Error::Backend`] and keep the source.
//!
//! Each variant has a stable code ([`Error::code`], all listed in [`Error::CODES`]) and a kind
//! ([`Error::kind`]); each [`ErrorKind`] has one HTTP status, one exit code of the command line
//! and one metrics label, all three in one table ([`ErrorKind`]'s `row`). The server, the CLI and
//! the metrics read that table; none of them matches variants or message text again. What is not
//! here: how the server words a problem it must not show (a store's paths, SQL) — that lives with
//! the server, which still takes the status from the kind.

use std::fmt;

use semver::Version;

use crate::id::{LabelName, PromptId};
use crate::model::{ContentHash, PromptStatus, VariableType};

mod kind;
mod wire;

pub use kind::ErrorKind;
pub use wire::ErrorDetails;

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
    /// An argument is not one of the values it can take (a bump that is not major, minor or patch).
    #[error("invalid {argument} `{input}`: {reason}")]
    InvalidArgument {
        /// Which argument (`bump`).
        argument: &'static str,
        /// The rejected input (shortened when huge).
        input: String,
        /// What is wrong, and what is accepted.
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
    /// A label is protected, and moving, removing or rolling it back needs the admin role, which
    /// the caller does not have. Nothing was written.
    #[error(
        "label `{label}` of `{id}` is protected: moving, removing or rolling it back needs the admin role (an admin API key, or --force on the command line)"
    )]
    LabelProtected {
        /// The prompt.
        id: PromptId,
        /// The protected label.
        label: LabelName,
    },
    /// The caller asked for something the prompt cannot give (a text render of a chat prompt, a
    /// rollback without history, a chat prompt as an include).
    #[error("{0}")]
    Unsupported(String),
    /// What was asked needs a Cargo feature this build does not have (a `sqlite://` store without
    /// the `sqlite` feature).
    #[error(
        "{what} need the `{feature}` feature of prompt-manager, which this build does not have; enable it in Cargo.toml (features = [\"{feature}\"])"
    )]
    FeatureMissing {
        /// The Cargo feature (`sqlite`, `postgres`, `fs`).
        feature: &'static str,
        /// What needs it, as a plural noun phrase (``"`sqlite://` stores"``).
        what: String,
    },
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
    /// An invariant of prompt-manager itself does not hold: a bug, never the caller's fault.
    #[error("internal error: {0}; this is a bug in prompt-manager")]
    Internal(String),
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

impl Error {
    /// An invalid argument: `argument` names it (`bump`), `input` is shortened when huge.
    pub fn invalid_argument(argument: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            argument,
            input: crate::id::truncate_for_message(input),
            reason: reason.into(),
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
mod tests;
