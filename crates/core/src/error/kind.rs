//! The one classification of errors: [`ErrorKind`], its table (HTTP status, exit code, metrics
//! label), and which kind and code each [`Error`] variant has ([`Error::kind`], [`Error::code`],
//! [`Error::CODES`]). The variants themselves, their messages and constructors live in `mod.rs`.

use std::fmt;

use super::Error;

/// The broad kind of an [`Error`]: what a caller does about it.
///
/// Each kind has one HTTP status ([`http_status`](ErrorKind::http_status)), one exit code of the
/// command line ([`exit_code`](ErrorKind::exit_code)) and one metrics label
/// ([`as_str`](ErrorKind::as_str)), all read from one table:
///
/// | kind | label | HTTP | exit | variants |
/// |---|---|---|---|---|
/// | [`InvalidInput`](ErrorKind::InvalidInput) | `invalid_input` | 400 | 2 | invalid id, label, reference, list query, argument |
/// | [`InvalidContent`](ErrorKind::InvalidContent) | `invalid_content` | 422 | 1 | invalid prompt, template syntax, variables, render error or limit, include cycle, plugin refusal |
/// | [`InvalidData`](ErrorKind::InvalidData) | `invalid_data` | 500 | 2 | a file that cannot be read as what it should hold |
/// | [`PermissionDenied`](ErrorKind::PermissionDenied) | `permission_denied` | 403 | 2 | protected label |
/// | [`NotFound`](ErrorKind::NotFound) | `not_found` | 404 | 2 | prompt, version, label, plugin |
/// | [`Conflict`](ErrorKind::Conflict) | `conflict` | 409 | 2 | exists already, lost a race, version not increasing, refused status move, archived |
/// | [`Unsupported`](ErrorKind::Unsupported) | `unsupported` | 422 | 2 | text render of a chat prompt, rollback without history |
/// | [`FeatureMissing`](ErrorKind::FeatureMissing) | `feature_missing` | 501 | 2 | a store or feature this build lacks |
/// | [`Config`](ErrorKind::Config) | `config` | 500 | 2 | the manager or a store is set up wrong |
/// | [`Unavailable`](ErrorKind::Unavailable) | `unavailable` | 503 | 2 | the store failed |
/// | [`Integrity`](ErrorKind::Integrity) | `integrity` | 500 | 1 | a stored version fails its content hash check |
/// | [`Internal`](ErrorKind::Internal) | `internal` | 500 | 2 | a bug |
///
/// Exit codes: `1` says the content failed a check (fix the prompt, its variables, or the stored
/// version); `2` says the command could not do what was asked (fix the arguments, the files, the
/// state or the setup). HTTP statuses: 4xx when the request must change, 5xx when the server
/// must. A file is [`InvalidData`](ErrorKind::InvalidData), 500: the API takes JSON bodies, never
/// files, so a file a server cannot read is its own (a `dir://` store's); on the command line it is
/// the user's file or store, exit 2 like any unreadable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Malformed input: an id, label, reference, list query or argument.
    InvalidInput,
    /// Well-formed content that fails a check: prompt rules, template syntax, variables, include
    /// cycles, render errors and limits, a plugin refusing the prompt.
    InvalidContent,
    /// A file cannot be read as what it should hold (a prompt file, a library, a store's own file).
    InvalidData,
    /// The caller may not do this (a protected label needs the admin role).
    PermissionDenied,
    /// Something named does not exist.
    NotFound,
    /// The request conflicts with the current state (exists already, lost a race, not increasing,
    /// a refused status move, an archived prompt asked to render).
    Conflict,
    /// Not possible for this prompt (a text render of a chat prompt, a rollback without history).
    Unsupported,
    /// This build lacks the Cargo feature that what was asked needs.
    FeatureMissing,
    /// The manager or a store is set up wrong (a bad store URL, no store, a plugin name taken).
    Config,
    /// The store failed (I/O, database).
    Unavailable,
    /// Stored data failed its integrity check (a version changed after it was saved).
    Integrity,
    /// A bug in prompt-manager: an invariant that does not hold.
    Internal,
}

impl ErrorKind {
    /// Every kind, in a stable order (metrics keep one label value per kind).
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::InvalidInput,
        ErrorKind::InvalidContent,
        ErrorKind::InvalidData,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Unsupported,
        ErrorKind::FeatureMissing,
        ErrorKind::Config,
        ErrorKind::Unavailable,
        ErrorKind::Integrity,
        ErrorKind::Internal,
    ];

    /// The one table: `(metrics label, HTTP status, exit code)` of each kind.
    const fn row(self) -> (&'static str, u16, u8) {
        match self {
            // (metrics label, HTTP status, exit code)
            ErrorKind::InvalidInput => ("invalid_input", 400, 2),
            ErrorKind::InvalidContent => ("invalid_content", 422, 1),
            ErrorKind::InvalidData => ("invalid_data", 500, 2),
            ErrorKind::PermissionDenied => ("permission_denied", 403, 2),
            ErrorKind::NotFound => ("not_found", 404, 2),
            ErrorKind::Conflict => ("conflict", 409, 2),
            ErrorKind::Unsupported => ("unsupported", 422, 2),
            ErrorKind::FeatureMissing => ("feature_missing", 501, 2),
            ErrorKind::Config => ("config", 500, 2),
            ErrorKind::Unavailable => ("unavailable", 503, 2),
            ErrorKind::Integrity => ("integrity", 500, 1),
            ErrorKind::Internal => ("internal", 500, 2),
        }
    }

    /// The snake-case name of the kind (`invalid_input`, `not_found`, …): the label metrics and
    /// logs use.
    pub const fn as_str(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status of the kind (`404` for [`NotFound`](ErrorKind::NotFound), …): 4xx when the
    /// request must change, 5xx when the server must.
    pub const fn http_status(self) -> u16 {
        self.row().1
    }

    /// The exit code of the command line: `1` when the content failed a check, `2` when the
    /// command could not do what was asked.
    pub const fn exit_code(self) -> u8 {
        self.row().2
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Error {
    /// The broad kind of this error, which decides its HTTP status, exit code and metrics label.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidId { .. }
            | Error::InvalidLabel { .. }
            | Error::InvalidReference { .. }
            | Error::InvalidQuery { .. }
            | Error::InvalidArgument { .. } => ErrorKind::InvalidInput,
            Error::InvalidPrompt { .. }
            | Error::TemplateSyntax { .. }
            | Error::InvalidVariables { .. }
            | Error::Render { .. }
            | Error::RenderLimit { .. }
            | Error::IncludeCycle { .. }
            | Error::Plugin { .. } => ErrorKind::InvalidContent,
            Error::InvalidFile { .. } => ErrorKind::InvalidData,
            Error::LabelProtected { .. } => ErrorKind::PermissionDenied,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists { .. }
            | Error::VersionConflict { .. }
            | Error::UpdateContended { .. }
            | Error::VersionNotIncreasing { .. }
            | Error::InvalidStatusTransition { .. }
            | Error::Archived { .. } => ErrorKind::Conflict,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::FeatureMissing { .. } => ErrorKind::FeatureMissing,
            Error::Config(_) => ErrorKind::Config,
            Error::Backend { .. } => ErrorKind::Unavailable,
            Error::ContentHashMismatch(_) => ErrorKind::Integrity,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Every value [`code`](Error::code) can return, in a stable order (metrics keep one
    /// counter per code; a test checks that each variant's code is listed).
    pub const CODES: &'static [&'static str] = &[
        "invalid_id",
        "invalid_label",
        "invalid_reference",
        "invalid_query",
        "invalid_argument",
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
        "feature_missing",
        "plugin",
        "content_hash_mismatch",
        "config",
        "internal",
        "backend",
    ];

    /// A short, stable, machine-readable name of the variant (`not_found`, `version_conflict`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidId { .. } => "invalid_id",
            Error::InvalidLabel { .. } => "invalid_label",
            Error::InvalidReference { .. } => "invalid_reference",
            Error::InvalidQuery { .. } => "invalid_query",
            Error::InvalidArgument { .. } => "invalid_argument",
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
            Error::FeatureMissing { .. } => "feature_missing",
            Error::Plugin { .. } => "plugin",
            Error::ContentHashMismatch(_) => "content_hash_mismatch",
            Error::Config(_) => "config",
            Error::Internal(_) => "internal",
            Error::Backend { .. } => "backend",
        }
    }
}
