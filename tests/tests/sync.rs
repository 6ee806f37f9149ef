//! Two-way sync of a prompt folder with a store (`prompt_manager::sync`), on a real folder and a
//! real SQLite file: what each direction plans, what apply does (all or nothing), and every kind
//! of drift reported as a conflict that changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager::sync::{self, Action, Direction, SyncPlan};
use prompt_manager::{
    Authority, Bump, DirStore, Expect, LabelChange, LabelEventKind, Prompt, PromptManager, VersionStore,
};

struct Setup {
    _dir: tempfile::TempDir,
    folder_path: std::path::PathBuf,
    folder: DirStore,
    pm: PromptManager,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let folder_path = dir.path().join("prompts");
    let folder = DirStore::open(&folder_path).unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let pm = prompt_manager::open(&url).await.unwrap();
    Setup {
        _dir: dir,
        folder_path,
        folder,
        pm,
    }
}

/// A manager on the folder itself, to write versions as a person committing files would.
async fn folder_pm(s: &Setup) -> PromptManager {
    prompt_manager::open(&format!("dir://{}", s.folder_path.display()))
        .await
        .unwrap()
}

/// `greeting` 1.0.0 with `production` on it, made in the folder and pushed: both sides agree.
async fn released(s: &Setup) -> PromptManager {
    let local = folder_pm(s).await;
    local
        .create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    local.set_label("greeting", "production", "1.0.0").await.unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    sync::apply(&s.pm, &s.folder, &plan, Direction::Push, false)
        .await
        .unwrap();
    local
}

fn actions(plan: &SyncPlan, direction: Direction) -> Vec<String> {
    plan.prompts
        .iter()
        .flat_map(|p| {
            p.side(direction).actions.iter().map(move |a| match a {
                Action::CreateVersion { version, .. } => format!("{} create {version}", p.id),
                Action::MoveLabel {
                    label,
                    from,
                    to,
                    rollback,
                } => format!(
                    "{} move {label} {}→{to}{}",
                    p.id,
                    from.as_ref().map_or("-".into(), ToString::to_string),
                    if *rollback { " rollback" } else { "" }
                ),
            })
        })
        .collect()
}

fn conflicts(plan: &SyncPlan, direction: Direction) -> Vec<String> {
    plan.conflicts(direction).map(|(_, c)| c.message.clone()).collect()
}

#[tokio::test]
async fn a_folder_pushes_into_an_empty_store_and_then_both_are_in_sync() {
    let s = setup().await;
    let local = folder_pm(&s).await;
    local
        .create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    local.set_label("greeting", "production", "1.0.0").await.unwrap();
    local
        .update(
            Prompt::text("greeting", "Hello {{ name }}, welcome!").unwrap(),
            Bump::Minor,
            "edit",
        )
        .await
        .unwrap();
    local
        .create(Prompt::text("support/triage", "Route {{ ticket }}").unwrap())
        .await
        .unwrap();

    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    assert_eq!(
        actions(&plan, Direction::Push),
        [
            "greeting create 1.0.0",
            "greeting create 1.1.0",
            "greeting move production -→1.0.0",
            "support/triage create 1.0.0"
        ]
    );
    assert!(actions(&plan, Direction::Pull).is_empty());
    assert!(!plan.is_in_sync());
    let report = sync::apply(&s.pm, &s.folder, &plan, Direction::Push, false)
        .await
        .unwrap();
    assert_eq!(report.created.len(), 3);
    assert_eq!(
        s.pm.get("greeting@production").await.unwrap().version.to_string(),
        "1.0.0"
    );
    assert_eq!(s.pm.get("greeting").await.unwrap().version.to_string(), "1.1.0");
    let again = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    assert!(again.is_in_sync(), "{again:#?}");
    // The store's versions are the folder's, hash for hash.
    let a = s.pm.get("greeting@1.1.0").await.unwrap();
    let b = local.get("greeting@1.1.0").await.unwrap();
    assert_eq!(a.content_hash, b.content_hash);
}

#[tokio::test]
async fn a_pull_writes_the_stores_versions_and_labels_into_the_folder() {
    let s = setup().await;
    s.pm.create(Prompt::text("faq", "Answer {{ q }}").unwrap())
        .await
        .unwrap();
    s.pm.update(
        Prompt::text("faq", "Answer briefly: {{ q }}").unwrap(),
        Bump::Minor,
        "edit",
    )
    .await
    .unwrap();
    s.pm.set_label("faq", "production", "1.1.0").await.unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    assert_eq!(
        actions(&plan, Direction::Pull),
        ["faq create 1.0.0", "faq create 1.1.0", "faq move production -→1.1.0"]
    );
    sync::apply(&s.pm, &s.folder, &plan, Direction::Pull, false)
        .await
        .unwrap();
    assert!(s.folder_path.join("faq/1.1.0.yaml").exists());
    let labels = std::fs::read_to_string(s.folder_path.join("faq/_labels.yaml")).unwrap();
    assert!(labels.contains("production"), "{labels}");
    assert!(sync::plan(&s.pm, &s.folder, false).await.unwrap().is_in_sync());

    // A label moved back on the store (an incident) is a rollback for the folder to pull, and
    // a push would undo it: a conflict, never a silent move forward.
    s.pm.set_label("faq", "production", "1.0.0").await.unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    assert_eq!(
        actions(&plan, Direction::Pull),
        ["faq move production 1.1.0→1.0.0 rollback"]
    );
    assert!(actions(&plan, Direction::Push).is_empty());
    let push = conflicts(&plan, Direction::Push);
    assert!(
        push.iter()
            .any(|c| c.contains("`production` was moved in the store to 1.0.0")),
        "{push:?}"
    );
    sync::apply(&s.pm, &s.folder, &plan, Direction::Pull, false)
        .await
        .unwrap();
    assert!(sync::plan(&s.pm, &s.folder, false).await.unwrap().is_in_sync());

    // Moved again in the folder afterwards (a pull request): the push moves it, and a pull
    // would undo the folder's move, the mirror conflict.
    let local = folder_pm(&s).await;
    local.set_label("faq", "production", "1.1.0").await.unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    assert_eq!(
        actions(&plan, Direction::Push),
        ["faq move production 1.0.0→1.1.0"],
        "{plan:#?}"
    );
    assert!(
        conflicts(&plan, Direction::Pull)
            .iter()
            .any(|c| c.contains("`production` was moved in the folder")),
        "{plan:#?}"
    );
    sync::apply(&s.pm, &s.folder, &plan, Direction::Push, false)
        .await
        .unwrap();
    assert_eq!(s.pm.get("faq@production").await.unwrap().version.to_string(), "1.1.0");
}

#[tokio::test]
async fn a_new_version_comes_with_the_bump_its_diff_suggests() {
    let s = setup().await;
    let local = folder_pm(&s).await;
    local
        .create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    sync::apply(&s.pm, &s.folder, &plan, Direction::Push, false)
        .await
        .unwrap();
    // A new variable is a breaking change, numbered here as a minor one.
    local
        .update(
            Prompt::text("greeting", "Hello {{ name }} from {{ city }}!").unwrap(),
            Bump::Minor,
            "edit",
        )
        .await
        .unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    let Action::CreateVersion { version, suggested, .. } = &plan.prompts[0].push.actions[0] else {
        panic!("{plan:#?}");
    };
    assert_eq!(version.to_string(), "1.1.0");
    let suggested = suggested.as_ref().unwrap();
    assert_eq!(suggested.bump, Bump::Major);
    assert!(suggested.smaller);
    assert!(suggested.reasons.iter().any(|r| r.contains("city")), "{suggested:?}");
}

#[tokio::test]
async fn drift_is_a_conflict_and_apply_changes_nothing() {
    let s = setup().await;
    let local = released(&s).await;

    // The store gets a hotfix the folder does not have, while the folder adds its own version.
    s.pm.update(
        Prompt::text("greeting", "Hello {{ name }}.").unwrap(),
        Bump::Minor,
        "edit",
    )
    .await
    .unwrap();
    s.pm.set_label("greeting", "production", "1.1.0").await.unwrap();
    local
        .update(Prompt::text("greeting", "Hi {{ name }}!").unwrap(), Bump::Minor, "edit")
        .await
        .unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    let push = conflicts(&plan, Direction::Push);
    assert!(push.iter().any(|c| c.contains("1.1.0 differs")), "{push:?}");
    let err = sync::apply(&s.pm, &s.folder, &plan, Direction::Push, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("conflicts"), "{err}");
    assert_eq!(
        s.pm.get("greeting").await.unwrap().prompt.template,
        prompt_manager::Template::Text("Hello {{ name }}.".into()),
        "the store is unchanged"
    );

    // A version the store has that the folder lacks, under the folder's new one.
    let t = setup().await;
    let local = folder_pm(&t).await;
    local.create(Prompt::text("faq", "Q: {{ q }}").unwrap()).await.unwrap();
    let plan = sync::plan(&t.pm, &t.folder, false).await.unwrap();
    sync::apply(&t.pm, &t.folder, &plan, Direction::Push, false)
        .await
        .unwrap();
    t.pm.update(Prompt::text("faq", "Question: {{ q }}").unwrap(), Bump::Minor, "edit")
        .await
        .unwrap(); // 1.1.0 on the store
    local
        .update(Prompt::text("faq", "Q? {{ q }}").unwrap(), Bump::Major, "edit")
        .await
        .unwrap(); // 2.0.0 in the folder
    let plan = sync::plan(&t.pm, &t.folder, false).await.unwrap();
    let push = conflicts(&plan, Direction::Push);
    assert!(
        push.iter()
            .any(|c| c.contains("has version 1.1.0 that the folder lacks")),
        "{push:?}"
    );
    let pull = conflicts(&plan, Direction::Pull);
    assert!(!pull.is_empty(), "diverged both ways");
}

#[tokio::test]
async fn a_released_version_edited_by_hand_is_found() {
    let s = setup().await;
    s.pm.create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
        .await
        .unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    sync::apply(&s.pm, &s.folder, &plan, Direction::Pull, false)
        .await
        .unwrap();
    let file = s.folder_path.join("greeting/1.0.0.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("Hello {{ name }}!", "Hello, {{ name }}!")).unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    for direction in [Direction::Push, Direction::Pull] {
        let found = conflicts(&plan, direction);
        assert!(
            found.iter().any(|c| c.contains("edited after it was saved")),
            "{direction:?}: {found:?}"
        );
    }
    // Without its recorded hash the edit is a second content under 1.0.0.
    let text = std::fs::read_to_string(&file).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("content_hash"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, without).unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    assert!(
        conflicts(&plan, Direction::Push)
            .iter()
            .any(|c| c.contains("1.0.0 differs")),
        "{plan:#?}"
    );
}

#[tokio::test]
async fn labels_moved_elsewhere_and_protected_labels_are_conflicts() {
    let s = setup().await;
    let local = released(&s).await;

    // The store moves production to a version the folder does not have.
    s.pm.update(Prompt::text("greeting", "Hi {{ name }}!").unwrap(), Bump::Minor, "edit")
        .await
        .unwrap();
    s.pm.set_label("greeting", "production", "1.1.0").await.unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    let push = conflicts(&plan, Direction::Push);
    assert!(
        push.iter()
            .any(|c| c.contains("`production` points at 1.1.0 in the store")),
        "{push:?}"
    );
    sync::apply(&s.pm, &s.folder, &plan, Direction::Pull, false)
        .await
        .unwrap();
    assert!(sync::plan(&s.pm, &s.folder, false).await.unwrap().is_in_sync());

    // A protected label moves on a push only when forced.
    s.pm.protect_label("greeting", "production").await.unwrap();
    s.folder
        .set_label(
            &"greeting".parse().unwrap(),
            LabelChange {
                label: "production".parse().unwrap(),
                to: Some("1.0.0".parse().unwrap()),
                expected: Expect::Any,
                kind: LabelEventKind::Set,
                actor: None,
                authority: Authority::Admin,
            },
        )
        .await
        .unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await.unwrap();
    assert!(
        conflicts(&plan, Direction::Push)
            .iter()
            .any(|c| c.contains("protected")),
        "{plan:#?}"
    );
    let plan = sync::plan(&s.pm, &s.folder, true).await.unwrap();
    assert_eq!(
        actions(&plan, Direction::Push),
        ["greeting move production 1.1.0→1.0.0 rollback"]
    );
    sync::apply(&s.pm, &s.folder, &plan, Direction::Push, true)
        .await
        .unwrap();
    assert_eq!(
        s.pm.get("greeting@production").await.unwrap().version.to_string(),
        "1.0.0"
    );
    let audit = s.pm.audit(&prompt_manager::AuditQuery::default()).await.unwrap();
    assert!(audit.iter().any(|e| e.forced), "the override is recorded");

    // A protected label onto a new version, forced: the version first, then the label.
    local
        .update(
            Prompt::text("greeting", "Hey {{ name }}!").unwrap(),
            Bump::Minor,
            "edit",
        )
        .await
        .unwrap();
    local.set_label("greeting", "production", "1.2.0").await.unwrap();
    let plan = sync::plan(&s.pm, &s.folder, true).await.unwrap();
    assert_eq!(
        actions(&plan, Direction::Push),
        ["greeting create 1.2.0", "greeting move production 1.0.0→1.2.0"]
    );
    sync::apply(&s.pm, &s.folder, &plan, Direction::Push, true)
        .await
        .unwrap();
    assert_eq!(
        s.pm.get("greeting@production").await.unwrap().version.to_string(),
        "1.2.0"
    );
}

#[tokio::test]
async fn a_push_is_all_or_nothing() {
    let s = setup().await;
    let local = folder_pm(&s).await;
    local
        .create(Prompt::text("a-good", "Fine {{ x }}").unwrap())
        .await
        .unwrap();
    local
        .create(Prompt::text("b-broken", "Fine {{ x }}").unwrap())
        .await
        .unwrap();
    // A version file written by hand with a template that does not parse.
    std::fs::write(
        s.folder_path.join("b-broken/1.1.0.yaml"),
        "version: \"1.1.0\"\nprompt:\n  id: b-broken\n  format: text\n  template: \"Broken {{ x \"\n",
    )
    .unwrap();
    let plan = sync::plan(&s.pm, &s.folder, false).await;
    let err = match plan {
        Ok(plan) => sync::apply(&s.pm, &s.folder, &plan, Direction::Push, false)
            .await
            .unwrap_err(),
        Err(e) => e,
    };
    assert!(err.to_string().contains("b-broken"), "{err}");
    assert!(
        !s.pm.store().exists(&"a-good".parse().unwrap()).await.unwrap(),
        "nothing was pushed"
    );
}
