//! Webhooks: subscriptions that receive each change as a signed JSON event, delivered with
//! retries from a durable outbox, with a delivery log and redelivery.
//!
//! - **The outbox is the audit log.** Every change appends its audit entries in the same write
//!   (the same transaction on SQLite and PostgreSQL, the same journaled write in a folder), so an
//!   event exists exactly when its change does. The [`Dispatcher`] turns the entries after its
//!   cursor into deliveries and saves the cursor with them: a crash before that turns them again,
//!   a crash after a send but before its result is saved sends again with the same `webhook-id`.
//!   Nothing is lost, and a repeat carries its idempotency id.
//! - **Signing** follows the Standard Webhooks specification: `webhook-id`, `webhook-timestamp`
//!   (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//!   with the subscription's secret (`whsec_<base64>`, shown once when it is created). A
//!   receiver checks the signature and refuses a timestamp more than 5 minutes off (replays).
//! - **Retries**: a delivery that fails (a connection error, a timeout, a status other than 2xx)
//!   is tried again with exponential backoff and jitter, up to [`WebhookOptions::max_attempts`];
//!   then it is `failed` until redelivered.
//! - **Only what an administrator configured is called**, and never a private-network address
//!   (loopback, private ranges, link-local, unique-local) unless allowed in the configuration:
//!   the host is resolved at every attempt and the connection pinned to the checked address.
//!
//! The subscriptions, the cursor and the delivery log live in one JSON file beside the keys file
//! (mode 0600: it holds the secrets), changed under a lock by `prompt-manager webhooks …`, the
//! REST API and the dispatcher.

mod dispatch;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use prompt_manager::AuditAction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use dispatch::Dispatcher;

/// The delivery log keeps at most this many delivered deliveries (the newest); pending and
/// failed ones stay.
const KEEP_FINISHED: usize = 2_000;

/// An event a subscription can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// A version was saved.
    #[serde(rename = "version.created")]
    VersionCreated,
    /// A label was set, moved, rolled back or made an A/B split.
    #[serde(rename = "label.moved")]
    LabelMoved,
    /// A label was removed.
    #[serde(rename = "label.removed")]
    LabelRemoved,
    /// A label was protected or its protection lifted.
    #[serde(rename = "label.protection_changed")]
    LabelProtectionChanged,
    /// A prompt's status changed (draft, active, deprecated, archived).
    #[serde(rename = "prompt.status_changed")]
    StatusChanged,
    /// A prompt was deleted.
    #[serde(rename = "prompt.deleted")]
    PromptDeleted,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 6] = [
        EventType::VersionCreated,
        EventType::LabelMoved,
        EventType::LabelRemoved,
        EventType::LabelProtectionChanged,
        EventType::StatusChanged,
        EventType::PromptDeleted,
    ];

    /// The wire name (`version.created`, …).
    pub const fn name(self) -> &'static str {
        match self {
            EventType::VersionCreated => "version.created",
            EventType::LabelMoved => "label.moved",
            EventType::LabelRemoved => "label.removed",
            EventType::LabelProtectionChanged => "label.protection_changed",
            EventType::StatusChanged => "prompt.status_changed",
            EventType::PromptDeleted => "prompt.deleted",
        }
    }

    /// The event type named `name`; an unknown name is an error listing the known ones.
    pub fn parse(name: &str) -> Result<Self, WebhookError> {
        Self::ALL.into_iter().find(|e| e.name() == name.trim()).ok_or_else(|| {
            WebhookError::Invalid(format!(
                "unknown event `{name}`; use one of: {}",
                Self::ALL.map(EventType::name).join(", ")
            ))
        })
    }

    /// The event an audit action is, if any (API key changes are not sent).
    pub fn of(action: AuditAction) -> Option<Self> {
        Some(match action {
            AuditAction::VersionCreated => EventType::VersionCreated,
            AuditAction::LabelSet | AuditAction::LabelSplit | AuditAction::LabelRolledBack => EventType::LabelMoved,
            AuditAction::LabelRemoved => EventType::LabelRemoved,
            AuditAction::LabelProtected | AuditAction::LabelUnprotected => EventType::LabelProtectionChanged,
            AuditAction::StatusChanged => EventType::StatusChanged,
            AuditAction::PromptDeleted => EventType::PromptDeleted,
            AuditAction::KeyCreated | AuditAction::KeyRevoked => return None,
        })
    }
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Its id: `wh_` and 12 hex digits.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The events it receives.
    pub events: BTreeSet<EventType>,
    /// The signing secret, `whsec_<base64>`.
    pub secret: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Events of audit entries after this one are sent (the log's head when it was created).
    pub after_seq: u64,
}

/// A subscription as listings show it: without its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// Its id.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The events it receives.
    pub events: Vec<EventType>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its deliveries by status.
    pub pending: usize,
    /// Deliveries that succeeded (in the log).
    pub delivered: usize,
    /// Deliveries that gave up.
    pub failed: usize,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not sent yet, or to be tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; `redeliver` tries again.
    Failed,
}

/// One event for one subscription, and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// Its id, the `webhook-id` header (the idempotency id): `<subscription>_<audit seq>`.
    pub id: String,
    /// The subscription.
    pub subscription: String,
    /// The event type.
    pub event: EventType,
    /// The audit entry it comes from.
    pub seq: u64,
    /// Where it is.
    pub status: DeliveryStatus,
    /// How many times it was sent.
    pub attempts: u32,
    /// The last answer's status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it is tried next (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the receiver took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    /// The event's JSON body, as sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// The webhooks file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookFile {
    /// The subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// The last audit entry turned into deliveries.
    #[serde(default)]
    pub cursor: u64,
    /// Pending deliveries, and the newest finished ones.
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
}

/// What can go wrong with webhooks.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The file cannot be read or written.
    #[error("webhooks file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a webhooks file.
    #[error("webhooks file {}: {message}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A request that cannot be done (a bad URL, an unknown event, a refused address).
    #[error("{0}")]
    Invalid(String),
    /// No such subscription or delivery.
    #[error("{0}")]
    NotFound(String),
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Whether private-network addresses (loopback, 10/8, 172.16/12, 192.168/16, link-local,
    /// unique-local) may be called (default no).
    pub allow_private: bool,
    /// How often the dispatcher looks for new audit entries and due retries (default 500 ms).
    pub poll: Duration,
    /// How long one attempt may take (default 10 s).
    pub timeout: Duration,
    /// Attempts before a delivery is `failed` (default 8).
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles it, with jitter, up to an hour (default 5 s).
    pub backoff: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            allow_private: false,
            poll: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            backoff: Duration::from_secs(5),
        }
    }
}

/// Reads the webhooks file (an absent or empty file has no subscriptions).
pub fn read(path: &Path) -> Result<WebhookFile, WebhookError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WebhookFile::default()),
        Err(source) => {
            return Err(WebhookError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(WebhookFile::default());
    }
    serde_json::from_str(&text).map_err(|e| WebhookError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Changes the file under its lock: reads it, lets `change` edit it, writes it back.
pub(crate) fn update<T>(
    path: &Path,
    change: impl FnOnce(&mut WebhookFile) -> Result<T, WebhookError>,
) -> Result<T, WebhookError> {
    crate::private_file::locked(
        path,
        || {
            let mut file = read(path)?;
            let out = change(&mut file)?;
            prune(&mut file);
            let mut json = serde_json::to_string_pretty(&file).map_err(|e| WebhookError::Invalid(e.to_string()))?;
            json.push('\n');
            crate::private_file::write(path, json.as_bytes()).map_err(|source| WebhookError::Io {
                path: path.to_owned(),
                source,
            })?;
            Ok(out)
        },
        |path, source| WebhookError::Io { path, source },
    )
}

/// Keeps every pending and failed delivery (a failed one waits for `redeliver`) and the newest
/// delivered ones.
fn prune(file: &mut WebhookFile) {
    let delivered = file
        .deliveries
        .iter()
        .filter(|d| d.status == DeliveryStatus::Delivered)
        .count();
    if delivered <= KEEP_FINISHED {
        return;
    }
    let mut drop = delivered - KEEP_FINISHED;
    file.deliveries.retain(|d| {
        if drop > 0 && d.status == DeliveryStatus::Delivered {
            drop -= 1;
            false
        } else {
            true
        }
    });
}

fn random(bytes: usize) -> Result<Vec<u8>, WebhookError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| WebhookError::Invalid(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// Checks a subscription URL: `http` or `https`, a host, no credentials, and (unless
/// `allow_private`) a host that is not a private-network address as written. The address it
/// resolves to is checked at every delivery.
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, WebhookError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| WebhookError::Invalid(format!("`{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(WebhookError::Invalid(format!(
            "`{url}`: a webhook URL is http:// or https://, not {}://",
            parsed.scheme()
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(WebhookError::Invalid(
            "a webhook URL carries no credentials; the receiver checks the signature".into(),
        ));
    }
    let Some(host) = parsed.host_str() else {
        return Err(WebhookError::Invalid(format!("`{url}` has no host")));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let literal = match bare.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) if bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost") => {
            Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
        }
        Err(_) => None,
    };
    if let Some(ip) = literal
        && !allow_private
        && is_private(ip)
    {
        return Err(private_refused(url, ip));
    }
    Ok(parsed)
}

pub(crate) fn private_refused(url: &str, ip: IpAddr) -> WebhookError {
    WebhookError::Invalid(format!(
        "`{url}` is a private-network address ({ip}); webhooks call public addresses only, unless the server \
         allows private ones (`serve --webhooks-allow-private`)"
    ))
}

/// Whether `ip` is not a public address: loopback, private, shared (100.64/10), link-local,
/// unspecified, broadcast, documentation, benchmarking (198.18/15), reserved (240/4, 192.0.0/24),
/// multicast; for IPv6 also unique-local, site-local, documentation, and every form that embeds
/// an IPv4 address (mapped, compatible, NAT64, 6to4) when that address is one of these.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                is_private(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)))
            };
            // Mapped (::ffff:a.b.c.d) and compatible (::a.b.c.d) forms.
            if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) && !(s[5] == 0 && s[6] == 0) {
                return embedded(s[6], s[7]);
            }
            // NAT64: 64:ff9b::/96 embeds the IPv4 address; 64:ff9b:1::/48 is for local use.
            if s[0] == 0x64 && s[1] == 0xff9b {
                return if s[2..6] == [0; 4] {
                    embedded(s[6], s[7])
                } else {
                    s[2] == 1
                };
            }
            // 6to4 (2002::/16) embeds an IPv4 address in its next 32 bits.
            if s[0] == 0x2002 {
                return embedded(s[1], s[2]);
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// Adds a subscription to the file at `path`; returns it, secret included (shown once).
/// `head` is the audit log's last entry: only later changes are sent.
pub fn add(
    path: &Path,
    url: &str,
    events: BTreeSet<EventType>,
    head: u64,
    allow_private: bool,
) -> Result<Subscription, WebhookError> {
    check_url(url, allow_private)?;
    if events.is_empty() {
        return Err(WebhookError::Invalid(format!(
            "a subscription needs at least one event: {}",
            EventType::ALL.map(EventType::name).join(", ")
        )));
    }
    let id = format!("wh_{}", hex(&random(6)?));
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(random(32)?)
    );
    let subscription = Subscription {
        id,
        url: url.to_owned(),
        events,
        secret,
        created_at: Utc::now(),
        after_seq: head,
    };
    let added = subscription.clone();
    // The shared cursor stays where it is: moving it to `head` would skip the changes other
    // subscriptions have not been sent yet. `after_seq` keeps older changes from this one.
    update(path, move |file| {
        file.subscriptions.push(added);
        Ok(())
    })?;
    Ok(subscription)
}

/// The audit log's last entry number (0 for an empty log), read page by page: what a new
/// subscription starts after.
pub async fn audit_head(pm: &prompt_manager::PromptManager) -> prompt_manager::Result<u64> {
    let mut head = 0;
    loop {
        let page = pm
            .audit(&prompt_manager::AuditQuery {
                after_seq: (head > 0).then_some(head),
                limit: Some(10_000),
                ..prompt_manager::AuditQuery::default()
            })
            .await?;
        match page.last() {
            Some(last) => head = last.seq,
            None => return Ok(head),
        }
    }
}

/// Removes a subscription and its pending deliveries.
pub fn remove(path: &Path, id: &str) -> Result<(), WebhookError> {
    update(path, |file| {
        let before = file.subscriptions.len();
        file.subscriptions.retain(|s| s.id != id);
        if file.subscriptions.len() == before {
            return Err(WebhookError::NotFound(format!("no webhook `{id}`")));
        }
        file.deliveries
            .retain(|d| d.subscription != id || d.status != DeliveryStatus::Pending);
        Ok(())
    })
}

/// The subscriptions, without their secrets, with their delivery counts.
pub fn list(path: &Path) -> Result<Vec<SubscriptionView>, WebhookError> {
    let file = read(path)?;
    Ok(file
        .subscriptions
        .iter()
        .map(|s| {
            let count = |status| {
                file.deliveries
                    .iter()
                    .filter(|d| d.subscription == s.id && d.status == status)
                    .count()
            };
            SubscriptionView {
                id: s.id.clone(),
                url: s.url.clone(),
                events: s.events.iter().copied().collect(),
                created_at: s.created_at,
                pending: count(DeliveryStatus::Pending),
                delivered: count(DeliveryStatus::Delivered),
                failed: count(DeliveryStatus::Failed),
            }
        })
        .collect())
}

/// The deliveries of one subscription (or all), newest first.
pub fn deliveries(path: &Path, subscription: Option<&str>) -> Result<Vec<Delivery>, WebhookError> {
    let file = read(path)?;
    if let Some(id) = subscription
        && !file.subscriptions.iter().any(|s| s.id == id)
    {
        return Err(WebhookError::NotFound(format!("no webhook `{id}`")));
    }
    let mut out: Vec<Delivery> = file
        .deliveries
        .into_iter()
        .filter(|d| subscription.is_none_or(|id| d.subscription == id))
        .collect();
    out.sort_by(|a, b| b.seq.cmp(&a.seq).then_with(|| a.subscription.cmp(&b.subscription)));
    Ok(out)
}

/// Makes a delivery pending again, to be sent at once (same id, attempts counted on).
pub fn redeliver(path: &Path, delivery: &str) -> Result<Delivery, WebhookError> {
    update(path, |file| {
        let subscriptions: BTreeSet<&str> = file.subscriptions.iter().map(|s| s.id.as_str()).collect();
        let d = file
            .deliveries
            .iter_mut()
            .find(|d| d.id == delivery)
            .ok_or_else(|| WebhookError::NotFound(format!("no delivery `{delivery}`")))?;
        if !subscriptions.contains(d.subscription.as_str()) {
            return Err(WebhookError::NotFound(format!(
                "the subscription `{}` of delivery `{delivery}` was removed",
                d.subscription
            )));
        }
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(Utc::now());
        Ok(d.clone())
    })
}

/// The Standard Webhooks signature of `body`: `v1,<base64 HMAC-SHA256>` over
/// `"{id}.{timestamp}.{body}"` with the secret's key (the base64 after `whsec_`).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, WebhookError> {
    use hmac::{KeyInit, Mac};
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| WebhookError::Invalid(format!("the webhook secret is not base64: {e}")))?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|e| WebhookError::Invalid(format!("the webhook secret cannot key HMAC: {e}")))?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://172.20.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::a00:1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[64:ff9b:1::5]/",
            "http://[2002:a00:1::1]/",
            "http://[fec0::1]/",
            "http://[2001:db8::1]/",
            "http://198.18.0.1/",
            "http://240.0.0.1/",
            "http://192.0.0.8/",
        ] {
            let err = check_url(url, false).unwrap_err().to_string();
            assert!(err.contains("private-network"), "{url}: {err}");
            assert!(check_url(url, true).is_ok(), "{url}");
        }
        assert!(check_url("https://hooks.example.com/pm", false).is_ok());
        assert!(check_url("https://93.184.216.34/pm", false).is_ok());
        for public in [
            "http://[2606:4700::1111]/",
            "http://[64:ff9b::5db8:d822]/",
            "http://[2002:5db8:d822::1]/",
        ] {
            assert!(check_url(public, false).is_ok(), "{public}");
        }
        for (url, says) in [
            ("ftp://example.com/", "http:// or https://"),
            ("https://user:pw@example.com/", "credentials"),
            ("not a url", "not a URL"),
        ] {
            assert!(check_url(url, true).unwrap_err().to_string().contains(says), "{url}");
        }
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The specification's own example (standard-webhooks, spec/standard-webhooks.md).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn event_names_parse_back() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.name()).unwrap(), e);
        }
        assert!(
            EventType::parse("version.made")
                .unwrap_err()
                .to_string()
                .contains("version.created")
        );
    }
}
