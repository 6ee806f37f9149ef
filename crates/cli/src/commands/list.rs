//! `prompt-manager list`: the prompts of the store, filtered by tag, status, id prefix, label or
//! a search text.

use clap::Args;
use prompt_manager::{LabelName, ListQuery, PromptStatus};

use super::{Context, labels_text, list_all};
use crate::error::Outcome;

/// A lifecycle status on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StatusArg {
    /// Being written.
    Draft,
    /// In use.
    Active,
    /// Still renders, with a warning.
    Deprecated,
    /// Refuses to render.
    Archived,
}

impl From<StatusArg> for PromptStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::Draft => PromptStatus::Draft,
            StatusArg::Active => PromptStatus::Active,
            StatusArg::Deprecated => PromptStatus::Deprecated,
            StatusArg::Archived => PromptStatus::Archived,
        }
    }
}

/// The filters of `list` and `export`.
#[derive(Debug, Args)]
pub(crate) struct Filters {
    /// Only prompts with this tag (repeat for several: all must match).
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    tags: Vec<String>,
    /// Only prompts with this status.
    #[arg(long, short = 's', value_enum)]
    status: Option<StatusArg>,
    /// Only ids starting with this (`support/`).
    #[arg(long, short = 'p', value_name = "PREFIX")]
    prefix: Option<String>,
    /// Only prompts whose id, description or a tag contains this text (ASCII case ignored; `%`
    /// and `_` are literal).
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
    /// Only prompts on which this label is set.
    #[arg(long, short = 'l', value_name = "NAME")]
    label: Option<LabelName>,
}

impl Filters {
    /// The label filter, if any.
    pub(crate) fn label(&self) -> Option<&LabelName> {
        self.label.as_ref()
    }

    /// The store query of these filters (every page).
    pub(crate) fn query(self) -> ListQuery {
        ListQuery {
            tags: self.tags,
            status: self.status.map(Into::into),
            id_prefix: self.prefix,
            search: self.search,
            label: self.label,
            ..ListQuery::default()
        }
    }
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    filters: Filters,
}

/// Runs `list`.
pub(crate) async fn run(ctx: &Context, args: ListArgs) -> anyhow::Result<Outcome> {
    let pm = ctx.pm().await?;
    let items = list_all(pm, args.filters.query()).await?;
    ctx.printer.emit(&items, || {
        if items.is_empty() {
            return "No prompts match.\n".to_owned();
        }
        let rows = items
            .iter()
            .map(|s| {
                vec![
                    s.id.to_string(),
                    s.latest_version.to_string(),
                    s.status.to_string(),
                    s.format.to_string(),
                    labels_text(&s.labels),
                    s.tags.iter().cloned().collect::<Vec<_>>().join(", "),
                    s.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        ctx.printer.table_keeping(
            &["ID", "LATEST", "STATUS", "FORMAT", "LABELS", "TAGS", "DESCRIPTION"],
            rows,
            4,
        )
    });
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_status_is_an_argument_under_its_own_name() {
        let names: Vec<String> = StatusArg::value_variants()
            .iter()
            .map(|arg| {
                let name = arg.to_possible_value().expect("not hidden").get_name().to_owned();
                assert_eq!(PromptStatus::from(*arg).as_str(), name);
                name
            })
            .collect();
        assert_eq!(
            names,
            PromptStatus::ALL.iter().map(PromptStatus::as_str).collect::<Vec<_>>()
        );
    }
}
