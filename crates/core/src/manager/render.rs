//! Rendering: text, chat messages, a rendered prompt with its model configuration, a plugin's
//! payload — and the path every render takes: the registry on a hit (borrowed, no store read),
//! the observers when there are any, the rendered-output cache when it is on.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, NotFound, Result};
use crate::model::{ChatMessage, PromptExecution, PromptStatus, RenderOutput, RenderedPrompt};
use crate::render::{Picked, Resolved};
use crate::usage::{KeyPrefix, Recorder, RenderId};
use crate::variables::Variables;

use super::{PromptManager, RenderOptions, operation_span};

static EXECUTION_IDS: AtomicU64 = AtomicU64::new(1);

impl PromptManager {
    /// Renders a text prompt to a string.
    pub async fn render(&self, reference: &str, vars: &Variables) -> Result<String> {
        self.render_with(reference, vars, &RenderOptions::default()).await
    }

    /// [`render`](Self::render) with options: the split key that picks the variant of an A/B
    /// split label ([`RenderOptions::split_key`]).
    pub async fn render_with(&self, reference: &str, vars: &Variables, options: &RenderOptions<'_>) -> Result<String> {
        Self::traced(
            operation_span!("prompt_manager.render", reference = %reference),
            async move {
                let output = self
                    .render_observed(reference, vars, options, |picked, vars, _| {
                        let resolved = picked.resolved;
                        if resolved.version.prompt.format.is_chat() {
                            return Err(Error::Unsupported(format!(
                                "`{reference}` is a chat prompt; use render_chat to get its messages"
                            )));
                        }
                        self.render_output(resolved, vars)
                    })
                    .await?;
                match output {
                    RenderOutput::Text(text) => Ok(text),
                    RenderOutput::Messages(_) => Err(Error::Internal(format!(
                        "text prompt `{reference}` rendered to messages"
                    ))),
                }
            },
        )
        .await
    }

    /// Renders a prompt to chat messages. A text prompt becomes one `user` message.
    pub async fn render_chat(&self, reference: &str, vars: &Variables) -> Result<Vec<ChatMessage>> {
        self.render_chat_with(reference, vars, &RenderOptions::default()).await
    }

    /// [`render_chat`](Self::render_chat) with options ([`RenderOptions::split_key`]).
    pub async fn render_chat_with(
        &self,
        reference: &str,
        vars: &Variables,
        options: &RenderOptions<'_>,
    ) -> Result<Vec<ChatMessage>> {
        Self::traced(
            operation_span!("prompt_manager.render_chat", reference = %reference),
            async move {
                match self
                    .render_observed(reference, vars, options, |p, v, _| self.render_output(p.resolved, v))
                    .await?
                {
                    RenderOutput::Messages(messages) => Ok(messages),
                    RenderOutput::Text(text) => Ok(vec![ChatMessage::new(crate::model::Role::User, text)]),
                }
            },
        )
        .await
    }

    /// Renders a prompt and returns the output with its version and model configuration.
    pub async fn render_prompt(&self, reference: &str, vars: &Variables) -> Result<RenderedPrompt> {
        self.render_prompt_with(reference, vars, &RenderOptions::default())
            .await
    }

    /// [`render_prompt`](Self::render_prompt) with options ([`RenderOptions::split_key`]). For
    /// an A/B split label, [`RenderedPrompt::variant`] says which variant served.
    pub async fn render_prompt_with(
        &self,
        reference: &str,
        vars: &Variables,
        options: &RenderOptions<'_>,
    ) -> Result<RenderedPrompt> {
        Self::traced(
            operation_span!("prompt_manager.render_prompt", reference = %reference),
            async move {
                self.render_observed(reference, vars, options, |picked, v, minute| {
                    let r = picked.resolved;
                    let output = self.render_output(r, v)?;
                    let version = &r.version;
                    let render_id = minute.map(|m| {
                        let prefix = *r
                            .render_key
                            .get_or_init(|| KeyPrefix::new(&version.prompt.id, &version.version, r.label.as_ref()));
                        RenderId::with_prefix(prefix, m)
                    });
                    Ok(RenderedPrompt {
                        id: version.prompt.id.clone(),
                        version: version.version.clone(),
                        format: version.prompt.format,
                        output,
                        model_config: version.prompt.model_config.clone(),
                        content_hash: version.content_hash.clone(),
                        variant: picked.served(),
                        render_id,
                    })
                })
                .await
            },
        )
        .await
    }

    /// Renders a prompt into the payload of a registered plugin (`openai`, `anthropic`, …).
    pub async fn render_for(&self, plugin: &str, reference: &str, vars: &Variables) -> Result<serde_json::Value> {
        self.render_for_with(plugin, reference, vars, &RenderOptions::default())
            .await
    }

    /// [`render_for`](Self::render_for) with options ([`RenderOptions::split_key`]).
    pub async fn render_for_with(
        &self,
        plugin: &str,
        reference: &str,
        vars: &Variables,
        options: &RenderOptions<'_>,
    ) -> Result<serde_json::Value> {
        Self::traced(
            operation_span!("prompt_manager.render_for", reference = %reference, plugin = %plugin),
            async move {
                let plugin = self
                    .plugin(plugin)
                    .ok_or_else(|| Error::NotFound(NotFound::Plugin(plugin.to_owned())))?;
                let rendered = self.render_prompt_with(reference, vars, options).await?;
                plugin.validate_compatibility(&rendered)?;
                plugin.render_for_framework(&rendered)
            },
        )
        .await
    }

    /// Renders a resolution, through the rendered-output cache when it is on.
    fn render_output(&self, resolved: &Resolved, vars: &Variables) -> Result<RenderOutput> {
        record_resolved(resolved);
        match &self.inner.render_cache {
            // Archived prompts refuse to render even when an output is cached.
            Some(cache) if resolved.status != PromptStatus::Archived => {
                cache.get_or_render(resolved.id, vars, || resolved.render(vars))
            }
            _ => resolved.render(vars),
        }
    }

    /// Renders through the observers and the usage recorder when there are any. `render` gets
    /// the picked variant and the unix minute the render is recorded in (`None` when usage is
    /// not recorded). A split label's render is its chosen variant's: observers and the recorder
    /// see that version with the label.
    async fn render_observed<T: OutputSize>(
        &self,
        reference: &str,
        vars: &Variables,
        options: &RenderOptions<'_>,
        render: impl FnOnce(Picked<'_>, &Variables, Option<u32>) -> Result<T>,
    ) -> Result<T> {
        let observers = &self.inner.observers;
        let key = options.split_key;
        let usage = self.inner.usage.as_ref();
        if observers.is_empty() {
            let Some(recorder) = usage else {
                return self
                    .with_resolved(reference, |r| render(r.pick(key), vars, None))
                    .await?;
            };
            // Recording alone: two raw clock reads, and counters in memory, where the render happens.
            let started = recorder.now_raw();
            let minute = recorder.minute_at_raw(started);
            return self
                .with_resolved(reference, |r| {
                    let picked = r.pick(key);
                    let served = picked.resolved;
                    let result = render(picked, vars, Some(minute));
                    record_usage(recorder, served, minute, recorder.nanos_since_raw(started), &result);
                    result
                })
                .await?;
        }
        observers.each(|o| o.on_render_start(reference));
        let started = quanta::Instant::now();
        let minute = usage.map(|recorder| recorder.minute_at(started));
        // The observers hear of the render where it happens, so only the result travels back up.
        let notify = |resolved: Option<&Resolved>, result: &Result<T>| {
            if let (Some(recorder), Some(r), Some(minute)) = (usage, resolved, minute) {
                let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                record_usage(recorder, r, minute, nanos, result);
            }
            let execution = execution_of(reference, resolved, result, started);
            match result {
                Ok(_) => observers.each(|o| o.on_render_complete(&execution)),
                Err(error) => observers.each(|o| o.on_render_error(&execution, error)),
            }
        };
        // The resolution is borrowed from the registry on a hit, as on the unobserved path.
        let rendered = self
            .with_resolved(reference, |r| {
                let picked = r.pick(key);
                let served = picked.resolved;
                let result = render(picked, vars, minute);
                notify(Some(served), &result);
                result
            })
            .await;
        match rendered {
            Ok(result) => result,
            Err(e) => {
                let result = Err(e);
                notify(None, &result);
                result
            }
        }
    }

    /// Runs `f` on the resolution of `reference`: borrowed from the registry on a hit, loaded and
    /// compiled on a miss.
    pub(super) async fn with_resolved<T>(&self, reference: &str, f: impl FnOnce(&Resolved) -> T) -> Result<T> {
        self.catch_up().await;
        let mut f = Some(f);
        let hit = self.inner.registry.get_with(reference, |r| f.take().map(|f| f(r)));
        if let Some(Some(out)) = hit {
            return Ok(out);
        }
        // Boxed: the miss path's future (store reads, compiling, includes) is large, and without the
        // box every render would copy it around on the hit path, which never runs it.
        let resolved = Box::pin(self.resolve(reference)).await?;
        match f.take() {
            Some(f) => Ok(f(&resolved)),
            // `f` is only taken on a hit, which returned above.
            None => Err(Error::Internal(
                "the registry consumed a render without a result".into(),
            )),
        }
    }

    /// Before serving from the registry: when the store's change feed polls (SQLite), reads it
    /// now, so that what the registry serves is as fresh as a read of the store — a render
    /// agrees with a `get` of the store made at the same moment. Other stores need nothing.
    pub(super) async fn catch_up(&self) {
        if self.inner.store.catch_up_needed() {
            self.inner.store.catch_up().await;
        }
    }
}

/// Adds a render of `resolved` to the usage recorder.
fn record_usage<T: OutputSize>(recorder: &Recorder, resolved: &Resolved, minute: u32, nanos: u64, result: &Result<T>) {
    let outcome = match result {
        Ok(output) => Ok(output.size()),
        Err(e) => Err(e.code()),
    };
    recorder.record(resolved, minute, nanos, outcome, || {
        result.as_ref().ok().map(OutputSize::to_output)
    });
}

/// Records what a render resolved to on the current span: the GenAI-style prompt attributes.
fn record_resolved(resolved: &Resolved) {
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        let version = &resolved.version;
        span.record("gen_ai.prompt.name", tracing::field::display(&version.prompt.id));
        span.record("gen_ai.prompt.version", tracing::field::display(&version.version));
        span.record("gen_ai.prompt.content_hash", version.content_hash.0.as_str());
        if let Some(label) = &resolved.label {
            span.record("gen_ai.prompt.label", label.as_str());
        }
    }
}

/// The record of one render for the observers: what `reference` resolved to, if it did, and how
/// the render went.
fn execution_of<'a, T: OutputSize>(
    reference: &'a str,
    resolved: Option<&'a Resolved>,
    result: &Result<T>,
    started: quanta::Instant,
) -> PromptExecution<'a> {
    let output_bytes = result.as_ref().map_or(0, OutputSize::size);
    PromptExecution {
        id: next_execution_id(),
        reference,
        prompt_id: resolved.map(|r| &r.version.prompt.id),
        version: resolved.map(|r| &r.version.version),
        label: resolved.and_then(|r| r.label.as_ref()),
        duration: started.elapsed(),
        error: result.as_ref().err().map(|e| e.code().into()),
        output_bytes,
        token_estimate: output_bytes.div_ceil(4),
    }
}

/// A process-unique render id. Each thread takes a block of ids from the shared counter and
/// hands them out without touching shared memory until the block is spent.
fn next_execution_id() -> u64 {
    const BLOCK: u64 = 1024;
    thread_local! {
        static NEXT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    NEXT.with(|next| {
        let (id, end) = next.get();
        if id < end {
            next.set((id + 1, end));
            id
        } else {
            let start = EXECUTION_IDS.fetch_add(BLOCK, Ordering::Relaxed);
            next.set((start + 1, start + BLOCK));
            start
        }
    })
}

/// The size of a render's output, for the observers, and a copy of it for token counting.
trait OutputSize {
    fn size(&self) -> usize;
    fn to_output(&self) -> RenderOutput;
}

impl OutputSize for RenderOutput {
    fn size(&self) -> usize {
        self.len_bytes()
    }

    fn to_output(&self) -> RenderOutput {
        self.clone()
    }
}

impl OutputSize for RenderedPrompt {
    fn size(&self) -> usize {
        self.output.len_bytes()
    }

    fn to_output(&self) -> RenderOutput {
        self.output.clone()
    }
}

impl OutputSize for String {
    fn size(&self) -> usize {
        self.len()
    }

    fn to_output(&self) -> RenderOutput {
        RenderOutput::Text(self.clone())
    }
}

impl OutputSize for Vec<ChatMessage> {
    fn size(&self) -> usize {
        self.iter().map(|m| m.content.len()).sum()
    }

    fn to_output(&self) -> RenderOutput {
        RenderOutput::Messages(self.clone())
    }
}
