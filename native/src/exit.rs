//! Error classes and their exit codes: one per class, documented in the README.

use std::fmt;

/// What kind of failure ended the run; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A bug or an unexpected condition.
    Internal,
    /// Bad arguments, or a local input file that cannot be read or parsed.
    Usage,
    /// Name resolution, connection refused or reset, closed by the server.
    Network,
    /// The deadline passed (connect and handshake together).
    Timeout,
    /// The server does not speak TLS properly (not TLS, alert, oversized messages).
    Protocol,
    /// The chain failed validation (trust, name, dates, signatures).
    Validation,
    /// An output file could not be written.
    Write,
    /// `sync`: the policy refused every chain (key mismatch, downgrade, dates).
    Refused,
    /// `sync`: the chain was installed, but the deploy hook failed.
    Hook,
    /// `sync`: another run holds the certificate's lock.
    Lock,
}

impl Class {
    /// The process exit code of this class.
    pub fn code(self) -> u8 {
        match self {
            Self::Internal => 1,
            Self::Usage => 2,
            Self::Network => 3,
            Self::Timeout => 4,
            Self::Protocol => 5,
            Self::Validation => 6,
            Self::Write => 7,
            Self::Refused => 8,
            Self::Hook => 9,
            Self::Lock => 10,
        }
    }

    /// How bad a failure is, for the one exit code of a run over many certificates (the worst
    /// wins) and for the class of a certificate whose sources all failed (the one that got
    /// furthest wins). Documented in the README.
    pub fn severity(self) -> u8 {
        match self {
            Self::Network => 1,
            Self::Timeout => 2,
            Self::Lock => 3,
            Self::Protocol => 4,
            Self::Refused => 5,
            Self::Validation => 6,
            Self::Hook => 7,
            Self::Write => 8,
            Self::Usage => 9,
            Self::Internal => 10,
        }
    }
}

/// A failure to report: one line naming the cause, and its class.
#[derive(Debug)]
pub struct CliError {
    pub class: Class,
    pub message: String,
}

impl CliError {
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Class::Usage, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Always one line, whatever a cause's text holds.
        f.write_str(&self.message.replace(['\n', '\r'], " "))
    }
}

impl std::error::Error for CliError {}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
