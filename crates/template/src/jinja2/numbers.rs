//! Jinja2's `int` and `float` filters, with Python's `int(text, base)` and `float(text)` parsing
//! of strings (whitespace, signs, `_` between digits, base prefixes, `inf` and `nan`).
//! `jinja2.rs` registers them.

use minijinja::Error;
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};

use super::{bind, opt_usize};
use crate::python;

/// Python's `int(text, base)`: surrounding whitespace, a sign, `_` between digits, and the
/// base's prefix (`0x`…) when the base is 16, 8 or 2 (or 0: any prefix).
fn parse_py_int(text: &str, base: u32) -> Option<i128> {
    let t = text.trim();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &t[2..]),
        (8 | 0, Some("0o")) => (8, &t[2..]),
        (2 | 0, Some("0b")) => (2, &t[2..]),
        (0, _) => (10, t),
        (b, _) => (b, t),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    if cleaned.starts_with(['+', '-']) {
        return None;
    }
    let n = i128::from_str_radix(&cleaned, base).ok()?;
    Some(if negative { -n } else { n })
}

/// Python's `float(text)`.
fn parse_py_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse().ok().or(match unsigned {
            "nan" => Some(f64::NAN),
            _ if lower.starts_with('-') => Some(f64::NEG_INFINITY),
            _ => Some(f64::INFINITY),
        });
    }
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    cleaned.parse().ok()
}

fn number_value(n: i128) -> Value {
    match i64::try_from(n) {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(n),
    }
}

/// Jinja2's `int(default=0, base=10)`: never fails; what does not convert is the default.
pub(super) fn int(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("int", args, &["default", "base"])?;
    let default = bound[0].clone().unwrap_or(Value::from(0));
    let base = u32::try_from(opt_usize("int", bound[1].as_ref(), 10)?).unwrap_or(10);
    let converted = match value.kind() {
        ValueKind::Number if value.is_integer() => Some(value.clone()),
        ValueKind::Number => python::f64_of(value)
            .filter(|f| f.is_finite())
            .map(|f| number_value(f.trunc() as i128)),
        ValueKind::Bool => Some(Value::from(i64::from(value.is_true()))),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            parse_py_int(s, base).map(number_value).or_else(|| {
                parse_py_float(s)
                    .filter(|f| f.is_finite())
                    .map(|f| number_value(f.trunc() as i128))
            })
        }
        _ => None,
    };
    Ok(converted.unwrap_or(default))
}

/// Jinja2's `float(default=0.0)`.
pub(super) fn float(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("float", args, &["default"])?;
    let default = bound[0].clone().unwrap_or(Value::from(0.0));
    let converted = match value.kind() {
        ValueKind::Number => f64::try_from(value.clone()).ok(),
        ValueKind::Bool => Some(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::String => parse_py_float(value.as_str().unwrap_or_default()),
        _ => None,
    };
    Ok(converted.map(Value::from).unwrap_or(default))
}
