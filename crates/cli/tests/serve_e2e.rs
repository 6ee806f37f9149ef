//! `prompt-manager serve` end to end over a real socket: keys made with `prompt-manager keys`,
//! writes through HTTP, a request in flight while SIGTERM arrives (drained, exit 0), a restart on
//! the same SQLite file that finds every acknowledged write, and revocation without restart.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_prompt-manager");

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        // Only if a test failed midway: never leave the server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Served {
    serve_with_env(dir, extra, &[])
}

fn serve_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(["serve", "--port", "0", "--threads", "2"])
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("PROMPT_MANAGER_STORE")
        .env_remove("PROMPT_MANAGER_KEYS_FILE")
        .env_remove("PROMPT_MANAGER_BIND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a banner").unwrap();
    let ui = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in `{first}`"))
        .to_owned();
    // The first line is the web UI's URL (or, with --quiet, the bare server URL).
    let url = ui.trim_end_matches("/ui/").to_owned();
    assert!(
        extra.contains(&"--quiet") || (first.starts_with("Open the web UI") && ui.ends_with("/ui/")),
        "the banner starts with the UI's URL: {first}"
    );
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, url }
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < limit, "the server did not stop within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    cli_with_env(dir, args, &[])
}

fn cli_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("PROMPT_MANAGER_STORE")
        .env_remove("PROMPT_MANAGER_KEYS_FILE")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

struct Client {
    http: reqwest::blocking::Client,
    url: String,
    key: String,
}

impl Client {
    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

#[test]
fn serve_drains_on_sigterm_and_a_restart_finds_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let created = cli(dir.path(), &["keys", "create", "e2e", "--scope", "admin", "-o", "json"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = serde_json::from_slice::<Value>(&created.stdout).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let reader = cli(
        dir.path(),
        &["keys", "create", "reader", "--scope", "read", "-o", "json"],
    );
    let reader_key = serde_json::from_slice::<Value>(&reader.stdout).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = cli(dir.path(), &["keys", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("e2e") && listed.contains("admin") && !listed.contains(&key[16..]),
        "{listed}"
    );

    let mut server = serve(dir.path(), &[]);
    let client = Client {
        http: reqwest::blocking::Client::new(),
        url: server.url.clone(),
        key: key.clone(),
    };
    // The seeded example renders.
    let (status, body) = client.send(
        reqwest::Method::POST,
        "/v1/prompts/examples%2Fgreeting%40production/render",
        Some(json!({"variables": {"name": "Ada"}})),
    );
    assert_eq!(
        (status, body["text"].as_str()),
        (200, Some("Hello Ada! Welcome to prompt-manager."))
    );
    // Keys are required and checked.
    let anonymous = reqwest::blocking::get(format!("{}/v1/prompts", server.url)).unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // Writes, each acknowledged.
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for i in 0..5 {
        let id = format!("e2e/p{i}");
        let (status, body) = client.send(
            reqwest::Method::POST,
            "/v1/prompts",
            Some(json!({"prompt": {"id": id, "template": format!("v1 {i} {{{{ x }}}}")}})),
        );
        assert_eq!(status, 201, "{body}");
        acknowledged.push((id.clone(), "1.0.0".into()));
        let (status, body) = client.send(
            reqwest::Method::PUT,
            &format!("/v1/prompts/e2e%2Fp{i}"),
            Some(json!({"prompt": {"id": id, "template": format!("v2 {i} {{{{ x }}}}")}, "bump": "minor", "changelog": "two"})),
        );
        assert_eq!(status, 201, "{body}");
        acknowledged.push((id.clone(), "1.1.0".into()));
    }
    let (status, _) = client.send(
        reqwest::Method::PUT,
        "/v1/prompts/e2e%2Fp0/labels/production",
        Some(json!({"version": "1.0.0"})),
    );
    assert_eq!(status, 200);

    // Revocation takes effect without a restart.
    let as_reader = Client {
        key: reader_key,
        ..Client {
            http: reqwest::blocking::Client::new(),
            url: server.url.clone(),
            key: String::new(),
        }
    };
    assert_eq!(as_reader.send(reqwest::Method::GET, "/v1/prompts", None).0, 200);
    assert!(cli(dir.path(), &["keys", "revoke", "reader"]).status.success());
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(as_reader.send(reqwest::Method::GET, "/v1/prompts", None).0, 401);

    // Keys created and revoked on the command line are in the store's audit log beside the
    // admin key's writes (never their secrets), and the log's chain verifies.
    let (status, audit) = client.send(reqwest::Method::GET, "/v1/audit?limit=1000", None);
    assert_eq!(status, 200, "{audit}");
    let entries = audit["entries"].as_array().unwrap();
    let count = |action: &str| entries.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("key_created"), 2, "{audit}");
    assert_eq!(count("key_revoked"), 1, "{audit}");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "label_set" && e["actor"] == "e2e" && e["prompt"] == "e2e/p0"),
        "{audit}"
    );
    assert!(
        !audit.to_string().contains(&key[16..]),
        "a key's secret is never logged"
    );
    let (status, verified) = client.send(reqwest::Method::GET, "/v1/audit/verify", None);
    assert_eq!((status, &verified["ok"]), (200, &json!(true)), "{verified}");

    // A request in flight when SIGTERM arrives: headers now, the body after the signal.
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).unwrap();
    let body = json!({"prompt": {"id": "e2e/in-flight", "template": "drained {{ x }}"}}).to_string();
    write!(
        slow,
        "POST /v1/prompts HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    slow.write_all(&body.as_bytes()[..10]).unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&server.child);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server waits for the request in flight"
    );
    slow.write_all(&body.as_bytes()[10..]).unwrap();
    let mut reply = String::new();
    slow.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 201"),
        "the request in flight was answered: {reply}"
    );
    acknowledged.push(("e2e/in-flight".into(), "1.0.0".into()));
    let status = wait_exit(&mut server.child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    let mut stderr = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(TcpStream::connect(&addr).is_err(), "nothing listens after the stop");
    drop(server);

    // Restart on the same file: everything acknowledged is there.
    let server = serve(dir.path(), &[]);
    let client = Client {
        url: server.url.clone(),
        ..client
    };
    for (id, version) in &acknowledged {
        let path = format!("/v1/prompts/{}@{version}", id.replace('/', "%2F"));
        let (status, body) = client.send(reqwest::Method::GET, &path, None);
        assert_eq!(status, 200, "{id}@{version} after the restart: {body}");
        assert_eq!(body["version"], version.as_str());
    }
    let (_, labels) = client.send(reqwest::Method::GET, "/v1/prompts/e2e%2Fp0/labels", None);
    assert_eq!(labels["labels"]["production"], "1.0.0");
    let (_, list) = client.send(reqwest::Method::GET, "/v1/prompts?prefix=e2e%2F", None);
    assert_eq!(list["items"].as_array().unwrap().len(), 6);
    let mut server = server;
    sigterm(&server.child);
    assert_eq!(wait_exit(&mut server.child, Duration::from_secs(20)).code(), Some(0));
}

#[test]
fn a_public_address_without_keys_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("PROMPT_MANAGER_STORE")
        .env_remove("PROMPT_MANAGER_KEYS_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without API keys"),
        "{stderr}"
    );
    assert!(stderr.contains("keys create"), "{stderr}");
    assert!(!dir.path().join("prompt-manager.db").exists(), "nothing was created");
}

#[test]
fn serve_prices_from_the_config_file_and_runtime_changes_over_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prompt-manager.toml"),
        "store = \"sqlite://./pm.db\"\n[prices.\"my-model\"]\ninput = 0.5\noutput = 1.5\n",
    )
    .unwrap();
    let mut served = serve(dir.path(), &["--quiet"]);
    let client = Client {
        http: reqwest::blocking::Client::new(),
        url: served.url.clone(),
        key: String::new(),
    };
    let (status, body) = client.send(reqwest::Method::GET, "/v1/prices/my-model", None);
    assert_eq!(
        (status, &body["input"], &body["output"]),
        (200, &json!(0.5), &json!(1.5)),
        "{body}"
    );
    let (status, body) = client.send(reqwest::Method::GET, "/v1/prices/claude-haiku-4-5-20251001", None);
    assert_eq!((status, &body["input"]), (200, &json!(1.0)), "{body}");
    let (status, body) = client.send(reqwest::Method::GET, "/v1/prices/other-model", None);
    assert_eq!((status, &body["code"]), (404, &json!("no_price")), "{body}");
    let (status, body) = client.send(
        reqwest::Method::PUT,
        "/v1/prices/other-model",
        Some(json!({"input": 3.0, "output": 9.0})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, body) = client.send(reqwest::Method::GET, "/v1/prices", None);
    let listed = body["prices"].as_array().unwrap();
    assert!(
        listed.iter().any(|p| p["model"] == "other-model" && p["output"] == 9.0),
        "{body}"
    );
    assert!(
        listed.iter().any(|p| p["model"] == "my-model" && p["input"] == 0.5),
        "{body}"
    );
    sigterm(&served.child);
    assert!(wait_exit(&mut served.child, Duration::from_secs(10)).success());
}

#[test]
fn two_servers_on_one_sqlite_file_serve_each_split_key_the_same_variant() {
    let dir = tempfile::tempdir().unwrap();
    let created = cli(dir.path(), &["keys", "create", "e2e", "--scope", "admin", "-o", "json"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = serde_json::from_slice::<Value>(&created.stdout).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = serve(dir.path(), &["--quiet"]);
    let client = |url: &str| Client {
        http: reqwest::blocking::Client::new(),
        url: url.to_owned(),
        key: key.clone(),
    };
    let first = client(&a.url);
    let id = "e2e%2Fsplit";
    let (status, body) = first.send(
        reqwest::Method::POST,
        "/v1/prompts",
        Some(json!({"prompt": {"id": "e2e/split", "template": "A {{ x }}"}})),
    );
    assert_eq!(status, 201, "{body}");
    for template in ["B {{ x }}", "C {{ x }}"] {
        let (status, body) = first.send(
            reqwest::Method::PUT,
            &format!("/v1/prompts/{id}"),
            Some(json!({"prompt": {"id": "e2e/split", "template": template}, "bump": "minor", "changelog": "next"})),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = first.send(
        reqwest::Method::PUT,
        &format!("/v1/prompts/{id}/labels/production/split"),
        Some(json!({"variants": [
            {"version": "1.0.0", "weight": 60}, {"version": "1.1.0", "weight": 30}, {"version": "1.2.0", "weight": 10}
        ]})),
    );
    assert_eq!(status, 200, "{body}");
    let b = serve(dir.path(), &["--quiet"]);
    let second = client(&b.url);
    let variant = |c: &Client, key: &str| {
        let (status, body) = c.send(
            reqwest::Method::POST,
            &format!("/v1/prompts/{id}%40production/render"),
            Some(json!({"variables": {"x": "1"}, "split_key": key})),
        );
        assert_eq!(status, 200, "{body}");
        body["variant"]["version"].as_str().unwrap().to_owned()
    };
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..30 {
        let key = format!("user-{i}");
        let on_a = variant(&first, &key);
        assert_eq!(variant(&second, &key), on_a, "{key}: both servers agree");
        // And the command line, a third process, agrees too.
        let out = cli(
            dir.path(),
            &[
                "render",
                "e2e/split@production",
                "-v",
                "x=1",
                "--split-key",
                &key,
                "-o",
                "json",
            ],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rendered: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rendered["variant"]["version"], on_a.as_str());
        seen.insert(on_a);
    }
    assert!(seen.len() >= 2, "30 keys spread over the variants: {seen:?}");
    // Ending the test through one server is what the other serves next.
    let (status, body) = first.send(
        reqwest::Method::PUT,
        &format!("/v1/prompts/{id}/labels/production"),
        Some(json!({"version": "1.2.0"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = second.send(
        reqwest::Method::POST,
        &format!("/v1/prompts/{id}%40production/render"),
        Some(json!({"variables": {"x": "1"}, "split_key": "user-1"})),
    );
    assert_eq!((status, body["version"].as_str()), (200, Some("1.2.0")), "{body}");
    assert!(body.get("variant").is_none(), "{body}");
    drop((a, b));
}

/// Two `serve` processes on one PostgreSQL schema, as N instances behind a load balancer: the
/// renders each served are recorded, flushed on SIGTERM, and add up exactly in the shared store.
#[test]
fn two_servers_on_one_postgres_add_up_their_usage_exactly() {
    let Some(schema) = prompt_manager_tests::postgres::TestSchema::new("serve_e2e::two_servers_on_one_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = ["--quiet", "--no-seed", "--store", schema.url()];
    let mut a = serve(dir.path(), &store);
    let mut b = serve(dir.path(), &store);
    let http = reqwest::blocking::Client::new();
    let created = http
        .post(format!("{}/v1/prompts", a.url))
        .json(&json!({"prompt": {"id": "e2e/sum", "template": "Hello {{ name }}"}, "labels": ["production"]}))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().unwrap());
    let render = |url: &str| {
        let response = http
            .post(format!("{url}/v1/prompts/e2e%2Fsum%40production/render"))
            .json(&json!({"variables": {"name": "Ada"}}))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    };
    let (on_a, on_b) = (120u64, 80u64);
    for i in 0..on_a.max(on_b) {
        if i < on_a {
            render(&a.url);
        }
        if i < on_b {
            render(&b.url);
        }
    }
    for served in [&mut a, &mut b] {
        sigterm(&served.child);
        assert!(wait_exit(&mut served.child, Duration::from_secs(30)).success());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let renders: u64 = runtime.block_on(async {
        let pm = prompt_manager::open(schema.url()).await.unwrap();
        let query = prompt_manager::AnalyticsQuery::last(
            Duration::from_secs(86_400),
            prompt_manager::Bucket::Hour,
            prompt_manager::GroupBy::Version,
        );
        let analytics = pm.analytics("e2e/sum", &query).await.unwrap();
        analytics.groups.iter().map(|g| g.totals.renders).sum()
    });
    assert_eq!(renders, on_a + on_b, "both servers' renders, each counted once");
}

/// Takes HTTP/1.1 POSTs on 127.0.0.1 (keep-alive, `Content-Length` bodies, as the OTLP/HTTP
/// exporter sends them), answers 200, and hands each (path, body) over. Returns its base URL.
fn otlp_receiver() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut writer = stream.try_clone()?;
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header)?;
                        match header.trim_end().split_once(':') {
                            Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                                length = value.trim().parse().unwrap_or(0);
                            }
                            Some(_) => {}
                            None => break,
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body)?;
                    writer.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
                    )?;
                    let _ = tx.send((path, body));
                }
            });
        }
    });
    (base, rx)
}

#[test]
fn serve_exports_traces_and_metrics_over_otlp_when_an_endpoint_is_set() {
    let (base, received) = otlp_receiver();
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve_with_env(
        dir.path(),
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &base), ("OTEL_SERVICE_NAME", "pm-e2e")],
    );
    // The seeded example, rendered through the API.
    let rendered = reqwest::blocking::Client::new()
        .post(format!(
            "{}/v1/prompts/examples%2Fgreeting%40production/render",
            served.url
        ))
        .json(&json!({"variables": {"name": "Ada"}}))
        .send()
        .unwrap();
    assert_eq!(rendered.status(), 200);
    // SIGTERM: the exporters send what they buffered before the process ends.
    sigterm(&served.child);
    assert!(wait_exit(&mut served.child, Duration::from_secs(30)).success());
    let mut traces = Vec::new();
    let mut metrics = Vec::new();
    while let Ok((path, body)) = received.recv_timeout(Duration::from_secs(5)) {
        match path.as_str() {
            "/v1/traces" => traces.extend(body),
            "/v1/metrics" => metrics.extend(body),
            other => panic!("unexpected OTLP path {other}"),
        }
    }
    // Protobuf keeps strings as they are: the span, its prompt and the service are in the bytes
    // (crates/observability/tests/otlp_export.rs decodes them with the official definitions).
    let has = |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    assert!(has(&traces, "prompt_manager.render_prompt"), "no render span exported");
    assert!(has(&traces, "examples/greeting"), "the span names its prompt");
    assert!(has(&traces, "pm-e2e"), "the service name is OTEL_SERVICE_NAME");
    assert!(
        has(&metrics, "prompt_manager.render.duration"),
        "no render metrics exported"
    );
    assert!(
        has(&metrics, "examples/greeting"),
        "the render metrics name their prompt"
    );
}

/// A prompt engineer's laptop on the team server: with the server gone, `render` of a reference
/// seen before still works from the user's cache folder and says so on stderr, with when; a
/// reference never seen fails clearly; a bundle exported while the server was up serves what it
/// holds with no cache at all.
#[test]
fn the_cli_renders_from_its_cache_and_from_a_bundle_while_the_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let server_dir = dir.path().join("server");
    std::fs::create_dir(&server_dir).unwrap();
    let cache = dir.path().join("cache");
    let cache_env = [("PROMPT_MANAGER_CACHE_DIR", cache.to_str().unwrap())];
    let mut served = serve(&server_dir, &[]);
    let store = served.url.clone();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--store", store.as_str()];
        all.extend_from_slice(args);
        cli_with_env(dir.path(), &all, env)
    };
    let ok = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&run(
        &[
            "create",
            "--id",
            "team/greet",
            "-t",
            "Hello {{ name }}!",
            "-l",
            "production",
        ],
        &cache_env,
    ));
    let online = run(&["render", "team/greet@production", "-v", "name=Ada"], &cache_env);
    assert_eq!(ok(&online).trim(), "Hello Ada!");
    assert!(!String::from_utf8_lossy(&online.stderr).contains("copy"));
    let bundle = dir.path().join("prompts.bundle");
    let exported = run(
        &[
            "bundle",
            "export",
            "team/greet",
            "--label",
            "production",
            "--file",
            bundle.to_str().unwrap(),
            "-o",
            "json",
        ],
        &cache_env,
    );
    let exported: Value = serde_json::from_str(&ok(&exported)).unwrap();
    assert_eq!(exported["references"], json!(["team/greet@production"]));
    assert_eq!(exported["versions"], json!(["team/greet 1.0.0"]));
    let sha256 = exported["sha256"].as_str().unwrap().to_owned();

    sigterm(&served.child);
    wait_exit(&mut served.child, Duration::from_secs(20));

    let offline = run(&["render", "team/greet@production", "-v", "name=Ada"], &cache_env);
    assert_eq!(ok(&offline).trim(), "Hello Ada!");
    let stderr = String::from_utf8_lossy(&offline.stderr);
    assert!(
        stderr.contains("served a cached copy of team/greet@production from 20"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot be reached"), "{stderr}");
    assert!(stderr.contains(cache.to_str().unwrap()), "{stderr}");

    let unseen = run(&["render", "team/greet@1.0.0", "-v", "name=Ada"], &cache_env);
    assert!(!unseen.status.success());
    let stderr = String::from_utf8_lossy(&unseen.stderr);
    assert!(stderr.contains("cannot be reached"), "{stderr}");

    // No cache at all: the bundle, pinned to its hash, is the last resort.
    let pinned = format!("{store}/?bundle={}&bundle_sha256={sha256}", bundle.display());
    let from_bundle = cli_with_env(
        dir.path(),
        &[
            "--store",
            &pinned,
            "render",
            "team/greet@production",
            "-v",
            "name=Grace",
        ],
        &[("PROMPT_MANAGER_CACHE_DIR", "off")],
    );
    assert_eq!(ok(&from_bundle).trim(), "Hello Grace!");
    let stderr = String::from_utf8_lossy(&from_bundle.stderr);
    assert!(
        stderr.contains("served the bundle's copy of team/greet@production"),
        "{stderr}"
    );

    let inspected = cli(
        dir.path(),
        &["bundle", "inspect", bundle.to_str().unwrap(), "--sha256", &sha256],
    );
    assert!(ok(&inspected).contains("holds team/greet 1.0.0"));
    let text = std::fs::read_to_string(&bundle).unwrap();
    std::fs::write(&bundle, text.replace("Hello", "Hullo")).unwrap();
    let refused = cli(dir.path(), &["bundle", "inspect", bundle.to_str().unwrap()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("prompts.bundle") && stderr.contains("hashes to"),
        "{stderr}"
    );
}
