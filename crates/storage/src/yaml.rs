//! YAML in and out, with errors that point at the file, line and column (serde-saphyr).

use prompt_manager_core::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses `text` (the content of `file`) as a `T`. Syntax and schema errors alike become
/// [`Error::InvalidFile`] with the line and column of the offending node.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, file: &str) -> Result<T> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| invalid_file(file, &e))
}

/// serde-saphyr's input budget, scaled to what we read: files are at most
/// [`MAX_FILE_BYTES`](crate::library::MAX_FILE_BYTES), and a library of that size holds far more
/// than the default 250,000 nodes (a 10k-prompt export has ~300,000). Alias and anchor limits,
/// which guard against expansion bombs, stay as they are.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 4_000_000;
    budget.max_events = 16_000_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// The [`Error::InvalidFile`] for a serde-saphyr error found in `file`.
pub(crate) fn invalid_file(file: &str, error: &serde_saphyr::Error) -> Error {
    let location = error.location();
    let rendered = error.without_snippet().to_string();
    Error::InvalidFile {
        file: file.to_owned(),
        line: location.map(|l| l.line() as usize),
        column: location.map(|l| l.column() as usize),
        message: strip_position(&rendered).to_owned(),
    }
}

/// serde-saphyr starts its messages with `line N column M: `; the error carries them already.
fn strip_position(message: &str) -> &str {
    let Some(rest) = message.strip_prefix("line ") else {
        return message;
    };
    let mut parts = rest.splitn(2, ": ");
    match (parts.next(), parts.next()) {
        (Some(position), Some(tail))
            if position
                .split(" column ")
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            tail
        }
        _ => message,
    }
}

/// Writes `value` as YAML. Multi-line strings come out as `|` blocks, so templates diff well.
pub(crate) fn render<T: Serialize>(value: &T, what: &str) -> Result<String> {
    serde_saphyr::to_string(value).map_err(|e| Error::backend_with("dir", format!("cannot write {what} as YAML"), e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use prompt_manager_core::Prompt;

    #[test]
    fn item_05_a_library_of_ten_thousand_prompts_is_within_the_budget() {
        // ~30 nodes a prompt: over serde-saphyr's default 250,000, far under our files' limit.
        let text = "- 1\n".repeat(300_000);
        let parsed: Vec<u32> = parse(&text, "big.yaml").unwrap();
        assert_eq!(parsed.len(), 300_000);
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let err = parse::<Prompt>("id: a\ntemplate: hi\nformat: texty\n", "prompts/a/1.0.0.yaml").unwrap_err();
        let Error::InvalidFile {
            file,
            line,
            column,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(file, "prompts/a/1.0.0.yaml");
        assert_eq!((*line, *column), (Some(3), Some(9)));
        assert!(message.starts_with("unknown variant `texty`"), "{message}");
        assert!(
            err.to_string().starts_with("prompts/a/1.0.0.yaml:3:9: unknown variant"),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position_too() {
        let err = parse::<Prompt>("id: a\ntemplate: [unclosed\n", "x.yaml").unwrap_err();
        let Error::InvalidFile { line, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(line.is_some(), "{err}");
    }

    #[test]
    fn positions_are_stripped_only_when_they_are_positions() {
        assert_eq!(strip_position("line 3 column 9: boom"), "boom");
        assert_eq!(strip_position("line of text: boom"), "line of text: boom");
        assert_eq!(strip_position("boom"), "boom");
    }
}
