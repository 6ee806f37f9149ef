//! Promote and roll back: the label forms and their confirmation pages, stale confirmations,
//! protected labels, read keys, CSRF, and status changes — each refused request changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Client, client, client_with, seeded};
use prompt_manager::{Prompt, PromptManager, PromptStatus};
use prompt_manager_server::AppOptions;
use prompt_manager_server::keys::{self, Scope};

const ID: &str = "support/triage";
const FORM: &str = "/ui/labels/support/triage";

async fn label(pm: &PromptManager, name: &str) -> Option<String> {
    pm.summary(ID)
        .await
        .unwrap()
        .labels
        .iter()
        .find(|(l, _)| l.as_str() == name)
        .map(|(_, v)| v.to_string())
}

/// A client signed in with a key of `scope`, over `pm`, with `protected` labels in the server's
/// configuration.
async fn signed_in(pm: PromptManager, scope: Scope, protected: &[&str]) -> (Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.json");
    let key = keys::create(&file, &format!("{}-key", scope.as_str()), scope).unwrap();
    let options = AppOptions {
        keys_file: Some(file),
        protected_labels: protected.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    };
    let mut ui = client_with(pm, options);
    ui.get("/ui/login").await;
    let signed = ui.post("/ui/login", &[("key", &key.token), ("next", "/ui/")]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    (ui, dir)
}

#[tokio::test]
async fn moving_a_label_is_confirmed_with_the_diff_followers_and_then_applied() {
    let pm = seeded().await;
    pm.create(Prompt::text("app/main", "{% include \"support/triage@production\" %}").unwrap())
        .await
        .unwrap();
    let mut ui = client(pm.clone());
    let prompt = ui.get("/ui/p/support/triage").await;
    prompt
        .has("Point a label at a version")
        .has(">Remove<")
        .lacks("Roll back to")
        .lacks("Sign in with a write key");
    let confirm = ui
        .post(
            FORM,
            &[("action", "set"), ("label", "production"), ("version", "2.0.0")],
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    confirm
        .has("from <a href=\"/ui/p/support/triage?v=1.1.0\">1.1.0</a> to <a href=\"/ui/p/support/triage?v=2.0.0\">2.0.0</a>")
        .has("bump-major\">major</span>")
        .has("added variable `team`")
        .has("app/main@1.0.0")
        .has("name=\"expected\" value=\"1.1.0\"")
        .has("name=\"step\" value=\"apply\"");
    assert_eq!(
        label(&pm, "production").await.as_deref(),
        Some("1.1.0"),
        "confirming changes nothing"
    );
    let applied = ui
        .post(
            FORM,
            &[
                ("action", "set"),
                ("label", "production"),
                ("version", "2.0.0"),
                ("expected", "1.1.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER);
    assert_eq!(
        applied.location.as_deref(),
        Some("/ui/p/support/triage?done=set%3Aproduction%3A2.0.0#labels")
    );
    assert_eq!(label(&pm, "production").await.as_deref(), Some("2.0.0"));
    ui.get("/ui/p/support/triage?done=set%3Aproduction%3A2.0.0")
        .await
        .has("Label production now points to 2.0.0.");
}

#[tokio::test]
async fn a_new_label_rollback_and_removal_each_go_through_a_confirmation() {
    let pm = seeded().await;
    let mut ui = client(pm.clone());
    ui.get("/ui/p/support/triage").await;
    let new = ui
        .post(FORM, &[("action", "set"), ("label", "canary"), ("version", "1.0.0")])
        .await;
    new.has("New label").has("name=\"expected\" value=\"\"");
    let set = ui
        .post(
            FORM,
            &[
                ("action", "set"),
                ("label", "canary"),
                ("version", "1.0.0"),
                ("expected", ""),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);
    assert_eq!(label(&pm, "canary").await.as_deref(), Some("1.0.0"));

    pm.set_label(ID, "production", "2.0.0").await.unwrap();
    ui.get("/ui/p/support/triage").await.has("Roll back to 1.1.0");
    let back = ui.post(FORM, &[("action", "rollback"), ("label", "production")]).await;
    assert_eq!(back.status, StatusCode::OK);
    back.has("back from")
        .has("name=\"version\" value=\"1.1.0\"")
        .has("bump-major");
    let rolled = ui
        .post(
            FORM,
            &[
                ("action", "rollback"),
                ("label", "production"),
                ("version", "1.1.0"),
                ("expected", "2.0.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(rolled.status, StatusCode::SEE_OTHER, "{}", rolled.body);
    assert_eq!(label(&pm, "production").await.as_deref(), Some("1.1.0"));
    let nothing = ui.post(FORM, &[("action", "rollback"), ("label", "canary")]).await;
    assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
    nothing.has("no earlier version");

    let remove = ui.post(FORM, &[("action", "remove"), ("label", "staging")]).await;
    remove.has("no longer resolves");
    let removed = ui
        .post(
            FORM,
            &[
                ("action", "remove"),
                ("label", "staging"),
                ("expected", "2.0.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(label(&pm, "staging").await, None);
    let history = pm.label_history(ID, None::<&str>).await.unwrap();
    assert_eq!(
        history.len(),
        6,
        "set canary, set production, roll back, remove staging (+2 seeded)"
    );
}

#[tokio::test]
async fn a_stale_confirmation_is_refused_and_changes_nothing() {
    let pm = seeded().await;
    let mut ui = client(pm.clone());
    ui.get("/ui/p/support/triage").await;
    ui.post(
        FORM,
        &[("action", "set"), ("label", "production"), ("version", "2.0.0")],
    )
    .await;
    // Someone else moves the label after the confirmation was shown.
    pm.set_label(ID, "production", "1.0.0").await.unwrap();
    let page = ui
        .post(
            FORM,
            &[
                ("action", "set"),
                ("label", "production"),
                ("version", "2.0.0"),
                ("expected", "1.1.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    page.has("Stale confirmation").has("it was 1.1.0 then, it is 1.0.0 now");
    assert_eq!(label(&pm, "production").await.as_deref(), Some("1.0.0"));
    let rollback = ui
        .post(
            FORM,
            &[
                ("action", "rollback"),
                ("label", "production"),
                ("version", "9.0.0"),
                ("expected", "1.0.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(rollback.status, StatusCode::CONFLICT);
    let no_expected = ui
        .post(
            FORM,
            &[("action", "remove"), ("label", "production"), ("step", "apply")],
        )
        .await;
    assert_eq!(no_expected.status, StatusCode::BAD_REQUEST);
    assert_eq!(label(&pm, "production").await.as_deref(), Some("1.0.0"));
}

#[tokio::test]
async fn bad_input_gets_a_clear_message_and_nothing_changes() {
    let pm = seeded().await;
    let mut ui = client(pm.clone());
    ui.get("/ui/p/support/triage").await;
    let version = ui
        .post(
            FORM,
            &[("action", "set"), ("label", "production"), ("version", "9.9.9")],
        )
        .await;
    assert_eq!(version.status, StatusCode::NOT_FOUND);
    version.has("no version 9.9.9");
    let not_semver = ui
        .post(FORM, &[("action", "set"), ("label", "production"), ("version", "one")])
        .await;
    assert_eq!(not_semver.status, StatusCode::UNPROCESSABLE_ENTITY);
    let name = ui
        .post(FORM, &[("action", "set"), ("label", "Bad Label"), ("version", "1.0.0")])
        .await;
    assert_eq!(name.status, StatusCode::UNPROCESSABLE_ENTITY);
    name.has("Not a label name");
    let action = ui.post(FORM, &[("action", "explode"), ("label", "production")]).await;
    assert_eq!(action.status, StatusCode::BAD_REQUEST);
    let prompt = ui
        .post("/ui/labels/nope", &[("action", "remove"), ("label", "production")])
        .await;
    assert_eq!(prompt.status, StatusCode::NOT_FOUND);
    let missing = ui.post(FORM, &[("label", "production")]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let unset = ui.post(FORM, &[("action", "remove"), ("label", "nolabel")]).await;
    assert_eq!(unset.status, StatusCode::NOT_FOUND);
    let csrf = ui
        .post_raw(
            FORM,
            &[
                ("action", "remove"),
                ("label", "staging"),
                ("expected", "2.0.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(csrf.status, StatusCode::FORBIDDEN);
    csrf.has("security token");
    let summary = pm.summary(ID).await.unwrap();
    assert_eq!(summary.labels.len(), 2);
    assert_eq!(
        pm.label_history(ID, None::<&str>).await.unwrap().len(),
        2,
        "nothing recorded"
    );
}

#[tokio::test]
async fn protected_labels_need_an_admin_key() {
    let pm = seeded().await;
    pm.protect_label(ID, "staging").await.unwrap();
    let (mut ui, _dir) = signed_in(pm.clone(), Scope::Write, &["production"]).await;
    let prompt = ui.get("/ui/p/support/triage").await;
    prompt
        .has("moving it needs an admin key")
        .has("Protected labels (production, staging) need an admin key")
        .lacks("Roll back to")
        .lacks(">Unprotect<");
    for label in ["production", "staging"] {
        let confirm = ui
            .post(FORM, &[("action", "set"), ("label", label), ("version", "1.0.0")])
            .await;
        assert_eq!(confirm.status, StatusCode::FORBIDDEN, "{label}");
        confirm.has("Protected label").has("needs an admin key");
        let apply = ui
            .post(
                FORM,
                &[
                    ("action", "remove"),
                    ("label", label),
                    ("expected", "2.0.0"),
                    ("step", "apply"),
                ],
            )
            .await;
        assert_eq!(apply.status, StatusCode::FORBIDDEN);
    }
    let unprotect = ui
        .post(
            FORM,
            &[
                ("action", "unprotect"),
                ("label", "staging"),
                ("expected", "2.0.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(unprotect.status, StatusCode::FORBIDDEN);
    let summary = pm.summary(ID).await.unwrap();
    assert_eq!(summary.labels.len(), 2);
    assert!(summary.protected.iter().any(|l| l.as_str() == "staging"));
    assert_eq!(
        pm.label_history(ID, None::<&str>).await.unwrap().len(),
        2,
        "nothing recorded"
    );
    // A write key may protect an unprotected label.
    let protect = ui
        .post(
            FORM,
            &[
                ("action", "protect"),
                ("label", "canary"),
                ("expected", ""),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(protect.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_admin_moves_protected_labels_and_the_audit_log_names_the_key() {
    let pm = seeded().await;
    pm.protect_label(ID, "staging").await.unwrap();
    let (mut ui, _dir) = signed_in(pm.clone(), Scope::Admin, &["production"]).await;
    ui.get("/ui/p/support/triage").await.has(">Unprotect<");
    let confirm = ui
        .post(
            FORM,
            &[("action", "set"), ("label", "production"), ("version", "2.0.0")],
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    confirm.has("the server's configuration protects it").has("yours is");
    let apply = ui
        .post(
            FORM,
            &[
                ("action", "set"),
                ("label", "production"),
                ("version", "2.0.0"),
                ("expected", "1.1.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(apply.status, StatusCode::SEE_OTHER, "{}", apply.body);
    let staging = ui
        .post(
            FORM,
            &[
                ("action", "remove"),
                ("label", "staging"),
                ("expected", "2.0.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(staging.status, StatusCode::SEE_OTHER, "{}", staging.body);
    let unprotect = ui
        .post(
            FORM,
            &[
                ("action", "unprotect"),
                ("label", "staging"),
                ("expected", ""),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(unprotect.status, StatusCode::SEE_OTHER);
    let summary = pm.summary(ID).await.unwrap();
    assert_eq!(label(&pm, "production").await.as_deref(), Some("2.0.0"));
    assert!(summary.protected.is_empty());
    let events = pm.label_history(ID, None::<&str>).await.unwrap();
    assert_eq!(events.last().unwrap().actor.as_deref(), Some("admin-key"));
}

#[tokio::test]
async fn a_read_key_sees_no_controls_and_is_refused() {
    let pm = seeded().await;
    let (mut ui, _dir) = signed_in(pm.clone(), Scope::Read, &[]).await;
    ui.get("/ui/p/support/triage")
        .await
        .has("Sign in with a write key")
        .lacks("Point a label at a version");
    let page = ui
        .post(
            FORM,
            &[
                ("action", "remove"),
                ("label", "staging"),
                ("expected", "2.0.0"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    page.has("Read-only key");
    let status = ui
        .post(
            "/ui/status/support/triage",
            &[("status", "archived"), ("expected", "draft"), ("step", "apply")],
        )
        .await;
    assert_eq!(status.status, StatusCode::FORBIDDEN);
    let summary = pm.summary(ID).await.unwrap();
    assert_eq!(summary.labels.len(), 2);
    assert_ne!(summary.status, PromptStatus::Archived);
}

#[tokio::test]
async fn status_changes_are_confirmed_and_archiving_shows_who_breaks() {
    let pm = seeded().await;
    pm.create(Prompt::text("app/main", "{% include \"support/triage\" %}").unwrap())
        .await
        .unwrap();
    let before = pm.summary(ID).await.unwrap().status;
    let mut ui = client(pm.clone());
    ui.get("/ui/p/support/triage")
        .await
        .has("action=\"/ui/status/support/triage\"");
    let confirm = ui.post("/ui/status/support/triage", &[("status", "archived")]).await;
    assert_eq!(confirm.status, StatusCode::OK);
    confirm
        .has("Archiving stops this prompt from rendering")
        .has("app/main@1.0.0")
        .has(&format!("name=\"expected\" value=\"{before}\""));
    assert_eq!(
        pm.summary(ID).await.unwrap().status,
        before,
        "confirming changes nothing"
    );
    let stale = ui
        .post(
            "/ui/status/support/triage",
            &[("status", "archived"), ("expected", "deprecated"), ("step", "apply")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let bad = ui.post("/ui/status/support/triage", &[("status", "gone")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pm.summary(ID).await.unwrap().status, before);
    let done = ui
        .post(
            "/ui/status/support/triage",
            &[("status", "archived"), ("expected", before.as_str()), ("step", "apply")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(pm.summary(ID).await.unwrap().status, PromptStatus::Archived);
    ui.get(done.location.as_deref().unwrap())
        .await
        .has("Status changed to archived.");
    let back = ui.post("/ui/status/support/triage", &[("status", "deprecated")]).await;
    assert_eq!(back.status, StatusCode::CONFLICT);
    back.has("can only be restored to active");
}
