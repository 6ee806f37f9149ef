//! The browse page: every prompt, searched, filtered and paged by the store (so a page costs the
//! same at ten prompts or ten thousand).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use prompt_manager::{LabelName, ListQuery, PromptStatus};
use serde::{Deserialize, Serialize};

use crate::Web;
use crate::session::Viewer;
use crate::view::{OrPage, PageResult, fail, ok};

/// Prompts per page.
pub(crate) const PAGE_SIZE: usize = 50;

/// The browse page's query string: what the search form sends.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct BrowseQuery {
    /// Text in the id, description or tags.
    #[serde(default)]
    q: String,
    /// A tag the prompts must have.
    #[serde(default)]
    tag: String,
    /// A status.
    #[serde(default)]
    status: String,
    /// A label the prompts must have.
    #[serde(default)]
    label: String,
    /// Where the page starts (from the previous page's "next" link).
    #[serde(default)]
    cursor: String,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// `GET /ui/`: the prompts.
pub(crate) async fn page(
    State(web): State<Web>,
    viewer: Viewer,
    query: Result<Query<BrowseQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad search", &e.body_text()))?;
    let status = match some(&query.status) {
        Some(s) => Some(PromptStatus::parse(&s).ok_or_else(|| {
            fail(
                StatusCode::BAD_REQUEST,
                "Bad search",
                &format!("status `{s}` is not one of {}", super::statuses().join(", ")),
            )
        })?),
        None => None,
    };
    let list = ListQuery {
        tags: some(&query.tag).into_iter().collect(),
        status,
        search: some(&query.q),
        label: match some(&query.label) {
            Some(label) => Some(
                LabelName::new(&label)
                    .map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad search", &format!("label: {e}")))?,
            ),
            None => None,
        },
        id_prefix: None,
        limit: Some(PAGE_SIZE),
        cursor: some(&query.cursor),
    };
    let page = web.app.manager().list(&list).await.or_page()?;
    let next = page.next_cursor.as_ref().map(|cursor| {
        let next = BrowseQuery {
            cursor: cursor.clone(),
            ..query_without_cursor(&query)
        };
        serde_urlencoded::to_string(&next).unwrap_or_default()
    });
    let filtered = [&query.q, &query.tag, &query.status, &query.label]
        .iter()
        .any(|s| !s.trim().is_empty());
    Ok(ok(
        "browse.html",
        minijinja::context! {
            viewer => viewer.context(),
            prompts => crate::view::data(&page.items),
            query => crate::view::data(&query),
            statuses => super::statuses(),
            next,
            first_page => query.cursor.is_empty(),
            filtered,
        },
    ))
}

fn query_without_cursor(query: &BrowseQuery) -> BrowseQuery {
    BrowseQuery {
        q: query.q.clone(),
        tag: query.tag.clone(),
        status: query.status.clone(),
        label: query.label.clone(),
        cursor: String::new(),
    }
}
