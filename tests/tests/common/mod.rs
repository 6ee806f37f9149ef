//! What the tests against other tools' Python packages share: whether the packages import, and
//! running a check script that reads jobs as JSON on stdin and answers one result per job.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Set by CI: a missing package is then a failure, not a skip.
pub(crate) const REQUIRE: &str = "PROMPT_MANAGER_REQUIRE_PYTHON_SDKS";

/// `true` when python3 imports every module of `modules` (`"langfuse, prompty"`); otherwise
/// prints why and skips, or fails under [`REQUIRE`]. `what` names them in the message.
pub(crate) fn python_has(modules: &str, what: &str) -> bool {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output();
    if matches!(&probe, Ok(o) if o.status.success()) {
        return true;
    }
    let why = format!(
        "python3 with {what} is not available ({}); install them with \
         `python3 -m pip install -r tests/python/requirements.txt`",
        match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_owned(),
            Err(e) => e.to_string(),
        }
    );
    assert!(
        std::env::var_os(REQUIRE).is_none_or(|v| v == "0"),
        "{REQUIRE} is set: {why}"
    );
    eprintln!("skipped: {why}");
    false
}

/// Runs the Python `script` on `jobs` (JSON on stdin); one result per job (JSON on stdout).
pub(crate) fn run_check(script: &Path, jobs: &[Value]) -> Vec<Value> {
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    serde_json::to_writer(child.stdin.take().unwrap(), &jobs).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), jobs.len());
    results
}
