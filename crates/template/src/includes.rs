//! Finding the prompts a template loads (`{% include %}`, `{% import %}`, `{% from %}`,
//! `{% extends %}`) without rendering it, so the manager can resolve them through the registry
//! before compiling. Targets must be literal references; a computed target is refused, since it
//! could not be resolved (or checked for cycles) ahead of time.

use prompt_manager_core::{Error, Result};

const LOADING_TAGS: [&str; 4] = ["include", "import", "from", "extends"];

/// The literal references a template loads, in order of appearance, without duplicates.
///
/// ```
/// let refs = prompt_manager_template::find_includes("t", r#"{% include "shared/tone@production" %} {{ x }}"#)?;
/// assert_eq!(refs, vec!["shared/tone@production".to_string()]);
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
pub fn find_includes(name: &str, source: &str) -> Result<Vec<String>> {
    let mut found: Vec<String> = Vec::new();
    let mut pos = 0;
    while let Some(offset) = source[pos..].find('{') {
        let start = pos + offset;
        let rest = &source[start..];
        if rest.starts_with("{#") {
            pos = source[start + 2..]
                .find("#}")
                .map_or(source.len(), |end| start + 2 + end + 2);
        } else if rest.starts_with("{{") {
            let Some(end) = block_end(source, start + 2, "}}") else {
                break;
            };
            pos = end;
        } else if rest.starts_with("{%") {
            // An unclosed tag is a syntax error the compiler reports with its position.
            let Some(end) = block_end(source, start + 2, "%}") else {
                break;
            };
            let body = source[start + 2..end - 2]
                .trim_start_matches(['-', '+'])
                .trim_end_matches(['-', '+'])
                .trim();
            pos = end;
            let keyword = body.split_whitespace().next().unwrap_or("");
            if keyword == "raw" {
                pos = source[pos..].find("endraw").map_or(source.len(), |i| pos + i);
                continue;
            }
            if !LOADING_TAGS.contains(&keyword) {
                continue;
            }
            match literal_target(keyword, body[keyword.len()..].trim_start()) {
                Some(reference) => {
                    if !found.contains(&reference) {
                        found.push(reference);
                    }
                }
                None => {
                    let (line, column) = line_column(source, start);
                    return Err(Error::TemplateSyntax {
                        template: name.to_owned(),
                        message: format!(
                            "`{keyword}` needs one literal prompt reference such as \"shared/tone@production\"; \
                             computed or conditional targets cannot be resolved ahead of time"
                        ),
                        line,
                        column,
                    });
                }
            }
        } else {
            pos = start + 1;
        }
    }
    Ok(found)
}

/// The byte offset just past the `close` that ends a block opened before `from`, skipping string
/// literals (so `{{ "%}" }}` does not end early); `None` when the block is not closed. `close` is
/// ASCII, so the offset is always on a character boundary.
fn block_end(source: &str, from: usize, close: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            _ if bytes[i..].starts_with(close.as_bytes()) => return Some(i + close.len()),
            _ => i += 1,
        }
    }
    None
}

/// The reference of a loading tag whose whole target is one string literal, followed only by
/// what the tag allows (`ignore missing`, `with context`, `as name`, `import names`).
fn literal_target(keyword: &str, target: &str) -> Option<String> {
    let quote = target.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &target[1..];
    let end = inner.find(quote)?;
    let literal = &inner[..end];
    if literal.contains('\\') {
        return None;
    }
    let after: Vec<&str> = inner[end + 1..].split_whitespace().collect();
    let allowed = match keyword {
        "include" => matches!(
            after.as_slice(),
            [] | ["ignore", "missing"]
                | ["with" | "without", "context"]
                | ["ignore", "missing", "with" | "without", "context"]
        ),
        "import" => matches!(after.as_slice(), ["as", _]),
        "from" => after.first() == Some(&"import"),
        _ => after.is_empty(),
    };
    allowed.then(|| literal.to_owned())
}

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_loading_tag_once() {
        let source = "{%- include 'a' -%}\n{% include \"b@production\" ignore missing %}{% from 'm' import x %}\
                      {% raw %}{% include 'not-me' %}{% endraw %}{# {% include 'nor-me' %} #}{% include 'a' %}";
        assert_eq!(
            find_includes("t", source).expect("valid"),
            vec!["a", "b@production", "m"]
        );
    }

    #[test]
    fn tags_inside_strings_and_expressions_are_not_tags() {
        let source =
            r#"{{ "{%" }}{% include "shared/a" %} Write {{ "{% include name %}" }} {{ '%}' }}{% include 'b' %}"#;
        assert_eq!(find_includes("t", source).expect("valid"), vec!["shared/a", "b"]);
    }

    #[test]
    fn conditional_and_concatenated_targets_are_refused() {
        for source in [
            r#"{% include "shared/" ~ which %}"#,
            r#"{% include "a" if x else "b" %}"#,
            "{% include ['a', 'b'] %}",
        ] {
            let err = find_includes("t", source).expect_err(source).to_string();
            assert!(err.contains("one literal prompt reference"), "{source}: {err}");
        }
    }

    #[test]
    fn computed_targets_are_refused_with_a_position() {
        let err = find_includes("t", "line one\n  {% include name %}").expect_err("computed");
        let text = err.to_string();
        assert!(text.contains("line 2, column 3"), "{text}");
        assert!(text.contains("literal prompt reference"), "{text}");
    }
}
