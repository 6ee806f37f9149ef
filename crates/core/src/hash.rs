//! Content hashing: SHA-256 over a canonical JSON form (object keys sorted, no whitespace), so
//! the hash does not depend on field order, serde_json features or the store a prompt came from.
//! Audit entries are chained with the same encoding (`crate::audit`).

use sha2::{Digest, Sha256};

use crate::model::{ContentHash, Prompt};

pub(crate) fn content_hash(prompt: &Prompt) -> ContentHash {
    // Serializing a `Prompt` to a `Value` cannot fail: every field is a string, number, list or
    // map with string keys. Fall back to hashing the debug form rather than panicking.
    match serde_json::to_value(prompt) {
        Ok(value) => ContentHash(canonical_sha256(&value)),
        Err(_) => {
            let mut hasher = Sha256::new();
            hasher.update(format!("{prompt:?}").as_bytes());
            ContentHash(hex_digest(hasher))
        }
    }
}

/// `sha256:` and the hex SHA-256 of the canonical JSON form of `value` (object keys sorted, no
/// whitespace): the content hashes of versions and the hashes of audit entries.
pub(crate) fn canonical_sha256(value: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    write_canonical(value, &mut hasher);
    hex_digest(hasher)
}

fn hex_digest(hasher: Sha256) -> String {
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    push_hex(&mut out, &hasher.finalize());
    out
}

/// The lowercase hex SHA-256 of `bytes`, without a prefix: what sealed files (the `http://`
/// store's disk cache and bundles) record of their bodies.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    push_hex(&mut out, &Sha256::digest(bytes));
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_canonical(value: &serde_json::Value, hasher: &mut Sha256) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            hasher.update(b"{");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_canonical(&Value::String(key.clone()), hasher);
                hasher.update(b":");
                write_canonical(&map[key], hasher);
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_canonical(item, hasher);
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::sha256_hex;
    use crate::model::Prompt;

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn equal_content_equal_hash_and_any_change_shows() {
        let a = Prompt::text("a", "Hello {{ name }}")
            .expect("valid")
            .with_tags(["x", "y"]);
        let b = Prompt::text("a", "Hello {{ name }}")
            .expect("valid")
            .with_tags(["y", "x"]);
        assert_eq!(a.content_hash(), b.content_hash());
        let c = Prompt::text("a", "Hello {{ name }}!").expect("valid");
        assert_ne!(a.content_hash(), c.content_hash());
        let hash = a.content_hash().0;
        assert!(hash.starts_with("sha256:") && hash.len() == 71, "{hash}");
    }
}
