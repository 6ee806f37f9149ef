//! The webhooks page (`/ui/webhooks`, admin keys only, as the REST API's `/v1/webhooks`): the
//! subscriptions with their deliveries by status, and the newest deliveries with their attempts,
//! last answer and error, each with a button that sends it again (`POST /ui/webhooks/redeliver`).

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use prompt_manager_server::webhooks;
use serde::Deserialize;

use crate::Web;
use crate::session::Viewer;
use crate::view::{PageResult, data, fail, ok};

/// Deliveries the page shows.
const SHOWN: usize = 50;

/// The page's query string: the notice after a redelivery.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    /// The delivery just queued again.
    redelivered: Option<String>,
}

fn admin_only(viewer: &Viewer) -> Result<(), crate::view::PageError> {
    if viewer.can_admin() {
        Ok(())
    } else {
        Err(fail(
            StatusCode::FORBIDDEN,
            "For admins",
            "webhooks are managed with an admin key, as the REST API's /v1/webhooks: sign in with one.",
        ))
    }
}

/// `GET /ui/webhooks`.
pub(crate) async fn page(State(web): State<Web>, viewer: Viewer, Query(params): Query<Params>) -> PageResult {
    admin_only(&viewer)?;
    let Some(path) = web.app.options().webhooks_file.clone() else {
        return Ok(ok(
            "webhooks.html",
            minijinja::context! { viewer => viewer.context(), off => true },
        ));
    };
    // A small file, read inline (as the keys file is).
    let read = |e: webhooks::WebhookError| fail(StatusCode::INTERNAL_SERVER_ERROR, "Webhooks file", &e.to_string());
    let subscriptions = webhooks::list(&path).map_err(read)?;
    let deliveries = webhooks::deliveries(&path, None).map_err(read)?;
    let total = deliveries.len();
    let shown: Vec<_> = deliveries.into_iter().take(SHOWN).collect();
    Ok(ok(
        "webhooks.html",
        minijinja::context! {
            viewer => viewer.context(),
            off => false,
            subscriptions => data(&subscriptions),
            deliveries => data(&shown),
            total,
            redelivered => params.redelivered,
        },
    ))
}

/// The redeliver form.
#[derive(Debug, Deserialize)]
pub(crate) struct RedeliverForm {
    /// The delivery (`wh_…_SEQ`).
    delivery: String,
}

/// `POST /ui/webhooks/redeliver`: queue a delivery again, back to the page.
pub(crate) async fn redeliver(
    State(web): State<Web>,
    viewer: Viewer,
    form: Result<Form<RedeliverForm>, FormRejection>,
) -> PageResult {
    admin_only(&viewer)?;
    let Form(form) = form.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad form", &e.body_text()))?;
    let Some(path) = web.app.options().webhooks_file.clone() else {
        return Err(fail(
            StatusCode::CONFLICT,
            "Webhooks are off",
            "start the server with `--webhooks-file`.",
        ));
    };
    match webhooks::redeliver(&path, &form.delivery) {
        Ok(d) => {
            let query = serde_urlencoded::to_string([("redelivered", d.id.as_str())]).unwrap_or_default();
            Ok(Redirect::to(&format!("/ui/webhooks?{query}")).into_response())
        }
        Err(webhooks::WebhookError::NotFound(message)) => {
            Err(fail(StatusCode::NOT_FOUND, "No such delivery", &message))
        }
        Err(e) => Err(fail(StatusCode::INTERNAL_SERVER_ERROR, "Webhooks file", &e.to_string())),
    }
}
