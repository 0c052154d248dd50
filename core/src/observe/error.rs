//! The observers' refusals: one named variant each.

use core::fmt;

use super::MAX_RECORD_BODY;

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
    pub(super) fn name(self) -> &'static str {
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
                write!(
                    f,
                    "alert received (level {level}, description {description})"
                )
            }
            Self::Malformed(field) => write!(f, "malformed {}", field.name()),
            Self::TooManyCertificates { limit } => {
                write!(
                    f,
                    "more than {limit} certificates in the Certificate message"
                )
            }
        }
    }
}

impl core::error::Error for ObserveError {}
