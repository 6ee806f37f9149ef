//! `prompt-manager`, the command line of prompt-manager: create, version, label, render, lint,
//! import and export prompts in any store, from a terminal or from CI.
//!
//! This file only starts the program; the commands live in `commands/`, their clap types in
//! `cli.rs`, output formatting in `output.rs` and exit codes in `error.rs`.

mod cli;
mod commands;
mod config;
mod error;
mod output;

use std::process::ExitCode;

fn main() -> ExitCode {
    error::main()
}
