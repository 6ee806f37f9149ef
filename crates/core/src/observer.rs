//! Lifecycle hooks. Observers are sync (they run on the render path) and cannot fail a render:
//! their methods return nothing, and a panicking observer is caught and logged.

use crate::error::Error;
use crate::id::PromptId;
use crate::model::{LabelEvent, PromptExecution, PromptVersion};

/// Receives events from a `PromptManager`. Every method has an empty default.
pub trait Observer: Send + Sync {
    /// A render is about to start.
    fn on_render_start(&self, _reference: &str) {}
    /// A render succeeded.
    fn on_render_complete(&self, _execution: &PromptExecution<'_>) {}
    /// A render failed.
    fn on_render_error(&self, _execution: &PromptExecution<'_>, _error: &Error) {}
    /// A new version was saved.
    fn on_version_created(&self, _version: &PromptVersion) {}
    /// A label was set, moved, rolled back or removed.
    fn on_label_moved(&self, _id: &PromptId, _event: &LabelEvent) {}
}
