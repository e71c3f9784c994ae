//! One kept-alive HTTP/1.1 connection: the request written as bytes prepared once, the
//! response head parsed with `httparse` and its body framed by the rules of RFC 9112 §6.3,
//! read and discarded.
//!
//! A load generator sends the same request millions of times and needs only the status and
//! the framing of each answer, so nothing is built, queued or allocated per request: one write,
//! usually one read, and a parse of the head in place. Memory per connection is the socket and
//! one read buffer that starts at 4 KB (it grows only for heads or chunks that need it).
//!
//! Before writing on a connection that sat idle, its read readiness is checked without a
//! system call: a server that closed it meanwhile (its keep-alive timeout) shows as readable,
//! and the request is reported as not sent, so the caller can send it on a fresh connection.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The read buffer's starting capacity, and the least free space a read is given.
const READ_CHUNK: usize = 4096;
/// The read buffer never grows past this (a head or a chunk-size line longer is refused).
const MAX_BUFFER: usize = 64 * 1024;
/// Response headers beyond this count are refused.
const MAX_HEADERS: usize = 100;

/// An open connection.
pub(super) struct Connection {
    stream: TcpStream,
    buffer: ReadBuffer,
}

/// How an exchange ended, when it did not end with a complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The connection was closed before the request was written: it can go out elsewhere.
    NotSent,
    /// The connection closed or broke after the request was written and before any byte of
    /// a response: the server may or may not have seen it.
    Closed,
    /// Anything else: a malformed or truncated response.
    Broken,
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Response {
    /// The status code.
    pub status: u16,
    /// Whether the connection may carry another request.
    pub reusable: bool,
}

impl Connection {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        // Latency matters more than packet count for a load generator; requests are written
        // whole anyway.
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: ReadBuffer::default(),
        })
    }

    /// Writes `request` and reads the whole response to it (no body when `head_only`, the
    /// request being a `HEAD`).
    pub async fn exchange(&mut self, request: &[u8], head_only: bool) -> Result<Response, Failure> {
        if self.closed_while_idle().await {
            return Err(Failure::NotSent);
        }
        self.stream
            .write_all(request)
            .await
            .map_err(|_| Failure::Closed)?;
        let head = self.read_head().await?;
        let framing = head.framing(head_only)?;
        match framing {
            Framing::Empty => {}
            Framing::Length(length) => self.skip(length).await?,
            Framing::Chunked => self.skip_chunked().await?,
            Framing::UntilClose => self.skip_until_close().await?,
        }
        Ok(Response {
            status: head.status,
            reusable: head.keeps_alive()
                && framing != Framing::UntilClose
                && self.buffer.unread().is_empty(),
        })
    }

    /// Whether the connection was closed (or sent something unasked) while it sat idle.
    /// Costs no system call unless the socket is readable.
    async fn closed_while_idle(&mut self) -> bool {
        let stream = &self.stream;
        poll_fn(|cx| match stream.poll_read_ready(cx) {
            Poll::Pending => Poll::Ready(false),
            Poll::Ready(Err(_)) => Poll::Ready(true),
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                Poll::Ready(match stream.try_read(&mut probe) {
                    Err(error) => error.kind() != io::ErrorKind::WouldBlock,
                    // End of stream, or bytes nobody asked for: unusable either way.
                    Ok(_) => true,
                })
            }
        })
        .await
    }

    /// Reads up to the end of a final (non-1xx) response head.
    async fn read_head(&mut self) -> Result<Head, Failure> {
        let mut received = false;
        loop {
            match Head::parse(self.buffer.unread()) {
                Ok(Some((head, length))) => {
                    self.buffer.consume(length);
                    // 1xx answers (100 Continue, 103 Early Hints) precede the real one.
                    if (100..200).contains(&head.status) && head.status != 101 {
                        received = true;
                        continue;
                    }
                    return Ok(head);
                }
                Ok(None) => {}
                Err(()) => return Err(Failure::Broken),
            }
            match self.buffer.fill(&mut self.stream).await {
                Ok(0) | Err(_) if !received && self.buffer.unread().is_empty() => {
                    return Err(Failure::Closed);
                }
                Ok(0) | Err(_) => return Err(Failure::Broken),
                Ok(_) => received = true,
            }
        }
    }

    /// Reads and discards exactly `length` body bytes.
    async fn skip(&mut self, mut length: u64) -> Result<(), Failure> {
        loop {
            let available = self.buffer.unread().len();
            let take = usize::try_from(length).map_or(available, |length| length.min(available));
            self.buffer.consume(take);
            length -= take as u64;
            if length == 0 {
                return Ok(());
            }
            self.fill_or_broken().await?;
        }
    }

    /// Reads and discards a chunked body, trailers included.
    async fn skip_chunked(&mut self) -> Result<(), Failure> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(self.buffer.unread()) {
                    Ok(httparse::Status::Complete((length, size))) => {
                        self.buffer.consume(length);
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill_or_broken().await?,
                    Err(_) => return Err(Failure::Broken),
                }
            };
            if size == 0 {
                return self.skip_trailers().await;
            }
            self.skip(size).await?;
            self.expect_line_end().await?;
        }
    }

    /// Reads trailer lines up to the empty line that ends a chunked body.
    async fn skip_trailers(&mut self) -> Result<(), Failure> {
        loop {
            match find_crlf(self.buffer.unread()) {
                Some(0) => {
                    self.buffer.consume(2);
                    return Ok(());
                }
                Some(end) => self.buffer.consume(end + 2),
                None => self.fill_or_broken().await?,
            }
        }
    }

    /// Consumes the CRLF that ends a chunk's data.
    async fn expect_line_end(&mut self) -> Result<(), Failure> {
        while self.buffer.unread().len() < 2 {
            self.fill_or_broken().await?;
        }
        if &self.buffer.unread()[..2] != b"\r\n" {
            return Err(Failure::Broken);
        }
        self.buffer.consume(2);
        Ok(())
    }

    /// Reads and discards everything up to the end of the stream.
    async fn skip_until_close(&mut self) -> Result<(), Failure> {
        loop {
            let available = self.buffer.unread().len();
            self.buffer.consume(available);
            match self.buffer.fill(&mut self.stream).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(Failure::Broken),
            }
        }
    }

    /// Reads more of the response; the end of the stream in the middle of one is a failure.
    async fn fill_or_broken(&mut self) -> Result<(), Failure> {
        match self.buffer.fill(&mut self.stream).await {
            Ok(0) | Err(_) => Err(Failure::Broken),
            Ok(_) => Ok(()),
        }
    }
}

/// The position of the first CRLF in `bytes`.
fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// Bytes read from the socket; `data[consumed..]` is not yet used.
#[derive(Default)]
struct ReadBuffer {
    data: Vec<u8>,
    consumed: usize,
}

impl ReadBuffer {
    fn unread(&self) -> &[u8] {
        &self.data[self.consumed..]
    }

    fn consume(&mut self, length: usize) {
        self.consumed += length;
    }

    /// Reads what the socket has into free space (at least [`READ_CHUNK`]), returning how
    /// many bytes arrived (0 at the end of the stream).
    async fn fill(&mut self, stream: &mut TcpStream) -> io::Result<usize> {
        if self.consumed == self.data.len() {
            self.data.clear();
            self.consumed = 0;
        } else if self.consumed > 0 {
            self.data.drain(..self.consumed);
            self.consumed = 0;
        }
        if self.data.capacity() - self.data.len() < READ_CHUNK {
            if self.data.len() + READ_CHUNK > MAX_BUFFER {
                return Err(io::Error::other("response head or chunk line too long"));
            }
            self.data.reserve(READ_CHUNK.max(self.data.len()));
        }
        stream.read_buf(&mut self.data).await
    }
}

/// What a response head says about its body and its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    /// HTTP/1.`minor`.
    minor: u8,
    content_length: Option<Result<u64, ()>>,
    /// Whether `Transfer-Encoding` is present, and whether `chunked` is its final coding.
    transfer_encoding: Option<bool>,
    close: bool,
    keep_alive: bool,
}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Head {
    /// Parses a complete head at the start of `bytes`: the head and its length, `None` when
    /// more bytes are needed, `Err` when it is malformed.
    fn parse(bytes: &[u8]) -> Result<Option<(Head, usize)>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let length = match response.parse(bytes) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        let mut head = Head {
            status: response.code.ok_or(())?,
            minor: response.version.ok_or(())?,
            content_length: None,
            transfer_encoding: None,
            close: false,
            keep_alive: false,
        };
        for header in response.headers.iter() {
            let value = std::str::from_utf8(header.value).map_err(|_| ())?;
            if header.name.eq_ignore_ascii_case("content-length") {
                let parsed = value.trim().parse::<u64>().map_err(|_| ());
                head.content_length = match head.content_length {
                    // Repeated values must agree.
                    Some(earlier) if earlier != parsed => Some(Err(())),
                    _ => Some(parsed),
                };
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                head.transfer_encoding = Some(last.eq_ignore_ascii_case("chunked"));
            } else if header.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    head.close |= token.eq_ignore_ascii_case("close");
                    head.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                }
            }
        }
        Ok(Some((head, length)))
    }

    /// How the body of this response is delimited; `head_only` for an answer to `HEAD`.
    fn framing(&self, head_only: bool) -> Result<Framing, Failure> {
        if head_only || (100..200).contains(&self.status) || matches!(self.status, 204 | 304) {
            return Ok(Framing::Empty);
        }
        match (self.transfer_encoding, self.content_length) {
            (Some(true), _) => Ok(Framing::Chunked),
            (Some(false), _) => Ok(Framing::UntilClose),
            (None, Some(Ok(0))) => Ok(Framing::Empty),
            (None, Some(Ok(length))) => Ok(Framing::Length(length)),
            (None, Some(Err(()))) => Err(Failure::Broken),
            (None, None) => Ok(Framing::UntilClose),
        }
    }

    /// Whether the server keeps the connection open after this response.
    fn keeps_alive(&self) -> bool {
        !self.close && (self.minor >= 1 || self.keep_alive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        Head::parse(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn frames_bodies_as_rfc_9112_says() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
                false,
                Framing::Length(2),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                false,
                Framing::Empty,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                true,
                Framing::Empty,
            ),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, Framing::Empty),
            (
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                false,
                Framing::Empty,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
                false,
                Framing::Chunked,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                false,
                Framing::UntilClose,
            ),
            ("HTTP/1.0 200 OK\r\n\r\n", false, Framing::UntilClose),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 4\r\nContent-Length: 4\r\n\r\n",
                false,
                Framing::Length(4),
            ),
        ];
        for (text, head_only, expected) in cases {
            assert_eq!(head(text).framing(head_only), Ok(expected), "{text:?}");
        }
        let conflicting = head("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(conflicting.framing(false), Err(Failure::Broken));
        let garbage = head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
        assert_eq!(garbage.framing(false), Err(Failure::Broken));
    }

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_header() {
        assert!(head("HTTP/1.1 200 OK\r\n\r\n").keeps_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").keeps_alive());
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").keeps_alive());
        assert!(head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n").keeps_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\n\r\n").keeps_alive());
    }

    #[test]
    fn a_partial_head_asks_for_more_and_garbage_is_refused() {
        assert_eq!(Head::parse(b"HTTP/1.1 200 OK\r\nContent-Le"), Ok(None));
        assert_eq!(Head::parse(b"SSH-2.0-OpenSSH\r\n\r\n"), Err(()));
    }
}
