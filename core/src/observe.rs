//! Passive observation of TLS handshakes: what a proxy that only watches the bytes can learn.
//!
//! A proxy on a TLS passthrough listener sees both directions of a connection but holds no key.
//! From the client's bytes it can read the ClientHello (server name, ALPN protocols, offered
//! versions); from the server's bytes the ServerHello (the negotiated version) and, up to
//! TLS 1.2 only, the server's Certificate message (TLS 1.3 encrypts it).
//!
//! [`ClientObserver`] and [`ServerObserver`] are fed the bytes of one direction each, in
//! arbitrary pieces, and reassemble TLS records and handshake messages. They are built for
//! hostile input:
//!
//! - nothing panics, whatever the bytes;
//! - at most [`ObserveLimits::max_buffered`] bytes (64 KiB by default) are buffered per
//!   direction, plus a 5-byte record header: a handshake message announcing more is refused as
//!   soon as its 4-byte header is read, before any of it is buffered;
//! - every refusal is a named [`ObserveError`], after which the observer ignores its input;
//! - once an observer has what it wants it stops reading (and frees its buffer): the rest of
//!   the connection costs nothing.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rustls_pki_types::CertificateDer;

/// `TLSv1.0` on the wire.
pub const TLS1_0: u16 = 0x0301;
/// `TLSv1.1` on the wire.
pub const TLS1_1: u16 = 0x0302;
/// `TLSv1.2` on the wire.
pub const TLS1_2: u16 = 0x0303;
/// `TLSv1.3` on the wire.
pub const TLS1_3: u16 = 0x0304;

/// The longest record body TLS allows (2^14 plus expansion, RFC 5246 §6.2.3).
pub const MAX_RECORD_BODY: usize = 16_384 + 2_048;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

const HANDSHAKE_HEADER: usize = 4;
const RECORD_HEADER: usize = 5;
const MAX_HOST_NAME: usize = 255;

/// The ServerHello random that marks a TLS 1.3 HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A protocol version as usually written (`TLSv1.3`), `unknown` for anything else.
pub fn version_name(version: u16) -> &'static str {
    match version {
        TLS1_3 => "TLSv1.3",
        TLS1_2 => "TLSv1.2",
        TLS1_1 => "TLSv1.1",
        TLS1_0 => "TLSv1.0",
        0x0300 => "SSLv3",
        _ => "unknown",
    }
}

/// Whether a version or extension value is a GREASE value (RFC 8701: `0x?A?A`).
pub fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// Bounds on what one observer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObserveLimits {
    /// The most bytes of one handshake message (4-byte header included) that are buffered.
    pub max_buffered: usize,
    /// The most certificates accepted in a Certificate message.
    pub max_certificates: usize,
    /// The most ALPN protocols and offered versions kept from a ClientHello (the rest are
    /// ignored).
    pub max_list_entries: usize,
}

impl Default for ObserveLimits {
    fn default() -> Self {
        Self {
            max_buffered: 64 * 1024,
            max_certificates: 16,
            max_list_entries: 32,
        }
    }
}

/// The part of a handshake message that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// The ClientHello's fixed fields or its extension list.
    ClientHello,
    /// The ServerHello's fixed fields or its extension list.
    ServerHello,
    /// The Certificate message's list.
    Certificate,
    /// The server_name extension.
    ServerName,
    /// The application_layer_protocol_negotiation extension.
    Alpn,
    /// The supported_versions extension.
    SupportedVersions,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::ClientHello => "ClientHello",
            Self::ServerHello => "ServerHello",
            Self::Certificate => "Certificate",
            Self::ServerName => "server_name extension",
            Self::Alpn => "ALPN extension",
            Self::SupportedVersions => "supported_versions extension",
        }
    }
}

/// Why an observer stopped without what it was looking for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObserveError {
    /// The first bytes are not a TLS record header: another protocol (or SSLv2).
    NotTls,
    /// A later record header is not TLS (unknown content type or major version).
    BadRecordHeader {
        /// The content type byte.
        content_type: u8,
        /// The version field.
        version: u16,
    },
    /// A record announces a body longer than TLS allows.
    RecordTooLarge {
        /// The announced length.
        length: usize,
    },
    /// A handshake, alert or ChangeCipherSpec record with an empty body.
    EmptyRecord,
    /// A handshake message announces more than [`ObserveLimits::max_buffered`] bytes.
    MessageTooLarge {
        /// The announced length, 4-byte header included.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A record of another type arrived in the middle of a handshake message.
    Interleaved,
    /// A record type that cannot come at this point (application data before the hello).
    UnexpectedRecord {
        /// The content type byte.
        content_type: u8,
    },
    /// A handshake message that cannot come at this point.
    UnexpectedMessage {
        /// The handshake type byte.
        handshake_type: u8,
    },
    /// The peer sent an alert instead.
    Alert {
        /// Alert level (1 warning, 2 fatal).
        level: u8,
        /// Alert description (RFC 8446 §6).
        description: u8,
    },
    /// A handshake message is malformed (truncated, trailing bytes, bad lengths).
    Malformed(Field),
    /// The Certificate message holds more certificates than [`ObserveLimits::max_certificates`].
    TooManyCertificates {
        /// The limit.
        limit: usize,
    },
}

impl ObserveError {
    /// A short stable name, for metrics and logs (`not-tls`, `record-too-large`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotTls => "not-tls",
            Self::BadRecordHeader { .. } => "bad-record-header",
            Self::RecordTooLarge { .. } => "record-too-large",
            Self::EmptyRecord => "empty-record",
            Self::MessageTooLarge { .. } => "message-too-large",
            Self::Interleaved => "interleaved",
            Self::UnexpectedRecord { .. } => "unexpected-record",
            Self::UnexpectedMessage { .. } => "unexpected-message",
            Self::Alert { .. } => "alert",
            Self::Malformed(_) => "malformed",
            Self::TooManyCertificates { .. } => "too-many-certificates",
        }
    }
}

impl fmt::Display for ObserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTls => f.write_str("not TLS: the first bytes are not a TLS record"),
            Self::BadRecordHeader {
                content_type,
                version,
            } => write!(
                f,
                "not a TLS record header (type {content_type}, version {version:#06x})"
            ),
            Self::RecordTooLarge { length } => write!(
                f,
                "TLS record of {length} bytes (at most {MAX_RECORD_BODY} allowed)"
            ),
            Self::EmptyRecord => f.write_str("empty TLS record"),
            Self::MessageTooLarge { length, limit } => write!(
                f,
                "handshake message of {length} bytes (at most {limit} are buffered)"
            ),
            Self::Interleaved => {
                f.write_str("a record of another type interrupts a handshake message")
            }
            Self::UnexpectedRecord { content_type } => {
                write!(f, "unexpected record of type {content_type}")
            }
            Self::UnexpectedMessage { handshake_type } => {
                write!(f, "unexpected handshake message of type {handshake_type}")
            }
            Self::Alert { level, description } => {
                write!(f, "alert received (level {level}, description {description})")
            }
            Self::Malformed(field) => write!(f, "malformed {}", field.name()),
            Self::TooManyCertificates { limit } => {
                write!(f, "more than {limit} certificates in the Certificate message")
            }
        }
    }
}

impl core::error::Error for ObserveError {}

/// Where an observer stands after [`feed`](ClientObserver::feed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    NeedsMore,
    /// The observer has what it looks for and reads no more.
    Complete,
}

/// What a ClientHello says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The legacy_version field (`0x0303` for TLS 1.2 and 1.3 clients).
    pub legacy_version: u16,
    /// The host_name of the server_name extension, lowercased, if sent.
    pub server_name: Option<String>,
    /// The ALPN protocols offered, in order (at most [`ObserveLimits::max_list_entries`]).
    pub alpn: Vec<Vec<u8>>,
    /// The supported_versions extension's list, GREASE included, in order; without that
    /// extension, the legacy_version alone.
    pub offered_versions: Vec<u16>,
}

impl ClientHello {
    /// The highest offered version that is not GREASE.
    pub fn max_offered_version(&self) -> Option<u16> {
        self.offered_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
    }
}

/// What a ServerHello says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello {
    /// The legacy_version field.
    pub legacy_version: u16,
    /// The negotiated version: the supported_versions extension's, else legacy_version.
    pub version: u16,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
    /// Whether this is a TLS 1.3 HelloRetryRequest.
    pub hello_retry: bool,
}

/// One item of the record layer, as handed to an observer.
enum Item<'a> {
    Handshake { kind: u8, body: &'a [u8] },
    ChangeCipherSpec,
    Alert { level: u8, description: u8 },
    ApplicationData,
}

enum Flow {
    Continue,
    Stop,
}

/// Record framing and handshake message reassembly for one direction.
#[derive(Debug)]
struct Framer {
    limits: ObserveLimits,
    header: [u8; RECORD_HEADER],
    header_len: usize,
    /// Body bytes of the current record still to come (meaningful once the header is whole).
    remaining: usize,
    content_type: u8,
    records: usize,
    message: Vec<u8>,
    alert: [u8; 2],
    alert_len: usize,
}

impl Framer {
    fn new(limits: ObserveLimits) -> Self {
        Self {
            limits,
            header: [0; RECORD_HEADER],
            header_len: 0,
            remaining: 0,
            content_type: 0,
            records: 0,
            message: Vec::new(),
            alert: [0; 2],
            alert_len: 0,
        }
    }

    fn release(&mut self) {
        self.message = Vec::new();
    }

    fn feed(
        &mut self,
        mut data: &[u8],
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        while !data.is_empty() {
            if self.header_len < RECORD_HEADER {
                let Some((&byte, rest)) = data.split_first() else {
                    break;
                };
                data = rest;
                if let Some(slot) = self.header.get_mut(self.header_len) {
                    *slot = byte;
                }
                self.header_len = self.header_len.saturating_add(1);
                if self.header_len == RECORD_HEADER {
                    if let Flow::Stop = self.start_record(handler)? {
                        return Ok(Flow::Stop);
                    }
                }
                continue;
            }
            let take = self.remaining.min(data.len());
            let (chunk, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
            data = rest;
            self.remaining = self.remaining.saturating_sub(chunk.len());
            let flow = match self.content_type {
                HANDSHAKE => self.handshake_bytes(chunk, handler)?,
                ALERT => self.alert_bytes(chunk, handler)?,
                _ => Flow::Continue,
            };
            if self.remaining == 0 {
                self.header_len = 0;
            }
            if let Flow::Stop = flow {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    fn start_record(
        &mut self,
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        let [content_type, major, minor, high, low] = self.header;
        let is_tls = (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&content_type) && major == 3;
        if !is_tls {
            return Err(if self.records == 0 {
                ObserveError::NotTls
            } else {
                ObserveError::BadRecordHeader {
                    content_type,
                    version: u16::from_be_bytes([major, minor]),
                }
            });
        }
        let length = usize::from(u16::from_be_bytes([high, low]));
        if length > MAX_RECORD_BODY {
            return Err(ObserveError::RecordTooLarge { length });
        }
        if length == 0 && content_type != APPLICATION_DATA {
            return Err(ObserveError::EmptyRecord);
        }
        if content_type != HANDSHAKE && !self.message.is_empty() {
            return Err(ObserveError::Interleaved);
        }
        self.records = self.records.saturating_add(1);
        self.content_type = content_type;
        self.remaining = length;
        self.alert_len = 0;
        if length == 0 {
            self.header_len = 0;
        }
        match content_type {
            CHANGE_CIPHER_SPEC => handler(Item::ChangeCipherSpec),
            APPLICATION_DATA => handler(Item::ApplicationData),
            _ => Ok(Flow::Continue),
        }
    }

    fn alert_bytes(
        &mut self,
        chunk: &[u8],
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        for &byte in chunk {
            if let Some(slot) = self.alert.get_mut(self.alert_len) {
                *slot = byte;
                self.alert_len = self.alert_len.saturating_add(1);
                if self.alert_len == self.alert.len() {
                    let [level, description] = self.alert;
                    return handler(Item::Alert { level, description });
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Appends handshake record bytes, never more than the current message needs, and hands
    /// over each message as soon as it is whole.
    fn handshake_bytes(
        &mut self,
        mut chunk: &[u8],
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        while !chunk.is_empty() {
            let want = match self.message_length() {
                None => HANDSHAKE_HEADER.saturating_sub(self.message.len()),
                Some(total) => total.saturating_sub(self.message.len()),
            };
            let (head, rest) = chunk
                .split_at_checked(want.min(chunk.len()))
                .unwrap_or((chunk, &[]));
            chunk = rest;
            self.message.extend_from_slice(head);
            let Some(total) = self.message_length() else {
                continue;
            };
            if total > self.limits.max_buffered {
                return Err(ObserveError::MessageTooLarge {
                    length: total,
                    limit: self.limits.max_buffered,
                });
            }
            if self.message.len() >= total {
                let flow = {
                    let kind = self.message.first().copied().unwrap_or_default();
                    let body = self.message.get(HANDSHAKE_HEADER..).unwrap_or_default();
                    handler(Item::Handshake { kind, body })?
                };
                self.message.clear();
                if let Flow::Stop = flow {
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// The whole length (header included) of the message being reassembled, once its header
    /// is in.
    fn message_length(&self) -> Option<usize> {
        match self.message.as_slice() {
            [_, a, b, c, ..] => {
                let body = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
                Some(body.saturating_add(HANDSHAKE_HEADER))
            }
            _ => None,
        }
    }

    fn buffered(&self) -> usize {
        self.message
            .capacity()
            .saturating_add(self.header_len.min(RECORD_HEADER))
    }
}

#[derive(Debug)]
enum State<T> {
    Reading,
    Complete(T),
    Failed(ObserveError),
}

/// Watches the client's bytes for its ClientHello.
#[derive(Debug)]
pub struct ClientObserver {
    framer: Framer,
    state: State<ClientHello>,
}

impl Default for ClientObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientObserver {
    /// An observer with the default limits.
    pub fn new() -> Self {
        Self::with_limits(ObserveLimits::default())
    }

    /// An observer with the given limits.
    pub fn with_limits(limits: ObserveLimits) -> Self {
        Self {
            framer: Framer::new(limits),
            state: State::Reading,
        }
    }

    /// Reads the next bytes the client sent. Once complete or failed, bytes are ignored and
    /// the same answer is given again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ObserveError> {
        match &self.state {
            State::Complete(_) => return Ok(Progress::Complete),
            State::Failed(error) => return Err(error.clone()),
            State::Reading => {}
        }
        let limits = self.framer.limits;
        let mut found = None;
        let result = self.framer.feed(data, &mut |item| match item {
            Item::Handshake {
                kind: CLIENT_HELLO,
                body,
            } => {
                found = Some(parse_client_hello(body, &limits)?);
                Ok(Flow::Stop)
            }
            Item::Handshake { kind, .. } => Err(ObserveError::UnexpectedMessage {
                handshake_type: kind,
            }),
            Item::Alert { level, description } => Err(ObserveError::Alert { level, description }),
            Item::ChangeCipherSpec => Err(ObserveError::UnexpectedRecord {
                content_type: CHANGE_CIPHER_SPEC,
            }),
            Item::ApplicationData => Err(ObserveError::UnexpectedRecord {
                content_type: APPLICATION_DATA,
            }),
        });
        match (result, found) {
            (Ok(_), Some(hello)) => {
                self.framer.release();
                self.state = State::Complete(hello);
                Ok(Progress::Complete)
            }
            (Ok(_), None) => Ok(Progress::NeedsMore),
            (Err(error), _) => {
                self.framer.release();
                self.state = State::Failed(error.clone());
                Err(error)
            }
        }
    }

    /// The ClientHello, once complete.
    pub fn client_hello(&self) -> Option<&ClientHello> {
        match &self.state {
            State::Complete(hello) => Some(hello),
            _ => None,
        }
    }

    /// The error the observer stopped on, if any.
    pub fn error(&self) -> Option<&ObserveError> {
        match &self.state {
            State::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the observer reads no more (complete or failed).
    pub fn is_finished(&self) -> bool {
        !matches!(self.state, State::Reading)
    }

    /// Bytes held for reassembly right now (buffer capacity included).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}

/// What the server's bytes told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFlight {
    /// The ServerHello.
    pub hello: ServerHello,
    /// The chain of the Certificate message, leaf first: `None` under TLS 1.3 (encrypted) and
    /// when the server sent none (a resumed session, an anonymous or PSK suite).
    pub certificates: Option<Vec<CertificateDer<'static>>>,
}

#[derive(Debug)]
enum ServerStep {
    AwaitHello,
    AwaitCertificate(ServerHello),
}

/// Watches the server's bytes for its ServerHello and, up to TLS 1.2, its Certificate.
#[derive(Debug)]
pub struct ServerObserver {
    framer: Framer,
    step: ServerStep,
    state: State<ServerFlight>,
}

impl Default for ServerObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerObserver {
    /// An observer with the default limits.
    pub fn new() -> Self {
        Self::with_limits(ObserveLimits::default())
    }

    /// An observer with the given limits.
    pub fn with_limits(limits: ObserveLimits) -> Self {
        Self {
            framer: Framer::new(limits),
            step: ServerStep::AwaitHello,
            state: State::Reading,
        }
    }

    /// Reads the next bytes the server sent. Once complete or failed, bytes are ignored and
    /// the same answer is given again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ObserveError> {
        match &self.state {
            State::Complete(_) => return Ok(Progress::Complete),
            State::Failed(error) => return Err(error.clone()),
            State::Reading => {}
        }
        let limits = self.framer.limits;
        let step = &mut self.step;
        let mut done = None;
        let result = self
            .framer
            .feed(data, &mut |item| server_item(item, step, &limits, &mut done));
        match (result, done) {
            (Ok(_), Some(flight)) => {
                self.framer.release();
                self.state = State::Complete(flight);
                Ok(Progress::Complete)
            }
            (Ok(_), None) => Ok(Progress::NeedsMore),
            (Err(error), _) => {
                self.framer.release();
                self.state = State::Failed(error.clone());
                Err(error)
            }
        }
    }

    /// The ServerHello, as soon as it is read (before the flight is complete).
    pub fn server_hello(&self) -> Option<&ServerHello> {
        match (&self.state, &self.step) {
            (State::Complete(flight), _) => Some(&flight.hello),
            (_, ServerStep::AwaitCertificate(hello)) => Some(hello),
            _ => None,
        }
    }

    /// What was observed, once complete.
    pub fn flight(&self) -> Option<&ServerFlight> {
        match &self.state {
            State::Complete(flight) => Some(flight),
            _ => None,
        }
    }

    /// The error the observer stopped on, if any.
    pub fn error(&self) -> Option<&ObserveError> {
        match &self.state {
            State::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the observer reads no more (complete or failed).
    pub fn is_finished(&self) -> bool {
        !matches!(self.state, State::Reading)
    }

    /// Bytes held for reassembly right now (buffer capacity included).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}

fn server_item(
    item: Item<'_>,
    step: &mut ServerStep,
    limits: &ObserveLimits,
    done: &mut Option<ServerFlight>,
) -> Result<Flow, ObserveError> {
    let finish = |done: &mut Option<ServerFlight>, hello, certificates| {
        *done = Some(ServerFlight {
            hello,
            certificates,
        });
        Ok(Flow::Stop)
    };
    match (item, &*step) {
        (Item::Alert { level, description }, _) => Err(ObserveError::Alert { level, description }),
        (
            Item::Handshake {
                kind: SERVER_HELLO,
                body,
            },
            ServerStep::AwaitHello,
        ) => {
            let hello = parse_server_hello(body)?;
            if hello.version >= TLS1_3 {
                // Everything after a TLS 1.3 ServerHello (or HelloRetryRequest) is encrypted,
                // or another hello of the same version.
                finish(done, hello, None)
            } else {
                *step = ServerStep::AwaitCertificate(hello);
                Ok(Flow::Continue)
            }
        }
        (Item::Handshake { kind, .. }, ServerStep::AwaitHello) => {
            Err(ObserveError::UnexpectedMessage {
                handshake_type: kind,
            })
        }
        (Item::ChangeCipherSpec, ServerStep::AwaitHello) => Err(ObserveError::UnexpectedRecord {
            content_type: CHANGE_CIPHER_SPEC,
        }),
        (Item::ApplicationData, ServerStep::AwaitHello) => Err(ObserveError::UnexpectedRecord {
            content_type: APPLICATION_DATA,
        }),
        (
            Item::Handshake {
                kind: CERTIFICATE,
                body,
            },
            ServerStep::AwaitCertificate(hello),
        ) => {
            let chain = parse_certificate(body, limits)?;
            finish(done, *hello, Some(chain))
        }
        // Anything else after a TLS ≤ 1.2 ServerHello means no Certificate is coming: a
        // resumed session (NewSessionTicket or ChangeCipherSpec), an anonymous or PSK key
        // exchange (ServerKeyExchange, ServerHelloDone).
        (_, ServerStep::AwaitCertificate(hello)) => finish(done, *hello, None),
    }
}

/// A bounds-checked reader over a handshake message body.
#[derive(Debug, Clone, Copy)]
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(count)?;
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        let (&byte, tail) = self.0.split_first()?;
        self.0 = tail;
        Some(byte)
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }

    fn u24(&mut self) -> Option<usize> {
        let [a, b, c]: [u8; 3] = self.take(3)?.try_into().ok()?;
        Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    fn vec8(&mut self) -> Option<Reader<'a>> {
        let length = self.u8()?;
        self.take(usize::from(length)).map(Reader)
    }

    fn vec16(&mut self) -> Option<Reader<'a>> {
        let length = self.u16()?;
        self.take(usize::from(length)).map(Reader)
    }

    fn vec24(&mut self) -> Option<Reader<'a>> {
        let length = self.u24()?;
        self.take(length).map(Reader)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn rest(&self) -> &'a [u8] {
        self.0
    }
}

/// Extensions as (type, data) pairs; `None` if the list is malformed.
fn extensions<'a>(reader: &mut Reader<'a>) -> Option<Vec<(u16, &'a [u8])>> {
    if reader.is_empty() {
        return Some(Vec::new());
    }
    let mut list = reader.vec16()?;
    if !reader.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    while !list.is_empty() {
        let kind = list.u16()?;
        let data = list.vec16()?;
        out.push((kind, data.rest()));
    }
    Some(out)
}

/// Parses a ClientHello body (the handshake message without its 4-byte header).
pub fn parse_client_hello(
    body: &[u8],
    limits: &ObserveLimits,
) -> Result<ClientHello, ObserveError> {
    let malformed = ObserveError::Malformed(Field::ClientHello);
    let mut reader = Reader(body);
    let legacy_version = reader.u16().ok_or(malformed.clone())?;
    reader.take(32).ok_or(malformed.clone())?;
    let session_id = reader.vec8().ok_or(malformed.clone())?;
    let suites = reader.vec16().ok_or(malformed.clone())?;
    let compression = reader.vec8().ok_or(malformed.clone())?;
    if session_id.rest().len() > 32
        || suites.is_empty()
        || suites.rest().len() % 2 != 0
        || compression.is_empty()
    {
        return Err(malformed);
    }
    let mut hello = ClientHello {
        legacy_version,
        server_name: None,
        alpn: Vec::new(),
        offered_versions: Vec::new(),
    };
    let mut versions_seen = false;
    for (kind, data) in extensions(&mut reader).ok_or(malformed)? {
        match kind {
            EXT_SERVER_NAME if hello.server_name.is_none() => {
                hello.server_name = parse_server_name(data)?;
            }
            EXT_ALPN if hello.alpn.is_empty() => {
                hello.alpn = parse_alpn(data, limits)?;
            }
            EXT_SUPPORTED_VERSIONS if !versions_seen => {
                versions_seen = true;
                hello.offered_versions = parse_offered_versions(data, limits)?;
            }
            _ => {}
        }
    }
    if !versions_seen {
        hello.offered_versions.push(legacy_version);
    }
    Ok(hello)
}

fn parse_server_name(data: &[u8]) -> Result<Option<String>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::ServerName);
    let mut outer = Reader(data);
    let mut list = outer.vec16().ok_or(malformed.clone())?;
    if !outer.is_empty() {
        return Err(malformed);
    }
    while !list.is_empty() {
        let name_type = list.u8().ok_or(malformed.clone())?;
        let name = list.vec16().ok_or(malformed.clone())?.rest();
        if name_type != 0 {
            continue;
        }
        let valid = !name.is_empty()
            && name.len() <= MAX_HOST_NAME
            && name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*'));
        if !valid {
            return Err(malformed);
        }
        let text = name.iter().map(|b| char::from(b.to_ascii_lowercase()));
        return Ok(Some(text.collect()));
    }
    Ok(None)
}

fn parse_alpn(data: &[u8], limits: &ObserveLimits) -> Result<Vec<Vec<u8>>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::Alpn);
    let mut outer = Reader(data);
    let mut list = outer.vec16().ok_or(malformed.clone())?;
    if !outer.is_empty() || list.is_empty() {
        return Err(malformed);
    }
    let mut protocols = Vec::new();
    while !list.is_empty() {
        let protocol = list.vec8().ok_or(malformed.clone())?.rest();
        if protocol.is_empty() {
            return Err(malformed);
        }
        if protocols.len() < limits.max_list_entries {
            protocols.push(protocol.to_vec());
        }
    }
    Ok(protocols)
}

fn parse_offered_versions(data: &[u8], limits: &ObserveLimits) -> Result<Vec<u16>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::SupportedVersions);
    let mut outer = Reader(data);
    let mut list = outer.vec8().ok_or(malformed.clone())?;
    if !outer.is_empty() || list.is_empty() || list.rest().len() % 2 != 0 {
        return Err(malformed);
    }
    let mut versions = Vec::new();
    while let Some(version) = list.u16() {
        if versions.len() < limits.max_list_entries {
            versions.push(version);
        }
    }
    Ok(versions)
}

/// Parses a ServerHello body (the handshake message without its 4-byte header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, ObserveError> {
    let malformed = ObserveError::Malformed(Field::ServerHello);
    let mut reader = Reader(body);
    let legacy_version = reader.u16().ok_or(malformed.clone())?;
    let random = reader.take(32).ok_or(malformed.clone())?;
    let session_id = reader.vec8().ok_or(malformed.clone())?;
    let cipher_suite = reader.u16().ok_or(malformed.clone())?;
    reader.u8().ok_or(malformed.clone())?;
    if session_id.rest().len() > 32 {
        return Err(malformed);
    }
    let mut version = legacy_version;
    for (kind, data) in extensions(&mut reader).ok_or(malformed)? {
        if kind == EXT_SUPPORTED_VERSIONS {
            let bad = ObserveError::Malformed(Field::SupportedVersions);
            let mut ext = Reader(data);
            version = ext.u16().ok_or(bad.clone())?;
            if !ext.is_empty() {
                return Err(bad);
            }
        }
    }
    Ok(ServerHello {
        legacy_version,
        version,
        cipher_suite,
        hello_retry: random == HELLO_RETRY_RANDOM.as_slice(),
    })
}

/// Parses a TLS ≤ 1.2 Certificate body: the DER certificates, leaf first.
pub fn parse_certificate(
    body: &[u8],
    limits: &ObserveLimits,
) -> Result<Vec<CertificateDer<'static>>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::Certificate);
    let mut reader = Reader(body);
    let mut list = reader.vec24().ok_or(malformed.clone())?;
    if !reader.is_empty() {
        return Err(malformed);
    }
    let mut chain = Vec::new();
    while !list.is_empty() {
        let der = list.vec24().ok_or(malformed.clone())?.rest();
        if der.is_empty() {
            return Err(malformed);
        }
        if chain.len() >= limits.max_certificates {
            return Err(ObserveError::TooManyCertificates {
                limit: limits.max_certificates,
            });
        }
        chain.push(CertificateDer::from(der.to_vec()));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::sync::Arc;
    use alloc::vec;

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
            assert_eq!(observer.feed(&client[..cut]), Ok(Progress::NeedsMore), "{cut}");
        }
        let observed = observe_server(&server);
        let chain_bytes: usize = pki.chain.iter().map(|c| c.len()).sum();
        assert!(observed.flight().is_some());
        for cut in (0..chain_bytes).step_by(7) {
            let mut observer = ServerObserver::new();
            assert_eq!(observer.feed(&server[..cut]), Ok(Progress::NeedsMore), "{cut}");
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

    #[test]
    fn certificate_lists_are_checked() {
        let limits = ObserveLimits::default();
        // Entry longer than the list.
        assert_eq!(
            parse_certificate(&[0, 0, 4, 0, 0, 9, 1], &limits),
            Err(ObserveError::Malformed(Field::Certificate))
        );
        // Empty entry.
        assert_eq!(
            parse_certificate(&[0, 0, 3, 0, 0, 0], &limits),
            Err(ObserveError::Malformed(Field::Certificate))
        );
        // Too many entries.
        let mut list = Vec::new();
        for _ in 0..17 {
            list.extend_from_slice(&[0, 0, 1, 0x30]);
        }
        let mut body = vec![0, 0, list.len() as u8];
        body.extend_from_slice(&list);
        assert_eq!(
            parse_certificate(&body, &limits),
            Err(ObserveError::TooManyCertificates { limit: 16 })
        );
    }

    #[test]
    fn server_names_are_validated_and_lowercased() {
        let ext = |name: &[u8]| {
            let mut entry = vec![0];
            entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
            entry.extend_from_slice(name);
            let mut data = (entry.len() as u16).to_be_bytes().to_vec();
            data.extend_from_slice(&entry);
            data
        };
        assert_eq!(
            parse_server_name(&ext(b"WWW.Example.COM")),
            Ok(Some("www.example.com".to_string()))
        );
        assert_eq!(
            parse_server_name(&ext(b"bad name\n")),
            Err(ObserveError::Malformed(Field::ServerName))
        );
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0304));
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
}
