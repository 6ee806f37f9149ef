//! The protocol of the `store-worker` process: the templates it writes (so a test can check every
//! byte of what it reads back) and the `ack <version>` lines it prints after each acknowledged write.

use prompt_manager::semver::Version;

/// The label the crash writer points at every version it saves, in the same write.
pub const CRASH_LABEL: &str = "current";

/// The template of the initial version of the cas writers' prompt, which the test creates.
pub const CAS_INITIAL: &str = "cas-writer initial version";

/// The template of the crash writer's version `version`: about 4 KiB naming the version on every
/// line, so that a torn, stale or misplaced write cannot pass for a whole one.
pub fn crash_template(version: &Version) -> String {
    let mut text = format!("crash-writer version {version}\n");
    for line in 1..=64 {
        text.push_str(&format!(
            "line {line:02} of version {version}: the quick brown fox jumps over the lazy dog\n"
        ));
    }
    text.push_str(&format!("end of version {version}\n"));
    text
}

/// The template of the `n`th update (counting from 1) of the cas writer tagged `tag`.
pub fn cas_template(tag: &str, n: usize) -> String {
    format!("cas-writer {tag} update {n}")
}

/// The tag and number of a [`cas_template`]; `None` for any other text.
pub fn parse_cas_template(text: &str) -> Option<(&str, usize)> {
    let (tag, n) = text.strip_prefix("cas-writer ")?.split_once(" update ")?;
    Some((tag, n.parse().ok()?))
}

/// The line printed after a write is acknowledged.
pub fn ack_line(version: &Version) -> String {
    format!("ack {version}")
}

/// The versions acknowledged in a worker's output, in order. A last line without its newline is
/// not an acknowledgement (the worker died while printing it); any other line is an error.
pub fn parse_acks(stdout: &str) -> Result<Vec<Version>, String> {
    let complete = match stdout.rfind('\n') {
        Some(end) => &stdout[..end],
        None => "",
    };
    complete
        .lines()
        .filter(|line| !line.starts_with("done "))
        .map(|line| {
            let number = line
                .strip_prefix("ack ")
                .ok_or_else(|| format!("unexpected worker output line `{line}`"))?;
            Version::parse(number).map_err(|e| format!("bad version in `{line}`: {e}"))
        })
        .collect()
}

/// Starts the `store-worker` binary at `path` (tests pass `env!("CARGO_BIN_EXE_store-worker")`)
/// with `args`, its stdout and stderr piped. Its errors come without anyhow's backtrace, short
/// enough to print when a test fails.
pub fn start(path: &str, args: &[&str]) -> std::io::Result<std::process::Child> {
    std::process::Command::new(path)
        .args(args)
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn acks_round_trip_and_a_torn_last_line_is_ignored() {
        let v = Version::new(1, 0, 7);
        let out = format!("{}\n{}\nack 1.0.", ack_line(&Version::new(1, 0, 6)), ack_line(&v));
        assert_eq!(parse_acks(&out).unwrap(), vec![Version::new(1, 0, 6), v]);
        assert!(parse_acks("hello\n").is_err());
        assert_eq!(parse_cas_template(&cas_template("B", 17)), Some(("B", 17)));
        assert_eq!(parse_cas_template(CAS_INITIAL), None);
    }
}
