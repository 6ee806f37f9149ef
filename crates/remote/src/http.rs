//! The HTTP layer of the remote store: the parsed store URL ([`Endpoint`]: base URL and API key,
//! never shown), and [`Client`], which POSTs a store protocol call, retries idempotent reads,
//! and turns problems back into core [`Error`]s. The trait methods live in `lib.rs`, the change
//! stream in `watch.rs`; a cache (a disk cache, an offline fallback) can wrap the store without
//! touching this.

use std::fmt;
use std::time::Duration;

use prompt_manager_core::{Error, ErrorDetails, Result};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The backend name of the remote store, in errors and logs.
pub(crate) const BACKEND: &str = "http";

/// The environment variable the API key is read from when the URL has no `key`.
pub const API_KEY_ENV: &str = "PROMPT_MANAGER_API_KEY";

/// How long connecting may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one call may take, connecting included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times an idempotent read is tried.
pub(crate) const READ_TRIES: u32 = 3;
/// The first pause before a retry; it doubles each time, plus jitter.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A secret that never shows: `Debug` and `Display` print `***`.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the server is: its base URL (scheme, host, port and path, without query) and the key.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// The base URL, without a trailing slash and without the query (so without the key).
    pub(crate) base: String,
    /// The API key, sent as `Authorization: Bearer …`.
    pub(crate) key: Option<Secret>,
    /// The offline fallback the URL asks for (`cache`, `bundle`, `bundle_sha256`, `budget_ms`).
    pub(crate) offline: OfflineParams,
}

/// The URL parameters of the offline fallback.
#[derive(Debug, Clone, Default)]
pub(crate) struct OfflineParams {
    /// `cache=DIR`: the disk cache's folder.
    pub(crate) cache: Option<std::path::PathBuf>,
    /// `bundle=FILE`: the bundle.
    pub(crate) bundle: Option<std::path::PathBuf>,
    /// `bundle_sha256=HEX`: the bundle's expected hash.
    pub(crate) bundle_sha256: Option<String>,
    /// `budget_ms=N`: how long a read with a copy waits for the server.
    pub(crate) budget: Option<Duration>,
    /// `ca=FILE`: PEM certificates trusted besides the system's (a team's own CA).
    pub(crate) ca: Option<std::path::PathBuf>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// `url` with the value of every query parameter replaced by `***` and any password hidden:
/// what errors show of a URL a caller gave.
pub(crate) fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, _)| (k.into_owned(), "***".to_owned()))
                .collect();
            if pairs.is_empty() {
                parsed.set_query(None);
            } else {
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string().replace("%2A%2A%2A", "***")
        }
        // Not a URL: show the part before any query, which is where a key would be.
        Err(_) => match url.split_once('?') {
            Some((head, _)) => format!("{head}?***"),
            None => url.to_owned(),
        },
    }
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/base]?key=…`; the key may come from [`API_KEY_ENV`].
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| Error::Config(format!("`{}` is not a usable http:// store URL: {why}", redact(url)));
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        match parsed.scheme() {
            "http" | "https" => {}
            other => return Err(bad(&format!("the scheme is `{other}`, not http or https"))),
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("it names no host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "credentials go in `?key=` or PROMPT_MANAGER_API_KEY, not in the URL",
            ));
        }
        let mut key = None;
        let mut offline = OfflineParams::default();
        for (name, value) in parsed.query_pairs() {
            let path = || {
                if value.is_empty() {
                    Err(bad(&format!("`{name}` needs a path")))
                } else {
                    Ok(Some(std::path::PathBuf::from(value.as_ref())))
                }
            };
            match name.as_ref() {
                "key" if !value.is_empty() => key = Some(Secret(value.into_owned())),
                "key" => {}
                "cache" => offline.cache = path()?,
                "ca" => offline.ca = path()?,
                "bundle" => offline.bundle = path()?,
                "bundle_sha256" => {
                    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad("`bundle_sha256` must be 64 hex digits"));
                    }
                    offline.bundle_sha256 = Some(value.to_ascii_lowercase());
                }
                "budget_ms" => {
                    let ms: u64 = value
                        .parse()
                        .ok()
                        .filter(|ms| (1..=60_000).contains(ms))
                        .ok_or_else(|| bad(&format!("`budget_ms` must be 1 to 60000 milliseconds, not `{value}`")))?;
                    offline.budget = Some(Duration::from_millis(ms));
                }
                other => {
                    return Err(bad(&format!(
                        "unknown parameter `{other}`; the parameters are key, ca, cache, bundle, bundle_sha256 and budget_ms"
                    )));
                }
            }
        }
        if offline.ca.is_some() && parsed.scheme() != "https" {
            return Err(bad("`ca` trusts certificates for https://; this URL is http://"));
        }
        if offline.bundle_sha256.is_some() && offline.bundle.is_none() {
            return Err(bad(
                "`bundle_sha256` pins a bundle: give the bundle too (`bundle=FILE`)",
            ));
        }
        if key.is_none() {
            key = std::env::var(API_KEY_ENV).ok().filter(|k| !k.is_empty()).map(Secret);
        }
        let mut base = parsed.clone();
        base.set_query(None);
        base.set_fragment(None);
        let base = base.to_string().trim_end_matches('/').to_owned();
        Ok(Endpoint { base, key, offline })
    }
}

/// The problem body the server answers errors with (the fields the client reads).
#[derive(Debug, serde::Deserialize)]
struct Problem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    error: Option<ErrorDetails>,
}

/// Calls the store protocol of one server.
#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) endpoint: Endpoint,
    pub(crate) http: reqwest::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Whether a failed call is worth another try (for an idempotent read), or a copy instead.
pub(crate) enum Failure {
    /// Connecting failed, the call timed out, or the server said it is unavailable.
    Transient(Error),
    /// The server answered; trying again gives the same answer.
    Final(Error),
}

impl Client {
    /// A client of `endpoint`: TLS with the system's trust roots, and the `ca` file's
    /// certificates too when the URL names one.
    pub(crate) fn new(endpoint: Endpoint) -> Result<Self> {
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        if let Some(path) = &endpoint.offline.ca {
            let unusable = |why: String| Error::Config(format!("the CA file {}: {why}", path.display()));
            let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unusable(source_chain(&e)))?;
            if certificates.is_empty() {
                return Err(unusable("it holds no PEM certificate".into()));
            }
            builder = builder.tls_certs_merge(certificates);
        }
        let http = builder
            .build()
            .map_err(|e| Error::backend_with(BACKEND, "cannot build the HTTP client", e.without_url()))?;
        Ok(Client { endpoint, http })
    }

    /// The URL of a route (`/v1/store/load`).
    pub(crate) fn url(&self, route: &str) -> String {
        format!("{}{route}", self.endpoint.base)
    }

    /// A request with the key.
    pub(crate) fn request(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(route));
        match &self.endpoint.key {
            Some(key) => request.bearer_auth(key.expose()),
            None => request,
        }
    }

    /// POSTs `body` to the store protocol's `method` and reads the answer; `idempotent` calls are
    /// retried with exponential backoff and jitter when the server cannot be reached or is
    /// unavailable.
    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<T> {
        self.call_classified(method, body, idempotent)
            .await
            .map_err(|f| match f {
                Failure::Transient(e) | Failure::Final(e) => e,
            })
    }

    /// [`call`](Self::call), saying whether a failure was the server's answer or no answer.
    pub(crate) async fn call_classified<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        body: &B,
        idempotent: bool,
    ) -> std::result::Result<T, Failure> {
        let tries = if idempotent { READ_TRIES } else { 1 };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.call_once(method, body).await {
                Ok(value) => return Ok(value),
                Err(Failure::Final(e)) => return Err(Failure::Final(e)),
                Err(Failure::Transient(e)) if attempt >= tries => return Err(Failure::Transient(e)),
                Err(Failure::Transient(e)) => {
                    tracing::debug!(method, attempt, error = %e, "store call failed; retrying");
                    tokio::time::sleep(with_jitter(backoff)).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// One call of a write that must not be applied twice (adding usage): `Err((error, false))`
    /// when it certainly was not applied (no connection, or the server refused it with a 4xx),
    /// `Err((error, true))` when it may have been (no answer in time, a 5xx, a cut answer).
    pub(crate) async fn call_once_tracked<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        body: &B,
    ) -> std::result::Result<T, (Error, bool)> {
        let response = match self.send(method, body).await {
            Ok(response) => response,
            Err(e) => return Err((self.unreachable(&e), !e.is_connect())),
        };
        let status = response.status();
        match self.answer(method, response).await {
            Ok(value) => Ok(value),
            Err(Failure::Final(e)) if status.is_client_error() => Err((e, false)),
            Err(Failure::Final(e) | Failure::Transient(e)) => Err((e, true)),
        }
    }

    async fn call_once<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        body: &B,
    ) -> std::result::Result<T, Failure> {
        let response = self
            .send(method, body)
            .await
            .map_err(|e| Failure::Transient(self.unreachable(&e)))?;
        self.answer(method, response).await
    }

    /// POSTs `body` to the store protocol's `method`, once.
    async fn send<B: Serialize + ?Sized>(&self, method: &str, body: &B) -> reqwest::Result<reqwest::Response> {
        self.request(reqwest::Method::POST, &format!("/v1/store/{method}"))
            .timeout(REQUEST_TIMEOUT)
            .json(body)
            .send()
            .await
    }

    /// The answer of a call: its JSON on success, else the error it stands for.
    async fn answer<T: DeserializeOwned>(
        &self,
        method: &str,
        response: reqwest::Response,
    ) -> std::result::Result<T, Failure> {
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::Transient(self.unreachable(&e)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::Final(Error::backend_with(
                    BACKEND,
                    format!(
                        "{}: the answer to {method} is not what the store protocol says",
                        self.endpoint.base
                    ),
                    e,
                ))
            });
        }
        let error = self.problem(status, &bytes);
        if matches!(
            status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        ) {
            Err(Failure::Transient(error))
        } else {
            Err(Failure::Final(error))
        }
    }

    /// The error of a call that did not get an answer.
    pub(crate) fn unreachable(&self, e: &reqwest::Error) -> Error {
        let what = if e.is_timeout() {
            "did not answer in time"
        } else if e.is_connect() {
            "cannot be reached"
        } else {
            "failed"
        };
        // The request URLs hold no key (it goes in a header); show the base URL only.
        Error::backend(
            BACKEND,
            format!(
                "the prompt-manager server at {} {what}: {}",
                self.endpoint.base,
                source_chain(e)
            ),
        )
    }

    /// The error a problem answer stands for: the same core error when the server sent its
    /// fields, else one by status.
    pub(crate) fn problem(&self, status: StatusCode, body: &[u8]) -> Error {
        let base = &self.endpoint.base;
        let Ok(problem) = serde_json::from_slice::<Problem>(body) else {
            return Error::backend(
                BACKEND,
                format!("{base} answered {status} without a problem body; is it a prompt-manager server?"),
            );
        };
        if let Some(details) = problem.error {
            return details.into_error(BACKEND);
        }
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Config(format!(
                "the prompt-manager server at {base} refused the request ({status}, {}): {}",
                problem.code, problem.detail
            )),
            StatusCode::NOT_FOUND if problem.code == "no_route" => Error::Config(format!(
                "{base} has no store protocol (/v1/store/…): is it a prompt-manager server of this version? {}",
                problem.detail
            )),
            _ => Error::backend(
                BACKEND,
                format!("{base} answered {status} ({}): {}", problem.code, problem.detail),
            ),
        }
    }
}

/// An error's message with its sources, for a message that says why a connection failed.
fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `pause` plus up to half of it again, at random: clients that failed together do not retry
/// together.
pub(crate) fn with_jitter(pause: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A random source without a dependency: std's hasher keys are random per process, and the
    // clock varies per call.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let fraction = (hasher.finish() % 1_000) as u32;
    pause + pause / 2 * fraction / 1_000
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_key_is_taken_out_of_the_base_and_never_shown() {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080/pm/?key=pm_abc_SECRET").unwrap();
        assert_eq!(endpoint.base, "http://127.0.0.1:8080/pm");
        assert_eq!(endpoint.key.as_ref().unwrap().expose(), "pm_abc_SECRET");
        assert!(!format!("{endpoint:?}").contains("SECRET"));
        assert_eq!(redact("http://h:1/?key=pm_abc_SECRET"), "http://h:1/?key=***");
        assert_eq!(redact("not a url?key=SECRET"), "not a url?***");
    }

    #[test]
    fn bad_urls_are_config_errors_naming_the_url_without_the_key() {
        for url in [
            "http://?key=SECRET",
            "http://h/?key=SECRET&other=1",
            "ftp://h/?key=SECRET",
            "https://h/?key=SECRET&ca=",
            "http://h/?key=SECRET&ca=/etc/ssl/ca.pem",
            "http://user:SECRET@h/",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{url}: {err:?}");
            let text = format!("{err} {err:?}");
            assert!(!text.contains("SECRET"), "{url}: {text}");
        }
    }

    #[test]
    fn jitter_adds_at_most_half() {
        for _ in 0..100 {
            let d = with_jitter(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(150),
                "{d:?}"
            );
        }
    }
}
