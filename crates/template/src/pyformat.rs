//! Python's string formatting, for templates written against Jinja2: the format-spec
//! mini-language of `str.format` (`'{:>8.2f}'.format(x)`, `'{:,}'`, `'{:.1%}'`) and printf-style
//! `%` formatting of Jinja2's `format` filter (`'%05.1f'|format(x)`, `'%(n)s'|format(n=1)`).
//! Both live in one file, a little past 600 lines with their tests, because they share the spec
//! and the number rendering.

use minijinja::value::{Value, ValueKind};

use crate::python;

/// A parsed format spec: `[[fill]align][sign][#][0][width][grouping][.precision][type]`.
#[derive(Debug, Default, Clone)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    alternate: bool,
    zero: bool,
    width: usize,
    grouping: Option<char>,
    precision: Option<usize>,
    kind: Option<char>,
}

fn parse_spec(spec: &str) -> Result<Spec, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut out = Spec::default();
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if chars.len() >= 2 && is_align(chars[1]) {
        out.fill = Some(chars[0]);
        out.align = Some(chars[1]);
        i = 2;
    } else if chars.first().is_some_and(|&c| is_align(c)) {
        out.align = Some(chars[0]);
        i = 1;
    }
    if let Some(&c) = chars.get(i)
        && matches!(c, '+' | '-' | ' ')
    {
        out.sign = Some(c);
        i += 1;
    }
    if chars.get(i) == Some(&'#') {
        out.alternate = true;
        i += 1;
    }
    if chars.get(i) == Some(&'0') {
        out.zero = true;
        i += 1;
    }
    let start = i;
    while chars.get(i).is_some_and(char::is_ascii_digit) {
        i += 1;
    }
    if i > start {
        out.width = chars[start..i]
            .iter()
            .collect::<String>()
            .parse()
            .map_err(|_| "width too big")?;
    }
    if let Some(&c) = chars.get(i)
        && matches!(c, ',' | '_')
    {
        out.grouping = Some(c);
        i += 1;
    }
    if chars.get(i) == Some(&'.') {
        i += 1;
        let start = i;
        while chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err("format specifier missing precision".into());
        }
        out.precision = Some(
            chars[start..i]
                .iter()
                .collect::<String>()
                .parse()
                .map_err(|_| "precision too big")?,
        );
    }
    if let Some(&c) = chars.get(i) {
        out.kind = Some(c);
        i += 1;
    }
    if i != chars.len() {
        return Err(format!("invalid format specifier '{spec}'"));
    }
    Ok(out)
}

/// `format(value, spec)` as Python does it for str, int, float, bool and None.
pub(crate) fn format_value(value: &Value, spec: &str) -> Result<String, String> {
    if spec.is_empty() {
        return Ok(python::to_str(value));
    }
    let spec = parse_spec(spec)?;
    let number = match value.kind() {
        ValueKind::Number => Some(value.clone()),
        // bool formats as an int once there is a spec.
        ValueKind::Bool => Some(Value::from(i64::from(value.is_true()))),
        _ => None,
    };
    match (number, spec.kind) {
        (Some(n), _) => format_number(&n, &spec),
        (None, None | Some('s')) => {
            if spec.sign.is_some() || spec.alternate || spec.zero && spec.align.is_none() {
                return Err("sign not allowed in string format specifier".into());
            }
            let mut s = python::to_str(value);
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            Ok(pad(&s, &spec, '<'))
        }
        (None, Some(kind)) => Err(format!(
            "Unknown format code '{kind}' for object of type '{}'",
            type_name(value)
        )),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::String => "str",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn format_number(n: &Value, spec: &Spec) -> Result<String, String> {
    let float = python::f64_of(n);
    let int: Option<i128> = if float.is_none() {
        i128::try_from(n.clone()).ok()
    } else {
        None
    };
    let (negative, body) = match (spec.kind, int, float) {
        (None | Some('d' | 'n'), Some(i), _) => (i < 0, group(&i.unsigned_abs().to_string(), spec.grouping, 3)),
        (Some('x' | 'X' | 'o' | 'b'), Some(i), _) => {
            let kind = spec.kind.unwrap_or('d');
            let digits = match kind {
                'x' => format!("{:x}", i.unsigned_abs()),
                'X' => format!("{:X}", i.unsigned_abs()),
                'o' => format!("{:o}", i.unsigned_abs()),
                _ => format!("{:b}", i.unsigned_abs()),
            };
            let digits = group(&digits, spec.grouping.map(|_| '_'), 4);
            let prefix = if spec.alternate {
                match kind {
                    'x' => "0x",
                    'X' => "0X",
                    'o' => "0o",
                    _ => "0b",
                }
            } else {
                ""
            };
            (i < 0, format!("{prefix}{digits}"))
        }
        (Some('c'), Some(i), _) => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .ok_or("%c arg not in range(0x110000)")?;
            (false, c.to_string())
        }
        (Some(kind @ ('e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%')), _, _) | (Some(kind @ 'n'), None, _) => {
            let f = float.or_else(|| int.map(|i| i as f64)).unwrap_or(0.0);
            let kind = if kind == 'n' { 'g' } else { kind };
            (
                f.is_sign_negative() && !f.is_nan(),
                float_body(f.abs(), kind, spec.precision, spec.alternate, spec.grouping),
            )
        }
        (None, None, Some(f)) => {
            let body = match spec.precision {
                None => {
                    let mut s = String::new();
                    python::write_float(&mut s, f.abs());
                    s
                }
                Some(p) => {
                    let mut s = float_body(f.abs(), 'g', Some(p.max(1)), spec.alternate, None);
                    if !s.contains(['.', 'e', 'n', 'i']) {
                        s.push_str(".0");
                    }
                    s
                }
            };
            let body = match spec.grouping {
                Some(g) => group_float(&body, g),
                None => body,
            };
            (f.is_sign_negative() && !f.is_nan(), body)
        }
        (Some(kind), _, _) => {
            return Err(format!(
                "Unknown format code '{kind}' for object of type '{}'",
                type_name(n)
            ));
        }
        (None, None, None) => (false, n.to_string()),
    };
    let sign = match (negative, spec.sign) {
        (true, _) => "-",
        (false, Some('+')) => "+",
        (false, Some(' ')) => " ",
        _ => "",
    };
    Ok(pad_number(sign, &body, spec))
}

/// The digits of a non-negative float in `kind` (`e`, `f`, `g`, `%`) notation.
fn float_body(f: f64, kind: char, precision: Option<usize>, alternate: bool, grouping: Option<char>) -> String {
    if f.is_nan() {
        return if kind.is_ascii_uppercase() { "NAN" } else { "nan" }.into();
    }
    if f.is_infinite() {
        let s = if kind.is_ascii_uppercase() { "INF" } else { "inf" };
        return if kind == '%' { format!("{s}%") } else { s.into() };
    }
    let p = precision.unwrap_or(6);
    let body = match kind {
        'f' | 'F' => format!("{f:.p$}"),
        '%' => format!("{:.p$}", f * 100.0),
        'e' | 'E' => sci(f, p, kind == 'E'),
        _ => {
            let p = p.max(1);
            let exponent = sci(f, p - 1, false)
                .split_once('e')
                .and_then(|(_, e)| e.parse::<i32>().ok())
                .unwrap_or(0);
            let p_i = i32::try_from(p).unwrap_or(i32::MAX);
            let mut s = if (-4..p_i).contains(&exponent) {
                let decimals = usize::try_from(p_i - 1 - exponent).unwrap_or(0);
                format!("{f:.decimals$}")
            } else {
                sci(f, p - 1, kind == 'G')
            };
            if !alternate {
                s = strip_zeros(&s);
            }
            s
        }
    };
    let body = if alternate && !body.contains(['.', 'e', 'E']) && matches!(kind, 'f' | 'F' | '%') {
        // `#` keeps the point.
        format!("{body}.")
    } else {
        body
    };
    let body = match grouping {
        Some(g) => group_float(&body, g),
        None => body,
    };
    if kind == '%' { format!("{body}%") } else { body }
}

/// Scientific notation with Python's exponent (`1.50e-07`).
fn sci(f: f64, precision: usize, upper: bool) -> String {
    let s = format!("{f:.precision$e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let e = if upper { 'E' } else { 'e' };
    format!(
        "{mantissa}{e}{}{:02}",
        if exponent < 0 { '-' } else { '+' },
        exponent.abs()
    )
}

/// Drops trailing zeros (and a bare point) of the mantissa, as `g` does.
fn strip_zeros(s: &str) -> String {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    format!("{mantissa}{exponent}")
}

fn group(digits: &str, separator: Option<char>, every: usize) -> String {
    let Some(sep) = separator else {
        return digits.to_owned();
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / every);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(every) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

fn group_float(body: &str, sep: char) -> String {
    let end = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
    format!("{}{}", group(&body[..end], Some(sep), 3), &body[end..])
}

fn pad(s: &str, spec: &Spec, default_align: char) -> String {
    let len = s.chars().count();
    if len >= spec.width {
        return s.to_owned();
    }
    let fill = spec.fill.unwrap_or(' ');
    let pad = spec.width - len;
    let (left, right) = match spec.align.unwrap_or(default_align) {
        '<' => (0, pad),
        '^' => (pad / 2, pad - pad / 2),
        _ => (pad, 0),
    };
    let mut out = String::with_capacity(s.len() + pad);
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(s);
    out.extend(std::iter::repeat_n(fill, right));
    out
}

fn pad_number(sign: &str, body: &str, spec: &Spec) -> String {
    let zero_pad = spec.zero && spec.fill.is_none() && spec.align.is_none();
    if zero_pad || spec.align == Some('=') {
        let fill = if zero_pad { '0' } else { spec.fill.unwrap_or(' ') };
        let len = sign.chars().count() + body.chars().count();
        let pad = spec.width.saturating_sub(len);
        let mut out = String::from(sign);
        out.extend(std::iter::repeat_n(fill, pad));
        out.push_str(body);
        return out;
    }
    pad(&format!("{sign}{body}"), spec, '>')
}

/// `str.format(*args, **kwargs)`: `{}`, `{0}`, `{name}`, `{x.attr}`, `{x[0]}`, `!r`/`!s`, and a
/// format spec after `:`, which may itself hold fields (`'{:{width}}'`), one level deep as in Python.
pub(crate) fn str_format(template: &str, args: &[Value], kwargs: &Value) -> Result<String, String> {
    format_fields(template, args, kwargs, &mut Numbering::default(), 2)
}

/// The automatic field number so far, and whether a field was numbered by hand (Python refuses
/// mixing the two, across nested specs too).
#[derive(Default)]
struct Numbering {
    auto: usize,
    manual: bool,
}

fn format_fields(
    template: &str,
    args: &[Value],
    kwargs: &Value,
    numbering: &mut Numbering,
    nesting: u8,
) -> Result<String, String> {
    if nesting == 0 {
        return Err("Max string recursion exceeded".into());
    }
    let mut out = String::with_capacity(template.len());
    let mut chars = template.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err("Single '}' encountered in format string".into()),
            '{' => {
                let mut field = String::new();
                let mut depth = 1;
                for (_, c) in chars.by_ref() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    field.push(c);
                }
                if depth != 0 {
                    return Err("expected '}' before end of string".into());
                }
                let (field, spec) = match field.split_once(':') {
                    Some((f, s)) => (f, s),
                    None => (field.as_str(), ""),
                };
                let (field, conversion) = match field.split_once('!') {
                    Some((f, c)) => (f, Some(c)),
                    None => (field, None),
                };
                let head = field.split(['.', '[']).next().unwrap_or_default();
                let numbered = head.parse::<usize>().is_ok();
                if head.is_empty() && numbering.manual || numbered && numbering.auto > 0 {
                    return Err("cannot switch between automatic and manual field numbering".into());
                }
                numbering.manual |= numbered;
                let value = lookup(field, args, kwargs, &mut numbering.auto)?;
                let value = match conversion {
                    None | Some("s") => value,
                    Some("r" | "a") => {
                        let mut s = String::new();
                        python::write_repr(&mut s, &value);
                        Value::from(s)
                    }
                    Some(other) => return Err(format!("Unknown conversion specifier {other}")),
                };
                // The value is looked up before the spec's own fields, as Python numbers them.
                let spec = if spec.contains('{') {
                    std::borrow::Cow::Owned(format_fields(spec, args, kwargs, numbering, nesting - 1)?)
                } else {
                    std::borrow::Cow::Borrowed(spec)
                };
                out.push_str(&format_value(&value, &spec)?);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn lookup(field: &str, args: &[Value], kwargs: &Value, auto: &mut usize) -> Result<Value, String> {
    let end = field.find(['.', '[']).unwrap_or(field.len());
    let (head, mut rest) = field.split_at(end);
    let mut value = if head.is_empty() {
        let i = *auto;
        *auto += 1;
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("Replacement index {i} out of range for positional args tuple"))?
    } else if let Ok(i) = head.parse::<usize>() {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("Replacement index {i} out of range for positional args tuple"))?
    } else {
        kwargs
            .get_item(&Value::from(head))
            .ok()
            .filter(|v| !v.is_undefined())
            .ok_or_else(|| format!("KeyError: '{head}'"))?
    };
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            value = value.get_attr(&after[..end]).map_err(|e| e.to_string())?;
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or("Missing ']' in format string")?;
            let key = &after[..end];
            let key = key.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(key));
            value = value.get_item(&key).map_err(|e| e.to_string())?;
            rest = &after[end + 1..];
        } else {
            return Err("Only '.' or '[' may follow ']' in format field specifier".into());
        }
        if value.is_undefined() {
            return Err(format!("the field `{field}` is undefined"));
        }
    }
    Ok(value)
}

/// printf-style `template % args` (Jinja2's `format` filter): `args` is a list of positional
/// values, or a map when the template names its fields (`%(name)s`).
pub(crate) fn percent_format(template: &str, args: &[Value], named: Option<&Value>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    let chars: Vec<char> = template.chars().collect();
    let mut i = 0;
    let mut next = 0usize;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let close = chars[i..]
                .iter()
                .position(|&c| c == ')')
                .ok_or("incomplete format key")?;
            key = Some(chars[i + 1..i + close].iter().collect::<String>());
            i += close + 1;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.align = Some('<'),
                '+' => spec.sign = Some('+'),
                ' ' => spec.sign = spec.sign.or(Some(' ')),
                '0' => spec.zero = true,
                '#' => spec.alternate = true,
                _ => break,
            }
            i += 1;
        }
        let start = i;
        while chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        spec.width = chars[start..i].iter().collect::<String>().parse().unwrap_or(0);
        if chars.get(i) == Some(&'.') {
            i += 1;
            let start = i;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            spec.precision = Some(chars[start..i].iter().collect::<String>().parse().unwrap_or(0));
        }
        let kind = *chars.get(i).ok_or("incomplete format")?;
        i += 1;
        if kind == '%' {
            out.push('%');
            continue;
        }
        if spec.align == Some('<') {
            spec.zero = false;
        }
        let value = match &key {
            Some(k) => named
                .and_then(|m| m.get_item(&Value::from(k.as_str())).ok())
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| format!("KeyError: '{k}'"))?,
            None => {
                let v = args
                    .get(next)
                    .cloned()
                    .ok_or("not enough arguments for format string")?;
                next += 1;
                v
            }
        };
        let text = match kind {
            's' | 'r' | 'a' => {
                let mut s = String::new();
                if kind == 's' {
                    python::write_str(&mut s, &value);
                } else {
                    python::write_repr(&mut s, &value);
                }
                if let Some(p) = spec.precision {
                    s = s.chars().take(p).collect();
                }
                spec.zero = false;
                spec.sign = None;
                spec.precision = None;
                pad(&s, &spec, '>')
            }
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' | 'c' => {
                let int = match value.kind() {
                    ValueKind::Bool => Value::from(i64::from(value.is_true())),
                    ValueKind::Number if value.is_integer() => value.clone(),
                    ValueKind::Number if matches!(kind, 'd' | 'i' | 'u') => {
                        let f = python::f64_of(&value).unwrap_or(0.0);
                        Value::from(f.trunc() as i64)
                    }
                    _ => {
                        return Err(format!(
                            "%{kind} format: an integer is required, not {}",
                            type_name(&value)
                        ));
                    }
                };
                let kind = if matches!(kind, 'i' | 'u') { 'd' } else { kind };
                let precision = spec.precision.take();
                spec.kind = Some(kind);
                let mut text = format_number(&int, &spec)?;
                if let Some(p) = precision {
                    // `%.3d`: at least p digits.
                    let digits = text.trim_start_matches(['-', '+', ' ']).len();
                    if digits < p {
                        let at = text.len() - digits;
                        text.insert_str(at, &"0".repeat(p - digits));
                    }
                }
                text
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
                if !matches!(value.kind(), ValueKind::Number | ValueKind::Bool) {
                    return Err(format!("must be real number, not {}", type_name(&value)));
                }
                spec.kind = Some(kind);
                format_number(&value, &spec)?
            }
            other => return Err(format!("unsupported format character '{other}'")),
        };
        out.push_str(&text);
    }
    if !template.contains("%(") && next < args.len() {
        return Err("not all arguments converted during string formatting".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(value: impl Into<Value>, spec: &str) -> String {
        format_value(&value.into(), spec).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn format_specs_match_python() {
        assert_eq!(f(4.56789, ".2f"), "4.57");
        assert_eq!(f(0.457, ".1%"), "45.7%");
        assert_eq!(f(1234567, ","), "1,234,567");
        assert_eq!(f(5, "+d"), "+5");
        assert_eq!(f(731, "05d"), "00731");
        assert_eq!(f("open", ">8"), "    open");
        assert_eq!(f("open", "^8"), "  open  ");
        assert_eq!(f(1.5e-7, ""), "1.5e-07");
        assert_eq!(f(1234.5, ".3e"), "1.234e+03");
        assert_eq!(f(0.0001234, "g"), "0.0001234");
        assert_eq!(f(123456789.0, "g"), "1.23457e+08");
        assert_eq!(f(255, "#x"), "0xff");
        assert_eq!(f(2.5, ".3"), "2.5");
        assert_eq!(f(-3.0, "08.2f"), "-0003.00");
    }

    #[test]
    fn percent_formatting_matches_python() {
        let p = |t: &str, args: Vec<Value>| percent_format(t, &args, None).unwrap_or_else(|e| format!("error: {e}"));
        assert_eq!(
            p("%.2f %5.1f| %d", vec![4.56789.into(), 4.56789.into(), 3.99.into()]),
            "4.57   4.6| 3"
        );
        assert_eq!(p("%s-%s %r %%", vec!["a".into(), 1.into(), "b".into()]), "a-1 'b' %");
        assert_eq!(
            p("%-5s|%05d|%x", vec!["ab".into(), 42.into(), 255.into()]),
            "ab   |00042|ff"
        );
        assert!(p("%d", vec!["x".into()]).starts_with("error"));
    }

    #[test]
    fn str_format_fields() {
        let kwargs = Value::from_pairs([("name", Value::from("Ada"))]);
        let out = str_format(
            "{0} {0} {name!r} {{x}} {1:>4}",
            &[Value::from(1), Value::from(2)],
            &kwargs,
        );
        assert_eq!(out.as_deref(), Ok("1 1 'Ada' {x}    2"));
    }
}
