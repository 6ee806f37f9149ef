//! The diff page: two versions of a prompt side by side (`/ui/diff/{id}?from=&to=`), from the
//! structural diff the library computes — the template's changed lines (old left, new right),
//! each chat message added, removed, changed or moved, the model config, input schema, variables
//! and metadata changes, and the bump the changes call for with their reasons.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use prompt_manager::versioning::{
    ChatDiff, EntryChange, Hunk, LineTag, PromptDiff, TemplateDiff, TextChange, reasons, suggest,
};
use prompt_manager::{ChatItem, PromptId, PromptManager, PromptVersion, Template, VersioningExt};
use serde::{Deserialize, Serialize};

use crate::Web;
use crate::session::Viewer;
use crate::view::{OrPage, PageResult, data, fail, ok};

/// The diff page's query string: two references (a version, or a label or range); both optional.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DiffQuery {
    /// The old side (default: the parent of `to`, or the version before it).
    from: Option<String>,
    /// The new side (default: the latest version).
    to: Option<String>,
}

/// One side of a row of a side-by-side diff.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Cell {
    /// The 1-based line number on its side.
    no: usize,
    text: String,
    /// Whether the line was removed (left) or added (right).
    changed: bool,
    /// Whether the line lacks the final newline the other side has.
    missing_newline: bool,
}

/// One row of a side-by-side diff: a line of the old text, of the new text, or both.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Row {
    left: Option<Cell>,
    right: Option<Cell>,
    /// Both sides hold the same unchanged line.
    same: bool,
}

/// A hunk as rows, with its unified-diff header.
#[derive(Debug, Serialize)]
pub(crate) struct HunkView {
    header: String,
    rows: Vec<Row>,
}

/// The rows of a text change: context lines on both sides; within a run of changes, the removed
/// lines paired in order with the added ones, the rest alone on their side.
pub(crate) fn side_by_side(change: &TextChange) -> Vec<HunkView> {
    change.hunks.iter().map(hunk_rows).collect()
}

fn hunk_rows(hunk: &Hunk) -> HunkView {
    let mut rows = Vec::new();
    let (mut old_no, mut new_no) = (hunk.old_start, hunk.new_start);
    let (mut dels, mut inss): (Vec<Cell>, Vec<Cell>) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<Row>, dels: &mut Vec<Cell>, inss: &mut Vec<Cell>| {
        let n = dels.len().max(inss.len());
        let mut dels = dels.drain(..);
        let mut inss = inss.drain(..);
        for _ in 0..n {
            rows.push(Row {
                left: dels.next(),
                right: inss.next(),
                same: false,
            });
        }
    };
    for line in &hunk.lines {
        let cell = |no: usize, changed: bool| Cell {
            no,
            text: line.text.clone(),
            changed,
            missing_newline: line.missing_newline,
        };
        match line.tag {
            LineTag::Equal => {
                flush(&mut rows, &mut dels, &mut inss);
                rows.push(Row {
                    left: Some(cell(old_no, false)),
                    right: Some(cell(new_no, false)),
                    same: true,
                });
                old_no += 1;
                new_no += 1;
            }
            LineTag::Delete => {
                dels.push(cell(old_no, true));
                old_no += 1;
            }
            LineTag::Insert => {
                inss.push(cell(new_no, true));
                new_no += 1;
            }
        }
    }
    flush(&mut rows, &mut dels, &mut inss);
    HunkView {
        header: format!(
            "@@ -{},{} +{},{} @@",
            hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines
        ),
        rows,
    }
}

/// One changed entry of a chat template, for its card.
#[derive(Debug, Serialize)]
pub(crate) struct EntryView {
    /// `added`, `removed`, `moved`, `changed` or `placeholder`.
    change: &'static str,
    old_position: Option<usize>,
    new_position: Option<usize>,
    /// The entry as a message card (added, removed, moved).
    item: Option<super::prompt::MessageView>,
    /// A changed message's role (new side), and role/name changes as `old → new`.
    role: Option<String>,
    role_change: Option<String>,
    name_change: Option<String>,
    tool_call_id_change: Option<String>,
    tool_calls_changed: bool,
    /// A changed message's content as side-by-side hunks.
    content: Vec<HunkView>,
    /// A placeholder's variable and its new optional flag.
    variable: Option<String>,
    optional: Option<bool>,
}

impl EntryView {
    fn new(change: &'static str, old_position: Option<usize>, new_position: Option<usize>) -> Self {
        EntryView {
            change,
            old_position,
            new_position,
            item: None,
            role: None,
            role_change: None,
            name_change: None,
            tool_call_id_change: None,
            tool_calls_changed: false,
            content: Vec::new(),
            variable: None,
            optional: None,
        }
    }
}

fn card(item: &ChatItem) -> Option<super::prompt::MessageView> {
    super::prompt::messages(std::slice::from_ref(item)).pop()
}

fn or_none(value: Option<&str>) -> &str {
    value.unwrap_or("none")
}

/// The cards of a chat template's changes.
pub(crate) fn chat_entries(chat: &ChatDiff) -> Vec<EntryView> {
    chat.entries
        .iter()
        .map(|entry| match entry {
            EntryChange::Added { position, item } => EntryView {
                item: card(item),
                ..EntryView::new("added", None, Some(*position))
            },
            EntryChange::Removed { position, item } => EntryView {
                item: card(item),
                ..EntryView::new("removed", Some(*position), None)
            },
            EntryChange::Moved {
                old_position,
                new_position,
                item,
            } => EntryView {
                item: card(item),
                ..EntryView::new("moved", Some(*old_position), Some(*new_position))
            },
            EntryChange::Message(m) => EntryView {
                role: Some(m.role.as_str().to_owned()),
                role_change: m.role_change.as_ref().map(|c| format!("{} → {}", c.old, c.new)),
                name_change: m
                    .name_change
                    .as_ref()
                    .map(|c| format!("{} → {}", or_none(c.old.as_deref()), or_none(c.new.as_deref()))),
                tool_call_id_change: m
                    .tool_call_id_change
                    .as_ref()
                    .map(|c| format!("{} → {}", or_none(c.old.as_deref()), or_none(c.new.as_deref()))),
                tool_calls_changed: m.tool_calls_change.is_some(),
                content: m.content.as_ref().map(side_by_side).unwrap_or_default(),
                ..EntryView::new("changed", Some(m.old_position), Some(m.new_position))
            },
            EntryChange::Placeholder(p) => EntryView {
                variable: Some(p.variable.clone()),
                optional: Some(p.optional.new),
                ..EntryView::new("placeholder", Some(p.old_position), Some(p.new_position))
            },
        })
        .collect()
}

/// A whole template as plain text, for a text template replaced by a chat one or the reverse.
fn plain(template: &Template) -> String {
    match template {
        Template::Text(text) => text.clone(),
        Template::Chat(items) => items
            .iter()
            .map(|item| match item {
                ChatItem::Message(m) => format!("[{}] {}", m.role.as_str(), m.content),
                ChatItem::Placeholder(p) => format!("[placeholder] {}", p.variable),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The template part of the page.
#[derive(Debug, Default, Serialize)]
pub(crate) struct TemplateView {
    text: Option<Vec<HunkView>>,
    whitespace_only: bool,
    chat: Option<Vec<EntryView>>,
    replaced: Option<(String, String)>,
}

pub(crate) fn template_view(diff: &PromptDiff) -> TemplateView {
    match &diff.template {
        None => TemplateView::default(),
        Some(TemplateDiff::Text(change)) => TemplateView {
            text: Some(side_by_side(change)),
            whitespace_only: change.whitespace_only,
            ..TemplateView::default()
        },
        Some(TemplateDiff::Chat(chat)) => TemplateView {
            chat: Some(chat_entries(chat)),
            ..TemplateView::default()
        },
        Some(TemplateDiff::Replaced { old, new }) => TemplateView {
            replaced: Some((plain(old), plain(new))),
            ..TemplateView::default()
        },
    }
}

/// Where the diff starts by default: the parent of `to`, or the version saved before it.
async fn default_from(
    pm: &PromptManager,
    id: &PromptId,
    to: &PromptVersion,
) -> Result<Option<String>, crate::view::PageError> {
    if let Some(parent) = &to.parent {
        return Ok(Some(parent.to_string()));
    }
    // History is newest first: the version after `to` in it was saved before it.
    let history = pm.history(id).await.or_page()?;
    Ok(history
        .iter()
        .skip_while(|v| v.version != to.version)
        .nth(1)
        .map(|v| v.version.to_string()))
}

/// `GET /ui/diff/{id}?from=&to=`: the diff page.
pub(crate) async fn page(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    query: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad request", &e.body_text()))?;
    let id = super::prompt_id(&raw)?;
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let history = pm.history(&id).await.or_page()?;
    let pick = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let to = pick(query.to).unwrap_or_else(|| summary.latest_version.to_string());
    let unknown = |side: &str, reference: &str, e: prompt_manager::Error| {
        fail(
            StatusCode::NOT_FOUND,
            "No such version",
            &format!(
                "the diff's {side} side `{reference}` does not name a version of `{id}` ({e}). \
                 Pick versions from the lists on the diff page, or see the prompt's history."
            ),
        )
    };
    let new = pm
        .get(&format!("{id}@{to}"))
        .await
        .map_err(|e| unknown("new (to)", &to, e))?;
    let from = match pick(query.from) {
        Some(from) => Some(from),
        None => default_from(pm, &id, &new).await?,
    };
    let versions: Vec<String> = history.iter().map(|v| v.version.to_string()).collect();
    let base = minijinja::context! {
        viewer => viewer.context(),
        id => id.as_str(),
        summary => data(&summary),
        versions => data(&versions),
        to => &to,
    };
    let Some(from) = from else {
        // The first version: nothing before it to compare with.
        return Ok(ok(
            "diff.html",
            minijinja::context! { from => "", first => new.version.to_string(), ..base },
        ));
    };
    let old = pm
        .get(&format!("{id}@{from}"))
        .await
        .map_err(|e| unknown("old (from)", &from, e))?;
    let diff = pm.diff(&old.reference(), &new.reference()).await.or_page()?;
    let suggestion = suggest(&diff);
    Ok(ok(
        "diff.html",
        minijinja::context! {
            from => &from,
            old_version => old.version.to_string(),
            new_version => new.version.to_string(),
            old_info => data(&*old),
            new_info => data(&*new),
            empty => diff.is_empty(),
            diff => data(&diff),
            template => data(template_view(&diff)),
            suggestion => data(&suggestion),
            reasons => data(reasons(&diff)),
            backwards => old.version > new.version,
            ..base
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_manager::versioning::diff_text;

    #[test]
    fn changed_lines_pair_up_and_context_shows_on_both_sides() {
        let change = diff_text("a\nb\nc\n", "a\nB\nB2\nc\n").expect("differs");
        let hunks = side_by_side(&change);
        let rows = &hunks[0].rows;
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert!(rows[0].same);
        let (left, right) = (rows[1].left.as_ref(), rows[1].right.as_ref());
        assert_eq!(left.map(|c| (c.no, c.text.as_str(), c.changed)), Some((2, "b", true)));
        assert_eq!(right.map(|c| (c.no, c.text.as_str(), c.changed)), Some((2, "B", true)));
        assert!(rows[2].left.is_none(), "the extra added line stands alone");
        assert_eq!(rows[2].right.as_ref().map(|c| c.no), Some(3));
        assert_eq!(rows[3].right.as_ref().map(|c| (c.no, c.text.as_str())), Some((4, "c")));
        assert_eq!(hunks[0].header, "@@ -1,3 +1,4 @@");
    }
}
