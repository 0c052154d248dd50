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
//!
//! Layout: `framer.rs` reassembles records and handshake messages for both directions;
//! `client.rs` and `server.rs` are the observers driving it; `messages.rs` parses the hellos
//! and the Certificate message; `error.rs` names every refusal.

mod client;
mod error;
mod framer;
mod messages;
mod server;

use framer::{Flow, Framer};
#[cfg(test)]
mod tests;

pub use client::ClientObserver;
pub use error::{Field, ObserveError};
pub use messages::{
    parse_certificate, parse_client_hello, parse_server_hello, ClientHello, ServerHello,
};
pub use server::{ServerFlight, ServerObserver};

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
pub const HELLO_RETRY_RANDOM: [u8; 32] = [
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

/// Where an observer stands after [`feed`](ClientObserver::feed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    NeedsMore,
    /// The observer has what it looks for and reads no more.
    Complete,
}

/// Where an observer stands: reading, or finished with its result or its error.
#[derive(Debug)]
enum State<T> {
    Reading,
    Complete(T),
    Failed(ObserveError),
}

impl<T> State<T> {
    /// The answer a finished observer gives again to every feed; `None` while it reads.
    fn repeated(&self) -> Option<Result<Progress, ObserveError>> {
        match self {
            Self::Reading => None,
            Self::Complete(_) => Some(Ok(Progress::Complete)),
            Self::Failed(error) => Some(Err(error.clone())),
        }
    }

    /// Takes in what one feed gave, freeing the framer's buffer once the observer is done.
    fn settle(
        &mut self,
        framer: &mut Framer,
        result: Result<Flow, ObserveError>,
        found: Option<T>,
    ) -> Result<Progress, ObserveError> {
        match (result, found) {
            (Ok(_), None) => Ok(Progress::NeedsMore),
            (Ok(_), Some(value)) => {
                framer.release();
                *self = Self::Complete(value);
                Ok(Progress::Complete)
            }
            (Err(error), _) => {
                framer.release();
                *self = Self::Failed(error.clone());
                Err(error)
            }
        }
    }

    fn complete(&self) -> Option<&T> {
        match self {
            Self::Complete(value) => Some(value),
            _ => None,
        }
    }

    fn error(&self) -> Option<&ObserveError> {
        match self {
            Self::Failed(error) => Some(error),
            _ => None,
        }
    }

    fn is_finished(&self) -> bool {
        !matches!(self, Self::Reading)
    }
}
