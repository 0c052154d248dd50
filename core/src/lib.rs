//! certpull-core: pull a TLS certificate chain through a handshake, without doing any I/O.
//!
//! The crate is `#![no_std]` + `alloc` and sans-IO in the style of quinn-proto and rustls'
//! unbuffered API: the caller moves bytes between a [`PullSession`] and the network, passes the
//! current time (a rustls [`TimeProvider`](rustls::time_provider::TimeProvider)) and a rustls
//! [`CryptoProvider`](rustls::crypto::CryptoProvider). Nothing here opens a socket, reads a clock
//! or draws randomness of its own.
//!
//! - [`session`]: the pull session (handshake state machine around rustls).
//! - [`verify`]: the capturing certificate verifier (records the chain as sent, then judges it).
//! - [`verdict_cache`]: valid verdicts shared between the pulls of one run (fleet audits).
//! - [`driver`]: a blocking driver over `embedded_io::{Read, Write}`.
//! - [`chain`]: the parsed summary of a certificate (subject, names, dates, fingerprints).
//! - [`starttls`]: the plaintext preambles of SMTP, IMAP, POP3, FTP, XMPP, LDAP, PostgreSQL and
//!   MySQL, run by the session before the handshake.
//! - [`pem`]: PEM in and out.
//! - [`keymatch`]: the public key of the local private key, compared with a leaf's.
//! - [`fleet`]: expiry health and drift for fleet audits.
//! - [`policy`]: the install decision (validity, key match, no downgrade) and source selection.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]
#![warn(missing_docs)]

extern crate alloc;

pub mod chain;
pub mod driver;
pub mod error;
pub mod fleet;
pub mod hex;
pub mod keymatch;
pub mod limits;
pub mod observe;
pub mod pem;
pub mod policy;
pub mod session;
pub mod starttls;
pub mod time;
pub mod timefmt;
pub mod verdict_cache;
pub mod verify;

pub use chain::{CertSummary, ChainError};
pub use driver::{pull_blocking, DriveError};
pub use error::{PullError, RejectedChain, ValidationFailure};
pub use keymatch::{KeyError, LocalKey};
pub use limits::Limits;
pub use session::{PullConfig, PullOutcome, PullSession, Status, Trust};
pub use starttls::{Protocol, StarttlsError};
pub use time::FixedTime;
pub use verdict_cache::VerdictCache;
pub use verify::Verdict;

/// Re-exported so that callers build configurations with the same rustls the core uses.
pub use rustls;
/// Re-exported for `CertificateDer`, `ServerName`, `UnixTime`.
pub use rustls_pki_types as pki_types;
