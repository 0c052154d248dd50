//! Observers fed the bytes of real rustls handshakes and of hand-made hostile streams.

use super::*;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use rustls_pki_types::CertificateDer;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

extern crate std;

const NAME: &str = "www.observe.test";

/// A root, an intermediate and a leaf for [`NAME`]: the server sends leaf + intermediate.
struct Pki {
    root: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let ca_params = |cn: &str| {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params
    };
    let root_key = rcgen::KeyPair::generate().unwrap();
    let root_params = ca_params("observe root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = rcgen::Issuer::new(root_params, root_key);
    let int_key = rcgen::KeyPair::generate().unwrap();
    let int_params = ca_params("observe intermediate");
    let int = int_params.signed_by(&int_key, &root_issuer).unwrap();
    let int_issuer = rcgen::Issuer::new(int_params, int_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![NAME.to_string()])
        .unwrap()
        .signed_by(&leaf_key, &int_issuer)
        .unwrap();
    Pki {
        root: root.der().clone(),
        chain: vec![leaf.der().clone(), int.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

/// The bytes of a real rustls handshake: (client to server, server to client), each as the
/// list of flights written.
struct Capture {
    client: Vec<Vec<u8>>,
    server: Vec<Vec<u8>>,
}

impl Capture {
    fn client_bytes(&self) -> Vec<u8> {
        self.client.concat()
    }
    fn server_bytes(&self) -> Vec<u8> {
        self.server.concat()
    }
}

fn handshake(
    pki: &Pki,
    version: &'static rustls::SupportedProtocolVersion,
    alpn: &[&[u8]],
) -> Capture {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki.root.clone()).unwrap();
    let mut client_config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .unwrap();
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(NAME).unwrap();
    let mut client = ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
    let mut capture = Capture {
        client: Vec::new(),
        server: Vec::new(),
    };
    for _ in 0..10 {
        let mut out = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut out).unwrap();
        }
        if !out.is_empty() {
            server.read_tls(&mut out.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            capture.client.push(out);
        }
        let mut out = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut out).unwrap();
        }
        if !out.is_empty() {
            client.read_tls(&mut out.as_slice()).unwrap();
            client.process_new_packets().unwrap();
            capture.server.push(out);
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    capture
}

fn observe_client(bytes: &[u8]) -> ClientObserver {
    let mut observer = ClientObserver::new();
    let _ = observer.feed(bytes);
    observer
}

fn observe_server(bytes: &[u8]) -> ServerObserver {
    let mut observer = ServerObserver::new();
    let _ = observer.feed(bytes);
    observer
}

#[test]
fn tls12_handshake_gives_sni_alpn_versions_and_the_chain() {
    let pki = pki();
    let capture = handshake(&pki, &rustls::version::TLS12, &[b"h2", b"http/1.1"]);

    let client = observe_client(&capture.client_bytes());
    let hello = client.client_hello().expect("ClientHello");
    assert_eq!(hello.server_name.as_deref(), Some(NAME));
    assert_eq!(hello.alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(hello.max_offered_version(), Some(TLS1_2));
    assert_eq!(client.buffered(), 0, "the buffer is released once complete");

    let server = observe_server(&capture.server_bytes());
    let flight = server.flight().expect("server flight");
    assert_eq!(flight.hello.version, TLS1_2);
    assert!(!flight.hello.hello_retry);
    assert_eq!(flight.certificates.as_deref(), Some(pki.chain.as_slice()));
}

#[test]
fn tls13_handshake_gives_the_version_and_no_chain() {
    let pki = pki();
    let capture = handshake(&pki, &rustls::version::TLS13, &[]);

    let client = observe_client(&capture.client_bytes());
    let hello = client.client_hello().expect("ClientHello");
    assert_eq!(hello.server_name.as_deref(), Some(NAME));
    assert!(hello.alpn.is_empty());
    assert_eq!(hello.offered_versions, [TLS1_3]);
    assert_eq!(hello.legacy_version, TLS1_2);

    let server = observe_server(&capture.server_bytes());
    let flight = server.flight().expect("server flight");
    assert_eq!(flight.hello.version, TLS1_3);
    assert_eq!(flight.hello.legacy_version, TLS1_2);
    assert_eq!(flight.certificates, None);
    assert_eq!(version_name(flight.hello.version), "TLSv1.3");
}

#[test]
fn byte_at_a_time_gives_the_same_result() {
    let pki = pki();
    let capture = handshake(&pki, &rustls::version::TLS12, &[b"http/1.1"]);
    let mut client = ClientObserver::new();
    let mut progress = Progress::NeedsMore;
    for byte in capture.client_bytes() {
        progress = client.feed(&[byte]).unwrap();
    }
    assert_eq!(progress, Progress::Complete);
    assert_eq!(
        client.client_hello(),
        observe_client(&capture.client_bytes()).client_hello()
    );
    let mut server = ServerObserver::new();
    for byte in capture.server_bytes() {
        server.feed(&[byte]).unwrap();
    }
    assert_eq!(
        server.flight().unwrap().certificates.as_deref(),
        Some(pki.chain.as_slice())
    );
}

#[test]
fn every_truncation_needs_more_and_never_fails() {
    let pki = pki();
    let capture = handshake(&pki, &rustls::version::TLS12, &[]);
    let client = capture.client_bytes();
    let server = capture.server_bytes();
    let hello_end = 5 + (usize::from(client[3]) << 8 | usize::from(client[4]));
    for cut in 0..hello_end {
        let mut observer = ClientObserver::new();
        assert_eq!(
            observer.feed(&client[..cut]),
            Ok(Progress::NeedsMore),
            "{cut}"
        );
    }
    let observed = observe_server(&server);
    let chain_bytes: usize = pki.chain.iter().map(|c| c.len()).sum();
    assert!(observed.flight().is_some());
    for cut in (0..chain_bytes).step_by(7) {
        let mut observer = ServerObserver::new();
        assert_eq!(
            observer.feed(&server[..cut]),
            Ok(Progress::NeedsMore),
            "{cut}"
        );
    }
}

#[test]
fn non_tls_bytes_are_refused_by_name() {
    let mut observer = ClientObserver::new();
    assert_eq!(
        observer.feed(b"GET / HTTP/1.1\r\n\r\n"),
        Err(ObserveError::NotTls)
    );
    // Sticky: later bytes are ignored and the same error is given.
    assert_eq!(observer.feed(&[0x16, 3, 1]), Err(ObserveError::NotTls));
    assert!(observer.is_finished());
    assert_eq!(observer.error(), Some(&ObserveError::NotTls));
    // SSLv2-style hello.
    assert_eq!(
        ClientObserver::new().feed(&[0x80, 0x2e, 0x01, 0x00, 0x02]),
        Err(ObserveError::NotTls)
    );
    assert_eq!(
        ServerObserver::new().feed(b"SSH-2.0-OpenSSH_9.2\r\n"),
        Err(ObserveError::NotTls)
    );
}

#[test]
fn giant_lengths_are_refused_before_buffering() {
    // A record longer than TLS allows.
    assert_eq!(
        ClientObserver::new().feed(&[0x16, 3, 1, 0xff, 0xff]),
        Err(ObserveError::RecordTooLarge { length: 0xffff })
    );
    // A handshake message announcing 16 MiB: refused at its header.
    let mut observer = ClientObserver::new();
    assert_eq!(
        observer.feed(&[0x16, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff]),
        Err(ObserveError::MessageTooLarge {
            length: 0xff_ffff + 4,
            limit: 64 * 1024
        })
    );
    assert_eq!(observer.buffered(), 0);
}

#[test]
fn buffering_never_passes_the_limit() {
    // A legitimate-looking 60 KiB ClientHello in full records: buffered up to its size,
    // never more, then refused as malformed.
    let mut stream = Vec::new();
    let body_len = 60 * 1024;
    let mut message = vec![CLIENT_HELLO, 0, (body_len >> 8) as u8, body_len as u8];
    message.resize(4 + body_len, 0);
    for chunk in message.chunks(16_384) {
        stream.extend_from_slice(&[0x16, 3, 3]);
        stream.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        stream.extend_from_slice(chunk);
    }
    let mut observer = ClientObserver::new();
    let mut peak = 0;
    let mut result = Ok(Progress::NeedsMore);
    for piece in stream.chunks(1000) {
        result = observer.feed(piece);
        peak = peak.max(observer.buffered());
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ObserveError::Malformed(Field::ClientHello)));
    assert!(peak <= 64 * 1024 + RECORD_HEADER, "peak {peak}");
}

#[test]
fn buffering_stays_within_a_limit_that_is_not_a_power_of_two() {
    // Found by the observe fuzz target: fed a byte at a time, the message buffer grew by
    // doubling, to 128 bytes of capacity under a 100-byte limit.
    let limits = ObserveLimits {
        max_buffered: 100,
        ..ObserveLimits::default()
    };
    let body_len = 96;
    let mut stream = vec![0x16, 3, 3, 0, 4 + body_len as u8];
    stream.extend_from_slice(&[CLIENT_HELLO, 0, 0, body_len as u8]);
    stream.resize(5 + 4 + body_len, 0);
    let mut observer = ClientObserver::with_limits(limits);
    for byte in &stream {
        let _ = observer.feed(&[*byte]);
        assert!(
            observer.buffered() <= 100 + RECORD_HEADER,
            "{}",
            observer.buffered()
        );
    }
    assert!(observer.error().is_some());
}

#[test]
fn random_bytes_end_in_a_named_error_or_need_more() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..2_000 {
        let len = (next() % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the rounds start like a handshake record to get past the first check.
        if round % 2 == 0 && bytes.len() > 6 {
            bytes[0] = 0x16;
            bytes[1] = 3;
            bytes[5] = (round % 3) as u8;
        }
        let mut client = ClientObserver::new();
        let mut server = ServerObserver::new();
        for piece in bytes.chunks(1 + (next() % 40) as usize) {
            let _ = client.feed(piece);
            let _ = server.feed(piece);
            assert!(client.buffered() <= 64 * 1024 + 5);
            assert!(server.buffered() <= 64 * 1024 + 5);
        }
    }
}

#[test]
fn alerts_and_unexpected_messages_are_named() {
    assert_eq!(
        ServerObserver::new().feed(&[0x15, 3, 3, 0, 2, 2, 40]),
        Err(ObserveError::Alert {
            level: 2,
            description: 40
        })
    );
    // A ServerHello where a ClientHello belongs.
    assert_eq!(
        ClientObserver::new().feed(&[0x16, 3, 3, 0, 4, SERVER_HELLO, 0, 0, 0]),
        Err(ObserveError::UnexpectedMessage {
            handshake_type: SERVER_HELLO
        })
    );
    assert_eq!(
        ClientObserver::new().feed(&[0x17, 3, 3, 0, 1, 0]),
        Err(ObserveError::UnexpectedRecord {
            content_type: APPLICATION_DATA
        })
    );
    // A bad record header after a first good record.
    assert_eq!(
        ClientObserver::new().feed(&[0x16, 3, 3, 0, 1, CLIENT_HELLO, 0x99, 3, 3, 0, 1]),
        Err(ObserveError::BadRecordHeader {
            content_type: 0x99,
            version: 0x0303
        })
    );
    assert_eq!(
        ClientObserver::new().feed(&[0x16, 3, 3, 0, 1, CLIENT_HELLO, 0x15, 3, 3, 0, 2]),
        Err(ObserveError::Interleaved)
    );
    assert_eq!(
        ClientObserver::new().feed(&[0x16, 3, 3, 0, 0]),
        Err(ObserveError::EmptyRecord)
    );
}

#[test]
fn resumed_tls12_session_completes_without_a_chain() {
    let hello = server_hello_body(TLS1_2, None);
    let mut bytes = record(0x16, &handshake_message(SERVER_HELLO, &hello));
    bytes.extend_from_slice(&record(0x14, &[1]));
    let observer = observe_server(&bytes);
    let flight = observer.flight().unwrap();
    assert_eq!(flight.hello.version, TLS1_2);
    assert_eq!(flight.certificates, None);
}

#[test]
fn hello_retry_request_is_recognised_as_tls13() {
    let mut body = server_hello_body(TLS1_2, Some(TLS1_3));
    body[2..34].copy_from_slice(&HELLO_RETRY_RANDOM);
    let hello = parse_server_hello(&body).unwrap();
    assert!(hello.hello_retry);
    assert_eq!(hello.version, TLS1_3);
}

fn server_hello_body(legacy: u16, selected: Option<u16>) -> Vec<u8> {
    let mut body = legacy.to_be_bytes().to_vec();
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    if let Some(version) = selected {
        let ext = [0, 43, 0, 2];
        body.extend_from_slice(&6u16.to_be_bytes());
        body.extend_from_slice(&ext);
        body.extend_from_slice(&version.to_be_bytes());
    }
    body
}

fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![kind, 0];
    message.extend_from_slice(&(body.len() as u16).to_be_bytes());
    message.extend_from_slice(body);
    message
}

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, 3, 3];
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}
