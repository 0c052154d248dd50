//! Hostile and broken "servers", as threads of the test process on 127.0.0.1:0.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, sleep, JoinHandle};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

/// The longest a hostile connection is kept open (the client is expected to give up first).
const MAX_HOLD: Duration = Duration::from_secs(60);

/// What a hostile server does with each accepted connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Writes 4 KiB of pseudo-random bytes (not starting with a TLS content type), then waits.
    RandomBytes,
    /// Writes a TLS handshake record header and a ServerHello-framed body of garbage, then waits.
    RecordHeaderThenGarbage,
    /// Writes a full handshake record whose handshake message announces 16 MiB, then waits.
    HugeHandshake,
    /// Accepts, reads, never writes.
    Silent,
    /// Writes a record header announcing 128 bytes and only 40 of them, then waits.
    HalfRecordThenStall,
    /// Closes the connection as soon as it is accepted.
    CloseOnAccept,
    /// Reads the ClientHello, answers `HTTP/1.1 400 Bad Request`, closes.
    HttpBadRequest,
    /// Writes an SMTP banner `220 mail.example.com ESMTP`, then waits.
    SmtpBanner,
    /// Announces a 16 KiB handshake record and trickles it one byte every 200 ms: every read
    /// gets data, so only a deadline over the whole handshake ends it.
    Trickle,
}

impl Behaviour {
    pub const ALL: [Behaviour; 9] = [
        Behaviour::RandomBytes,
        Behaviour::RecordHeaderThenGarbage,
        Behaviour::HugeHandshake,
        Behaviour::Silent,
        Behaviour::HalfRecordThenStall,
        Behaviour::CloseOnAccept,
        Behaviour::HttpBadRequest,
        Behaviour::SmtpBanner,
        Behaviour::Trickle,
    ];
}

/// A hostile server thread; stops (and releases its connections) when dropped.
pub struct HostileServer {
    /// The listening address (127.0.0.1:ephemeral).
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl HostileServer {
    /// Start a server with `behaviour` on 127.0.0.1:0.
    pub fn start(behaviour: Behaviour) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = stop.clone();
            let accepted = accepted.clone();
            thread::Builder::new()
                .name(format!("hostile-{behaviour:?}"))
                .spawn(move || accept_loop(listener, behaviour, stop, accepted))
                .expect("spawn hostile server")
        };
        HostileServer {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    /// The value for `--connect`.
    pub fn connect_arg(&self) -> String {
        self.addr.to_string()
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    behaviour: Behaviour,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
) {
    let mut conns = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                let stop = stop.clone();
                conns.push(thread::spawn(move || serve(stream, behaviour, &stop)));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => sleep(Duration::from_millis(5)),
            Err(_) => sleep(Duration::from_millis(5)),
        }
    }
    for c in conns {
        let _ = c.join();
    }
}

fn serve(mut s: TcpStream, behaviour: Behaviour, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_nodelay(true);
    match behaviour {
        Behaviour::CloseOnAccept => {
            drop(s);
            return;
        }
        Behaviour::RandomBytes => {
            let mut bytes = pseudo_random(4096, 0x5eed_0001);
            // Never start like a TLS record (content types 20..=24).
            bytes[0] = 0x9c;
            let _ = s.write_all(&bytes);
        }
        Behaviour::RecordHeaderThenGarbage => {
            // handshake record, TLS 1.2, 64 bytes: a ServerHello header of the right length
            // followed by 60 bytes of garbage (the session id length alone is out of range).
            let mut rec = vec![0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c];
            let mut garbage = pseudo_random(60, 0x5eed_0002);
            garbage[0] = 0xfe; // legacy_version: nonsense
            garbage[34] = 0xff; // session_id length 255 > 32 and > remaining bytes
            rec.extend_from_slice(&garbage);
            let _ = s.write_all(&rec);
        }
        Behaviour::HugeHandshake => {
            // One full 16 KiB handshake record whose message header announces 0xFFFFFF bytes.
            let mut rec = vec![0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0xff, 0xff, 0xff];
            rec.resize(5 + 0x4000, 0);
            let _ = s.write_all(&rec);
        }
        Behaviour::Silent => {}
        Behaviour::HalfRecordThenStall => {
            let mut rec = vec![
                0x16, 0x03, 0x03, 0x00, 0x80, 0x02, 0x00, 0x00, 0x7c, 0x03, 0x03,
            ];
            rec.extend_from_slice(&pseudo_random(29, 0x5eed_0003));
            let _ = s.write_all(&rec);
        }
        Behaviour::HttpBadRequest => {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let _ = s.shutdown(Shutdown::Write);
        }
        Behaviour::SmtpBanner => {
            let _ = s.write_all(b"220 mail.example.com ESMTP\r\n");
        }
        Behaviour::Trickle => {
            let mut rec = vec![
                0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3f, 0xfc, 0x03, 0x03,
            ];
            rec.resize(5 + 0x4000, 0x41);
            let start = Instant::now();
            for b in rec {
                if stop.load(Ordering::SeqCst) || start.elapsed() > MAX_HOLD {
                    return;
                }
                if s.write_all(&[b]).is_err() {
                    return;
                }
                sleep(Duration::from_millis(200));
            }
        }
    }
    hold(&mut s, stop);
}

/// Keep the connection open, draining input, until the peer closes, the server stops, or
/// [`MAX_HOLD`] passes.
fn hold(s: &mut TcpStream, stop: &AtomicBool) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) && start.elapsed() < MAX_HOLD {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// Deterministic xorshift bytes.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A listener with backlog 1 that never accepts, its queue filled so that one more `connect`
/// stays in SYN-SENT: a peer that never completes the TCP handshake.
pub struct FullBacklog {
    /// The listening address.
    pub addr: SocketAddr,
    _listener: Socket,
    _fillers: Vec<TcpStream>,
}

impl FullBacklog {
    /// Create and fill the backlog; panics if the queue cannot be filled.
    pub fn start() -> FullBacklog {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        listener.bind(&any.into()).expect("bind");
        listener.listen(1).expect("listen(1)");
        let addr = listener
            .local_addr()
            .expect("local addr")
            .as_socket()
            .expect("inet addr");
        let mut fillers = Vec::new();
        for _ in 0..32 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => fillers.push(s),
                Err(_) => {
                    return FullBacklog {
                        addr,
                        _listener: listener,
                        _fillers: fillers,
                    }
                }
            }
        }
        panic!("could not fill the accept backlog of {addr} with 32 connections");
    }

    /// The value for `--connect`.
    pub fn connect_arg(&self) -> String {
        self.addr.to_string()
    }
}

/// A loopback port with nothing listening (connect is refused).
pub fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    addr
}
