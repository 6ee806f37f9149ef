//! Mapping minijinja errors onto prompt-manager's error variants, with line and column.
//!
//! Each minijinja [`ErrorKind`] maps to one variant, with one exception minijinja gives no
//! structural signal for: templates or macros nesting deeper than the recursion limit is an
//! `InvalidOperation`, like a hundred ordinary render errors, told apart only by its detail, and
//! the depth it counts (macro calls, includes) is not visible from outside the VM. So the narrowest
//! check is kept: the kind, and the detail compared for equality with the one minijinja itself
//! gives that error, learned once by provoking it ([`RECURSION_DETAIL`]) rather than copied here.
//! A minijinja that words it differently is still recognised; one that stops raising it this way
//! fails the test below instead of turning the limit into a plain render error unnoticed.

use std::sync::LazyLock;

use minijinja::ErrorKind;
use prompt_manager_core::Error;

/// The detail of the error minijinja raises when a render nests deeper than its recursion limit.
static RECURSION_DETAIL: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.set_recursion_limit(8);
    let template = env
        .template_from_str("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
        .ok()?;
    let err = template.render(()).err()?;
    (err.kind() == ErrorKind::InvalidOperation)
        .then(|| err.detail().map(str::to_owned))
        .flatten()
});

/// Whether `err` is minijinja's recursion limit.
fn is_recursion_limit(err: &minijinja::Error) -> bool {
    err.kind() == ErrorKind::InvalidOperation
        && RECURSION_DETAIL
            .as_deref()
            .is_some_and(|detail| err.detail() == Some(detail))
}

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
        ErrorKind::InvalidOperation if is_recursion_limit(err) => Error::RenderLimit {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_recursion_limit_is_told_from_other_invalid_operations() {
        let detail = RECURSION_DETAIL.as_deref();
        assert!(
            detail.is_some(),
            "minijinja no longer raises the recursion limit as an InvalidOperation"
        );
        let mut env = minijinja::Environment::new();
        env.set_recursion_limit(16);
        let deep = env
            .template_from_str("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
            .unwrap()
            .render(())
            .unwrap_err();
        let err = convert_error(deep, "deep");
        assert!(matches!(err, Error::RenderLimit { .. }), "{err:?}");
        // Another invalid operation, even one whose message mentions recursion, is a render error.
        let other = minijinja::Error::new(ErrorKind::InvalidOperation, "recursion limit of my own filter");
        assert!(matches!(convert_error(other, "x"), Error::Render { .. }));
    }
}
