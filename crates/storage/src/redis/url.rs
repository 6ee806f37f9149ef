//! The `redis://` URL: where Redis is, the store behind it, and the cache's settings.

use std::time::Duration;

use prompt_manager_core::{Error, Result};

use super::RedisOptions;

/// A parsed `redis://[:PASSWORD@]HOST[:PORT][/DB]?[namespace=NS&][ttl=SECONDS&][timeout_ms=MS&]store=URL`.
///
/// `store=` comes last and takes the rest of the URL as it is, so the store's own URL needs no
/// escaping: `redis://127.0.0.1:6379/0?ttl=60&store=postgres://pm@db/pm?sslmode=require`.
///
/// ```
/// use prompt_manager_storage::RedisUrl;
///
/// let url = RedisUrl::parse("redis://127.0.0.1:6379/2?namespace=team-a&ttl=60&store=sqlite://./pm.db?mode=rwc")?;
/// assert_eq!(url.redis, "redis://127.0.0.1:6379/2");
/// assert_eq!(url.store, "sqlite://./pm.db?mode=rwc");
/// assert_eq!(url.options.namespace, "team-a");
/// assert_eq!(url.options.ttl.as_secs(), 60);
///
/// let err = RedisUrl::parse("redis://127.0.0.1:6379").unwrap_err();
/// assert!(err.to_string().contains("store="), "{err}");
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// The Redis URL without the parameters of the cache.
    pub redis: String,
    /// The URL of the store behind the cache.
    pub store: String,
    /// The cache's settings.
    pub options: RedisOptions,
}

const SHAPE: &str = "redis://HOST:PORT/DB?store=URL (Redis is a cache beside a store, \
                     e.g. redis://127.0.0.1:6379/0?store=postgres://pm@db/pm)";

impl RedisUrl {
    /// Parses `url`; every mistake is an error naming the parameter and the expected shape.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |what: String| Error::Config(format!("{what} in `{}`; use {SHAPE}", crate::redact_url(url)));
        let Some(rest) = url.strip_prefix("redis://") else {
            if url.starts_with("rediss://") {
                return Err(bad("TLS to Redis (`rediss://`) is not supported yet".into()));
            }
            return Err(bad("not a redis:// URL".into()));
        };
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (params, store) = if let Some(store) = query.strip_prefix("store=") {
            ("", store)
        } else if let Some(at) = query.find("&store=") {
            (&query[..at], &query[at + "&store=".len()..])
        } else {
            return Err(bad(
                "no store: `store=URL` names the store the cache is in front of".into()
            ));
        };
        if store.is_empty() {
            return Err(bad("`store=` is empty".into()));
        }
        if store.starts_with("redis://") || store.starts_with("rediss://") {
            return Err(bad(
                "`store=` names another Redis: Redis is a cache, not a store of record".into(),
            ));
        }
        let mut options = RedisOptions::default();
        for pair in params.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = |unit: &str| {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(format!("`{name}={value}` is not a positive number of {unit}")))
            };
            match name {
                "namespace" => {
                    check_namespace(value)?;
                    options.namespace = value.to_owned();
                }
                "ttl" => options.ttl = Duration::from_secs(number("seconds")?),
                "timeout_ms" => options.timeout = Duration::from_millis(number("milliseconds")?),
                other => {
                    return Err(bad(format!(
                        "unknown parameter `{other}` (known: namespace, ttl, timeout_ms, store)"
                    )));
                }
            }
        }
        Ok(Self {
            redis: format!("redis://{address}"),
            store: store.to_owned(),
            options,
        })
    }
}

/// A namespace is 1 to 64 of `A-Z a-z 0-9 . _ - :`, so keys stay readable and never collide.
pub(super) fn check_namespace(namespace: &str) -> Result<()> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
    if namespace.is_empty() || namespace.len() > 64 || !namespace.chars().all(fine) {
        return Err(Error::Config(format!(
            "Redis namespace `{namespace}` must be 1 to 64 letters, digits, `.`, `_`, `-` or `:`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::RedisUrl;

    #[test]
    fn the_store_takes_the_rest_of_the_url_unescaped() {
        let url = RedisUrl::parse("redis://:pw@h:6380/1?timeout_ms=50&store=postgres://u:p@db/pm?sslmode=require&x=1")
            .unwrap();
        assert_eq!(url.redis, "redis://:pw@h:6380/1");
        assert_eq!(url.store, "postgres://u:p@db/pm?sslmode=require&x=1");
        assert_eq!(url.options.timeout.as_millis(), 50);
        assert_eq!(url.options.namespace, "pm");
    }

    #[test]
    fn mistakes_say_what_and_never_show_the_password() {
        for (url, says) in [
            ("redis://h", "no store"),
            ("redis://h?store=", "is empty"),
            (
                "redis://h?ttl=0&store=memory://",
                "`ttl=0` is not a positive number of seconds",
            ),
            ("redis://h?ttl=x&store=memory://", "`ttl=x`"),
            ("redis://h?size=1&store=memory://", "unknown parameter `size`"),
            ("redis://h?namespace=a b&store=memory://", "namespace `a b`"),
            ("redis://h?store=redis://g?store=memory://", "another Redis"),
            ("rediss://h?store=memory://", "not supported yet"),
            ("redis://:secret@h?ttl=-1&store=memory://", "`ttl=-1`"),
            (
                "redis://h?size=1&store=http://pm/?key=secret",
                "unknown parameter `size`",
            ),
            (
                "redis://h?size=1&store=postgres://u:secret@db/pm?password=secret",
                "unknown parameter",
            ),
        ] {
            let message = RedisUrl::parse(url).unwrap_err().to_string();
            assert!(message.contains(says), "{url}: {message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }
}
