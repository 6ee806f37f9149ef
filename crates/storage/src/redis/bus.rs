//! The invalidation bus: the Redis channel every instance publishes its writes on, and the
//! store's own change feed relayed after clearing Redis.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use prompt_manager_core::{ChangeListener, PromptId};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::Shared;

/// How often a quiet subscription checks whether its store is still wanted.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Waits between attempts to subscribe again: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LAST: Duration = Duration::from_secs(5);

/// Starts both listeners in the current tokio runtime; without one, only the store's own feed
/// can be heard (and Redis is not cleared by it).
pub(super) fn watch(shared: &Arc<Shared>, listener: Arc<dyn ChangeListener>) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return shared.store.watch(listener);
    };
    let (events, received) = unbounded_channel();
    // A store without a feed drops `Relay` at once, which ends the relay task.
    shared.store.watch(Arc::new(Relay(events)));
    runtime.spawn(relay(Arc::downgrade(shared), received, Arc::clone(&listener)));
    runtime.spawn(subscribe(Arc::downgrade(shared), listener));
    true
}

enum Event {
    Changed(PromptId),
    Lost,
}

/// The store's feed, handed to the relay task (a listener must not block).
struct Relay(UnboundedSender<Event>);

impl ChangeListener for Relay {
    fn changed(&self, id: &PromptId) {
        let _ = self.0.send(Event::Changed(id.clone()));
    }

    fn lost(&self) {
        let _ = self.0.send(Event::Lost);
    }
}

/// Clears Redis of each prompt the store reports changed *before* the listener hears of it, so
/// the listener's next read cannot be answered by what Redis held before the change. Not
/// published: every instance hears the store's feed itself.
async fn relay(shared: Weak<Shared>, mut events: UnboundedReceiver<Event>, listener: Arc<dyn ChangeListener>) {
    while let Some(event) = events.recv().await {
        let Some(shared) = shared.upgrade() else { return };
        match event {
            Event::Changed(id) => {
                shared.invalidate(&id, false).await;
                listener.changed(&id);
            }
            Event::Lost => listener.lost(),
        }
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
            Ok(mut messages) => {
                if let Some(shared) = shared.upgrade() {
                    shared.flush_pending().await;
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
                        // Quiet: a good moment to write what Redis is owed.
                        Err(_quiet) => match shared.upgrade() {
                            None => return,
                            Some(shared) if shared.has_pending.load(Ordering::Acquire) => {
                                shared.flush_pending().await;
                            }
                            Some(_) => {}
                        },
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

async fn listen(client: &redis::Client, channel: &str) -> Result<redis::aio::PubSubStream, String> {
    let connecting = tokio::time::timeout(RETRY_LAST, client.get_async_pubsub());
    let mut pubsub = connecting
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    pubsub.subscribe(channel).await.map_err(|e| e.to_string())?;
    Ok(pubsub.into_on_message())
}
