//! A prompt's page: one version (the latest, or `?v=`) with its template highlighted or its
//! messages as cards, its variables, input schema, model config and tags; the version history as
//! a timeline with the labels pointing at each version; the labels and their history.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use prompt_manager::{ChatItem, PromptStatus, Template};
use serde::{Deserialize, Serialize};

use crate::Web;
use crate::session::Viewer;
use crate::view::{OrPage, PageResult, fail, ok};

/// Versions shown in the timeline before "show all".
pub(crate) const TIMELINE: usize = 50;

/// The prompt page's query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PromptQuery {
    /// The version to show (default: the latest).
    v: Option<String>,
    /// `all` shows every version in the timeline.
    history: Option<String>,
    /// What the action that led here did (a notice, see `labels::notice`).
    done: Option<String>,
    /// The version just saved by the edit or create page (a confirmation after its redirect).
    saved: Option<String>,
}

/// One message of a chat template, for its card.
#[derive(Debug, Serialize)]
pub(crate) struct MessageView {
    /// `message` or `placeholder`.
    kind: &'static str,
    role: Option<String>,
    content: Option<String>,
    name: Option<String>,
    tool_call_id: Option<String>,
    tool_calls: Vec<serde_json::Value>,
    /// For a placeholder: the variable holding the messages.
    variable: Option<String>,
    optional: bool,
}

/// The cards of a chat template.
pub(crate) fn messages(items: &[ChatItem]) -> Vec<MessageView> {
    items
        .iter()
        .map(|item| match item {
            ChatItem::Message(m) => MessageView {
                kind: "message",
                role: Some(m.role.as_str().to_owned()),
                content: Some(m.content.clone()),
                name: m.name.clone(),
                tool_call_id: m.tool_call_id.clone(),
                tool_calls: m
                    .tool_calls
                    .iter()
                    .map(|c| serde_json::json!({"id": c.id, "name": c.name, "arguments": c.arguments}))
                    .collect(),
                variable: None,
                optional: false,
            },
            ChatItem::Placeholder(p) => MessageView {
                kind: "placeholder",
                role: None,
                content: None,
                name: None,
                tool_call_id: None,
                tool_calls: Vec::new(),
                variable: Some(p.variable.clone()),
                optional: p.optional,
            },
        })
        .collect()
}

/// `GET /ui/p/{id}`: the prompt page.
pub(crate) async fn page(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    query: Result<Query<PromptQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad request", &e.body_text()))?;
    let id = super::prompt_id(&raw)?;
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let shown = query.v.clone().unwrap_or_else(|| summary.latest_version.to_string());
    let version = pm.get(&format!("{id}@{shown}")).await.or_page()?;
    // Newest first, as the timeline shows it.
    let mut history = pm.history(&id).await.or_page()?;
    let mut label_history = pm.label_history(&id, None::<&str>).await.or_page()?;
    let label_controls = super::labels::controls(&web, &label_history, query.done.as_deref());
    // A template whose include is gone still shows; its variables are then unknown.
    let variables = pm.variables(&version.reference()).await.ok();
    label_history.reverse();
    let total_versions = history.len();
    if query.history.as_deref() != Some("all") {
        history.truncate(TIMELINE);
    }
    // Which labels point at each version.
    let mut labels_at: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (label, v) in &summary.labels {
        if !summary.splits.contains_key(label) {
            labels_at.entry(v.to_string()).or_default().push(label.to_string());
        }
    }
    // A split label is at each of its variants, with the variant's share.
    for (label, split) in &summary.splits {
        for (variant, share) in split.variants().iter().zip(split.shares()) {
            labels_at
                .entry(variant.version.to_string())
                .or_default()
                .push(format!("{label} {:.0} %", share * 100.0));
        }
    }
    let usage = super::analytics::by_version(pm, &id).await;
    let prompt = &version.prompt;
    let (text, chat) = match &prompt.template {
        Template::Text(text) => (Some(text.as_str()), None),
        Template::Chat(items) => (None, Some(messages(items))),
    };
    let model_config = serde_json::to_value(&prompt.model_config).unwrap_or_default();
    let has_model_config = model_config.as_object().is_some_and(|o| !o.is_empty());
    Ok(ok(
        "prompt.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            summary => crate::view::data(&summary),
            version => crate::view::data(&*version),
            is_latest => version.version == summary.latest_version,
            text,
            chat => crate::view::data(&chat),
            variables => crate::view::data(&variables),
            schema => crate::view::data(super::schema_rows(&prompt.input_schema)),
            model_config => has_model_config.then(|| crate::view::data(&model_config)),
            tags => crate::view::data(&prompt.metadata.tags),
            description => prompt.metadata.description.as_deref(),
            history => crate::view::data(&history),
            total_versions,
            labels_at => crate::view::data(&labels_at),
            label_history => crate::view::data(&label_history),
            usage,
            splits => crate::view::data(&summary.splits),
            label_controls,
            statuses => super::statuses(),
            archived => summary.status == PromptStatus::Archived,
            saved => query.saved.as_deref(),
        },
    ))
}
