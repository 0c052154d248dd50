//! STARTTLS failures: which protocol, which step, and what the server said.

use alloc::string::String;
use core::fmt;

use super::Protocol;

/// Why a preamble failed, without its context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StarttlsFailure {
    /// The server refused (a negative reply to the STARTTLS command or its equivalent).
    Refused {
        /// The server's reply, as text (bounded).
        reply: String,
    },
    /// The server's capabilities do not include STARTTLS.
    NotOffered {
        /// The reply that listed the capabilities (bounded).
        reply: String,
    },
    /// A reply that does not fit the protocol at this step.
    Unexpected {
        /// The reply (bounded).
        reply: String,
    },
    /// A line longer than the limit.
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// More bytes or lines than the preamble may take.
    TooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server closed the connection.
    Closed,
}

/// A failed preamble: protocol, step and cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarttlsError {
    /// The protocol.
    pub protocol: Protocol,
    /// The step that failed (`banner`, `EHLO`, `STARTTLS`, …).
    pub step: &'static str,
    /// What went wrong.
    pub failure: StarttlsFailure,
}

impl fmt::Display for StarttlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = self.protocol;
        let step = self.step;
        match &self.failure {
            StarttlsFailure::Refused { reply } => {
                write!(f, "{protocol}: server refused {step} ({reply})")
            }
            StarttlsFailure::NotOffered { reply } => write!(
                f,
                "{protocol}: server did not offer STARTTLS in its {step} reply ({reply})"
            ),
            StarttlsFailure::Unexpected { reply } => {
                write!(f, "{protocol}: unexpected reply at {step}: {reply}")
            }
            StarttlsFailure::LineTooLong { limit } => {
                write!(
                    f,
                    "{protocol}: reply line at {step} longer than {limit} bytes"
                )
            }
            StarttlsFailure::TooLong { limit } => {
                write!(
                    f,
                    "{protocol}: server sent more than {limit} bytes at {step}"
                )
            }
            StarttlsFailure::Closed => {
                write!(f, "{protocol}: server closed the connection at {step}")
            }
        }
    }
}

impl core::error::Error for StarttlsError {}

/// Server text for a report: printable ASCII, control bytes escaped, at most 200 characters.
pub(crate) fn quote(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let mut out = String::new();
    for &byte in bytes.iter().take(MAX) {
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = fmt::Write::write_fmt(&mut out, format_args!("\\x{byte:02x}"));
            }
        }
    }
    if bytes.len() > MAX {
        out.push('…');
    }
    out
}
