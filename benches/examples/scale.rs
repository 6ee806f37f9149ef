//! Three `prompt-manager serve` instances on one PostgreSQL, proven together (`benches/scale.sh`).
//!
//! Writers save versions and move `production` through random instances; after every
//! acknowledged write every instance is read at once (a stale read is one that does not show
//! it), and remote-store clients (`http://` stores with a disk cache) are polled until they do
//! (propagation). Then: renders per second per instance, and faults — an instance killed and
//! restarted, PostgreSQL stopped and started (`--kill-postgres`) — with what clients and writes
//! do meanwhile. With `--redis`, the instances share a Redis cache and bus of the driver's own
//! (`redis://…?store=postgres://…`, a `redis-server` on a free port), which is killed and
//! restarted too. Prints a report; exits 1 when an acknowledged write was lost or a client never
//! converged.
//!
//! ```text
//! cargo run --release -p prompt-manager-benches --example scale -- \
//!     --bin target/release/prompt-manager --postgres postgres://postgres@127.0.0.1:5432/test
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PROMPTS: usize = 8;
const CLIENTS: usize = 3;

struct Options {
    bin: String,
    postgres: String,
    writes: usize,
    load_seconds: u64,
    kill_postgres: bool,
    redis: bool,
}

fn options() -> Options {
    let mut o = Options {
        bin: "target/release/prompt-manager".into(),
        postgres: std::env::var("PROMPT_MANAGER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        writes: 300,
        load_seconds: 5,
        kill_postgres: false,
        redis: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--bin" => o.bin = value(),
            "--postgres" => o.postgres = value(),
            "--writes" => o.writes = value().parse().expect("--writes N"),
            "--load-seconds" => o.load_seconds = value().parse().expect("--load-seconds N"),
            "--kill-postgres" => o.kill_postgres = true,
            "--redis" => o.redis = true,
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// One `serve` process.
struct Instance {
    child: Child,
    url: String,
    port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The driver's own `redis-server`, on `port`.
fn start_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn start(bin: &str, store: &str, port: u16) -> Instance {
    let mut child = Command::new(bin)
        .args(["--store", store, "serve", "--quiet", "--no-seed", "--threads", "2"])
        .args(["--port", &port.to_string()])
        .env_remove("PROMPT_MANAGER_KEYS_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("serve prints its URL").unwrap();
    std::thread::spawn(move || for _ in lines {});
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in `{first}`"))
        .trim_end_matches('/')
        .to_owned();
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    Instance { child, url, port }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn enc(reference: &str) -> String {
    reference.replace('/', "%2F").replace('@', "%40")
}

/// What `id@production` renders to on `instance` (through its registry, as applications see it).
async fn rendered_on(http: &reqwest::Client, instance: &str, id: &str) -> Option<String> {
    let response = http
        .post(format!(
            "{instance}/v1/prompts/{}/render",
            enc(&format!("{id}@production"))
        ))
        .json(&json!({"variables": {"name": "Ada"}}))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["text"].as_str().map(str::to_owned)
}

/// The version `id@production` points at, as `instance` reads it.
async fn label_on(http: &reqwest::Client, instance: &str, id: &str) -> Option<String> {
    let response = http
        .get(format!("{instance}/v1/prompts/{}/labels/production", enc(id)))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["version"].as_str().map(str::to_owned)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("pm_scale_{}_{nanos}", std::process::id());
    let separator = if o.postgres.contains('?') { '&' } else { '?' };
    let mut store = format!("{}{separator}schema={schema}", o.postgres);
    let redis_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = None;
    if o.redis {
        redis = Some(start_redis(redis_port));
        store = format!("redis://127.0.0.1:{redis_port}/0?namespace={schema}&store={store}");
    }
    let mut instances: Vec<Instance> = (0..3).map(|_| start(&o.bin, &store, 0)).collect();
    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
    println!(
        "# Three instances on one PostgreSQL schema ({schema}){}\n",
        if o.redis {
            format!(", with a shared Redis (port {redis_port})")
        } else {
            String::new()
        }
    );
    for (i, url) in urls.iter().enumerate() {
        println!("- instance {i}: {url}");
    }
    let http = reqwest::Client::new();
    for p in 0..PROMPTS {
        let created = http
            .post(format!("{}/v1/prompts", urls[p % 3]))
            .json(&json!({"prompt": {"id": format!("scale/p{p}"), "template": "v1.0.0 Hello {{ name }}"}, "labels": ["production"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    }
    // Remote-store clients, one per instance, each with its own disk cache.
    let caches = tempfile::tempdir().unwrap();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let dir = caches.path().join(format!("client{c}"));
        let pm = prompt_manager::open(&format!("{}/?cache={}", urls[c % 3], dir.display()))
            .await
            .unwrap();
        for p in 0..PROMPTS {
            pm.get(&format!("scale/p{p}@production")).await.unwrap();
        }
        clients.push(pm);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 1. Writes through random instances; every instance read right after each acknowledgement.
    let mut stale_server_reads = 0u64;
    let mut server_reads = 0u64;
    let mut server_propagation = Vec::new();
    let mut client_propagation = Vec::new();
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut refused = 0u64;
    let mut never_converged = 0u64;
    let started = Instant::now();
    for w in 0..o.writes {
        let id = format!("scale/p{}", fastrand::usize(..PROMPTS));
        let via = &urls[fastrand::usize(..3)];
        let response = http
            .put(format!("{via}/v1/prompts/{}", enc(&id)))
            .json(&json!({
                "prompt": {"id": id, "template": format!("w{w} Hello {{{{ name }}}}")},
                "bump": "patch",
                "changelog": format!("write {w}"),
                "labels": ["production"],
            }))
            .send()
            .await
            .unwrap();
        let acked = Instant::now();
        if !response.status().is_success() {
            refused += 1;
            continue;
        }
        let body: Value = response.json().await.unwrap();
        let version = body["version"]["version"].as_str().unwrap().to_owned();
        acknowledged.push((id.clone(), version.clone()));
        // Every instance and every client, at once: the first read says whether it is stale,
        // then each is polled until it shows the write.
        let mut servers = Vec::new();
        for url in &urls {
            let (http, url, id) = (http.clone(), url.clone(), id.clone());
            let expected = Some(format!("w{w} Hello Ada"));
            servers.push(tokio::spawn(async move {
                let stale = rendered_on(&http, &url, &id).await != expected;
                if stale {
                    while rendered_on(&http, &url, &id).await != expected {
                        if acked.elapsed() > Duration::from_secs(10) {
                            return (stale, None);
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                (stale, Some(acked.elapsed()))
            }));
        }
        let mut polled = Vec::new();
        for pm in &clients {
            let (pm, reference, version) = (pm.clone(), format!("{id}@production"), version.clone());
            polled.push(tokio::spawn(async move {
                loop {
                    if pm.get(&reference).await.map(|v| v.version.to_string()).ok().as_deref() == Some(&version) {
                        return Some(acked.elapsed());
                    }
                    if acked.elapsed() > Duration::from_secs(10) {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }));
        }
        for task in servers {
            let (stale, took) = task.await.unwrap();
            server_reads += 1;
            stale_server_reads += u64::from(stale);
            match took {
                Some(took) => server_propagation.push(took),
                None => never_converged += 1,
            }
        }
        for task in polled {
            match task.await.unwrap() {
                Some(took) => client_propagation.push(took),
                None => never_converged += 1,
            }
        }
    }
    // Concurrent writers on the same prompts through different instances: every write is
    // either acknowledged (and then stored) or refused with a conflict, never silently lost.
    let concurrent: Vec<_> = (0..4)
        .map(|writer| {
            let (http, urls) = (http.clone(), urls.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut conflicts = 0u64;
                for n in 0..25 {
                    let id = format!("scale/p{}", n % 2);
                    let via = &urls[(writer + n) % 3];
                    let response = http
                        .put(format!("{via}/v1/prompts/{}", enc(&id)))
                        .json(&json!({
                            "prompt": {"id": id, "template": format!("c{writer}-{n} Hello {{{{ name }}}}")},
                            "bump": "patch",
                            "changelog": format!("concurrent {writer}/{n}"),
                        }))
                        .send()
                        .await
                        .unwrap();
                    if response.status().is_success() {
                        let body: Value = response.json().await.unwrap();
                        acked.push((id, body["version"]["version"].as_str().unwrap().to_owned()));
                    } else {
                        conflicts += 1;
                    }
                }
                (acked, conflicts)
            })
        })
        .collect();
    let mut concurrent_conflicts = 0u64;
    let mut concurrent_acked = 0usize;
    for task in concurrent {
        let (acked, conflicts) = task.await.unwrap();
        concurrent_acked += acked.len();
        concurrent_conflicts += conflicts;
        acknowledged.extend(acked);
    }
    let write_phase = started.elapsed();
    // Lost updates: every acknowledged version is stored, and nothing else was added.
    let mut lost = 0u64;
    let mut stored_versions = 0usize;
    for p in 0..PROMPTS {
        let id = format!("scale/p{p}");
        let history: Value = http
            .get(format!("{}/v1/prompts/{}/versions", urls[0], enc(&id)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let versions: Vec<String> = history
            .as_array()
            .or_else(|| history["versions"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v["version"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        stored_versions += versions.len();
        for (acked_id, version) in &acknowledged {
            if *acked_id == id && !versions.contains(version) {
                lost += 1;
            }
        }
    }
    server_propagation.sort();
    client_propagation.sort();
    println!(
        "\n## Writes ({} through random instances in {:.1} s)\n",
        o.writes,
        write_phase.as_secs_f64()
    );
    println!("| figure | value |\n|---|---|");
    println!(
        "| sequential writes acknowledged / refused | {} / {refused} |",
        acknowledged.len() - concurrent_acked
    );
    println!(
        "| versions stored (8 first + acknowledged) | {stored_versions} (expected {}) |",
        PROMPTS + acknowledged.len()
    );
    println!(
        "| concurrent writes (4 writers, same 2 prompts, 3 instances): acknowledged / refused as conflicts | {concurrent_acked} / {concurrent_conflicts} |"
    );
    println!("| lost updates (acknowledged, not stored) | {lost} |");
    println!(
        "| stale server renders right after an acknowledged write (every instance) | {stale_server_reads} of {server_reads} |"
    );
    println!(
        "| ack → every instance shows it, p50 / p99 / max | {} / {} / {} |",
        ms(percentile(&server_propagation, 50.0)),
        ms(percentile(&server_propagation, 99.0)),
        ms(percentile(&server_propagation, 100.0))
    );
    println!(
        "| ack → remote-store client renders it, p50 / p99 / max ({CLIENTS} clients) | {} / {} / {} |",
        ms(percentile(&client_propagation, 50.0)),
        ms(percentile(&client_propagation, 99.0)),
        ms(percentile(&client_propagation, 100.0))
    );
    println!("| reads that never converged (10 s) | {never_converged} |");

    // 2. Renders per second per instance, all three loaded at once.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counts: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut tasks = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        for _ in 0..16 {
            let (http, url, stop, count) = (http.clone(), url.clone(), stop.clone(), counts[i].clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let ok = http
                        .post(format!("{url}/v1/prompts/scale%2Fp0%40production/render"))
                        .json(&json!({"variables": {"name": "Ada"}}))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    if ok {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(o.load_seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    println!(
        "\n## Renders per second ({} s, 16 connections per instance, all at once, client on the same 2 cores)\n",
        o.load_seconds
    );
    for (i, count) in counts.iter().enumerate() {
        println!(
            "- instance {i}: {:.0} renders/s",
            count.load(Ordering::Relaxed) as f64 / o.load_seconds as f64
        );
    }

    // 3. An instance killed and restarted.
    println!("\n## Faults\n");
    let killed_port = instances[1].port;
    drop(instances.remove(1));
    let mut warm_ok = 0;
    for _ in 0..1000 {
        if clients[1]
            .render(
                "scale/p1@production",
                &prompt_manager::Variables::new().with("name", "Ada"),
            )
            .await
            .is_ok()
        {
            warm_ok += 1;
        }
    }
    let write_to_dead = http
        .put(format!("{}/v1/prompts/scale%2Fp1/labels/production", urls[1]))
        .json(&json!({"version": "1.0.0"}))
        .send()
        .await;
    println!(
        "- instance 1 killed (SIGKILL): its remote client rendered {warm_ok}/1000 from memory; a write sent to it: {}",
        match &write_to_dead {
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => format!(
                "refused ({})",
                if e.is_connect() { "connection refused" } else { "error" }
            ),
        }
    );
    // A fresh client of the dead instance renders from its disk cache.
    let dir = caches.path().join("client1");
    let restarted_client = prompt_manager::open(&format!("{}/?cache={}", urls[1], dir.display()))
        .await
        .unwrap();
    let from_cache = restarted_client
        .render(
            "scale/p1@production",
            &prompt_manager::Variables::new().with("name", "Ada"),
        )
        .await;
    println!(
        "- a client restarted meanwhile against instance 1: {}",
        match &from_cache {
            Ok(_) => "rendered from its disk cache".to_owned(),
            Err(e) => format!("failed: {e}"),
        }
    );
    // A write through instance 0 while 1 is down, then 1 restarts on its port.
    let moved = http
        .put(format!("{}/v1/prompts/scale%2Fp1/labels/production", urls[0]))
        .json(&json!({"version": "1.0.0"}))
        .send()
        .await
        .unwrap();
    assert!(moved.status().is_success(), "{}", moved.text().await.unwrap());
    let restart = Instant::now();
    instances.insert(1, start(&o.bin, &store, killed_port));
    let mut converged = None;
    while restart.elapsed() < Duration::from_secs(20) {
        let server = label_on(&http, &urls[1], "scale/p1").await;
        let client = clients[1]
            .get("scale/p1@production")
            .await
            .map(|v| v.version.to_string())
            .ok();
        if server.as_deref() == Some("1.0.0") && client.as_deref() == Some("1.0.0") {
            converged = Some(restart.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    match converged {
        Some(took) => println!(
            "- instance 1 restarted on its port: it and its client show the move made while it was down after {}",
            ms(took)
        ),
        None => {
            never_converged += 1;
            println!("- instance 1 restarted: its client did NOT converge within 20 s");
        }
    }

    // 4. Redis killed and started again: renders and writes go on, every instance converges.
    if let Some(mut server) = redis.take() {
        let _ = server.kill();
        let _ = server.wait();
        let down = Instant::now();
        let mut renders_ok = 0;
        for url in &urls {
            for _ in 0..100 {
                let ok = http
                    .post(format!("{url}/v1/prompts/scale%2Fp3%40production/render"))
                    .json(&json!({"variables": {"name": "Ada"}}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                renders_ok += u32::from(ok);
            }
        }
        let moved = http
            .put(format!("{}/v1/prompts/scale%2Fp3/labels/production", urls[0]))
            .json(&json!({"version": "1.0.0"}))
            .send()
            .await
            .unwrap();
        let write_status = moved.status();
        let mut shown = 0;
        for url in &urls {
            let text = rendered_on(&http, url, "scale/p3").await.unwrap_or_default();
            shown += u32::from(text.starts_with("v1.0.0 "));
        }
        println!(
            "- Redis killed: renders on the servers {renders_ok}/300 ok in {}; a label move: HTTP {write_status}; instances showing it at once: {shown}/3",
            ms(down.elapsed())
        );
        if renders_ok < 300 || !write_status.is_success() || shown < 3 {
            never_converged += 1;
        }
        let back = Instant::now();
        redis = Some(start_redis(redis_port));
        // Each instance listens again within its back-off (at most 5 s); then a write through
        // one must reach the others over the bus and the feed.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let moved = http
            .put(format!("{}/v1/prompts/scale%2Fp3", urls[2]))
            .json(&json!({
                "prompt": {"id": "scale/p3", "template": "after-redis Hello {{ name }}"},
                "bump": "patch",
                "changelog": "after Redis came back",
                "labels": ["production"],
            }))
            .send()
            .await
            .unwrap();
        let acked = Instant::now();
        let mut converged = None;
        if moved.status().is_success() {
            while acked.elapsed() < Duration::from_secs(10) {
                let mut all = true;
                for url in &urls {
                    let text = rendered_on(&http, url, "scale/p3").await.unwrap_or_default();
                    all &= text.starts_with("after-redis ");
                }
                if all {
                    converged = Some(acked.elapsed());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        match converged {
            Some(took) => println!(
                "- Redis started again ({} after the kill): a write through instance 2 reached every instance in {}",
                ms(back.duration_since(down)),
                ms(took)
            ),
            None => {
                never_converged += 1;
                println!(
                    "- Redis started again: a write did NOT reach every instance within 10 s (HTTP {})",
                    moved.status()
                );
            }
        }
    }

    // 5. PostgreSQL stopped and started.
    if o.kill_postgres {
        let cluster = std::fs::read_dir("/etc/postgresql")
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name();
        let cluster = cluster.to_string_lossy().into_owned();
        let pg = |action: &str| {
            let status = Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &cluster, "main", action])
                .status()
                .unwrap();
            assert!(status.success(), "pg_ctlcluster {action}");
        };
        let render_p2 = |url: String| {
            let http = http.clone();
            async move {
                http.post(format!("{url}/v1/prompts/scale%2Fp2%40production/render"))
                    .json(&json!({"variables": {"name": "Ada"}}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        };
        for url in &urls {
            assert!(render_p2(url.clone()).await, "warm-up render on {url}");
        }
        pg("stop");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let vars = prompt_manager::Variables::new().with("name", "Ada");
        let mut renders_ok = 0;
        for url in &urls {
            renders_ok += u32::from(render_p2(url.clone()).await);
        }
        let client_ok = clients[0].render("scale/p2@production", &vars).await.is_ok();
        if renders_ok < 3 || !client_ok {
            never_converged += 1;
        }
        let write = http
            .put(format!("{}/v1/prompts/scale%2Fp2/labels/production", urls[0]))
            .json(&json!({"version": "1.0.0"}))
            .send()
            .await
            .unwrap();
        let status = write.status();
        let detail: Value = write.json().await.unwrap_or(Value::Null);
        println!(
            "- PostgreSQL stopped: warm renders on the servers {renders_ok}/3, a remote client's warm render {}; a write: HTTP {status} ({})",
            if client_ok { "ok" } else { "failed" },
            detail["detail"].as_str().unwrap_or("no detail")
        );
        pg("start");
        let back = Instant::now();
        let mut wrote = None;
        while back.elapsed() < Duration::from_secs(60) {
            let r = http
                .put(format!("{}/v1/prompts/scale%2Fp2/labels/production", urls[2]))
                .json(&json!({"version": "1.0.0"}))
                .send()
                .await
                .unwrap();
            if r.status().is_success() {
                wrote = Some(back.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let converged = async {
            for url in &urls {
                if label_on(&http, url, "scale/p2").await.as_deref() != Some("1.0.0") {
                    return false;
                }
            }
            true
        }
        .await;
        println!(
            "- PostgreSQL started again: the first write succeeded after {}; every instance shows it: {converged}",
            wrote.map_or_else(|| "NEVER (60 s)".to_owned(), ms)
        );
    }

    // Drop the schema.
    drop(instances);
    if let Some(mut server) = redis {
        let _ = server.kill();
        let _ = server.wait();
    }
    if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&o.postgres)
        .await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&pool)
        .await;
    }
    if lost > 0 || never_converged > 0 {
        eprintln!("FAILED: {lost} lost updates, {never_converged} reads that never converged or renders that failed");
        std::process::exit(1);
    }
}
