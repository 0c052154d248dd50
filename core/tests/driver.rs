//! The blocking driver over an `embedded_io` stream.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use certpull_core::rustls::version::TLS13;
use certpull_core::rustls::ServerConnection;
use certpull_core::{pull_blocking, DriveError, FixedTime, PullError, PullSession};
use common::*;

/// A `TcpStream` as an `embedded_io` stream.
struct Socket(TcpStream);

impl embedded_io::ErrorType for Socket {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).map_err(|_| embedded_io::ErrorKind::Other)
    }
}

impl embedded_io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).map_err(|_| embedded_io::ErrorKind::Other)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().map_err(|_| embedded_io::ErrorKind::Other)
    }
}

#[test]
fn blocking_pull_over_a_socket_returns_the_served_chain() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &["www.example.com"], CURRENT);
    let server_config = pki.server(&TLS13, pki.served_chain());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut conn = ServerConnection::new(server_config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut socket).unwrap();
        }
        // Read until the client's close_notify ends the stream.
        let _ = conn.complete_io(&mut socket);
    });
    let mut session = PullSession::new(
        &verify(&pki, "www.example.com"),
        provider(),
        Arc::new(FixedTime::from_unix_seconds(now())),
    )
    .unwrap();
    let mut socket = Socket(TcpStream::connect(address).unwrap());
    let outcome = pull_blocking(&mut session, &mut socket).unwrap();
    assert_eq!(outcome.chain, pki.served_chain());
    drop(socket);
    server.join().unwrap();
}

#[test]
fn blocking_pull_reports_a_server_that_closes_at_once() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &["www.example.com"], CURRENT);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || drop(listener.accept().unwrap()));
    let mut session = PullSession::new(
        &verify(&pki, "www.example.com"),
        provider(),
        Arc::new(FixedTime::from_unix_seconds(now())),
    )
    .unwrap();
    let mut socket = Socket(TcpStream::connect(address).unwrap());
    server.join().unwrap();
    match pull_blocking(&mut session, &mut socket) {
        Err(DriveError::Pull(PullError::PeerClosed { bytes_received: 0 })) => {}
        // The close may also surface as a reset when our ClientHello hits a closed socket.
        Err(DriveError::Io(_)) => {}
        other => panic!("unexpected {other:?}"),
    }
}
