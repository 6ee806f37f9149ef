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
//! Template *sources* get Jinja2's newline normalisation in [`normalize_newlines`]. The Python
//! methods live in `jinja2/methods.rs`, the `int` and `float` filters in `jinja2/numbers.rs`.

use std::borrow::Cow;

use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs, from_args};
use minijinja::{Environment, Error, ErrorKind, Output, State};

use crate::python::{self, JsonStyle};

mod methods;
mod numbers;

pub(crate) use methods::mutating_hint;

/// Registers everything above on `env`.
pub(crate) fn install(env: &mut Environment<'static>) {
    env.set_formatter(format_value);
    env.set_unknown_method_callback(methods::call);
    env.add_filter("escape", escape);
    env.add_filter("e", escape);
    env.add_filter("forceescape", forceescape);
    env.add_filter("tojson", tojson);
    env.add_filter("indent", indent);
    env.add_filter("int", numbers::int);
    env.add_filter("float", numbers::float);
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
