//! Issue 12, the server's items: each test is named for the item it keeps fixed. Header-level
//! items go through a real socket (`Server::bind_with` on 127.0.0.1:0) as well as `oneshot`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{api, api_with};
use prompt_manager_server::keys::{self, Scope};
use prompt_manager_server::{AppOptions, Server, ServerConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn keyed(path: std::path::PathBuf) -> AppOptions {
    AppOptions {
        keys_file: Some(path),
        keys_check_interval: Duration::ZERO,
        ..AppOptions::default()
    }
}

/// A server on a free loopback port, serving until the test ends; its address.
async fn socket_server(options: AppOptions) -> std::net::SocketAddr {
    let config = ServerConfig {
        store: "memory://".into(),
        bind: "127.0.0.1:0".parse().unwrap(),
        app: options,
        seed_example: true,
        ..ServerConfig::default()
    };
    let server = Server::bind_with(prompt_manager::in_memory(), config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    addr
}

/// Sends raw bytes and reads the whole answer (the server closes the connection).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The status and the problem of the last response in `text`.
fn last_problem(text: &str) -> (u16, Value) {
    let start = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| i)
        .filter(|i| text.as_bytes()[i + 9..].iter().take(3).all(u8::is_ascii_digit))
        .last()
        .expect(text);
    let (head, body) = text[start..].split_once("\r\n\r\n").expect(text);
    let status = head[9..12].parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{text}"
    );
    let problem: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(problem["status"], status, "{problem}");
    (status, problem)
}

// ----- 1 ---------------------------------------------------------------------------------------

#[tokio::test]
async fn item_01_revoked_keys_keep_the_server_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    keys::create(&path, "only", Scope::Admin).unwrap();
    keys::revoke(&path, "only").unwrap();
    // A "restart": a fresh state over the file that holds no key.
    let api = api_with(|_| keyed(path.clone())).await;
    let create = json!({"prompt": {"id": "after/restart", "template": "x"}});
    api.post("/v1/prompts", create.clone()).send().await.problem(401);
    api.get("/v1/prompts").send().await.problem(401);
    assert_eq!(api.versions("after/restart").await, 0);
    // An empty file is a keys file too.
    std::fs::write(&path, "").unwrap();
    let api = api_with(|_| keyed(path.clone())).await;
    api.post("/v1/prompts", create).send().await.problem(401);
    // The banner says the server is locked, and how to open it deliberately.
    let config = ServerConfig {
        store: "memory://".into(),
        bind: "127.0.0.1:0".parse().unwrap(),
        app: keyed(path.clone()),
        ..ServerConfig::default()
    };
    let server = Server::bind_with(prompt_manager::in_memory(), config.clone())
        .await
        .unwrap();
    let banner = server.banner();
    assert!(
        banner.contains("holds none") && banner.contains("every request is refused"),
        "{banner}"
    );
    drop(server);
    // Only no keys file at all opens the server, and the banner says so.
    std::fs::remove_file(&path).unwrap();
    let server = Server::bind_with(prompt_manager::in_memory(), config).await.unwrap();
    let banner = server.banner();
    assert!(
        banner.contains("OPEN: no keys file at") && banner.contains("k.json"),
        "{banner}"
    );
}

#[tokio::test]
async fn item_01_a_keys_file_deleted_while_running_keeps_the_server_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    let key = keys::create(&path, "only", Scope::Read).unwrap();
    let api = api_with(|_| keyed(path.clone())).await;
    api.get("/v1/prompts").bearer(&key.token).send().await;
    std::fs::remove_file(&path).unwrap();
    api.get("/v1/prompts").send().await.problem(401);
}

// ----- 2 ---------------------------------------------------------------------------------------

#[tokio::test]
async fn item_02_host_and_origin_are_parsed_as_rfc_authorities() {
    let api = api().await;
    api.create_text("greet", "Hello").await;
    for (name, value) in [
        ("host", "localhost:80@evil.com"),
        ("host", "user@localhost"),
        ("host", "localhost:80/x"),
        ("host", "localhost:99999"),
        ("origin", "http://localhost:1@evil.com"),
        ("origin", "http://localhost/path"),
        ("origin", "localhost"),
    ] {
        let p = api
            .call(Method::POST, "/v1/prompts/greet/archive")
            .header(name, value)
            .send()
            .await
            .problem(400);
        assert_eq!(p["code"], "bad_header", "{name}: {value}: {p}");
    }
    // A foreign host in an absolute-form target is foreign too.
    let p = api
        .call(Method::POST, "http://evil.com/v1/prompts/greet/archive")
        .header("host", "localhost")
        .send()
        .await
        .problem(403);
    assert_eq!(p["code"], "forbidden");
    assert_eq!(
        api.pm.summary("greet").await.unwrap().status,
        prompt_manager::PromptStatus::Draft,
        "nothing was archived"
    );
}

#[tokio::test]
async fn item_02_duplicate_host_origin_and_authorization_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    let admin = keys::create(&path, "boss", Scope::Admin).unwrap().token;
    let read = keys::create(&path, "reader", Scope::Read).unwrap().token;
    let api = api_with(|_| keyed(path.clone())).await;
    // An admin + read pair is neither: 400, nothing written.
    let body = json!({"prompt": {"id": "dup", "template": "x"}, "labels": ["production"]});
    for (first, second) in [(&admin, &read), (&read, &admin)] {
        let p = api
            .post("/v1/prompts", body.clone())
            .bearer(first)
            .bearer(second)
            .send()
            .await
            .problem(400);
        assert!(p["detail"].as_str().unwrap().contains("authorization"), "{p}");
    }
    assert_eq!(api.versions("dup").await, 0);
    let open = common::api().await;
    for (name, a, b) in [
        ("host", "localhost", "evil.com"),
        ("host", "localhost", "localhost"),
        ("origin", "http://localhost", "http://evil.com"),
        ("content-type", "application/json", "text/plain"),
    ] {
        let p = open
            .post("/v1/prompts", json!({"prompt": {"id": "dup", "template": "x"}}))
            .header(name, a)
            .header(name, b)
            .send()
            .await
            .problem(400);
        assert_eq!(p["code"], "bad_header", "{name}: {p}");
    }
    assert_eq!(open.versions("dup").await, 0);
}

#[tokio::test]
async fn item_02_duplicate_and_userinfo_hosts_are_refused_on_a_real_socket() {
    let addr = socket_server(AppOptions::default()).await;
    let body = r#"{"prompt": {"id": "sock", "template": "x"}}"#;
    for headers in [
        "Host: localhost\r\nHost: evil.com\r\n",
        "Host: localhost:80@evil.com\r\n",
        "Host: localhost\r\nOrigin: http://localhost:1@evil.com\r\n",
        "Host: localhost\r\nOrigin: http://localhost\r\nOrigin: http://evil.com\r\n",
    ] {
        let request = format!(
            "POST /v1/prompts HTTP/1.1\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (status, p) = last_problem(&raw(addr, request.as_bytes()).await);
        assert_eq!(
            (status, p["code"].as_str().unwrap()),
            (400, "bad_header"),
            "{headers}: {p}"
        );
    }
    let request = format!(
        "POST /v1/prompts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let text = raw(addr, request.as_bytes()).await;
    assert!(
        text.starts_with("HTTP/1.1 201"),
        "the same request with one Host is fine: {text}"
    );
}

#[tokio::test]
async fn item_02_if_match_on_several_lines_is_one_list() {
    let api = api().await;
    let created = api.create_text("greet", "one").await;
    let tag = created.header("etag").to_owned();
    let update = json!({"prompt": {"id": "greet", "template": "two"}, "bump": "minor", "changelog": "c"});
    let reply = api
        .put("/v1/prompts/greet", update)
        .header("if-match", "\"stale\"")
        .header("if-match", &tag)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = api
        .get("/v1/prompts/greet@1.1.0")
        .header("if-none-match", "\"other\"")
        .header("if-none-match", reply.header("etag"))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
}

// ----- 3 ---------------------------------------------------------------------------------------

#[tokio::test]
async fn item_03_json_arrays_are_not_bodies() {
    let api = api().await;
    api.create_text("greet", "Hello {{ name }}").await;
    let cases = [
        (
            Method::POST,
            "/v1/prompts",
            json!([{"id": "arr/y", "template": "x"}, "active", ["staging"], "3.0.0", "c"]),
        ),
        (
            Method::POST,
            "/v1/prompts",
            json!({"prompt": ["arr/y", null, "x"], "status": "active"}),
        ),
        (
            Method::POST,
            "/v1/prompts",
            json!({"prompt": {"id": "arr/y", "template": [["user", "hi"]]}}),
        ),
        (
            Method::POST,
            "/v1/prompts",
            json!({"prompt": {"id": "arr/y", "template": "x", "model_config": ["gpt"]}}),
        ),
        (
            Method::PUT,
            "/v1/prompts/greet",
            json!([{"id": "greet", "template": "y"}, "major", "c"]),
        ),
        (Method::PUT, "/v1/prompts/greet/labels/qa", json!(["1.0.0"])),
        (Method::POST, "/v1/render", json!([[]])),
        (
            Method::POST,
            "/v1/render",
            json!({"requests": [["greet", {"name": "a"}]]}),
        ),
        (Method::POST, "/v1/prompts/greet/render", json!([{"name": "a"}])),
        (Method::POST, "/v1/prompts/greet/render", json!("x")),
    ];
    for (method, uri, body) in cases {
        let p = api
            .call(method.clone(), uri)
            .json(body.clone())
            .send()
            .await
            .problem(422);
        assert_eq!(p["code"], "invalid_body", "{method} {uri} {body}: {p}");
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains("must be a JSON object") || detail.contains("expected a JSON object"),
            "{detail}"
        );
    }
    assert_eq!(api.versions("arr/y").await, 0);
    assert_eq!(api.versions("greet").await, 1);
    assert!(api.pm.labels("greet").await.unwrap().is_empty(), "no label was set");
    // Objects still work, and arrays where the API takes arrays.
    let reply = api
        .post(
            "/v1/render",
            json!({"requests": [{"reference": "greet", "variables": {"name": "a"}}]}),
        )
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

// ----- 13 --------------------------------------------------------------------------------------

#[tokio::test]
async fn item_13_requests_hyper_cannot_parse_get_problems() {
    let addr = socket_server(AppOptions::default()).await;
    let cases: [(&[u8], u16, &str); 5] = [
        (b"POST /v1/render HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n", 400, "malformed_request"),
        (b"POST /v1/render HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", 400, "malformed_request"),
        (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Nul: a\x00b\r\n\r\n", 400, "malformed_request"),
        (b"GET /healthz HTTP/9.1\r\n\r\n", 400, "malformed_request"),
        (
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n",
            400,
            "malformed_request",
        ),
    ];
    for (request, status, code) in cases {
        let text = raw(addr, request).await;
        let (got, p) = last_problem(&text);
        assert_eq!((got, p["code"].as_str().unwrap()), (status, code), "{text}");
    }
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    let (status, p) = last_problem(&raw(addr, huge.as_bytes()).await);
    assert_eq!((status, p["code"].as_str().unwrap()), (431, "headers_too_large"));
    // A pipelined good request before the bad one is answered as usual.
    let text = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n",
    )
    .await;
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("{\"status\":\"ok\"}"),
        "{text}"
    );
}

// ----- 15 --------------------------------------------------------------------------------------

#[tokio::test]
async fn item_15_an_invalid_id_in_a_body_is_400_invalid_id() {
    let api = api().await;
    let p = api
        .post("/v1/prompts", json!({"prompt": {"id": "Bad Id", "template": "x"}}))
        .send()
        .await
        .problem(400);
    assert_eq!(p["code"], "invalid_id", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("Bad Id"), "{p}");
    api.create_text("greet", "x").await;
    let p = api
        .put(
            "/v1/prompts/greet",
            json!({"prompt": {"id": "../x", "template": "y"}, "bump": "patch", "changelog": "c"}),
        )
        .send()
        .await
        .problem(400);
    assert_eq!(p["code"], "invalid_id", "{p}");
    // Not a string at all is the body's shape: 422.
    let p = api
        .post("/v1/prompts", json!({"prompt": {"id": 5, "template": "x"}}))
        .send()
        .await
        .problem(422);
    assert_eq!(p["code"], "invalid_body", "{p}");
}

#[tokio::test]
async fn item_15_every_error_code_the_server_sends_is_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md")).unwrap();
    // The codes written in the server's source (`ApiError::new(StatusCode::…, "code"`), and the
    // core's error codes that reach a client.
    let mut codes: Vec<String> = Vec::new();
    // Every source file, in subfolders too (`routes/`).
    let mut files = Vec::new();
    let mut folders = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("StatusCode::") {
            rest = &rest[at + "StatusCode::".len()..];
            let after = rest.trim_start_matches(|c: char| c.is_ascii_uppercase() || c == '_');
            if let Some(literal) = after.trim_start().strip_prefix(',').map(str::trim_start)
                && let Some(literal) = literal.strip_prefix('"')
                && let Some(end) = literal.find('"')
            {
                codes.push(literal[..end].to_owned());
            }
        }
    }
    // Every core code reaches a client as it is, except the store failures the server answers
    // with its own codes (`store_unavailable`, `store_corrupt`), listed below.
    let replaced = ["backend", "invalid_file"];
    codes.extend(
        prompt_manager::Error::CODES
            .iter()
            .filter(|code| !replaced.contains(code))
            .map(|code| (*code).to_owned()),
    );
    for code in [
        "bad_path",
        "bad_query",
        "bad_body",
        "no_route",
        "method_not_allowed",
        "timeout",
        "body_too_large",
        "unsupported_media_type",
        "malformed_json",
        "invalid_body",
        "bad_header",
        "malformed_request",
        "uri_too_long",
        "headers_too_large",
        "store_unavailable",
        "store_corrupt",
    ] {
        codes.push(code.to_owned());
    }
    assert!(codes.len() > 40, "{codes:?}");
    let missing: Vec<_> = codes
        .iter()
        .filter(|code| !docs.contains(&format!("`{code}`")))
        .collect();
    assert!(missing.is_empty(), "codes missing from docs/server.md: {missing:?}");
}

#[tokio::test]
async fn item_15_a_write_answers_what_a_read_returns_afterwards() {
    let api = api().await;
    let created = api
        .post(
            "/v1/prompts",
            json!({"prompt": {"id": "t", "template": "x"}, "labels": ["staging"]}),
        )
        .send()
        .await
        .json();
    let read = api.get("/v1/prompts/t@1.0.0").send().await.json();
    assert_eq!(created, read);
    let updated = api
        .put(
            "/v1/prompts/t",
            json!({"prompt": {"id": "t", "template": "y"}, "bump": "minor", "changelog": "c", "labels": ["qa"]}),
        )
        .send()
        .await
        .json();
    assert_eq!(updated["version"], api.get("/v1/prompts/t@1.1.0").send().await.json());
    let moved = api
        .put("/v1/prompts/t/labels/staging", json!({"version": "1.1.0"}))
        .send()
        .await
        .json();
    let history = api.get("/v1/prompts/t/labels/staging/history").send().await.json();
    assert_eq!(
        moved["event"],
        history["events"].as_array().unwrap().last().unwrap().clone()
    );
    let qa = api.get("/v1/prompts/t/labels/qa/history").send().await.json();
    assert_eq!(updated["labels"][0], qa["events"][0]);
    let archived = api.call(Method::POST, "/v1/prompts/t/archive").send().await.json();
    assert_eq!(archived, api.get("/v1/prompts/t/summary").send().await.json());
    // Microseconds, as every store keeps them.
    let at = created["created_at"].as_str().unwrap();
    let fraction = at.rsplit_once('.').map_or("", |(_, f)| f.trim_end_matches('Z'));
    assert!(fraction.len() <= 6, "{at}");
}

// ----- 14 --------------------------------------------------------------------------------------

#[tokio::test]
async fn item_14_the_openapi_document_states_patterns_and_closed_objects() {
    let api = api().await;
    let doc = api.get("/openapi.json").send().await.json();
    let schemas = &doc["components"]["schemas"];
    let prompt = &schemas["Prompt"];
    assert_eq!(prompt["additionalProperties"], false, "{prompt}");
    assert!(prompt["properties"]["id"]["pattern"].is_string(), "{prompt}");
    assert_eq!(prompt["properties"]["id"]["maxLength"], 200);
    for name in [
        "CreateRequest",
        "UpdateRequest",
        "SetLabelRequest",
        "RenderRequest",
        "BatchRequest",
        "BatchItem",
    ] {
        assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
    }
    assert!(schemas["Label"]["pattern"].is_string(), "{}", schemas["Label"]);
    assert!(schemas["Version"]["pattern"].is_string(), "{}", schemas["Version"]);
    let text = doc.to_string();
    assert!(
        text.contains("#/components/schemas/Label"),
        "labels use the Label schema"
    );
    // Every route that takes a body documents the body's errors.
    for (path, method) in [
        ("/v1/prompts", "post"),
        ("/v1/prompts/{id}", "put"),
        ("/v1/prompts/{id}/labels/{label}", "put"),
        ("/v1/prompts/{id}/render", "post"),
        ("/v1/render", "post"),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["400", "413", "415", "422"] {
            assert!(responses[status].is_object(), "{method} {path} lacks {status}");
        }
    }
    // `{"version": null}` is one of them.
    let p = api
        .put("/v1/prompts/x/labels/qa", json!({"version": null}))
        .send()
        .await
        .problem(422);
    assert_eq!(p["code"], "invalid_body");
}
