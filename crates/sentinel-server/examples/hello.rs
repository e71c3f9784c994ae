//! The ceiling for `sentinel serve` benchmarks: the smallest hyper HTTP/1.1 server, answering
//! every request `200 hello` on 127.0.0.1, with the same runtime and socket options as the
//! credential server. Whatever rate a load generator reaches against this on a machine is the
//! most the credential server could reach there.
//!
//! `cargo run --release -p sentinel-server --example hello -- [PORT]` (default 8099).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(text) => text.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "PORT must be a number")
        })?,
        None => 8099,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}/", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let service = service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
