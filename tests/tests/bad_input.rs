//! Bad input gets a clear error that says what and where — and leaves the store unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use prompt_manager::semver::Version;
use prompt_manager::{
    Bump, ChatItem, Error, LabelChange, LabelEvent, ListQuery, NotFound, Page, Prompt, PromptId, PromptStatus,
    PromptSummary, PromptVersion, Role, SaveRequest, StorageBackend, Variables, VersionInfo, VersionStore, async_trait,
};
use std::collections::BTreeMap;
use std::sync::Arc;

#[test]
fn bad_ids_are_refused_quoting_the_bad_part() {
    for (id, expected) in [
        ("../x", "could escape"),
        ("A", "uppercase letter `A`"),
        ("a//b", "segment 2 is empty"),
        ("", "must not be empty"),
    ] {
        let err = Prompt::text(id, "x").unwrap_err();
        assert!(matches!(err, Error::InvalidId { .. }), "{id}: {err}");
        assert!(err.to_string().contains(expected), "{id}: {err}");
    }
    let long = "a".repeat(300);
    let err = Prompt::text(&long, "x").unwrap_err().to_string();
    assert!(err.contains("at most 200 bytes, this one has 300"), "{err}");
}

#[tokio::test]
async fn syntax_errors_are_refused_before_anything_is_stored() {
    let pm = prompt_manager::in_memory();
    let err = pm
        .create(Prompt::text("s", "Hello\n{{ name }").unwrap())
        .await
        .unwrap_err();
    let Error::TemplateSyntax {
        template, line, column, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((template.as_str(), *line), ("s@1.0.0", 2));
    assert!(*column >= 1);
    assert!(
        !pm.store().exists(&PromptId::new("s").unwrap()).await.unwrap(),
        "nothing stored"
    );

    pm.create(Prompt::text("s", "ok {{ a }}").unwrap()).await.unwrap();
    let chat = Prompt::chat(
        "c",
        [
            ChatItem::message(Role::System, "fine"),
            ChatItem::message(Role::User, "{% if x %}never closed"),
        ],
    )
    .unwrap();
    let err = pm.create(chat).await.unwrap_err();
    assert!(err.to_string().contains("c@1.0.0 message 2"), "{err}");

    let err = pm
        .update(Prompt::text("s", "{% for %}").unwrap(), Bump::Minor, "broken")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TemplateSyntax { .. }), "{err}");
    let history = pm.history("s").await.unwrap();
    assert_eq!(history.len(), 1, "a refused update changes nothing");
    assert_eq!(pm.render("s", &Variables::new().with("a", 1)).await.unwrap(), "ok 1");
}

#[tokio::test]
async fn updating_or_labelling_what_does_not_exist() {
    let pm = prompt_manager::in_memory();
    let err = pm
        .update(Prompt::text("ghost", "x").unwrap(), Bump::Minor, "m")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(NotFound::Prompt(_))), "{err}");
    assert_eq!(err.to_string(), "prompt `ghost` not found");

    pm.create(Prompt::text("real", "x").unwrap()).await.unwrap();
    let err = pm.set_label("real", "production", "9.9.9").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(NotFound::Version(..))), "{err}");
    assert!(pm.labels("real").await.unwrap().is_empty(), "no label was set");
    for (label, version) in [("Production", "1.0.0"), ("latest", "1.0.0"), ("production", "1.0")] {
        assert!(pm.set_label("real", label, version).await.is_err(), "{label} {version}");
    }
    let err = pm.render("real@production", &Variables::new()).await.unwrap_err();
    assert_eq!(err.to_string(), "prompt `real` has no label `production`");
    let err = pm.render("real@^2", &Variables::new()).await.unwrap_err();
    assert!(err.to_string().contains("no version matching `^2`"), "{err}");
    let err = pm.render("real@1.2", &Variables::new()).await.unwrap_err();
    assert!(err.to_string().contains("not a full version"), "{err}");
    let err = pm.create(Prompt::text("real", "again").unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
}

#[tokio::test]
async fn compare_and_set_refuses_a_stale_update() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("cas", "one").unwrap()).await.unwrap();
    pm.update(Prompt::text("cas", "two").unwrap(), Bump::Minor, "2")
        .await
        .unwrap();
    let err = pm
        .update_with(
            Prompt::text("cas", "three").unwrap(),
            prompt_manager::UpdateOptions {
                expected: Some(Version::new(1, 0, 0)),
                ..prompt_manager::UpdateOptions::new(Bump::Minor, "3")
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::VersionConflict { .. }), "{err}");
    assert_eq!(pm.history("cas").await.unwrap().len(), 2);
}

#[tokio::test]
async fn include_cycles_are_named() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("shared/a", "A").unwrap()).await.unwrap();
    pm.create(Prompt::text("shared/b", r#"B {% include "shared/a" %}"#).unwrap())
        .await
        .unwrap();
    // a -> b -> a
    let err = pm
        .update(
            Prompt::text("shared/a", r#"A {% include "shared/b" %}"#).unwrap(),
            Bump::Minor,
            "loop",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IncludeCycle { .. }), "{err}");
    assert_eq!(err.to_string(), "include cycle: shared/a@1.1.0 → shared/b → shared/a");
    let err = pm
        .create(Prompt::text("selfish", r#"{% include "selfish@production" %}"#).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "include cycle: selfish@1.0.0 → selfish@production");
    let err = pm
        .create(Prompt::text("dangling", r#"{% include "nowhere" %}"#).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid prompt `dangling@1.0.0`: its include of `nowhere` failed: prompt `nowhere` not found"
    );
    let err = pm
        .create(Prompt::text("computed", "{% include name %}").unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("literal prompt reference"), "{err}");
}

#[tokio::test]
async fn includes_follow_labels_as_they_move() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("shared/tone", "Be kind.").unwrap())
        .await
        .unwrap();
    pm.set_label("shared/tone", "production", "1.0.0").await.unwrap();
    pm.create(Prompt::text("bot", r#"You are {{ name }}. {% include "shared/tone@production" %}"#).unwrap())
        .await
        .unwrap();
    let v = Variables::new().with("name", "Ada");
    assert_eq!(pm.render("bot", &v).await.unwrap(), "You are Ada. Be kind.");
    pm.update(
        Prompt::text("shared/tone", "Be brief, {{ name }}.").unwrap(),
        Bump::Minor,
        "brief",
    )
    .await
    .unwrap();
    assert_eq!(
        pm.render("bot", &v).await.unwrap(),
        "You are Ada. Be kind.",
        "production did not move"
    );
    pm.set_label("shared/tone", "production", "1.1.0").await.unwrap();
    assert_eq!(
        pm.render("bot", &v).await.unwrap(),
        "You are Ada. Be brief, Ada.",
        "the include follows the label"
    );
    pm.archive("shared/tone").await.unwrap();
    let err = pm.render("bot", &v).await.unwrap_err();
    assert!(matches!(err, Error::Archived { .. }), "{err}");
}

#[tokio::test]
async fn runaway_templates_are_stopped() {
    let pm = prompt_manager::in_memory();
    pm.create(
        Prompt::text(
            "loop",
            "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}",
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let err = pm.render("loop", &Variables::new()).await.unwrap_err();
    assert!(matches!(err, Error::RenderLimit { .. }), "{err}");
}

/// A store whose label points to a version that does not exist, as a hand-edited store could.
#[derive(Debug)]
struct DanglingLabel(prompt_manager::MemoryStore);

#[async_trait]
impl StorageBackend for DanglingLabel {
    fn backend_name(&self) -> &'static str {
        "dangling"
    }
    async fn save(&self, r: SaveRequest) -> prompt_manager::Result<Vec<LabelEvent>> {
        self.0.save(r).await
    }
    async fn load(&self, id: &PromptId, v: Option<&Version>) -> prompt_manager::Result<Arc<PromptVersion>> {
        self.0.load(id, v).await
    }
    async fn delete(&self, id: &PromptId, r: prompt_manager::DeleteRequest) -> prompt_manager::Result<()> {
        self.0.delete(id, r).await
    }
    async fn list(&self, q: &ListQuery) -> prompt_manager::Result<Page<PromptSummary>> {
        self.0.list(q).await
    }
    async fn exists(&self, id: &PromptId) -> prompt_manager::Result<bool> {
        self.0.exists(id).await
    }
    async fn summary(&self, id: &PromptId) -> prompt_manager::Result<PromptSummary> {
        let mut s = self.0.summary(id).await?;
        s.labels.insert("production".parse()?, Version::new(7, 0, 0));
        Ok(s)
    }
    async fn set_status(&self, id: &PromptId, c: prompt_manager::StatusChange) -> prompt_manager::Result<()> {
        self.0.set_status(id, c).await
    }
    async fn audit(&self, q: &prompt_manager::AuditQuery) -> prompt_manager::Result<Vec<prompt_manager::AuditEntry>> {
        self.0.audit(q).await
    }
    async fn append_audit(&self, r: prompt_manager::AuditRecord) -> prompt_manager::Result<prompt_manager::AuditEntry> {
        self.0.append_audit(r).await
    }
}

#[async_trait]
impl VersionStore for DanglingLabel {
    async fn list_versions(&self, id: &PromptId) -> prompt_manager::Result<Vec<VersionInfo>> {
        self.0.list_versions(id).await
    }
    async fn labels(&self, id: &PromptId) -> prompt_manager::Result<BTreeMap<prompt_manager::LabelName, Version>> {
        self.0.labels(id).await
    }
    async fn get_label(&self, id: &PromptId, l: &prompt_manager::LabelName) -> prompt_manager::Result<Version> {
        self.0.get_label(id, l).await
    }
    async fn set_label(&self, id: &PromptId, c: LabelChange) -> prompt_manager::Result<Option<LabelEvent>> {
        self.0.set_label(id, c).await
    }
    async fn set_protection(&self, id: &PromptId, c: prompt_manager::ProtectionChange) -> prompt_manager::Result<bool> {
        self.0.set_protection(id, c).await
    }
    async fn label_history(
        &self,
        id: &PromptId,
        l: Option<&prompt_manager::LabelName>,
    ) -> prompt_manager::Result<Vec<LabelEvent>> {
        self.0.label_history(id, l).await
    }
}

#[tokio::test]
async fn a_label_pointing_to_a_missing_version_is_reported_as_such() {
    let pm = prompt_manager::builder()
        .store(Arc::new(DanglingLabel(prompt_manager::MemoryStore::new())))
        .build()
        .unwrap();
    pm.create(Prompt::text("p", "x").unwrap()).await.unwrap();
    let err = pm.render("p@production", &Variables::new()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "label `production` of prompt `p` points to version 7.0.0, which does not exist"
    );
}

#[tokio::test]
async fn edge_cases_found_in_review() {
    let pm = prompt_manager::in_memory();
    // A version at the top of the range cannot be bumped: an error, never a panic or a wrap-around.
    pm.create_with(
        Prompt::text("top", "x").unwrap(),
        prompt_manager::CreateOptions {
            version: Some(Version::new(u64::MAX, 0, 0)),
            ..prompt_manager::CreateOptions::default()
        },
    )
    .await
    .unwrap();
    let err = pm
        .update(Prompt::text("top", "y").unwrap(), Bump::Major, "m")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("overflows the version number"), "{err}");

    // Reverted content shares the compiled template but errors name the version rendered.
    pm.create(Prompt::text("g", "Hello {{ name }}").unwrap()).await.unwrap();
    pm.update(Prompt::text("g", "Hi {{ name }}").unwrap(), Bump::Minor, "hi")
        .await
        .unwrap();
    pm.update(Prompt::text("g", "Hello {{ name }}").unwrap(), Bump::Minor, "revert")
        .await
        .unwrap();
    pm.render("g@1.0.0", &Variables::new().with("name", "a")).await.unwrap();
    let err = pm.render("g@1.2.0", &Variables::new()).await.unwrap_err();
    assert_eq!(err.to_string(), "g@1.2.0: missing variable `name` (line 1)");

    // Reading a version does not compile it: a prompt whose include is archived can still be shown.
    pm.create(Prompt::text("shared/a", "A").unwrap()).await.unwrap();
    pm.create(Prompt::text("p", r#"{% include "shared/a" %}"#).unwrap())
        .await
        .unwrap();
    pm.archive("shared/a").await.unwrap();
    assert_eq!(pm.get("p").await.unwrap().version, Version::new(1, 0, 0));
    assert!(matches!(
        pm.render("p", &Variables::new()).await.unwrap_err(),
        Error::Archived { .. }
    ));

    // An include deleted after the fact is reported on the includer, not as the includer missing.
    pm.set_status("shared/a", PromptStatus::Active).await.unwrap();
    pm.delete("shared/a").await.unwrap();
    let err = pm.render("p", &Variables::new()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid prompt `p@1.0.0`: its include of `shared/a` failed: prompt `shared/a` not found"
    );

    // Unknown ids leave nothing behind in the registry.
    let before = pm.cache_stats();
    for n in 0..100 {
        assert!(pm.render(&format!("nope-{n}"), &Variables::new()).await.is_err());
    }
    assert_eq!(pm.cache_stats(), before);
}
