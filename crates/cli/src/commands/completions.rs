//! `prompt-manager completions SHELL`: a completion script on stdout.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Context;
use crate::cli::Cli;
use crate::error::Outcome;

/// Arguments of `completions`.
#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    prompt-manager completions bash > ~/.local/share/bash-completion/completions/prompt-manager\n  \
    prompt-manager completions zsh > \"${fpath[1]}/_prompt-manager\"\n  \
    prompt-manager completions fish > ~/.config/fish/completions/prompt-manager.fish")]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script.
pub(crate) fn run(ctx: &Context, args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "prompt-manager", &mut script);
    ctx.printer.out(&String::from_utf8_lossy(&script));
    Ok(Outcome::Success)
}
