//! The dispatcher: a background task of `serve` that turns new audit entries into deliveries and
//! sends the due ones.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use prompt_manager::{AuditEntry, AuditQuery, PromptManager};
use serde_json::json;

use super::{Delivery, DeliveryStatus, EventType, WebhookError, WebhookOptions, is_private, private_refused};

/// The most audit entries one round reads.
const BATCH: usize = 500;
/// The most deliveries one round sends at once.
const IN_FLIGHT: usize = 16;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Sends webhook deliveries in the background until dropped (or [`Dispatcher::stop`]).
pub struct Dispatcher {
    stop: Arc<tokio::sync::Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Dispatcher {
    /// Starts the dispatcher for the webhooks file at `path` on `pm`'s audit log.
    pub fn spawn(pm: PromptManager, path: PathBuf, options: WebhookOptions) -> Self {
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let worker = Worker { pm, path, options };
            loop {
                if let Err(e) = worker.round().await {
                    tracing::warn!("webhooks: {e}");
                }
                tokio::select! {
                    () = stopped.notified() => break,
                    () = tokio::time::sleep(worker.options.poll) => {}
                }
            }
        });
        Dispatcher { stop, task: Some(task) }
    }

    /// Stops after the round in progress.
    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Worker {
    pm: PromptManager,
    path: PathBuf,
    options: WebhookOptions,
}

/// The result of one attempt.
struct Attempt {
    id: String,
    status: Option<u16>,
    error: Option<String>,
    /// A failure no retry can fix (a refused address).
    permanent: bool,
}

impl Worker {
    /// One round: enqueue what the audit log has after the cursor, then send what is due.
    async fn round(&self) -> Result<(), WebhookError> {
        let file = self.blocking(|path| super::read(&path)).await?;
        if file.subscriptions.is_empty() {
            return Ok(());
        }
        let entries = self
            .pm
            .audit(&AuditQuery {
                after_seq: Some(file.cursor),
                limit: Some(BATCH),
                ..AuditQuery::default()
            })
            .await
            .map_err(|e| WebhookError::Invalid(format!("reading the audit log: {e}")))?;
        // The file as enqueueing left it: no second read.
        let file = if entries.is_empty() {
            file
        } else {
            self.blocking(move |path| {
                super::update(&path, |file| {
                    enqueue(file, &entries);
                    Ok(file.clone())
                })
            })
            .await?
        };
        let now = Utc::now();
        let due: Vec<Delivery> = file
            .deliveries
            .iter()
            .filter(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at.is_none_or(|t| t <= now))
            .take(IN_FLIGHT)
            .cloned()
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let mut attempts = Vec::with_capacity(due.len());
        let mut sends = tokio::task::JoinSet::new();
        for delivery in due {
            let Some(subscription) = file
                .subscriptions
                .iter()
                .find(|s| s.id == delivery.subscription)
                .cloned()
            else {
                continue;
            };
            let options = self.options.clone();
            sends.spawn(async move { send(&subscription.url, &subscription.secret, &delivery, &options).await });
        }
        while let Some(result) = sends.join_next().await {
            if let Ok(attempt) = result {
                attempts.push(attempt);
            }
        }
        let options = self.options.clone();
        self.blocking(move |path| {
            super::update(&path, move |file| {
                for attempt in attempts {
                    if let Some(d) = file.deliveries.iter_mut().find(|d| d.id == attempt.id) {
                        record(d, attempt, &options);
                    }
                }
                Ok(())
            })
        })
        .await
    }

    /// Runs a file operation (a lock, reads, fsyncs) off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(PathBuf) -> Result<T, WebhookError> + Send + 'static,
    ) -> Result<T, WebhookError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || work(path))
            .await
            .map_err(|e| WebhookError::Invalid(format!("a webhooks file operation stopped: {e}")))?
    }
}

/// Turns audit entries into pending deliveries (one per matching subscription) and advances the
/// cursor, in the same write of the file.
fn enqueue(file: &mut super::WebhookFile, entries: &[AuditEntry]) {
    for entry in entries {
        if entry.seq <= file.cursor {
            continue;
        }
        file.cursor = entry.seq;
        let Some(event) = EventType::of(entry.action) else {
            continue;
        };
        for s in &file.subscriptions {
            if entry.seq <= s.after_seq || !s.events.contains(&event) {
                continue;
            }
            let id = format!("{}_{}", s.id, entry.seq);
            if file.deliveries.iter().any(|d| d.id == id) {
                continue;
            }
            file.deliveries.push(Delivery {
                payload: payload(&id, event, entry),
                id,
                subscription: s.id.clone(),
                event,
                seq: entry.seq,
                status: DeliveryStatus::Pending,
                attempts: 0,
                last_status: None,
                last_error: None,
                next_attempt_at: None,
                created_at: Utc::now(),
                delivered_at: None,
            });
        }
    }
}

/// The event's JSON body.
fn payload(id: &str, event: EventType, entry: &AuditEntry) -> serde_json::Value {
    json!({
        "id": id,
        "type": event.name(),
        "timestamp": entry.at_text(),
        "data": {
            "action": entry.action.as_str(),
            "prompt": entry.prompt.as_ref().map(|p| p.as_str()),
            "label": entry.label.as_ref().map(|l| l.as_str()),
            "before": entry.before,
            "after": entry.after,
            "actor": entry.actor,
            "forced": entry.forced,
            "audit_seq": entry.seq,
            "audit_hash": entry.hash,
        }
    })
}

/// Records an attempt's result on its delivery: delivered, due again after a backoff, or failed.
fn record(d: &mut Delivery, attempt: Attempt, options: &WebhookOptions) {
    d.attempts += 1;
    d.last_status = attempt.status;
    if attempt.error.is_none() {
        d.status = DeliveryStatus::Delivered;
        d.delivered_at = Some(Utc::now());
        d.next_attempt_at = None;
        d.last_error = None;
        return;
    }
    d.last_error = attempt.error;
    if attempt.permanent || d.attempts >= options.max_attempts {
        d.status = DeliveryStatus::Failed;
        d.next_attempt_at = None;
        return;
    }
    let delay = backoff(options.backoff, d.attempts);
    d.next_attempt_at = Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1)));
}

/// The wait after `attempts` failures: `base · 2^(attempts−1)`, capped at an hour, with up to a
/// quarter of it added at random so that many failing receivers do not retry in step.
fn backoff(base: Duration, attempts: u32) -> Duration {
    let exponential = base
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(MAX_BACKOFF);
    let mut byte = [0u8; 2];
    let jitter = match getrandom::fill(&mut byte) {
        Ok(()) => exponential.mul_f64(f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX) / 4.0),
        Err(_) => Duration::ZERO,
    };
    exponential + jitter
}

/// One attempt to deliver: resolve, check the addresses, POST the signed body, pinned to the
/// checked address.
async fn send(url: &str, secret: &str, delivery: &Delivery, options: &WebhookOptions) -> Attempt {
    let fail = |error: String, permanent: bool| Attempt {
        id: delivery.id.clone(),
        status: None,
        error: Some(error),
        permanent,
    };
    let parsed = match super::check_url(url, options.allow_private) {
        Ok(parsed) => parsed,
        Err(e) => return fail(e.to_string(), true),
    };
    let Some(host) = parsed.host_str().map(str::to_owned) else {
        return fail(format!("`{url}` has no host"), true);
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match tokio::net::lookup_host((bare.as_str(), port)).await {
            Ok(found) => found.collect(),
            Err(e) => return fail(format!("cannot resolve {bare}: {e}"), false),
        },
    };
    let Some(address) = addresses.first().copied() else {
        return fail(format!("{bare} resolves to no address"), false);
    };
    if !options.allow_private
        && let Some(private) = addresses.iter().find(|a| is_private(a.ip()))
    {
        return fail(private_refused(url, private.ip()).to_string(), true);
    }
    let body = match serde_json::to_vec(&delivery.payload) {
        Ok(body) => body,
        Err(e) => return fail(format!("cannot encode the event: {e}"), true),
    };
    let timestamp = Utc::now().timestamp();
    let signature = match super::sign(secret, &delivery.id, timestamp, &body) {
        Ok(signature) => signature,
        Err(e) => return fail(e.to_string(), true),
    };
    let client = match reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve the host itself, past the address check and the pinning.
        .no_proxy()
        .resolve(&bare, address)
        .user_agent(concat!("prompt-manager-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => return fail(format!("cannot build the HTTP client: {e}"), true),
    };
    let response = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Attempt {
            id: delivery.id.clone(),
            status: Some(r.status().as_u16()),
            error: None,
            permanent: false,
        },
        Ok(r) => Attempt {
            id: delivery.id.clone(),
            status: Some(r.status().as_u16()),
            error: Some(format!("the receiver answered {}", r.status())),
            permanent: false,
        },
        Err(e) if e.is_timeout() => fail(format!("no answer within {:?}", options.timeout), false),
        Err(e) => fail(format!("cannot reach {bare}:{port}: {e}"), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour_with_at_most_a_quarter_of_jitter() {
        let base = Duration::from_secs(5);
        for attempts in 1..30 {
            let exponential = base.saturating_mul(1 << (attempts - 1).min(20)).min(MAX_BACKOFF);
            let wait = backoff(base, attempts);
            assert!(
                wait >= exponential && wait <= exponential.mul_f64(1.25),
                "{attempts}: {wait:?}"
            );
        }
        assert!(backoff(base, 30) <= MAX_BACKOFF.mul_f64(1.25));
    }
}
