//! The page handlers, one module per page or group of forms. Each handler loads what its page
//! shows through the manager, shapes it for its template (`templates/*.html`) and renders it;
//! failures render the error page with the API's status and message.

pub(crate) mod auth;
pub(crate) mod browse;
pub(crate) mod create;
pub(crate) mod edit;
pub(crate) mod form;
pub(crate) mod prompt;

use axum::http::StatusCode;
use prompt_manager::{PromptId, PromptStatus};

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

/// The statuses, for filters and forms.
pub(crate) fn statuses() -> Vec<&'static str> {
    PromptStatus::ALL.iter().map(|s| s.as_str()).collect()
}
