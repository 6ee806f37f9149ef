//! The usage pages: a prompt's analytics (charts and totals by version, label or variant), the
//! experiment view of a split label with its significance tests and "promote", the cost column
//! of the timeline, and bad requests. Renders go through a manager that records usage into its
//! in-memory store, flushed before each page is read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::client;
use prompt_manager::{
    Bump, Feedback, Prompt, PromptManager, RenderOptions, Split, SplitVariant, UsageConfig, Variables,
};

const FORM: &str = "/ui/labels/support/triage";

/// `support/triage` 1.0.0, 1.1.0 and 2.0.0, `production` split 1.1.0=50 2.0.0=50, and 400
/// renders by the label with split keys; 2.0.0's answers succeed far more often (85 % against
/// 55 %) and score higher.
async fn experiment() -> PromptManager {
    let pm = prompt_manager::builder().usage(UsageConfig::default()).build().unwrap();
    let mut p = Prompt::text("support/triage", "Classify: {{ ticket }}").unwrap();
    pm.create(p.clone()).await.unwrap();
    p.template = prompt_manager::Template::Text("Classify this ticket: {{ ticket }}".into());
    pm.update(p.clone(), Bump::Minor, "clearer wording").await.unwrap();
    p.template = prompt_manager::Template::Text("Classify this ticket for {{ team }}: {{ ticket }}".into());
    pm.update(p, Bump::Major, "route to a team").await.unwrap();
    pm.set_label("support/triage", "staging", "1.0.0").await.unwrap();
    let split = Split::new([
        SplitVariant::new("1.1.0".parse().unwrap(), 50),
        SplitVariant::new("2.0.0".parse().unwrap(), 50),
    ])
    .unwrap();
    pm.set_split("support/triage", "production", split).await.unwrap();
    let vars = Variables::new()
        .with("ticket", "my invoice is wrong")
        .with("team", "billing");
    let mut seen = [0u32; 2];
    for i in 0..400 {
        let key = format!("user-{i}");
        let options = RenderOptions::split_key(&key);
        let rendered = pm
            .render_prompt_with("support/triage@production", &vars, &options)
            .await
            .unwrap();
        let newer = rendered.version.major == 2;
        let n = &mut seen[usize::from(newer)];
        *n += 1;
        let success = if newer { *n % 20 < 17 } else { *n % 20 < 11 };
        let score = if newer {
            4.0 + f64::from(*n % 3) * 0.5
        } else {
            3.0 + f64::from(*n % 3) * 0.5
        };
        let id = rendered.render_id.expect("usage recording gives each render an id");
        pm.report_feedback(
            id.as_str(),
            &Feedback {
                success: Some(success),
                score: Some(score),
            },
        )
        .await
        .unwrap();
    }
    assert!(seen.iter().all(|n| *n > 120), "both variants served: {seen:?}");
    // One failed render by 1.1.0, for the error column.
    let _ = pm.render("support/triage@1.1.0", &Variables::new()).await;
    pm.flush_usage().await.unwrap();
    pm
}

#[tokio::test]
async fn the_analytics_page_charts_and_totals_the_renders_by_version_label_and_variant() {
    let pm = experiment().await;
    let mut ui = client(pm);
    let page = ui.get("/ui/analytics/support/triage").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.has("Totals, last 24h")
        .has("<a href=\"/ui/p/support/triage?v=1.1.0\">1.1.0</a>")
        .has("<a href=\"/ui/p/support/triage?v=2.0.0\">2.0.0</a>")
        .has("<svg class=\"chart\"")
        .has("Renders per hour")
        .has("Error rate per hour")
        .has("Render time p95 per hour")
        .has("<a href=\"/ui/experiment/support/triage?label=production\">production</a>")
        .lacks("style=");
    // Six charts, each with a legend entry per version.
    assert_eq!(page.body.matches("<svg class=\"chart\"").count(), 6);
    let by_label = ui.get("/ui/analytics/support/triage?by=label&range=1h").await;
    assert_eq!(by_label.status, StatusCode::OK);
    by_label.has("Renders per minute").has(">production<").has("(no label)");
    let by_variant = ui.get("/ui/analytics/support/triage?by=variant&range=7d").await;
    by_variant
        .has("production → 1.1.0")
        .has("production → 2.0.0")
        .has("1.1.0 (no label)");
}

#[tokio::test]
async fn the_experiment_view_compares_the_variants_and_promoting_one_ends_the_test() {
    let pm = experiment().await;
    let mut ui = client(pm.clone());
    let page = ui.get("/ui/experiment/support/triage?label=production").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.has("A/B test: support/triage@production")
        .has(">running<")
        .has("The control is the oldest version, <strong>1.1.0</strong>")
        .has("50 % <span class=\"muted\">(weight 50)</span>")
        .has("2.0.0 better than 1.1.0 at 95 % (success rate)")
        .has("verdict-better")
        .has("two-proportion z-test")
        .has("Promote 2.0.0…");
    // The prompt page shows the split, links the results, and the timeline's usage column.
    let prompt = ui.get("/ui/p/support/triage").await;
    prompt
        .has("A/B test results")
        .has("production 50 %")
        .has("class=\"usage\"")
        .has("href=\"/ui/analytics/support/triage\"");
    // Promote: confirm, then apply; the label points at 2.0.0 alone.
    let confirm = ui
        .post(
            FORM,
            &[("action", "set"), ("label", "production"), ("version", "2.0.0")],
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    let expected = confirm
        .body
        .split("name=\"expected\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let applied = ui
        .post(
            FORM,
            &[
                ("action", "set"),
                ("label", "production"),
                ("version", "2.0.0"),
                ("expected", &expected),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let summary = pm.summary("support/triage").await.unwrap();
    assert!(summary.splits.is_empty(), "the test ended: {:?}", summary.splits);
    assert_eq!(summary.labels["production"].to_string(), "2.0.0");
    // The results stay readable after the test ended.
    let ended = ui.get("/ui/experiment/support/triage?label=production").await;
    assert_eq!(ended.status, StatusCode::OK);
    ended.has(">ended<").has("no longer split");

    // Rolling back restores the split, and the pages say so before and after.
    let prompt = ui.get("/ui/p/support/triage").await;
    prompt.has("Roll back to the A/B split 1.1.0=50 2.0.0=50");
    let confirm = ui.post(FORM, &[("action", "rollback"), ("label", "production")]).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    confirm
        .has("to the A/B split <code>1.1.0=50 2.0.0=50</code>: this restores the test")
        .has("Roll back production → split 1.1.0=50 2.0.0=50");
    let field = |name: &str| {
        confirm
            .body
            .split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned()
    };
    let (expected, version) = (field("expected"), field("version"));
    assert_eq!(version, "split 1.1.0=50 2.0.0=50");
    // A confirmation for another target is stale: nothing changes.
    let stale = ui
        .post(
            FORM,
            &[
                ("action", "rollback"),
                ("label", "production"),
                ("version", "1.1.0"),
                ("expected", &expected),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    stale.has("would now go to split 1.1.0=50 2.0.0=50 rather than 1.1.0");
    assert!(pm.summary("support/triage").await.unwrap().splits.is_empty());
    let applied = ui
        .post(
            FORM,
            &[
                ("action", "rollback"),
                ("label", "production"),
                ("version", &version),
                ("expected", &expected),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let location = applied.location.clone().unwrap();
    assert!(
        location.contains("done=rollback_split%3Aproduction%3A1.1.0"),
        "{location}"
    );
    let summary = pm.summary("support/triage").await.unwrap();
    assert_eq!(summary.splits["production"].to_string(), "1.1.0=50 2.0.0=50");
    let back = ui.get(&location).await;
    back.has("Label production rolled back to its A/B split (primary 1.1.0).");
}

#[tokio::test]
async fn without_data_or_with_bad_parameters_the_pages_say_so() {
    let pm = prompt_manager::builder().usage(UsageConfig::default()).build().unwrap();
    pm.create(Prompt::text("quiet", "Hello").unwrap()).await.unwrap();
    pm.set_label("quiet", "production", "1.0.0").await.unwrap();
    let mut ui = client(pm);
    ui.get("/ui/analytics/quiet")
        .await
        .has("No renders of <code>quiet</code> were recorded");
    for (url, message) in [
        (
            "/ui/analytics/quiet?range=2y",
            "range `2y` is not one of 1h, 24h, 7d, 30d",
        ),
        (
            "/ui/analytics/quiet?by=user",
            "invalid by `user`: use version, label or variant",
        ),
        ("/ui/experiment/quiet?label=Bad%20Label", "label:"),
        ("/ui/experiment/quiet", "label:"),
    ] {
        let page = ui.get(url).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{url}: {}", page.body);
        page.has(message);
    }
    let none = ui.get("/ui/experiment/quiet?label=production").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    none.has("is not an A/B split and served no renders");
    let unknown = ui.get("/ui/analytics/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_store_without_usage_gets_a_note_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = prompt_manager::open_store(&format!("dir://{}", dir.path().display()))
        .await
        .unwrap();
    let pm = prompt_manager::builder().store(store).build().unwrap();
    pm.create(Prompt::text("files", "Hello").unwrap()).await.unwrap();
    let mut ui = client(pm);
    let page = ui.get("/ui/analytics/files").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.has("keeps no usage records");
    ui.get("/ui/p/files").await.lacks("class=\"usage\"");
}
