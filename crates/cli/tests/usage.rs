//! `render`, `usage`, `feedback` and `stats` as separate processes on one SQLite store: each
//! command flushes what it recorded before it exits, so `stats` sees every render and report;
//! bad render ids and a store without usage are clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn binary() -> PathBuf {
    std::env::var_os("PROMPT_MANAGER_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_prompt-manager")), PathBuf::from)
}

/// Runs the binary in `dir` on `store`; returns (exit code, stdout, stderr).
fn run(dir: &std::path::Path, store: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env("PROMPT_MANAGER_STORE", store)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    )
}

#[test]
fn renders_and_reports_from_separate_processes_reach_stats() {
    let dir = tempfile::tempdir().unwrap();
    let store = "sqlite://./pm.db";
    let ok = |args: &[&str]| {
        let (code, out, err) = run(dir.path(), store, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        (out, err)
    };
    ok(&["create", "--id", "greet", "--template", "Hello {{ name }}"]);
    ok(&["label", "set", "greet", "production", "1.0.0"]);
    let (_, err) = ok(&["render", "greet@production", "-v", "name=Ada"]);
    assert!(err.contains("render id: r1"), "{err}");
    let (out, _) = ok(&["render", "greet@production", "-v", "name=Bob", "-o", "json"]);
    let id = serde_json::from_str::<Value>(&out).unwrap()["render_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (out, _) = ok(&[
        "usage",
        &id,
        "--output-tokens",
        "50",
        "--latency-ms",
        "700",
        "--cost",
        "0.001",
    ]);
    assert_eq!(out, "recorded usage for greet@1.0.0 via production\n");
    ok(&["feedback", &id, "--success", "--score", "4"]);
    ok(&["feedback", &id, "--failure"]);

    let (out, _) = ok(&["stats", "greet", "-o", "json", "--by", "variant", "--bucket", "minute"]);
    let stats: Value = serde_json::from_str(&out).unwrap();
    let totals = &stats["groups"][0]["totals"];
    assert_eq!(stats["groups"][0]["label"], "production");
    assert_eq!(totals["renders"], 2, "{stats}");
    assert_eq!(totals["output_tokens"], 50);
    assert_eq!(totals["total_cost"], 1_000_000);
    assert_eq!(totals["feedback"], 2);
    assert_eq!(totals["success_rate"], 0.5);
    let (out, _) = ok(&["stats", "greet"]);
    assert!(out.contains("renders") && out.contains("1.0.0"), "{out}");

    let (code, _, err) = run(dir.path(), store, &["feedback", "not-an-id", "--success"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid render id `not-an-id`"), "{err}");
    let (code, _, err) = run(dir.path(), store, &["stats", "greet", "--since", "3w"]);
    assert_eq!(code, 2);
    assert!(err.contains("30s, 90m, 24h, 7d"), "{err}");
    let (code, _, err) = run(
        dir.path(),
        store,
        &["stats", "greet", "--since", "30d", "--bucket", "minute"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("wider --bucket"), "{err}");

    // A folder store keeps no usage: renders carry no id, and stats says where usage lives.
    let folder = "dir://./prompts";
    run(dir.path(), folder, &["create", "--id", "greet", "--template", "Hi"]);
    let (code, out, _) = run(dir.path(), folder, &["render", "greet", "-o", "json"]);
    assert_eq!(code, 0);
    assert!(!out.contains("render_id"), "{out}");
    let (code, _, err) = run(dir.path(), folder, &["stats", "greet"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sqlite://"), "{err}");
}
