//! `prompt-manager render REF`: a prompt rendered with variables, as text, as chat messages, or
//! as the request body of a framework (`--as openai|anthropic|gemini|langchain|litellm`).
//!
//! Variables come from `--vars FILE` (JSON or YAML; `-` reads stdin), then `-v key=value`
//! (a string) and `-v key:=json` (any JSON value), later ones winning.

use std::path::{Path, PathBuf};

use clap::Args;
use prompt_manager::{ChatMessage, Error, RenderOutput, VariableProblem, Variables};
use serde_json::{Map, Value};

use super::{Context, read_input};
use crate::error::{Outcome, hinted};
use crate::output::{OutputFormat, Style};

/// What to render into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    /// The text (text prompts).
    Text,
    /// Chat messages (a text prompt becomes one user message).
    Messages,
    /// An OpenAI chat-completions request body.
    Openai,
    /// An Anthropic messages request body.
    Anthropic,
    /// A Gemini generateContent request body.
    Gemini,
    /// LangChain messages.
    Langchain,
    /// A LiteLLM completion request.
    Litellm,
}

impl Target {
    fn plugin(self) -> Option<&'static str> {
        match self {
            Target::Text | Target::Messages => None,
            Target::Openai => Some("openai"),
            Target::Anthropic => Some("anthropic"),
            Target::Gemini => Some("gemini"),
            Target::Langchain => Some("langchain"),
            Target::Litellm => Some("litellm"),
        }
    }
}

/// Arguments of `render`.
#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// What to render: `id`, `id@1.2.0`, `id@^1`, `id@production`.
    #[arg(value_name = "REF")]
    reference: String,
    /// The split key of a render by an A/B split label (a user or session id): the same key
    /// always gets the same variant. Without it a split label picks a variant at random. Which
    /// variant served is printed on stderr (and is `variant` in JSON output).
    #[arg(long = "split-key", value_name = "KEY")]
    split_key: Option<String>,
    /// A variable: `key=value` (a string) or `key:=json` (`count:=3`, `tags:=["a","b"]`). Repeatable.
    #[arg(long = "var", short = 'v', value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// Variables from a JSON or YAML file holding an object; `-` reads stdin.
    #[arg(long = "vars", value_name = "FILE")]
    vars_file: Option<PathBuf>,
    /// The output: text, messages, or a framework's request body. Default: text for text
    /// prompts, messages for chat prompts.
    #[arg(long = "as", value_enum, value_name = "TARGET")]
    target: Option<Target>,
}

/// Parses the variables of a render.
fn variables(args: &RenderArgs) -> anyhow::Result<Variables> {
    parse_variables(&args.vars, args.vars_file.as_deref())
}

/// Variables from a file (`--vars`), then `-v key=value` and `-v key:=json` items over them
/// (`render`, `cost` and `diff` take them alike).
pub(crate) fn parse_variables(vars: &[String], vars_file: Option<&Path>) -> anyhow::Result<Variables> {
    let mut map = Map::new();
    if let Some(path) = vars_file {
        map = read_vars_file(path)?;
    }
    for item in vars {
        if let Some((key, json)) = item.split_once(":=")
            && !key.contains('=')
        {
            let value: Value = serde_json::from_str(json).map_err(|e| {
                hinted(
                    anyhow::anyhow!("-v {item}: `{json}` is not JSON: {e}"),
                    "use key=value for a string, key:=JSON for numbers, booleans, lists and objects",
                )
            })?;
            map.insert(key.to_owned(), value);
        } else if let Some((key, value)) = item.split_once('=') {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
        } else {
            return Err(hinted(
                anyhow::anyhow!("-v {item}: expected key=value"),
                "e.g. -v name=Ada, or -v count:=3 for a JSON value",
            ));
        }
    }
    Ok(Variables::from(map))
}

fn read_vars_file(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let text = read_input(path)?;
    let name = if path == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    };
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value: Value = if is_json {
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{name}:{}:{}: {e}", e.line(), e.column()))?
    } else if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| {
            let position = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{name}{position}: {}", e.without_snippet())
        })?
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(anyhow::anyhow!(
            "{name}: variables must be an object (`name: value` pairs), got {}",
            json_type(&other)
        )),
    }
}

/// Runs `render`.
pub(crate) async fn run(ctx: &Context, args: RenderArgs) -> anyhow::Result<Outcome> {
    let vars = variables(&args)?;
    let pm = ctx.pm().await?;
    let printer = &ctx.printer;
    // A deprecated prompt still renders; whoever renders it from a terminal or CI should know.
    if let Ok(reference) = prompt_manager::PromptRef::parse(&args.reference)
        && let Ok(summary) = pm.summary(reference.id.as_str()).await
        && summary.status == prompt_manager::PromptStatus::Deprecated
    {
        printer.note(&format!(
            "{} `{}` is deprecated; move its callers to its replacement",
            printer.paint_err("warning:", Style::Warning),
            reference.id
        ));
    }
    let mut options = prompt_manager::RenderOptions::default();
    options.split_key = args.split_key.as_deref();
    let result = match args.target.and_then(Target::plugin) {
        Some(plugin) => {
            let body = pm
                .render_for_with(plugin, &args.reference, &vars, &options)
                .await
                .map_err(explain)?;
            let format = match printer.format {
                OutputFormat::Table => OutputFormat::Json,
                other => other,
            };
            printer.out(&format!("{}\n", crate::output::serialize(format, &body)));
            Ok(())
        }
        None => {
            let rendered = pm
                .render_prompt_with(&args.reference, &vars, &options)
                .await
                .map_err(explain)?;
            if let Some(variant) = &rendered.variant {
                printer.note(&format!(
                    "{} split {}: variant {} (weight {} of {}, {})",
                    printer.paint_err("served by", Style::Info),
                    variant.label,
                    variant.version,
                    variant.weight,
                    variant.total_weight,
                    if variant.sticky {
                        "sticky for this split key"
                    } else {
                        "random: no --split-key"
                    }
                ));
            }
            // The id to report usage and feedback with (`prompt-manager usage|feedback ID`); in
            // the JSON and YAML output as `render_id`, on stderr for people.
            if let Some(id) = &rendered.render_id
                && printer.human()
            {
                printer.note(&printer.paint_err(&format!("render id: {id}"), Style::Dim));
            }
            if args.target.is_none() && !printer.human() {
                // Scripts get the whole render: id, version, format, output, model config.
                printer.emit(&rendered, String::new);
                return Ok(Outcome::Success);
            }
            let target = args.target.unwrap_or(if rendered.format.is_chat() {
                Target::Messages
            } else {
                Target::Text
            });
            let messages = |output: &RenderOutput| match output {
                RenderOutput::Messages(m) => m.clone(),
                RenderOutput::Text(t) => vec![ChatMessage::new(prompt_manager::Role::User, t.clone())],
            };
            match (target, &rendered.output) {
                (Target::Text, RenderOutput::Messages(_)) => Err(hinted(
                    anyhow::anyhow!(
                        "`{}` is a chat prompt: it renders to messages, not one text",
                        args.reference
                    ),
                    "use --as messages (or --as openai, anthropic, …)",
                )),
                (Target::Messages, output) if printer.human() => {
                    let mut text = String::new();
                    for (i, m) in messages(output).iter().enumerate() {
                        if i > 0 {
                            text.push('\n');
                        }
                        text.push_str(&printer.paint(&super::show::message_header(m), Style::Info));
                        text.push('\n');
                        // An assistant message that only calls tools has no text to print.
                        if !m.content.is_empty() || m.tool_calls.is_empty() {
                            text.push_str(&m.content);
                            if !m.content.ends_with('\n') {
                                text.push('\n');
                            }
                        }
                        for call in super::show::tool_call_lines(m) {
                            text.push_str(&printer.paint(&call, Style::Dim));
                            text.push('\n');
                        }
                    }
                    printer.out(&text);
                    Ok(())
                }
                (Target::Messages, output) => {
                    printer.out(&format!(
                        "{}\n",
                        crate::output::serialize(printer.format, &messages(output))
                    ));
                    Ok(())
                }
                (_, RenderOutput::Text(text)) => {
                    printer.emit(&rendered, || {
                        if text.ends_with('\n') {
                            text.clone()
                        } else {
                            format!("{text}\n")
                        }
                    });
                    Ok(())
                }
                (_, RenderOutput::Messages(_)) => {
                    printer.emit(&rendered, String::new);
                    Ok(())
                }
            }
        }
    };
    result.map(|()| Outcome::Success)
}

/// Adds what to do to render errors.
pub(crate) fn explain(error: Error) -> anyhow::Error {
    match &error {
        Error::InvalidVariables { problems, .. } => {
            let mistyped: Vec<&str> = problems
                .iter()
                .filter(|p| matches!(p, VariableProblem::WrongType { found: "string", .. }))
                .map(VariableProblem::name)
                .collect();
            let hint = match mistyped.first() {
                Some(name) => format!(
                    "-v key=value always gives a string; pass numbers, booleans, lists and objects as JSON: -v {name}:=…"
                ),
                None => "pass them with -v key=value (strings), -v key:=JSON, or --vars file.json".to_owned(),
            };
            hinted(error, hint)
        }
        Error::Archived { id } => {
            let hint = format!("restore it with `prompt-manager status {id} active`");
            hinted(error, hint)
        }
        _ => error.into(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
