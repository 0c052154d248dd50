//! The errors of a pull: why a chain was refused, and why a session failed.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rustls::CertificateError;
use rustls_pki_types::CertificateDer;

use crate::timefmt::{Instant, Span};

/// Why a chain failed validation against the trust anchors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationFailure {
    /// No path from the chain as sent to a trusted root (unknown or missing issuer).
    UnknownIssuer,
    /// The leaf does not name the server name that was asked for.
    NotValidForName {
        /// The name that was asked for.
        expected: String,
        /// The DNS and IP names the leaf presents.
        presented: Vec<String>,
    },
    /// A certificate on the path has expired.
    Expired {
        /// The time of the check, in seconds since the Unix epoch.
        now: u64,
        /// The certificate's notAfter, in seconds since the Unix epoch.
        not_after: u64,
    },
    /// A certificate on the path is not valid yet.
    NotYetValid {
        /// The time of the check, in seconds since the Unix epoch.
        now: u64,
        /// The certificate's notBefore, in seconds since the Unix epoch.
        not_before: u64,
    },
    /// A signature on the path, or the server's handshake signature, does not verify.
    BadSignature,
    /// A signature uses an algorithm the crypto provider does not support.
    UnsupportedSignatureAlgorithm,
    /// The leaf is not allowed for TLS server authentication (extended key usage).
    InvalidPurpose,
    /// A certificate is not valid DER.
    BadEncoding,
    /// A certificate carries a critical extension that is not understood.
    UnhandledCriticalExtension,
    /// Anything else the verifier reported, in its words.
    Other(String),
}

impl ValidationFailure {
    /// A short stable name, used in JSON output and exit reports (`unknown-issuer`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownIssuer => "unknown-issuer",
            Self::NotValidForName { .. } => "name-mismatch",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not-yet-valid",
            Self::BadSignature => "bad-signature",
            Self::UnsupportedSignatureAlgorithm => "unsupported-signature-algorithm",
            Self::InvalidPurpose => "invalid-purpose",
            Self::BadEncoding => "bad-encoding",
            Self::UnhandledCriticalExtension => "unhandled-critical-extension",
            Self::Other(_) => "invalid",
        }
    }

    /// The position in the chain (0 = leaf) this failure is about, when it can be told.
    ///
    /// Expiry is located by the certificates' own dates: rustls reports the time but not which
    /// certificate on the path was out of date.
    pub fn concerns(&self, chain: &[crate::CertSummary]) -> Option<usize> {
        match self {
            Self::NotValidForName { .. } | Self::InvalidPurpose => Some(0),
            Self::UnknownIssuer => chain.len().checked_sub(1),
            Self::Expired { now, .. } => chain.iter().position(|c| c.not_after <= *now),
            Self::NotYetValid { now, .. } => chain.iter().position(|c| c.not_before > *now),
            _ => None,
        }
    }

    pub(crate) fn from_rustls(error: &CertificateError) -> Self {
        match error {
            CertificateError::UnknownIssuer => Self::UnknownIssuer,
            CertificateError::NotValidForName => Self::NotValidForName {
                expected: String::new(),
                presented: Vec::new(),
            },
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => Self::NotValidForName {
                expected: server_name_text(expected),
                presented: presented.clone(),
            },
            CertificateError::Expired => Self::Expired {
                now: 0,
                not_after: 0,
            },
            CertificateError::ExpiredContext { time, not_after } => Self::Expired {
                now: time.as_secs(),
                not_after: not_after.as_secs(),
            },
            CertificateError::NotValidYet => Self::NotYetValid {
                now: 0,
                not_before: 0,
            },
            CertificateError::NotValidYetContext { time, not_before } => Self::NotYetValid {
                now: time.as_secs(),
                not_before: not_before.as_secs(),
            },
            CertificateError::BadSignature => Self::BadSignature,
            #[allow(deprecated)]
            CertificateError::UnsupportedSignatureAlgorithm
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                Self::UnsupportedSignatureAlgorithm
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                Self::InvalidPurpose
            }
            CertificateError::BadEncoding => Self::BadEncoding,
            CertificateError::UnhandledCriticalExtension => Self::UnhandledCriticalExtension,
            other => Self::Other(alloc::format!("{other:?}")),
        }
    }
}

/// A server name as text (XMPP's stream header and error reports need it).
pub(crate) fn server_name_text(name: &rustls_pki_types::ServerName<'_>) -> String {
    use rustls_pki_types::{IpAddr as PkiIp, ServerName};
    match name {
        ServerName::DnsName(dns) => String::from(dns.as_ref()),
        ServerName::IpAddress(PkiIp::V4(v4)) => {
            alloc::format!("{}", core::net::Ipv4Addr::from(*v4.as_ref()))
        }
        ServerName::IpAddress(PkiIp::V6(v6)) => {
            alloc::format!("{}", core::net::Ipv6Addr::from(*v6.as_ref()))
        }
        other => alloc::format!("{other:?}"),
    }
}

impl fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownIssuer => {
                f.write_str("unknown issuer: the chain does not lead to a trusted root")
            }
            Self::NotValidForName {
                expected,
                presented,
            } if !expected.is_empty() => write!(
                f,
                "certificate is not valid for name {expected:?} (it names {})",
                presented.join(", ")
            ),
            Self::NotValidForName { .. } => f.write_str("certificate is not valid for the name"),
            Self::Expired { now, not_after } => write!(
                f,
                "certificate expired on {} ({} ago)",
                Instant(*not_after),
                Span(now.saturating_sub(*not_after))
            ),
            Self::NotYetValid { now, not_before } => write!(
                f,
                "certificate not valid yet: valid from {} (in {})",
                Instant(*not_before),
                Span(not_before.saturating_sub(*now))
            ),
            Self::BadSignature => f.write_str("bad signature"),
            Self::UnsupportedSignatureAlgorithm => f.write_str("unsupported signature algorithm"),
            Self::InvalidPurpose => f.write_str("certificate not allowed for TLS server use"),
            Self::BadEncoding => f.write_str("certificate is not valid DER"),
            Self::UnhandledCriticalExtension => f.write_str("unhandled critical extension"),
            Self::Other(text) => write!(f, "invalid certificate: {text}"),
        }
    }
}

/// A chain the server sent that failed validation, kept whole for the error report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedChain {
    /// Why it failed.
    pub failure: ValidationFailure,
    /// The chain exactly as the server sent it, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

/// Why a pull session ended without a chain.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PullError {
    /// The server's chain failed validation; the chain is kept for the report.
    Rejected(Box<RejectedChain>),
    /// The server's chain has more certificates or bytes than [`Limits`](crate::Limits) allow.
    ChainTooLarge {
        /// Certificates sent.
        certs: usize,
        /// DER bytes sent.
        bytes: usize,
    },
    /// The server sent more than [`Limits::max_buffered`](crate::Limits) bytes that could not be
    /// processed yet.
    BufferLimit {
        /// The limit that was reached.
        limit: usize,
    },
    /// The server's first bytes are not a TLS record: it speaks another protocol.
    NotTls {
        /// Up to 48 of the first bytes received, for the report.
        preview: Vec<u8>,
    },
    /// The STARTTLS preamble failed: which protocol, which step, what the server said.
    Starttls(crate::starttls::StarttlsError),
    /// The server closed the connection before the handshake completed.
    PeerClosed {
        /// How many bytes it had sent.
        bytes_received: usize,
    },
    /// The TLS handshake failed (a malformed message, an alert from the server, no common
    /// version or cipher suite, …).
    Tls(rustls::Error),
    /// The session's configuration was refused (for example an unusable trust store).
    Config(String),
    /// The session already returned its outcome or its error; it takes no more calls.
    Finished,
}

impl PullError {
    /// A short stable name of the error class (`rejected`, `protocol`, `closed`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rejected(rejected) => rejected.failure.code(),
            Self::ChainTooLarge { .. } => "chain-too-large",
            Self::BufferLimit { .. } => "buffer-limit",
            Self::NotTls { .. } => "not-tls",
            Self::Starttls(_) => "starttls",
            Self::PeerClosed { .. } => "closed",
            Self::Tls(_) => "tls",
            Self::Config(_) => "config",
            Self::Finished => "finished",
        }
    }
}

impl fmt::Display for PullError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(rejected) => write!(f, "chain refused: {}", rejected.failure),
            Self::ChainTooLarge { certs, bytes } => write!(
                f,
                "server sent an oversized chain ({certs} certificates, {bytes} bytes)"
            ),
            Self::BufferLimit { limit } => write!(
                f,
                "server sent more than {limit} bytes without completing a handshake message"
            ),
            Self::NotTls { preview } => {
                f.write_str("protocol error: not a TLS server (it sent \"")?;
                for &byte in preview {
                    match byte {
                        b'\r' => f.write_str("\\r")?,
                        b'\n' => f.write_str("\\n")?,
                        0x20..=0x7e => write!(f, "{}", char::from(byte))?,
                        _ => write!(f, "\\x{byte:02x}")?,
                    }
                }
                f.write_str("\")")
            }
            Self::Starttls(error) => write!(f, "protocol error: {error}"),
            Self::PeerClosed { bytes_received: 0 } => {
                f.write_str("server closed the connection without answering")
            }
            Self::PeerClosed { bytes_received } => write!(
                f,
                "server closed the connection during the handshake (after {bytes_received} bytes)"
            ),
            Self::Tls(error) => {
                f.write_str("protocol error: TLS handshake failed: ")?;
                describe_tls_error(error, f)
            }
            Self::Config(text) => write!(f, "invalid configuration: {text}"),
            Self::Finished => f.write_str("the pull session has already finished"),
        }
    }
}

impl core::error::Error for PullError {}

/// rustls' errors in words for an operator, not in its enum names.
fn describe_tls_error(error: &rustls::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use rustls::{Error, InvalidMessage, PeerIncompatible, PeerMisbehaved};
    match error {
        Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge) => {
            f.write_str("the server announced a handshake message over 64 KiB")
        }
        Error::InvalidMessage(InvalidMessage::MessageTooLarge) => {
            f.write_str("the server sent an oversized TLS record")
        }
        Error::InvalidMessage(kind) => write!(f, "malformed message from the server ({kind:?})"),
        Error::AlertReceived(alert) => write!(f, "the server sent a fatal alert ({alert:?})"),
        Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
        ) => f.write_str("the server offers no TLS version in common (TLS 1.2 or 1.3 needed)"),
        Error::PeerIncompatible(kind) => write!(f, "the server is incompatible ({kind:?})"),
        Error::PeerMisbehaved(PeerMisbehaved::SelectedUnofferedCipherSuite) => {
            f.write_str("the server chose a cipher suite that was not offered")
        }
        Error::PeerMisbehaved(kind) => write!(f, "the server broke the protocol ({kind:?})"),
        Error::InappropriateHandshakeMessage { got_type, .. } => {
            write!(f, "unexpected handshake message {got_type:?}")
        }
        Error::InappropriateMessage { got_type, .. } => {
            write!(f, "unexpected {got_type:?} message")
        }
        other => write!(f, "{other}"),
    }
}
