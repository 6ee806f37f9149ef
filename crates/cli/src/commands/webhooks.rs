//! `prompt-manager webhooks add|list|remove|deliveries|redeliver`: subscriptions that receive
//! each change as a signed JSON event, on the webhooks file a running `serve` delivers from
//! (docs/server.md, "Webhooks").

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use prompt_manager_server::webhooks::{self, EventType};
use serde::Serialize;

use super::Context;
use crate::error::Outcome;

/// The webhooks file's default name.
pub(crate) const WEBHOOKS_FILE: &str = "prompt-manager-webhooks.json";

/// The webhooks file: `flag`, else `[server] webhooks_file`, else beside the config file, else
/// in the current folder.
pub(crate) fn webhooks_path(ctx: &Context, flag: Option<PathBuf>) -> PathBuf {
    if let Some(path) = flag {
        return path;
    }
    if let Some(config) = &ctx.config {
        if let Some(path) = config.config.server.get("webhooks_file").and_then(|v| v.as_str()) {
            return super::from_config_dir(ctx, path);
        }
        return config.dir().join(WEBHOOKS_FILE);
    }
    PathBuf::from(WEBHOOKS_FILE)
}

/// The file flag shared by the subcommands.
#[derive(Debug, Args)]
pub(crate) struct WebhooksFile {
    /// The webhooks file (default prompt-manager-webhooks.json beside prompt-manager.toml).
    #[arg(long, value_name = "PATH", env = "PROMPT_MANAGER_WEBHOOKS_FILE")]
    webhooks_file: Option<PathBuf>,
}

/// `webhooks` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// Subscribe a URL to events; prints the signing secret (once). Only later changes are sent.
    Add {
        /// Where events are POSTed (`https://…`).
        url: String,
        /// The events, comma-separated: version.created, label.moved, label.removed,
        /// label.protection_changed, prompt.status_changed, prompt.deleted (default: all).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Allow a private-network address (a receiver inside your network); the server must
        /// allow them too (`serve --webhooks-allow-private`).
        #[arg(long)]
        allow_private: bool,
        #[command(flatten)]
        file: WebhooksFile,
    },
    /// List the subscriptions and their deliveries by status (never secrets).
    #[command(visible_alias = "ls")]
    List {
        #[command(flatten)]
        file: WebhooksFile,
    },
    /// Remove a subscription and its pending deliveries.
    Remove {
        /// The subscription (`wh_…`).
        id: String,
        #[command(flatten)]
        file: WebhooksFile,
    },
    /// The delivery log, newest first: status, attempts, last answer and error.
    Deliveries {
        /// Only this subscription's.
        id: Option<String>,
        #[command(flatten)]
        file: WebhooksFile,
    },
    /// Send a delivery again, at once, with the same id.
    Redeliver {
        /// The delivery (`wh_…_SEQ`).
        delivery: String,
        #[command(flatten)]
        file: WebhooksFile,
    },
}

#[derive(Serialize)]
struct AddedOut<'a> {
    id: &'a str,
    url: &'a str,
    events: Vec<&'static str>,
    secret: &'a str,
    file: String,
}

/// Runs a `webhooks` subcommand.
pub(crate) async fn run(ctx: &Context, command: WebhooksCommand) -> anyhow::Result<Outcome> {
    match command {
        WebhooksCommand::Add {
            url,
            events,
            allow_private,
            file,
        } => {
            let path = webhooks_path(ctx, file.webhooks_file);
            let events: BTreeSet<EventType> = if events.is_empty() {
                EventType::ALL.into_iter().collect()
            } else {
                events.iter().map(|e| EventType::parse(e)).collect::<Result<_, _>>()?
            };
            webhooks::check_url(&url, allow_private)?;
            let head = webhooks::audit_head(ctx.pm().await?).await?;
            let added = webhooks::add(&path, &url, events, head, allow_private)?;
            let out = AddedOut {
                id: &added.id,
                url: &added.url,
                events: added.events.iter().map(|e| e.name()).collect(),
                secret: &added.secret,
                file: path.display().to_string(),
            };
            ctx.printer.emit(&out, || {
                format!(
                    "Added webhook {} → {}\nevents: {}\nsecret: {}\n(shown once: the receiver checks each event's \
                     webhook-signature with it; see docs/server.md)\n",
                    out.id,
                    out.url,
                    out.events.join(", "),
                    out.secret
                )
            });
        }
        WebhooksCommand::List { file } => {
            let path = webhooks_path(ctx, file.webhooks_file);
            let list = webhooks::list(&path)?;
            ctx.printer.emit(&list, || {
                if list.is_empty() {
                    return format!(
                        "No webhooks in {}: `prompt-manager webhooks add URL` subscribes one\n",
                        path.display()
                    );
                }
                let rows = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.clone(),
                            s.url.clone(),
                            s.events.iter().map(|e| e.name()).collect::<Vec<_>>().join(","),
                            format!("{}/{}/{}", s.pending, s.delivered, s.failed),
                        ]
                    })
                    .collect();
                ctx.printer
                    .table(&["ID", "URL", "EVENTS", "PENDING/DELIVERED/FAILED"], rows)
            });
        }
        WebhooksCommand::Remove { id, file } => {
            let path = webhooks_path(ctx, file.webhooks_file);
            webhooks::remove(&path, &id)?;
            let out = serde_json::json!({ "removed": id });
            ctx.printer.emit(&out, || format!("Removed webhook {id}\n"));
        }
        WebhooksCommand::Deliveries { id, file } => {
            let path = webhooks_path(ctx, file.webhooks_file);
            let list = webhooks::deliveries(&path, id.as_deref())?;
            ctx.printer.emit(&list, || {
                if list.is_empty() {
                    return "No deliveries yet\n".to_owned();
                }
                let rows = list
                    .iter()
                    .map(|d| {
                        vec![
                            d.id.clone(),
                            d.event.name().to_owned(),
                            format!("{:?}", d.status).to_lowercase(),
                            d.attempts.to_string(),
                            d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                            d.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                ctx.printer
                    .table(&["DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "LAST ERROR"], rows)
            });
        }
        WebhooksCommand::Redeliver { delivery, file } => {
            let path = webhooks_path(ctx, file.webhooks_file);
            let d = webhooks::redeliver(&path, &delivery)?;
            ctx.printer.emit(&d, || {
                format!("Queued {} again: a running server sends it within a second\n", d.id)
            });
        }
    }
    Ok(Outcome::Success)
}
