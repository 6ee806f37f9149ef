//! A/B splits: a label that points at several versions with integer weights ([`Split`],
//! [`SplitVariant`]), what a label points at in general ([`LabelTarget`]), which variant served a
//! render ([`ServedVariant`]), and the assignment of a render to a variant
//! ([`Split::assign`], [`split_key_hash`]).
//!
//! # Assignment (stable: changing it reassigns every caller's users)
//!
//! With a split key, the variant is a pure function of the prompt id, the label, the key and the
//! variants with their weights — the same on every instance, after restarts and across releases:
//!
//! 1. `ctx = XXH64(utf8(id) ‖ 0x00 ‖ utf8(label), seed 0)` and `k = XXH64(utf8(key), seed ctx)`
//!    (XXH64 as specified in `github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md`).
//! 2. For each variant, `v = XXH64(utf8(version), seed 0)` (its semver text, `1.2.0`), then
//!    `x = mix64(k XOR v)` with the SplitMix64 finaliser
//!    (`z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27; z *= 0x94d049bb133111eb; z ^= z >> 31`).
//! 3. `u = ((x >> 11) + 0.5) / 2^53`, in (0, 1); the variant's score is `-ln(u) / weight`.
//! 4. The lowest score wins (weighted rendezvous hashing); on an exact tie, the lower version.
//!
//! Each variant wins with probability `weight / Σ weights`. When one variant's weight changes
//! and the others stay, only keys moving to that variant (weight up) or away from it (weight
//! down) change variant, and as few as the new shares require; with two variants any change of
//! weights moves only the keys that must move. Without a key a render picks a variant at
//! random in proportion to the weights (a thread-local generator, not reproducible).

use std::fmt;
use std::str::FromStr;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::LabelName;

/// The fewest variants a split has.
pub const MIN_SPLIT_VARIANTS: usize = 2;
/// The most variants a split has.
pub const MAX_SPLIT_VARIANTS: usize = 10;
/// The largest weight of one variant.
pub const MAX_SPLIT_WEIGHT: u32 = 1_000_000;

/// One version of a split and its weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitVariant {
    /// The version.
    pub version: Version,
    /// Its weight (1 to [`MAX_SPLIT_WEIGHT`]); its share is the weight over the sum of weights.
    pub weight: u32,
}

impl SplitVariant {
    /// A variant.
    pub fn new(version: Version, weight: u32) -> Self {
        Self { version, weight }
    }
}

impl fmt::Display for SplitVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.version, self.weight)
    }
}

impl FromStr for SplitVariant {
    type Err = Error;

    /// Reads `VERSION=WEIGHT` (`1.2.0=90`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid_argument("variant", s, reason);
        let (version, weight) = s
            .split_once('=')
            .ok_or_else(|| bad("write a variant as VERSION=WEIGHT, e.g. 1.2.0=90"))?;
        let version = Version::parse(version.trim())
            .map_err(|e| bad(&format!("`{}` is not a version (x.y.z): {e}", version.trim())))?;
        let weight = weight.trim().parse::<u32>().map_err(|_| {
            bad(&format!(
                "the weight must be a whole number from 1 to {MAX_SPLIT_WEIGHT}"
            ))
        })?;
        Ok(Self { version, weight })
    }
}

/// A label's A/B split: 2 to 10 distinct versions with weights above zero, kept in version order.
///
/// Build one with [`Split::new`], which checks the rules; a stored split always passes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Split {
    variants: Vec<SplitVariant>,
}

impl<'de> Deserialize<'de> for Split {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let variants = Vec::<SplitVariant>::deserialize(deserializer)?;
        Split::new(variants).map_err(serde::de::Error::custom)
    }
}

impl Split {
    /// A split of `variants`, sorted by version. Refused with [`Error::InvalidArgument`] (naming
    /// the problem): fewer than [`MIN_SPLIT_VARIANTS`] or more than [`MAX_SPLIT_VARIANTS`]
    /// variants, a weight of 0 or above [`MAX_SPLIT_WEIGHT`], a version named twice. Whether the
    /// versions exist is the store's check.
    pub fn new(variants: impl IntoIterator<Item = SplitVariant>) -> Result<Self> {
        let mut variants: Vec<SplitVariant> = variants.into_iter().collect();
        let shown = |variants: &[SplitVariant]| variants.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
        let n = variants.len();
        if !(MIN_SPLIT_VARIANTS..=MAX_SPLIT_VARIANTS).contains(&n) {
            return Err(Error::invalid_argument(
                "split",
                &shown(&variants),
                format!(
                    "a split has {MIN_SPLIT_VARIANTS} to {MAX_SPLIT_VARIANTS} variants, this one has {n}; to point a \
                     label at one version, set it"
                ),
            ));
        }
        if let Some(v) = variants.iter().find(|v| v.weight == 0 || v.weight > MAX_SPLIT_WEIGHT) {
            return Err(Error::invalid_argument(
                "split",
                &shown(&variants),
                format!(
                    "variant {v}: a weight is a whole number from 1 to {MAX_SPLIT_WEIGHT} (a version that should get \
                     nothing is left out)"
                ),
            ));
        }
        variants.sort_by(|a, b| a.version.cmp(&b.version));
        if let Some(pair) = variants.windows(2).find(|w| w[0].version == w[1].version) {
            let version = pair[0].version.to_string();
            return Err(Error::invalid_argument(
                "split",
                &shown(&variants),
                format!("version {version} is named twice; each variant is a different version"),
            ));
        }
        Ok(Self { variants })
    }

    /// The variants, in version order.
    pub fn variants(&self) -> &[SplitVariant] {
        &self.variants
    }

    /// The sum of the weights.
    pub fn total_weight(&self) -> u64 {
        self.variants.iter().map(|v| u64::from(v.weight)).sum()
    }

    /// The version most renders get: the largest weight, the lowest version among equals. A
    /// split label's entry in [`PromptSummary::labels`](super::PromptSummary::labels) is this.
    pub fn primary(&self) -> &Version {
        let mut best = &self.variants[0];
        for v in &self.variants[1..] {
            if v.weight > best.weight {
                best = v;
            }
        }
        &best.version
    }

    /// Whether `version` is one of the variants.
    pub fn contains(&self, version: &Version) -> bool {
        self.variants.iter().any(|v| &v.version == version)
    }

    /// The index of the variant that serves split key `key` of label `label` of prompt `id` (see
    /// the module docs for the algorithm). Pure: the same on every instance and release.
    pub fn assign(&self, id: &str, label: &str, key: &str) -> usize {
        let hashes: Vec<u64> = self.variants.iter().map(|v| version_hash(&v.version)).collect();
        let weights: Vec<u32> = self.variants.iter().map(|v| v.weight).collect();
        pick_by_key(split_key_hash(context_seed(id, label), key), &hashes, &weights)
    }

    /// The shares of the variants, in version order, summing to 1.
    pub fn shares(&self) -> Vec<f64> {
        let total = self.total_weight() as f64;
        self.variants.iter().map(|v| f64::from(v.weight) / total).collect()
    }
}

impl fmt::Display for Split {
    /// `1.2.0=90 1.3.0=10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.variants.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Split {
    type Err = Error;

    /// Reads variants separated by spaces or commas: `1.2.0=90 1.3.0=10`.
    fn from_str(s: &str) -> Result<Self> {
        let variants = s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(SplitVariant::from_str)
            .collect::<Result<Vec<_>>>()?;
        Split::new(variants)
    }
}

/// What a label points at: one version, or a split of several.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelTarget {
    /// One version.
    Version(Version),
    /// Several versions with weights.
    Split(Split),
}

impl LabelTarget {
    /// The one version, or the split's [`primary`](Split::primary).
    pub fn version(&self) -> &Version {
        match self {
            LabelTarget::Version(v) => v,
            LabelTarget::Split(s) => s.primary(),
        }
    }

    /// The split, if this is one.
    pub fn split(&self) -> Option<&Split> {
        match self {
            LabelTarget::Split(s) => Some(s),
            LabelTarget::Version(_) => None,
        }
    }

    /// A target from a label's version and its split, as summaries and events keep them.
    pub fn from_parts(version: Version, split: Option<Split>) -> Self {
        match split {
            Some(split) => LabelTarget::Split(split),
            None => LabelTarget::Version(version),
        }
    }
}

impl fmt::Display for LabelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelTarget::Version(v) => write!(f, "{v}"),
            LabelTarget::Split(s) => write!(f, "split {s}"),
        }
    }
}

/// Which variant of a split served a render.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServedVariant {
    /// The split label.
    pub label: LabelName,
    /// The version that served.
    pub version: Version,
    /// Its weight in the split.
    pub weight: u32,
    /// The sum of the split's weights (the variant's share is `weight / total_weight`).
    pub total_weight: u64,
    /// Whether a split key chose it (sticky); `false`: chosen at random.
    pub sticky: bool,
}

// ----- the assignment -------------------------------------------------------------------------

/// The seed of a split's key hashes: `XXH64(utf8(id) ‖ 0x00 ‖ utf8(label), 0)`.
pub fn context_seed(id: &str, label: &str) -> u64 {
    let mut bytes = Vec::with_capacity(id.len() + 1 + label.len());
    bytes.extend_from_slice(id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(label.as_bytes());
    xxh64(&bytes, 0)
}

/// The hash of a split key under a context seed ([`context_seed`]): `XXH64(utf8(key), seed)`.
pub fn split_key_hash(seed: u64, key: &str) -> u64 {
    xxh64(key.as_bytes(), seed)
}

/// The hash of a variant's version: `XXH64(utf8(version), 0)`.
pub fn version_hash(version: &Version) -> u64 {
    xxh64(version.to_string().as_bytes(), 0)
}

/// The SplitMix64 finaliser.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `x` as a number in (0, 1): its top 53 bits, plus a half.
fn unit(x: u64) -> f64 {
    ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// The index of the winning variant for key hash `key` (weighted rendezvous: the lowest
/// `-ln(u) / weight` wins; ties go to the earlier variant). `version_hashes` and `weights`
/// have one entry per variant, in version order.
pub fn pick_by_key(key: u64, version_hashes: &[u64], weights: &[u32]) -> usize {
    let mut best = 0;
    let mut best_score = f64::INFINITY;
    for (i, (&v, &w)) in version_hashes.iter().zip(weights).enumerate() {
        let score = -unit(mix64(key ^ v)).ln() / f64::from(w);
        if score < best_score {
            best = i;
            best_score = score;
        }
    }
    best
}

/// A variant at random, in proportion to `weights` (whose sum is `total`, above zero): a
/// thread-local SplitMix64 generator seeded once per thread from the process's random state.
pub fn pick_at_random(weights: &[u32], total: u64) -> usize {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new().build_hasher().finish()
        });
    }
    let x = STATE.with(|s| {
        let next = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(next);
        mix64(next)
    });
    // Multiply-shift maps x onto [0, total) without a division.
    let mut r = ((u128::from(x) * u128::from(total.max(1))) >> 64) as u64;
    for (i, &w) in weights.iter().enumerate() {
        if r < u64::from(w) {
            return i;
        }
        r -= u64::from(w);
    }
    weights.len().saturating_sub(1)
}

// ----- XXH64 ------------------------------------------------------------------------------------

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn read64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn read32(b: &[u8]) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(a))
}

fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

fn merge(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

/// XXH64 of `input` with `seed`, as its specification defines it (a stable, portable hash:
/// the same value on every platform and release).
pub fn xxh64(input: &[u8], seed: u64) -> u64 {
    let len = input.len();
    let mut rest = input;
    let mut acc = if len >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, read64(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let mut acc = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            acc = merge(acc, lane);
        }
        acc
    } else {
        seed.wrapping_add(P5)
    };
    acc = acc.wrapping_add(len as u64);
    while rest.len() >= 8 {
        acc = (acc ^ round(0, read64(rest)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        acc = (acc ^ read32(rest).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        rest = &rest[4..];
    }
    for &byte in rest {
        acc = (acc ^ u64::from(byte).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    acc ^= acc >> 33;
    acc = acc.wrapping_mul(P2);
    acc ^= acc >> 29;
    acc = acc.wrapping_mul(P3);
    acc ^ (acc >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Split {
        s.parse().expect("valid split")
    }

    #[test]
    fn xxh64_matches_the_reference_vectors() {
        // From the reference implementation (python-xxhash 3.x, xxHash 0.8).
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        for (input, seed, expected) in reference_vectors() {
            assert_eq!(xxh64(input.as_bytes(), seed), expected, "XXH64({input:?}, {seed})");
        }
    }

    /// Vectors computed with python-xxhash, covering every tail length and the 32-byte stripes.
    fn reference_vectors() -> Vec<(&'static str, u64, u64)> {
        XXH64_VECTORS.to_vec()
    }

    const XXH64_VECTORS: &[(&str, u64, u64)] = &[
        ("", 0, 0xEF46_DB37_51D8_E999),
        ("a", 0, 0xD24E_C4F1_A98C_6E5B),
        ("abc", 0, 0x44BC_2CF5_AD77_0999),
        ("abcd", 1, 0xF5DC_BD6D_EE3C_9553),
        ("hello world", 0, 0x45AB_6734_B21E_6968),
        ("0123456789abcdef0123456789abcde", 7, 0x9BFB_ACF6_829B_F320),
        ("0123456789abcdef0123456789abcdef", 0, 0x642A_9495_8E71_E6C5),
        ("The quick brown fox jumps over the lazy dog", 0, 0x0B24_2D36_1FDA_71BC),
        ("support/triage\0production", 0, 0x3AF2_CD41_16F2_AD56),
        ("user-42", 12_345_678_901_234_567_890, 0xE39A_6811_0107_9CFA),
    ];

    #[test]
    fn assignments_are_pinned() {
        // Computed by an independent implementation of the documented algorithm (Python with
        // python-xxhash). A change here reassigns every user of every running experiment.
        let picks = |split_text: &str, label: &str| -> Vec<usize> {
            let s = split(split_text);
            (0..24)
                .map(|i| s.assign("support/triage", label, &format!("user-{i}")))
                .collect()
        };
        assert_eq!(
            picks("1.2.0=50 1.3.0=50", "production"),
            [0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1]
        );
        assert_eq!(
            picks("1.0.0=50 1.1.0=30 2.0.0=20", "production"),
            [0, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 0, 0, 1, 0, 1, 1, 0]
        );
        assert_eq!(
            picks("1.0.0=50 1.1.0=30 2.0.0=20", "canary"),
            [2, 0, 0, 0, 1, 0, 2, 0, 1, 0, 1, 1, 0, 2, 1, 1, 0, 0, 1, 0, 1, 0, 2, 2],
            "each label assigns independently"
        );
        assert_eq!(context_seed("support/triage", "production"), 0x3AF2_CD41_16F2_AD56);
    }

    #[test]
    fn splits_are_checked_and_sorted() {
        let s = split("1.3.0=10, 1.2.0=90");
        assert_eq!(s.to_string(), "1.2.0=90 1.3.0=10");
        assert_eq!(s.primary().to_string(), "1.2.0");
        assert_eq!(split("1.0.0=5 2.0.0=5").primary().to_string(), "1.0.0");
        for (bad, needle) in [
            ("1.0.0=100", "2 to 10 variants"),
            ("1.0.0=0 2.0.0=1", "from 1 to"),
            ("1.0.0=1 1.0.0=2", "named twice"),
            ("1.0.0 2.0.0=1", "VERSION=WEIGHT"),
            ("x=1 2.0.0=1", "not a version"),
            ("1.0.0=-1 2.0.0=1", "whole number"),
        ] {
            let err = bad.parse::<Split>().expect_err(bad).to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
        let eleven = (0..11).map(|i| SplitVariant::new(Version::new(1, i, 0), 1));
        assert!(Split::new(eleven).is_err());
        let json = serde_json::to_string(&s).expect("serializes");
        assert_eq!(
            json,
            r#"[{"version":"1.2.0","weight":90},{"version":"1.3.0","weight":10}]"#
        );
        assert_eq!(serde_json::from_str::<Split>(&json).expect("reads"), s);
        assert!(serde_json::from_str::<Split>(r#"[{"version":"1.2.0","weight":90}]"#).is_err());
    }

    #[test]
    fn random_picks_follow_the_weights() {
        let weights = [90, 10];
        let n = 100_000;
        let ones = (0..n).filter(|_| pick_at_random(&weights, 100) == 1).count();
        let share = ones as f64 / n as f64;
        assert!((share - 0.1).abs() < 0.01, "{share}");
    }
}
