//! # prompt-manager-plugins
//!
//! Framework renderers for prompt-manager: each plugin implements core's [`Plugin`] and turns a
//! [`RenderedPrompt`] into the request body a framework takes, so
//! `pm.render_for("openai", "support/triage@production", &vars)` returns what you POST.
//! Each plugin is a Cargo feature (`all` enables every one; none is on by default):
//!
//! | feature | plugin | payload |
//! |---|---|---|
//! | `openai` | [`OpenAiPlugin`] | Chat Completions body (`messages`, `model`, `max_completion_tokens`, …) |
//! | `anthropic` | [`AnthropicPlugin`] | Messages API body (top-level `system`, merged turns, required `max_tokens`; no `temperature`/`top_p`) |
//! | `gemini` | [`GeminiPlugin`] | `generateContent` body (`contents`, `systemInstruction`, `generationConfig`) |
//! | `langchain` | [`LangChainPlugin`] | the message list `langchain_core.messages.messages_from_dict` loads |
//! | `litellm` | [`LiteLlmPlugin`] | OpenAI-compatible body; models route as LiteLLM routes them |
//!
//! Each module's documentation has the full mapping and the configuration `initialize` takes
//! (`null` keeps the configuration the plugin was built with: the defaults for `new()`). A prompt a framework cannot take is refused with
//! [`Error::Plugin`](prompt_manager_core::Error::Plugin) naming the prompt and the message
//! (1-based index and role), and so is a model-config key the provider's current API does not take
//! (naming the key; some plugins can be configured to leave such keys out instead) — a payload
//! never carries what would fail at the provider. Every payload is checked in CI by the providers'
//! official Python SDKs (`crates/plugins/tests/sdk.rs`). The crate depends on `prompt-manager-core` only; the umbrella crate
//! registers [`builtin()`] on its manager, and a third party registers its own [`Plugin`] the same way.
//!
//! ```
//! # #[cfg(feature = "openai")] {
//! use prompt_manager_core::{ChatMessage, ContentHash, ModelConfig, Plugin, PromptFormat, PromptId,
//!     RenderOutput, RenderedPrompt, Role, semver::Version};
//! use prompt_manager_plugins::OpenAiPlugin;
//!
//! let prompt = RenderedPrompt {
//!     id: PromptId::new("support/triage")?,
//!     version: Version::new(1, 0, 0),
//!     format: PromptFormat::Chat,
//!     output: RenderOutput::Messages(vec![
//!         ChatMessage::new(Role::System, "You triage tickets."),
//!         ChatMessage::new(Role::User, "My card was charged twice."),
//!     ]),
//!     model_config: ModelConfig { model: Some("gpt-4o".into()), max_tokens: Some(300), ..Default::default() },
//!     content_hash: ContentHash(String::new()),
//!     variant: None,
//! };
//! let plugin = OpenAiPlugin::new();
//! plugin.validate_compatibility(&prompt)?;
//! let body = plugin.render_for_framework(&prompt)?;
//! assert_eq!(body["messages"][1]["content"], "My card was charged twice.");
//! assert_eq!(body["max_completion_tokens"], 300);
//! # }
//! # Ok::<(), prompt_manager_core::Error>(())
//! ```

use std::sync::Arc;

#[doc(no_inline)]
pub use prompt_manager_core::{Plugin, RenderedPrompt};

mod common;
#[cfg(any(feature = "openai", feature = "litellm"))]
mod openai_wire;

#[cfg(feature = "anthropic")]
pub mod anthropic;
#[cfg(feature = "gemini")]
pub mod gemini;
#[cfg(feature = "langchain")]
pub mod langchain;
#[cfg(feature = "litellm")]
pub mod litellm;
#[cfg(feature = "litellm")]
mod litellm_routes;
#[cfg(feature = "openai")]
pub mod openai;

#[cfg(feature = "anthropic")]
#[doc(inline)]
pub use anthropic::{AnthropicConfig, AnthropicPlugin};
#[cfg(feature = "gemini")]
#[doc(inline)]
pub use gemini::{GeminiConfig, GeminiPlugin};
#[cfg(feature = "langchain")]
#[doc(inline)]
pub use langchain::LangChainPlugin;
#[cfg(feature = "litellm")]
#[doc(inline)]
pub use litellm::{LiteLlmConfig, LiteLlmPlugin};
#[cfg(feature = "openai")]
#[doc(inline)]
pub use openai::{OpenAiConfig, OpenAiPlugin};

/// The plugins enabled by Cargo features, in their default configuration, ready for
/// `PromptManager::register_plugin(plugin, &config)` (`serde_json::Value::Null` keeps the defaults;
/// an object configures the plugin as its module documents).
// Pushed one feature at a time; with no plugin feature enabled the list stays empty.
#[allow(unused_mut, clippy::vec_init_then_push)]
pub fn builtin() -> Vec<Arc<dyn Plugin>> {
    let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
    #[cfg(feature = "openai")]
    plugins.push(Arc::new(OpenAiPlugin::new()));
    #[cfg(feature = "anthropic")]
    plugins.push(Arc::new(AnthropicPlugin::new()));
    #[cfg(feature = "gemini")]
    plugins.push(Arc::new(GeminiPlugin::new()));
    #[cfg(feature = "langchain")]
    plugins.push(Arc::new(LangChainPlugin::new()));
    #[cfg(feature = "litellm")]
    plugins.push(Arc::new(LiteLlmPlugin::new()));
    plugins
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_lists_the_enabled_plugins_by_name() {
        let names: Vec<String> = super::builtin().iter().map(|p| p.name().to_owned()).collect();
        let expected: Vec<&str> = [
            ("openai", cfg!(feature = "openai")),
            ("anthropic", cfg!(feature = "anthropic")),
            ("gemini", cfg!(feature = "gemini")),
            ("langchain", cfg!(feature = "langchain")),
            ("litellm", cfg!(feature = "litellm")),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect();
        assert_eq!(names, expected);
        for p in super::builtin() {
            assert_eq!(p.version(), env!("CARGO_PKG_VERSION"));
        }
    }
}
