//! `{{name}}` texts — Langfuse's and MLflow's templates — to and from our Jinja sources.
//!
//! Their rule: `{{` up to the next `}}` is a variable, named by what is between, trimmed; a
//! variable that is given is replaced by its value, one that is not stays as written; nothing
//! else in the text means anything. So a text imports as a Jinja source that renders the same:
//! each variable as it was written (`{{name}}` is also Jinja), every other `{` that Jinja would
//! read as the start of a tag written `{{ "{" }}`, and composition tags (Langfuse's
//! `@@@langfusePrompt:name=…|label=…@@@`) as `{% include "ID@LABEL" %}`. An export undoes exactly
//! that, and refuses a source that uses Jinja beyond it (a filter, a loop, a condition), which
//! the other tool would print as text.

use std::fmt::Write as _;

/// The escape of one `{` in a source: what a Jinja source says to print `{`.
const BRACE: &str = "{{ \"{\" }}";
/// The escape of a carriage return: Jinja turns a raw `\r` of a source into `\n`, while the
/// other tools print it as it is.
const CR: &str = "{{ \"\\r\" }}";

/// A problem at a byte offset of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Byte offset in the text the problem is at.
    pub(crate) at: usize,
    /// What is wrong.
    pub(crate) message: String,
}

/// Whether `name` is a variable name our templates can have: a Jinja identifier that is not a
/// keyword or a literal.
pub(crate) fn is_name(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else",
    ];
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name)
}

/// Whether the other tool's user meant `inner` as a variable name (letters, digits, `_`, `.`,
/// `-`): such a name that we cannot have is an error, anything else is text.
fn looks_like_a_name(inner: &str) -> bool {
    !inner.is_empty()
        && inner
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// Appends `text` as literal Jinja: every `{` that would open a tag with what follows it
/// (`next`, the first character after `text` in the source) is escaped.
pub(crate) fn push_literal(out: &mut String, text: &str, next: Option<char>) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let following = chars.peek().copied().or(next);
        if c == '{' && matches!(following, Some('{' | '%' | '#')) {
            out.push_str(BRACE);
        } else if c == '\r' {
            out.push_str(CR);
        } else {
            out.push(c);
        }
    }
}

/// How an include of another prompt is written in the other tool.
pub(crate) trait Composition {
    /// Finds the next composition tag at or after `from`: its start, end and our reference
    /// (`ID@LABEL`), or a problem.
    fn find(&self, text: &str, from: usize) -> Option<Result<(usize, usize, String), Problem>>;
    /// The tag for our reference, or why there is none.
    fn write(&self, reference: &str) -> Result<String, String>;
}

/// No composition (a format without includes).
pub(crate) struct NoComposition;

impl Composition for NoComposition {
    fn find(&self, _: &str, _: usize) -> Option<Result<(usize, usize, String), Problem>> {
        None
    }

    fn write(&self, reference: &str) -> Result<String, String> {
        Err(format!(
            "`{{% include \"{reference}\" %}}`: the format has no way to include another prompt"
        ))
    }
}

/// The other tool's text as a Jinja source that renders the same.
pub(crate) fn to_jinja(text: &str, composition: &dyn Composition) -> Result<String, Problem> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    let mut include = composition.find(text, 0);
    while at < text.len() {
        let variable = text[at..].find("{{").map(|i| at + i);
        let included = match &include {
            Some(Ok((start, _, _))) if *start < at => {
                include = composition.find(text, at);
                continue;
            }
            Some(Err(problem)) => return Err(problem.clone()),
            Some(Ok((start, end, reference))) if variable.is_none_or(|v| *start < v) => {
                Some((*start, *end, reference.clone()))
            }
            _ => None,
        };
        if let Some((start, end, reference)) = included {
            push_literal(&mut out, &text[at..start], Some('{'));
            let _ = write!(out, "{{% include \"{reference}\" %}}");
            at = end;
            include = composition.find(text, at);
            continue;
        }
        let Some(open) = variable else {
            push_literal(&mut out, &text[at..], None);
            break;
        };
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            // No `}}` after it: the rest is text.
            push_literal(&mut out, &text[at..], None);
            break;
        };
        let inner = &text[open + 2..close];
        let name = inner.trim();
        if is_name(name) {
            push_literal(&mut out, &text[at..open], Some('{'));
            out.push_str(&text[open..close + 2]);
        } else if looks_like_a_name(name) {
            return Err(Problem {
                at: open,
                message: format!(
                    "the variable `{name}` cannot be a prompt-manager variable: a name is letters, digits and _, \
                     not starting with a digit (rename it in the source)"
                ),
            });
        } else {
            // Not a name anyone passes: the tool prints it as it is.
            push_literal(&mut out, &text[at..close + 2], text[close + 2..].chars().next());
        }
        at = close + 2;
    }
    Ok(out)
}

/// Our Jinja source as the other tool's text, when it uses nothing but text, variables, the
/// escapes [`to_jinja`] writes and includes; otherwise what stands in the way.
pub(crate) fn from_jinja(source: &str, composition: &dyn Composition) -> Result<String, Problem> {
    let (out, variables) = from_jinja_unchecked(source, composition)?;
    // The tool finds variables by `{{` … `}}` alone: text we print literally must not read as one.
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = out[from..].find("{{").map(|i| from + i) {
        let Some(close) = out[open + 2..].find("}}").map(|i| open + 4 + i) else {
            break;
        };
        if looks_like_a_name(out[open + 2..close - 2].trim()) {
            found.push((open, close));
        }
        from = close;
    }
    if let Some(&(start, end)) = found.iter().find(|span| !variables.contains(span)) {
        return Err(Problem {
            at: 0,
            message: format!(
                "the text `{}` would be read as a variable by the format, which has no way to print `{{{{` as text",
                &out[start..end]
            ),
        });
    }
    if variables.len() != found.len() {
        return Err(Problem {
            at: 0,
            message: "a variable runs into the text around it, so the format would read it differently".into(),
        });
    }
    Ok(out)
}

/// [`from_jinja`]'s text before the check that the tool reads it back the same (a format whose
/// tool finds variables by another rule checks by its own), with where each variable it wrote
/// starts and ends.
pub(crate) fn from_jinja_unchecked(
    source: &str,
    composition: &dyn Composition,
) -> Result<(String, Vec<(usize, usize)>), Problem> {
    let mut out = String::with_capacity(source.len());
    let mut variables = Vec::new();
    let mut at = 0;
    while at < source.len() {
        let Some(open) = find_tag(source, at) else {
            push_rendered(&mut out, &source[at..]);
            break;
        };
        push_rendered(&mut out, &source[at..open]);
        let kind = source.as_bytes()[open + 1];
        let closer = match kind {
            b'{' => "}}",
            b'%' => "%}",
            _ => "#}",
        };
        let Some(close) = source[open + 2..].find(closer).map(|i| open + 2 + i) else {
            return Err(Problem {
                at: open,
                message: "a tag that is not closed".into(),
            });
        };
        let inner = source[open + 2..close].trim();
        let unsupported = |what: &str| Problem {
            at: open,
            message: format!(
                "`{}` {what}: the format has only variables, so it would print it as text",
                &source[open..close + 2]
            ),
        };
        match kind {
            b'{' if inner == "\"{\"" || inner == "'{'" => out.push('{'),
            b'{' if inner == "\"\\r\"" || inner == "'\\r'" => out.push('\r'),
            b'{' if is_name(inner) => {
                let start = out.len();
                out.push_str(&source[open..close + 2]);
                variables.push((start, out.len()));
            }
            b'{' => return Err(unsupported("is an expression")),
            b'%' => {
                let reference = inner
                    .strip_prefix("include")
                    .map(str::trim)
                    .and_then(|r| r.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
                    .ok_or_else(|| unsupported("is a statement"))?;
                let tag = composition
                    .write(reference)
                    .map_err(|message| Problem { at: open, message })?;
                out.push_str(&tag);
            }
            _ => return Err(unsupported("is a comment")),
        }
        at = close + 2;
    }
    Ok((out, variables))
}

/// Appends literal source text as the engine renders it: a raw `\r\n` or `\r` is a newline.
fn push_rendered(out: &mut String, text: &str) {
    if text.contains('\r') {
        out.push_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
    } else {
        out.push_str(text);
    }
}

/// The next `{{`, `{%` or `{#` at or after `from`.
fn find_tag(source: &str, from: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    (from..bytes.len().saturating_sub(1)).find(|&i| bytes[i] == b'{' && matches!(bytes[i + 1], b'{' | b'%' | b'#'))
}

/// 1-based line and column of byte `at` in `text`.
pub(crate) fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn there_and_back(text: &str) -> String {
        let jinja = to_jinja(text, &NoComposition).unwrap();
        assert_eq!(
            from_jinja(&jinja, &NoComposition).unwrap(),
            text,
            "{text:?} via {jinja:?}"
        );
        jinja
    }

    #[test]
    fn variables_stay_as_written_and_tags_are_escaped() {
        assert_eq!(
            there_and_back("Hello {{name}}, {{ city }}!"),
            "Hello {{name}}, {{ city }}!"
        );
        assert_eq!(there_and_back("{% raw %} {#x#}"), "{{ \"{\" }}% raw %} {{ \"{\" }}#x#}");
        assert_eq!(there_and_back("{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(there_and_back("{{{x}}"), "{{ \"{\" }}{{ \"{\" }}{x}}");
        assert_eq!(there_and_back("{{ }} and {{"), "{{ \"{\" }}{ }} and {{ \"{\" }}{");
        assert_eq!(there_and_back("ends with {"), "ends with {");
        assert_eq!(there_and_back("{{a}}{{b}}"), "{{a}}{{b}}");
        assert_eq!(there_and_back("line\r\n{{a}}"), "line{{ \"\\r\" }}\n{{a}}");
    }

    #[test]
    fn names_we_cannot_have_are_errors_at_their_place() {
        let err = to_jinja("Hi\n  {{user-name}}", &NoComposition).unwrap_err();
        assert_eq!(position("Hi\n  {{user-name}}", err.at), (2, 3));
        assert!(err.message.contains("`user-name`"), "{}", err.message);
        assert!(to_jinja("{{ if }}", &NoComposition).is_err());
    }

    #[test]
    fn jinja_beyond_variables_is_refused_on_export() {
        for source in ["{% if x %}a{% endif %}", "{{ x | upper }}", "{# note #}", "{{ x.y }}"] {
            assert!(from_jinja(source, &NoComposition).is_err(), "{source}");
        }
        // Printing `{{x}}` literally cannot be said in the format.
        let err = from_jinja("{{ \"{\" }}{x}}", &NoComposition).unwrap_err();
        assert!(err.message.contains("`{{x}}`"), "{}", err.message);
    }
}
