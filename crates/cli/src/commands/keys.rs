//! `prompt-manager keys create|list|revoke`: the API keys of `prompt-manager serve`.
//!
//! Keys live hashed in a JSON file (default `prompt-manager-keys.json` beside
//! prompt-manager.toml, or in the current folder); a running server sees changes within a
//! second, so a revoked key stops working without a restart.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use prompt_manager::{AuditAction, AuditRecord};
use prompt_manager_server::keys::{self, KeyInfo, Scope};
use serde::Serialize;

use super::{Context, when};
use crate::error::Outcome;

/// The keys file's default name.
pub(crate) const KEYS_FILE: &str = "prompt-manager-keys.json";

/// The keys file: `flag`, else beside the config file, else in the current folder.
pub(crate) fn keys_path(ctx: &Context, flag: Option<PathBuf>) -> PathBuf {
    if let Some(path) = flag {
        return path;
    }
    if let Some(config) = &ctx.config {
        if let Some(path) = config.config.server.get("keys_file").and_then(|v| v.as_str()) {
            return super::from_config_dir(ctx, path);
        }
        return config.dir().join(KEYS_FILE);
    }
    PathBuf::from(KEYS_FILE)
}

/// The file flag shared by the subcommands.
#[derive(Debug, Args)]
pub(crate) struct KeysFile {
    /// The API keys file (default prompt-manager-keys.json beside prompt-manager.toml).
    #[arg(long, value_name = "PATH", env = "PROMPT_MANAGER_KEYS_FILE")]
    keys_file: Option<PathBuf>,
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key and print it (once: only its hash is stored).
    Create {
        /// A name for people (`ci`, `alice-laptop`), unique.
        name: String,
        /// What it may do: read (get, list, render), write (also create, update, move labels), admin (also protected labels).
        #[arg(long, value_parser = ["read", "write", "admin"], default_value = "read")]
        scope: String,
        #[command(flatten)]
        file: KeysFile,
    },
    /// List the keys (ids, names, scopes; never secrets).
    #[command(visible_alias = "ls")]
    List {
        #[command(flatten)]
        file: KeysFile,
    },
    /// Revoke a key by id or name; a running server refuses it within a second.
    Revoke {
        /// The key's id or name.
        key: String,
        #[command(flatten)]
        file: KeysFile,
    },
}

#[derive(Debug, Serialize)]
struct CreatedOut<'a> {
    #[serde(flatten)]
    info: &'a KeyInfo,
    key: &'a str,
    file: String,
}

/// Runs a `keys` subcommand.
pub(crate) async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<Outcome> {
    match command {
        KeysCommand::Create { name, scope, file } => {
            let path = keys_path(ctx, file.keys_file);
            let scope: Scope = scope.parse()?;
            let created = keys::create(&path, &name, scope)?;
            record_key_change(ctx, AuditAction::KeyCreated, &created.info, &path).await;
            let out = CreatedOut {
                info: &created.info,
                key: &created.token,
                file: path.display().to_string(),
            };
            ctx.printer.emit(&out, || {
                format!(
                    "Created key `{}` (id {}, scope {}) in {}.\nIt is shown only now; keep it secret:\n\n  {}\n\nSend it as `Authorization: Bearer <key>`.\n",
                    created.info.name,
                    created.info.id,
                    created.info.scope,
                    path.display(),
                    created.token
                )
            });
        }
        KeysCommand::List { file } => {
            let path = keys_path(ctx, file.keys_file);
            let list = keys::list(&path)?;
            ctx.printer.emit(&list, || {
                if list.is_empty() {
                    return format!(
                        "No API keys in {}: `prompt-manager serve --keys-file` with it refuses every request until a key is created \
                         (`prompt-manager keys create NAME`); without a keys file, serve runs on loopback only, open to every local user.\n",
                        path.display()
                    );
                }
                let rows = list
                    .iter()
                    .map(|k| vec![k.id.clone(), k.name.clone(), k.scope.to_string(), when(&k.created_at)])
                    .collect();
                ctx.printer.table(&["ID", "NAME", "SCOPE", "CREATED"], rows)
            });
        }
        KeysCommand::Revoke { key, file } => {
            let path = keys_path(ctx, file.keys_file);
            let revoked = keys::revoke(&path, &key)?;
            record_key_change(ctx, AuditAction::KeyRevoked, &revoked, &path).await;
            ctx.printer.emit(&revoked, || {
                format!(
                    "Revoked key `{}` (id {}, scope {}); a running server refuses it within a second.\n",
                    revoked.name, revoked.id, revoked.scope
                )
            });
        }
    }
    Ok(Outcome::Success)
}

/// Records a key created or revoked in the store's audit log: its id, name and scope (never the
/// secret), and the keys file. The keys file is not the store, so the two cannot share a
/// transaction: the key change stands, and when the store cannot be written a warning says the
/// change is not in the log.
async fn record_key_change(ctx: &Context, action: AuditAction, key: &KeyInfo, file: &std::path::Path) {
    let state = serde_json::json!({
        "id": key.id,
        "name": key.name,
        "scope": key.scope.as_str(),
        "keys_file": file.display().to_string(),
    });
    let mut record = AuditRecord::new(action, None);
    match action {
        AuditAction::KeyRevoked => record.before = Some(state),
        _ => record.after = Some(state),
    }
    let appended = match ctx.pm().await {
        Ok(pm) => pm.append_audit(record).await.map_err(anyhow::Error::new),
        Err(e) => Err(e),
    };
    if let Err(e) = appended {
        ctx.printer.note(&format!(
            "warning: the key change is done, but it could not be recorded in the store's audit log: {e:#}"
        ));
    }
}
