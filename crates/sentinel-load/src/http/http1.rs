//! HTTP/1.1: one connection per worker and origin, so no connection is ever shared or locked
//! against another worker ([`Pool`]), and on each a kept-alive exchange ([`Connection`]): the
//! request written as bytes prepared once, the response head parsed with `httparse` and its
//! body framed by the rules of RFC 9112 §6.3, read and discarded, over any [`Stream`] (TCP, a
//! Unix socket, TLS over either).
//!
//! A worker whose slot is empty (the connection failed, was closed, or was never opened)
//! connects at its next request, and that time counts in the request's latency like any other.
//! A request that finds its kept-alive connection closed by the server before anything was
//! written goes out on a fresh connection and is not an error; an idempotent request (`GET`,
//! `PUT`, ...) whose reused kept-alive connection closed cleanly before any response is sent
//! once more the same way, as browsers and curl do. Both count as retries, by cause. A reset
//! after the request was written and before any response is the target failing it: an error
//! of kind `reset`, never sent again. Without keep-alive every request opens its own
//! connection (`Connection: close`), handshake included.
//!
//! A load generator sends the same request millions of times and needs only the status and
//! the framing of each answer, so nothing is built, queued or allocated per request: one write,
//! usually one read, and a parse of the head in place. Memory per connection is the socket and
//! one read buffer that starts at 4 KB (it grows only for heads or chunks that need it).
//!
//! Before writing on a connection that sat idle, its read readiness is checked without a
//! system call: a server that closed it meanwhile (its keep-alive timeout) shows as readable,
//! and the request is reported as not sent, so the caller can send it on a fresh connection.

use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use http::Method;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dialer::{Dialer, Retry};
use super::kind::{CLOSED, IO, RESET};
use super::target::{HttpTarget, expects_body};
use super::transport::{OpenError, Stream};
use crate::error::RequestError;
use crate::exchange::Exchange;
use crate::wire::Wire;

/// The read buffer's starting capacity, and the least free space a read is given.
const READ_CHUNK: usize = 4096;
/// The read buffer never grows past this (a head or a chunk-size line longer is refused).
const MAX_BUFFER: usize = 64 * 1024;
/// Response headers beyond this count are refused.
const MAX_HEADERS: usize = 100;

/// Every worker's connection to every origin, and every target's request as written.
pub(super) struct Pool {
    requests: Box<[Prepared]>,
    /// A slot per worker and origin, at `worker × origins + origin`.
    slots: Box<[Slot]>,
    origins: usize,
    keepalive: bool,
}

/// A target's request, serialised once.
struct Prepared {
    origin: usize,
    bytes: Box<[u8]>,
    head_only: bool,
    idempotent: bool,
}

/// One worker's kept-alive connection to one origin, if it has one.
#[derive(Default)]
struct Slot(Mutex<Option<Connection>>);

impl Slot {
    fn take(&self) -> Option<Connection> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put(&self, connection: Connection) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection);
    }
}

impl Pool {
    /// Slots for `workers` workers to `origins` origins, and the requests of `targets` (with
    /// `origin_of` their origin indices).
    pub fn new(
        targets: &[HttpTarget],
        origin_of: &[usize],
        origins: usize,
        workers: usize,
        keepalive: bool,
    ) -> Self {
        let requests = targets
            .iter()
            .zip(origin_of)
            .map(|(target, &origin)| Prepared {
                origin,
                bytes: serialize(target, keepalive),
                head_only: target.method == Method::HEAD,
                idempotent: target.method.is_idempotent(),
            })
            .collect();
        Self {
            requests,
            slots: (0..workers * origins).map(|_| Slot::default()).collect(),
            origins,
            keepalive,
        }
    }

    /// How many connections a run opens before it starts: none without keep-alive.
    pub fn slots(&self) -> usize {
        if self.keepalive { self.slots.len() } else { 0 }
    }

    /// Opens the connection of slot `slot` (before a run).
    pub async fn fill(&self, dialer: &Dialer, slot: usize) -> Result<(), OpenError> {
        let connected = dialer.open(slot % self.origins).await?;
        self.slots[slot].put(Connection::new(connected.stream));
        Ok(())
    }

    /// Sends `target` on `worker`'s connection to its origin, opening one if needed, and reads
    /// the whole answer, counting what it writes, reads and opens into `wire` as it goes.
    pub async fn send(
        &self,
        dialer: &Dialer,
        worker: usize,
        target: usize,
        wire: &Wire,
    ) -> Result<Exchange, RequestError> {
        let request = &self.requests[target];
        let slot = &self.slots[worker * self.origins + request.origin];
        // A connection from the slot sat idle and may have been closed by the server since.
        let (mut connection, mut kept_alive) = match slot.take() {
            Some(connection) => (connection, true),
            None => (self.connect(dialer, request.origin, wire).await?, false),
        };
        let mut retried = false;
        let response = loop {
            let failure = match connection
                .exchange(&request.bytes, request.head_only, wire)
                .await
            {
                Ok(response) => break response,
                Err(failure) => failure,
            };
            let again = match failure {
                Failure::NotSent => true,
                Failure::Closed => kept_alive && request.idempotent,
                Failure::Reset | Failure::Broken => false,
            };
            if !again || retried {
                return Err(RequestError::new(failure.kind()));
            }
            retried = true;
            dialer.retried(failure.retry_cause());
            connection = self.connect(dialer, request.origin, wire).await?;
            kept_alive = false;
        };
        if response.reusable && self.keepalive {
            slot.put(connection);
        }
        Ok(Exchange {
            status: Some(response.status),
            first_byte: Some(response.first_byte),
            ..Exchange::default()
        })
    }

    /// Opens a connection to `origin` for a request, whose wire gets the connect time.
    /// On the heap: connecting is rare, and keeping its state out of the request's future
    /// keeps every worker's task small.
    async fn connect(
        &self,
        dialer: &Dialer,
        origin: usize,
        wire: &Wire,
    ) -> Result<Connection, RequestError> {
        let connected = Box::pin(dialer.open(origin))
            .await
            .map_err(|error| RequestError::new(error.kind))?;
        wire.connected(connected.took);
        Ok(Connection::new(connected.stream))
    }
}

/// The request line, the headers and the body of `target`, as sent; `Connection: close`
/// without keep-alive.
fn serialize(target: &HttpTarget, keepalive: bool) -> Box<[u8]> {
    let mut bytes = Vec::with_capacity(256 + target.body.len());
    bytes.extend_from_slice(target.method.as_str().as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(target.path.to_string().as_bytes());
    bytes.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &target.headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || (!keepalive && name == CONNECTION)
        {
            continue;
        }
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    if !target.body.is_empty() || expects_body(&target.method) {
        bytes.extend_from_slice(format!("content-length: {}\r\n", target.body.len()).as_bytes());
    }
    if !keepalive {
        bytes.extend_from_slice(b"connection: close\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&target.body);
    bytes.into_boxed_slice()
}

/// An open connection.
pub(super) struct Connection {
    stream: Stream,
    buffer: ReadBuffer,
}

/// How an exchange ended, when it did not end with a complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The connection was closed before the request was written: it can go out elsewhere.
    NotSent,
    /// The connection closed (or the write failed) after the request was written and before
    /// any byte of a response: the server may or may not have seen it.
    Closed,
    /// The server reset the connection after the request was written and before any byte of
    /// a response: it took the request and failed it.
    Reset,
    /// Anything else: a malformed or truncated response.
    Broken,
}

impl Failure {
    /// The error kind a request that ends with this failure counts under.
    fn kind(self) -> &'static str {
        match self {
            Failure::NotSent | Failure::Closed => CLOSED,
            Failure::Reset => RESET,
            Failure::Broken => IO,
        }
    }

    /// Why a request that failed this way went out again.
    fn retry_cause(self) -> Retry {
        match self {
            Failure::NotSent => Retry::ClosedIdle,
            _ => Retry::Closed,
        }
    }
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Response {
    /// The status code.
    pub status: u16,
    /// Whether the connection may carry another request.
    pub reusable: bool,
    /// When its first byte arrived.
    pub first_byte: Instant,
}

impl Connection {
    /// An HTTP/1.1 connection over `stream`.
    pub fn new(stream: Stream) -> Self {
        Self {
            stream,
            buffer: ReadBuffer::default(),
        }
    }

    /// Writes `request` and reads the whole response to it (no body when `head_only`, the
    /// request being a `HEAD`), counting the bytes into `wire` as they go.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head_only: bool,
        wire: &Wire,
    ) -> Result<Response, Failure> {
        if self.stream.closed_while_idle().await {
            return Err(Failure::NotSent);
        }
        let written = self.stream.write_all(request).await;
        // TLS may hold the last record until flushed; for TCP this is free.
        let flushed = written.is_ok() && self.stream.flush().await.is_ok();
        wire.wrote(request.len() as u64);
        if !flushed {
            return Err(Failure::Closed);
        }
        let (head, first_byte) = self.read_head(wire).await?;
        let framing = head.framing(head_only)?;
        match framing {
            Framing::Empty => {}
            Framing::Length(length) => self.skip(length, wire).await?,
            Framing::Chunked => self.skip_chunked(wire).await?,
            Framing::UntilClose => self.skip_until_close(wire).await?,
        }
        Ok(Response {
            status: head.status,
            reusable: head.keeps_alive()
                && framing != Framing::UntilClose
                && self.buffer.unread().is_empty(),
            first_byte,
        })
    }

    /// Reads up to the end of a final (non-1xx) response head; returns it and when its first
    /// byte arrived.
    async fn read_head(&mut self, wire: &Wire) -> Result<(Head, Instant), Failure> {
        let mut received = false;
        let mut first_byte = None;
        loop {
            match Head::parse(self.buffer.unread()) {
                Ok(Some((head, length))) => {
                    self.buffer.consume(length);
                    // 1xx answers (100 Continue, 103 Early Hints) precede the real one.
                    if (100..200).contains(&head.status) && head.status != 101 {
                        received = true;
                        continue;
                    }
                    return Ok((head, first_byte.unwrap_or_else(Instant::now)));
                }
                Ok(None) => {}
                Err(()) => return Err(Failure::Broken),
            }
            let nothing_yet = !received && self.buffer.unread().is_empty();
            match self.buffer.fill(&mut self.stream, wire).await {
                Err(error) if nothing_yet && error.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(Failure::Reset);
                }
                Ok(0) | Err(_) if nothing_yet => return Err(Failure::Closed),
                Ok(0) | Err(_) => return Err(Failure::Broken),
                Ok(_) => {
                    first_byte.get_or_insert_with(Instant::now);
                    received = true;
                }
            }
        }
    }

    /// Reads and discards exactly `length` body bytes.
    async fn skip(&mut self, mut length: u64, wire: &Wire) -> Result<(), Failure> {
        loop {
            let available = self.buffer.unread().len();
            let take = usize::try_from(length).map_or(available, |length| length.min(available));
            self.buffer.consume(take);
            length -= take as u64;
            if length == 0 {
                return Ok(());
            }
            self.fill_or_broken(wire).await?;
        }
    }

    /// Reads and discards a chunked body, trailers included.
    async fn skip_chunked(&mut self, wire: &Wire) -> Result<(), Failure> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(self.buffer.unread()) {
                    Ok(httparse::Status::Complete((length, size))) => {
                        self.buffer.consume(length);
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill_or_broken(wire).await?,
                    Err(_) => return Err(Failure::Broken),
                }
            };
            if size == 0 {
                return self.skip_trailers(wire).await;
            }
            self.skip(size, wire).await?;
            self.expect_line_end(wire).await?;
        }
    }

    /// Reads trailer lines up to the empty line that ends a chunked body.
    async fn skip_trailers(&mut self, wire: &Wire) -> Result<(), Failure> {
        loop {
            match find_crlf(self.buffer.unread()) {
                Some(0) => {
                    self.buffer.consume(2);
                    return Ok(());
                }
                Some(end) => self.buffer.consume(end + 2),
                None => self.fill_or_broken(wire).await?,
            }
        }
    }

    /// Consumes the CRLF that ends a chunk's data.
    async fn expect_line_end(&mut self, wire: &Wire) -> Result<(), Failure> {
        while self.buffer.unread().len() < 2 {
            self.fill_or_broken(wire).await?;
        }
        if &self.buffer.unread()[..2] != b"\r\n" {
            return Err(Failure::Broken);
        }
        self.buffer.consume(2);
        Ok(())
    }

    /// Reads and discards everything up to the end of the stream.
    async fn skip_until_close(&mut self, wire: &Wire) -> Result<(), Failure> {
        loop {
            let available = self.buffer.unread().len();
            self.buffer.consume(available);
            match self.buffer.fill(&mut self.stream, wire).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(Failure::Broken),
            }
        }
    }

    /// Reads more of the response; the end of the stream in the middle of one is a failure.
    async fn fill_or_broken(&mut self, wire: &Wire) -> Result<(), Failure> {
        match self.buffer.fill(&mut self.stream, wire).await {
            Ok(0) | Err(_) => Err(Failure::Broken),
            Ok(_) => Ok(()),
        }
    }
}

/// The position of the first CRLF in `bytes`.
fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// Bytes read from the connection; `data[consumed..]` is not yet used.
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

    /// Reads what the connection has into free space (at least [`READ_CHUNK`]), returning how
    /// many bytes arrived (0 at the end of the stream) and counting them into `wire`.
    async fn fill(&mut self, stream: &mut Stream, wire: &Wire) -> io::Result<usize> {
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
        let read = stream.read_buf(&mut self.data).await?;
        wire.read(read as u64);
        Ok(read)
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
            (Some(false), _) | (None, None) => Ok(Framing::UntilClose),
            (None, Some(Ok(0))) => Ok(Framing::Empty),
            (None, Some(Ok(length))) => Ok(Framing::Length(length)),
            (None, Some(Err(()))) => Err(Failure::Broken),
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
