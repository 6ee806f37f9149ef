//! Usage through the manager: flushing what the recorder aggregated, reports and feedback after
//! the model call (by render id), and analytics over the stored rows. The recorder itself and
//! the types are in `crate::usage`; the render path calls it from `render`.

use crate::error::Result;
use crate::usage::{
    Analytics, AnalyticsQuery, Bucket, Feedback, FlushReport, RenderId, RenderToken, UsageConfig, UsageCounts,
    UsageQuery, UsageReport, UsageRow,
};

use super::{IntoPromptId, PromptManager, operation_span, record_prompt};

impl PromptManager {
    /// Whether renders are recorded ([`PromptManagerBuilder::usage`](crate::PromptManagerBuilder::usage)).
    pub fn records_usage(&self) -> bool {
        self.inner.usage.is_some()
    }

    /// The recording settings, when renders are recorded.
    pub fn usage_config(&self) -> Option<UsageConfig> {
        self.inner.usage.as_ref().map(|r| *r.config())
    }

    /// Whether the in-memory bound of usage aggregates was reached since the last flush: a
    /// flusher checks it between its ticks and flushes at once.
    pub fn usage_needs_flush(&self) -> bool {
        self.inner.usage.as_ref().is_some_and(|r| r.under_pressure())
    }

    /// How many usage aggregates (key × minute) wait in memory for the next flush.
    pub fn usage_keys_in_memory(&self) -> usize {
        self.inner.usage.as_ref().map_or(0, |r| r.keys_in_memory())
    }

    /// Writes what was recorded since the last flush to the store, additively: minute rows and
    /// their hour and day roll-ups, in one write. Tokens of the sampled renders are counted here,
    /// off the render path. Without recording, does nothing. On a failed write the rows are kept
    /// for the next flush (within the memory bound) and the error is returned.
    pub async fn flush_usage(&self) -> Result<FlushReport> {
        let Some(recorder) = &self.inner.usage else {
            return Ok(FlushReport::default());
        };
        Self::traced(operation_span!("prompt_manager.flush_usage"), async move {
            recorder
                .flush(
                    self.inner.store.as_ref(),
                    self.inner.tokens.as_ref(),
                    self.inner.prices.as_ref(),
                )
                .await
        })
        .await
    }

    /// Adds what the model call of a render used (output tokens, latency, actual cost) to the
    /// render's aggregate. The output cost is estimated from the price book when no actual cost
    /// is given. `render_id` is the token the render returned; anything else is refused with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument). Returns what the token said.
    pub async fn report_usage(&self, render_id: &str, report: &UsageReport) -> Result<RenderToken> {
        Self::traced(operation_span!("prompt_manager.report_usage"), async move {
            let token = RenderId::parse(render_id)?;
            report.validate()?;
            record_prompt(&token.key.prompt_id);
            let mut counts = UsageCounts {
                usage_reports: 1,
                output_tokens: report.output_tokens.unwrap_or(0),
                ..UsageCounts::default()
            };
            if let Some(ms) = report.model_latency_ms {
                counts.model_latency_ms = ms;
                counts.model_latency_reports = 1;
            }
            match report.actual_cost {
                Some(cost) => {
                    counts.actual_cost = cost;
                    counts.actual_cost_reports = 1;
                }
                None => {
                    if let (Some(tokens), Some(price)) = (report.output_tokens, self.price_of(&token).await) {
                        counts.output_cost = price.output_cost(tokens);
                    }
                }
            }
            self.add_report(&token, counts).await?;
            Ok(token)
        })
        .await
    }

    /// Adds a judgement of a render's answer (success and/or a score) to the render's aggregate.
    /// `render_id` is the token the render returned; anything else is refused with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument). Returns what the token said.
    pub async fn report_feedback(&self, render_id: &str, feedback: &Feedback) -> Result<RenderToken> {
        Self::traced(operation_span!("prompt_manager.report_feedback"), async move {
            let token = RenderId::parse(render_id)?;
            feedback.validate()?;
            record_prompt(&token.key.prompt_id);
            let mut counts = UsageCounts {
                feedback: 1,
                ..UsageCounts::default()
            };
            match feedback.success {
                Some(true) => counts.successes = 1,
                Some(false) => counts.failures = 1,
                None => {}
            }
            if let Some(score) = feedback.score {
                counts.scores = 1;
                counts.score_sum = score;
                counts.score_sum_squares = score * score;
            }
            self.add_report(&token, counts).await?;
            Ok(token)
        })
        .await
    }

    /// A prompt's usage over a time range, grouped by version, label or variant ([`Analytics`]).
    /// What was recorded since the last flush is not in it yet.
    pub async fn analytics(&self, id: impl IntoPromptId, query: &AnalyticsQuery) -> Result<Analytics> {
        Self::traced(operation_span!("prompt_manager.analytics"), async move {
            let id = id.into_prompt_id()?;
            record_prompt(&id);
            query.validate()?;
            let rows = self
                .inner
                .store
                .usage(&UsageQuery {
                    prompt_id: id.clone(),
                    bucket: query.bucket,
                    from: query.bucket.floor(query.from.timestamp()),
                    to: query.end_second(),
                })
                .await?;
            Ok(Analytics::from_rows(id, query, rows))
        })
        .await
    }

    /// The price of the model of the token's version, if the version and a price are known.
    async fn price_of(&self, token: &RenderToken) -> Option<crate::tokens::Price> {
        let prices = self.inner.prices.as_ref()?;
        let version = self
            .inner
            .store
            .load(&token.key.prompt_id, Some(&token.key.version))
            .await
            .ok()?;
        prices.price(version.prompt.model_config.model.as_deref()?)
    }

    /// Into the recorder when there is one (written with the next flush); straight to the store
    /// otherwise.
    async fn add_report(&self, token: &RenderToken, counts: UsageCounts) -> Result<()> {
        if !self.inner.store.records_usage() {
            return Err(crate::usage::usage_unsupported(self.inner.store.backend_name()));
        }
        if let Some(recorder) = &self.inner.usage {
            recorder.report(token.key.clone(), token.minute, &counts);
            return Ok(());
        }
        let at = token.minute_start();
        let rows: Vec<UsageRow> = Bucket::ALL
            .into_iter()
            .map(|bucket| UsageRow {
                key: token.key.clone(),
                bucket,
                start: bucket.floor(at),
                counts: counts.clone(),
            })
            .collect();
        self.inner.store.add_usage(&rows).await
    }
}
