//! STARTTLS preambles: the plaintext dialogue some protocols run before the TLS handshake, as
//! sans-IO state machines the [`PullSession`](crate::PullSession) runs first, in the same
//! session and over the same bytes.
//!
//! Every dialogue is bounded (line length, number of lines, total bytes) and every failure
//! names the step and what the server said.

mod error;
mod ftp;
mod imap;
mod ldap;
mod lines;
mod mysql;
mod pop3;
mod postgres;
mod smtp;
mod xmpp;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use error::{StarttlsError, StarttlsFailure};

/// A protocol whose servers hand out TLS only after a plaintext preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// SMTP (RFC 3207): banner, EHLO, STARTTLS. Port 25 (587 for submission).
    Smtp,
    /// LMTP (RFC 2033): as SMTP with LHLO. Port 24.
    Lmtp,
    /// IMAP (RFC 9051, RFC 2595): CAPABILITY, then the tagged STARTTLS command. Port 143.
    Imap,
    /// POP3 (RFC 2595): STLS. Port 110.
    Pop3,
    /// FTP (RFC 4217): AUTH TLS. Port 21.
    Ftp,
    /// XMPP client-to-server (RFC 6120): stream header naming the domain, `<starttls/>`,
    /// `<proceed/>`. Port 5222.
    Xmpp,
    /// LDAP (RFC 4511): the StartTLS extended operation, OID 1.3.6.1.4.1.1466.20037. Port 389.
    Ldap,
    /// PostgreSQL: the SSLRequest message and its one-byte answer. Port 5432.
    Postgres,
    /// MySQL and MariaDB: the server greeting with the SSL capability, then an SSL request
    /// packet. Port 3306.
    Mysql,
}

impl Protocol {
    /// Every protocol, in documentation order.
    pub const ALL: [Self; 9] = [
        Self::Smtp,
        Self::Lmtp,
        Self::Imap,
        Self::Pop3,
        Self::Ftp,
        Self::Xmpp,
        Self::Ldap,
        Self::Postgres,
        Self::Mysql,
    ];

    /// The protocol's name as written on command lines (`smtp`, `postgres`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Smtp => "smtp",
            Self::Lmtp => "lmtp",
            Self::Imap => "imap",
            Self::Pop3 => "pop3",
            Self::Ftp => "ftp",
            Self::Xmpp => "xmpp",
            Self::Ldap => "ldap",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }

    /// Parses a name; `postgresql` and `mariadb` are accepted as aliases.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "postgresql" => Some(Self::Postgres),
            "mariadb" => Some(Self::Mysql),
            _ => Self::ALL.into_iter().find(|p| p.name() == name),
        }
    }

    /// The port the protocol's STARTTLS is usually offered on.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Smtp => 25,
            Self::Lmtp => 24,
            Self::Imap => 143,
            Self::Pop3 => 110,
            Self::Ftp => 21,
            Self::Xmpp => 5222,
            Self::Ldap => 389,
            Self::Postgres => 5432,
            Self::Mysql => 3306,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a dialogue step leaves the caller to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Send the output, then feed more input.
    NeedsInput,
    /// The server said go: the TLS handshake starts now.
    Proceed,
}

/// One protocol's preamble. `step` consumes what it used from the front of `input` and appends
/// what to send to `output`.
pub(crate) trait Dialogue: Send {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure>;
    /// Where the dialogue is, for error reports (`banner`, `EHLO`, …).
    fn current_step(&self) -> &'static str;
}

/// A running preamble.
pub(crate) struct Preamble {
    protocol: Protocol,
    dialogue: Box<dyn Dialogue>,
}

impl Preamble {
    /// `domain` is the server name: XMPP puts it in its stream header.
    pub(crate) fn new(protocol: Protocol, domain: &str) -> Self {
        let dialogue: Box<dyn Dialogue> = match protocol {
            Protocol::Smtp => Box::new(smtp::Smtp::new("EHLO")),
            Protocol::Lmtp => Box::new(smtp::Smtp::new("LHLO")),
            Protocol::Imap => Box::new(imap::Imap::new()),
            Protocol::Pop3 => Box::new(pop3::Pop3::new()),
            Protocol::Ftp => Box::new(ftp::Ftp::new()),
            Protocol::Xmpp => Box::new(xmpp::Xmpp::new(String::from(domain))),
            Protocol::Ldap => Box::new(ldap::Ldap::new()),
            Protocol::Postgres => Box::new(postgres::Postgres::new()),
            Protocol::Mysql => Box::new(mysql::Mysql::new()),
        };
        Self { protocol, dialogue }
    }

    pub(crate) fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsError> {
        self.dialogue
            .step(input, output)
            .map_err(|failure| self.error(failure))
    }

    /// The error for a server that closed the connection during the preamble.
    pub(crate) fn closed(&self) -> StarttlsError {
        self.error(StarttlsFailure::Closed)
    }

    fn error(&self, failure: StarttlsFailure) -> StarttlsError {
        StarttlsError {
            protocol: self.protocol,
            step: self.dialogue.current_step(),
            failure,
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Drives a dialogue against a scripted server.
    use super::*;

    /// Feeds `replies` one by one (each after the client's output so far) and returns what the
    /// client sent and the final progress or failure.
    pub(crate) fn run(
        dialogue: &mut dyn Dialogue,
        replies: &[&[u8]],
    ) -> (Vec<u8>, Result<Progress, StarttlsFailure>) {
        let mut input = Vec::new();
        let mut output = Vec::new();
        let mut result = dialogue.step(&mut input, &mut output);
        for reply in replies {
            match result {
                Ok(Progress::NeedsInput) => {}
                _ => break,
            }
            input.extend_from_slice(reply);
            result = dialogue.step(&mut input, &mut output);
        }
        (output, result)
    }

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::from_name(protocol.name()), Some(protocol));
        }
        assert_eq!(Protocol::from_name("PostgreSQL"), Some(Protocol::Postgres));
        assert_eq!(Protocol::from_name("mariadb"), Some(Protocol::Mysql));
        assert_eq!(Protocol::from_name("gopher"), None);
    }
}
