//! A best-effort scanner for the variables a Jinja template reads, used when the caller cannot
//! give the template engine's own answer (this crate may not depend on the engine).
//!
//! It is a heuristic, not a parser: it looks inside `{{ … }}` and `{% … %}` tags for root
//! identifiers — names that are not attributes (`.x`), filters (`| x`), tests (`is x`), calls
//! (`x(`), keyword arguments (`x=`), Jinja keywords or builtins — and drops the names it sees
//! being bound in the same source (`{% for x in … %}`, `{% set x = … %}`, `{% with x = … %}`,
//! macro arguments and imports). Bindings are not scoped, and string literals, comments and
//! `{% raw %}` blocks are skipped. The engine's `extract_variables` is the authority.

use std::collections::BTreeSet;

use prompt_manager_core::{ChatItem, Template};

/// Keywords, literals and builtin names that never name a caller's variable.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "range",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
    "recursive",
    "namespace",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "debug",
    "as",
    "with",
    "without",
    "context",
    "ignore",
    "missing",
];

/// Statements whose identifiers all bind names (or name templates and blocks) rather than read variables.
const BINDING_STATEMENTS: &[&str] = &["macro", "import", "from", "block", "call"];

/// The variables a template probably reads: the root identifiers of its Jinja expressions, plus the
/// variables of its message placeholders. A heuristic (see the module docs); never panics.
///
/// ```
/// use prompt_manager_core::Template;
/// use prompt_manager_versioning::heuristic_variables;
///
/// let t = Template::Text("{% for item in items %}{{ item.name | upper }} {{ loop.index }}{% endfor %} {{ tone }}".into());
/// let vars: Vec<String> = heuristic_variables(&t).into_iter().collect();
/// assert_eq!(vars, ["items", "tone"]);
/// ```
pub fn heuristic_variables(template: &Template) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    match template {
        Template::Text(text) => scan_source(text, &mut vars),
        Template::Chat(items) => {
            for item in items {
                match item {
                    ChatItem::Message(m) => scan_source(&m.content, &mut vars),
                    ChatItem::Placeholder(p) => {
                        vars.insert(p.variable.clone());
                    }
                }
            }
        }
    }
    vars
}

/// Adds the root variables of one template source to `out`.
fn scan_source(src: &str, out: &mut BTreeSet<String>) {
    let mut roots = BTreeSet::new();
    let mut locals = BTreeSet::new();
    let mut rest = src;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let (close, is_statement) = match after.as_bytes().first() {
            Some(b'{') => ("}}", false),
            Some(b'%') => ("%}", true),
            Some(b'#') => {
                rest = after.find("#}").map_or("", |end| &after[end + 2..]);
                continue;
            }
            _ => {
                rest = after;
                continue;
            }
        };
        let body_and_rest = &after[1..];
        let (body, next) = match body_and_rest.find(close) {
            Some(end) => (&body_and_rest[..end], &body_and_rest[end + 2..]),
            None => (body_and_rest, ""),
        };
        rest = next;
        let tokens = tokenize(body);
        if !is_statement {
            collect(&tokens, &mut roots, &mut locals, false);
            continue;
        }
        let Some(Token::Ident(tag)) = tokens.first() else {
            continue;
        };
        let args = tokens.get(1..).unwrap_or_default();
        match *tag {
            "raw" => {
                // Everything up to `endraw` is literal text.
                rest = rest.find("endraw").map_or("", |i| {
                    let tail = &rest[i..];
                    tail.find("%}").map_or("", |end| &tail[end + 2..])
                });
            }
            "for" => {
                let split = args.iter().position(|t| *t == Token::Ident("in")).unwrap_or(args.len());
                let (targets, iterable) = args.split_at(split);
                bind_all(targets, &mut locals);
                collect(iterable, &mut roots, &mut locals, false);
            }
            "set" => {
                let split = args.iter().position(|t| *t == Token::Assign);
                match split {
                    Some(i) => {
                        let (targets, value) = args.split_at(i);
                        bind_all(targets, &mut locals);
                        collect(value, &mut roots, &mut locals, false);
                    }
                    // `{% set x %}…{% endset %}` binds `x` to the block's output.
                    None => bind_all(args, &mut locals),
                }
            }
            "with" => collect(args, &mut roots, &mut locals, true),
            // Filter names are not variables; `autoescape` takes a literal.
            "filter" | "autoescape" => {}
            t if BINDING_STATEMENTS.contains(&t) => bind_all(args, &mut locals),
            // `if`, `elif`, `include`, `extends`, `do`, `print` and the `end…`/`else` tags.
            _ => collect(args, &mut roots, &mut locals, false),
        }
    }
    out.extend(roots.into_iter().filter(|r| !locals.contains(r)));
}

fn bind_all(tokens: &[Token<'_>], locals: &mut BTreeSet<String>) {
    for t in tokens {
        if let Token::Ident(name) = t {
            locals.insert((*name).to_owned());
        }
    }
}

/// Sorts the identifiers of an expression into roots (read variables) and, when `assigns` is set
/// (`with`), names bound by `name = …`.
fn collect(tokens: &[Token<'_>], roots: &mut BTreeSet<String>, locals: &mut BTreeSet<String>, assigns: bool) {
    let mut after_is = false;
    for (i, token) in tokens.iter().enumerate() {
        let Token::Ident(name) = *token else {
            after_is = false;
            continue;
        };
        if name == "is" {
            after_is = true;
            continue;
        }
        if after_is && name == "not" {
            continue;
        }
        let is_test = std::mem::take(&mut after_is);
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        let next = tokens.get(i + 1);
        let is_member_or_filter = matches!(prev, Some(Token::Punct('.' | '|')));
        let is_call = matches!(next, Some(Token::Punct('(')));
        if matches!(next, Some(Token::Assign)) {
            if assigns {
                locals.insert(name.to_owned());
            }
            continue;
        }
        if is_test || is_member_or_filter || is_call || RESERVED.contains(&name) {
            continue;
        }
        roots.insert(name.to_owned());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    /// A lone `=` (an assignment or keyword argument, not `==`).
    Assign,
    /// Any other single punctuation character; multi-character operators are split, which is
    /// harmless except for `==`, `!=`, `<=` and `>=`, whose `=` is kept out of `Assign`.
    Punct(char),
    /// A string or number literal.
    Literal,
}

fn tokenize(src: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_ascii_alphabetic() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Ident(&src[start..end]));
        } else if c.is_ascii_digit() {
            while chars
                .next_if(|&(_, d)| d.is_ascii_alphanumeric() || d == '_' || d == '.')
                .is_some()
            {}
            tokens.push(Token::Literal);
        } else if c == '"' || c == '\'' {
            let mut escaped = false;
            for (_, d) in chars.by_ref() {
                match d {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    _ if d == c => break,
                    _ => {}
                }
            }
            tokens.push(Token::Literal);
        } else if c == '=' {
            let prev_is_op = matches!(tokens.last(), Some(Token::Punct('=' | '!' | '<' | '>')));
            if chars.next_if(|&(_, d)| d == '=').is_some() || prev_is_op {
                if prev_is_op {
                    tokens.pop();
                }
                tokens.push(Token::Punct('='));
            } else {
                tokens.push(Token::Assign);
            }
        } else if !c.is_whitespace() {
            tokens.push(Token::Punct(c));
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_manager_core::Role;

    fn vars(src: &str) -> Vec<String> {
        heuristic_variables(&Template::Text(src.into())).into_iter().collect()
    }

    #[test]
    fn finds_roots_of_output_expressions() {
        assert_eq!(vars("Hello {{ name }}!"), ["name"]);
        assert_eq!(vars("{{- user.name | default(fallback) -}}"), ["fallback", "user"]);
        assert_eq!(vars("{{ items[index] }} {{ a ~ b }}"), ["a", "b", "index", "items"]);
        assert_eq!(vars("{{ 'a {{ fake }}' }} {{ x }}"), ["x"]);
        assert_eq!(vars("{{ \"esc \\\" {{ y }}\" }}"), Vec::<String>::new());
    }

    #[test]
    fn skips_keywords_builtins_tests_calls_and_kwargs() {
        assert_eq!(
            vars("{% if not a and b is not defined or c in d %}{{ x if y else none }}{% endif %}"),
            ["a", "b", "c", "d", "x", "y"]
        );
        assert_eq!(
            vars("{{ range(10) | join(sep=',') }} {{ true }} {{ loop }}"),
            Vec::<String>::new()
        );
        assert_eq!(
            vars("{% if a == b and c != 1 and d >= 2 %}{% endif %}"),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn excludes_loop_and_set_bindings() {
        assert_eq!(
            vars("{% for k, v in pairs if v %}{{ k }}={{ v }} {{ loop.index }}{% endfor %}"),
            ["pairs"]
        );
        assert_eq!(vars("{% set greeting = 'Hi ' ~ name %}{{ greeting }}"), ["name"]);
        assert_eq!(vars("{% set block %}x{% endset %}{{ block }}"), Vec::<String>::new());
        assert_eq!(vars("{% with t = tone %}{{ t }}{% endwith %}"), ["tone"]);
        assert_eq!(
            vars("{% macro m(x, y=1) %}{{ x }}{% endmacro %}{% from 'h' import helper %}{{ helper(z) }}"),
            ["z"]
        );
    }

    #[test]
    fn skips_comments_raw_blocks_and_filters() {
        assert_eq!(
            vars("{# {{ hidden }} #}{% raw %}{{ literal }}{% endraw %}{{ shown }}"),
            ["shown"]
        );
        assert_eq!(vars("{% filter upper %}{{ a }}{% endfilter %}"), ["a"]);
        assert_eq!(vars("{% include 'shared/tone' %}{% include partial %}"), ["partial"]);
    }

    #[test]
    fn never_panics_on_broken_or_odd_input() {
        for src in [
            "{{",
            "{%",
            "{#",
            "{{ a",
            "{% for",
            "{% set x =",
            "{{ 'unterminated",
            "é{{ é }}ü",
            "{{ 1e5x }}",
            "}}{{}}",
        ] {
            let _ = vars(src);
        }
        assert_eq!(vars("{{ a"), ["a"]);
    }

    #[test]
    fn chat_templates_include_placeholders() {
        let t = Template::Chat(vec![
            ChatItem::message(Role::System, "Be {{ tone }}."),
            ChatItem::placeholder("history"),
        ]);
        let v: Vec<String> = heuristic_variables(&t).into_iter().collect();
        assert_eq!(v, ["history", "tone"]);
    }
}
