//! The change stream, `GET /v1/changes`: Server-Sent Events naming each prompt that changed —
//! through this server, or on its store by another instance when the store has a change feed
//! (PostgreSQL's `LISTEN`/`NOTIFY`, SQLite's change log) — so that a client caching prompts
//! (the remote store, an application's own cache) drops what changed within milliseconds
//! instead of polling.
//!
//! Every event has an id `EPOCH-SEQ`: the epoch is random per server process, the sequence
//! counts the changes it has seen. A client that reconnects sends the last id it read
//! (`Last-Event-ID`, or `?after=`); the server replays what it missed from a ring of the last
//! [`RING`] changes, or — when the id is from another process (a restart, another instance
//! behind a load balancer), too old, or the store's feed was interrupted — sends `reset`: the
//! client must re-validate everything it holds. A slow client that falls behind the live
//! channel gets a `reset` too; nothing is ever silently skipped.
//!
//! Events (`data` is JSON):
//! - `ready` `{"epoch", "seq"}`: first event of a stream that did not ask to resume;
//! - `change` `{"prompt", "seq"}`: prompt `prompt` changed (a version, a label, its status, or
//!   it was deleted);
//! - `reset` `{"reason", "seq"}`: changes may have been missed.
//!
//! Streams are not counted against the request concurrency limit nor the request timeout;
//! they are bounded by their own limit (503 past it) and end when the server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use prompt_manager::{ChangeListener, PromptId};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::routes::Query;
use crate::state::{AppState, ReadAccess};

/// Changes kept for clients that reconnect.
pub(crate) const RING: usize = 8_192;
/// Changes a live stream may fall behind before it is told `reset`.
const LIVE_CAPACITY: usize = 1_024;
/// How often an idle stream sends a comment, so proxies and clients see it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The reconnection delay the stream asks clients for.
const RETRY: Duration = Duration::from_millis(500);

/// One change the feed saw: a prompt, or `None` when changes may have been missed.
#[derive(Debug)]
struct Notice {
    seq: u64,
    prompt: Option<PromptId>,
}

/// The changes this server has seen, with their sequence numbers, and the live channel.
pub(crate) struct ChangeFeed {
    epoch: String,
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<Notice>>,
    closed: watch::Sender<bool>,
    streams: AtomicUsize,
    max_streams: usize,
}

struct Ring {
    /// The sequence number of the last notice (0: none yet).
    last: u64,
    notices: VecDeque<Arc<Notice>>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("epoch", &self.epoch)
            .field("streams", &self.streams.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Where a new stream starts.
enum Start {
    /// From now on (no position asked for).
    Fresh,
    /// After the position asked for, with the changes since.
    Resumed(Vec<Arc<Notice>>),
    /// The position cannot be resumed: everything must be re-validated.
    Reset(String),
}

impl ChangeFeed {
    /// A feed allowing at most `max_streams` streams at once.
    pub(crate) fn new(max_streams: usize) -> Arc<Self> {
        let mut bytes = [0u8; 8];
        // A clock-based epoch if the OS has no randomness: distinct across restarts all the same.
        let epoch = match getrandom::fill(&mut bytes) {
            Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            Err(_) => format!("{:016x}", chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()),
        };
        Arc::new(ChangeFeed {
            epoch,
            ring: Mutex::new(Ring {
                last: 0,
                notices: VecDeque::with_capacity(RING),
            }),
            live: broadcast::channel(LIVE_CAPACITY).0,
            closed: watch::channel(false).0,
            streams: AtomicUsize::new(0),
            max_streams,
        })
    }

    /// The listener to subscribe to the manager: it holds the feed weakly.
    pub(crate) fn listener(self: &Arc<Self>) -> Arc<dyn ChangeListener> {
        Arc::new(FeedListener(Arc::downgrade(self)))
    }

    /// Ends every stream (the server is shutting down).
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers and keeps a notice, and sends it to the live streams, in sequence order.
    fn push(&self, prompt: Option<PromptId>) {
        let mut ring = self.lock();
        ring.last += 1;
        let notice = Arc::new(Notice { seq: ring.last, prompt });
        if ring.notices.len() == RING {
            ring.notices.pop_front();
        }
        ring.notices.push_back(Arc::clone(&notice));
        // No receiver is not an error: nobody is listening.
        let _ = self.live.send(notice);
    }

    fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// Joins the live channel and works out where the stream starts, atomically with respect
    /// to new notices (none is both replayed and received live, none is in neither).
    fn subscribe(&self, after: Option<&str>) -> (Start, broadcast::Receiver<Arc<Notice>>, u64) {
        let ring = self.lock();
        let receiver = self.live.subscribe();
        let now = ring.last;
        let Some(after) = after else {
            return (Start::Fresh, receiver, now);
        };
        let after = after.trim();
        let parsed = after
            .split_once('-')
            .filter(|(epoch, _)| epoch.len() == 16 && epoch.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|(epoch, seq)| Some((epoch, seq.parse::<u64>().ok()?)));
        let start = match parsed {
            None => Start::Reset(format!("`{after}` is not an event id of this server")),
            Some((epoch, _)) if epoch != self.epoch => Start::Reset(format!(
                "event {after} is from another server process (restarted, or another instance)"
            )),
            Some((_, seq)) if seq > now => Start::Reset(format!("event {after} is ahead of this server's {now}")),
            Some((_, seq)) => {
                let oldest = ring.notices.front().map_or(now + 1, |n| n.seq);
                if seq + 1 < oldest {
                    Start::Reset(format!(
                        "event {after} is older than the {} changes this server keeps",
                        ring.notices.len()
                    ))
                } else {
                    Start::Resumed(ring.notices.iter().filter(|n| n.seq > seq).cloned().collect())
                }
            }
        };
        (start, receiver, now)
    }

    /// The position a lagging stream resumes from, after its `reset`.
    fn now(&self) -> u64 {
        self.lock().last
    }
}

/// Feeds the manager's changes into the [`ChangeFeed`].
struct FeedListener(Weak<ChangeFeed>);

impl ChangeListener for FeedListener {
    fn changed(&self, id: &PromptId) {
        if let Some(feed) = self.0.upgrade() {
            feed.push(Some(id.clone()));
        }
    }

    fn lost(&self) {
        if let Some(feed) = self.0.upgrade() {
            feed.push(None);
        }
    }
}

/// One stream's place in [`ChangeFeed::streams`], given back when the stream ends.
struct StreamSlot(Arc<ChangeFeed>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The query of `GET /v1/changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ChangesParams {
    /// Resume after this event id (as `Last-Event-ID` does; the header wins when both are sent)
    #[param(max_length = 64, example = "3f9a0c1d22e4b7a1-42")]
    after: Option<String>,
}

/// A `change` event's data.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChangeData {
    /// The prompt that changed: a version, a label, its status, or it was deleted
    prompt: String,
    /// The change's sequence number on this server
    seq: u64,
}

/// A `reset` event's data: changes may have been missed; re-validate everything cached.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResetData {
    /// Why
    reason: String,
    /// The position the stream continues from
    seq: u64,
}

/// A `ready` event's data: the stream starts at this position.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadyData {
    /// This server process's epoch (the first part of every event id)
    epoch: String,
    /// The position the stream starts from
    seq: u64,
}

fn event<T: Serialize>(kind: &'static str, id: String, data: &T) -> Event {
    // The data types above are strings and numbers: serializing cannot fail.
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(kind).id(id).data(json)
}

/// What a stream holds between events.
struct Cursor {
    feed: Arc<ChangeFeed>,
    pending: VecDeque<Event>,
    backlog: VecDeque<Arc<Notice>>,
    live: broadcast::Receiver<Arc<Notice>>,
    closed: watch::Receiver<bool>,
    last: u64,
    _slot: StreamSlot,
}

impl Cursor {
    fn notice(&mut self, notice: &Notice) -> Event {
        self.last = notice.seq;
        let id = self.feed.id(notice.seq);
        match &notice.prompt {
            Some(prompt) => event(
                "change",
                id,
                &ChangeData {
                    prompt: prompt.to_string(),
                    seq: notice.seq,
                },
            ),
            None => event(
                "reset",
                id,
                &ResetData {
                    reason: "the store's change feed was interrupted".to_owned(),
                    seq: notice.seq,
                },
            ),
        }
    }

    /// The next event, or `None` when the server shuts down.
    async fn next(&mut self) -> Option<Event> {
        if let Some(event) = self.pending.pop_front() {
            return Some(event);
        }
        if let Some(notice) = self.backlog.pop_front() {
            return Some(self.notice(&notice));
        }
        loop {
            if *self.closed.borrow() {
                return None;
            }
            tokio::select! {
                _ = self.closed.changed() => return None,
                received = self.live.recv() => match received {
                    // Replayed already.
                    Ok(notice) if notice.seq <= self.last => {}
                    Ok(notice) => return Some(self.notice(&notice)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        self.last = self.feed.now();
                        return Some(event(
                            "reset",
                            self.feed.id(self.last),
                            &ResetData {
                                reason: format!("this client fell {missed} changes behind"),
                                seq: self.last,
                            },
                        ));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// The `Last-Event-ID` header, or the `after` parameter.
fn resume_position(headers: &HeaderMap, params: &ChangesParams) -> Result<Option<String>, ApiError> {
    match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .map(|v| Some(v.to_owned()))
            .map_err(|_| ApiError::bad_request("the Last-Event-ID header is not ASCII")),
        None => Ok(params.after.clone()),
    }
}

/// Streams the prompts that change, as Server-Sent Events.
///
/// Send the id of the last event read as `Last-Event-ID` (or `?after=`) to resume; see the
/// module documentation for the events.
#[utoipa::path(get, path = "/v1/changes", tag = "changes",
    params(ChangesParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses(
        (status = 200, description = "A stream of `ready`, `change` and `reset` events (text/event-stream); \
            `change` data is a ChangeData, `reset` data a ResetData, `ready` data a ReadyData. It ends when the server shuts down.",
            content_type = "text/event-stream", body = String),
        (status = 400, description = "A Last-Event-ID header that is not ASCII, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many change streams are open", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn changes(
    State(state): State<AppState>,
    ReadAccess(_caller): ReadAccess,
    headers: HeaderMap,
    Query(params): Query<ChangesParams>,
) -> Result<Response, ApiError> {
    let feed = Arc::clone(&state.inner.changes);
    let after = resume_position(&headers, &params)?;
    if feed.streams.fetch_add(1, Ordering::AcqRel) >= feed.max_streams {
        feed.streams.fetch_sub(1, Ordering::AcqRel);
        let mut response = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!(
                "{} change streams are open, the most this server allows ([server] max_change_streams); retry later",
                feed.max_streams
            ),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Ok(response);
    }
    let slot = StreamSlot(Arc::clone(&feed));
    let (start, live, now) = feed.subscribe(after.as_deref());
    let mut pending = VecDeque::new();
    let mut backlog = VecDeque::new();
    let mut last = now;
    match start {
        Start::Fresh => pending.push_back(event(
            "ready",
            feed.id(now),
            &ReadyData {
                epoch: feed.epoch.clone(),
                seq: now,
            },
        )),
        Start::Resumed(missed) => {
            // Replayed from the ring; the live channel's copies of them are skipped.
            last = missed.first().map_or(now, |n| n.seq - 1);
            backlog.extend(missed);
        }
        Start::Reset(reason) => pending.push_back(event("reset", feed.id(now), &ResetData { reason, seq: now })),
    }
    if let Some(first) = pending.pop_front() {
        pending.push_front(first.retry(RETRY));
    }
    let cursor = Cursor {
        closed: feed.closed.subscribe(),
        feed,
        pending,
        backlog,
        live,
        last,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        Some((Ok::<_, Infallible>(event), cursor))
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies must pass events through as they come.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
