//! The audit and dependents page (`/ui/audit/{id}`): the audit log entries of one prompt, a page
//! at a time (admin keys only, as in the REST API; others see a note), and every prompt version
//! that includes the prompt — the include as written, what it resolves to now, and the labels of
//! the including prompt that render through it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use prompt_manager::AuditQuery;
use serde::Deserialize;

use crate::Web;
use crate::session::Viewer;
use crate::view::{OrPage, PageResult, data, fail, ok};

/// Audit entries per page.
pub(crate) const AUDIT_PAGE: usize = 100;

/// The audit page's query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditParams {
    /// Only entries after this number (the next page).
    after: Option<u64>,
}

/// `GET /ui/audit/{id}`: the audit log of a prompt and its dependents.
pub(crate) async fn page(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    query: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| {
        fail(
            StatusCode::BAD_REQUEST,
            "Bad request",
            &format!("{}: `after` is an entry number (a whole number from 0)", e.body_text()),
        )
    })?;
    let id = super::prompt_id(&raw)?;
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let (entries, next_after) = if viewer.can_admin() {
        let audit = AuditQuery {
            prompt: Some(id.clone()),
            after_seq: query.after,
            limit: Some(AUDIT_PAGE),
        };
        let entries = pm.audit(&audit).await.or_page()?;
        let next = match entries.last() {
            Some(last) if entries.len() == AUDIT_PAGE => Some(last.seq),
            _ => None,
        };
        (Some(entries), next)
    } else {
        (None, None)
    };
    let dependents = pm.dependents(id.as_str()).await.or_page()?;
    Ok(ok(
        "audit.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            summary => data(&summary),
            entries => data(&entries),
            after => query.after,
            next_after,
            dependents => data(&dependents),
        },
    ))
}
