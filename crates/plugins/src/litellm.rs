//! The `litellm` plugin: an OpenAI-compatible Chat Completions body with LiteLLM's
//! `provider/model` naming — what `litellm.completion(**payload)` and the LiteLLM proxy's
//! `/chat/completions` take.
//!
//! Messages, `temperature`, `top_p`, `stop`, `tools` and `response_format` map as in the `openai`
//! plugin (LiteLLM translates them for each provider). `max_tokens` stays `max_tokens`, the field
//! LiteLLM maps for every provider. `extra` forwards the Chat Completions fields plus LiteLLM's own
//! `top_k`, `drop_params`, `num_retries`, `fallbacks` and `timeout`; `extra.litellm` (an object) is
//! merged over the body last.
//!
//! The model must name its provider. A model with a `/` (`anthropic/claude-sonnet-4-5`) is used as
//! it is; a bare name (`gpt-4o`) gets the configured `default_provider` (`openai/gpt-4o`), and
//! without one it is refused with an error saying both ways to fix it — guessing a provider from a
//! model name would route requests to the wrong place silently.
//!
//! Configuration (`initialize`): `{"default_model": "…", "default_provider": "openai"}`, both optional.

use async_trait::async_trait;
use prompt_manager_core::{Plugin, RenderedPrompt, Result};
use serde::Deserialize;

use crate::common::{self, ConfigCell, Ctx};
use crate::openai_wire::{self, BodySpec};

const NAME: &str = "litellm";

/// The LiteLLM request fields forwarded from `model_config.extra`, besides the Chat Completions ones.
const LITELLM_FIELDS: &[&str] = &["top_k", "drop_params", "num_retries", "fallbacks", "timeout"];

/// The configuration of the [`LiteLlmPlugin`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LiteLlmConfig {
    /// The model used when a prompt names none (bare or `provider/model`).
    pub default_model: Option<String>,
    /// The provider put before a bare model name (`openai`, `anthropic`, `azure`, …).
    pub default_provider: Option<String>,
}

/// Renders prompts as LiteLLM `completion` request bodies.
#[derive(Debug, Default)]
pub struct LiteLlmPlugin {
    config: ConfigCell<LiteLlmConfig>,
    extra_fields: Vec<&'static str>,
}

impl LiteLlmPlugin {
    /// A plugin with the default configuration (until `initialize` sets one).
    pub fn new() -> Self {
        LiteLlmPlugin {
            config: ConfigCell::default(),
            extra_fields: openai_wire::EXTRA_FIELDS
                .iter()
                .chain(LITELLM_FIELDS)
                .copied()
                .collect(),
        }
    }

    /// A plugin with a configuration.
    pub fn with_config(config: LiteLlmConfig) -> Result<Self> {
        validate(&config)?;
        let plugin = Self::new();
        plugin.config.set(config);
        Ok(plugin)
    }
}

fn validate(config: &LiteLlmConfig) -> Result<()> {
    common::check_non_empty(NAME, "default_model", config.default_model.as_deref())?;
    common::check_non_empty(NAME, "default_provider", config.default_provider.as_deref())?;
    if let Some(p) = &config.default_provider
        && p.contains('/')
    {
        return Err(common::config_error(
            NAME,
            format_args!("`default_provider` is a provider name such as `openai`, without `/`; got `{p}`"),
        ));
    }
    Ok(())
}

fn model(ctx: Ctx<'_>, prompt: &RenderedPrompt, config: &LiteLlmConfig) -> Result<String> {
    let Some(model) = prompt.model_config.model.as_deref().or(config.default_model.as_deref()) else {
        return Err(ctx.error(
            "no model: set model_config.model on the prompt (as `provider/model`, e.g. `openai/gpt-4o`), or \
             initialize the litellm plugin with {\"default_model\": \"provider/model\"}",
        ));
    };
    match model.split_once('/') {
        Some((provider, name)) if !provider.is_empty() && !name.is_empty() => Ok(model.to_owned()),
        Some(_) => Err(ctx.error(format_args!(
            "model `{model}` is not `provider/model`: both parts must be non-empty"
        ))),
        None => match &config.default_provider {
            Some(provider) => Ok(format!("{provider}/{model}")),
            None => Err(ctx.error(format_args!(
                "model `{model}` names no provider; LiteLLM routes by `provider/model` (e.g. `openai/{model}`): \
                 write the model that way, or initialize the litellm plugin with {{\"default_provider\": \"openai\"}}"
            ))),
        },
    }
}

#[async_trait]
impl Plugin for LiteLlmPlugin {
    fn name(&self) -> &str {
        NAME
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    async fn initialize(&self, config: &serde_json::Value) -> Result<()> {
        self.config.initialize(NAME, config, validate)
    }

    fn validate_compatibility(&self, prompt: &RenderedPrompt) -> Result<()> {
        let ctx = Ctx::new(NAME, prompt);
        openai_wire::check_messages(ctx, &common::messages(prompt))?;
        common::response_format(ctx, &prompt.model_config)?;
        model(ctx, prompt, &self.config.get()).map(drop)
    }

    fn render_for_framework(&self, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        let ctx = Ctx::new(NAME, prompt);
        let spec = BodySpec {
            model: model(ctx, prompt, &self.config.get())?,
            system_role: "system",
            max_tokens_field: "max_tokens",
            extra_fields: &self.extra_fields,
        };
        openai_wire::body(ctx, prompt, &spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::{chat, text};
    use prompt_manager_core::Role;
    use serde_json::json;

    fn render(plugin: &LiteLlmPlugin, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        plugin.validate_compatibility(prompt)?;
        plugin.render_for_framework(prompt)
    }

    #[test]
    fn provider_model_names_are_kept_or_completed() {
        let mut p = chat(&[(Role::System, "Be brief."), (Role::User, "Hi")]);
        p.model_config.model = Some("anthropic/claude-sonnet-4-5".into());
        p.model_config.max_tokens = Some(100);
        p.model_config.extra.insert("top_k".into(), json!(3));
        p.model_config.extra.insert("num_retries".into(), json!(2));
        p.model_config.extra.insert("unknown_knob".into(), json!(true));
        let body = render(&LiteLlmPlugin::new(), &p).expect("renders");
        assert_eq!(
            body,
            json!({
                "model": "anthropic/claude-sonnet-4-5",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"}
                ],
                "max_tokens": 100,
                "top_k": 3,
                "num_retries": 2
            })
        );

        let plugin = LiteLlmPlugin::with_config(LiteLlmConfig {
            default_model: None,
            default_provider: Some("openai".into()),
        })
        .expect("valid");
        let mut p = text("Hi");
        p.model_config.model = Some("gpt-4o".into());
        assert_eq!(render(&plugin, &p).expect("renders")["model"], "openai/gpt-4o");
    }

    #[tokio::test]
    async fn bare_models_without_a_provider_are_refused() {
        let mut p = text("Hi");
        p.model_config.model = Some("gpt-4o".into());
        let err = render(&LiteLlmPlugin::new(), &p).expect_err("bare").to_string();
        assert!(err.contains("plugin `litellm`"), "{err}");
        assert!(err.contains("`openai/gpt-4o`"), "{err}");
        assert!(err.contains("default_provider"), "{err}");

        p.model_config.model = Some("/gpt-4o".into());
        assert!(render(&LiteLlmPlugin::new(), &p).is_err());

        let plugin = LiteLlmPlugin::new();
        let err = plugin
            .initialize(&json!({"default_provider": "openai/gpt-4o"}))
            .await
            .expect_err("slash")
            .to_string();
        assert!(err.contains("without `/`"), "{err}");
        plugin
            .initialize(&json!({"default_model": "groq/llama-3.1-8b-instant"}))
            .await
            .expect("valid");
        p.model_config.model = None;
        assert_eq!(
            render(&plugin, &p).expect("renders")["model"],
            "groq/llama-3.1-8b-instant"
        );
    }
}
