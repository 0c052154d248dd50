//! `observe`: core's passive TLS observers (`ClientObserver`, `ServerObserver`) fed arbitrary
//! bytes in arbitrary chunkings.
//!
//! # Input
//! `[selector][n][n × u16 LE chunk sizes][bytes…]`. The chunk sizes cut the stream into the
//! pieces fed (cycled; 0 = an empty feed; n = 0: one byte at a time). Selector:
//! - bits 0–1, what the bytes are: 0 a raw stream, fed to both observers; 1 a ClientHello body,
//!   2 a ServerHello body, 3 a Certificate body (after a fixed TLS 1.2 ServerHello), each
//!   framed here as a handshake message in handshake records whose sizes are the chunk sizes
//!   (0 counts as 1, at most 16 KiB);
//! - bits 2–3, `max_buffered`: 64 KiB, 1000, 100, 16 KiB + 1 (not powers of two on purpose);
//! - bits 4–5, `max_certificates`: 16, 1, 2, 3;
//! - bit 6, `max_list_entries`: 32, or 1.
//!
//! # Properties
//! - never panics;
//! - `buffered()` never exceeds `max_buffered` + the 5-byte record header, after any feed;
//! - once an observer fails, every later feed gives the same error, it is finished and holds
//!   nothing; once complete, likewise with `Complete`;
//! - the result (last answer, ClientHello / ServerHello / flight, error) is the same whatever
//!   the chunking: all at once, the fuzzer's pieces, one byte at a time (short streams);
//! - what is observed is well-formed and re-encodes: a ClientHello's server name is a valid
//!   lowercase host name, its lists are within `max_list_entries`, and a ClientHello built from
//!   it parses back to it; a ServerHello likewise; a chain re-encoded as a Certificate message
//!   parses back to it and holds at most `max_certificates` certificates, none empty; TLS 1.3
//!   never gives a chain;
//! - framed bodies: the observer agrees with the direct parser (`parse_client_hello`,
//!   `parse_server_hello`, `parse_certificate`), whatever the record boundaries, or refuses a
//!   message over `max_buffered` as `MessageTooLarge`;
//! - every error displays and has a code.

use certpull_core::observe::{
    is_grease, parse_certificate, parse_client_hello, parse_server_hello, ClientHello,
    ClientObserver, ObserveError, ObserveLimits, Progress, ServerFlight, ServerHello,
    ServerObserver, HELLO_RETRY_RANDOM, TLS1_2, TLS1_3,
};
use certpull_core::pki_types::CertificateDer;

use super::session::Plan;

const RECORD_HEADER: usize = 5;
const HANDSHAKE: u8 = 22;
const MAX_FRAGMENT: usize = 16_384;
/// Streams up to this long are also fed one byte at a time.
const BYTEWISE_MAX: usize = 4096;

/// The limits the selector picks.
pub fn limits(selector: u8) -> ObserveLimits {
    ObserveLimits {
        max_buffered: [64 * 1024, 1000, 100, 16 * 1024 + 1][usize::from((selector >> 2) & 3)],
        max_certificates: [16, 1, 2, 3][usize::from((selector >> 4) & 3)],
        max_list_entries: if selector & 0x40 == 0 { 32 } else { 1 },
    }
}

pub fn run(input: &[u8]) {
    let plan = Plan::parse(input);
    let limits = limits(plan.flags);
    // `Plan` turns "no sizes" into "everything at once"; here it means one byte at a time.
    let chunks: Vec<usize> = if plan.chunks == [usize::MAX] || plan.chunks.iter().all(|&c| c == 0) {
        vec![1]
    } else {
        plan.chunks.clone()
    };
    match plan.flags & 3 {
        0 => {
            let client = client_all_ways(plan.data, &chunks, limits);
            let server = server_all_ways(plan.data, &chunks, limits);
            if let Some(hello) = &client.hello {
                check_client_hello(hello, &limits);
            }
            if let Some(hello) = &server.hello {
                check_server_hello(hello);
            }
            if let Some(flight) = &server.flight {
                check_flight(flight, &limits);
            }
        }
        1 => {
            let stream = frame(&[(1, plan.data)], &chunks);
            let observed = client_all_ways(&stream, &chunks, limits);
            let expected = parse_client_hello(plan.data, &limits);
            match too_large(plan.data, &limits) {
                Some(error) => assert_eq!(observed.error, Some(error)),
                None => match expected {
                    Ok(hello) => {
                        assert_eq!(observed.last, Ok(Progress::Complete));
                        assert_eq!(observed.hello.as_ref(), Some(&hello));
                        check_client_hello(&hello, &limits);
                    }
                    Err(error) => assert_eq!(observed.error, Some(error)),
                },
            }
        }
        2 => {
            let stream = frame(&[(2, plan.data)], &chunks);
            let observed = server_all_ways(&stream, &chunks, limits);
            match too_large(plan.data, &limits) {
                Some(error) => assert_eq!(observed.error, Some(error)),
                None => match parse_server_hello(plan.data) {
                    Ok(hello) => {
                        check_server_hello(&hello);
                        assert_eq!(observed.hello, Some(hello));
                        if hello.version >= TLS1_3 {
                            let flight = observed.flight.expect("TLS 1.3 hello completes");
                            assert_eq!(flight.certificates, None);
                        } else {
                            assert_eq!(observed.last, Ok(Progress::NeedsMore));
                        }
                    }
                    Err(error) => assert_eq!(observed.error, Some(error)),
                },
            }
        }
        _ => {
            let hello = server_hello_body(TLS1_2, TLS1_2, 0xc02b, false);
            let stream = frame(&[(2, &hello), (11, plan.data)], &chunks);
            let observed = server_all_ways(&stream, &chunks, limits);
            match too_large(plan.data, &limits) {
                Some(error) => assert_eq!(observed.error, Some(error)),
                None => match parse_certificate(plan.data, &limits) {
                    Ok(chain) => {
                        let flight = observed.flight.expect("a complete flight");
                        assert_eq!(flight.certificates.as_ref(), Some(&chain));
                        check_flight(&flight, &limits);
                    }
                    Err(error) => assert_eq!(observed.error, Some(error)),
                },
            }
        }
    }
}

/// The refusal a message of this body length gets, if it is over the limit.
fn too_large(body: &[u8], limits: &ObserveLimits) -> Option<ObserveError> {
    let length = body.len() + 4;
    (length > limits.max_buffered).then_some(ObserveError::MessageTooLarge {
        length,
        limit: limits.max_buffered,
    })
}

/// What one observer ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen<T> {
    last: Result<Progress, ObserveError>,
    hello: Option<T>,
    flight: Option<ServerFlight>,
    error: Option<ObserveError>,
}

/// The surface both observers share.
trait Observer {
    type Hello: Clone + PartialEq + core::fmt::Debug;
    fn new(limits: ObserveLimits) -> Self;
    fn feed(&mut self, data: &[u8]) -> Result<Progress, ObserveError>;
    fn buffered(&self) -> usize;
    fn is_finished(&self) -> bool;
    fn error(&self) -> Option<&ObserveError>;
    fn hello(&self) -> Option<Self::Hello>;
    fn flight(&self) -> Option<ServerFlight>;
}

impl Observer for ClientObserver {
    type Hello = ClientHello;
    fn new(limits: ObserveLimits) -> Self {
        Self::with_limits(limits)
    }
    fn feed(&mut self, data: &[u8]) -> Result<Progress, ObserveError> {
        ClientObserver::feed(self, data)
    }
    fn buffered(&self) -> usize {
        ClientObserver::buffered(self)
    }
    fn is_finished(&self) -> bool {
        ClientObserver::is_finished(self)
    }
    fn error(&self) -> Option<&ObserveError> {
        ClientObserver::error(self)
    }
    fn hello(&self) -> Option<ClientHello> {
        self.client_hello().cloned()
    }
    fn flight(&self) -> Option<ServerFlight> {
        None
    }
}

impl Observer for ServerObserver {
    type Hello = ServerHello;
    fn new(limits: ObserveLimits) -> Self {
        Self::with_limits(limits)
    }
    fn feed(&mut self, data: &[u8]) -> Result<Progress, ObserveError> {
        ServerObserver::feed(self, data)
    }
    fn buffered(&self) -> usize {
        ServerObserver::buffered(self)
    }
    fn is_finished(&self) -> bool {
        ServerObserver::is_finished(self)
    }
    fn error(&self) -> Option<&ObserveError> {
        ServerObserver::error(self)
    }
    fn hello(&self) -> Option<ServerHello> {
        self.server_hello().copied()
    }
    fn flight(&self) -> Option<ServerFlight> {
        ServerObserver::flight(self).cloned()
    }
}

fn client_all_ways(data: &[u8], chunks: &[usize], limits: ObserveLimits) -> Seen<ClientHello> {
    all_ways::<ClientObserver>(data, chunks, limits)
}

fn server_all_ways(data: &[u8], chunks: &[usize], limits: ObserveLimits) -> Seen<ServerHello> {
    let seen = all_ways::<ServerObserver>(data, chunks, limits);
    if let Some(flight) = &seen.flight {
        assert_eq!(
            seen.hello,
            Some(flight.hello),
            "server_hello() is the flight's"
        );
    }
    seen
}

/// Feeds `data` at once, in the fuzzer's pieces and (short streams) byte by byte; the three
/// must agree.
fn all_ways<O: Observer>(data: &[u8], chunks: &[usize], limits: ObserveLimits) -> Seen<O::Hello> {
    let whole = observe::<O>(data, &[usize::MAX], limits);
    let pieces = observe::<O>(data, chunks, limits);
    assert_eq!(whole, pieces, "the chunking changed the result");
    if data.len() <= BYTEWISE_MAX && chunks != [1] {
        let bytes = observe::<O>(data, &[1], limits);
        assert_eq!(whole, bytes, "byte-at-a-time changed the result");
    }
    whole
}

fn observe<O: Observer>(data: &[u8], chunks: &[usize], limits: ObserveLimits) -> Seen<O::Hello> {
    let mut observer = O::new(limits);
    let mut last = observer.feed(&[]);
    assert_eq!(
        last,
        Ok(Progress::NeedsMore),
        "an empty feed decided something"
    );
    let mut rest = data;
    let mut step = 0usize;
    // Some size is not 0, so every cycle through the sizes makes progress.
    while !rest.is_empty() {
        let size = chunks[step % chunks.len()];
        step += 1;
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        let before = last.clone();
        last = observer.feed(piece);
        let bound = limits.max_buffered + RECORD_HEADER;
        assert!(
            observer.buffered() <= bound,
            "buffers {} > {bound} bytes",
            observer.buffered()
        );
        match (&before, &last) {
            (Err(earlier), now) => assert_eq!(now.as_ref().err(), Some(earlier), "error changed"),
            (Ok(Progress::Complete), now) => assert_eq!(now, &Ok(Progress::Complete)),
            _ => {}
        }
        match &last {
            Ok(Progress::NeedsMore) => {
                assert!(!observer.is_finished());
                assert!(observer.error().is_none());
            }
            Ok(Progress::Complete) => {
                assert!(observer.is_finished());
                assert_eq!(observer.buffered(), 0, "holds bytes once complete");
            }
            Err(error) => {
                assert!(observer.is_finished());
                assert_eq!(observer.error(), Some(error));
                assert_eq!(observer.buffered(), 0, "holds bytes after an error");
                assert!(!error.to_string().is_empty());
                assert!(!error.code().is_empty());
            }
        }
    }
    // Input after the end changes nothing.
    if observer.is_finished() {
        let again = observer.feed(&[0x16, 3, 3, 0, 4, 1, 0, 0, 0]);
        assert_eq!(again, last, "input after the end changed the answer");
    }
    Seen {
        last,
        hello: observer.hello(),
        flight: observer.flight(),
        error: observer.error().cloned(),
    }
}

/// Handshake messages `(type, body)` as one handshake byte stream, cut into records of the
/// given sizes.
fn frame(messages: &[(u8, &[u8])], sizes: &[usize]) -> Vec<u8> {
    let mut handshake = Vec::new();
    for (kind, body) in messages {
        let length = u32::try_from(body.len()).expect("short body").to_be_bytes();
        handshake.push(*kind);
        handshake.extend_from_slice(&length[1..]);
        handshake.extend_from_slice(body);
    }
    let mut out = Vec::new();
    let mut rest = handshake.as_slice();
    let mut index = 0;
    while !rest.is_empty() {
        let size = sizes[index % sizes.len()].clamp(1, MAX_FRAGMENT);
        index += 1;
        let (fragment, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        out.extend_from_slice(&[HANDSHAKE, 3, 3]);
        out.extend_from_slice(
            &u16::try_from(fragment.len())
                .expect("fragment")
                .to_be_bytes(),
        );
        out.extend_from_slice(fragment);
    }
    out
}

fn push_vec(out: &mut Vec<u8>, length_bytes: usize, data: &[u8]) {
    let length = data.len().to_be_bytes();
    out.extend_from_slice(&length[length.len() - length_bytes..]);
    out.extend_from_slice(data);
}

fn push_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    push_vec(out, 2, data);
}

/// A ClientHello body saying what `hello` says.
fn client_hello_body(hello: &ClientHello) -> Vec<u8> {
    let mut body = hello.legacy_version.to_be_bytes().to_vec();
    body.extend_from_slice(&[0; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    let mut extensions = Vec::new();
    if let Some(name) = &hello.server_name {
        let mut entry = vec![0];
        push_vec(&mut entry, 2, name.as_bytes());
        let mut list = Vec::new();
        push_vec(&mut list, 2, &entry);
        push_extension(&mut extensions, 0, &list);
    }
    if !hello.alpn.is_empty() {
        let mut protocols = Vec::new();
        for protocol in &hello.alpn {
            push_vec(&mut protocols, 1, protocol);
        }
        let mut list = Vec::new();
        push_vec(&mut list, 2, &protocols);
        push_extension(&mut extensions, 16, &list);
    }
    let versions: Vec<u8> = hello
        .offered_versions
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let mut list = Vec::new();
    push_vec(&mut list, 1, &versions);
    push_extension(&mut extensions, 43, &list);
    push_vec(&mut body, 2, &extensions);
    body
}

fn server_hello_body(legacy: u16, version: u16, suite: u16, retry: bool) -> Vec<u8> {
    let mut body = legacy.to_be_bytes().to_vec();
    body.extend_from_slice(if retry { &HELLO_RETRY_RANDOM } else { &[7; 32] });
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    if version != legacy {
        let mut extensions = Vec::new();
        push_extension(&mut extensions, 43, &version.to_be_bytes());
        push_vec(&mut body, 2, &extensions);
    }
    body
}

fn check_client_hello(hello: &ClientHello, limits: &ObserveLimits) {
    if let Some(name) = &hello.server_name {
        assert!(!name.is_empty() && name.len() <= 255, "server name length");
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'-' | b'.' | b'_' | b'*')),
            "server name {name:?}"
        );
    }
    assert!(hello.alpn.len() <= limits.max_list_entries);
    assert!(
        hello.alpn.iter().all(|p| !p.is_empty()),
        "empty ALPN protocol"
    );
    assert!(hello.offered_versions.len() <= limits.max_list_entries);
    assert!(!hello.offered_versions.is_empty() || limits.max_list_entries == 0);
    if let Some(max) = hello.max_offered_version() {
        assert!(!is_grease(max));
        assert!(hello.offered_versions.contains(&max));
    }
    let again = parse_client_hello(&client_hello_body(hello), limits);
    assert_eq!(again.as_ref(), Ok(hello), "ClientHello does not re-encode");
}

fn check_server_hello(hello: &ServerHello) {
    let body = server_hello_body(
        hello.legacy_version,
        hello.version,
        hello.cipher_suite,
        hello.hello_retry,
    );
    assert_eq!(
        parse_server_hello(&body),
        Ok(*hello),
        "ServerHello does not re-encode"
    );
}

fn check_flight(flight: &ServerFlight, limits: &ObserveLimits) {
    check_server_hello(&flight.hello);
    let Some(chain) = &flight.certificates else {
        return;
    };
    assert!(
        flight.hello.version < TLS1_3,
        "a TLS 1.3 chain in the clear"
    );
    assert!(chain.len() <= limits.max_certificates);
    assert!(chain.iter().all(|c| !c.is_empty()), "empty certificate");
    let mut list = Vec::new();
    for der in chain {
        push_vec(&mut list, 3, der);
    }
    let mut body = Vec::new();
    push_vec(&mut body, 3, &list);
    let again: Result<Vec<CertificateDer<'static>>, _> = parse_certificate(&body, limits);
    assert_eq!(again.as_ref(), Ok(chain), "chain does not re-encode");
}
