//! The folder store (`dir://`): the conformance suite, and what only a folder of files can get
//! wrong — hand edits, broken files, ids that could escape, files left by a crash.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    Error, Expect, LabelName, ListQuery, PromptId, PromptStatus, SaveRequest, StorageBackend, Store, VersionStore,
};
use prompt_manager_storage::conformance::{self, save_request, text_version};
use prompt_manager_storage::{DirStore, LABELS_FILE};

mod common;

fn id(s: &str) -> PromptId {
    PromptId::new(s).unwrap()
}

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path().strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    conformance::run_all(&store).await;
    // Twice on the same folder, through a new handle: what the first run left is read back.
    let store = DirStore::open(dir.path()).unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn item_06_a_long_tag_filter_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    conformance::long_filters_are_refused_and_many_tags_are_one_query(&DirStore::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn item_09_one_id_grammar_for_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    conformance::ids_like_store_files_are_held_or_refused_alike(&DirStore::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn the_folder_is_readable_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let mut prompt = prompt_manager_core::Prompt::text("support/triage", "Line one\nHello {{ name }}!\n").unwrap();
    prompt.metadata.tags = ["support".to_owned()].into();
    let mut version = conformance::versioned(prompt, "1.0.0");
    version.created_at = "2026-01-02T03:04:05Z".parse().unwrap();
    store
        .save(SaveRequest {
            labels: vec![LabelName::new("production").unwrap()],
            ..save_request(version, Expect::Absent)
        })
        .await
        .unwrap();

    assert_eq!(
        files_under(dir.path()),
        [
            ".prompt-manager.lock",
            // The audit log: the version created, then the label set, one file per entry.
            "_audit/00000000000000000001.json",
            "_audit/00000000000000000002.json",
            "support/triage/1.0.0.yaml",
            &format!("support/triage/{LABELS_FILE}")
        ]
    );
    let entry = fs::read_to_string(dir.path().join("_audit/00000000000000000002.json")).unwrap();
    assert!(entry.contains("\"action\": \"label_set\""), "{entry}");
    let text = fs::read_to_string(dir.path().join("support/triage/1.0.0.yaml")).unwrap();
    assert!(text.starts_with("version: "), "{text}");
    assert!(
        text.contains("  template: |\n    Line one\n    Hello {{ name }}!\n"),
        "multi-line templates are blocks, diff-friendly:\n{text}"
    );
    let labels = fs::read_to_string(dir.path().join("support/triage").join(LABELS_FILE)).unwrap();
    assert!(labels.contains("production: "), "{labels}");
    assert!(labels.contains("status: draft"), "{labels}");
}

#[tokio::test]
async fn a_hand_written_folder_is_a_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("greeting");
    fs::create_dir_all(&folder).unwrap();
    fs::write(
        folder.join("1.0.0.yaml"),
        "changelog: written by hand\nprompt:\n  id: greeting\n  template: Hello {{ name }}!\n",
    )
    .unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let loaded = store.load(&id("greeting"), None).await.unwrap();
    assert_eq!(loaded.version, v("1.0.0"));
    assert_eq!(loaded.changelog, "written by hand");
    assert_eq!(loaded.content_hash, loaded.prompt.content_hash());
    let summary = store.summary(&id("greeting")).await.unwrap();
    assert_eq!(summary.status, PromptStatus::Active, "no labels file: an active prompt");
    assert!(summary.labels.is_empty());

    // Editing by hand is seen at once, hash included.
    fs::write(
        folder.join("1.0.0.yaml"),
        "prompt:\n  id: greeting\n  template: Hi {{ name }}!\n",
    )
    .unwrap();
    let edited = store.load(&id("greeting"), None).await.unwrap();
    assert_eq!(edited.prompt.template.sources(), ["Hi {{ name }}!"]);
    assert_ne!(edited.content_hash, loaded.content_hash);

    // And the tool can add the next version on top.
    store
        .save(save_request(
            text_version("greeting", "1.1.0", "Hey {{ name }}"),
            Expect::Version(v("1.0.0")),
        ))
        .await
        .unwrap();
    assert_eq!(store.list_versions(&id("greeting")).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_broken_file_names_file_line_and_column_and_the_rest_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    for name in ["alpha", "beta", "gamma"] {
        store
            .save(save_request(text_version(name, "1.0.0", "Hi"), Expect::Absent))
            .await
            .unwrap();
    }
    let broken = dir.path().join("beta/1.0.0.yaml");
    let text = fs::read_to_string(&broken).unwrap();
    // Break the YAML on the line of the template.
    let bad = text.replace("template: Hi", "template: [Hi");
    assert_ne!(bad, text);
    fs::write(&broken, &bad).unwrap();
    let line = bad.lines().position(|l| l.contains("[Hi")).unwrap() + 1;

    let err = store.load(&id("beta"), None).await.unwrap_err();
    let Error::InvalidFile {
        file,
        line: Some(at),
        column: Some(_),
        ..
    } = &err
    else {
        panic!("expected a file error with a position, got {err:?}")
    };
    assert!(file.ends_with("beta/1.0.0.yaml"), "{file}");
    assert!(*at >= line, "error at line {at}, the break is on line {line}: {err}");
    assert!(err.to_string().contains("beta/1.0.0.yaml:"), "{err}");

    for ok in ["alpha", "gamma"] {
        assert_eq!(store.load(&id(ok), None).await.unwrap().version, v("1.0.0"));
    }
    // Listing reports the broken file rather than hiding it.
    let err = store.list(&ListQuery::default()).await.unwrap_err();
    assert!(err.to_string().contains("beta/1.0.0.yaml"), "{err}");
    let only_alpha = store
        .list(&ListQuery {
            id_prefix: Some("al".into()),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(only_alpha.items.len(), 1);

    // A file in the wrong folder is named too.
    fs::write(&broken, text.replace("id: beta", "id: gamma")).unwrap();
    let err = store.load(&id("beta"), None).await.unwrap_err();
    assert!(err.to_string().contains("names prompt `gamma`"), "{err}");
}

#[tokio::test]
async fn ids_that_could_escape_are_refused_before_any_io() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let _store = DirStore::open(&root).unwrap();
    for bad in [
        "../escape",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        "A",
        "a\0b",
        "a\\b",
        ".hidden",
    ] {
        assert!(PromptId::new(bad).is_err(), "`{bad}` must not be an id");
    }
    // A segment shaped like the store's own files is not an id at all, for any store (item 9).
    let err = PromptId::new("a/1.0.0.yaml").unwrap_err();
    assert!(matches!(err, Error::InvalidId { .. }), "{err:?}");
    assert_eq!(files_under(&root), [".prompt-manager.lock"]);
    assert_eq!(files_under(dir.path()), ["store/.prompt-manager.lock"]);
}

#[tokio::test]
async fn leftovers_of_a_crash_are_invisible() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    store
        .save(save_request(text_version("a", "1.0.0", "one"), Expect::Absent))
        .await
        .unwrap();
    // A temporary file that never got renamed, half written.
    fs::write(dir.path().join("a/.1.1.0.yaml.123.0.tmp"), "prompt:\n  id: a\n  templ").unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    assert_eq!(store.list_versions(&id("a")).await.unwrap().len(), 1);
    assert_eq!(store.load(&id("a"), None).await.unwrap().version, v("1.0.0"));
}

/// Issue 12, item 8: after SIGKILLs a folder held the temporary files of interrupted writes (a
/// journal's among them). Opening the store removes them, and only them.
#[tokio::test]
async fn item_08_opening_removes_orphan_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    store
        .save(save_request(text_version("a/b", "1.0.0", "one"), Expect::Absent))
        .await
        .unwrap();
    drop(store);
    let orphans = [
        "a/b/.1.1.0.yaml.4242.0.18c2f3a9b0d1e2f3.tmp",
        "a/b/._labels.yaml.4242.1.18c2f3a9b0d1e2f4.tmp",
        "..prompt-manager.journal.4242.2.18c2f3a9b0d1e2f5.tmp",
        "a/b/.1.2.0.yaml.77.3.tmp",
    ];
    for orphan in orphans {
        fs::write(dir.path().join(orphan), "prompt:\n  id: a/b\n  templ").unwrap();
    }
    // Not the store's temporary files: left alone.
    let kept = ["a/b/notes.tmp", ".git/.x.1.2.3.tmp", "a/.hidden"];
    for other in kept {
        fs::create_dir_all(dir.path().join(other).parent().unwrap()).unwrap();
        fs::write(dir.path().join(other), "mine").unwrap();
    }
    let store = DirStore::open(dir.path()).unwrap();
    let left = files_under(dir.path());
    for orphan in orphans {
        assert!(!left.contains(&orphan.to_owned()), "{orphan} is still there: {left:?}");
    }
    for other in kept {
        assert!(left.contains(&other.to_owned()), "{other} was removed: {left:?}");
    }
    assert_eq!(store.load(&id("a/b"), None).await.unwrap().version, v("1.0.0"));
}

#[tokio::test]
async fn nested_prompts_share_folders_and_delete_keeps_the_children() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    for name in ["support", "support/triage", "support/triage/deep"] {
        store
            .save(save_request(text_version(name, "1.0.0", name), Expect::Absent))
            .await
            .unwrap();
    }
    let listed = store.list(&ListQuery::default()).await.unwrap();
    let ids: Vec<_> = listed.items.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, ["support", "support/triage", "support/triage/deep"]);

    store
        .delete(&id("support/triage"), conformance::deletion())
        .await
        .unwrap();
    assert!(!store.exists(&id("support/triage")).await.unwrap());
    assert!(store.exists(&id("support/triage/deep")).await.unwrap());
    assert!(store.exists(&id("support")).await.unwrap());
    store
        .delete(&id("support/triage/deep"), conformance::deletion())
        .await
        .unwrap();
    assert!(
        !dir.path().join("support/triage").exists(),
        "empty folders go with their last prompt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_folder_never_both_win() {
    let dir = tempfile::tempdir().unwrap();
    let a: Arc<dyn Store> = Arc::new(DirStore::open(dir.path()).unwrap());
    let b: Arc<dyn Store> = Arc::new(DirStore::open(dir.path()).unwrap());
    common::race_compare_and_set(vec![a, b], &id("race"), 25).await;
    // A third handle opened afterwards reads the same chain from the files.
    let store = DirStore::open(dir.path()).unwrap();
    assert_eq!(store.list_versions(&id("race")).await.unwrap().len(), 51);
}

#[tokio::test]
async fn a_version_file_edited_by_hand_is_refused_naming_the_file_and_both_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    conformance::tampered_version_is_refused(&store, |t| async move {
        let path = root.join(t.id.as_str()).join(format!("{}.yaml", t.version));
        let text = fs::read_to_string(&path).unwrap();
        let saved = t.saved.prompt.template.sources()[0].to_owned();
        assert!(text.contains(&saved), "{text}");
        assert!(
            text.contains(&t.saved.content_hash.0),
            "the file records its hash:\n{text}"
        );
        fs::write(&path, text.replace(&saved, &t.template)).unwrap();
        path.display().to_string()
    })
    .await;
}

#[tokio::test]
async fn a_new_version_file_without_a_hash_is_accepted_and_a_wrong_hash_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("greeting");
    fs::create_dir_all(&folder).unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    store
        .save(save_request(
            text_version("greeting", "1.0.0", "Hello {{ name }}"),
            Expect::Absent,
        ))
        .await
        .unwrap();

    // A new version written by hand, without a hash: the supported way to add one to a folder.
    fs::write(
        folder.join("1.1.0.yaml"),
        "changelog: by hand\nprompt:\n  id: greeting\n  template: Hi {{ name }}\n",
    )
    .unwrap();
    let added = store.load(&id("greeting"), None).await.unwrap();
    assert_eq!(added.version, v("1.1.0"));
    assert_eq!(added.content_hash, added.prompt.content_hash());

    // A hash that does not match the content (copied from another version) is refused.
    let copied = store.load(&id("greeting"), Some(&v("1.0.0"))).await.unwrap();
    let path = folder.join("1.2.0.yaml");
    fs::write(
        &path,
        format!(
            "content_hash: {}\nprompt:\n  id: greeting\n  template: Hey {{{{ name }}}}\n",
            copied.content_hash
        ),
    )
    .unwrap();
    let err = store.load(&id("greeting"), None).await.unwrap_err();
    assert!(matches!(err, Error::ContentHashMismatch(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(&copied.content_hash.0), "{text}");

    // Fixing the file by hand makes it load again; the other versions never stopped loading.
    assert_eq!(store.list_versions(&id("greeting")).await.unwrap().len(), 3);
    store.load(&id("greeting"), Some(&v("1.1.0"))).await.unwrap();
    fs::write(&path, "prompt:\n  id: greeting\n  template: Hey {{ name }}\n").unwrap();
    assert_eq!(store.load(&id("greeting"), None).await.unwrap().version, v("1.2.0"));
}

#[tokio::test]
async fn an_edited_or_deleted_audit_file_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    conformance::audit_tampering_is_detected(&store, |t| {
        let root = root.clone();
        async move {
            let file = |seq: u64| root.join("_audit").join(format!("{seq:020}.json"));
            match t {
                conformance::AuditTamper::EditActor { seq } => {
                    let text = fs::read_to_string(file(seq)).unwrap();
                    let edited = text.replace("\"actor\": \"conformance\"", "\"actor\": \"mallory\"");
                    assert_ne!(edited, text, "{text}");
                    fs::write(file(seq), edited).unwrap();
                }
                conformance::AuditTamper::Delete { seq } => fs::remove_file(file(seq)).unwrap(),
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_folder_keep_one_gap_free_chain() {
    // Two stores on one folder stand for two processes: each must notice the other's entries.
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<Arc<DirStore>> = (0..2).map(|_| Arc::new(DirStore::open(dir.path()).unwrap())).collect();
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let pid = format!("chain/w{n}-{i}");
                store
                    .save(save_request(text_version(&pid, "1.0.0", "x"), Expect::Absent))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let entries = conformance::audit_after(stores[0].as_ref(), 0).await;
    assert_eq!(entries.len(), 20);
    assert_eq!(prompt_manager_core::verify_chain(&entries), Ok(20));
}
