//! An STS that answers `GetCallerIdentity` for a fixed broker, for the tests that run
//! `sentinel server` without AWS: the server asks STS who it runs as before it serves, and those
//! tests call nothing else of AWS. It reads each request whole and answers it on a connection of
//! its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// Who the broker is, as this STS answers.
pub const BROKER_ARN: &str = "arn:aws:iam::123456789012:user/sentinel-broker";

/// A running STS on a loopback port; it stops with the test process.
pub struct BrokerSts {
    addr: SocketAddr,
}

impl BrokerSts {
    /// Starts answering on a free loopback port.
    pub fn start() -> BrokerSts {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the broker's STS");
        let addr = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer(&stream));
            }
        });
        BrokerSts { addr }
    }

    /// The URL to give the server as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Reads one request and answers it with the broker's identity.
fn answer(stream: &TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let xml = format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <GetCallerIdentityResult><Arn>{BROKER_ARN}</Arn><UserId>AIDASENTINELBROKER</UserId>\
         <Account>123456789012</Account></GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>broker-sts</RequestId></ResponseMetadata>\
         </GetCallerIdentityResponse>"
    );
    let _ = write!(
        &mut &*stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
        xml.len()
    );
}
