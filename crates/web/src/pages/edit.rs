//! Edit → new version (`/ui/edit/{id}`): the latest version in the prompt form; "Preview
//! changes" shows the structural diff against the latest version, the suggested bump with its
//! reasons and the lint findings inline; "Save" stores a new version with the chosen bump and
//! changelog, compare-and-set on the version the edits started from (the form's `base`), so a
//! version saved meanwhile is a conflict that keeps the user's edits instead of a silent
//! overwrite. Card actions (add, remove, move) re-render the form with nothing saved.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use prompt_manager::semver::Version;
use prompt_manager::versioning::{PromptDiff, Suggestion, changelog_draft, reasons};
use prompt_manager::{Bump, Error, PromptId, PromptRef, UpdateOptions, VersioningExt};
use serde::Serialize;

use super::form::{self, Lint, Problems, PromptForm, error_text, writer_caller};
use crate::Web;
use crate::session::Viewer;
use crate::view::{OrPage, PageResult, data, fail, page};

/// The preview of a save: the diff against the latest version and what it suggests.
#[derive(Debug, Serialize)]
struct Preview {
    diff: PromptDiff,
    suggestion: Suggestion,
    /// Every change with the bump it calls for.
    reasons: Vec<prompt_manager::versioning::BumpReason>,
    /// The version each bump would make.
    next: Vec<(Bump, String)>,
    empty: bool,
}

/// A message over the form: a conflict, "no change", a refusal.
#[derive(Debug, Default, Serialize)]
struct Notice {
    /// `conflict`, `unchanged` or `problem`.
    kind: &'static str,
    text: String,
    /// For a conflict: the version saved meanwhile.
    latest: Option<String>,
}

/// What the edit page shows besides the form.
#[derive(Default)]
struct Shown {
    problems: Problems,
    lint: Option<Lint>,
    preview: Option<Preview>,
    notice: Option<Notice>,
}

fn render(
    viewer: &Viewer,
    id: &PromptId,
    latest: &Version,
    form: &PromptForm,
    shown: Shown,
    status: StatusCode,
) -> PageResult {
    Ok(page(
        status,
        "edit.html",
        minijinja::context! {
            viewer => viewer.context(),
            id => id.as_str(),
            latest => latest.to_string(),
            f => form::view(form, &shown.problems, shown.lint.as_ref()),
            preview => shown.preview.as_ref().map(data),
            notice => shown.notice.as_ref().map(data),
            bumps => ["suggested", "major", "minor", "patch"],
        },
    ))
}

/// `GET /ui/edit/{id}`: the latest version in the form.
pub(crate) async fn page_get(State(web): State<Web>, viewer: Viewer, Path(raw): Path<String>) -> PageResult {
    writer_caller(&viewer)?;
    let id = super::prompt_id(&raw)?;
    let latest = web
        .app
        .manager()
        .get(&PromptRef::latest(id.clone()).to_string())
        .await
        .or_page()?;
    let mut form = PromptForm::from_prompt(&latest.prompt);
    form.base = latest.version.to_string();
    render(&viewer, &id, &latest.version, &form, Shown::default(), StatusCode::OK)
}

/// `POST /ui/edit/{id}`: a card action, a preview or a save.
pub(crate) async fn submit(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    posted: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult {
    let caller = writer_caller(&viewer)?;
    let id = super::prompt_id(&raw)?;
    let Form(pairs) = posted.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad form", &e.body_text()))?;
    let pm = web.app.manager();
    let summary = pm.summary(&id).await.or_page()?;
    let latest = summary.latest_version.clone();
    let mut form = PromptForm::from_pairs(pairs);
    form.id = id.to_string();
    if form.base.is_empty() {
        form.base = latest.to_string();
    }
    if form.apply() {
        return render(&viewer, &id, &latest, &form, Shown::default(), StatusCode::OK);
    }
    if form.action == "rebase" {
        // After a conflict: the edits are now meant to go on top of the latest version.
        form.base = latest.to_string();
        form.action = "preview".into();
    }
    let prompt = match form.to_prompt(id.as_str()) {
        Ok(prompt) => prompt,
        Err(problems) => {
            let shown = Shown {
                problems,
                ..Shown::default()
            };
            return render(&viewer, &id, &latest, &form, shown, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let lint = form::lint(pm.engines(), &prompt);
    let mut shown = Shown::default();
    // Checked before the draft fills an empty field in: a save needs a changelog the user saw.
    let no_changelog = form.changelog.trim().is_empty();
    if !lint.syntax_error {
        match pm.suggest_update(&prompt).await {
            Ok((diff, suggestion)) => {
                form.offer_draft(changelog_draft(&diff));
                shown.preview = Some(preview(diff, suggestion, &latest));
            }
            Err(e) => shown.problems.general.push(error_text(&e)),
        }
    }
    let syntax_error = lint.syntax_error;
    let lint_errors = lint.errors;
    shown.lint = Some(lint);
    if form.action != "save" {
        let status = if syntax_error || !shown.problems.is_empty() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        return render(&viewer, &id, &latest, &form, shown, status);
    }
    // Save.
    let refuse = |shown: Shown, form: &PromptForm, text: String, status: StatusCode| {
        let shown = Shown {
            notice: Some(Notice {
                kind: "problem",
                text,
                latest: None,
            }),
            ..shown
        };
        render(&viewer, &id, &latest, form, shown, status)
    };
    if syntax_error {
        let text = "a template does not parse (see the lint below); nothing was saved".to_owned();
        return refuse(shown, &form, text, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if !shown.problems.is_empty() {
        let text = "nothing was saved: fix the problems below".to_owned();
        return refuse(shown, &form, text, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if lint_errors > 0 && !form.ignore_lint {
        let text = format!(
            "lint found {lint_errors} problem{} (below); fix {} or tick \"Save despite lint problems\". Nothing was saved.",
            if lint_errors == 1 { "" } else { "s" },
            if lint_errors == 1 { "it" } else { "them" },
        );
        return refuse(shown, &form, text, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if no_changelog {
        let text =
            "write a changelog message: what changed and why (a draft is filled in). Nothing was saved.".to_owned();
        return refuse(shown, &form, text, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let Ok(base) = Version::parse(form.base.trim()) else {
        let text = format!(
            "the form's base version `{}` is not a version; reload the page",
            form.base
        );
        return refuse(shown, &form, text, StatusCode::BAD_REQUEST);
    };
    let bump = match form.bump.as_str() {
        "" | "suggested" => shown.preview.as_ref().map_or(Bump::Patch, |p| p.suggestion.bump),
        other => match other.parse::<Bump>() {
            Ok(bump) => bump,
            Err(_) => {
                let text = format!("bump `{other}` is not one of suggested, major, minor, patch");
                return refuse(shown, &form, text, StatusCode::UNPROCESSABLE_ENTITY);
            }
        },
    };
    let options = UpdateOptions {
        expected: Some(base.clone()),
        ..UpdateOptions::new(bump, form.changelog.trim())
    };
    match web.app.writer(&caller).update_with(prompt, options).await {
        Ok(outcome) if outcome.created => {
            let v = &outcome.version.version;
            Ok(Redirect::to(&format!("/ui/p/{id}?v={v}&saved={v}")).into_response())
        }
        Ok(outcome) => {
            let v = outcome.version.version.to_string();
            shown.notice = Some(Notice {
                kind: "unchanged",
                text: format!("No change: identical to {v}. Nothing was stored."),
                latest: None,
            });
            render(&viewer, &id, &latest, &form, shown, StatusCode::OK)
        }
        Err(Error::VersionConflict { actual, .. }) => {
            let now = actual.map_or_else(|| latest.to_string(), |v| v.to_string());
            shown.notice = Some(Notice {
                kind: "conflict",
                text: format!(
                    "Conflict: version {now} of `{id}` was saved after you started editing {base}. Nothing was \
                     saved; your edits are kept below. Review the changes against {now}, then save again."
                ),
                latest: Some(now),
            });
            shown.preview = None;
            render(&viewer, &id, &latest, &form, shown, StatusCode::CONFLICT)
        }
        Err(e) => {
            // Anything else (an include that does not resolve, a store that failed): the API's
            // status and message, over the form, so the edits are not lost.
            let (status, text) = super::form::save_error(e);
            refuse(shown, &form, format!("{text} Nothing was saved."), status)
        }
    }
}

fn preview(diff: PromptDiff, suggestion: Suggestion, latest: &Version) -> Preview {
    let next = Bump::ALL
        .iter()
        .rev()
        .filter_map(|b| b.apply(latest).map(|v| (*b, v.to_string())))
        .collect();
    Preview {
        reasons: reasons(&diff),
        empty: diff.is_empty(),
        diff,
        suggestion,
        next,
    }
}
