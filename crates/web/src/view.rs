//! Page rendering: the templates compiled into the binary, the filters and globals they use, and
//! the responses every handler returns (a page, an error page, a fragment for a script).

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value};
use prompt_manager::Error;
use prompt_manager_server::ApiError;

use crate::{assets, highlight};

/// Every template, by name: compiled in, parsed once.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("browse.html", include_str!("../templates/browse.html")),
    ("prompt.html", include_str!("../templates/prompt.html")),
    ("diff.html", include_str!("../templates/diff.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("audit.html", include_str!("../templates/audit.html")),
    ("webhooks.html", include_str!("../templates/webhooks.html")),
    ("playground.html", include_str!("../templates/playground.html")),
    ("prompt_form.html", include_str!("../templates/prompt_form.html")),
    ("edit.html", include_str!("../templates/edit.html")),
    ("new.html", include_str!("../templates/new.html")),
    ("analytics.html", include_str!("../templates/analytics.html")),
    ("experiment.html", include_str!("../templates/experiment.html")),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // A template that does not parse is a bug the tests catch (`every_template_parses`).
            tracing::error!("web UI template {name} does not parse: {e:#}");
        }
    }
    // HTML-escape as `highlight::escape` does: minijinja's own escaping also writes `/` as
    // `&#x2f;`, which is valid but makes every id in a page's source unreadable.
    env.set_formatter(|out, state, value| {
        let plain = !value.is_safe() && !value.is_undefined() && !value.is_none();
        if plain && *state.auto_escape() == minijinja::AutoEscape::Html {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            return out.write_str(&highlight::escape(&text)).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.add_filter("jinja", |source: &str| {
        Value::from_safe_string(highlight::jinja_html(source))
    });
    env.add_filter("when", when);
    env.add_filter("ago", ago);
    env.add_filter("q", query_value);
    env.add_filter("pretty", pretty_json);
    env.add_filter("fixed", fixed);
    env.add_function("asset", |name: &str| assets::url(name));
    env
});

/// A serializable value for a template's context.
pub(crate) fn data<T: serde::Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// A number with `digits` decimals (`0.0123|fixed(2)` → `0.01`); anything else as it is.
fn fixed(value: Value, digits: Option<usize>) -> String {
    match f64::try_from(value.clone()) {
        Ok(n) => format!("{n:.*}", digits.unwrap_or(2).min(9)),
        Err(_) => value.to_string(),
    }
}

/// `2026-12-04 05:10 UTC` from an RFC 3339 timestamp.
fn when(value: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(value).map_or_else(
        |_| value.to_owned(),
        |t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// `3 minutes ago` from an RFC 3339 timestamp.
fn ago(value: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) else {
        return value.to_owned();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    let (n, unit) = match secs {
        0..60 => return "just now".to_owned(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        86_400..2_592_000 => (secs / 86_400, "day"),
        2_592_000..31_536_000 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A value for a URL's query string, form-encoded.
fn query_value(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// A value as indented JSON.
fn pretty_json(value: Value) -> String {
    serde_json::to_value(&value)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_default()
}

/// Renders template `name` with `ctx` as an HTML response with `status`.
pub(crate) fn page(status: StatusCode, name: &str, ctx: Value) -> Response {
    let rendered = ENV.get_template(name).and_then(|t| t.render(ctx));
    match rendered {
        Ok(html) => html_response(status, html),
        Err(e) => {
            tracing::error!("web UI template {name} failed to render: {e:#}");
            plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this page failed to render; the server log says why",
            )
        }
    }
}

/// Renders template `name` with `ctx` as a 200 page.
pub(crate) fn ok(name: &str, ctx: Value) -> Response {
    page(StatusCode::OK, name, ctx)
}

/// Renders one block of template `name` (a fragment a script swaps into the page).
pub(crate) fn fragment(name: &str, block: &str, ctx: Value) -> Response {
    let rendered = ENV
        .get_template(name)
        .and_then(|t| t.render_captured_to(ctx, std::io::sink()))
        .and_then(|mut captured| captured.with_state_mut(|state| state.render_block(block)));
    match rendered {
        Ok(html) => html_response(StatusCode::OK, html),
        Err(e) => {
            tracing::error!("web UI fragment {name}#{block} failed to render: {e:#}");
            plain_error(StatusCode::INTERNAL_SERVER_ERROR, "this fragment failed to render")
        }
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn plain_error(status: StatusCode, detail: &str) -> Response {
    html_response(
        status,
        format!(
            "<!doctype html><title>Error</title><p>{}</p>",
            highlight::escape(detail)
        ),
    )
}

/// An error page: the status, a title and what happened.
pub(crate) fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    page(
        status,
        "error.html",
        minijinja::context! { status => status.as_u16(), title, detail },
    )
}

/// The error page of a failed manager call, with the API's status and message for it (a 5xx
/// says nothing of its cause; the server log does).
pub(crate) fn error_response(error: Error) -> Response {
    let api = ApiError::from(error);
    let status = api.status();
    let problem = api.problem();
    error_page(status, &problem.title, &problem.detail)
}

/// An error page on its way out of a handler (boxed: a response is large).
#[derive(Debug)]
pub(crate) struct PageError(Box<Response>);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for PageError {
    fn from(response: Response) -> Self {
        PageError(Box::new(response))
    }
}

/// An error page as a [`PageError`], for `Err(…)` and `map_err` in handlers.
pub(crate) fn fail(status: StatusCode, title: &str, detail: &str) -> PageError {
    error_page(status, title, detail).into()
}

/// What a handler returns: a page, or an error page.
pub(crate) type PageResult = Result<Response, PageError>;

/// Turns a manager error into its error page, for `?` in handlers.
pub(crate) trait OrPage<T> {
    /// The value, or the error's page.
    fn or_page(self) -> Result<T, PageError>;
}

impl<T> OrPage<T> for prompt_manager::Result<T> {
    fn or_page(self) -> Result<T, PageError> {
        self.map_err(|e| error_response(e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn filters_format_for_people() {
        assert_eq!(when("2026-12-04T05:10:00Z"), "2026-12-04 05:10 UTC");
        assert_eq!(when("not a time"), "not a time");
        assert_eq!(query_value("a b&c/d"), "a+b%26c%2Fd");
        let now = chrono::Utc::now();
        assert_eq!(ago(&(now - chrono::Duration::minutes(3)).to_rfc3339()), "3 minutes ago");
        assert_eq!(ago(&(now - chrono::Duration::hours(1)).to_rfc3339()), "1 hour ago");
        assert_eq!(ago(&now.to_rfc3339()), "just now");
    }
}
