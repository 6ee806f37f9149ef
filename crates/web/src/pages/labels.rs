//! Promote and roll back: the label forms of the prompt page (`POST /ui/labels/{id}`: set a
//! label to a version, roll it back, remove it, protect or unprotect it) and the status form
//! (`POST /ui/status/{id}`, in `status.rs`). Every change goes through a confirmation page (`step=confirm`) that
//! says what will change — the label's move, a summary of the diff between its old and new
//! version with the suggested bump, the prompts whose includes follow the label, whether it is
//! protected — and carries the label's current version; `step=apply` does it only if the label
//! is still there (otherwise a stale confirmation, nothing changed), then redirects to the prompt
//! page with a notice (`?done=…`, see [`notice`]). The status form's handler lives in `status.rs`.
//!
//! Writes need a write key; a protected label (the prompt's own protection, or the server's
//! configuration) needs an admin key, as in the REST API. The writes go through
//! `AppState::writer`, so the audit log names the key.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use prompt_manager::semver::Version;
use prompt_manager::versioning::{changelog_draft, reasons, suggest};
use prompt_manager::{
    Error, ExpectTarget, LabelEvent, LabelName, LabelTarget, PromptId, PromptStatus, PromptSummary, Split,
    SplitOptions, VersioningExt, rollback_assignment,
};
use prompt_manager_server::keys::Caller;
use serde::Deserialize;

use crate::Web;
use crate::session::Viewer;
use crate::view::{OrPage, PageError, PageResult, data, fail, page};

/// The label form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct LabelForm {
    /// `set`, `rollback`, `remove`, `protect` or `unprotect`.
    action: String,
    /// The label.
    label: String,
    /// The version to point it at (`set`), or the rollback target the confirmation showed.
    #[serde(default)]
    version: Option<String>,
    /// Where the label pointed when the confirmation was shown (`""`: unset).
    #[serde(default)]
    expected: Option<String>,
    /// `confirm` (the default) or `apply`.
    #[serde(default)]
    step: Option<String>,
}

/// A label action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Set,
    Rollback,
    Remove,
    Protect,
    Unprotect,
}

impl Action {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "set" => Action::Set,
            "rollback" => Action::Rollback,
            "remove" => Action::Remove,
            "protect" => Action::Protect,
            "unprotect" => Action::Unprotect,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Action::Set => "set",
            Action::Rollback => "rollback",
            Action::Remove => "remove",
            Action::Protect => "protect",
            Action::Unprotect => "unprotect",
        }
    }

    /// Whether the action moves the label (and so needs admin when it is protected).
    fn moves(self) -> bool {
        matches!(self, Action::Set | Action::Rollback | Action::Remove)
    }
}

/// The caller when the viewer may write; a 403 page otherwise.
pub(crate) fn writer_caller(viewer: &Viewer) -> Result<Caller, PageError> {
    match &viewer.caller {
        Some(caller) if viewer.can_write() => Ok(caller.clone()),
        _ => Err(fail(
            StatusCode::FORBIDDEN,
            "Read-only key",
            "your API key may read but not change prompts: sign in with a write key to move labels or \
             change a prompt's status. Nothing was changed.",
        )),
    }
}

/// A form problem shown on the confirmation page, with a link back to the prompt.
pub(super) fn problem(status: StatusCode, viewer: &Viewer, id: &PromptId, title: &str, detail: &str) -> PageError {
    page(
        status,
        "confirm.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            title,
            problem => detail,
        },
    )
    .into()
}

/// The 409 page of a confirmation that no longer describes the state.
pub(super) fn stale(viewer: &Viewer, id: &PromptId, detail: &str) -> PageError {
    problem(
        StatusCode::CONFLICT,
        viewer,
        id,
        "Stale confirmation: nothing changed",
        &format!("{detail} Nothing was changed: go back to the prompt, look at its labels again and start over."),
    )
}

pub(super) fn bad_form(e: &FormRejection) -> PageError {
    fail(StatusCode::BAD_REQUEST, "Bad form", &e.body_text())
}

pub(super) fn is_apply(step: Option<&str>) -> bool {
    step == Some("apply")
}

/// The version a form field names, or a 422 problem.
fn parse_version(viewer: &Viewer, id: &PromptId, text: Option<&str>) -> Result<Version, PageError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            viewer,
            id,
            "Which version?",
            "pick the version the label should point to",
        ));
    }
    Version::parse(text).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            viewer,
            id,
            "Not a version",
            &format!("`{text}` is not a full version like 1.2.0: {e}"),
        )
    })
}

/// `POST /ui/labels/{id}`: confirm, then apply, a label action.
pub(crate) async fn post(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Result<Form<LabelForm>, FormRejection>,
) -> PageResult {
    let caller = writer_caller(&viewer)?;
    let id = super::prompt_id(&raw)?;
    let Form(form) = form.map_err(|e| bad_form(&e))?;
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let Some(action) = Action::parse(&form.action) else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            &viewer,
            &id,
            "Unknown action",
            &format!(
                "`{}` is not a label action: set, rollback, remove, protect or unprotect",
                form.action
            ),
        ));
    };
    let label = LabelName::new(form.label.trim()).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            &viewer,
            &id,
            "Not a label name",
            &e.to_string(),
        )
    })?;
    let current = summary.labels.get(&label).cloned();
    let current_split = summary.splits.get(&label).cloned();
    let store_protected = summary.protected.contains(&label);
    let config_protected = web.app.is_protected(label.as_str());
    if action.moves() && (store_protected || config_protected) && !viewer.can_admin() {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "Protected label",
            &format!(
                "label `{label}` of `{id}` is protected{}: moving, rolling back or removing it needs an admin key. \
                 Nothing was changed.",
                if config_protected {
                    " by the server's configuration"
                } else {
                    ""
                }
            ),
        ));
    }
    if action == Action::Unprotect && !viewer.can_admin() {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "Admins only",
            "lifting a label's protection needs an admin key. Nothing was changed.",
        ));
    }
    let mut rollback_split = None;
    let target = match action {
        Action::Set => {
            let version = parse_version(&viewer, &id, form.version.as_deref())?;
            if let Err(e) = pm.get(&format!("{id}@{version}")).await {
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    &viewer,
                    &id,
                    "No such version",
                    &format!("`{id}` has no version {version} to point `{label}` at: {e}"),
                ));
            }
            Some(version)
        }
        Action::Rollback => {
            let history = pm.label_history(&id, Some(&label)).await.or_page()?;
            let now = current
                .clone()
                .map(|v| LabelTarget::from_parts(v, current_split.clone()));
            match rollback_assignment(&history) {
                Some((from, to)) if Some(&from) == now.as_ref() => {
                    // Back to an A/B split: the split is restored, its primary is the version the
                    // confirmation diffs against.
                    rollback_split = to.split().cloned();
                    Some(to.version().clone())
                }
                _ => {
                    return Err(problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &viewer,
                        &id,
                        "Nothing to roll back to",
                        &format!(
                            "label `{label}` of `{id}` has no earlier version to go back to; point it at a version instead"
                        ),
                    ));
                }
            }
        }
        Action::Remove => {
            if current.is_none() {
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    &viewer,
                    &id,
                    "No such label",
                    &format!("`{id}` has no label `{label}` to remove"),
                ));
            }
            None
        }
        Action::Protect | Action::Unprotect => current.clone(),
    };
    let plan = Plan {
        id,
        label,
        action,
        current,
        current_split,
        target,
        rollback_split,
        store_protected,
        config_protected,
    };
    if is_apply(form.step.as_deref()) {
        apply(
            &web,
            &viewer,
            &caller,
            &plan,
            form.expected.as_deref(),
            form.version.as_deref(),
        )
        .await
    } else {
        confirm(&web, &viewer, &summary, &plan).await
    }
}

/// A checked label action: what it changes.
struct Plan {
    id: PromptId,
    label: LabelName,
    action: Action,
    /// Where the label points now (a split label: its primary version).
    current: Option<Version>,
    /// The label's A/B split, when it is one.
    current_split: Option<Split>,
    /// Where it will point (protect/unprotect: where it points; a rollback to an A/B split:
    /// the split's primary).
    target: Option<Version>,
    /// The A/B split a rollback restores, when the label was one before.
    rollback_split: Option<Split>,
    store_protected: bool,
    config_protected: bool,
}

fn text(version: Option<&Version>) -> String {
    version.map(ToString::to_string).unwrap_or_default()
}

impl Plan {
    /// What the label points at now, as the confirmation carries it: a version, `split
    /// 1.2.0=90 1.3.0=10`, or empty when unset.
    fn expected_text(&self) -> String {
        match &self.current_split {
            Some(split) => format!("split {split}"),
            None => text(self.current.as_ref()),
        }
    }

    /// Where the label will point, as the confirmation carries it: a version, or `split
    /// 1.2.0=90 1.3.0=10` for a rollback that restores a split.
    fn target_text(&self) -> String {
        match &self.rollback_split {
            Some(split) => format!("split {split}"),
            None => text(self.target.as_ref()),
        }
    }

    /// The compare-and-set of the write: the label still points where the confirmation said,
    /// split included.
    fn split_options(&self) -> SplitOptions {
        let expected = match (&self.current_split, &self.current) {
            (Some(split), _) => ExpectTarget::Is(LabelTarget::Split(split.clone())),
            (None, Some(v)) => ExpectTarget::Is(LabelTarget::Version(v.clone())),
            (None, None) => ExpectTarget::Absent,
        };
        SplitOptions { expected }
    }
}

/// The confirmation page of a label action.
async fn confirm(web: &Web, viewer: &Viewer, summary: &PromptSummary, plan: &Plan) -> PageResult {
    let pm = web.app.manager();
    let id = &plan.id;
    let change = match (&plan.current, &plan.target) {
        (Some(a), Some(b)) if a != b && plan.action.moves() => {
            let diff = pm.diff(&format!("{id}@{a}"), &format!("{id}@{b}")).await.or_page()?;
            Some(minijinja::context! {
                from => a.to_string(),
                to => b.to_string(),
                backwards => b < a,
                empty => diff.is_empty(),
                summary => changelog_draft(&diff),
                suggestion => data(suggest(&diff)),
                reasons => data(reasons(&diff)),
            })
        }
        _ => None,
    };
    let followers = if plan.action.moves() {
        pm.label_followers(id, &plan.label).await.or_page()?
    } else {
        Vec::new()
    };
    let unchanged = match plan.action {
        Action::Set => plan.current_split.is_none() && plan.current == plan.target,
        Action::Protect => plan.store_protected,
        Action::Unprotect => !plan.store_protected,
        Action::Rollback | Action::Remove => false,
    };
    Ok(page(
        StatusCode::OK,
        "confirm.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            title => "Confirm",
            kind => "label",
            action => plan.action.as_str(),
            label => plan.label.as_str(),
            current => plan.current.as_ref().map(ToString::to_string),
            target => plan.target.as_ref().map(ToString::to_string),
            expected => plan.expected_text(),
            split => plan.current_split.as_ref().map(ToString::to_string),
            target_split => plan.rollback_split.as_ref().map(ToString::to_string),
            version => plan.target_text(),
            store_protected => plan.store_protected,
            config_protected => plan.config_protected,
            latest => summary.latest_version.to_string(),
            change,
            unchanged,
            followers => data(&followers),
        },
    ))
}

/// Whether the state still matches what the confirmation showed; a stale page otherwise.
fn check_fresh(viewer: &Viewer, plan: &Plan, expected: Option<&str>, version: Option<&str>) -> Result<(), PageError> {
    let Some(expected) = expected else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            viewer,
            &plan.id,
            "Confirm first",
            "this form lacks the confirmation's expected version: use the buttons of the prompt page, which ask for a confirmation first",
        ));
    };
    let expected = expected.trim();
    let now = plan.expected_text();
    if expected != now {
        let was = if expected.is_empty() { "unset" } else { expected };
        let is = if now.is_empty() { "unset" } else { now.as_str() };
        return Err(stale(
            viewer,
            &plan.id,
            &format!(
                "label `{}` changed since you confirmed: it was {was} then, it is {is} now.",
                plan.label
            ),
        ));
    }
    if plan.action == Action::Rollback && version.map(str::trim) != Some(plan.target_text().as_str()) {
        return Err(stale(
            viewer,
            &plan.id,
            &format!(
                "the rollback of `{}` would now go to {} rather than {}.",
                plan.label,
                plan.target_text(),
                version.unwrap_or("the version you confirmed")
            ),
        ));
    }
    Ok(())
}

/// A conflict of a compare-and-set as a stale page; other errors as their page.
fn stale_or_page<T>(viewer: &Viewer, plan: &Plan, result: prompt_manager::Result<T>) -> Result<T, PageError> {
    match result {
        Err(e @ Error::VersionConflict { .. }) => Err(stale(viewer, &plan.id, &format!("{e}."))),
        other => other.or_page(),
    }
}

/// Does a confirmed label action and redirects to the prompt page with a notice.
async fn apply(
    web: &Web,
    viewer: &Viewer,
    caller: &Caller,
    plan: &Plan,
    expected: Option<&str>,
    version: Option<&str>,
) -> PageResult {
    check_fresh(viewer, plan, expected, version)?;
    let pm = web.app.writer(caller);
    let (id, label) = (&plan.id, &plan.label);
    let done = match (plan.action, &plan.target) {
        (Action::Set, Some(target)) => {
            let to = Some(LabelTarget::Version(target.clone()));
            let event = stale_or_page(
                viewer,
                plan,
                pm.assign_label_with(id, label, to, plan.split_options()).await,
            )?;
            match event {
                Some(_) => format!("set:{label}:{target}"),
                None => format!("unchanged:{label}:{target}"),
            }
        }
        (Action::Rollback, _) => {
            let event = stale_or_page(viewer, plan, pm.rollback(id, label).await)?;
            let kind = if event.to_split.is_some() {
                "rollback_split"
            } else {
                "rollback"
            };
            format!("{kind}:{label}:{}", text(event.to.as_ref()))
        }
        (Action::Remove, _) => {
            stale_or_page(
                viewer,
                plan,
                pm.assign_label_with(id, label, None, plan.split_options()).await,
            )?;
            format!("remove:{label}")
        }
        (Action::Protect, _) => {
            pm.protect_label(id, label).await.or_page()?;
            format!("protect:{label}")
        }
        (Action::Unprotect, _) => {
            pm.unprotect_label(id, label).await.or_page()?;
            format!("unprotect:{label}")
        }
        (Action::Set, None) => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "Which version?",
                "no version to set the label to",
            ));
        }
    };
    Ok(back_to_prompt(id, &done))
}

/// The 303 to the prompt page with its notice.
pub(super) fn back_to_prompt(id: &PromptId, done: &str) -> Response {
    let done = serde_urlencoded::to_string([("done", done)]).unwrap_or_default();
    Redirect::to(&format!("/ui/p/{id}?{done}#labels")).into_response()
}

/// The notice the prompt page shows for its `done` query value (set by the redirect after an
/// action); `None` for anything else, so a link cannot make the page say arbitrary things.
pub(crate) fn notice(done: &str) -> Option<String> {
    let mut parts = done.split(':');
    let kind = parts.next()?;
    let mut label = || parts.next().and_then(|l| LabelName::new(l).ok());
    let message = match kind {
        "set" | "rollback" | "rollback_split" | "unchanged" => {
            let l = label()?;
            let v = Version::parse(parts.next()?).ok()?;
            match kind {
                "set" => format!("Label {l} now points to {v}."),
                "rollback" => format!("Label {l} rolled back to {v}."),
                "rollback_split" => format!("Label {l} rolled back to its A/B split (primary {v})."),
                _ => format!("Label {l} already pointed to {v}: nothing changed."),
            }
        }
        "remove" => format!("Label {} removed.", label()?),
        "protect" => format!("Label {} is now protected: moving it needs an admin key.", label()?),
        "unprotect" => format!("Label {} is no longer protected.", label()?),
        "status" => format!("Status changed to {}.", PromptStatus::from_str(parts.next()?).ok()?),
        _ => return None,
    };
    parts.next().is_none().then_some(message)
}

/// What the label controls of the prompt page need: the notice of the action just done
/// (`done`), the labels the server's configuration protects, and where each label's rollback
/// goes (from `history`, the prompt's label events oldest first): a version, or `the A/B split
/// 1.1.0=90 1.2.0=10` when the rollback restores a split.
pub(crate) fn controls(web: &Web, history: &[LabelEvent], done: Option<&str>) -> minijinja::Value {
    let mut by_label: BTreeMap<&LabelName, Vec<LabelEvent>> = BTreeMap::new();
    for event in history {
        by_label.entry(&event.label).or_default().push(event.clone());
    }
    let rollback: BTreeMap<String, String> = by_label
        .into_iter()
        .filter_map(|(label, events)| {
            let (_, to) = rollback_assignment(&events)?;
            let to = match to {
                LabelTarget::Version(v) => v.to_string(),
                LabelTarget::Split(split) => format!("the A/B split {split}"),
            };
            Some((label.to_string(), to))
        })
        .collect();
    minijinja::context! {
        notice => done.and_then(notice),
        config_protected => data(&web.app.options().protected_labels),
        rollback => data(&rollback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_only_say_what_the_ui_did() {
        assert_eq!(
            notice("set:production:1.1.0").as_deref(),
            Some("Label production now points to 1.1.0.")
        );
        assert_eq!(notice("remove:staging").as_deref(), Some("Label staging removed."));
        assert_eq!(
            notice("status:archived").as_deref(),
            Some("Status changed to archived.")
        );
        assert_eq!(notice("set:production:not-a-version"), None);
        assert_eq!(notice("set:Bad Label:1.0.0"), None);
        assert_eq!(notice("remove:staging:extra"), None);
        assert_eq!(notice("Your key expired, visit evil.example"), None);
    }
}
