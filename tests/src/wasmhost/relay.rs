//! Real traffic for the proxy filter: a recording TCP relay, an `openssl s_client` to drive
//! through it, and reproducible noise.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Pieces of a connection, each with its direction, in the order they were read.
pub type Recording = Vec<(Flow, Vec<u8>)>;

/// The direction of a recorded piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// From the client (the proxy's downstream).
    ClientToServer,
    /// From the server (the proxy's upstream).
    ServerToClient,
}

/// Runs `client` against a relay on 127.0.0.1 that forwards to `server` and records every piece
/// read in each direction, in the order read. Returns the recording once both sides closed.
pub fn record_through_relay(server: SocketAddr, client: impl FnOnce(SocketAddr)) -> Recording {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let relay_addr = listener.local_addr().expect("relay address");
    let log: Arc<Mutex<Recording>> = Arc::default();
    let relay = {
        let log = log.clone();
        thread::spawn(move || {
            let (downstream, _) = listener.accept().expect("accept");
            let upstream = TcpStream::connect(server).expect("connect to server");
            for s in [&downstream, &upstream] {
                s.set_read_timeout(Some(Duration::from_secs(20))).ok();
                s.set_nodelay(true).ok();
            }
            let pump = |mut from: TcpStream, mut to: TcpStream, flow: Flow, log: Arc<Mutex<_>>| {
                thread::spawn(move || {
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                {
                                    let mut log: std::sync::MutexGuard<'_, Recording> =
                                        log.lock().expect("log");
                                    log.push((flow, buf[..n].to_vec()));
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                })
            };
            let a = pump(
                downstream.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
                Flow::ClientToServer,
                log.clone(),
            );
            let b = pump(upstream, downstream, Flow::ServerToClient, log);
            let _ = a.join();
            let _ = b.join();
        })
    };
    client(relay_addr);
    relay.join().expect("relay thread");
    let recording = log.lock().expect("log").clone();
    recording
}

/// `openssl s_client` through `addr` with SNI `name` and the given version flag (`-tls1_2`,
/// `-tls1_3`), offering ALPN `h2,http/1.1`; it completes the handshake, then closes.
pub fn openssl_client(addr: SocketAddr, name: &str, version_flag: &str) {
    let output = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            name,
        ])
        .args([version_flag, "-alpn", "h2,http/1.1", "-brief"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl s_client");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CONNECTION ESTABLISHED") || stderr.contains("Verification"),
        "openssl s_client did not complete the handshake: {stderr}"
    );
}

/// Pseudo-random bytes (xorshift), reproducible from `seed`.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
