//! Header checks made before routing ([`check_headers`]), and the loopback test of a keyless
//! server ([`names_loopback`]).
//!
//! - `Host`, `Origin`, `Authorization` and `Content-Type` are singletons: a request with two
//!   field lines of one of them is refused (400 `bad_header`) instead of letting the first win —
//!   an `Authorization: <admin>` + `Authorization: <read>` pair must not act as either.
//! - `Host` is `uri-host [":" port]` (RFC 9110 §7.2, RFC 3986 §3.2.2: a registered name, an IPv4
//!   address or a bracketed IPv6 literal; no user information, path or other text) and `Origin`
//!   is `"null"` or serialized origins `scheme "://" host [":" port]` (RFC 6454 §7). A value that
//!   does not parse is a 400 (RFC 9112 §3.2 asks exactly that of a bad `Host`), so
//!   `localhost:80@evil.com` can never be read as `localhost`.
//!
//! Whether a parsed host is loopback is decided by the caller (`state.rs`), for keyless servers.

use std::net::{IpAddr, Ipv6Addr};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Headers that may appear once.
const SINGLETONS: [HeaderName; 4] = [
    header::HOST,
    header::ORIGIN,
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
];

fn bad_header(detail: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_header", detail)
}

/// Refuses duplicated singleton headers and a `Host` or `Origin` that does not parse (400).
pub(crate) async fn check_headers(request: Request, next: Next) -> Response {
    match check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    for name in &SINGLETONS {
        if headers.get_all(name).iter().nth(1).is_some() {
            return Err(bad_header(format!(
                "the {name} header appears more than once; send it once"
            )));
        }
    }
    if let Some(value) = headers.get(header::HOST) {
        value.to_str().ok().and_then(host_of).ok_or_else(|| {
            bad_header(format!(
                "Host `{}` is not `name[:port]` (RFC 9110 §7.2)",
                String::from_utf8_lossy(value.as_bytes()).escape_debug()
            ))
        })?;
    }
    if let Some(value) = headers.get(header::ORIGIN) {
        value.to_str().ok().and_then(origin_hosts).ok_or_else(|| {
            bad_header(format!(
                "Origin `{}` is not `null` or `scheme://host[:port]` (RFC 6454 §7)",
                String::from_utf8_lossy(value.as_bytes()).escape_debug()
            ))
        })?;
    }
    Ok(())
}

/// The host of an authority without user information — `name`, `name:port`, `1.2.3.4:port`,
/// `[::1]:port` — or `None` when it is anything else.
pub(crate) fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (literal, after) = rest.split_once(']')?;
            literal.parse::<Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':')?),
            };
            (authority.get(..literal.len() + 2)?, port)
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if !host.starts_with('[') && !is_reg_name(host) {
        return None;
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u32>().map_or(port.is_empty(), |p| p <= 65535))
    {
        return None;
    }
    Some(host)
}

/// A non-empty `reg-name` (RFC 3986 §3.2.2): unreserved, sub-delims and `%XX`; IPv4 addresses
/// are made of the same characters.
fn is_reg_name(host: &str) -> bool {
    let bytes = host.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) => {}
            _ => return false,
        }
        i += 1;
    }
    !bytes.is_empty()
}

/// The hosts an `Origin` names (none for `null`), or `None` when it does not parse.
pub(crate) fn origin_hosts(origin: &str) -> Option<Vec<&str>> {
    if origin == "null" {
        return Some(Vec::new());
    }
    origin
        .split(' ')
        .map(|serialized| {
            let (scheme, authority) = serialized.split_once("://")?;
            let mut chars = scheme.chars();
            let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if !scheme_ok {
                return None;
            }
            host_of(authority)
        })
        .collect()
}

/// Whether a host (as [`host_of`] returns it) is `localhost` or a loopback address.
fn host_is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let ip = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<IpAddr>().ok().filter(IpAddr::is_ipv4),
    };
    ip.is_some_and(|ip| ip.to_canonical().is_loopback())
}

/// Whether a `Host` value names loopback; `false` when it does not parse.
pub(crate) fn host_names_loopback(value: &str) -> bool {
    host_of(value).is_some_and(host_is_loopback)
}

/// Whether an `Origin` value names only loopback hosts; `false` for `null` (an opaque origin: a
/// sandboxed frame, a `file:` page) and when it does not parse.
pub(crate) fn origin_names_loopback(value: &str) -> bool {
    origin_hosts(value).is_some_and(|hosts| !hosts.is_empty() && hosts.into_iter().all(host_is_loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_as_rfc_3986_authorities_without_user_information() {
        for ok in [
            "localhost",
            "LocalHost:8080",
            "127.0.0.1:1",
            "[::1]:80",
            "[::1]",
            "a.b-c_d~e",
            "localhost:",
        ] {
            assert!(host_of(ok).is_some(), "{ok}");
        }
        for bad in [
            "localhost:80@evil.com",
            "user@localhost",
            "localhost:80/x",
            "localhost:99999",
            "localhost:8o",
            "[::1",
            "[::1]x",
            "[evil]:80",
            "",
            ":80",
            "local host",
            "a%zz",
        ] {
            assert_eq!(host_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_names() {
        assert!(host_names_loopback("localhost:8080"));
        assert!(host_names_loopback("127.0.0.2"));
        assert!(host_names_loopback("[::1]:1"));
        assert!(host_names_loopback("[::ffff:127.0.0.1]:1"));
        assert!(!host_names_loopback("localhost:80@evil.com"));
        assert!(!host_names_loopback("localhost.evil.com"));
        assert!(!host_names_loopback("evil.com"));
        assert!(origin_names_loopback("http://localhost:3000"));
        assert!(origin_names_loopback("https://127.0.0.1"));
        assert!(!origin_names_loopback("http://localhost:1@evil.com"));
        assert!(!origin_names_loopback("http://evil.com"));
        assert!(!origin_names_loopback("null"));
        assert!(!origin_names_loopback("http://localhost http://evil.com"));
        assert!(!origin_names_loopback("localhost"));
        assert!(!origin_names_loopback("http://localhost/path"));
    }
}
