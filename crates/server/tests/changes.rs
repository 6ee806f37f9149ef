//! `GET /v1/changes` through a real socket: a change made through the API, through another
//! instance on the same SQLite file, or by `refresh` reaches an open stream; a reconnect with
//! `Last-Event-ID` replays exactly what it missed, and an id it cannot resume gets `reset`; the
//! stream limit answers 503; shutting down ends the streams.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use prompt_manager::{Prompt, PromptManager};
use prompt_manager_server::{AppOptions, Server, ServerConfig};
use serde_json::{Value, json};

/// How long an expected event may take before the test fails (delivery is milliseconds).
const DEADLINE: Duration = Duration::from_secs(10);

/// A server on a free loopback port over `pm`; its base URL. It stops when `stop` fires.
async fn serve(pm: PromptManager, options: AppOptions, stop: tokio::sync::oneshot::Receiver<()>) -> String {
    let config = ServerConfig {
        store: "test".into(),
        bind: "127.0.0.1:0".parse().unwrap(),
        app: options,
        seed_example: false,
        shutdown_grace: Duration::from_secs(5),
    };
    let server = Server::bind_with(pm, config).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    tokio::spawn(server.run(async move {
        let _ = stop.await;
    }));
    url
}

/// One event of a stream.
#[derive(Debug, Clone)]
struct Sse {
    event: String,
    id: String,
    data: Value,
}

/// An open stream and what it has read but not parsed yet.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(url: &str, last_event_id: Option<&str>) -> Stream {
        let mut request = reqwest::Client::new().get(format!("{url}/v1/changes"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), or `None` when the stream ended.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if event.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data).unwrap();
                return Some(Sse { event, id, data });
            }
            let chunk = tokio::time::timeout(DEADLINE, self.response.chunk())
                .await
                .expect("no event within the deadline")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn expect(&mut self, kind: &str) -> Sse {
        let event = self.next().await.expect("the stream ended");
        assert_eq!(event.event, kind, "{event:?}");
        event
    }
}

async fn set_label(url: &str, id: &str, label: &str, version: &str) {
    let response = reqwest::Client::new()
        .put(format!("{url}/v1/prompts/{}/labels/{label}", id.replace('/', "%2F")))
        .json(&json!({ "version": version }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_open_streams_and_a_reconnect_replays_exactly_what_it_missed() {
    let folder = tempfile::tempdir().unwrap();
    let file = format!("sqlite://{}", folder.path().join("prompts.db").display());
    let pm = prompt_manager::open(&file).await.unwrap();
    pm.create(Prompt::text("support/triage", "Hello {{ name }}").unwrap())
        .await
        .unwrap();
    let (_stop, stop) = tokio::sync::oneshot::channel();
    let url = serve(pm.clone(), AppOptions::default(), stop).await;

    let mut stream = Stream::open(&url, None).await;
    let ready = stream.expect("ready").await;
    let epoch = ready.data["epoch"].as_str().unwrap().to_owned();
    assert_eq!(ready.id, format!("{epoch}-{}", ready.data["seq"]));

    // Through the API: the change arrives, with the prompt's id.
    let started = Instant::now();
    set_label(&url, "support/triage", "production", "1.0.0").await;
    let change = stream.expect("change").await;
    let latency = started.elapsed();
    assert_eq!(change.data["prompt"], "support/triage");
    assert!(latency < DEADLINE, "{latency:?}");
    // The manager may hear a write twice (its own, then the store's feed echoing it).
    let mut last;

    // Through another instance on the same file: the store's change feed carries it.
    let other = prompt_manager::open(&file).await.unwrap();
    other.create(Prompt::text("elsewhere", "Hi").unwrap()).await.unwrap();
    loop {
        let event = stream.expect("change").await;
        last = event.id.clone();
        if event.data["prompt"] == "elsewhere" {
            break;
        }
        assert_eq!(event.data["prompt"], "support/triage", "{event:?}");
    }
    drop(stream);

    // Missed while disconnected: replayed in order, then the stream goes on live.
    pm.refresh(&"a".parse().unwrap());
    pm.refresh(&"b".parse().unwrap());
    let mut resumed = Stream::open(&url, Some(&last)).await;
    let mut replayed = Vec::new();
    while replayed.len() < 2 {
        let event = resumed.expect("change").await;
        // An echo of the earlier write may still come first.
        if event.data["prompt"] != "elsewhere" {
            replayed.push(event);
        }
    }
    assert_eq!(replayed[0].data["prompt"], "a");
    assert_eq!(replayed[1].data["prompt"], "b");
    let seq = |e: &Sse| e.data["seq"].as_u64().unwrap();
    assert_eq!(seq(&replayed[1]), seq(&replayed[0]) + 1);
    pm.refresh(&"c".parse().unwrap());
    let live = resumed.expect("change").await;
    assert_eq!(live.data["prompt"], "c");
    assert_eq!(seq(&live), seq(&replayed[1]) + 1, "nothing skipped, nothing twice");

    // `?after=` works as the header does.
    let response = reqwest::Client::new()
        .get(format!("{url}/v1/changes?after={}", replayed[1].id))
        .send()
        .await
        .unwrap();
    let mut by_query = Stream {
        response,
        buffer: String::new(),
    };
    assert_eq!(by_query.expect("change").await.data["prompt"], "c");

    // Ids this server cannot resume from: told to re-validate everything.
    for (id, reason) in [
        ("0123456789abcdef-3", "another server process"),
        (&format!("{epoch}-999999") as &str, "ahead of"),
        ("not-an-id", "not an event id"),
        ("garbage", "not an event id"),
    ] {
        let mut stream = Stream::open(&url, Some(id)).await;
        let reset = stream.expect("reset").await;
        assert!(
            reset.data["reason"].as_str().unwrap().contains(reason),
            "{id}: {reset:?}"
        );
        // And then it is live like any other.
        pm.refresh(&"d".parse().unwrap());
        loop {
            let event = stream.expect("change").await;
            if event.data["prompt"] == "d" {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_far_behind_is_reset_and_the_stream_limit_answers_503() {
    let pm = prompt_manager::in_memory();
    let (_stop, stop) = tokio::sync::oneshot::channel();
    let options = AppOptions {
        max_change_streams: 2,
        ..AppOptions::default()
    };
    let url = serve(pm.clone(), options, stop).await;
    let mut first = Stream::open(&url, None).await;
    let ready = first.expect("ready").await;
    // More changes than the server keeps: a reconnect from before them cannot be replayed.
    for i in 0..9_000 {
        pm.refresh(&format!("p{i}").parse().unwrap());
    }
    drop(first);
    let mut behind = Stream::open(&url, Some(&ready.id)).await;
    let reset = behind.expect("reset").await;
    assert!(
        reset.data["reason"]
            .as_str()
            .unwrap()
            .contains("older than the 8192 changes"),
        "{reset:?}"
    );
    assert_eq!(reset.data["seq"], 9_000);

    // Two streams open (the limit): a third is refused with a problem and Retry-After.
    let _second = Stream::open(&url, None).await;
    let refused = reqwest::get(format!("{url}/v1/changes")).await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "too_many_streams", "{problem}");
    // A closed stream gives its place back.
    drop(behind);
    let started = Instant::now();
    loop {
        let response = reqwest::get(format!("{url}/v1/changes")).await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_ends_the_streams() {
    let (stop_tx, stop) = tokio::sync::oneshot::channel();
    let url = serve(prompt_manager::in_memory(), AppOptions::default(), stop).await;
    let mut stream = Stream::open(&url, None).await;
    stream.expect("ready").await;
    let started = Instant::now();
    stop_tx.send(()).unwrap();
    assert!(stream.next().await.is_none(), "the stream ends");
    // Well before the 5 s grace period: the server did not wait for the stream.
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_need_a_read_key_when_the_server_has_keys() {
    let folder = tempfile::tempdir().unwrap();
    let keys = folder.path().join("keys.json");
    let key = prompt_manager_server::keys::create(&keys, "reader", prompt_manager_server::keys::Scope::Read)
        .unwrap()
        .token;
    let (_stop, stop) = tokio::sync::oneshot::channel();
    let options = AppOptions {
        keys_file: Some(keys),
        ..AppOptions::default()
    };
    let url = serve(prompt_manager::in_memory(), options, stop).await;
    let anonymous = reqwest::get(format!("{url}/v1/changes")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let mut keyed = reqwest::Client::new()
        .get(format!("{url}/v1/changes"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), 200);
    let first = tokio::time::timeout(DEADLINE, keyed.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(std::str::from_utf8(&first).unwrap().contains("event: ready"));
}
