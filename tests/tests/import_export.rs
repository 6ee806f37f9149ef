//! Import and export through the umbrella: a library file in, a folder out, and back into
//! other stores; one bad entry refuses a whole library and the store is unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;

use prompt_manager::library::{self, ExportOptions};
use prompt_manager::{Error, ListQuery, PromptStatus, Variables};

const LIBRARY: &str = "\
prompts:
  - id: greeting
    template: Hello {{ name }}!
    labels: [production]
  - id: greeting
    template: Hi {{ name }}, welcome!
    changelog: Warmer
    labels: [staging]
  - id: support/triage
    format: chat
    status: active
    metadata: { tags: [support] }
    template:
      - { role: system, content: 'You triage tickets for {{ product }}.' }
      - { placeholder: history }
      - { role: user, content: '{{ ticket }}' }
";

async fn snapshot(pm: &prompt_manager::PromptManager) -> Vec<String> {
    let mut out = Vec::new();
    for summary in pm.list(&ListQuery::default()).await.unwrap().items {
        let id = summary.id.to_string();
        for info in pm.history(&id).await.unwrap() {
            let v = pm.get(&format!("{id}@{}", info.version)).await.unwrap();
            out.push(format!(
                "{id}@{} {:?} {} {:?}",
                v.version, v.prompt, v.content_hash, summary.status
            ));
        }
        out.push(format!("{id} labels {:?}", pm.labels(&id).await.unwrap()));
    }
    out
}

#[tokio::test]
async fn a_library_goes_in_and_comes_out_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("library.yaml");
    fs::write(&file, LIBRARY).unwrap();

    let pm = prompt_manager::in_memory();
    let report = library::import(&pm, &file).await.unwrap();
    let created: Vec<String> = report.created.iter().map(|(id, v)| format!("{id}@{v}")).collect();
    assert_eq!(created, ["greeting@1.0.0", "greeting@1.1.0", "support/triage@1.0.0"]);
    let vars = Variables::new().with("name", "Ada");
    assert_eq!(pm.render("greeting@production", &vars).await.unwrap(), "Hello Ada!");
    assert_eq!(pm.render("greeting@staging", &vars).await.unwrap(), "Hi Ada, welcome!");
    assert_eq!(pm.summary("support/triage").await.unwrap().status, PromptStatus::Active);

    // Importing the same file again changes nothing.
    let again = library::import(&pm, &file).await.unwrap();
    assert!(again.created.is_empty(), "{again:?}");
    assert_eq!(again.unchanged.len(), 3);

    // Out as a folder and as a file, with every version; back into fresh stores.
    let all = ExportOptions {
        all_versions: true,
        ..ExportOptions::default()
    };
    let folder = dir.path().join("exported");
    assert_eq!(library::export(&pm, &folder, &all).await.unwrap(), 3);
    assert!(folder.join("greeting/1.1.0.yaml").is_file());
    assert!(folder.join("support/triage/1.0.0.yaml").is_file());
    let out_file = dir.path().join("out.yaml");
    assert_eq!(library::export(&pm, &out_file, &all).await.unwrap(), 3);

    let expected = snapshot(&pm).await;
    for source in [&folder, &out_file] {
        let fresh = prompt_manager::in_memory();
        library::import(&fresh, source).await.unwrap();
        assert_eq!(
            snapshot(&fresh).await,
            expected,
            "round trip through {}",
            source.display()
        );
    }
    // Into a folder store opened by URL, as any store.
    let url = format!("dir://{}", dir.path().join("store").display());
    let in_dir = prompt_manager::open(&url).await.unwrap();
    library::import(&in_dir, &out_file).await.unwrap();
    assert_eq!(snapshot(&in_dir).await, expected);
}

#[tokio::test]
async fn one_bad_entry_refuses_the_whole_library() {
    let dir = tempfile::tempdir().unwrap();
    let pm = prompt_manager::in_memory();
    let good = dir.path().join("good.yaml");
    fs::write(&good, "prompts:\n  - id: existing\n    template: Keep me\n").unwrap();
    library::import(&pm, &good).await.unwrap();
    let before = snapshot(&pm).await;

    let cases = [
        // (what is broken, replace, with, expected start of the message)
        (
            "an invalid id",
            "id: support/triage",
            "id: Support/Triage",
            ":9:5: entry 3",
        ),
        (
            "a template syntax error",
            "content: '{{ ticket }}'",
            "content: '{{ ticket '",
            ":9:5: entry 3 (`support/triage`)",
        ),
        (
            "an unknown field",
            "changelog: Warmer",
            "changelgo: Warmer",
            ":5:5: entry 2 (`greeting`)",
        ),
        (
            "a YAML syntax error",
            "metadata: { tags: [support] }",
            "metadata: { tags: [support }",
            ":12:23: mismatched bracket",
        ),
    ];
    for (what, from, to, at) in cases {
        let text = LIBRARY.replace(from, to);
        assert_ne!(text, LIBRARY, "{what}: the case must change the library");
        let file = dir.path().join("bad.yaml");
        fs::write(&file, format!("{text}  - id: existing\n    template: Changed\n")).unwrap();
        let err = library::import(&pm, &file).await.unwrap_err();
        assert!(matches!(err, Error::InvalidFile { .. }), "{what}: {err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}{at}", file.display())),
            "{what}: expected `{at}` in {message}"
        );
        assert_eq!(snapshot(&pm).await, before, "{what}: the store is unchanged");
    }

    // A conflict with what the store holds is refused as a whole too.
    let clash = dir.path().join("clash.yaml");
    fs::write(
        &clash,
        "prompts:\n  - id: fresh\n    template: New\n  - id: existing\n    version: 1.0.0\n    template: Different\n",
    )
    .unwrap();
    let err = library::import(&pm, &clash).await.unwrap_err().to_string();
    assert!(
        err.contains(":4:5: entry 2 (`existing`): version 1.0.0 already exists"),
        "{err}"
    );
    assert!(pm.get("fresh").await.is_err(), "nothing of a refused library is saved");
}
