//! Jinja syntax highlighting for templates shown on a page: the source split into text and tags
//! (`{{ … }}`, `{% … %}`, `{# … #}`), and inside tags into keywords, names, strings, numbers,
//! filters and delimiters, each an HTML `<span>` with a class; one `<span class="line">` per line
//! so the page can number lines and point at a lint error's line. Everything is HTML-escaped.
//! It highlights; it does not parse: a template with a syntax error is still shown, as written.

use std::fmt::Write as _;

/// The statement words shown as keywords.
const KEYWORDS: &[&str] = &[
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "endfor",
    "in",
    "not",
    "and",
    "or",
    "is",
    "set",
    "endset",
    "block",
    "endblock",
    "extends",
    "include",
    "import",
    "from",
    "as",
    "macro",
    "endmacro",
    "call",
    "endcall",
    "filter",
    "endfilter",
    "with",
    "endwith",
    "raw",
    "endraw",
    "recursive",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "break",
    "continue",
    "autoescape",
    "endautoescape",
    "ignore",
    "missing",
];

/// One highlighted piece: its class (`None` for plain text) and its text.
type Token<'a> = (Option<&'static str>, &'a str);

/// The source as highlighted HTML, one `<span class="line">` per line.
pub(crate) fn jinja_html(source: &str) -> String {
    // A final newline ends the last line; it does not start another.
    let source = source.strip_suffix('\n').unwrap_or(source);
    let tokens = tokenize(source);
    let mut out = String::with_capacity(source.len() * 2);
    out.push_str("<span class=\"line\">");
    for (class, text) in tokens {
        let mut lines = text.split('\n').peekable();
        while let Some(part) = lines.next() {
            if !part.is_empty() {
                match class {
                    Some(class) => {
                        let _ = write!(out, "<span class=\"{class}\">{}</span>", escape(part));
                    }
                    None => out.push_str(&escape(part)),
                }
            }
            if lines.peek().is_some() {
                // Lines are blocks: a newline between them would show as an empty line.
                out.push_str("</span><span class=\"line\">");
            }
        }
    }
    out.push_str("</span>");
    out
}

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn tokenize(source: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = source;
    while !rest.is_empty() {
        let Some(start) = find_open(rest) else {
            tokens.push((None, rest));
            break;
        };
        if start > 0 {
            tokens.push((None, &rest[..start]));
        }
        rest = &rest[start..];
        let kind = rest.as_bytes()[1];
        let close = match kind {
            b'{' => "}}",
            b'%' => "%}",
            _ => "#}",
        };
        if kind == b'#' {
            let end = rest.find(close).map_or(rest.len(), |i| i + 2);
            tokens.push((Some("j-comment"), &rest[..end]));
            rest = &rest[end..];
            continue;
        }
        // The opening delimiter, with a whitespace-control sign.
        let open_len = if rest[2..].starts_with(['-', '+']) { 3 } else { 2 };
        tokens.push((Some("j-delim"), &rest[..open_len]));
        rest = &rest[open_len..];
        let end = find_close(rest, close);
        let inner = &rest[..end];
        let (body, closing) = match inner.strip_suffix(['-', '+']) {
            Some(body) if end < rest.len() => (body, &rest[body.len()..end + 2]),
            _ => (inner, &rest[end..(end + 2).min(rest.len())]),
        };
        tokenize_tag(body, &mut tokens);
        if !closing.is_empty() {
            tokens.push((Some("j-delim"), closing));
        }
        rest = &rest[(end + 2).min(rest.len())..];
    }
    tokens
}

fn find_open(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1)).find(|&i| bytes[i] == b'{' && matches!(bytes[i + 1], b'{' | b'%' | b'#'))
}

/// Where `close` ends the tag, skipping quoted strings; the end of the text if it never does.
fn find_close(text: &str, close: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if text[i..].starts_with(close) => return i,
            None => {}
        }
        i += 1;
    }
    text.len()
}

fn tokenize_tag<'a>(body: &'a str, tokens: &mut Vec<Token<'a>>) {
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut after_pipe = false;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        let class = if b == b'"' || b == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            Some("j-str")
        } else if b.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_') {
                i += 1;
            }
            Some("j-num")
        } else if b.is_ascii_alphabetic() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &body[start..i];
            if after_pipe {
                Some("j-filter")
            } else if KEYWORDS.contains(&word) {
                Some("j-kw")
            } else {
                Some("j-name")
            }
        } else {
            // Anything else one character at a time (UTF-8 safe).
            i += body[i..].chars().next().map_or(1, char::len_utf8);
            if b.is_ascii_whitespace() { None } else { Some("j-op") }
        };
        let text = &body[start..i];
        if class.is_some() || !text.trim().is_empty() {
            after_pipe = text == "|" || (after_pipe && class.is_none());
        }
        if class == Some("j-filter") {
            after_pipe = false;
        }
        tokens.push((class, text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_classed_and_text_escaped() {
        let html = jinja_html("Hi <b>{{ name | upper }}</b>{% if x %}!{% endif %}{# note #}");
        assert!(html.contains("Hi &lt;b&gt;"), "{html}");
        assert!(html.contains("<span class=\"j-name\">name</span>"), "{html}");
        assert!(html.contains("<span class=\"j-filter\">upper</span>"), "{html}");
        assert!(html.contains("<span class=\"j-kw\">if</span>"), "{html}");
        assert!(html.contains("<span class=\"j-kw\">endif</span>"), "{html}");
        assert!(html.contains("<span class=\"j-comment\">{# note #}</span>"), "{html}");
    }

    #[test]
    fn lines_are_wrapped_one_by_one() {
        let html = jinja_html("a\n{{ b\n}}\nc\n");
        assert_eq!(html.matches("<span class=\"line\">").count(), 4, "{html}");
        assert!(!html.contains('\n'), "{html}");
    }

    #[test]
    fn strings_with_closers_and_unclosed_tags_do_not_break_it() {
        let html = jinja_html("{{ \"}}\" }} and {% if");
        assert!(html.contains("<span class=\"j-str\">&quot;}}&quot;</span>"), "{html}");
        assert!(html.contains("and "), "{html}");
        let html = jinja_html("{{- x -}} é {{ 'ü' }}");
        assert!(html.contains("<span class=\"j-delim\">{{-</span>"), "{html}");
        assert!(html.contains("<span class=\"j-delim\">-}}</span>"), "{html}");
        assert!(html.contains(" é "), "{html}");
    }
}
