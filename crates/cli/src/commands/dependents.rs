//! `prompt-manager dependents ID[@REF]`: impact analysis — every stored prompt version that
//! includes a prompt, how it names it (label, range, exact, latest), what it resolves to now,
//! and which labels of the including prompt point at that version.

use clap::Args;
use prompt_manager::Dependent;

use super::Context;
use crate::error::Outcome;

/// Arguments of `dependents`.
#[derive(Debug, Args)]
pub(crate) struct DependentsArgs {
    /// The prompt (`shared/tone`), or a reference (`shared/tone@production`) for only the
    /// includes that resolve to the version it names now.
    reference: String,
}

/// Runs `dependents`.
pub(crate) async fn run(ctx: &Context, args: DependentsArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let found = pm.dependents(&args.reference).await?;
    ctx.printer.emit(&found, || human(ctx, &args.reference, &found));
    Ok(Outcome::Success)
}

fn human(ctx: &Context, reference: &str, found: &[Dependent]) -> String {
    if found.is_empty() {
        return format!("no stored prompt includes `{reference}`\n");
    }
    let rows = found
        .iter()
        .map(|d| {
            let mut labels: Vec<String> = d.labels.iter().map(ToString::to_string).collect();
            if d.latest {
                labels.push("latest".to_owned());
            }
            vec![
                format!("{}@{}", d.prompt, d.version),
                d.reference.clone(),
                d.kind.as_str().to_owned(),
                d.resolves_to
                    .as_ref()
                    .map_or_else(|| "(nothing)".to_owned(), ToString::to_string),
                if labels.is_empty() {
                    "-".to_owned()
                } else {
                    labels.join(", ")
                },
            ]
        })
        .collect();
    ctx.printer
        .table_keeping(&["INCLUDED BY", "AS", "HOW", "RESOLVES TO", "SERVED AS"], rows, 4)
}
