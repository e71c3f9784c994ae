//! One kept-alive HTTP/1.1 connection, driven by the request that uses it instead of by a task
//! of its own.
//!
//! hyper splits a client connection into a sender and a connection future that does the
//! reading and writing; the usual way is to spawn that future, which costs two task wakeups
//! per request (worker to connection task and back). A worker runs one request at a time, so
//! here the request polls the connection future itself, beside its own: the socket's readiness
//! wakes the worker directly. Between requests nobody polls it; a close by the server while it
//! sat idle is noticed at the next request, before anything is written, and that request is
//! handed back unsent so that it can go out on a fresh connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// An open connection and the state hyper keeps for it.
pub(super) struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// hyper's connection future; `None` once it has finished (the connection is closed).
    driver: Option<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>,
}

/// Why an exchange failed.
pub(super) enum Failure {
    /// The connection was closed before the request was written: it can go out elsewhere.
    NotSent(Box<Request<Full<Bytes>>>),
    /// The connection closed or broke after the request was handed over and before a
    /// complete response: the server may or may not have seen it.
    Closed,
    /// Anything else (a malformed response, a broken body).
    Broken,
}

impl Connection {
    /// Connects to `addr` and sets up HTTP/1.1 on it.
    pub async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        // Latency matters more than packet count for a load generator.
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        Ok(Self {
            sender,
            driver: Some(driver),
        })
    }

    /// Sends `request` and reads the whole response, returning its status.
    pub async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<StatusCode, Failure> {
        if self
            .drive_until(|c, cx| c.sender.poll_ready(cx))
            .await
            .is_err()
        {
            return Err(Failure::NotSent(Box::new(request)));
        }
        let mut response = pin!(self.sender.try_send_request(request));
        let response = match self.drive_until(|_, cx| response.as_mut().poll(cx)).await {
            Ok(response) => response,
            Err(mut error) => {
                return Err(match error.take_message() {
                    Some(request) => Failure::NotSent(Box::new(request)),
                    None if closed_early(error.error()) => Failure::Closed,
                    None => Failure::Broken,
                });
            }
        };
        let status = response.status();
        let mut body = response.into_body();
        loop {
            match self
                .drive_until(|_, cx| Pin::new(&mut body).poll_frame(cx))
                .await
            {
                None => return Ok(status),
                Some(Ok(_frame)) => {}
                Some(Err(error)) if closed_early(&error) => return Err(Failure::Closed),
                Some(Err(_)) => return Err(Failure::Broken),
            }
        }
    }

    /// Polls hyper's connection future, then `poll`, until `poll` is ready.
    async fn drive_until<T>(
        &mut self,
        mut poll: impl FnMut(&mut Self, &mut Context<'_>) -> Poll<T>,
    ) -> T {
        std::future::poll_fn(|cx| {
            if let Some(driver) = &mut self.driver
                && Pin::new(driver).poll(cx).is_ready()
            {
                // Closed, cleanly or not: the pending request learns which from the sender.
                self.driver = None;
            }
            poll(self, cx)
        })
        .await
    }
}

/// Whether `error` means the peer closed or reset the connection before the response was
/// complete (rather than sending something malformed).
fn closed_early(error: &hyper::Error) -> bool {
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            );
        }
        source = cause.source();
    }
    false
}
