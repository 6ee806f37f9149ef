//! Python methods minijinja-contrib's `pycompat` lacks, then `pycompat` itself. Methods that
//! mutate (`list.append`, `dict.update`) cannot work: minijinja's values are immutable, and the
//! error says what to write instead.
//!
//! `jinja2.rs` registers `call` as the environment's unknown-method callback.

use super::*;

pub(super) fn call(state: &mut State<'_, '_>, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if let Some(result) = extra(value, method, args) {
        return result;
    }
    if let Some(hint) = mutating_hint(method) {
        return Err(Error::new(
            ErrorKind::UnknownMethod,
            format!(
                "`{method}` would change a {} in place, which templates here cannot do: {hint}",
                value.kind()
            ),
        ));
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// What to write instead of a mutating method; `None` when the method does not mutate.
pub(crate) fn mutating_hint(method: &str) -> Option<&'static str> {
    Some(match method {
        "append" | "extend" | "insert" => "build the list with `+` (`{% set xs = xs + [item] %}`) or in a `namespace`",
        "pop" | "remove" | "clear" | "sort" | "reverse" => {
            "use a filter that returns a new value (`reject`, `sort`, `reverse`, slicing)"
        }
        "update" | "setdefault" | "popitem" => {
            "build a new dict with `dict(a, **b)` or keep the values in a `namespace`"
        }
        _ => return None,
    })
}

fn extra(value: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let s = value.as_str();
    match (value.kind(), method) {
        (ValueKind::String, "zfill") => Some(from_args::<(usize,)>(args).map(|(width,)| {
            let s = s.unwrap_or_default();
            let (sign, digits) = match s.strip_prefix(['-', '+']) {
                Some(rest) => (&s[..1], rest),
                None => ("", s),
            };
            let pad = width.saturating_sub(s.chars().count());
            Value::from(format!("{sign}{}{digits}", "0".repeat(pad)))
        })),
        (ValueKind::String, "center" | "ljust" | "rjust") => {
            Some(from_args::<(usize, Option<String>)>(args).and_then(|(width, fill)| {
                let fill = match fill.as_deref().map(|f| (f.chars().next(), f.chars().count())) {
                    None => ' ',
                    Some((Some(c), 1)) => c,
                    Some(_) => {
                        return Err(Error::new(
                            ErrorKind::InvalidOperation,
                            "the fill character must be exactly one character long",
                        ));
                    }
                };
                let s = s.unwrap_or_default();
                let pad = width.saturating_sub(s.chars().count());
                let padding: String = std::iter::repeat_n(fill, pad).collect();
                Ok(Value::from(match method {
                    "ljust" => format!("{s}{padding}"),
                    "rjust" => format!("{padding}{s}"),
                    _ => py_center(s, width, fill),
                }))
            }))
        }
        (ValueKind::String, "removeprefix") => Some(from_args::<(String,)>(args).map(|(p,)| {
            let s = s.unwrap_or_default();
            Value::from(s.strip_prefix(p.as_str()).unwrap_or(s))
        })),
        (ValueKind::String, "removesuffix") => Some(from_args::<(String,)>(args).map(|(p,)| {
            let s = s.unwrap_or_default();
            Value::from(s.strip_suffix(p.as_str()).unwrap_or(s))
        })),
        (ValueKind::String, "partition" | "rpartition") => Some(from_args::<(String,)>(args).map(|(sep,)| {
            let s = s.unwrap_or_default();
            let found = if method == "partition" {
                s.split_once(sep.as_str())
            } else {
                s.rsplit_once(sep.as_str())
            };
            let parts = match (found, method) {
                (Some((a, b)), _) => [a, sep.as_str(), b],
                (None, "partition") => [s, "", ""],
                (None, _) => ["", "", s],
            };
            Value::from(parts.iter().map(|p| Value::from(*p)).collect::<Vec<_>>())
        })),
        (ValueKind::String, "rsplit") => Some(from_args::<(Option<String>, Option<i64>)>(args).map(|(sep, max)| {
            let s = s.unwrap_or_default();
            let max = max
                .filter(|m| *m >= 0)
                .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
            let mut parts: Vec<&str> = match (sep.as_deref(), max) {
                (Some(sep), Some(n)) => s.rsplitn(n + 1, sep).collect(),
                (Some(sep), None) => s.rsplit(sep).collect(),
                (None, max) => {
                    let words: Vec<&str> = s.split_whitespace().collect();
                    match max {
                        // Once the splits run out, Python keeps the rest as it is,
                        // leading whitespace included (`'  a b'.rsplit(None, 1)` is
                        // `['  a', 'b']`).
                        Some(n) if n < words.len() => {
                            let keep = words.len() - n;
                            let head_end =
                                words[keep - 1].as_ptr() as usize - s.as_ptr() as usize + words[keep - 1].len();
                            let mut v: Vec<&str> = words[keep..].iter().rev().copied().collect();
                            v.push(&s[..head_end]);
                            v
                        }
                        _ => words.into_iter().rev().collect(),
                    }
                }
            };
            parts.reverse();
            Value::from(parts.into_iter().map(Value::from).collect::<Vec<_>>())
        })),
        (ValueKind::String, "swapcase") => Some(Ok(Value::from(
            s.unwrap_or_default()
                .chars()
                .flat_map(|c| -> Vec<char> {
                    if c.is_uppercase() {
                        c.to_lowercase().collect()
                    } else {
                        c.to_uppercase().collect()
                    }
                })
                .collect::<String>(),
        ))),
        (ValueKind::String | ValueKind::Seq, "index") => Some(index_of(value, args)),
        (ValueKind::String, "format") => Some(str_format(s.unwrap_or_default(), args)),
        (ValueKind::Map, "items") => Some(from_args::<()>(args).and_then(|()| items(value))),
        (ValueKind::Seq | ValueKind::Map, "copy") => Some(from_args::<()>(args).map(|()| value.clone())),
        _ => None,
    }
}

fn str_format(template: &str, args: &[Value]) -> Result<Value, Error> {
    let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
    let text = crate::pyformat::str_format(template, positional, &Value::from(kwargs)).map_err(invalid)?;
    Ok(Value::from(text))
}

fn index_of(value: &Value, args: &[Value]) -> Result<Value, Error> {
    let (needle,): (Value,) = from_args(args)?;
    let found = match (value.as_str(), needle.as_str()) {
        (Some(s), Some(n)) => s.find(n).map(|byte| s[..byte].chars().count()),
        _ => value.try_iter()?.position(|item| item == needle),
    };
    found
        .map(|i| Value::from(i64::try_from(i).unwrap_or(i64::MAX)))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("{needle} is not in the {}", value.kind()),
            )
        })
}
