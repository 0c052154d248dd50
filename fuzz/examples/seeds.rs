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
//! The starttls seeds are server dialogues after the RFCs' examples (RFC 3207, 2033, 9051,
//! 2595, 4217, 6120, 4511) and the PostgreSQL and MySQL/MariaDB protocol documentation: a
//! go-ahead, multi-line replies, refusals, STARTTLS not offered, an over-long line. The observe
//! seeds are the two directions of real TLS 1.2 and 1.3 handshakes between in-process rustls
//! peers (ring, the fixed PKI), and the ClientHello, ServerHello and Certificate bodies cut
//! from them.
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
use certpull_fuzz::targets::{self, key, policy::Fixture, session, starttls};
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
    write(
        "pem",
        "key-then-chain-crlf",
        mixed.replace('\n', "\r\n").as_bytes(),
    );
    let root = encode_chain(std::slice::from_ref(&rsa.root));
    write("pem", "truncated", &root.as_bytes()[..root.len() / 2]);
    write(
        "pem",
        "der-elements",
        &[ecdsa.leaf.as_ref(), ecdsa.root.as_ref()].concat(),
    );
}

fn chain_seeds() {
    let ecdsa = Pki::get(LeafKind::EcdsaP256);
    let rsa = Pki::get(LeafKind::Rsa2048);
    write(
        "chain",
        "ecdsa-leaf-and-intermediate",
        &[ecdsa.leaf.as_ref(), ecdsa.intermediate.as_ref()].concat(),
    );
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
        (
            "pem-p256-pkcs8",
            key::join(0, keys::P256_PKCS8.as_bytes(), &ecdsa.leaf),
        ),
        (
            "pem-rsa-pkcs1",
            key::join(0, keys::RSA2048_PKCS1.as_bytes(), &rsa.leaf),
        ),
        (
            "pem-p384-sec1",
            key::join(0, keys::P384_SEC1.as_bytes(), &ecdsa.leaf),
        ),
        (
            "pem-ed25519",
            key::join(0, ed25519.as_bytes(), &Fixture::get().certs[2]),
        ),
        (
            "der-pkcs8-rsa",
            key::join(1, &key_der(keys::RSA2048_PKCS8), &rsa.leaf),
        ),
        (
            "der-sec1-p256",
            key::join(2, &key_der(keys::P256_SEC1), &ecdsa.leaf),
        ),
        (
            "der-pkcs1-rsa",
            key::join(3, &key_der(keys::RSA2048_PKCS1), &rsa.leaf),
        ),
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
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
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
    fs::write(
        dir.join("leaf.pem"),
        encode_chain(std::slice::from_ref(&pki.leaf)),
    )
    .unwrap();
    fs::write(
        dir.join("chain.pem"),
        encode_chain(std::slice::from_ref(&pki.intermediate)),
    )
    .unwrap();
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
        .args(if debug {
            &["-msg", "-state"][..]
        } else {
            &["-quiet"][..]
        })
        // s_server quits at end of its standard input: keep a pipe open until it is killed.
        .stdin(Stdio::piped())
        .stdout(if debug {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(if debug {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
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
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
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
        session
            .feed(&buf[..n])
            .unwrap_or_else(|e: PullError| panic!("feed: {e}"));
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
                assert!(matches!(
                    session::drive(&chunked),
                    session::End::Complete(_)
                ));
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
    if want("starttls") {
        starttls_seeds();
    }
    if want("observe") {
        observe_seeds();
    }
}

/// A DER/BER element with a definite length, short form or (`long`) the 4-byte long form
/// OpenLDAP writes.
fn ber(tag: u8, value: &[u8], long: bool) -> Vec<u8> {
    let mut out = vec![tag];
    if long {
        out.push(0x84);
        out.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
    } else {
        out.push(u8::try_from(value.len()).unwrap());
    }
    out.extend_from_slice(value);
    out
}

/// An LDAP ExtendedResponse to message 1 (RFC 4511 §4.12).
fn ldap_response(code: u8, diagnostic: &str, oid: bool, long: bool) -> Vec<u8> {
    let mut response = ber(0x0a, &[code], false);
    response.extend(ber(0x04, b"", false));
    response.extend(ber(0x04, diagnostic.as_bytes(), false));
    if oid {
        response.extend(ber(0x8a, b"1.3.6.1.4.1.1466.20037", false));
    }
    let mut message = ber(0x02, &[1], false);
    message.extend(ber(0x78, &response, long));
    ber(0x30, &message, long)
}

/// A MySQL/MariaDB protocol-10 greeting packet (sequence 0), with or without CLIENT_SSL.
fn mysql_greeting(version: &str, ssl: bool) -> Vec<u8> {
    let mut payload = vec![10];
    payload.extend_from_slice(version.as_bytes());
    payload.push(0);
    payload.extend_from_slice(&42u32.to_le_bytes()); // connection id
    payload.extend_from_slice(b"8charsal"); // auth-plugin-data part 1
    payload.push(0); // filler
    let lower: u16 = if ssl { 0xfffe } else { 0xf7fe };
    payload.extend_from_slice(&lower.to_le_bytes());
    payload.push(45); // charset
    payload.extend_from_slice(&2u16.to_le_bytes()); // status: autocommit
    payload.extend_from_slice(&0x81bfu16.to_le_bytes()); // upper capabilities
    payload.push(21); // auth-plugin-data length
    payload.extend_from_slice(&[0; 10]);
    payload.extend_from_slice(b"twelve chars\0");
    payload.extend_from_slice(b"mysql_native_password\0");
    let length = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let mut packet = vec![length[0], length[1], length[2], 0];
    packet.extend(payload);
    packet
}

fn starttls_seeds() {
    use certpull_core::Protocol::{self, *};
    let seed = |protocol: Protocol, name: &str, chunks: &[u16], small: bool, data: &[u8]| {
        let selector = starttls::selector(protocol) | if small { 0x80 } else { 0 };
        let input = session::Plan::encode(selector, chunks, data);
        let end = starttls::drive(&input);
        if name.starts_with("ok") {
            assert_eq!(end, starttls::End::HandedOver, "{protocol} {name}");
        } else {
            assert!(
                matches!(end, starttls::End::Failed(_)),
                "{protocol} {name}: {end:?}"
            );
        }
        write("starttls", &format!("{protocol}-{name}"), &input);
    };
    let ehlo = "250-mail.example.org Hello certpull.invalid [127.0.0.1]\r\n250-SIZE 52428800\r\n\
                250-8BITMIME\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 HELP\r\n";
    let smtp_ok = format!(
        "220-mail.example.org ESMTP Postfix (Debian/GNU)\r\n220 No UCE\r\n{ehlo}\
         220 2.0.0 Ready to start TLS\r\n"
    );
    seed(Smtp, "ok-multiline", &[], false, smtp_ok.as_bytes());
    seed(
        Smtp,
        "ok-chunked",
        &[1, 7, 0, 40],
        false,
        smtp_ok.as_bytes(),
    );
    seed(
        Smtp,
        "refused-454",
        &[],
        false,
        format!("220 mail.example.org ESMTP\r\n{ehlo}454 4.7.0 TLS not available due to temporary reason\r\n")
            .as_bytes(),
    );
    seed(
        Smtp,
        "not-offered",
        &[],
        false,
        b"220 mail.example.org ESMTP\r\n250-mail.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    );
    seed(
        Smtp,
        "refused-554-banner",
        &[],
        false,
        b"554 5.7.1 No SMTP service here\r\n",
    );
    let mut long = b"220 ".to_vec();
    long.resize(4200, b'x');
    long.extend_from_slice(b"\r\n");
    seed(Smtp, "line-too-long", &[1000], false, &long);
    seed(
        Lmtp,
        "ok",
        &[],
        false,
        b"220 lmtp.example.org LMTP Server (Dovecot) ready\r\n250-lmtp.example.org\r\n\
          250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-STARTTLS\r\n\
          250 CHUNKING\r\n220 2.0.0 Begin TLS negotiation now.\r\n",
    );
    let imap_ok = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ \
                    STARTTLS LOGINDISABLED] Dovecot (Debian) ready.\r\n\
                    * CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS \
                    LOGINDISABLED\r\na001 OK Pre-login capabilities listed, post-login capabilities \
                    have more.\r\n* OK untagged data may come at any time\r\n\
                    a002 OK Begin TLS negotiation now.\r\n";
    seed(Imap, "ok", &[], false, imap_ok);
    seed(Imap, "ok-chunked", &[3, 0, 50], false, imap_ok);
    seed(
        Imap,
        "refused-bad",
        &[],
        false,
        b"* OK IMAP4rev1 ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\na001 OK done\r\n\
          a002 BAD TLS support not available\r\n",
    );
    seed(
        Imap,
        "refused-bye",
        &[],
        false,
        b"* BYE Too many connections\r\n",
    );
    seed(
        Pop3,
        "ok",
        &[],
        false,
        b"+OK Dovecot (Debian) ready.\r\n+OK Begin TLS negotiation now.\r\n",
    );
    seed(
        Pop3,
        "refused",
        &[],
        false,
        b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n-ERR TLS not available\r\n",
    );
    seed(
        Ftp,
        "ok-multiline",
        &[],
        false,
        b"220-Welcome to the example FTP service.\r\n  Anonymous access is logged.\r\n\
          220 (vsFTPd 3.0.3)\r\n234 Proceed with negotiation.\r\n",
    );
    seed(
        Ftp,
        "refused",
        &[],
        false,
        b"220 (vsFTPd 3.0.3)\r\n530 Please login with USER and PASS.\r\n",
    );
    let stream = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                  xmlns:stream='http://etherx.jabber.org/streams' id='t7AMCin9zjMNwQKDnplntZPIDEI=' \
                  from='pull.certpull.test' version='1.0' xml:lang='en'>";
    let features = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
                    <required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                    <mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
    let proceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    let xmpp_ok = format!("{stream}{features}{proceed}");
    seed(Xmpp, "ok", &[], false, xmpp_ok.as_bytes());
    seed(Xmpp, "ok-chunked", &[5, 0, 64], false, xmpp_ok.as_bytes());
    seed(
        Xmpp,
        "failure",
        &[],
        false,
        format!(
            "{stream}{features}<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
        )
        .as_bytes(),
    );
    seed(
        Xmpp,
        "host-unknown",
        &[],
        false,
        format!(
            "{stream}<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
             </stream:error></stream:stream>"
        )
        .as_bytes(),
    );
    seed(
        Xmpp,
        "not-offered",
        &[],
        false,
        format!(
            "{stream}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
             <mechanism>PLAIN</mechanism></mechanisms></stream:features>"
        )
        .as_bytes(),
    );
    seed(Ldap, "ok", &[], false, &ldap_response(0, "", false, false));
    seed(
        Ldap,
        "ok-openldap-long-form",
        &[1],
        false,
        &ldap_response(0, "", true, true),
    );
    seed(
        Ldap,
        "refused-protocol-error",
        &[],
        false,
        &ldap_response(2, "unsupported extended operation", false, false),
    );
    seed(Postgres, "ok", &[], false, b"S");
    seed(Postgres, "refused", &[], false, b"N");
    let mut error = b"E".to_vec();
    let fields =
        b"SFATAL\0C0A000\0Munsupported frontend protocol 1234.5679: server supports 1.0 to 3.0\0\0";
    error.extend_from_slice(&(u32::try_from(fields.len()).unwrap() + 4).to_be_bytes());
    error.extend_from_slice(fields);
    seed(Postgres, "refused-old-server", &[], false, &error);
    let greeting = mysql_greeting("5.5.5-10.11.6-MariaDB-0+deb12u1", true);
    seed(Mysql, "ok", &[], false, &greeting);
    seed(
        Mysql,
        "ok-chunked-small-buffer",
        &[2, 0, 9],
        true,
        &greeting,
    );
    seed(
        Mysql,
        "not-offered",
        &[],
        false,
        &mysql_greeting("8.0.36", false),
    );
    let mut denied = vec![0xff];
    denied.extend_from_slice(&1130u16.to_le_bytes());
    denied.extend_from_slice(b"Host '127.0.0.1' is not allowed to connect to this MariaDB server");
    let length = u32::try_from(denied.len()).unwrap().to_le_bytes();
    let mut packet = vec![length[0], length[1], length[2], 0];
    packet.extend(denied);
    seed(Mysql, "refused-host", &[], false, &packet);
}

/// The bytes each side of an in-process rustls handshake wrote: (client, server).
fn rustls_handshake(tls13: bool) -> (Vec<u8>, Vec<u8>) {
    use std::sync::Arc;

    use certpull_core::pki_types::pem::PemObject as _;
    use certpull_core::rustls::{
        self, ClientConfig, ClientConnection, ServerConfig, ServerConnection,
    };
    use certpull_fuzz::pki::{self, VALID_NOW};

    let provider = certpull_fuzz::targets::ring_provider();
    let version = if tls13 {
        &rustls::version::TLS13
    } else {
        &rustls::version::TLS12
    };
    let time = Arc::new(certpull_core::FixedTime::from_unix_seconds(VALID_NOW));
    let mut client_config = ClientConfig::builder_with_details(provider.clone(), time)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(pki::roots())
        .with_no_client_auth();
    client_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let leaf = Pki::get(LeafKind::EcdsaP256);
    let key = certpull_core::pki_types::PrivateKeyDer::from_pem_slice(leaf.leaf_key_pem.as_bytes())
        .unwrap();
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.served_chain(), key)
        .unwrap();
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut client = ClientConnection::new(Arc::new(client_config), pki::server_name()).unwrap();
    let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let mut out = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut out).unwrap();
        }
        server.read_tls(&mut out.as_slice()).unwrap();
        server.process_new_packets().unwrap();
        from_client.extend(out);
        let mut out = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut out).unwrap();
        }
        client.read_tls(&mut out.as_slice()).unwrap();
        client.process_new_packets().unwrap();
        from_server.extend(out);
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    (from_client, from_server)
}

/// The body of the first handshake message of this type in a stream of plaintext handshake
/// records (the records' payloads joined).
fn handshake_body(stream: &[u8], kind: u8) -> Vec<u8> {
    let mut handshake = Vec::new();
    let mut rest = stream;
    while let [content_type, _, _, hi, lo, tail @ ..] = rest {
        let length = usize::from(u16::from_be_bytes([*hi, *lo]));
        if *content_type == 22 {
            handshake.extend_from_slice(&tail[..length]);
        } else if *content_type != 20 {
            break; // encrypted from here on
        }
        rest = &tail[length..];
    }
    let mut messages = handshake.as_slice();
    while let [message_type, a, b, c, tail @ ..] = messages {
        let length = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
        if *message_type == kind {
            return tail[..length].to_vec();
        }
        messages = &tail[length.min(tail.len())..];
    }
    panic!("no handshake message of type {kind}");
}

fn observe_seeds() {
    let seed = |name: &str, selector: u8, chunks: &[u16], data: &[u8]| {
        write(
            "observe",
            name,
            &session::Plan::encode(selector, chunks, data),
        );
    };
    for tls13 in [false, true] {
        let version = if tls13 { "tls13" } else { "tls12" };
        let (client, server) = rustls_handshake(tls13);
        // Streams: at once (one big piece), and in small pieces.
        seed(&format!("{version}-client"), 0, &[u16::MAX], &client);
        seed(&format!("{version}-server"), 0, &[u16::MAX], &server);
        seed(
            &format!("{version}-server-pieces"),
            0,
            &[1, 7, 0, 300],
            &server,
        );
        seed(
            &format!("{version}-client-hello-body"),
            1,
            &[100, 1],
            &handshake_body(&client, 1),
        );
        seed(
            &format!("{version}-server-hello-body"),
            2,
            &[u16::MAX],
            &handshake_body(&server, 2),
        );
        if !tls13 {
            let certificate = handshake_body(&server, 11);
            seed("tls12-certificate-body", 3, &[u16::MAX], &certificate);
            seed(
                "tls12-certificate-body-one-cert-limit",
                3 | 0x10,
                &[512],
                &certificate,
            );
            seed("tls12-server-small-buffer", 0x08, &[u16::MAX], &server);
        }
    }
}
