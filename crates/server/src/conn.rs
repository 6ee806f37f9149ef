//! The connections the server accepts: [`ProblemListener`], a TCP listener whose streams turn
//! hyper's own error responses into problem+json.
//!
//! When hyper cannot parse a request — a bad `Content-Length` (`abc`, `-1`), a NUL or another
//! control character in a header, a malformed request line, a URI or header section over its
//! limits — it answers by itself, before any service (axum, tower layers) sees the request, with
//! an empty body: `400`, `414` or `431`, then `connection: close` and `content-length: 0`. hyper
//! has no option to shape that answer. Its head is fixed and recognisable, and nothing else can
//! produce it (every error of the API carries `content-type: application/problem+json`, and a
//! JSON or Prometheus body never holds a raw CR LF), so the stream recognises that head as hyper
//! writes it — the last thing written on the connection — and sends a problem in its place.
//! Everything else passes through untouched.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::error::ApiError;

/// A TCP listener for [`axum::serve`] whose connections answer unparsable requests with a problem.
#[derive(Debug)]
pub(crate) struct ProblemListener(pub(crate) TcpListener);

impl axum::serve::Listener for ProblemListener {
    type Io = ProblemStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (ProblemStream, SocketAddr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (
            ProblemStream {
                inner: stream,
                pending: Vec::new(),
                written: 0,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A TCP stream that replaces hyper's empty error responses with problems (see the module docs).
#[derive(Debug)]
pub(crate) struct ProblemStream {
    inner: TcpStream,
    /// Bytes accepted from hyper but not yet written: what preceded the replaced head, then the
    /// problem response. Only ever set once, at the end of a connection.
    pending: Vec<u8>,
    written: usize,
}

/// What comes after the status line of hyper's automatic error head, up to its date.
const AUTOMATIC_HEAD: &[u8] = b"\r\nconnection: close\r\ncontent-length: 0\r\ndate: ";

/// If `bytes` ends with hyper's automatic error head, where that head starts and the problem
/// response to send instead.
fn replacement(bytes: &[u8]) -> Option<(usize, Vec<u8>)> {
    // `HTTP/1.1 400 Bad Request` + AUTOMATIC_HEAD + `Thu, 03 Dec 2026 21:19:22 GMT` + CR LF CR LF.
    let body_end = bytes.len().checked_sub(4)?;
    if bytes.get(body_end..)? != b"\r\n\r\n" {
        return None;
    }
    let date_start = body_end.checked_sub(29)?;
    let fixed_start = date_start.checked_sub(AUTOMATIC_HEAD.len())?;
    if bytes.get(fixed_start..date_start)? != AUTOMATIC_HEAD {
        return None;
    }
    let date = bytes.get(date_start..body_end)?;
    let (status, status_line) = [
        StatusCode::BAD_REQUEST,
        StatusCode::URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ]
    .into_iter()
    .find_map(|status| {
        let line = format!(
            "HTTP/1.1 {} {}",
            status.as_str(),
            status.canonical_reason().unwrap_or("")
        );
        let start = fixed_start.checked_sub(line.len())?;
        (bytes.get(start..fixed_start)? == line.as_bytes()).then_some((status, start))
    })?;
    let (code, detail) = match status {
        StatusCode::URI_TOO_LONG => ("uri_too_long", "the request target (path and query) is too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "headers_too_large",
            "the request's header section is too large (too many or too long header fields)",
        ),
        _ => (
            "malformed_request",
            "the request is not valid HTTP/1.1 and was not read: a malformed request line, header name or \
             value (a control character such as NUL), or Content-Length / Transfer-Encoding (not a \
             non-negative number, or contradicting each other); the connection is closed",
        ),
    };
    let body = serde_json::to_vec(&ApiError::new(status, code, detail).problem()).ok()?;
    let mut response = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\nconnection: close\r\ncontent-length: {}\r\ndate: ",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        crate::error::PROBLEM_JSON,
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(date);
    response.extend_from_slice(b"\r\n\r\n");
    response.extend_from_slice(&body);
    Some((status_line, response))
}

impl ProblemStream {
    /// Writes what is pending; ready once all of it is written.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `bytes` (all of what hyper asked to write) when they end with hyper's automatic error
    /// head: keeps what precedes it and the problem as pending output, and says so.
    fn intercept(&mut self, bytes: &[u8]) -> bool {
        if !self.pending.is_empty() {
            return false;
        }
        let Some((start, response)) = replacement(bytes) else {
            return false;
        };
        self.pending.extend_from_slice(&bytes[..start]);
        self.pending.extend_from_slice(&response);
        true
    }
}

impl AsyncRead for ProblemStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProblemStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // Cheap test first: the error head ends every buffer it is in.
        if buf.ends_with(b"GMT\r\n\r\n") && self.intercept(buf) {
            // Accepted whole: the rest goes out from `pending`, here or on flush / shutdown.
            if let Poll::Ready(Err(e)) = self.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let last = bufs.iter().rev().find(|b| !b.is_empty());
        if last.is_some_and(|b| b.ends_with(b"GMT\r\n\r\n")) {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if self.intercept(&all) {
                // Accepted whole: the rest goes out from `pending`, here or on flush / shutdown.
                if let Poll::Ready(Err(e)) = self.poll_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(all.len()));
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const DATE: &str = "Thu, 03 Dec 2026 21:19:22 GMT";

    #[test]
    fn hyper_s_automatic_heads_become_problems() {
        let head =
            format!("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n");
        let before = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        let bytes = format!("{before}{head}");
        let (start, response) = replacement(bytes.as_bytes()).unwrap();
        assert_eq!(start, before.len());
        let text = String::from_utf8(response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"),
            "{head}"
        );
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())), "{head}");
        assert!(head.ends_with(DATE), "{head}");
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["code"], "malformed_request");
        let long = format!(
            "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"
        );
        assert!(
            String::from_utf8(replacement(long.as_bytes()).unwrap().1)
                .unwrap()
                .contains("headers_too_large")
        );
    }

    #[test]
    fn other_responses_pass_through() {
        for other in [
            format!("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"),
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"
            ),
            format!("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\nx"),
            "GMT\r\n\r\n".to_owned(),
        ] {
            assert!(replacement(other.as_bytes()).is_none(), "{other}");
        }
    }
}
