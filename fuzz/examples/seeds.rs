//! Writes the seed corpora: `fuzz/corpus/<target>/seed-*`.
//!
//! The session seeds are real server flights: for TLS 1.2 and 1.3, with an ECDSA P-256 and an
//! RSA-2048 leaf, it starts `openssl s_server` on a loopback port with the fixed PKI of
//! `certpull_fuzz::pki`, pulls from it with the deterministic session (the same ClientHello the
//! target produces), and saves every byte the server sent, in the target's input format. Each
//! recording is replayed through the target before it is written: it must complete the pull.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example seeds            # all targets
//!     cargo run --manifest-path fuzz/Cargo.toml --example seeds -- session # one target
//!
//! Needs `openssl` on PATH for the session seeds.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certpull_core::pem::encode_chain;
use certpull_core::{PullError, Status};
use certpull_fuzz::pki::{keys, LeafKind, Pki};
use certpull_fuzz::targets::{self, key, policy::Fixture, session};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    dir
}

fn write(target: &str, name: &str, data: &[u8]) {
    // Every seed must pass its own target.
    targets::run(target, data);
    let path = corpus(target).join(format!("seed-{name}"));
    fs::write(&path, data).expect("write seed");
    println!("{} ({} bytes)", path.display(), data.len());
}

fn key_der(pem: &str) -> Vec<u8> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .expect("key PEM")
        .secret_der()
        .to_vec()
}

fn pem_seeds() {
    let ecdsa = Pki::get(LeafKind::EcdsaP256);
    let rsa = Pki::get(LeafKind::Rsa2048);
    let chain = encode_chain(&ecdsa.served_chain());
    write("pem", "chain", chain.as_bytes());
    let mixed = format!("{}{}", keys::P256_PKCS8, encode_chain(&rsa.served_chain()));
    write("pem", "key-then-chain-crlf", mixed.replace('\n', "\r\n").as_bytes());
    let root = encode_chain(&[rsa.root.clone()]);
    write("pem", "truncated", &root.as_bytes()[..root.len() / 2]);
    write("pem", "der-elements", &[ecdsa.leaf.as_ref(), ecdsa.root.as_ref()].concat());
}

fn chain_seeds() {
    let ecdsa = Pki::get(LeafKind::EcdsaP256);
    let rsa = Pki::get(LeafKind::Rsa2048);
    write("chain", "ecdsa-leaf-and-intermediate", &[ecdsa.leaf.as_ref(), ecdsa.intermediate.as_ref()].concat());
    write("chain", "rsa-leaf", &rsa.leaf);
    write("chain", "root", &rsa.root);
    // A leaf with IP SANs and a wildcard, from the policy fixture.
    let fixture = Fixture::get();
    write("chain", "ip-sans", &fixture.certs[6]);
    write("chain", "wildcard", &fixture.certs[5]);
}

fn key_seeds() {
    let ecdsa = Pki::get(LeafKind::EcdsaP256);
    let rsa = Pki::get(LeafKind::Rsa2048);
    let ed25519 = certpull_fuzz::pki::ed25519_key(20).serialize_pem();
    let seeds: [(&str, Vec<u8>); 7] = [
        ("pem-p256-pkcs8", key::join(0, keys::P256_PKCS8.as_bytes(), &ecdsa.leaf)),
        ("pem-rsa-pkcs1", key::join(0, keys::RSA2048_PKCS1.as_bytes(), &rsa.leaf)),
        ("pem-p384-sec1", key::join(0, keys::P384_SEC1.as_bytes(), &ecdsa.leaf)),
        ("pem-ed25519", key::join(0, ed25519.as_bytes(), &Fixture::get().certs[2])),
        ("der-pkcs8-rsa", key::join(1, &key_der(keys::RSA2048_PKCS8), &rsa.leaf)),
        ("der-sec1-p256", key::join(2, &key_der(keys::P256_SEC1), &ecdsa.leaf)),
        ("der-pkcs1-rsa", key::join(3, &key_der(keys::RSA2048_PKCS1), &rsa.leaf)),
    ];
    for (name, data) in seeds {
        write("key", name, &data);
    }
}

fn policy_seeds() {
    // Unstructured turns any bytes into a scenario; a few distinct streams are enough to start.
    for (index, seed) in [1u64, 2, 3, 4].into_iter().enumerate() {
        let mut state = seed;
        let data: Vec<u8> = (0..1024)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        write("policy", &format!("stream-{index}"), &data);
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `openssl s_server` for one connection on a free loopback port.
fn start_server(dir: &Path, pki: &Pki, tls13: bool) -> (Server, u16) {
    fs::write(dir.join("leaf.pem"), encode_chain(&[pki.leaf.clone()])).unwrap();
    fs::write(dir.join("chain.pem"), encode_chain(&[pki.intermediate.clone()])).unwrap();
    fs::write(dir.join("key.pem"), pki.leaf_key_pem).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    // SEEDS_DEBUG=1 shows what openssl says.
    let debug = std::env::var_os("SEEDS_DEBUG").is_some();
    let child = Command::new("openssl")
        .arg("s_server")
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .arg("-cert")
        .arg(dir.join("leaf.pem"))
        .arg("-cert_chain")
        .arg(dir.join("chain.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        .arg(if tls13 { "-tls1_3" } else { "-tls1_2" })
        .args(["-naccept", "1"])
        .args(if debug { &["-msg", "-state"][..] } else { &["-quiet"][..] })
        // s_server quits at end of its standard input: keep a pipe open until it is killed.
        .stdin(Stdio::piped())
        .stdout(if debug { Stdio::inherit() } else { Stdio::null() })
        .stderr(if debug { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .expect("openssl s_server (is openssl installed?)");
    (Server(child), port)
}

fn connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("connect to openssl s_server: {e}"),
        }
    }
}

/// Pulls from the server with the deterministic session; returns every byte it sent.
fn record(port: u16) -> Vec<u8> {
    let (config, now) = session::config(0);
    let mut session = session::new_session(&config, now);
    let mut stream = connect(port);
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let status = session.advance();
        stream.write_all(&session.take_output()).unwrap();
        match status {
            Ok(Status::NeedsInput) => {}
            Ok(Status::Complete(outcome)) => {
                assert_eq!(outcome.chain.len(), 2);
                return received;
            }
            Err(e) => panic!("recording pull failed: {e}"),
        }
        let n = stream.read(&mut buf).expect("read from s_server");
        if n == 0 {
            session.feed_eof();
            continue;
        }
        received.extend_from_slice(&buf[..n]);
        session.feed(&buf[..n]).unwrap_or_else(|e: PullError| panic!("feed: {e}"));
    }
}

fn session_seeds() {
    let dir = std::env::temp_dir().join(format!("certpull-fuzz-seeds-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    for tls13 in [false, true] {
        for kind in LeafKind::ALL {
            let pki = Pki::get(kind);
            let (server, port) = start_server(&dir, pki, tls13);
            let flight = record(port);
            drop(server);
            let version = if tls13 { "tls13" } else { "tls12" };
            let name = format!("{version}-{}", kind.label());
            // Replays must complete, in one piece and in small pieces.
            let whole = session::Plan::encode(0, &[], &flight);
            assert!(
                matches!(session::drive(&whole), session::End::Complete(_)),
                "{name}: the recorded flight does not replay"
            );
            write("session", &name, &whole);
            if kind == LeafKind::Rsa2048 {
                let chunked = session::Plan::encode(0, &[1, 5, 100, 1000, 0], &flight);
                assert!(matches!(session::drive(&chunked), session::End::Complete(_)));
                write("session", &format!("{name}-chunked"), &chunked);
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let all = wanted.is_empty();
    let want = |t: &str| all || wanted.iter().any(|w| w == t);
    if want("pem") {
        pem_seeds();
    }
    if want("chain") {
        chain_seeds();
    }
    if want("key") {
        key_seeds();
    }
    if want("policy") {
        policy_seeds();
    }
    if want("session") {
        session_seeds();
    }
}
