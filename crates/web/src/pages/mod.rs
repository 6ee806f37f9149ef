//! The page handlers, one module per page or group of forms. Each handler loads what its page
//! shows through the manager, shapes it for its template (`templates/*.html`) and renders it;
//! failures render the error page with the API's status and message.

pub(crate) mod analytics;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod browse;
pub(crate) mod create;
pub(crate) mod diff;
pub(crate) mod edit;
pub(crate) mod form;
pub(crate) mod labels;
pub(crate) mod playground;
pub(crate) mod prompt;
pub(crate) mod status;
pub(crate) mod webhooks;

use axum::http::StatusCode;
use prompt_manager::{InputSchema, PromptId, PromptStatus};

use crate::view::{PageError, fail};

/// The prompt id of a page's path, or a 404 page that says why it is not one.
pub(crate) fn prompt_id(raw: &str) -> Result<PromptId, PageError> {
    PromptId::new(raw.trim_end_matches('/')).map_err(|e| {
        fail(
            StatusCode::NOT_FOUND,
            "No such prompt",
            &format!("`{raw}` is not a prompt id: {e}"),
        )
    })
}

/// One variable of an input schema, as a page shows it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct SchemaRow {
    name: String,
    kind: &'static str,
    /// Whether a render without it fails: required and without a default.
    required: bool,
    /// The default, as JSON.
    default: Option<String>,
    description: Option<String>,
}

/// The rows of an input schema.
pub(crate) fn schema_rows(schema: &InputSchema) -> Vec<SchemaRow> {
    schema
        .variables
        .iter()
        .map(|v| SchemaRow {
            name: v.name.clone(),
            kind: v.kind.as_str(),
            required: v.required && v.default.is_none(),
            default: v.default.as_ref().map(ToString::to_string),
            description: v.description.clone(),
        })
        .collect()
}

/// The statuses, for filters and forms.
pub(crate) fn statuses() -> Vec<&'static str> {
    PromptStatus::ALL.iter().map(|s| s.as_str()).collect()
}
