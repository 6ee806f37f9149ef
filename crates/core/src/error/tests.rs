//! Tests of the error type: every variant walks through the one table (kind, status, exit code,
//! metrics label) and has a code in `Error::CODES`; messages say what and where.

use super::*;

fn id() -> PromptId {
    PromptId::new("greeting").expect("valid")
}

fn label() -> LabelName {
    LabelName::new("production").expect("valid")
}

fn text(s: &str) -> String {
    s.to_owned()
}

/// Where a variant sits in [`samples`]: an exhaustive match, so a new variant does not compile
/// until it is listed here, and the walk below fails until [`samples`] holds one of it.
fn ordinal(e: &Error) -> usize {
    match e {
        Error::InvalidId { .. } => 0,
        Error::InvalidLabel { .. } => 1,
        Error::InvalidReference { .. } => 2,
        Error::InvalidQuery { .. } => 3,
        Error::InvalidArgument { .. } => 4,
        Error::InvalidPrompt { .. } => 5,
        Error::InvalidFile { .. } => 6,
        Error::NotFound(_) => 7,
        Error::AlreadyExists { .. } => 8,
        Error::VersionConflict { .. } => 9,
        Error::UpdateContended { .. } => 10,
        Error::VersionNotIncreasing { .. } => 11,
        Error::TemplateSyntax { .. } => 12,
        Error::InvalidVariables { .. } => 13,
        Error::Render { .. } => 14,
        Error::RenderLimit { .. } => 15,
        Error::IncludeCycle { .. } => 16,
        Error::Archived { .. } => 17,
        Error::InvalidStatusTransition { .. } => 18,
        Error::LabelProtected { .. } => 19,
        Error::Unsupported(_) => 20,
        Error::FeatureMissing { .. } => 21,
        Error::Plugin { .. } => 22,
        Error::ContentHashMismatch(_) => 23,
        Error::Config(_) => 24,
        Error::Internal(_) => 25,
        Error::Backend { .. } => 26,
    }
}

/// How many variants [`ordinal`] knows.
const VARIANTS: usize = 27;

/// One error of each variant.
fn samples() -> Vec<Error> {
    let v1 = Version::new(1, 0, 0);
    let v2 = Version::new(2, 0, 0);
    vec![
        Error::InvalidId {
            input: text("a b"),
            reason: text("spaces"),
        },
        Error::InvalidLabel {
            input: text("A"),
            reason: text("upper case"),
        },
        Error::InvalidReference {
            input: text("a@@"),
            reason: text("two @"),
        },
        Error::InvalidQuery {
            reason: text("65 tags"),
        },
        Error::invalid_argument("bump", "huge", "use major, minor or patch"),
        Error::InvalidPrompt {
            id: text("greeting"),
            reason: text("a bad tag"),
        },
        Error::InvalidFile {
            file: text("a.yaml"),
            line: Some(1),
            column: None,
            message: text("empty"),
        },
        Error::prompt_not_found(&id()),
        Error::AlreadyExists { id: id() },
        Error::VersionConflict {
            id: id(),
            what: text("latest version"),
            expected: Some(v1.clone()),
            actual: Some(v2.clone()),
        },
        Error::UpdateContended { id: id(), attempts: 3 },
        Error::VersionNotIncreasing {
            id: id(),
            version: v1.clone(),
            latest: v2.clone(),
        },
        Error::TemplateSyntax {
            template: text("greeting@1.0.0"),
            message: text("unexpected end"),
            line: 1,
            column: 4,
        },
        Error::InvalidVariables {
            reference: text("greeting"),
            problems: vec![],
        },
        Error::Render {
            template: text("greeting@1.0.0"),
            message: text("bad filter"),
            line: None,
        },
        Error::RenderLimit {
            template: text("greeting@1.0.0"),
            limit: text("fuel"),
        },
        Error::IncludeCycle {
            cycle: vec![text("a"), text("b"), text("a")],
        },
        Error::Archived { id: id() },
        Error::InvalidStatusTransition {
            id: id(),
            from: PromptStatus::Active,
            to: PromptStatus::Draft,
            reason: "no way back",
        },
        Error::LabelProtected {
            id: id(),
            label: label(),
        },
        Error::Unsupported(text("a chat prompt")),
        Error::FeatureMissing {
            feature: "sqlite",
            what: text("`sqlite://` stores"),
        },
        Error::Plugin {
            plugin: text("openai"),
            message: text("refused"),
        },
        Error::ContentHashMismatch(Box::new(HashMismatch {
            id: id(),
            version: v1,
            location: text("a.yaml"),
            expected: ContentHash(text("sha256:a")),
            actual: ContentHash(text("sha256:b")),
        })),
        Error::Config(text("no store")),
        Error::Internal(text("an invariant")),
        Error::backend_with("sqlite", "disk I/O", std::io::Error::other("disk")),
    ]
}

/// The kinds whose errors the caller fixes (4xx), and those that a failed check ends with
/// exit code 1; every other kind is the server's to fix (5xx) and ends with exit code 2.
const CALLER_FIXES: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::InvalidContent,
    ErrorKind::PermissionDenied,
    ErrorKind::NotFound,
    ErrorKind::Conflict,
    ErrorKind::Unsupported,
];
const CHECK_FAILED: &[ErrorKind] = &[ErrorKind::InvalidContent, ErrorKind::Integrity];

#[test]
fn every_variant_walks_through_the_one_table() {
    let samples = samples();
    let mut ordinals: Vec<usize> = samples.iter().map(ordinal).collect();
    ordinals.sort_unstable();
    assert_eq!(
        ordinals,
        (0..VARIANTS).collect::<Vec<_>>(),
        "samples() holds one error of each variant"
    );

    let mut codes = Vec::new();
    let mut kinds = Vec::new();
    for e in &samples {
        let (code, kind) = (e.code(), e.kind());
        let (status, exit, label) = (kind.http_status(), kind.exit_code(), kind.as_str());
        assert!(Error::CODES.contains(&code), "{e:?}: `{code}` is not in Error::CODES");
        assert!(
            ErrorKind::ALL.contains(&kind),
            "{e:?}: {kind:?} is not in ErrorKind::ALL"
        );
        assert_eq!(
            (400..500).contains(&status),
            CALLER_FIXES.contains(&kind),
            "{e:?}: {kind:?} answers {status}"
        );
        assert!((400..600).contains(&status), "{e:?}: {status}");
        assert_eq!(exit == 1, CHECK_FAILED.contains(&kind), "{e:?}: exit {exit}");
        assert!(exit == 1 || exit == 2, "{e:?}: exit {exit}");
        assert_eq!(kind.to_string(), label);
        assert!(!e.to_string().is_empty(), "{e:?}: no message");
        codes.push(code);
        kinds.push(kind);
    }
    for code in Error::CODES {
        assert!(
            codes.contains(code),
            "`{code}` is in Error::CODES but no variant returns it"
        );
    }
    for kind in ErrorKind::ALL {
        assert!(kinds.contains(kind), "no variant is of kind {kind:?}");
    }
    let mut unique = Error::CODES.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), Error::CODES.len(), "a code is listed twice");
    let mut labels: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), ErrorKind::ALL.len(), "a metrics label is used twice");
    assert!(
        labels
            .iter()
            .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
        "{labels:?}"
    );
}

#[test]
fn the_decisions_the_table_pins() {
    // (code, HTTP status, exit code, metrics label) of the cases clients and scripts rely on.
    let expected = [
        ("invalid_argument", 400, 2, "invalid_input"),
        ("invalid_variables", 422, 1, "invalid_content"),
        ("plugin", 422, 1, "invalid_content"),
        ("invalid_file", 500, 2, "invalid_data"),
        ("label_protected", 403, 2, "permission_denied"),
        ("not_found", 404, 2, "not_found"),
        ("archived", 409, 2, "conflict"),
        ("unsupported", 422, 2, "unsupported"),
        ("feature_missing", 501, 2, "feature_missing"),
        ("config", 500, 2, "config"),
        ("backend", 503, 2, "unavailable"),
        ("content_hash_mismatch", 500, 1, "integrity"),
        ("internal", 500, 2, "internal"),
    ];
    for (code, status, exit, label) in expected {
        let e = samples()
            .into_iter()
            .find(|e| e.code() == code)
            .unwrap_or_else(|| panic!("no sample with code `{code}`"));
        let kind = e.kind();
        assert_eq!(
            (kind.http_status(), kind.exit_code(), kind.as_str()),
            (status, exit, label),
            "{code}"
        );
    }
    // Two variants, one answer: the prompt moved under the write.
    assert_eq!(
        Error::UpdateContended { id: id(), attempts: 2 }.code(),
        "version_conflict"
    );
}

#[test]
fn new_variants_say_what_and_what_to_do() {
    let protected = Error::LabelProtected {
        id: id(),
        label: label(),
    };
    assert_eq!(
        protected.to_string(),
        "label `production` of `greeting` is protected: moving, removing or rolling it back needs the admin \
         role (an admin API key, or --force on the command line)"
    );
    let missing = Error::FeatureMissing {
        feature: "sqlite",
        what: text("`sqlite://` stores"),
    };
    assert!(
        missing.to_string().starts_with(
            "`sqlite://` stores need the `sqlite` feature of prompt-manager, which this build does not have"
        ),
        "{missing}"
    );
    let bump = Error::invalid_argument("bump", &"x".repeat(500), "use major, minor or patch");
    let text = bump.to_string();
    assert!(text.starts_with("invalid bump `xxx"), "{text}");
    assert!(text.ends_with("(500 bytes)`: use major, minor or patch"), "{text}");
    assert!(Error::Internal(self::text("x")).to_string().contains("a bug"));
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
    assert_eq!(err.kind(), ErrorKind::InvalidContent);
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
    assert_eq!(err.kind(), ErrorKind::InvalidData);
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
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(err.code(), "content_hash_mismatch");
}
