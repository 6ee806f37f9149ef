//! The status form of the prompt page (`POST /ui/status/{id}`): a lifecycle change (draft,
//! active, deprecated, archived) through a confirmation page, as the label forms of `labels.rs`
//! do — archiving lists the prompts whose includes will stop rendering — then applied only if the
//! status is still the one confirmed, as the key's name, and back to the prompt page.

use std::str::FromStr;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use prompt_manager::PromptStatus;
use serde::Deserialize;

use super::labels::{back_to_prompt, bad_form, is_apply, problem, stale, writer_caller};
use crate::Web;
use crate::session::Viewer;
use crate::view::{OrPage, PageResult, data, page};

/// The status form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusForm {
    /// The new status.
    status: String,
    /// The status when the confirmation was shown.
    #[serde(default)]
    expected: Option<String>,
    /// `confirm` (the default) or `apply`.
    #[serde(default)]
    step: Option<String>,
}

/// `POST /ui/status/{id}`: confirm, then apply, a status change.
pub(crate) async fn post(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Result<Form<StatusForm>, FormRejection>,
) -> PageResult {
    let caller = writer_caller(&viewer)?;
    let id = super::prompt_id(&raw)?;
    let Form(form) = form.map_err(|e| bad_form(&e))?;
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let to = PromptStatus::from_str(form.status.trim()).map_err(|_| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            &viewer,
            &id,
            "Not a status",
            &format!("`{}` is not a status: {}", form.status, super::statuses().join(", ")),
        )
    })?;
    let from = summary.status;
    if let Err(reason) = from.check_transition(to) {
        return Err(problem(
            StatusCode::CONFLICT,
            &viewer,
            &id,
            "Not allowed",
            &format!("`{id}` cannot go from {from} to {to}: {reason}"),
        ));
    }
    if is_apply(form.step.as_deref()) {
        let expected = form.expected.as_deref().map(str::trim);
        if expected != Some(from.as_str()) {
            return Err(stale(
                &viewer,
                &id,
                &format!(
                    "the status of `{id}` changed since you confirmed: it was {} then, it is {from} now.",
                    expected.unwrap_or("unknown")
                ),
            ));
        }
        web.app.writer(&caller).set_status(&id, to).await.or_page()?;
        return Ok(back_to_prompt(&id, &format!("status:{to}")));
    }
    // Archiving makes renders fail, includes of the prompt too: show who includes it.
    let dependents = if to == PromptStatus::Archived {
        pm.dependents(id.as_str()).await.or_page()?
    } else {
        Vec::new()
    };
    Ok(page(
        StatusCode::OK,
        "confirm.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            title => "Confirm",
            kind => "status",
            from => from.as_str(),
            to => to.as_str(),
            labels => data(&summary.labels),
            dependents => data(&dependents),
        },
    ))
}
