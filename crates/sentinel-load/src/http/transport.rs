//! Where a connection's bytes go: TCP to one of an origin's addresses (every one tried, the one
//! that accepted last first) or a Unix socket, with TLS on top for an `https://` origin. The
//! HTTP/1.1 and HTTP/2 clients read and write a [`Stream`] without knowing which it is.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::kind::{CONNECT, TLS};

/// A connection below TLS.
pub(super) enum Plain {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix socket connection.
    #[cfg(unix)]
    Unix(UnixStream),
}

/// An open connection, with or without TLS.
pub(super) enum Stream {
    /// No TLS.
    Plain(Plain),
    /// TLS over a plain connection (boxed: a TLS session takes a few kilobytes, which a plain
    /// connection need not carry).
    Tls(Box<TlsStream<Plain>>),
}

/// Where an origin's connections go.
#[derive(Debug)]
pub(super) enum Peer {
    /// TCP to one of these addresses, tried in turn until one accepts.
    Tcp {
        /// Every address, in the resolver's order.
        addrs: Vec<SocketAddr>,
        /// The address that accepted last: tried first next time.
        preferred: AtomicUsize,
    },
    /// A Unix socket.
    #[cfg(unix)]
    Unix(PathBuf),
}

/// How to reach an origin and speak TLS to it, if it is an `https://` one.
pub(super) struct Endpoint {
    /// Where its connections go.
    pub peer: Peer,
    /// The shared TLS client and the name the certificate must carry (sent as SNI).
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// A newly opened connection.
pub(super) struct Connected {
    /// The connection.
    pub stream: Stream,
    /// How long opening it took, TCP and TLS.
    pub took: Duration,
    /// Whether its TLS handshake resumed an earlier session.
    pub resumed: bool,
}

/// Why a connection could not be opened: the error kind a request counts (`connect`, `tls`)
/// and what went wrong, for the one message a run prints about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OpenError {
    /// [`CONNECT`] or [`TLS`].
    pub kind: &'static str,
    /// What went wrong, naming the address or the server.
    pub detail: String,
}

impl Peer {
    /// TCP to `addrs`.
    pub fn tcp(addrs: Vec<SocketAddr>) -> Self {
        Peer::Tcp {
            addrs,
            preferred: AtomicUsize::new(0),
        }
    }

    /// Connects to the first address that accepts, starting from the one that accepted last.
    async fn connect(&self) -> Result<Plain, OpenError> {
        match self {
            Peer::Tcp { addrs, preferred } => {
                let first = preferred.load(Ordering::Relaxed);
                let mut last_error = None;
                for offset in 0..addrs.len() {
                    let index = (first + offset) % addrs.len();
                    match TcpStream::connect(addrs[index]).await {
                        Ok(stream) => {
                            if index != first {
                                preferred.store(index, Ordering::Relaxed);
                            }
                            // Latency matters more than packet count for a load generator;
                            // requests are written whole anyway.
                            let _ = stream.set_nodelay(true);
                            return Ok(Plain::Tcp(stream));
                        }
                        Err(error) => last_error = Some((addrs[index], error)),
                    }
                }
                Err(OpenError {
                    kind: CONNECT,
                    detail: match last_error {
                        Some((addr, error)) => format!("connecting to {addr}: {error}"),
                        None => "no address to connect to".to_owned(),
                    },
                })
            }
            #[cfg(unix)]
            Peer::Unix(path) => UnixStream::connect(path)
                .await
                .map(Plain::Unix)
                .map_err(|error| OpenError {
                    kind: CONNECT,
                    detail: format!("connecting to {}: {error}", path.display()),
                }),
        }
    }
}

impl Endpoint {
    /// Opens a connection: TCP or Unix, then the TLS handshake if the origin has TLS.
    pub async fn open(&self) -> Result<Connected, OpenError> {
        let started = Instant::now();
        let plain = self.peer.connect().await?;
        let Some((connector, name)) = &self.tls else {
            return Ok(Connected {
                stream: Stream::Plain(plain),
                took: started.elapsed(),
                resumed: false,
            });
        };
        let tls = connector
            .connect(name.clone(), plain)
            .await
            .map_err(|error| OpenError {
                kind: TLS,
                detail: format!("TLS handshake with {}: {error}", name.to_str()),
            })?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        Ok(Connected {
            stream: Stream::Tls(Box::new(tls)),
            took: started.elapsed(),
            resumed,
        })
    }
}

impl Stream {
    /// The protocol the TLS handshake agreed on (ALPN), if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls.get_ref().1.alpn_protocol(),
        }
    }

    /// Whether the peer closed the connection (or sent something nobody asked for) while it
    /// sat idle. Costs no system call unless the socket is readable; TLS records that carry no
    /// data (TLS 1.3 session tickets arrive after the handshake) are consumed and leave the
    /// connection usable.
    pub async fn closed_while_idle(&mut self) -> bool {
        poll_fn(|cx| {
            let plain = match self {
                Stream::Plain(plain) => plain,
                Stream::Tls(tls) => tls.get_mut().0,
            };
            match plain.poll_read_ready(cx) {
                Poll::Pending => return Poll::Ready(false),
                Poll::Ready(Err(_)) => return Poll::Ready(true),
                Poll::Ready(Ok(())) => {}
            }
            let mut probe = [0u8; 1];
            let closed = match self {
                Stream::Plain(plain) => match plain.try_read(&mut probe) {
                    Err(error) => error.kind() != io::ErrorKind::WouldBlock,
                    // End of stream, or bytes nobody asked for: unusable either way.
                    Ok(_) => true,
                },
                Stream::Tls(tls) => {
                    // Pending when only records without data came: the connection stands.
                    let mut buffer = ReadBuf::new(&mut probe);
                    Pin::new(tls.as_mut()).poll_read(cx, &mut buffer).is_ready()
                }
            };
            Poll::Ready(closed)
        })
        .await
    }
}

impl Plain {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Plain::Tcp(stream) => stream.poll_read_ready(cx),
            #[cfg(unix)]
            Plain::Unix(stream) => stream.poll_read_ready(cx),
        }
    }

    fn try_read(&self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Plain::Tcp(stream) => stream.try_read(buffer),
            #[cfg(unix)]
            Plain::Unix(stream) => stream.try_read(buffer),
        }
    }
}

/// Forwards a poll to whichever stream `$self` holds.
macro_rules! forward {
    ($self:ident, $stream:ident => $poll:expr) => {
        match $self.get_mut() {
            Plain::Tcp($stream) => $poll,
            #[cfg(unix)]
            Plain::Unix($stream) => $poll,
        }
    };
}

impl AsyncRead for Plain {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        forward!(self, stream => Pin::new(stream).poll_read(cx, buf))
    }
}

impl AsyncWrite for Plain {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        forward!(self, stream => Pin::new(stream).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        forward!(self, stream => Pin::new(stream).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        forward!(self, stream => Pin::new(stream).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        forward!(self, stream => Pin::new(stream).poll_shutdown(cx))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(plain) => Pin::new(plain).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(plain) => Pin::new(plain).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(plain) => Pin::new(plain).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(plain) => Pin::new(plain).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(plain) => Pin::new(plain).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
