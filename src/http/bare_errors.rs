//! hyper answers a request it cannot parse (a bad request line or header, a URI over 64 KiB,
//! headers over its buffer) by itself, before any route runs, with an empty body. This
//! connection wrapper recognises those answers as hyper writes them and sends problem details
//! in their place, so that every error the service answers is RFC 9457, whoever produced it.
//!
//! Only hyper writes such an answer: every answer of the router carries a body (its errors are
//! problem details), so a 400, 414 or 431 with `content-length: 0` and nothing after the head is
//! hyper's. hyper closes the connection after it, so the replacement says `connection: close`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::problem::{Problem, ProblemKind};

/// A connection whose bare parse-error answers are rewritten into problem details.
pub struct ProblemAnswers<S> {
    inner: S,
    /// The replacement answer still to be written, and how much of it already was.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> ProblemAnswers<S> {
    /// Wraps a connection.
    pub fn new(inner: S) -> Self {
        ProblemAnswers {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> ProblemAnswers<S> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
            if *written == bytes.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemAnswers<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemAnswers<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(replacement) = replacement_for(buf) {
            this.pending = Some((replacement, 0));
            // The original answer counts as written; the replacement goes out now or on flush.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
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

/// The problem-details answer to write instead of `written`, when `written` is one of hyper's
/// bare parse-error answers: a whole head of status 400, 414 or 431 with `content-length: 0`.
fn replacement_for(written: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(written.strip_suffix(b"\r\n\r\n")?).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let (kind, detail) = match status_line.get(..12)? {
        "HTTP/1.1 400" | "HTTP/1.0 400" => (
            ProblemKind::MalformedRequest,
            "the request line or a header is not valid HTTP/1.1",
        ),
        "HTTP/1.1 414" | "HTTP/1.0 414" => (
            ProblemKind::UriTooLong,
            "the request target is longer than 64 KiB",
        ),
        "HTTP/1.1 431" | "HTTP/1.0 431" => (
            ProblemKind::HeadersTooLarge,
            "the request's headers are larger than the server reads",
        ),
        _ => return None,
    };
    let mut empty = false;
    let mut kept = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            empty = value.trim() == "0";
        } else if !name.eq_ignore_ascii_case("connection")
            && !name.eq_ignore_ascii_case("content-type")
        {
            kept.push(line);
        }
    }
    if !empty {
        return None;
    }
    let body = Problem::new(kind, detail).body();
    let mut answer = format!("{status_line}\r\n");
    for line in kept {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: application/problem+json\r\ncache-control: no-store\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    ));
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(&body);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn body_of(answer: &[u8]) -> serde_json::Value {
        let text = std::str::from_utf8(answer).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn a_bare_414_becomes_a_problem_keeping_its_other_headers() {
        let answer = replacement_for(
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 15:00:00 GMT\r\n\r\n",
        )
        .expect("a bare 414 is replaced");
        let text = String::from_utf8(answer.clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(text.contains("\r\ndate: Thu, 03 Dec 2026 15:00:00 GMT\r\n"));
        assert!(text.contains("\r\ncontent-type: application/problem+json\r\n"));
        assert!(text.contains("\r\nconnection: close\r\n"));
        let body = body_of(&answer);
        assert_eq!(body["type"], "/problems/uri-too-long");
        assert_eq!(body["status"], 414);
        let length = format!("content-length: {}\r\n", body.to_string().len());
        assert!(text.contains(&length), "the length is the body's: {text}");
    }

    #[test]
    fn bare_400_and_431_become_problems() {
        for (head, slug) in [
            (
                &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"[..],
                "malformed-request",
            ),
            (
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
                "headers-too-large",
            ),
        ] {
            let answer = replacement_for(head).expect("replaced");
            assert_eq!(body_of(&answer)["type"], format!("/problems/{slug}"));
        }
    }

    #[test]
    fn answers_with_a_body_or_another_status_pass_unchanged() {
        for written in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 414 URI Too Long\r\n",
            b"{\"status\":400}",
        ] {
            assert_eq!(replacement_for(written), None, "{written:?}");
        }
    }

    #[tokio::test]
    async fn the_wrapper_writes_the_replacement_in_place_of_the_bare_answer() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut wrapped = ProblemAnswers::new(near);
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        let reader = tokio::spawn(async move {
            let mut seen = Vec::new();
            far.read_to_end(&mut seen).await.unwrap();
            seen
        });
        let n = wrapped.write(bare).await.unwrap();
        assert_eq!(n, bare.len(), "the bare answer counts as written whole");
        wrapped.write_all(b"").await.unwrap();
        wrapped.shutdown().await.unwrap();
        drop(wrapped);
        let seen = reader.await.unwrap();
        assert_eq!(
            seen,
            replacement_for(bare).unwrap(),
            "through a 64-byte pipe"
        );
    }
}
