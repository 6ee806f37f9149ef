//! How Python prints values, for the Jinja2-compatible output of [`crate::jinja2`]: `str()` and
//! `repr()` of numbers, strings, lists and dicts, `json.dumps` as Jinja2's `tojson` calls it, and
//! `str.splitlines`. Nothing here knows about templates; it only formats minijinja values.

use std::fmt::Write as _;

use minijinja::value::{Value, ValueKind};

/// Python's `repr(float)` (also its `str`): the shortest digits that read back to the same
/// float, in fixed notation for exponents -5 < e < 16 and scientific notation otherwise
/// (`1.5e-07`, `1e+16`, `0.1`, `3.0`).
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f < 0.0 { "-inf" } else { "inf" });
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "-1.5e-7", "1e16", "0e0".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = usize::try_from(exponent).unwrap_or(0) + 1;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs());
    }
}

/// Python's `str()` of a value: strings as they are, everything else as [`write_repr`].
pub(crate) fn write_str(out: &mut String, value: &Value) {
    match value.as_str() {
        Some(s) => out.push_str(s),
        None => write_repr(out, value),
    }
}

/// Python's `str()` of a value, as a new string.
pub(crate) fn to_str(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_owned(),
        None => {
            let mut out = String::new();
            write_repr(&mut out, value);
            out
        }
    }
}

/// Python's `repr()` of a value: `None`, `True`, `1.5e-07`, `'text'`, `[1, 'a']`, `{'k': 1}`.
pub(crate) fn write_repr(out: &mut String, value: &Value) {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => match f64_of(value) {
            Some(f) => write_float(out, f),
            None => {
                let _ = write!(out, "{value}");
            }
        },
        ValueKind::String => match value.as_str() {
            Some(s) => write_quoted(out, s),
            None => {
                let _ = write!(out, "{value}");
            }
        },
        ValueKind::Seq | ValueKind::Iterable => {
            let tuple = value.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let mut count = 0;
            if let Ok(items) = value.try_iter() {
                for item in items {
                    if count > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item);
                    count += 1;
                }
            }
            // A one-item tuple keeps its comma: `(1,)`.
            out.push_str(match (tuple, count) {
                (true, 1) => ",)",
                (true, _) => ")",
                _ => "]",
            });
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key);
                    out.push_str(": ");
                    write_repr(out, &value.get_item(&key).unwrap_or_default());
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
}

/// The float inside a number value, when it is a float (integers print as they are).
pub(crate) fn f64_of(value: &Value) -> Option<f64> {
    if value.is_integer() {
        return None;
    }
    f64::try_from(value.clone()).ok()
}

/// Python's `repr(str)`: single quotes unless the text holds a `'` and no `"`.
fn write_quoted(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unprintable(c) => {
                let code = c as u32;
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02x}")
                } else if code <= 0xffff {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// The characters Python's `str.isprintable` refuses, as far as prompts meet them: C1 controls,
/// line and paragraph separators, and the common invisible format characters.
fn is_unprintable(c: char) -> bool {
    matches!(c as u32, 0x80..=0xa0 | 0xad | 0x2028 | 0x2029 | 0x200b..=0x200f | 0xfeff)
}

/// Options of [`write_json`], as Jinja2's `tojson` passes them to `json.dumps`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonStyle {
    /// `indent=`: pretty-print with this many spaces per level.
    pub(crate) indent: Option<usize>,
    /// Escape `<`, `>`, `&` and `'` as `\u003c`… (Jinja2's `htmlsafe_json_dumps`).
    pub(crate) html_safe: bool,
}

/// `json.dumps(value, sort_keys=True, ensure_ascii=True)` (Jinja2's default policy for
/// `tojson`): keys sorted, non-ASCII as `\uXXXX`, floats as Python prints them.
pub(crate) fn write_json(out: &mut String, value: &Value, style: JsonStyle, level: usize) -> Result<(), String> {
    match value.kind() {
        ValueKind::Undefined => return Err("an undefined value cannot be written as JSON".into()),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => match f64_of(value) {
            Some(f) if f.is_nan() => out.push_str("NaN"),
            Some(f) if f.is_infinite() => out.push_str(if f < 0.0 { "-Infinity" } else { "Infinity" }),
            Some(f) => write_float(out, f),
            None => {
                let _ = write!(out, "{value}");
            }
        },
        ValueKind::String => json_string(out, value.as_str().unwrap_or_default(), style.html_safe),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter().map_err(|e| e.to_string())?.collect();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if style.indent.is_none() {
                        out.push(' ');
                    }
                }
                newline(out, style, level + 1);
                write_json(out, item, style, level + 1)?;
            }
            if !items.is_empty() {
                newline(out, style, level);
            }
            out.push(']');
        }
        ValueKind::Map => {
            let mut entries: Vec<(String, Value)> = Vec::new();
            for key in value.try_iter().map_err(|e| e.to_string())? {
                let item = value.get_item(&key).unwrap_or_default();
                let name = match key.kind() {
                    ValueKind::String => key.as_str().unwrap_or_default().to_owned(),
                    ValueKind::None => "null".to_owned(),
                    ValueKind::Bool => (if key.is_true() { "true" } else { "false" }).to_owned(),
                    ValueKind::Number => {
                        let mut s = String::new();
                        write_repr(&mut s, &key);
                        s
                    }
                    other => return Err(format!("keys must be str, int, float, bool or None, not {other}")),
                };
                entries.push((name, item));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if style.indent.is_none() {
                        out.push(' ');
                    }
                }
                newline(out, style, level + 1);
                json_string(out, key, style.html_safe);
                out.push_str(": ");
                write_json(out, item, style, level + 1)?;
            }
            if !entries.is_empty() {
                newline(out, style, level);
            }
            out.push('}');
        }
        other => return Err(format!("a value of type {other} cannot be written as JSON")),
    }
    Ok(())
}

fn newline(out: &mut String, style: JsonStyle, level: usize) {
    if let Some(indent) = style.indent {
        out.push('\n');
        for _ in 0..indent * level {
            out.push(' ');
        }
    }
}

/// A JSON string as Python's `json.dumps` writes it: non-ASCII as `\uXXXX`, and with
/// `html_safe` (Jinja2's `tojson`) `<`, `>`, `&` and `'` too.
pub(crate) fn json_string(out: &mut String, s: &str, html_safe: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\'' if html_safe => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `str.splitlines()`: splits on every line boundary Python knows and drops them.
pub(crate) fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary = matches!(
            c,
            '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        );
        if boundary {
            lines.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r'
                && let Some(&(_, '\n')) = chars.peek()
            {
                chars.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    #[test]
    fn floats_print_as_python_repr() {
        let cases = [
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1.0, "1.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123456789.0, "123456789.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.2345e20, "1.2345e+20"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "inf"),
            (1e100, "1e+100"),
        ];
        for (value, expected) in cases {
            assert_eq!(float(value), expected, "{value:?}");
        }
    }

    #[test]
    fn repr_quotes_like_python() {
        let mut s = String::new();
        write_repr(
            &mut s,
            &Value::from(vec![Value::from("it's"), Value::from("a\nb"), Value::from(())]),
        );
        assert_eq!(s, r#"["it's", 'a\nb', None]"#);
    }

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(splitlines("a\nb\r\nc\rd\n"), ["a", "b", "c", "d"]);
        assert_eq!(splitlines("a\n\nb"), ["a", "", "b"]);
        assert!(splitlines("").is_empty());
    }

    #[test]
    fn json_is_sorted_ascii_and_html_safe() {
        let value = crate::context::to_value(&serde_json::json!({"b": "ü<", "a": [1, 2.5e-7]}));
        let mut s = String::new();
        write_json(
            &mut s,
            &value,
            JsonStyle {
                indent: None,
                html_safe: true,
            },
            0,
        )
        .expect("json");
        assert_eq!(s, r#"{"a": [1, 2.5e-07], "b": "\u00fc\u003c"}"#);
    }
}
