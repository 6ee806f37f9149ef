//! The `litellm` plugin: an OpenAI-compatible Chat Completions body with LiteLLM's
//! `provider/model` naming — what `litellm.completion(**payload)` and the LiteLLM proxy's
//! `/chat/completions` take.
//!
//! Messages, `temperature`, `top_p`, `stop`, `tools` and `response_format` map as in the `openai`
//! plugin (LiteLLM translates them for each provider), except that a user message's `name` is left
//! out (LiteLLM's user message has none) and a `function` message is refused, naming it (LiteLLM's
//! needs a tool call id: write a `tool` message). `max_tokens` stays `max_tokens`, the field
//! LiteLLM maps for every provider. `extra` forwards the Chat Completions fields plus the request
//! options `litellm.completion` declares (`drop_params`, `num_retries`, `fallbacks`, `timeout`);
//! others (`top_k`, which `completion` would pass on unchecked to whatever provider it routes to)
//! are left out, and for a model routed to Anthropic so are the OpenAI fields LiteLLM does not map
//! for it (`seed`, …), which it would refuse. `extra.litellm` (an object) is merged over the body last.
//!
//! ## Routing
//!
//! Models route as LiteLLM routes them ([`provider_of`] says where): `provider/model`
//! (`anthropic/claude-sonnet-4-5`) when LiteLLM knows the provider; a bare name (`gpt-4o`,
//! `claude-sonnet-4-5`) when LiteLLM's own model list names its provider, kept as written. With a
//! configured `default_provider`, a bare name is sent as `default_provider/model` instead (an Azure
//! deployment called `gpt-4o`, say). A model LiteLLM would route nowhere is refused with an error
//! saying how to name its provider, instead of failing inside LiteLLM. The table of names is
//! generated from the LiteLLM version the tests pin (`crates/plugins/tests/sdk/litellm_routes.py`),
//! and checked against `litellm.get_llm_provider` in CI.
//!
//! A model that routes to Anthropic takes no `temperature` or `top_p` (the current Anthropic API
//! has neither): the prompt is refused naming the key, or, configured with
//! `drop_unsupported: true`, the keys are left out — as in the `anthropic` plugin.
//!
//! Configuration (`initialize`): `{"default_model": "…", "default_provider": "openai",
//! "drop_unsupported": false}`, every key optional.

use async_trait::async_trait;
use prompt_manager_core::{Plugin, RenderedPrompt, Result, Role};
use serde::Deserialize;

use crate::common::{self, ConfigCell, Ctx};
use crate::litellm_routes::{ANTHROPIC_PARAMS, BARE_MODELS, PROVIDERS};
use crate::openai_wire::{self, BodySpec};

const NAME: &str = "litellm";

/// The LiteLLM request options forwarded from `model_config.extra`, besides the Chat Completions
/// fields: ones `litellm.completion` declares.
const LITELLM_FIELDS: &[&str] = &["drop_params", "num_retries", "fallbacks", "timeout"];

/// The provider LiteLLM routes `model` to, as `litellm.get_llm_provider` decides it: the prefix of
/// `provider/model` when LiteLLM knows that provider, the provider of a bare name in LiteLLM's
/// model list (and of fine-tuned `ft:gpt-…` names), or `None` where LiteLLM would refuse the model.
///
/// ```
/// use prompt_manager_plugins::litellm::provider_of;
/// assert_eq!(provider_of("gpt-4o"), Some("openai"));
/// assert_eq!(provider_of("claude-sonnet-4-5"), Some("anthropic"));
/// assert_eq!(provider_of("groq/llama-3.1-8b-instant"), Some("groq"));
/// assert_eq!(provider_of("my-model"), None);
/// ```
pub fn provider_of(model: &str) -> Option<&str> {
    if let Some((provider, name)) = model.split_once('/') {
        return (!name.is_empty() && PROVIDERS.binary_search(&provider).is_ok()).then_some(provider);
    }
    if let Ok(i) = BARE_MODELS.binary_search_by(|(name, _)| (*name).cmp(model)) {
        return Some(BARE_MODELS[i].1);
    }
    // LiteLLM's own rules for names its list cannot hold.
    if model.contains("ft:gpt-3.5-turbo") || model.contains("ft:gpt-4") || model.starts_with("gpt-image") {
        return Some("openai");
    }
    routing_rule(model)
}

/// LiteLLM's routing rules for names its list lacks (`litellm_routes::ROUTING_RULES`, regular
/// expressions matched case-insensitively), written out by hand: this crate has no regex engine.
fn routing_rule(model: &str) -> Option<&'static str> {
    let m = model.to_ascii_lowercase();
    // ^(?:[a-z-]+\.)?anthropic\.claude-
    let regional = m.split_once('.').is_some_and(|(region, rest)| {
        !region.is_empty()
            && region.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && rest.starts_with("anthropic.claude-")
    });
    if m.starts_with("anthropic.claude-") || regional {
        return Some("bedrock");
    }
    // ^claude-[a-z]+-\d+(?:[-.]\d+)?(?:-\d{8})?$
    if let Some(rest) = m.strip_prefix("claude-") {
        let family = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        if family > 0
            && let Some(version) = rest[family..].strip_prefix('-')
            && claude_version(version)
        {
            return Some("anthropic");
        }
    }
    // ^jev-(?:latest|preview|1\.13\.0|1\.14\.0)$
    matches!(m.as_str(), "jev-latest" | "jev-preview" | "jev-1.13.0" | "jev-1.14.0").then_some("typesafe")
}

/// `\d+(?:[-.]\d+)?(?:-\d{8})?$`
fn claude_version(s: &str) -> bool {
    fn digits(s: &str) -> (usize, &str) {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (n, &s[n..])
    }
    let is_date = |s: &str| {
        s.strip_prefix('-')
            .is_some_and(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let (major, rest) = digits(s);
    if major == 0 {
        return false;
    }
    if rest.is_empty() || is_date(rest) {
        return true;
    }
    let Some(minor) = rest.strip_prefix(['-', '.']) else {
        return false;
    };
    let (n, rest) = digits(minor);
    n > 0 && (rest.is_empty() || is_date(rest))
}

/// The version of LiteLLM whose routing [`provider_of`] follows.
pub const LITELLM_VERSION: &str = crate::litellm_routes::LITELLM_VERSION;

/// The configuration of the [`LiteLlmPlugin`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LiteLlmConfig {
    /// The model used when a prompt names none (bare or `provider/model`).
    pub default_model: Option<String>,
    /// The provider put before a bare model name (`openai`, `anthropic`, `azure`, …), which then
    /// no longer routes by LiteLLM's model list.
    pub default_provider: Option<String>,
    /// Leave out what the routed provider's API does not take (`temperature` and `top_p` for
    /// Anthropic) instead of refusing the prompt.
    #[serde(default)]
    pub drop_unsupported: bool,
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

/// The model to send and the provider LiteLLM will route it to.
fn model(ctx: Ctx<'_>, prompt: &RenderedPrompt, config: &LiteLlmConfig) -> Result<(String, String)> {
    let Some(model) = prompt.model_config.model.as_deref().or(config.default_model.as_deref()) else {
        return Err(ctx.error(
            "no model: set model_config.model on the prompt (e.g. `gpt-4o` or `anthropic/claude-sonnet-4-5`), or \
             initialize the litellm plugin with {\"default_model\": \"…\"}",
        ));
    };
    if let Some((provider, name)) = model.split_once('/') {
        if provider.is_empty() || name.is_empty() {
            return Err(ctx.error(format_args!(
                "model `{model}` is not `provider/model`: both parts must be non-empty"
            )));
        }
        return match provider_of(model) {
            Some(p) => Ok((model.to_owned(), p.to_owned())),
            None => Err(ctx.error(format_args!(
                "model `{model}`: LiteLLM {LITELLM_VERSION} knows no provider `{provider}` (it would refuse the \
                 request); name one of its providers, e.g. `openai/{name}`"
            ))),
        };
    }
    if let Some(provider) = &config.default_provider {
        return Ok((format!("{provider}/{model}"), provider.clone()));
    }
    match provider_of(model) {
        Some(p) => Ok((model.to_owned(), p.to_owned())),
        None => Err(ctx.error(format_args!(
            "model `{model}` names no provider and LiteLLM {LITELLM_VERSION} routes no bare model of that name; \
             write it as `provider/model` (e.g. `openai/{model}`), or initialize the litellm plugin with \
             {{\"default_provider\": \"openai\"}}"
        ))),
    }
}

/// The `extra` fields forwarded for a model routed to `provider`: LiteLLM refuses OpenAI fields
/// a provider does not support, so for Anthropic only the ones it maps are.
fn forwarded<'a>(fields: &'a [&'static str], provider: &str) -> Vec<&'a str> {
    fields
        .iter()
        .copied()
        .filter(|f| provider != "anthropic" || LITELLM_FIELDS.contains(f) || ANTHROPIC_PARAMS.contains(f))
        .collect()
}

/// Refuses what LiteLLM's message types have no place for: a `function` message (LiteLLM's needs
/// the id of a tool call, which makes it a `tool` message).
fn check_messages(ctx: Ctx<'_>, prompt: &RenderedPrompt) -> Result<()> {
    let msgs = common::messages(prompt);
    openai_wire::check_messages(ctx, &msgs)?;
    match msgs.iter().position(|m| m.role == Role::Function) {
        Some(i) => Err(ctx.message_error(
            i,
            Role::Function,
            "LiteLLM's function message needs the id of the tool call it answers: write a `tool` message with \
             the `tool_call_id` of the call instead",
        )),
        None => Ok(()),
    }
}

/// Refuses (or, configured so, leaves out) what the routed provider does not take.
fn unsupported(
    ctx: Ctx<'_>,
    prompt: &RenderedPrompt,
    provider: &str,
    config: &LiteLlmConfig,
) -> Result<Vec<&'static str>> {
    if provider != "anthropic" {
        return Ok(Vec::new());
    }
    common::unsupported_sampling(
        ctx,
        &prompt.model_config,
        "Anthropic (routed by LiteLLM)",
        config.drop_unsupported,
    )
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
        let config = self.config.get();
        check_messages(ctx, prompt)?;
        common::response_format(ctx, &prompt.model_config)?;
        let (_, provider) = model(ctx, prompt, &config)?;
        unsupported(ctx, prompt, &provider, &config).map(drop)
    }

    fn render_for_framework(&self, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        let ctx = Ctx::new(NAME, prompt);
        let config = self.config.get();
        check_messages(ctx, prompt)?;
        let (model, provider) = model(ctx, prompt, &config)?;
        let spec = BodySpec {
            model,
            system_role: "system",
            max_tokens_field: "max_tokens",
            extra_fields: &forwarded(&self.extra_fields, &provider),
            leave_out: &unsupported(ctx, prompt, &provider, &config)?,
            user_names: false,
        };
        openai_wire::body(ctx, prompt, &spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::{chat, text};
    use prompt_manager_core::{ChatMessage, RenderOutput, Role};
    use serde_json::json;

    fn render(plugin: &LiteLlmPlugin, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        plugin.validate_compatibility(prompt)?;
        plugin.render_for_framework(prompt)
    }

    #[test]
    fn provider_model_names_are_kept_or_completed() {
        let mut p = chat(&[(Role::System, "Be brief."), (Role::User, "Hi")]);
        p.model_config.model = Some("groq/llama-3.1-8b-instant".into());
        p.model_config.max_tokens = Some(100);
        p.model_config.extra.insert("top_k".into(), json!(3));
        p.model_config.extra.insert("num_retries".into(), json!(2));
        p.model_config.extra.insert("seed".into(), json!(7));
        p.model_config.extra.insert("unknown_knob".into(), json!(true));
        let body = render(&LiteLlmPlugin::new(), &p).expect("renders");
        assert_eq!(
            body,
            json!({
                "model": "groq/llama-3.1-8b-instant",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"}
                ],
                "max_tokens": 100,
                "num_retries": 2,
                "seed": 7
            })
        );

        let plugin = LiteLlmPlugin::with_config(LiteLlmConfig {
            default_model: None,
            default_provider: Some("azure".into()),
            drop_unsupported: false,
        })
        .expect("valid");
        let mut p = text("Hi");
        p.model_config.model = Some("gpt-4o".into());
        assert_eq!(render(&plugin, &p).expect("renders")["model"], "azure/gpt-4o");
    }

    #[test]
    fn bare_names_route_as_litellm_routes_them() {
        for (model, provider) in [
            ("gpt-4o", Some("openai")),
            ("claude-sonnet-4-5", Some("anthropic")),
            ("claude-opus-4-1", Some("anthropic")),
            ("claude-sonnet-4-5-20250929", Some("anthropic")),
            ("claude-3-5-haiku-20241022", None),
            ("eu.anthropic.claude-3-haiku-v9", Some("bedrock")),
            ("ft:gpt-4o-mini:acme::x", Some("openai")),
            ("jev-latest", Some("typesafe")),
            ("mistral-large-latest", None),
            ("anthropic/claude-sonnet-4-5", Some("anthropic")),
            ("meta-llama/Llama-3-8b", None),
            ("openai/", None),
        ] {
            assert_eq!(provider_of(model), provider, "{model}");
        }
        let mut p = text("Hi");
        p.model_config.model = Some("gpt-4o".into());
        assert_eq!(
            render(&LiteLlmPlugin::new(), &p).expect("routes")["model"],
            "gpt-4o",
            "kept as written: LiteLLM routes it"
        );
    }

    #[test]
    fn the_hand_written_rules_are_litellms() {
        let handled = [
            r"^(?:[a-z-]+\.)?anthropic\.claude-",
            r"^claude-[a-z]+-\d+(?:[-.]\d+)?(?:-\d{8})?$",
            r"^jev-(?:latest|preview|1\.13\.0|1\.14\.0)$",
        ];
        let rules: Vec<&str> = crate::litellm_routes::ROUTING_RULES.iter().map(|(r, _)| *r).collect();
        assert_eq!(rules, handled, "LiteLLM's routing rules changed: update `routing_rule`");
        assert!(claude_version("4-5-20250929") && claude_version("4.1") && claude_version("4"));
        assert!(!claude_version("4-5-2025") && !claude_version("") && !claude_version("x"));
    }

    #[tokio::test]
    async fn models_litellm_cannot_route_are_refused() {
        let mut p = text("Hi");
        p.model_config.model = Some("my-finetune".into());
        let err = render(&LiteLlmPlugin::new(), &p).expect_err("bare").to_string();
        assert!(err.contains("plugin `litellm`"), "{err}");
        assert!(err.contains("`openai/my-finetune`"), "{err}");
        assert!(err.contains("default_provider"), "{err}");

        p.model_config.model = Some("acme/model".into());
        let err = render(&LiteLlmPlugin::new(), &p).expect_err("prefix").to_string();
        assert!(err.contains("knows no provider `acme`"), "{err}");
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

    #[tokio::test]
    async fn anthropic_routes_take_what_anthropic_takes() {
        let mut p = chat(&[(Role::User, "Hi")]);
        p.model_config.model = Some("claude-sonnet-4-5".into());
        p.model_config.top_p = Some(0.9);
        p.model_config.extra.insert("seed".into(), json!(7));
        p.model_config.extra.insert("user".into(), json!("u-1"));
        let err = render(&LiteLlmPlugin::new(), &p).expect_err("top_p").to_string();
        assert!(err.contains("model_config.top_p:"), "{err}");
        let plugin = LiteLlmPlugin::new();
        plugin
            .initialize(&json!({"drop_unsupported": true}))
            .await
            .expect("valid");
        let body = render(&plugin, &p).expect("renders");
        assert_eq!(
            body,
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}], "user": "u-1"})
        );
        // The same prompt routed to OpenAI keeps them.
        p.model_config.model = Some("gpt-4o".into());
        let body = render(&plugin, &p).expect("renders");
        assert_eq!((body["top_p"].as_f64(), body["seed"].as_u64()), (Some(0.9), Some(7)));
    }

    #[test]
    fn user_names_are_left_out_and_function_messages_refused() {
        let mut named = ChatMessage::new(Role::User, "Hi");
        named.name = Some("ada".into());
        let mut p = chat(&[]);
        p.model_config.model = Some("gpt-4o".into());
        p.output = RenderOutput::Messages(vec![named]);
        let body = render(&LiteLlmPlugin::new(), &p).expect("renders");
        assert_eq!(body["messages"], json!([{"role": "user", "content": "Hi"}]));
        let mut function = ChatMessage::new(Role::Function, "42");
        function.name = Some("answer".into());
        p.output = RenderOutput::Messages(vec![ChatMessage::new(Role::User, "q"), function]);
        let err = render(&LiteLlmPlugin::new(), &p).expect_err("function").to_string();
        assert!(err.contains("message 2 (role `function`)"), "{err}");
    }
}
