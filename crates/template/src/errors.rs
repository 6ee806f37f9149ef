//! Mapping minijinja errors onto prompt-manager's error kinds, with line and column.

use minijinja::ErrorKind;
use prompt_manager_core::Error;

/// Converts a compile or render error of the template called `unit`.
pub(crate) fn convert_error(err: minijinja::Error, unit: &str) -> Error {
    convert_ref(&err, unit)
}

fn convert_ref(err: &minijinja::Error, unit: &str) -> Error {
    let template = match err.name() {
        Some(name) if name != unit => format!("{unit} (in {name})"),
        _ => unit.to_owned(),
    };
    let message = err.detail().map_or_else(|| err.kind().to_string(), str::to_owned);
    match err.kind() {
        ErrorKind::SyntaxError | ErrorKind::BadEscape | ErrorKind::InvalidDelimiter => {
            let line = err.line().unwrap_or(1);
            let column = column_of(err).unwrap_or(1);
            Error::TemplateSyntax {
                template,
                message,
                line,
                column,
            }
        }
        ErrorKind::OutOfFuel => Error::RenderLimit {
            template,
            limit: "it ran out of fuel (an unbounded or very long loop?)".into(),
        },
        ErrorKind::InvalidOperation if message.contains("recursion limit") => Error::RenderLimit {
            template,
            limit: format!("{message} (includes or macros nest too deep)"),
        },
        ErrorKind::BadInclude | ErrorKind::EvalBlock => {
            match std::error::Error::source(err).and_then(|s| s.downcast_ref::<minijinja::Error>()) {
                Some(inner) => convert_ref(inner, unit),
                None => Error::Render {
                    template,
                    message,
                    line: err.line(),
                },
            }
        }
        _ => Error::Render {
            template,
            message,
            line: err.line(),
        },
    }
}

/// The 1-based column of the error's span, counted in characters.
fn column_of(err: &minijinja::Error) -> Option<usize> {
    let range = err.range()?;
    let source = err.template_source()?;
    let before = source.get(..range.start)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some(before[line_start..].chars().count() + 1)
}
