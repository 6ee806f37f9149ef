//! `prompt-manager init`: a config file and an example prompt, and what to do next.

use std::path::Path;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use super::{Context, StoreSource};
use crate::config::{CONFIG_FILE, DEFAULT_STORE, initial_text};
use crate::error::{Outcome, hinted};

/// The example prompt `init` writes.
const EXAMPLE: &str = "\
# An example prompt. Check it with `prompt-manager lint`, add it to the store with
# `prompt-manager create prompts/greeting.yaml`.
id: greeting
template: |
  Hello {{ name }}! Welcome to {{ product }}.
metadata:
  description: Greets a new user
  tags: [example]
model_config:
  model: gpt-4o-mini
  max_tokens: 256
input_schema:
  - name: name
    type: string
    description: The user's name
  - name: product
    type: string
    default: prompt-manager
";

/// Arguments of `init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Replace an existing prompt-manager.toml.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Serialize)]
struct InitOut {
    config: String,
    store: String,
    example: Option<String>,
    next: Vec<String>,
}

/// Runs `init` in the current folder.
pub(crate) async fn run(ctx: &Context, args: InitArgs) -> anyhow::Result<Outcome> {
    let config_path = Path::new(CONFIG_FILE);
    if config_path.exists() && !args.force {
        return Err(hinted(
            anyhow::anyhow!("{CONFIG_FILE} already exists in this folder"),
            "keep it, or replace it with `prompt-manager init --force`",
        ));
    }
    let store = match ctx.store_source {
        StoreSource::Flag => ctx.store_url.clone(),
        _ => DEFAULT_STORE.to_owned(),
    };
    if prompt_manager::redact_url(&store) != store {
        return Err(hinted(
            anyhow::anyhow!(
                "the store URL holds a password, and {CONFIG_FILE} is meant to be committed; nothing was written"
            ),
            "run init with the URL without its password (--store postgres://user@host/db) and keep \
             the full URL in $PROMPT_MANAGER_STORE, which overrides the file",
        ));
    }
    std::fs::write(config_path, initial_text(&store)).with_context(|| format!("cannot write {CONFIG_FILE}"))?;
    let example_path = Path::new("prompts").join("greeting.yaml");
    let example = if example_path.exists() {
        None
    } else {
        std::fs::create_dir_all("prompts").context("cannot create the folder prompts/")?;
        std::fs::write(&example_path, EXAMPLE).with_context(|| format!("cannot write {}", example_path.display()))?;
        Some(example_path.display().to_string())
    };
    let next = vec![
        "prompt-manager lint".to_owned(),
        "prompt-manager create prompts/greeting.yaml".to_owned(),
        "prompt-manager render greeting -v name=Ada".to_owned(),
        "prompt-manager label set greeting production 1.0.0".to_owned(),
    ];
    // The file keeps the URL as given; what is printed never shows its password.
    let shown_store = prompt_manager::redact_url(&store);
    let out = InitOut {
        config: CONFIG_FILE.to_owned(),
        store: shown_store.clone(),
        example: example.clone(),
        next: next.clone(),
    };
    ctx.printer.emit(&out, || {
        let mut text = format!("Created {CONFIG_FILE} (store: {shown_store})\n");
        match &example {
            Some(path) => text.push_str(&format!("Created {path} (an example prompt)\n")),
            None => text.push_str(&format!("Kept {} (it exists)\n", example_path.display())),
        }
        let why = [
            "check the prompt files",
            "add the example to the store",
            "render it",
            "promote it to production",
        ];
        text.push_str("\nNext:\n");
        for (command, why) in next.iter().zip(why) {
            text.push_str(&format!("  {command:<52} {why}\n"));
        }
        text
    });
    Ok(Outcome::Success)
}
