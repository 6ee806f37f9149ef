//! `prompt-manager update`: a new version of a prompt. Without `--bump`, the bump the structural
//! diff suggests is shown, then applied.

use clap::Args;
use prompt_manager::versioning::changelog_draft;
use prompt_manager::{Bump, Error, PromptRef, UpdateOptions, VersioningExt};

use super::Context;
use super::create::{ContentArgs, SavedOut, read_prompt_file};
use crate::error::{Outcome, hinted};
use crate::output::Style;

/// A bump on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BumpArg {
    /// 1.2.3 → 2.0.0: callers must change (variables or schema changed).
    Major,
    /// 1.2.3 → 1.3.0: wording, config or metadata changed.
    Minor,
    /// 1.2.3 → 1.2.4: whitespace and other changes that do not alter meaning.
    Patch,
}

impl From<BumpArg> for Bump {
    fn from(bump: BumpArg) -> Self {
        match bump {
            BumpArg::Major => Bump::Major,
            BumpArg::Minor => Bump::Minor,
            BumpArg::Patch => Bump::Patch,
        }
    }
}

/// Arguments of `update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    #[command(flatten)]
    content: ContentArgs,
    /// How to bump the version; without it, the bump the diff suggests.
    #[arg(long, short = 'b', value_enum)]
    bump: Option<BumpArg>,
    /// The changelog message; without it, a draft made from the diff.
    #[arg(long, short = 'm')]
    message: Option<String>,
    /// Show the diff and the version it would make, without saving.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `update`.
pub(crate) async fn run(ctx: &Context, args: UpdateArgs) -> anyhow::Result<Outcome> {
    let content = &args.content;
    let pm = ctx.pm().await?;
    let prompt = match (&content.file, &content.id) {
        (Some(path), _) => content.apply(read_prompt_file(path)?)?,
        (None, Some(id)) if content.has_content_flags() => {
            let latest = pm
                .get(&PromptRef::latest(prompt_manager::PromptId::new(id)?).to_string())
                .await?;
            content.apply(latest.prompt.clone())?
        }
        _ => {
            return Err(hinted(
                anyhow::anyhow!("update needs a prompt file, or --id with what to change"),
                "prompt-manager update prompts/greeting.yaml, or \
                 prompt-manager update --id greeting --template 'Hi {{ name }}!'",
            ));
        }
    };
    let id = prompt.id.clone();
    let (diff, suggestion) = pm.suggest_update(&prompt).await.map_err(|e| match e {
        Error::NotFound(prompt_manager::NotFound::Prompt(_)) => hinted(
            e,
            format!("create it first: `prompt-manager create` (the id is `{id}`)"),
        ),
        other => other.into(),
    })?;
    let previous = diff.old.version.clone();
    let labels = content.label_names()?;
    let bump: Bump = args.bump.map_or(suggestion.bump, Into::into);
    let changelog = args.message.clone().unwrap_or_else(|| changelog_draft(&diff));
    let printer = &ctx.printer;
    if printer.human() && !diff.is_empty() {
        let why = suggestion.reasons.join("; ");
        let line = match args.bump {
            None => format!("Suggested bump: {} ({why})\n", suggestion.bump),
            Some(_) if bump != suggestion.bump => {
                format!("Bump: {bump} as asked (the diff suggests {}: {why})\n", suggestion.bump)
            }
            Some(_) => format!("Bump: {bump} ({why})\n"),
        };
        printer.out(&printer.paint(&line, Style::Info));
    }
    if args.dry_run {
        // Identical content makes no version: the dry run says what the real update would.
        let changed = !diff.is_empty();
        let next = if changed {
            previous.as_ref().and_then(|v| bump.apply(v))
        } else {
            previous.clone()
        };
        let out = SavedOut {
            id: id.to_string(),
            version: next.as_ref().map(ToString::to_string).unwrap_or_default(),
            previous: previous.as_ref().map(ToString::to_string),
            created: false,
            bump: changed.then(|| bump.to_string()),
            suggested: changed.then_some(args.bump.is_none()),
            reasons: if changed {
                suggestion.reasons.clone()
            } else {
                Vec::new()
            },
            changelog,
            status: None,
            labels: labels.iter().map(ToString::to_string).collect(),
            content_hash: prompt.content_hash().to_string(),
        };
        printer.emit(&out, || {
            if diff.is_empty() {
                return format!(
                    "No changes: {id} stays at {}\n",
                    out.previous.clone().unwrap_or_default()
                );
            }
            format!("{diff}Would save {id} {} (dry run: nothing was written)\n", out.version)
        });
        return Ok(Outcome::Success);
    }
    let options = UpdateOptions {
        expected: previous.clone(),
        labels,
        ..UpdateOptions::new(bump, changelog)
    };
    let outcome = pm.update_with(prompt, options).await?;
    let version = &outcome.version;
    let out = SavedOut {
        id: id.to_string(),
        version: version.version.to_string(),
        previous: previous.as_ref().map(ToString::to_string),
        created: outcome.created,
        bump: outcome.created.then(|| bump.to_string()),
        suggested: outcome.created.then_some(args.bump.is_none()),
        reasons: if outcome.created {
            suggestion.reasons.clone()
        } else {
            Vec::new()
        },
        changelog: version.changelog.clone(),
        status: None,
        labels: outcome.labels.iter().map(|e| e.label.to_string()).collect(),
        content_hash: version.content_hash.to_string(),
    };
    printer.emit(&out, || {
        let mut text = if outcome.created {
            format!(
                "Updated {id} {} → {} ({bump})\n",
                out.previous.clone().unwrap_or_default(),
                version.version
            )
        } else {
            format!("No changes: {id} stays at {}\n", version.version)
        };
        for label in &out.labels {
            text.push_str(&format!("Label {label} → {}\n", version.version));
        }
        text
    });
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_bump_is_an_argument_under_its_own_name() {
        let mut names: Vec<String> = BumpArg::value_variants()
            .iter()
            .map(|arg| {
                let name = arg.to_possible_value().expect("not hidden").get_name().to_owned();
                assert_eq!(Bump::from(*arg).as_str(), name);
                name
            })
            .collect();
        names.sort();
        let mut expected: Vec<&str> = Bump::ALL.iter().map(Bump::as_str).collect();
        expected.sort();
        assert_eq!(names, expected);
    }
}
