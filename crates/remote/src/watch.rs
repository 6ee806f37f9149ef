//! The change feed of the remote store: a task reading the server's `GET /v1/changes`
//! (Server-Sent Events, parsed here: `event:`, `id:`, `data:` lines, blank-line separated) and
//! telling a [`ChangeListener`] — `changed(id)` on `change`, `lost()` on `reset` and on a
//! `ready` (a stream that did not resume: anything cached may be stale). A dropped connection is
//! reconnected with backoff and jitter, sending `Last-Event-ID`; the drop itself reports nothing,
//! since the server replays what was missed or, when it cannot, starts with `reset`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use prompt_manager_core::{ChangeListener, PromptId};

use crate::http::{Client, with_jitter};

/// The first pause before reconnecting; doubled after each failure, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between reconnections.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A stream that says nothing for this long (the server sends a comment every 15 s) is dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// One parsed event.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) event: String,
    pub(crate) id: Option<String>,
    pub(crate) data: String,
}

/// An incremental parser of an event stream.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    buffer: Vec<u8>,
}

impl Parser {
    /// Feeds bytes; returns the events they complete (comments and empty blocks skipped).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, sep)) = block_end(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end + sep).collect();
            let text = String::from_utf8_lossy(&block[..end]);
            let mut event = Event::default();
            let mut any = false;
            for line in text.lines() {
                let (field, value) = match line.split_once(':') {
                    Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                    None => (line, ""),
                };
                match field {
                    "" => {} // a comment
                    "event" => {
                        event.event = value.to_owned();
                        any = true;
                    }
                    "id" => event.id = Some(value.to_owned()),
                    "data" => {
                        if any && !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                        any = true;
                    }
                    _ => {}
                }
            }
            if any {
                if event.event.is_empty() {
                    event.event = "message".to_owned();
                }
                events.push(event);
            }
        }
        events
    }
}

/// Where the first block ends (`\n\n` or `\r\n\r\n`) and the separator's length.
fn block_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Starts the task; it ends when `alive` can no longer be upgraded (the store was dropped).
pub(crate) fn spawn<T: Send + Sync + 'static>(
    client: Client,
    listener: Arc<dyn ChangeListener>,
    alive: Weak<T>,
) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("the http store's change feed needs a tokio runtime; caches over it will not hear of changes");
        return false;
    };
    runtime.spawn(run(client, listener, alive));
    true
}

async fn run<T>(client: Client, listener: Arc<dyn ChangeListener>, alive: Weak<T>) {
    let mut last_id: Option<String> = None;
    let mut backoff = FIRST_BACKOFF;
    while alive.strong_count() > 0 {
        match read_stream(&client, listener.as_ref(), &mut last_id, &alive).await {
            // The stream delivered events before it ended: reconnect at once.
            Ok(true) => backoff = FIRST_BACKOFF,
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "the change stream failed; reconnecting"),
        }
        if alive.strong_count() == 0 {
            break;
        }
        tokio::time::sleep(with_jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads one connection until it ends; returns whether it read any event.
async fn read_stream<T>(
    client: &Client,
    listener: &dyn ChangeListener,
    last_id: &mut Option<String>,
    alive: &Weak<T>,
) -> Result<bool, String> {
    let mut request = client
        .request(reqwest::Method::GET, "/v1/changes")
        .header("accept", "text/event-stream");
    if let Some(id) = last_id.as_deref() {
        request = request.header("last-event-id", id);
    }
    let mut response = request.send().await.map_err(|e| client.unreachable(&e).to_string())?;
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.unwrap_or_default();
        return Err(client.problem(status, &body).to_string());
    }
    let mut parser = Parser::default();
    let mut any = false;
    loop {
        let chunk = match tokio::time::timeout(IDLE_TIMEOUT, response.chunk()).await {
            Err(_) => return Err("the change stream was idle too long".to_owned()),
            Ok(Err(e)) => return Err(client.unreachable(&e).to_string()),
            Ok(Ok(None)) => return Ok(any),
            Ok(Ok(Some(chunk))) => chunk,
        };
        if alive.strong_count() == 0 {
            return Ok(any);
        }
        for event in parser.feed(&chunk) {
            any = true;
            if let Some(id) = event.id.clone().filter(|id| !id.is_empty()) {
                *last_id = Some(id);
            }
            deliver(listener, &event);
        }
    }
}

fn deliver(listener: &dyn ChangeListener, event: &Event) {
    match event.event.as_str() {
        "change" => {
            let prompt = serde_json::from_str::<serde_json::Value>(&event.data)
                .ok()
                .and_then(|v| v.get("prompt").and_then(|p| p.as_str()).map(str::to_owned))
                .and_then(|p| PromptId::new(&p).ok());
            match prompt {
                Some(id) => listener.changed(&id),
                // A change we cannot read: assume anything changed.
                None => listener.lost(),
            }
        }
        // `ready`: a stream that did not resume (the first, or one without an id to resume from).
        "reset" | "ready" => listener.lost(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn events_are_parsed_across_chunks_and_comments_are_skipped() {
        let mut parser = Parser::default();
        assert!(parser.feed(b": keep-alive\n\nevent: cha").is_empty());
        let events = parser.feed(b"nge\nid: e-1\ndata: {\"prompt\":\"a/b\",\"seq\":1}\n\nretry: 500\n\n");
        assert_eq!(
            events,
            vec![Event {
                event: "change".into(),
                id: Some("e-1".into()),
                data: "{\"prompt\":\"a/b\",\"seq\":1}".into()
            }]
        );
        let events = parser.feed(b"event:reset\r\nid:e-2\r\ndata:{}\r\n\r\n");
        assert_eq!(events[0].event, "reset");
        assert_eq!(events[0].id.as_deref(), Some("e-2"));
    }
}
