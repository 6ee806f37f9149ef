//! Jinja2 compatibility: what the engine adds to minijinja so that templates written for
//! Python's Jinja2 3.1 render byte-identical (the differential test in
//! `tests/jinja2_differential.rs` holds us to it, and `docs/templates.md` lists what differs).
//!
//! - Output is printed as Python prints it: floats as `repr` (`1.5e-07`), lists and dicts as
//!   `[1, 'a']` / `{'k': 1}`.
//! - Python's `str`, `dict` and `list` methods (`.items()`, `.split()`, `.format()`, …) through
//!   minijinja-contrib's `pycompat`, plus the few it lacks.
//! - The filters whose Jinja2 behaviour differs from minijinja's (`escape`, `tojson`, `indent`,
//!   `int`, `float`, `string`, `join`) and those minijinja keeps out of its core (`center`,
//!   `truncate`, `wordcount`, `wordwrap`, `striptags`, `filesizeformat`).
//!
//! Template *sources* get Jinja2's newline normalisation in [`normalize_newlines`].

use std::borrow::Cow;

use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs, from_args};
use minijinja::{Environment, Error, ErrorKind, Output, State};

use crate::python::{self, JsonStyle};

/// Registers everything above on `env`.
pub(crate) fn install(env: &mut Environment<'static>) {
    env.set_formatter(format_value);
    env.set_unknown_method_callback(methods::call);
    env.add_filter("escape", escape);
    env.add_filter("e", escape);
    env.add_filter("forceescape", forceescape);
    env.add_filter("tojson", tojson);
    env.add_filter("indent", indent);
    env.add_filter("int", int);
    env.add_filter("float", float);
    env.add_filter("center", center);
    env.add_filter("string", string);
    env.add_filter("join", join);
    env.add_filter("truncate", truncate);
    env.add_filter("wordwrap", wordwrap);
    env.add_filter("format", format);
    env.add_filter("urlencode", urlencode);
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("xmlattr", xmlattr);
    env.add_filter("pprint", pprint);
    env.add_filter("attr", attr);
    env.add_filter("items", items);
    env.add_filter("dictsort", dictsort);
    env.add_test("sequence", is_sequence);
    env.add_test("iterable", is_iterable);
    env.add_test("callable", is_callable);
    env.add_test("undefined", |value: &Value| value.is_undefined());
    env.add_filter("wordcount", minijinja_contrib::filters::wordcount);
    env.add_filter("striptags", minijinja_contrib::filters::striptags);
    env.add_filter("filesizeformat", minijinja_contrib::filters::filesizeformat);
    // Jinja2's `cycler(*items)`; contrib's takes one list.
    env.add_function("cycler", |items: Rest<Value>| {
        minijinja_contrib::globals::cycler(items.0)
    });
    env.add_function("joiner", minijinja_contrib::globals::joiner);
}

/// Jinja2 turns every `\r\n` and `\r` of a template's source into `\n` (its default
/// `newline_sequence`); values keep theirs.
pub(crate) fn normalize_newlines(source: &str) -> Cow<'_, str> {
    if source.contains('\r') {
        Cow::Owned(source.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(source)
    }
}

/// `{{ value }}`: strings as they are, everything else as Python's `str()`.
fn format_value(out: &mut Output<'_>, _state: &mut State<'_, '_>, value: &Value) -> Result<(), Error> {
    if let Some(s) = value.as_str() {
        return out.write_str(s).map_err(Error::from);
    }
    match value.kind() {
        ValueKind::Number if value.is_integer() => write_display(out, value),
        ValueKind::None | ValueKind::Bool => write_display(out, value),
        ValueKind::Number | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            let mut s = String::new();
            python::write_str(&mut s, value);
            out.write_str(&s).map_err(Error::from)
        }
        _ => write_display(out, value),
    }
}

fn write_display(out: &mut Output<'_>, value: &Value) -> Result<(), Error> {
    write!(out, "{value}").map_err(Error::from)
}

/// Binds a filter's positional and keyword arguments to its parameter names, as Python does.
fn bind(filter: &str, args: Rest<ValueOrKwargs>, names: &[&str]) -> Result<Vec<Option<Value>>, Error> {
    let values = args.into_values();
    let (positional, kwargs): (&[Value], Kwargs) = from_args(&values)?;
    if positional.len() > names.len() {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!(
                "{filter}() takes at most {} argument(s), {} given",
                names.len(),
                positional.len()
            ),
        ));
    }
    let mut bound: Vec<Option<Value>> = positional.iter().cloned().map(Some).collect();
    bound.resize(names.len(), None);
    for (i, name) in names.iter().enumerate() {
        if let Some(value) = kwargs.get::<Option<Value>>(name)? {
            if bound[i].is_some() {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{filter}() got multiple values for argument '{name}'"),
                ));
            }
            bound[i] = Some(value);
        }
    }
    kwargs.assert_all_used()?;
    Ok(bound)
}

fn opt_usize(filter: &str, value: Option<&Value>, default: usize) -> Result<usize, Error> {
    match value {
        None => Ok(default),
        Some(v) if v.is_none() => Ok(default),
        Some(v) => usize::try_from(v.clone()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("{filter}(): expected a non-negative integer, got {}", v.kind()),
            )
        }),
    }
}

fn opt_bool(value: Option<&Value>, default: bool) -> bool {
    value.map_or(default, Value::is_true)
}

/// MarkupSafe's escape: `&<>"'` as `&amp;&lt;&gt;&#34;&#39;`.
fn markup_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn escape(value: &Value) -> Value {
    if value.is_safe() {
        return value.clone();
    }
    Value::from_safe_string(markup_escape(&python::to_str(value)))
}

fn forceescape(value: &Value) -> Value {
    Value::from_safe_string(markup_escape(&python::to_str(value)))
}

fn tojson(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("tojson", args, &["indent"])?;
    let indent = match bound[0].as_ref() {
        Some(v) if !v.is_none() => Some(opt_usize("tojson", Some(v), 0)?),
        _ => None,
    };
    let mut out = String::new();
    python::write_json(
        &mut out,
        value,
        JsonStyle {
            indent,
            html_safe: true,
        },
        0,
    )
    .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    Ok(Value::from_safe_string(out))
}

/// Jinja2 3.1's `indent(width=4, first=False, blank=False)`, trailing newline kept.
fn indent(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("indent", args, &["width", "first", "blank"])?;
    let indention = match bound[0].as_ref() {
        Some(w) if w.kind() == ValueKind::String => w.as_str().unwrap_or_default().to_owned(),
        other => " ".repeat(opt_usize("indent", other, 4)?),
    };
    let first = opt_bool(bound[1].as_ref(), false);
    let blank = opt_bool(bound[2].as_ref(), false);
    let mut s = python::to_str(value);
    s.push('\n');
    let lines = python::splitlines(&s);
    let mut rv = String::with_capacity(s.len() + indention.len() * lines.len());
    if blank {
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                rv.push('\n');
                rv.push_str(&indention);
            }
            rv.push_str(line);
        }
    } else if let Some((head, rest)) = lines.split_first() {
        rv.push_str(head);
        if !rest.is_empty() {
            rv.push('\n');
            for (i, line) in rest.iter().enumerate() {
                if i > 0 {
                    rv.push('\n');
                }
                if !line.is_empty() {
                    rv.push_str(&indention);
                }
                rv.push_str(line);
            }
        }
    }
    if first {
        rv.insert_str(0, &indention);
    }
    Ok(if value.is_safe() {
        Value::from_safe_string(rv)
    } else {
        Value::from(rv)
    })
}

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
fn int(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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
fn float(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
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

/// Python's `str.center(width)`: the extra space goes left when the padding and the width are
/// both odd.
pub(crate) fn py_center(s: &str, width: usize, fill: char) -> String {
    let len = s.chars().count();
    if width <= len {
        return s.to_owned();
    }
    let pad = width - len;
    let left = pad / 2 + (pad & width & 1);
    let mut out = String::with_capacity(s.len() + pad);
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(s);
    out.extend(std::iter::repeat_n(fill, pad - left));
    out
}

fn center(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("center", args, &["width"])?;
    let width = opt_usize("center", bound[0].as_ref(), 80)?;
    Ok(Value::from(py_center(&python::to_str(value), width, ' ')))
}

fn string(value: &Value) -> Value {
    if value.kind() == ValueKind::String {
        return value.clone();
    }
    Value::from(python::to_str(value))
}

/// Looks up `a.b.0`-style attributes as Jinja2's `attribute=` arguments do.
fn attribute_of(value: &Value, path: &str) -> Result<Value, Error> {
    let mut current = value.clone();
    for part in path.split('.') {
        let next = match part.parse::<i64>() {
            Ok(i) => current.get_item(&Value::from(i)).ok().filter(|v| !v.is_undefined()),
            Err(_) => None,
        };
        current = match next {
            Some(v) => v,
            None => current.get_attr(part)?,
        };
        if current.is_undefined() {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                format!("the attribute `{path}` is undefined"),
            ));
        }
    }
    Ok(current)
}

/// Jinja2's `join(d='', attribute=None)`, items printed as Python's `str()`.
fn join(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("join", args, &["d", "attribute"])?;
    let separator = bound[0].as_ref().map(python::to_str).unwrap_or_default();
    let attribute = bound[1].as_ref().and_then(|v| v.as_str().map(str::to_owned));
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if let Some(s) = value.as_str() {
        // A string joins its characters.
        let chars: Vec<String> = s.chars().map(String::from).collect();
        return Ok(Value::from(chars.join(&separator)));
    }
    let mut out = String::new();
    for (i, item) in value.try_iter()?.enumerate() {
        let item = match &attribute {
            Some(path) => attribute_of(&item, path)?,
            None => item,
        };
        if i > 0 {
            out.push_str(&separator);
        }
        python::write_str(&mut out, &item);
    }
    Ok(Value::from(out))
}

/// Jinja2's `truncate(length=255, killwords=False, end='...', leeway=None)`; the default
/// leeway is Jinja2's policy, 5.
fn truncate(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("truncate", args, &["length", "killwords", "end", "leeway"])?;
    let length = opt_usize("truncate", bound[0].as_ref(), 255)?;
    let killwords = opt_bool(bound[1].as_ref(), false);
    let end = bound[2].as_ref().map_or_else(|| "...".to_owned(), python::to_str);
    let leeway = opt_usize("truncate", bound[3].as_ref(), 5)?;
    let s = python::to_str(value);
    let end_len = end.chars().count();
    if length < end_len {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("truncate(): expected length >= {end_len}, got {length}"),
        ));
    }
    let len = s.chars().count();
    if len <= length + leeway {
        return Ok(Value::from(s));
    }
    let head: String = s.chars().take(length - end_len).collect();
    let head = if killwords {
        head
    } else {
        match head.rsplit_once(' ') {
            Some((before, _)) => before.to_owned(),
            None => head,
        }
    };
    Ok(Value::from(head + &end))
}

/// Jinja2's `wordwrap(width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True)`,
/// positional arguments included.
fn wordwrap(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let names = ["width", "break_long_words", "wrapstring", "break_on_hyphens"];
    let bound = bind("wordwrap", args, &names)?;
    let kwargs: Kwargs = names
        .iter()
        .zip(bound)
        .filter_map(|(name, v)| v.filter(|v| !v.is_none()).map(|v| (*name, v)))
        .collect();
    let text = Value::from(python::to_str(value));
    minijinja_contrib::filters::wordwrap(&text, kwargs)
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Jinja2's `format`: printf-style `value % args` (or `% kwargs`).
fn format(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let values = args.into_values();
    let (positional, kwargs): (&[Value], Kwargs) = from_args(&values)?;
    let has_kwargs = kwargs.args().next().is_some();
    if has_kwargs && !positional.is_empty() {
        return Err(invalid(
            "format(): can't handle positional and keyword arguments at the same time",
        ));
    }
    let template = python::to_str(value);
    let named = has_kwargs.then(|| Value::from(kwargs.clone()));
    // `'%(a)s'|format(d)` with one mapping argument reads names from it, as `%` does.
    let named = named.or_else(|| match positional {
        [one] if one.kind() == ValueKind::Map && template.contains("%(") => Some(one.clone()),
        _ => None,
    });
    let text = crate::pyformat::percent_format(&template, positional, named.as_ref()).map_err(invalid)?;
    Ok(Value::from(text))
}

/// Python's `urllib.parse.quote` with Jinja2's choices: `/` kept in a string, not in a query
/// pair, where a space is `+`.
fn url_quote(s: &str, for_qs: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(char::from(byte)),
            b'/' if !for_qs => out.push('/'),
            b' ' if for_qs => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Jinja2's `urlencode`: a string is quoted; a dict or a list of pairs becomes a query string.
fn urlencode(value: &Value) -> Result<Value, Error> {
    let pairs: Vec<(Value, Value)> = match value.kind() {
        ValueKind::String | ValueKind::Number | ValueKind::Bool | ValueKind::None => {
            return Ok(Value::from(url_quote(&python::to_str(value), false)));
        }
        ValueKind::Map => value
            .try_iter()?
            .map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                (k, v)
            })
            .collect(),
        _ => value
            .try_iter()?
            .map(|pair| {
                let mut items = pair.try_iter().map_err(|_| invalid("urlencode: expected pairs"))?;
                match (items.next(), items.next()) {
                    (Some(k), Some(v)) => Ok((k, v)),
                    _ => Err(invalid("urlencode: expected pairs")),
                }
            })
            .collect::<Result<_, Error>>()?,
    };
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                url_quote(&python::to_str(k), true),
                url_quote(&python::to_str(v), true)
            )
        })
        .collect();
    Ok(Value::from(encoded.join("&")))
}

/// Jinja2's `default(default_value='', boolean=False)`.
fn default(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("default", args, &["default_value", "boolean"])?;
    let fallback = bound[0].clone().unwrap_or(Value::from(""));
    let boolean = opt_bool(bound[1].as_ref(), false);
    Ok(if value.is_undefined() || boolean && !value.is_true() {
        fallback
    } else {
        value.clone()
    })
}

/// Jinja2's `xmlattr(autospace=True)`: ` key="escaped value"` for each item that is not
/// none or undefined.
fn xmlattr(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("xmlattr", args, &["autospace"])?;
    let autospace = opt_bool(bound[0].as_ref(), true);
    if value.kind() != ValueKind::Map {
        return Err(invalid("xmlattr: expected a mapping"));
    }
    let mut parts = Vec::new();
    for key in value.try_iter()? {
        let item = value.get_item(&key)?;
        if item.is_none() || item.is_undefined() {
            continue;
        }
        let name = python::to_str(&key);
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || matches!(c, '/' | '>' | '=')) {
            return Err(invalid(format!(
                "xmlattr: invalid character in attribute name: {name:?}"
            )));
        }
        parts.push(format!(
            "{}=\"{}\"",
            markup_escape(&name),
            markup_escape(&python::to_str(&item))
        ));
    }
    let mut out = parts.join(" ");
    if autospace && !out.is_empty() {
        out.insert(0, ' ');
    }
    Ok(Value::from_safe_string(out))
}

/// Jinja2's `pprint`: `pprint.pformat`, which sorts dict keys. Values that fit in 80 columns
/// print on one line, as here; longer ones wrap in Python (a documented difference).
fn pprint(value: &Value) -> Value {
    fn sorted(value: &Value) -> Value {
        match value.kind() {
            ValueKind::Map => {
                let mut pairs: Vec<(Value, Value)> = value
                    .try_iter()
                    .map(|keys| {
                        keys.map(|k| (k.clone(), sorted(&value.get_item(&k).unwrap_or_default())))
                            .collect()
                    })
                    .unwrap_or_default();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                Value::from_pairs(pairs)
            }
            ValueKind::Seq if !value.is_tuple() => Value::from(
                value
                    .try_iter()
                    .map(|items| items.map(|v| sorted(&v)).collect::<Vec<_>>())
                    .unwrap_or_default(),
            ),
            _ => value.clone(),
        }
    }
    let mut out = String::new();
    python::write_repr(&mut out, &sorted(value));
    Value::from(out)
}

/// Jinja2's `attr(name)`: an attribute, never an item (a dict's keys are not attributes).
fn attr(value: &Value, name: &str) -> Result<Value, Error> {
    if value.kind() == ValueKind::Map {
        return Ok(Value::UNDEFINED);
    }
    value.get_attr(name)
}

/// Pairs are tuples, as Python's `dict.items()` gives them.
fn pairs_to_tuples(value: Value) -> Result<Value, Error> {
    let items: Vec<Value> = value
        .try_iter()?
        .map(|pair| match pair.try_iter() {
            Ok(items) if pair.kind() == ValueKind::Seq => {
                Value::from(minijinja::value::Tuple::from(items.collect::<Vec<_>>()))
            }
            _ => pair,
        })
        .collect();
    Ok(Value::from(items))
}

fn items(value: &Value) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    pairs_to_tuples(minijinja::filters::items(value)?)
}

fn dictsort(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let bound = bind("dictsort", args, &["case_sensitive", "by", "reverse"])?;
    let kwargs: Kwargs = ["case_sensitive", "by", "reverse"]
        .iter()
        .zip(bound)
        .filter_map(|(name, v)| v.map(|v| (*name, v)))
        .collect();
    pairs_to_tuples(minijinja::filters::dictsort(value, kwargs)?)
}

/// Jinja2's `sequence` test: has a length and items (strings and dicts too).
fn is_sequence(value: &Value) -> bool {
    matches!(value.kind(), ValueKind::String | ValueKind::Seq | ValueKind::Map)
}

/// Jinja2's `iterable` test: `iter(value)` works (not on none).
fn is_iterable(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
    )
}

/// Jinja2's `callable` test: functions (`range`, `namespace`, `cycler`). minijinja's macros
/// are not recognisable from outside, so `m is callable` is false for a macro (listed in
/// `docs/templates.md`).
fn is_callable(value: &Value) -> bool {
    value.kind() == ValueKind::Plain
}

/// Python methods minijinja-contrib's `pycompat` lacks, then `pycompat` itself. Methods that
/// mutate (`list.append`, `dict.update`) cannot work: minijinja's values are immutable, and the
/// error says what to write instead.
mod methods {
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
            "append" | "extend" | "insert" => {
                "build the list with `+` (`{% set xs = xs + [item] %}`) or in a `namespace`"
            }
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
            (ValueKind::String, "rsplit") => {
                Some(from_args::<(Option<String>, Option<i64>)>(args).map(|(sep, max)| {
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
                }))
            }
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
}

pub(crate) use methods::mutating_hint;
