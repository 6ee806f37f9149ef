//! [`UsageFlusher`]: the background task that writes a manager's usage records to its store
//! every [`UsageConfig::flush_interval`], early when the in-memory bound is reached, and a last
//! time on [`shutdown`](UsageFlusher::shutdown). It also prunes minute rows older than
//! [`UsageConfig::minute_retention`] about once an hour.

use std::time::{Duration, Instant};

use prompt_manager_core::usage::{Bucket, FlushReport, UsageConfig};
use prompt_manager_core::{Error, PromptManager, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the flusher looks at the in-memory bound between its ticks.
const PRESSURE_CHECK: Duration = Duration::from_millis(100);

/// How often minute rows past their retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// Flushes a manager's usage records in the background (on the current tokio runtime).
///
/// A crash loses at most what was recorded since the last flush: one flush interval. Call
/// [`shutdown`](Self::shutdown) before the process exits to write the rest; dropping the flusher
/// stops it and, on a tokio runtime, starts one last flush without waiting for it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> prompt_manager::Result<()> {
/// use prompt_manager::{Prompt, UsageConfig, UsageFlusher, Variables};
/// let pm = prompt_manager::builder().usage(UsageConfig::default()).build()?;
/// let flusher = UsageFlusher::spawn(&pm)?;
/// pm.create(Prompt::text("greeting", "Hello {{ name }}!")?).await?;
/// let rendered = pm.render_prompt("greeting", &Variables::new().with("name", "Ada")).await?;
/// assert!(rendered.render_id.is_some());
/// let report = flusher.shutdown().await?;
/// assert_eq!(report.renders, 1);
/// # Ok(()) }
/// ```
pub struct UsageFlusher {
    manager: PromptManager,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for UsageFlusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageFlusher")
            .field("config", &self.manager.usage_config())
            .finish_non_exhaustive()
    }
}

impl UsageFlusher {
    /// Starts flushing `manager`'s usage records on the current tokio runtime. Fails when the
    /// manager records no usage or there is no runtime.
    pub fn spawn(manager: &PromptManager) -> Result<Self> {
        let config = manager.usage_config().ok_or_else(|| {
            Error::Config("this manager records no usage; build it with `.usage(UsageConfig::default())`".into())
        })?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("the usage flusher needs a tokio runtime".into()))?;
        let (stop, stopped) = watch::channel(false);
        let task = runtime.spawn(run(manager.clone(), config, stopped));
        Ok(Self {
            manager: manager.clone(),
            stop,
            task: Some(task),
        })
    }

    /// Stops the background task and flushes what is left.
    pub async fn shutdown(mut self) -> Result<FlushReport> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.manager.flush_usage().await
    }
}

impl Drop for UsageFlusher {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let manager = self.manager.clone();
                runtime.spawn(async move {
                    if let Err(e) = manager.flush_usage().await {
                        tracing::warn!(error = %e, "the last flush of usage records failed");
                    }
                });
            }
        }
    }
}

async fn run(manager: PromptManager, config: UsageConfig, mut stopped: watch::Receiver<bool>) {
    let mut last_flush = Instant::now();
    let mut last_prune: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(PRESSURE_CHECK) => {}
        }
        if *stopped.borrow() {
            return;
        }
        if last_flush.elapsed() < config.flush_interval && !manager.usage_needs_flush() {
            continue;
        }
        last_flush = Instant::now();
        match manager.flush_usage().await {
            Ok(report) => {
                if report.lost_renders + report.lost_reports + report.lost_rows > 0 {
                    tracing::warn!(
                        lost_renders = report.lost_renders,
                        lost_reports = report.lost_reports,
                        lost_rows = report.lost_rows,
                        "usage records were dropped: the in-memory bound was reached (raise max_keys or flush more often)"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "flushing usage records failed; they are kept for the next flush"),
        }
        if let Some(retention) = config.minute_retention
            && last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY)
        {
            last_prune = Some(Instant::now());
            let before = chrono::Utc::now().timestamp() - i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
            if let Err(e) = manager.store().prune_usage(Bucket::Minute, before).await {
                tracing::debug!(error = %e, "pruning old minute rows of usage failed");
            }
        }
    }
}
