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
    let mut rest = 0;
    while let Some(offset) = source[rest..].find(['{']) {
        let start = rest + offset;
        let after = &source[start..];
        if let Some(comment) = after.strip_prefix("{#") {
            rest = match comment.find("#}") {
                Some(end) => start + 2 + end + 2,
                None => source.len(),
            };
            continue;
        }
        let Some(tag) = after.strip_prefix("{%") else {
            rest = start + 1;
            continue;
        };
        let body_start = start + 2;
        let Some(end) = tag.find("%}") else { break };
        let body = tag[..end]
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+'])
            .trim();
        rest = body_start + end + 2;
        let keyword = body.split_whitespace().next().unwrap_or("");
        if keyword == "raw" {
            rest = match source[rest..].find("endraw") {
                Some(i) => rest + i,
                None => source.len(),
            };
            continue;
        }
        if !LOADING_TAGS.contains(&keyword) {
            continue;
        }
        let target = body[keyword.len()..].trim_start();
        match parse_string_literal(target) {
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
                        "`{keyword}` needs a literal prompt reference such as \"shared/tone@production\"; computed targets cannot be resolved ahead of time"
                    ),
                    line,
                    column,
                });
            }
        }
    }
    Ok(found)
}

fn parse_string_literal(input: &str) -> Option<String> {
    let quote = input.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &input[1..];
    let end = inner.find(quote)?;
    let literal = &inner[..end];
    if literal.contains('\\') {
        return None;
    }
    Some(literal.to_owned())
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
    fn computed_targets_are_refused_with_a_position() {
        let err = find_includes("t", "line one\n  {% include name %}").expect_err("computed");
        let text = err.to_string();
        assert!(text.contains("line 2, column 3"), "{text}");
        assert!(text.contains("literal prompt reference"), "{text}");
    }
}
