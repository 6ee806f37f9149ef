//! Plugins turn a rendered prompt into the request payload a framework expects (OpenAI,
//! Anthropic, …). Rust has no entry points: built-in plugins are compiled in by Cargo features and
//! registered by the umbrella crate; third parties register theirs on the manager.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::RenderedPrompt;

/// A framework renderer.
#[async_trait]
pub trait Plugin: Send + Sync {
    /// The name callers use in `render_for` (`openai`).
    fn name(&self) -> &str;

    /// The plugin's own version.
    fn version(&self) -> &str;

    /// Called once on registration with the plugin's configuration.
    async fn initialize(&self, _config: &serde_json::Value) -> Result<()> {
        Ok(())
    }

    /// Refuses a prompt the framework cannot take, naming the offending message.
    fn validate_compatibility(&self, _prompt: &RenderedPrompt) -> Result<()> {
        Ok(())
    }

    /// Builds the framework payload.
    fn render_for_framework(&self, prompt: &RenderedPrompt) -> Result<serde_json::Value>;

    /// Called when the manager shuts down.
    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}
