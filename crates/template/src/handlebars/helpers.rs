//! Dotprompt's helpers, as its reference implementation writes them: `role`, `history`,
//! `section` and `media` print Dotprompt's markers (`<<<dotprompt:role:system>>>`), which a
//! Dotprompt file's body is split at into messages and parts; `json` prints a value as Python's
//! `json.dumps` does (compact, or indented with `indent=N`, non-ASCII escaped); `ifEquals` and
//! `unlessEquals` compare two values.

use handlebars::{Context, Handlebars, Helper, HelperResult, JsonRender, Output, RenderContext, Renderable};
use serde_json::Value;

/// Registers every helper on `registry`.
pub(crate) fn register(registry: &mut Handlebars<'static>) {
    registry.register_helper("json", Box::new(json));
    registry.register_helper("role", Box::new(role));
    registry.register_helper("history", Box::new(history));
    registry.register_helper("section", Box::new(section));
    registry.register_helper("media", Box::new(media));
    registry.register_helper("ifEquals", Box::new(if_equals));
    registry.register_helper("unlessEquals", Box::new(unless_equals));
}

fn json(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let Some(value) = h.param(0).map(|p| p.value()) else {
        return Ok(());
    };
    let indent = match h.hash_get("indent").map(|p| p.value()) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    out.write(&python_json(value, usize::try_from(indent).unwrap_or(0)))?;
    Ok(())
}

/// `json.dumps(value, separators=(',', ':'))`, or `json.dumps(value, indent=n)`: Python's
/// separators, and every character outside ASCII written as `\uXXXX` (`ensure_ascii`).
pub(super) fn python_json(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_json(value, indent, 0, &mut out);
    out
}

fn write_json(value: &Value, indent: usize, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', indent * depth));
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if indent > 0 {
                    newline(out, depth + 1);
                }
                write_json(item, indent, depth + 1, out);
            }
            if indent > 0 {
                newline(out, depth);
            }
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if indent > 0 {
                    newline(out, depth + 1);
                }
                crate::python::json_string(out, key, false);
                out.push_str(if indent > 0 { ": " } else { ":" });
                write_json(item, indent, depth + 1, out);
            }
            if indent > 0 {
                newline(out, depth);
            }
            out.push('}');
        }
        Value::String(s) => crate::python::json_string(out, s, false),
        // Python writes a float with its shortest repr (`1e-07`, `2.0`), an integer as it is.
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => crate::python::write_float(out, f),
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// The text of a helper's parameter as Handlebars prints it (`str()` of the value).
fn text_of(h: &Helper<'_>, index: usize) -> Option<String> {
    h.param(index).map(|p| p.value().render())
}

fn role(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    if let Some(role) = text_of(h, 0) {
        out.write(&format!("<<<dotprompt:role:{role}>>>"))?;
    }
    Ok(())
}

fn history(
    _: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    out.write("<<<dotprompt:history>>>")?;
    Ok(())
}

fn section(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    if let Some(name) = text_of(h, 0) {
        out.write(&format!("<<<dotprompt:section {name}>>>"))?;
    }
    Ok(())
}

fn media(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let hash = |key: &str| h.hash_get(key).map(|p| p.value().render()).filter(|s| !s.is_empty());
    let Some(url) = hash("url") else { return Ok(()) };
    match hash("contentType") {
        Some(content_type) => out.write(&format!("<<<dotprompt:media:url {url} {content_type}>>>"))?,
        None => out.write(&format!("<<<dotprompt:media:url {url}>>>"))?,
    }
    Ok(())
}

/// Python's `==` on JSON values: numbers by value (`1 == 1.0`), the rest structurally.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Bool(x), Value::Number(y)) | (Value::Number(y), Value::Bool(x)) => {
            y.as_f64() == Some(f64::from(u8::from(*x)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn compare_block<'reg: 'rc, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
    when_equal: bool,
) -> HelperResult {
    let (Some(a), Some(b)) = (h.param(0), h.param(1)) else {
        return Ok(());
    };
    let chosen = if equal(a.value(), b.value()) == when_equal {
        h.template()
    } else {
        h.inverse()
    };
    match chosen {
        Some(template) => template.render(r, ctx, rc, out),
        None => Ok(()),
    }
}

fn if_equals<'reg, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    compare_block(h, r, ctx, rc, out, true)
}

fn unless_equals<'reg, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    compare_block(h, r, ctx, rc, out, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_pythons() {
        let v = json!({"b": [1, 2.5, "é😀"], "a": {}, "c": null, "d": "q\"\n"});
        assert_eq!(
            python_json(&v, 0),
            r#"{"b":[1,2.5,"\u00e9\ud83d\ude00"],"a":{},"c":null,"d":"q\"\n"}"#
        );
        assert_eq!(
            python_json(&v, 2),
            "{\n  \"b\": [\n    1,\n    2.5,\n    \"\\u00e9\\ud83d\\ude00\"\n  ],\n  \"a\": {},\n  \"c\": null,\n  \"d\": \"q\\\"\\n\"\n}"
        );
    }

    #[test]
    fn equality_is_pythons() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!(true), &json!(1)));
        assert!(!equal(&json!("1"), &json!(1)));
        assert!(equal(&json!({"a": [1]}), &json!({"a": [1.0]})));
    }
}
