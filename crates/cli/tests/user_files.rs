//! The files a user hands the command line (prompt files, libraries, `--vars` files, the config
//! file, stdin) are read only when they are regular files of at most 16 MiB: a symlink to
//! `/dev/zero` once grew `lint` to 9 GB in 10 s, and a FIFO made it wait forever.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary in `dir` on a store there.
fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prompt-manager"));
    command
        .args(args)
        .current_dir(dir)
        .env("PROMPT_MANAGER_STORE", "sqlite://./pm.db")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command`, killing it (and failing) if it has not finished in 60 s: the defect was a hang.
fn run(mut command: Command) -> Output {
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("{command:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Runs and expects exit code 2 with `expected` in stderr.
fn refused(dir: &Path, args: &[&str], expected: &str) {
    let output = run(cmd(dir, args));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in {stderr}");
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A file one byte over the limit (sparse: it takes no room).
fn too_big(path: &Path) {
    std::fs::File::create(path)
        .unwrap()
        .set_len(16 * 1024 * 1024 + 1)
        .unwrap();
}

#[test]
fn item_04_special_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.yaml")).unwrap();
    mkfifo(&d.join("fifo.yaml"));
    too_big(&d.join("big.yaml"));
    std::fs::write(d.join("ok.yaml"), "id: ok\ntemplate: Hello {{ name }}!\n").unwrap();
    // A symlink to a regular file is read.
    std::os::unix::fs::symlink(d.join("ok.yaml"), d.join("link.yaml")).unwrap();

    // lint of the folder finishes and names each file it could not read.
    let output = run(cmd(d, &["lint", "."]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    for expected in [
        "zero.yaml:1:1: error: cannot read it: it is a device, not a regular file",
        "fifo.yaml:1:1: error: cannot read it: it is a FIFO, not a regular file",
        "big.yaml:1:1: error: cannot read it: it is larger (16.0 MiB) than 16 MiB",
    ] {
        assert!(stdout.contains(expected), "expected {expected:?} in {stdout}");
    }
    assert!(!stdout.contains("link.yaml"), "{stdout}");
    let output = run(cmd(d, &["lint", "zero.yaml"]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("it is a device, not a regular file"), "{stdout}");

    // import, create and render's --vars: the same refusal, exit code 2.
    refused(d, &["import", "fifo.yaml"], "a FIFO, not a regular file");
    refused(d, &["import", "zero.yaml"], "a device, not a regular file");
    refused(
        d,
        &["import", "big.yaml"],
        "than 16 MiB, the most prompt-manager reads from one file",
    );
    refused(d, &["create", "fifo.yaml"], "cannot read fifo.yaml: it is a FIFO");
    refused(d, &["create", "zero.yaml"], "cannot read zero.yaml: it is a device");
    refused(d, &["create", "big.yaml"], "cannot read big.yaml: it is larger");
    let created = run(cmd(d, &["create", "link.yaml"]));
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    mkfifo(&d.join("vars.json"));
    refused(
        d,
        &["render", "ok", "--vars", "vars.json"],
        "cannot read vars.json: it is a FIFO",
    );

    // stdin is bounded too.
    let mut endless = cmd(d, &["create", "-"]);
    endless.stdin(std::fs::File::open("/dev/zero").unwrap());
    let output = run(endless);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read stdin: it is larger than 16 MiB"),
        "{stderr}"
    );

    // A folder to import skips (does not follow) a symlink to a folder, which could loop.
    let folder = d.join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("a.yaml"), "id: a\ntemplate: A\n").unwrap();
    std::os::unix::fs::symlink(&folder, folder.join("loop")).unwrap();
    let imported = run(cmd(d, &["import", "folder"]));
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
}

#[test]
fn item_04_config_files_must_be_regular_files() {
    for (name, make) in [
        ("fifo", mkfifo as fn(&Path)),
        ("device", |p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
        ("big", too_big),
    ] {
        let dir = tempfile::tempdir().unwrap();
        make(&dir.path().join("prompt-manager.toml"));
        let expected = match name {
            "fifo" => "prompt-manager.toml: it is a FIFO, not a regular file",
            "device" => "prompt-manager.toml: it is a device, not a regular file",
            _ => "prompt-manager.toml: it is larger (16.0 MiB) than 16 MiB",
        };
        // Without a store named elsewhere, the config file is needed: its refusal is the error.
        let mut list = cmd(dir.path(), &["list"]);
        list.env_remove("PROMPT_MANAGER_STORE");
        let output = run(list);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: expected {expected:?} in {stderr}");
    }
}
