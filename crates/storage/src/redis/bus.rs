//! The invalidation bus: the Redis channel every instance publishes its writes on, and the
//! store's own change feed, which owes Redis each change before the listener hears of it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use prompt_manager_core::{ChangeListener, PromptId};

use super::Shared;

/// How often a quiet subscription writes what Redis is owed and checks that the connection still
/// answers (a half-open connection would otherwise go unnoticed).
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Waits between attempts to subscribe again: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LAST: Duration = Duration::from_secs(5);

/// Listens to the store's own feed and, in the current tokio runtime, to the channel; without a
/// runtime, only the store's feed can be heard.
pub(super) fn watch(shared: &Arc<Shared>, listener: Arc<dyn ChangeListener>) -> bool {
    let relay = Arc::new(Relay {
        shared: Arc::downgrade(shared),
        listener: Arc::clone(&listener),
    });
    let feed = shared.store.watch(relay);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return feed;
    };
    runtime.spawn(subscribe(Arc::downgrade(shared), listener));
    true
}

/// The store's feed: each change is owed to Redis (so reads bypass what Redis holds of it until
/// it is cleared) *before* the listener hears of it, so the listener's next read cannot be
/// answered by what Redis held before the change; a lost feed owes an epoch bump, which forgets
/// every entry (changes may have been missed, by writers that bypass Redis). Synchronous, as a
/// listener must be: the next read, or the bus's next quiet second, writes what is owed.
struct Relay {
    shared: Weak<Shared>,
    listener: Arc<dyn ChangeListener>,
}

impl ChangeListener for Relay {
    fn changed(&self, id: &PromptId) {
        if let Some(shared) = self.shared.upgrade() {
            shared.owe([id.clone()], false);
        }
        self.listener.changed(id);
    }

    fn lost(&self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.owe([], true);
        }
        self.listener.lost();
    }
}

/// Listens on the channel until the store is dropped, subscribing again after any loss, and
/// reports `lost` once it listens again (not when it drops: until then the instance's warm
/// cache stays usable, and nothing it holds can have been changed through Redis unheard).
async fn subscribe(shared: Weak<Shared>, listener: Arc<dyn ChangeListener>) {
    let Some((client, channel, shown)) = shared
        .upgrade()
        .map(|s| (s.client.clone(), s.channel.clone(), s.shown.clone()))
    else {
        return;
    };
    let mut missed = false;
    let mut delay = RETRY_FIRST;
    loop {
        if shared.strong_count() == 0 {
            return;
        }
        match listen(&client, &channel).await {
            Ok((mut sink, mut messages)) => {
                if let Some(shared) = shared.upgrade() {
                    shared.flush_owed().await;
                }
                if missed {
                    tracing::info!(redis = %shown, %channel, "listening to Redis again: what was cached is checked again");
                    listener.lost();
                }
                delay = RETRY_FIRST;
                loop {
                    match tokio::time::timeout(IDLE_CHECK, messages.next()).await {
                        Ok(Some(message)) => {
                            let Some(shared) = shared.upgrade() else { return };
                            shared.counters.messages.fetch_add(1, Ordering::Relaxed);
                            let payload = message.get_payload::<String>().unwrap_or_default();
                            match PromptId::new(&payload) {
                                Ok(id) => listener.changed(&id),
                                Err(e) => {
                                    tracing::warn!(redis = %shown, %channel, error = %e, "a message that names no prompt is ignored")
                                }
                            }
                        }
                        Ok(None) => break,
                        // Quiet: write what Redis is owed, and check the connection answers.
                        Err(_quiet) => {
                            let Some(shared) = shared.upgrade() else { return };
                            if shared.has_owed.load(Ordering::Acquire) {
                                shared.flush_owed().await;
                            }
                            let answered = tokio::time::timeout(RETRY_LAST, sink.ping::<redis::Value>()).await;
                            if !matches!(answered, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                tracing::warn!(redis = %shown, %channel, "the Redis subscription was lost: subscribing again");
                // Reported as lost when listening again.
                missed = true;
            }
            Err(e) => {
                if !missed {
                    tracing::warn!(redis = %shown, %channel, error = %e, "cannot subscribe to Redis: trying again");
                }
                missed = true;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RETRY_LAST);
    }
}

async fn listen(
    client: &redis::Client,
    channel: &str,
) -> Result<(redis::aio::PubSubSink, redis::aio::PubSubStream), String> {
    let connecting = tokio::time::timeout(RETRY_LAST, client.get_async_pubsub());
    let mut pubsub = connecting
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    pubsub.subscribe(channel).await.map_err(|e| e.to_string())?;
    Ok(pubsub.split())
}
