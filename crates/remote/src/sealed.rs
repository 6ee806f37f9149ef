//! The file format of the disk cache's entries and of bundles: one line of JSON header, then the
//! JSON body, with the body's SHA-256 in the header. A file whose body does not hash to what its
//! header says (cut short by a crash, edited, bit-rotted) is refused as a whole.
//!
//! ```text
//! {"format":"prompt-manager-cache","format_version":1,…,"sha256":"9f86d0…"}
//! {…the body…}
//! ```

use std::io::Write;
use std::path::Path;

use prompt_manager_core::{Error, Result, sha256_hex};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The one format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// What every header has: which format, which version of it, and the body's hash.
#[derive(Debug, serde::Deserialize)]
struct Common {
    format: String,
    format_version: u32,
    sha256: String,
}

/// A sealed file's bytes and the SHA-256 of its body.
pub(crate) struct Sealed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) sha256: String,
}

/// The bytes of a sealed file: `header` (a JSON object, to which `sha256` is added) on the first
/// line, `body` after it.
pub(crate) fn seal<H: Serialize, B: Serialize>(header: &H, body: &B) -> Result<Sealed> {
    let body = serde_json::to_vec(body).map_err(|e| Error::Config(format!("cannot encode a sealed file: {e}")))?;
    let mut header =
        serde_json::to_value(header).map_err(|e| Error::Config(format!("cannot encode a sealed file: {e}")))?;
    let sha256 = sha256_hex(&body);
    if let Some(fields) = header.as_object_mut() {
        fields.insert("sha256".into(), sha256.clone().into());
    }
    let mut bytes = serde_json::to_vec(&header).map_err(|e| Error::Config(format!("cannot encode a header: {e}")))?;
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    bytes.push(b'\n');
    Ok(Sealed { bytes, sha256 })
}

/// Reads a sealed file's header and body, and the body's SHA-256: refused (naming `path` and
/// what is wrong) when it is not a `format` file of this version, or when its body does not hash
/// to its header's `sha256`.
pub(crate) fn unseal<H: DeserializeOwned, B: DeserializeOwned>(
    bytes: &[u8],
    format: &str,
    path: &Path,
) -> Result<(H, B, String)> {
    let bad = |why: String| Error::Config(format!("{}: not a usable {format} file: {why}", path.display()));
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| bad("it has no header line".into()))?;
    let (head, body) = (&bytes[..newline], &bytes[newline + 1..]);
    let common: Common = serde_json::from_slice(head).map_err(|e| bad(format!("line 1: {e}")))?;
    if common.format != format {
        return Err(bad(format!("line 1: its format is `{}`", common.format)));
    }
    if common.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "line 1: format version {} (this build reads {FORMAT_VERSION})",
            common.format_version
        )));
    }
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let actual = sha256_hex(body);
    if actual != common.sha256 {
        return Err(bad(format!(
            "its body hashes to sha256 {actual}, not the {} its header records (cut short or changed)",
            common.sha256
        )));
    }
    let header = serde_json::from_slice(head).map_err(|e| bad(format!("line 1: {e}")))?;
    let body = serde_json::from_slice(body).map_err(|e| bad(format!("line 2: {e}")))?;
    Ok((header, body, actual))
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it, then renamed over
/// `path`, so a reader sees the old file or the new one, never half of one. With `sync`, the file
/// is flushed to disk before the rename (a bundle); without, a crash may leave an empty or short
/// file behind the new name, which its seal then refuses (a disk cache entry, written on the
/// render path of a cold read, where an `fsync` would cost milliseconds).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temporary = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
    struct Header {
        format: String,
        format_version: u32,
        note: String,
    }

    fn header() -> Header {
        Header {
            format: "test-format".into(),
            format_version: FORMAT_VERSION,
            note: "hello".into(),
        }
    }

    #[test]
    fn a_sealed_file_reads_back_and_a_changed_one_is_refused() {
        let sealed = seal(&header(), &serde_json::json!({"a": [1, 2, 3]})).unwrap();
        let bytes = sealed.bytes;
        let path = Path::new("x.sealed");
        let (h, b, sha256): (Header, serde_json::Value, String) = unseal(&bytes, "test-format", path).unwrap();
        assert_eq!(sha256, sealed.sha256);
        assert_eq!(h, header());
        assert_eq!(b, serde_json::json!({"a": [1, 2, 3]}));

        let text = String::from_utf8(bytes.clone()).unwrap();
        let changed = text.replace("[1,2,3]", "[1,2,4]");
        let err = unseal::<Header, serde_json::Value>(changed.as_bytes(), "test-format", path).unwrap_err();
        assert!(
            err.to_string().contains("x.sealed") && err.to_string().contains("hashes to"),
            "{err}"
        );

        let cut = &bytes[..bytes.len() - 5];
        assert!(unseal::<Header, serde_json::Value>(cut, "test-format", path).is_err());
        let err = unseal::<Header, serde_json::Value>(&bytes, "other-format", path).unwrap_err();
        assert!(err.to_string().contains("its format is `test-format`"), "{err}");
        assert!(unseal::<Header, serde_json::Value>(b"no header", "test-format", path).is_err());
    }

    #[test]
    fn atomic_writes_replace_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/er/file.json");
        write_atomically(&path, b"first", true).unwrap();
        write_atomically(&path, b"second", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
