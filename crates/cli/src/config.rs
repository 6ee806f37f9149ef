//! `prompt-manager.toml`: the project's store URL and defaults, found from the current folder
//! upward (as git finds `.git`). Other tools of the project (the server's `[server]` table) keep
//! their settings in the same file; tables this module does not know are kept, not refused.
//!
//! ```toml
//! store = "sqlite://./prompt-manager.db"   # relative paths are relative to this file
//!
//! [defaults]
//! output = "table"        # table | json | yaml
//! author = "ada"          # recorded on versions and label moves
//! prompts = "prompts"     # the folder `lint` checks when no path is given
//!
//! [server]                # read by `prompt-manager serve`
//!
//! [prices."my-model"]     # US dollars per million tokens, over the shipped price table
//! input = 0.5
//! output = 1.5
//! cached_input = 0.05     # optional
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prompt_manager::Price;
use serde::{Deserialize, Serialize};

use crate::output::OutputFormat;

/// The config file's name.
pub(crate) const CONFIG_FILE: &str = "prompt-manager.toml";

/// The store used when nothing else names one.
pub(crate) const DEFAULT_STORE: &str = "sqlite://./prompt-manager.db";

/// The content of `prompt-manager.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The store URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) store: Option<String>,
    /// Defaults for the commands.
    #[serde(default)]
    pub(crate) defaults: Defaults,
    /// Settings of `prompt-manager serve` (read by the server command).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub(crate) server: toml::Table,
    /// Prices per model (USD per million tokens), over the shipped price table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) prices: BTreeMap<String, Price>,
    /// Any other table, kept for other tools.
    #[serde(flatten)]
    pub(crate) other: toml::Table,
}

/// The `[defaults]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// The output format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) output: Option<OutputFormat>,
    /// Who is recorded as author of versions and label moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) author: Option<String>,
    /// The folder `lint` checks by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) prompts: Option<String>,
}

/// A config file that was found and read.
#[derive(Debug, Clone)]
pub(crate) struct ConfigFile {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// What it says.
    pub(crate) config: Config,
}

impl ConfigFile {
    /// The folder holding the file: relative paths in it are relative to this folder.
    pub(crate) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }

    /// The store URL with a relative `dir://` or `sqlite://` path made relative to the file.
    pub(crate) fn store_url(&self) -> Option<String> {
        self.config.store.as_deref().map(|url| anchor_url(url, self.dir()))
    }
}

/// Finds `prompt-manager.toml` in `start` or the nearest folder above it and reads it.
pub(crate) fn discover(start: &Path) -> anyhow::Result<Option<ConfigFile>> {
    for dir in start.ancestors() {
        let path = dir.join(CONFIG_FILE);
        // Whatever it is: one that is not a regular file is refused by `read`, not passed over.
        if path.exists() {
            return read(&path).map(Some);
        }
    }
    Ok(None)
}

/// Reads and parses one config file.
pub(crate) fn read(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = crate::commands::read_file(path)?;
    let config: Config = toml::from_str(&text).map_err(|e| {
        let position = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        crate::error::hinted(
            anyhow::anyhow!("{}{position}: {}", path.display(), e.message()),
            format!("fix {CONFIG_FILE}, or name the store with --store URL"),
        )
    })?;
    Ok(ConfigFile {
        path: path.to_path_buf(),
        config,
    })
}

/// `dir://prompts` in a config file in `/repo` means `dir:///repo/prompts`.
fn anchor_url(url: &str, base: &Path) -> String {
    for scheme in ["dir://", "sqlite://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (path, query) = match rest.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (rest, None),
            };
            if path.is_empty() || Path::new(path).is_absolute() || path == ":memory:" {
                return url.to_owned();
            }
            let joined = base.join(path.strip_prefix("./").unwrap_or(path));
            let mut anchored = format!("{scheme}{}", joined.display());
            if let Some(query) = query {
                anchored.push('?');
                anchored.push_str(query);
            }
            return anchored;
        }
    }
    url.to_owned()
}

/// The text `init` writes.
pub(crate) fn initial_text(store: &str) -> String {
    format!(
        "# prompt-manager settings; commands run in this folder or below it use them.\n\
         # The store URL: dir://PATH (YAML files), sqlite://PATH, postgres://user@host/db.\n\
         # Relative paths are relative to this file. --store or $PROMPT_MANAGER_STORE override it.\n\
         store = \"{store}\"\n\
         \n\
         [defaults]\n\
         # output = \"table\"   # table | json | yaml\n\
         # author = \"you\"     # recorded on new versions and label moves\n\
         prompts = \"prompts\"  # the folder `prompt-manager lint` checks\n"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn relative_store_paths_follow_the_config_file() {
        let base = Path::new("/repo");
        assert_eq!(anchor_url("dir://prompts", base), "dir:///repo/prompts");
        assert_eq!(
            anchor_url("sqlite://./pm.db?mode=rwc", base),
            "sqlite:///repo/pm.db?mode=rwc"
        );
        assert_eq!(anchor_url("sqlite:///abs/pm.db", base), "sqlite:///abs/pm.db");
        assert_eq!(anchor_url("postgres://u@h/db", base), "postgres://u@h/db");
    }

    #[test]
    fn unknown_tables_are_kept_and_server_is_readable() {
        let config: Config =
            toml::from_str("store = \"memory://\"\n[server]\nbind = \"127.0.0.1:8080\"\n[other]\nx = 1\n").unwrap();
        assert_eq!(config.store.as_deref(), Some("memory://"));
        assert_eq!(config.server["bind"].as_str(), Some("127.0.0.1:8080"));
        assert!(config.other.contains_key("other"));
    }

    #[test]
    fn prices_are_read_and_checked_for_unknown_fields() {
        let config: Config =
            toml::from_str("[prices.\"my-model\"]\ninput = 0.5\noutput = 1.5\n[prices.\"gpt-4o\"]\ninput = 2\noutput = 8\ncached_input = 1\n")
                .unwrap();
        assert_eq!(config.prices["my-model"].output, 1.5);
        assert_eq!(config.prices["gpt-4o"].cached_input, Some(1.0));
        assert!(toml::from_str::<Config>("[prices.m]\ninput = 1\n").is_err());
        assert!(toml::from_str::<Config>("[prices.m]\ninput = 1\noutput = 2\ncache = 3\n").is_err());
    }

    #[test]
    fn the_initial_file_parses() {
        let config: Config = toml::from_str(&initial_text("dir://prompts")).unwrap();
        assert_eq!(config.store.as_deref(), Some("dir://prompts"));
        assert_eq!(config.defaults.prompts.as_deref(), Some("prompts"));
    }

    #[test]
    fn errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "store = \"x\"\n[defaults]\noutput = \"xml\"\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains(":3:10"), "{err}");
    }
}
