//! The clap types of the command line: global flags ([`Cli`]) and the commands ([`Command`]).
//! Each command's own arguments live beside its code in `commands/<name>.rs`.

use std::sync::LazyLock;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::output::OutputFormat;

/// What `--help` says about exit codes and the store.
const AFTER_HELP: &str = "\
Store: --store URL, else $PROMPT_MANAGER_STORE, else `store` in the nearest prompt-manager.toml
(searched from the current folder upward), else sqlite://./prompt-manager.db.
URLs: dir://./prompts, sqlite://./prompt-manager.db, postgres://user@host/db, memory://

Exit codes:
  0  success
  1  a check failed: lint found errors, a render failed (missing variables, template error),
     a stored version no longer matches its content hash (see `verify`)
  2  usage or I/O error: bad arguments, unknown prompt, store cannot be opened, unreadable file";

/// What `--version` prints after the name: the version and the stores this build can open
/// (features unify across a workspace, so tests ask the binary rather than their own `cfg`).
pub(crate) static LONG_VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}\nstores: {}",
        env!("CARGO_PKG_VERSION"),
        prompt_manager::STORE_SCHEMES.join(", ")
    )
});

/// Versioned, labelled prompt templates: create, version, label, render, lint, import and export.
#[derive(Debug, Parser)]
#[command(name = "prompt-manager", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub(crate) struct Cli {
    /// The store URL (dir://PATH, sqlite://PATH, postgres://…, s3://BUCKET/PREFIX, http(s)://SERVER, memory://).
    #[arg(
        long,
        global = true,
        env = "PROMPT_MANAGER_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) store: Option<String>,

    /// How to print results: human-readable tables, or JSON / YAML for scripts.
    #[arg(long, short = 'o', global = true, value_enum, value_name = "FORMAT")]
    pub(crate) output: Option<OutputFormat>,

    /// Print only results and errors: no hints, no progress bars.
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,

    /// Say more: which store and config file are used (`-v` is `render`'s variables).
    #[arg(long, global = true, conflicts_with = "quiet")]
    pub(crate) verbose: bool,

    /// The command.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands. Dispatch is one `match` in `commands::run`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create prompt-manager.toml and an example prompt in the current folder.
    Init(commands::init::InitArgs),
    /// Create a prompt (version 1.0.0) from a YAML or JSON file, or from flags.
    #[command(visible_alias = "add")]
    Create(commands::create::CreateArgs),
    /// Save a new version of a prompt; without --bump, the bump its diff suggests.
    Update(commands::update::UpdateArgs),
    /// Show one version of a prompt: `id`, `id@1.2.0`, `id@^1`, `id@production`.
    Show(commands::show::ShowArgs),
    /// List prompts, filtered by tag, status or id prefix.
    #[command(visible_alias = "ls")]
    List(commands::list::ListArgs),
    /// The versions of a prompt, newest first.
    History(commands::history::HistoryArgs),
    /// The structural diff between two references (per message for chat prompts).
    Diff(commands::diff::DiffArgs),
    /// Set labels and see where they moved.
    #[command(subcommand)]
    Label(commands::label::LabelCommand),
    /// Move a label back to where it pointed before.
    Rollback(commands::rollback::RollbackArgs),
    /// Archive a prompt: it stays stored but refuses to render.
    Archive(commands::status::ArchiveArgs),
    /// Show a prompt's lifecycle status, or set it (draft, active, deprecated, archived).
    Status(commands::status::StatusArgs),
    /// Render a prompt with variables, as text, messages or a framework's request body.
    Render(commands::render::RenderArgs),
    /// Estimate what one render costs: input tokens (exact for OpenAI models, else estimated),
    /// input cost, and with --output-tokens the output and total cost.
    Cost(commands::cost::CostArgs),
    /// Check a folder of prompt files like a compiler: YAML, templates, variables, includes, ids.
    Lint(commands::lint::LintArgs),
    /// Check a whole store: every version still matches its content hash, every label its version.
    Verify(commands::verify::VerifyArgs),
    /// Import a YAML library file or a prompt folder into the store (all or nothing).
    Import(commands::import::ImportArgs),
    /// Export the store's prompts to a YAML library file or a prompt folder.
    Export(commands::export::ExportArgs),
    /// Sync a prompt folder kept in git with the store: `plan` shows both directions and drift,
    /// `apply` pushes (or pulls) all or nothing.
    #[command(subcommand)]
    Sync(commands::sync::SyncCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(commands::completions::CompletionsArgs),
    /// Serve the REST API on the store; prints the URL and a `curl` line to try.
    Serve(commands::serve::ServeArgs),
    /// Create, list and revoke the API keys of `serve`.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Subscribe URLs to changes (signed JSON events `serve` delivers with retries), see the
    /// delivery log, redeliver.
    #[command(subcommand)]
    Webhooks(commands::webhooks::WebhooksCommand),
    /// The audit log of every change (all prompts, or one); `audit verify` checks its hash chain.
    Audit(commands::audit::AuditArgs),
    /// Which prompt versions include a prompt, and how (label, range, exact, latest).
    Dependents(commands::dependents::DependentsArgs),
    /// Usage analytics of a prompt: renders, errors, latency, tokens, cost and feedback, per
    /// version, label or variant.
    Stats(commands::stats::StatsArgs),
    /// Report what the model call of a render used (output tokens, latency, cost), by its render id.
    Usage(commands::usage::UsageArgs),
    /// Report how a render's answer was judged (success or failure, a score), by its render id.
    Feedback(commands::usage::FeedbackArgs),
    /// Bundles: hash-checked files of chosen prompts at chosen labels that an application on an
    /// `http://` store ships as its last-resort fallback.
    #[cfg(feature = "remote")]
    #[command(subcommand)]
    Bundle(commands::bundle::BundleCommand),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_is_consistent() {
        // Catches clashing flags (clap checks them only when a command is used).
        Cli::command().debug_assert();
    }
}
