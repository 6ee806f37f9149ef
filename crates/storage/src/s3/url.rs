//! The `s3://` URL: the bucket, the prefix, and the store's settings.

use std::time::Duration;

use prompt_manager_core::{Error, Result};

use super::S3Options;

/// A parsed `s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&poll_ms=MS&snapshot_every=N]`.
///
/// Credentials are never in the URL: they come from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (or the instance's role), as do the region
/// (`AWS_REGION`) and an S3-compatible endpoint (`AWS_ENDPOINT_URL`) unless the URL sets them.
///
/// ```
/// use prompt_manager_storage::S3Url;
///
/// let url = S3Url::parse("s3://prompts/team-a?endpoint=http://127.0.0.1:9000&poll_ms=250")?;
/// assert_eq!(url.bucket, "prompts");
/// assert_eq!(url.prefix, "team-a");
/// assert_eq!(url.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
/// assert_eq!(url.options.poll.as_millis(), 250);
///
/// let err = S3Url::parse("s3://prompts?secret_access_key=x").unwrap_err();
/// assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The prefix of every object the store writes, without slashes at its ends (`""`: the
    /// bucket's root).
    pub prefix: String,
    /// An S3-compatible server's URL (MinIO, R2, …), instead of AWS's.
    pub endpoint: Option<String>,
    /// The region, instead of `AWS_REGION`'s.
    pub region: Option<String>,
    /// The store's settings.
    pub options: S3Options,
}

const SHAPE: &str = "s3://BUCKET/PREFIX?endpoint=URL&region=REGION&poll_ms=MS&snapshot_every=N \
                     (every parameter optional; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";

impl S3Url {
    /// Parses `url`; every mistake is an error naming the part and the expected shape.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |what: String| Error::Config(format!("{what} in `{}`; use {SHAPE}", crate::redact_url(url)));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("not an s3:// URL".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        // S3's rules for bucket names: 3 to 63 lowercase letters, digits, dots and hyphens.
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            return Err(bad(format!(
                "`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|s| s.is_empty() && !prefix.is_empty() || s == "." || s == "..")
        {
            return Err(bad(format!("the prefix `{prefix}` has an empty, `.` or `..` segment")));
        }
        let mut parsed = S3Url {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: None,
            region: None,
            options: S3Options::default(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = |what: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(format!("`{key}={value}`: {what} must be a whole number")))
            };
            match key {
                "endpoint" if value.starts_with("http://") || value.starts_with("https://") => {
                    parsed.endpoint = Some(value.to_owned());
                }
                "endpoint" => return Err(bad(format!("`endpoint={value}` is not an http:// or https:// URL"))),
                "region" if !value.is_empty() => parsed.region = Some(value.to_owned()),
                "poll_ms" => {
                    let ms = number("the poll interval in milliseconds")?;
                    if ms == 0 {
                        return Err(bad("`poll_ms=0`: the poll interval must be at least 1 ms".into()));
                    }
                    parsed.options.poll = Duration::from_millis(ms);
                }
                "snapshot_every" => parsed.options.snapshot_every = number("the number of commits")?,
                "access_key_id" | "secret_access_key" | "session_token" | "key" | "password" => {
                    return Err(bad(format!(
                        "`{key}`: credentials do not go in the URL (it is shown in logs); set AWS_ACCESS_KEY_ID, \
                         AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead"
                    )));
                }
                _ => return Err(bad(format!("unknown parameter `{key}`"))),
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_bucket_prefix_and_parameters() {
        let url = S3Url::parse("s3://my-bucket/a/b/?region=eu-west-1&snapshot_every=0").unwrap();
        assert_eq!(url.bucket, "my-bucket");
        assert_eq!(url.prefix, "a/b");
        assert_eq!(url.region.as_deref(), Some("eu-west-1"));
        assert_eq!(url.options.snapshot_every, 0);
        assert_eq!(url.options.poll, S3Options::default().poll);
        assert_eq!(S3Url::parse("s3://bucket").unwrap().prefix, "");
    }

    #[test]
    fn refuses_what_it_cannot_use_and_says_why() {
        for (url, says) in [
            ("s3://", "is not a bucket name"),
            ("s3://Bucket/x", "is not a bucket name"),
            ("s3://ab", "is not a bucket name"),
            ("s3://bucket/a//b", "empty, `.` or `..` segment"),
            ("s3://bucket/a/../b", "empty, `.` or `..` segment"),
            (
                "s3://bucket?endpoint=127.0.0.1:9000",
                "is not an http:// or https:// URL",
            ),
            ("s3://bucket?poll_ms=soon", "must be a whole number"),
            ("s3://bucket?poll_ms=0", "at least 1 ms"),
            ("s3://bucket?secret_access_key=abc", "AWS_SECRET_ACCESS_KEY"),
            ("s3://bucket?versioning=on", "unknown parameter `versioning`"),
            ("http://bucket", "not an s3:// URL"),
        ] {
            let err = S3Url::parse(url).unwrap_err().to_string();
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains("abc"), "{url}: a secret is echoed: {err}");
        }
    }
}
