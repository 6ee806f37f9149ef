//! The UI's static files, compiled into the binary: a stylesheet and a small script. Their URLs
//! carry a hash of their content (`/ui/assets/app.css?v=1a2b…`), so they are served with a year's
//! `immutable` cache and a new build's pages ask for the new files.

use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A compiled-in file: its name, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/app.js"),
    },
    Asset {
        name: "playground.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/playground.js"),
    },
    Asset {
        name: "edit.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/edit.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/favicon.svg"),
    },
];

/// Each asset's content hash (16 hex digits), in the order of [`ASSETS`].
static HASHES: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            Sha256::digest(a.bytes)
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
});

fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    ASSETS
        .iter()
        .zip(HASHES.iter())
        .find(|(a, _)| a.name == name)
        .map(|(a, h)| (a, h.as_str()))
}

/// The URL of an asset, with its hash.
pub(crate) fn url(name: &str) -> String {
    match find(name) {
        Some((_, hash)) => format!("/ui/assets/{name}?v={hash}"),
        None => format!("/ui/assets/{name}"),
    }
}

/// The query of an asset URL.
#[derive(serde::Deserialize)]
pub(crate) struct AssetQuery {
    v: Option<String>,
}

/// `GET /ui/assets/{name}`: the file, cached for a year when the URL names its current hash,
/// revalidated by ETag otherwise.
pub(crate) async fn serve(Path(name): Path<String>, Query(query): Query<AssetQuery>, headers: HeaderMap) -> Response {
    let Some((asset, hash)) = find(&name) else {
        return (StatusCode::NOT_FOUND, format!("no asset named {name}")).into_response();
    };
    let etag = format!("\"{hash}\"");
    let cache = if query.v.as_deref() == Some(hash) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.bytes.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `{` of the stylesheet is closed where it should be: an unclosed `@media` block
    /// silently swallows every rule after it (a merge once did this).
    #[test]
    fn the_stylesheet_has_balanced_blocks() {
        let css = std::str::from_utf8(ASSETS[0].bytes).unwrap_or_default();
        assert_eq!(ASSETS[0].name, "app.css");
        let mut depth = 0i32;
        for (n, line) in css.lines().enumerate() {
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            assert!(depth >= 0, "app.css line {}: a `}}` closes nothing", n + 1);
            if line.starts_with("/*") {
                assert_eq!(
                    depth,
                    0,
                    "app.css line {}: a section starts inside an open block",
                    n + 1
                );
            }
        }
        assert_eq!(depth, 0, "app.css ends inside an open block");
    }

    #[test]
    fn urls_carry_the_content_hash() {
        let url = url("app.js");
        assert!(url.starts_with("/ui/assets/app.js?v="), "{url}");
        assert_eq!(url.len(), "/ui/assets/app.js?v=".len() + 16);
        assert_eq!(super::url("nope.css"), "/ui/assets/nope.css");
    }
}
