//! [`RenderId`]: the token a render returns so that its caller can report on it later
//! ([`UsageReport`], [`Feedback`]) through any instance.
//!
//! The token is self-describing: it carries the aggregate key (prompt, version, label) and the
//! minute of the render, so a report is added to the same aggregate as the render without any
//! per-render state on a server. Its layout (after the `r1` prefix, base64url without padding):
//! the prompt id, the version and the label (each length-prefixed, padded with zero bytes to a
//! multiple of three), then the unix minute (u32, big-endian), a 32-bit nonce that tells renders
//! apart, and an FNV-1a checksum of all of it, which refuses mistyped and truncated tokens. The
//! key part comes first and fills whole base64 quanta, so its text is computed once per
//! resolution ([`KeyPrefix`]) and a render only keeps its last twelve bytes: the text of a render
//! id is written the first time it is asked for ([`RenderId::as_str`], `Display`, serde), never
//! on the render path. It is not signed: a caller allowed to report can attribute a report to any
//! key, as it could by rendering.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use semver::Version;
use serde::{Deserialize, Serialize};

use super::UsageKey;
use crate::error::{Error, Result};
use crate::id::{LabelName, PromptId};
use crate::tokens::NanoUsd;

const PREFIX: &str = "r1";
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// No token is longer: ids ≤ 200 bytes, labels ≤ 64, versions bounded below.
const MAX_TOKEN_LEN: usize = 1_024;
/// The longest version string a token carries (semver allows long pre-release tags).
const MAX_VERSION_LEN: usize = 255;

/// An opaque render id, as returned with a render (`RenderedPrompt::render_id`, the REST render
/// response, the CLI's `render` output). [`RenderId::parse`] reads it back.
///
/// Two render ids are equal when their texts are; it serializes as its text.
#[derive(Clone)]
pub struct RenderId(Repr);

#[derive(Clone)]
enum Repr {
    /// Issued by a render: the resolution's key part (interned), the checksum state after it,
    /// and the render's minute and nonce; the checksum and the text are written on first use, so
    /// a render pays for neither.
    Parts {
        prefix: KeyPrefix,
        minute: u32,
        nonce: u32,
        text: OnceLock<Box<str>>,
    },
    /// Read from text (a report's path, a deserialized response).
    Text(Box<str>),
}

/// The key part of the render ids of one (prompt, version, label): its text and the checksum
/// state after it, computed once per resolution and kept with it. The text is interned
/// ([`intern`]), so a render id holds it without reference counting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyPrefix {
    text: &'static str,
    fnv: u32,
}

/// The key parts of render ids: one copy per distinct (prompt, version, label) this process
/// rendered, kept for the life of the process — a few dozen bytes each, bounded by the store's
/// versions and labels — so that issuing a render id copies a reference instead of counting one.
fn intern(text: String) -> &'static str {
    static TABLE: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut table = TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = table.get(text.as_str()) {
        return known;
    }
    let text: &'static str = Box::leak(text.into_boxed_str());
    table.insert(text);
    text
}

impl KeyPrefix {
    pub(crate) fn new(prompt: &PromptId, version: &Version, label: Option<&LabelName>) -> Self {
        let mut bytes = Vec::with_capacity(64);
        push_str(&mut bytes, prompt.as_str());
        // A version string over the limit cannot come from a stored version in practice; it is
        // cut, and such a token then fails to parse (a clear error, never a wrong key).
        let version = version.to_string();
        push_str(&mut bytes, &version[..version.len().min(MAX_VERSION_LEN)]);
        push_str(&mut bytes, label.map_or("", LabelName::as_str));
        while !bytes.len().is_multiple_of(3) {
            bytes.push(0);
        }
        let mut text = String::with_capacity(PREFIX.len() + bytes.len() / 3 * 4);
        text.push_str(PREFIX);
        encode(&bytes, &mut text);
        Self {
            text: intern(text),
            fnv: fnv1a_from(FNV_OFFSET, &bytes),
        }
    }
}

impl RenderId {
    /// The token of a render of (`prompt`, `version`, `label`) in unix minute `minute`.
    pub fn new(prompt: &PromptId, version: &Version, label: Option<&LabelName>, minute: u32) -> Self {
        Self::with_prefix(KeyPrefix::new(prompt, version, label), minute)
    }

    /// The token of a render in `minute` from the key part of its resolution.
    pub(crate) fn with_prefix(prefix: KeyPrefix, minute: u32) -> Self {
        RenderId(Repr::Parts {
            prefix,
            minute,
            nonce: next_nonce(),
            text: OnceLock::new(),
        })
    }

    /// The token as text (written on the first call for a render's own id).
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Parts {
                prefix,
                minute,
                nonce,
                text,
            } => text.get_or_init(|| {
                let mut tail = [0u8; 12];
                tail[..4].copy_from_slice(&minute.to_be_bytes());
                tail[4..8].copy_from_slice(&nonce.to_be_bytes());
                let sum = fnv1a_from(prefix.fnv, &tail[..8]);
                tail[8..].copy_from_slice(&sum.to_be_bytes());
                let mut token = String::with_capacity(prefix.text.len() + 16);
                token.push_str(prefix.text);
                encode(&tail, &mut token);
                token.into_boxed_str()
            }),
            Repr::Text(text) => text,
        }
    }

    /// Reads a token: the key and minute of the render. Anything that is not a token issued by
    /// prompt-manager is refused with [`Error::InvalidArgument`] naming `render id`.
    pub fn parse(input: &str) -> Result<RenderToken> {
        let bad = |reason: &str| {
            Error::invalid_argument(
                "render id",
                input,
                format!("{reason}; use the `render_id` a render returned, unchanged"),
            )
        };
        if input.len() > MAX_TOKEN_LEN {
            return Err(bad("too long to be a render id"));
        }
        let body = input
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("a render id starts with `r1`"))?;
        let bytes = decode(body).ok_or_else(|| bad("not base64url"))?;
        if bytes.len() < 3 + 12 {
            return Err(bad("too short to be a render id"));
        }
        let (content, sum) = bytes.split_at(bytes.len() - 4);
        if fnv1a_from(FNV_OFFSET, content).to_be_bytes() != sum {
            return Err(bad("its checksum does not match (mistyped or cut?)"));
        }
        let (key, tail) = content.split_at(content.len() - 8);
        let minute = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let nonce = u32::from_be_bytes([tail[4], tail[5], tail[6], tail[7]]);
        let mut rest = key;
        let mut field = |what: &str| -> Result<&str> {
            let (&len, tail) = rest.split_first().ok_or_else(|| bad(&format!("no {what}")))?;
            let len = usize::from(len);
            if tail.len() < len {
                return Err(bad(&format!("its {what} is cut")));
            }
            let (text, tail) = tail.split_at(len);
            rest = tail;
            std::str::from_utf8(text).map_err(|_| bad(&format!("its {what} is not UTF-8")))
        };
        let prompt_id = field("prompt id")?;
        let version = field("version")?;
        let label = field("label")?;
        if rest.len() > 2 || rest.iter().any(|&b| b != 0) {
            return Err(bad("trailing bytes"));
        }
        let prompt_id = PromptId::new(prompt_id).map_err(|_| bad("its prompt id is invalid"))?;
        let version = version.parse::<Version>().map_err(|_| bad("its version is invalid"))?;
        let label = match label {
            "" => None,
            label => Some(LabelName::new(label).map_err(|_| bad("its label is invalid"))?),
        };
        Ok(RenderToken {
            key: UsageKey {
                prompt_id,
                version,
                label,
            },
            minute,
            nonce,
        })
    }
}

impl std::fmt::Display for RenderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RenderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RenderId").field(&self.as_str()).finish()
    }
}

impl PartialEq for RenderId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RenderId {}

impl std::hash::Hash for RenderId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Serialize for RenderId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Keeps the text as it is, as a string field would; [`RenderId::parse`] checks it when used.
impl<'de> Deserialize<'de> for RenderId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| RenderId(Repr::Text(text.into_boxed_str())))
    }
}

impl std::str::FromStr for RenderId {
    type Err = Error;

    /// Checks the token ([`RenderId::parse`]) and keeps it.
    fn from_str(s: &str) -> Result<Self> {
        RenderId::parse(s)?;
        Ok(RenderId(Repr::Text(s.into())))
    }
}

/// What a [`RenderId`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderToken {
    /// The aggregate the render was counted in.
    pub key: UsageKey,
    /// The render's unix minute.
    pub minute: u32,
    /// Tells renders of the same key and minute apart.
    pub nonce: u32,
}

impl RenderToken {
    /// The start of the render's minute, unix seconds.
    pub fn minute_start(&self) -> i64 {
        i64::from(self.minute) * 60
    }
}

/// What a caller reports after the model call ([`PromptManager::report_usage`](crate::PromptManager::report_usage)).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    /// Tokens the model produced.
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// How long the model call took, in milliseconds.
    #[serde(default)]
    pub model_latency_ms: Option<u64>,
    /// What the call actually cost, when the provider said; otherwise the cost is estimated from
    /// the price book.
    #[serde(default)]
    pub actual_cost: Option<NanoUsd>,
}

impl UsageReport {
    /// Refuses an empty report.
    pub fn validate(&self) -> Result<()> {
        if self.output_tokens.is_none() && self.model_latency_ms.is_none() && self.actual_cost.is_none() {
            return Err(Error::invalid_argument(
                "usage report",
                "{}",
                "give at least one of output_tokens, model_latency_ms, actual_cost",
            ));
        }
        Ok(())
    }
}

/// The largest score magnitude accepted in [`Feedback`] (so sums of squares stay exact enough).
pub const MAX_SCORE: f64 = 1e6;

/// How an answer was judged ([`PromptManager::report_feedback`](crate::PromptManager::report_feedback)).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    /// Whether the answer did its job.
    #[serde(default)]
    pub success: Option<bool>,
    /// A numeric score (any scale the application uses, at most ±1e6).
    #[serde(default)]
    pub score: Option<f64>,
}

impl Feedback {
    /// Refuses empty feedback and scores that are not finite or beyond ±[`MAX_SCORE`].
    pub fn validate(&self) -> Result<()> {
        if self.success.is_none() && self.score.is_none() {
            return Err(Error::invalid_argument(
                "feedback",
                "{}",
                "give success (true or false) and/or a numeric score",
            ));
        }
        if let Some(score) = self.score
            && !(score.is_finite() && score.abs() <= MAX_SCORE)
        {
            return Err(Error::invalid_argument(
                "score",
                &score.to_string(),
                format!("a score is a finite number between -{MAX_SCORE} and {MAX_SCORE}"),
            ));
        }
        Ok(())
    }
}

fn push_str(bytes: &mut Vec<u8>, s: &str) {
    let len = s.len().min(usize::from(u8::MAX));
    bytes.push(len as u8);
    bytes.extend_from_slice(&s.as_bytes()[..len]);
}

const FNV_OFFSET: u32 = 0x811c_9dc5;

/// FNV-1a of `bytes`, continued from `hash` (start from [`FNV_OFFSET`]).
fn fnv1a_from(mut hash: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// A nonce per render: a per-thread sequence in a range taken from a shared counter, mixed with
/// the process id so that two processes rarely repeat each other.
fn next_nonce() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    thread_local! {
        static LOCAL: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
    }
    let seq = LOCAL.with(|local| {
        let (next, end) = local.get();
        if next < end {
            local.set((next + 1, end));
            next
        } else {
            let start = NEXT.fetch_add(256, Ordering::Relaxed);
            local.set((start.wrapping_add(1), start.wrapping_add(256)));
            start
        }
    });
    // The process id once: `getpid` is a system call.
    static PROCESS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    seq ^ PROCESS.get_or_init(|| std::process::id().rotate_left(16))
}

fn encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(label: Option<&str>) -> (PromptId, Version, Option<LabelName>) {
        (
            PromptId::new("support/triage").unwrap(),
            Version::parse("1.2.0-rc.1").unwrap(),
            label.map(|l| LabelName::new(l).unwrap()),
        )
    }

    #[test]
    fn tokens_round_trip() {
        for label in [None, Some("production")] {
            let (id, version, label) = key(label);
            let token = RenderId::new(&id, &version, label.as_ref(), 29_000_123);
            assert!(token.as_str().starts_with("r1"));
            let read = RenderId::parse(token.as_str()).unwrap();
            assert_eq!(read.key.prompt_id, id);
            assert_eq!(read.key.version, version);
            assert_eq!(read.key.label, label);
            assert_eq!(read.minute, 29_000_123);
            assert_eq!(read.minute_start(), 29_000_123 * 60);
            assert_eq!(token.as_str().parse::<RenderId>().unwrap(), token);
            let other = RenderId::new(&id, &version, label.as_ref(), 29_000_123);
            assert_ne!(other, token, "renders get distinct ids");
        }
    }

    #[test]
    fn a_render_s_id_and_its_text_are_one_value() {
        use std::hash::BuildHasher;
        let (id, version, label) = key(Some("production"));
        let issued = RenderId::new(&id, &version, label.as_ref(), 29_000_123);
        // Serialized before its text was asked for: serde writes it on demand.
        let json = serde_json::to_string(&issued).unwrap();
        let read: RenderId = serde_json::from_str(&json).unwrap();
        assert_eq!(json, format!("\"{}\"", issued.as_str()));
        assert_eq!(read, issued);
        assert_eq!(issued, read);
        let hasher = std::collections::hash_map::RandomState::new();
        assert_eq!(hasher.hash_one(&issued), hasher.hash_one(&read));
        assert_eq!(format!("{issued:?}"), format!("RenderId({:?})", issued.as_str()));
        assert_eq!(issued.to_string(), read.to_string());
        // A clone taken before the text was written writes the same text.
        let fresh = RenderId::new(&id, &version, label.as_ref(), 29_000_123);
        let copy = fresh.clone();
        assert_eq!(copy.as_str(), fresh.as_str());
    }

    #[test]
    fn garbage_is_refused_clearly() {
        let (id, version, label) = key(Some("production"));
        let token = RenderId::new(&id, &version, label.as_ref(), 1).to_string();
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for (input, expected) in [
            ("", "starts with `r1`"),
            ("hello", "starts with `r1`"),
            ("r1!!!!", "not base64url"),
            ("r1AAAA", "too short"),
            (&token[..token.len() - 4], "checksum"),
            (&flipped, "checksum"),
            (&"r1".repeat(600), "too long"),
        ] {
            let err = RenderId::parse(input).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidArgument {
                        argument: "render id",
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut text = String::new();
            encode(&bytes, &mut text);
            assert_eq!(decode(&text).unwrap(), bytes);
        }
    }

    #[test]
    fn reports_and_feedback_are_checked() {
        assert!(UsageReport::default().validate().is_err());
        assert!(
            UsageReport {
                output_tokens: Some(3),
                ..Default::default()
            }
            .validate()
            .is_ok()
        );
        assert!(Feedback::default().validate().is_err());
        assert!(
            Feedback {
                score: Some(f64::NAN),
                success: None
            }
            .validate()
            .is_err()
        );
        assert!(
            Feedback {
                score: Some(4.5),
                success: Some(true)
            }
            .validate()
            .is_ok()
        );
    }
}
