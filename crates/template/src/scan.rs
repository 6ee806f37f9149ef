//! The engine's reading of a template without rendering it, and the only Jinja tag scanner of the
//! workspace: the prompts a source loads (`{% include %}`, `{% import %}`, `{% from %}`,
//! `{% extends %}`) with where each is written, so the manager can resolve them through the
//! registry before compiling, and where each variable is first read, for lint and for
//! missing-variable messages. Everything else that needs this (lint, the structural diff) asks
//! through [`TemplateEngine::scan`](prompt_manager_core::TemplateEngine::scan).
//!
//! Loading targets must be literal references; a computed target is refused, since it could not
//! be resolved (or checked for cycles) ahead of time. Variable positions come from minijinja's
//! own tokenizer, so strings, comments and `{% raw %}` blocks never count as reads. Which
//! variables a source reads is minijinja's answer (`engine.rs`); this module only says where.

use std::collections::{BTreeMap, BTreeSet};

use prompt_manager_core::{Error, Result, SourcePosition, SourceScan};

const LOADING_TAGS: [&str; 4] = ["include", "import", "from", "extends"];

/// The literal references a template loads, in order of appearance, without duplicates.
///
/// ```
/// let refs = prompt_manager_template::find_includes("t", r#"{% include "shared/tone@production" %} {{ x }}"#)?;
/// assert_eq!(refs, vec!["shared/tone@production".to_string()]);
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
pub fn find_includes(name: &str, source: &str) -> Result<Vec<String>> {
    Ok(includes_at(name, source)?
        .into_iter()
        .map(|(reference, _)| reference)
        .collect())
}

/// What a source loads and reads, with where: the loading tags' literal references (see
/// [`find_includes`]) and `variables`, each at its first read (`None` when no tag reads it by
/// name). `variables` is the engine's answer for the same source.
pub(crate) fn scan(name: &str, source: &str, variables: BTreeSet<String>) -> Result<SourceScan> {
    let includes = includes_at(name, source)?
        .into_iter()
        .map(|(reference, offset)| (reference, Some(SourcePosition::at(source, offset))))
        .collect();
    let mut first = first_reads(source, |ident| variables.contains(ident));
    let variables = variables
        .into_iter()
        .map(|v| {
            let at = first
                .remove(v.as_str())
                .map(|offset| SourcePosition::at(source, offset));
            (v, at)
        })
        .collect();
    Ok(SourceScan { includes, variables })
}

/// The byte offset of the first place `source` reads each top-level name that `wanted` accepts:
/// an identifier token inside a tag that is not an attribute (after a `.`). A source that stops
/// tokenizing (a syntax error) gives what was found before the error.
pub(crate) fn first_reads(source: &str, wanted: impl Fn(&str) -> bool) -> BTreeMap<&str, usize> {
    use minijinja::machinery::{Token, tokenize};
    let mut found = BTreeMap::new();
    let mut previous_dot = false;
    for token in tokenize(source, false, Default::default()) {
        let Ok((token, span)) = token else { break };
        if let Token::Ident(name) = token
            && !previous_dot
            && wanted(name)
        {
            found.entry(name).or_insert(span.start_offset as usize);
        }
        previous_dot = matches!(token, Token::Dot);
    }
    found
}

/// The literal references a template loads, in order of appearance, without duplicates, each
/// with the byte offset of its first literal's opening quote.
fn includes_at(name: &str, source: &str) -> Result<Vec<(String, usize)>> {
    let mut found: Vec<(String, usize)> = Vec::new();
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
            let target = body[keyword.len()..].trim_start();
            match literal_target(keyword, target) {
                Some(reference) => {
                    if !found.iter().any(|(r, _)| *r == reference) {
                        // `target` is a slice of `source`: its distance from the start is its offset.
                        let offset = target.as_ptr() as usize - source.as_ptr() as usize;
                        found.push((reference, offset));
                    }
                }
                None => {
                    let SourcePosition { line, column, .. } = SourcePosition::at(source, start);
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

    fn positions(source: &str, variables: &[&str]) -> SourceScan {
        scan("t", source, variables.iter().map(|v| (*v).to_owned()).collect()).expect("valid")
    }

    fn line_column(at: Option<SourcePosition>) -> Option<(usize, usize)> {
        at.map(|p| (p.line, p.column))
    }

    #[test]
    fn includes_are_placed_at_the_quote_of_their_first_tag() {
        let source = "é {{ \"shared/tone\" }}\n  {%- include 'shared/tone' %}{% include \"shared/tone\" %}";
        let found = positions(source, &[]);
        assert_eq!(found.includes.len(), 1);
        let (reference, at) = &found.includes[0];
        assert_eq!(reference, "shared/tone");
        let at = at.expect("a position");
        assert_eq!((at.line, at.column), (2, 15));
        assert_eq!(&source[at.offset..at.offset + 1], "'");
    }

    #[test]
    fn variables_are_placed_at_their_first_read_outside_strings_and_comments() {
        let source = "{# {{ name }} #}{{ 'name' }}{{ user.name }}{% raw %}{{ name }}{% endraw %}\n  Hi {{ name | upper }} {{ user }}";
        let found = positions(source, &["name", "user", "absent"]);
        assert_eq!(line_column(found.variables["name"]), Some((2, 9)));
        assert_eq!(line_column(found.variables["user"]), Some((1, 32)));
        assert_eq!(found.variables["absent"], None);
    }

    #[test]
    fn positions_count_characters_and_survive_long_sources() {
        let source = format!("{}日本 {{{{ far }}}}", "\n".repeat(70_000));
        let found = positions(&source, &["far"]);
        assert_eq!(line_column(found.variables["far"]), Some((70_001, 7)));
    }
}
