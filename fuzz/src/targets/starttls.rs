//! `starttls`: every STARTTLS preamble, run by the pull session as it runs in production, fed
//! arbitrary server bytes in arbitrary chunkings.
//!
//! # Input
//! `[selector][n][n × u16 LE chunk sizes][server bytes…]`, chunks as in the `session` target
//! (cycled; 0 = advance without feeding; n = 0: everything at once; end of stream when the bytes
//! run out). Selector:
//! - low nibble mod 9, the protocol, in [`Protocol::ALL`] order (smtp, lmtp, imap, pop3, ftp,
//!   xmpp, ldap, postgres, mysql);
//! - bit 7, `max_buffered`: the default (96 KiB), or 512 bytes.
//!
//! The session runs in deterministic mode (its ClientHello is always the same bytes) and in
//! capture-only mode without roots: the handshake after the preamble is the `session` target's
//! business, this one stops at the hand-over.
//!
//! # Properties
//! - never panics;
//! - what the client sends before TLS is, at every step, a prefix of the protocol's script
//!   (SMTP: `EHLO certpull.invalid\r\n` `STARTTLS\r\n`; IMAP: `a001 CAPABILITY\r\n`
//!   `a002 STARTTLS\r\n`; …) that ends on a command boundary: a line protocol never sends half
//!   a line, every line ends in CRLF;
//! - hand-over to TLS (the ClientHello appears) only right after the whole script, and only
//!   once the bytes fed so far hold the server's go-ahead after the replies that come before it
//!   (SMTP/LMTP: a 220 banner, a 250 reply, a 220 reply, in that order; IMAP `* OK`, `a001 OK`,
//!   `a002 OK`; POP3 `+OK` twice; FTP 220 then 234; XMPP `<stream:features` with `<starttls`,
//!   then `<proceed`; LDAP an ExtendedResponse; PostgreSQL `S` first; MySQL a protocol-10
//!   greeting), and with STARTTLS offered where the protocol lists it;
//! - buffering: the session never holds more than `max_buffered`; while the preamble waits
//!   for input, what it holds is bounded by the protocol's own limits (a partial line of at most
//!   4096 bytes; at most 64 KiB read per text preamble; one LDAP message of at most 16 KiB plus
//!   its header; one MySQL packet of at most 16 KiB plus its header; nothing for PostgreSQL);
//! - every error before the hand-over is a `Starttls` error for the selected protocol (or
//!   `BufferLimit` for a feed beyond `receive_capacity`), at one of the protocol's steps, with
//!   the documented limits; it displays;
//! - once failed, it stays failed: every later `advance` and `feed` returns the same error and
//!   nothing more is sent;
//! - after end of stream, `advance` never asks for input again.

use std::sync::OnceLock;

use certpull_core::starttls::StarttlsFailure;
use certpull_core::{Limits, Protocol, PullConfig, PullError, PullSession, Status, Trust};

use super::session::{buffered, new_session, Fed, Plan};
use crate::pki::{self, VALID_NOW};

/// The text protocols' line limit and whole-preamble limit (core's `starttls::lines`).
const MAX_LINE: usize = 4096;
const MAX_TOTAL: usize = 64 * 1024;
/// LDAP's and MySQL's message limits.
const LDAP_MAX_MESSAGE: usize = 16 * 1024;
const MYSQL_MAX_PACKET: usize = 16 * 1024;

const LDAP_START_TLS: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16\x31\x2e\x33\x2e\x36\x2e\x31\x2e\x34\x2e\x31\x2e\x31\x34\x36\x36\x2e\x32\x30\x30\x33\x37";
const POSTGRES_SSL_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const XMPP_TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

/// The protocol a selector byte picks.
pub fn protocol(selector: u8) -> Protocol {
    Protocol::ALL[usize::from(selector & 0x0f) % Protocol::ALL.len()]
}

/// The selector byte of a protocol (for seeds).
pub fn selector(protocol: Protocol) -> u8 {
    Protocol::ALL
        .iter()
        .position(|p| *p == protocol)
        .and_then(|i| u8::try_from(i).ok())
        .expect("a known protocol")
}

/// The client's commands, in order: what it sends before TLS when everything goes well.
fn script(protocol: Protocol, data: &[u8]) -> Vec<Vec<u8>> {
    let lines = |l: &[&str]| l.iter().map(|s| s.as_bytes().to_vec()).collect();
    match protocol {
        Protocol::Smtp => lines(&["EHLO certpull.invalid\r\n", "STARTTLS\r\n"]),
        Protocol::Lmtp => lines(&["LHLO certpull.invalid\r\n", "STARTTLS\r\n"]),
        Protocol::Imap => lines(&["a001 CAPABILITY\r\n", "a002 STARTTLS\r\n"]),
        Protocol::Pop3 => lines(&["STLS\r\n"]),
        Protocol::Ftp => lines(&["AUTH TLS\r\n"]),
        Protocol::Xmpp => vec![
            format!(
                "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='jabber:client' \
                 xmlns:stream='http://etherx.jabber.org/streams'>",
                pki::SERVER_NAME
            )
            .into_bytes(),
            format!("<starttls xmlns='{XMPP_TLS_NS}'/>").into_bytes(),
        ],
        Protocol::Ldap => vec![LDAP_START_TLS.to_vec()],
        Protocol::Postgres => vec![POSTGRES_SSL_REQUEST.to_vec()],
        Protocol::Mysql => {
            // The SSL request answers the greeting with the next sequence number.
            let sequence = data.get(3).copied().unwrap_or(0).wrapping_add(1);
            let mut packet = vec![32, 0, 0, sequence];
            packet.extend_from_slice(&[0x01, 0x8a, 0, 0]); // long password, 4.1, SSL, secure
            packet.extend_from_slice(&[0, 0, 0, 1]); // max packet 16 MiB
            packet.push(33); // utf8mb3_general_ci
            packet.extend_from_slice(&[0; 23]);
            vec![packet]
        }
        _ => unreachable!("a protocol the target does not know"),
    }
}

/// Whether the protocol's commands are CRLF-terminated text lines.
fn is_line_protocol(protocol: Protocol) -> bool {
    matches!(
        protocol,
        Protocol::Smtp | Protocol::Lmtp | Protocol::Imap | Protocol::Pop3 | Protocol::Ftp
    )
}

/// The step names a protocol's errors may carry.
fn steps(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::Smtp => &["banner", "EHLO", "STARTTLS"],
        Protocol::Lmtp => &["banner", "LHLO", "STARTTLS"],
        Protocol::Imap => &["greeting", "CAPABILITY", "STARTTLS"],
        Protocol::Pop3 => &["greeting", "STLS"],
        Protocol::Ftp => &["greeting", "AUTH TLS"],
        Protocol::Xmpp => &["stream features", "starttls"],
        Protocol::Ldap => &["StartTLS extended operation"],
        Protocol::Postgres => &["SSLRequest"],
        Protocol::Mysql => &["greeting"],
        _ => &[],
    }
}

/// The complete lines of `fed` (LF-terminated, a CR before the LF dropped), as the server's
/// replies are read.
fn complete_lines(fed: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = fed.split(|&b| b == b'\n').collect();
    lines.pop(); // what follows the last LF is not a complete line
    lines
        .into_iter()
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect()
}

fn starts_ci(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The last line of a numeric reply with this code: the code, then anything but `-`.
fn final_line(code: &'static [u8]) -> impl Fn(&[u8]) -> bool {
    move |line| line.starts_with(code) && line.get(3) != Some(&b'-')
}

/// Whether `items` holds elements matching `predicates` in this order (a subsequence).
fn in_order<T: Copy>(items: &[T], predicates: &[&dyn Fn(T) -> bool]) -> bool {
    let mut wanted = predicates.iter();
    let mut next = wanted.next();
    for &item in items {
        match next {
            Some(predicate) if predicate(item) => next = wanted.next(),
            Some(_) => {}
            None => break,
        }
    }
    next.is_none()
}

fn find_from(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

/// Whether the server bytes fed so far hold the protocol's go-ahead, after what must come
/// before it. A necessary condition for the hand-over, checked independently of core's code.
fn go_ahead_seen(protocol: Protocol, fed: &[u8]) -> bool {
    let lines = complete_lines(fed);
    let offers_starttls = || {
        fed.to_ascii_lowercase()
            .windows(8)
            .any(|w| w == b"starttls")
    };
    match protocol {
        Protocol::Smtp | Protocol::Lmtp => {
            offers_starttls()
                && in_order(
                    &lines,
                    &[
                        &final_line(b"220"),
                        &final_line(b"250"),
                        &final_line(b"220"),
                    ],
                )
        }
        Protocol::Imap => {
            offers_starttls()
                && in_order(
                    &lines,
                    &[
                        &|l| starts_ci(l, b"* OK"),
                        &|l| starts_ci(l, b"a001 OK"),
                        &|l| starts_ci(l, b"a002 OK"),
                    ],
                )
        }
        Protocol::Pop3 => lines.len() >= 2 && lines.iter().take(2).all(|l| starts_ci(l, b"+OK")),
        Protocol::Ftp => in_order(&lines, &[&final_line(b"220"), &final_line(b"234")]),
        Protocol::Xmpp => {
            let Some(features) = find_from(fed, 0, b"<stream:features") else {
                return false;
            };
            let Some(starttls) = find_from(fed, features, b"<starttls") else {
                return false;
            };
            find_from(fed, starttls, b"<proceed").is_some()
                && find_from(fed, features, XMPP_TLS_NS.as_bytes()).is_some()
        }
        Protocol::Ldap => {
            // LDAPMessage SEQUENCE, then (somewhere after) an ExtendedResponse with an
            // ENUMERATED resultCode.
            fed.first() == Some(&0x30)
                && find_from(fed, 1, &[0x78])
                    .is_some_and(|at| find_from(fed, at, &[0x0a]).is_some())
        }
        Protocol::Postgres => fed.first() == Some(&b'S'),
        Protocol::Mysql => fed.get(4) == Some(&10),
        _ => false,
    }
}

/// The ClientHello a session sends first in deterministic mode (recorded once per process).
fn client_hello() -> &'static [u8] {
    static HELLO: OnceLock<Vec<u8>> = OnceLock::new();
    HELLO.get_or_init(|| {
        let (config, now) = config(Protocol::Smtp, false);
        let config = config.with_starttls(None);
        let mut session = new_session(&config, now);
        let status = session.advance();
        assert!(matches!(status, Ok(Status::NeedsInput)), "{status:?}");
        session.take_output()
    })
}

fn config(protocol: Protocol, small_buffer: bool) -> (PullConfig, u64) {
    let mut config =
        PullConfig::new(pki::server_name(), Trust::CaptureOnly(None)).with_starttls(Some(protocol));
    config.limits = Limits {
        max_buffered: if small_buffer {
            512
        } else {
            Limits::DEFAULT_MAX_BUFFERED
        },
        ..Limits::default()
    };
    (config, VALID_NOW)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The preamble handed over to TLS (the ClientHello was sent).
    HandedOver,
    /// The pull failed before the hand-over.
    Failed(PullError),
    /// The pull failed in TLS, after the hand-over.
    FailedInTls(PullError),
}

pub fn run(input: &[u8]) {
    let _ = drive(input);
}

/// Runs one input, asserting every property; returns how it ended.
pub fn drive(input: &[u8]) -> End {
    let plan = Plan::parse(input);
    let protocol = protocol(plan.flags);
    let (config, now) = config(protocol, plan.flags & 0x80 != 0);
    let max_buffered = config.limits.max_buffered;
    let script = script(protocol, plan.data);
    let full_script = script.concat();
    let hello = client_hello();
    let mut session = new_session(&config, now);

    let mut sent = Vec::new();
    let mut fed = 0usize;
    let mut eof = false;
    let mut data = plan.data;
    for step in 0.. {
        // The first advance runs before any input (the client may speak first).
        if step > 0 {
            match plan.feed_next(&mut session, &mut data, step, max_buffered) {
                Fed::Eof => eof = true,
                Fed::Bytes(taken) => fed += taken,
                Fed::Refused(error) => {
                    check_prefix(protocol, &script, &sent);
                    return stays_failed(session, error, End::Failed);
                }
            }
        }
        let status = session.advance();
        sent.extend_from_slice(&session.take_output());
        let fed_bytes = &plan.data[..fed];

        if sent.len() > full_script.len() {
            // Only the ClientHello (and what follows it in TLS) may come after the script.
            assert!(
                sent.starts_with(&full_script),
                "{protocol}: sent {:?}, not the script {:?}",
                String::from_utf8_lossy(&sent),
                String::from_utf8_lossy(&full_script)
            );
            let tls = &sent[full_script.len()..];
            if tls.starts_with(hello) {
                assert!(
                    go_ahead_seen(protocol, fed_bytes),
                    "{protocol}: handed over to TLS without the server's go-ahead in {:?}",
                    String::from_utf8_lossy(fed_bytes)
                );
                return match status {
                    Err(error) => {
                        assert!(
                            !matches!(error, PullError::Starttls(_)),
                            "a STARTTLS error after the hand-over: {error:?}"
                        );
                        stays_failed(session, error, End::FailedInTls)
                    }
                    Ok(_) => End::HandedOver,
                };
            }
            panic!("{protocol}: after the script comes {tls:02x?}, not the ClientHello");
        }
        check_prefix(protocol, &script, &sent);
        // MySQL's SSL request and the ClientHello leave together: no reply comes in between.
        assert!(
            protocol != Protocol::Mysql || sent.is_empty(),
            "mysql: SSL request sent without the ClientHello"
        );
        match status {
            Ok(Status::NeedsInput) => {
                assert!(!eof, "advance asked for input after end of stream");
                check_waiting(protocol, &session, fed);
            }
            Ok(Status::Complete(outcome)) => {
                panic!("{protocol}: completed without sending the ClientHello: {outcome:?}")
            }
            Err(error) => {
                check_error(protocol, &error);
                return stays_failed(session, error, End::Failed);
            }
        }
    }
    unreachable!()
}

/// What was sent is a prefix of the script, ending on a command boundary.
fn check_prefix(protocol: Protocol, script: &[Vec<u8>], sent: &[u8]) {
    let mut at = 0;
    for command in script {
        if at == sent.len() {
            break;
        }
        let end = at + command.len();
        assert!(
            sent.get(at..end) == Some(command.as_slice()),
            "{protocol}: sent {:?}, expected the command {:?} next",
            String::from_utf8_lossy(&sent[at..]),
            String::from_utf8_lossy(command)
        );
        at = end;
    }
    assert_eq!(at, sent.len().min(at), "{protocol}: output past the script");
    if is_line_protocol(protocol) && !sent.is_empty() {
        assert!(sent.ends_with(b"\r\n"), "{protocol}: half a line sent");
    }
}

/// While the preamble waits for input, what it holds stays within the protocol's limits.
fn check_waiting(protocol: Protocol, session: &PullSession, fed: usize) {
    let held = buffered(session);
    match protocol {
        Protocol::Smtp | Protocol::Lmtp | Protocol::Imap | Protocol::Pop3 | Protocol::Ftp => {
            assert!(
                held <= MAX_LINE,
                "{protocol}: holds a partial line of {held} bytes"
            );
            assert!(
                fed <= MAX_TOTAL + MAX_LINE,
                "{protocol}: still reading after {fed} bytes"
            );
        }
        Protocol::Xmpp => assert!(fed <= MAX_TOTAL, "xmpp: still reading after {fed} bytes"),
        Protocol::Ldap => assert!(
            held <= LDAP_MAX_MESSAGE + 6,
            "ldap: holds {held} bytes of one message"
        ),
        Protocol::Postgres => assert_eq!(held, 0, "postgres: holds bytes while waiting"),
        Protocol::Mysql => assert!(
            held <= MYSQL_MAX_PACKET + 4,
            "mysql: holds {held} bytes of one packet"
        ),
        _ => {}
    }
}

/// A first error before the hand-over names the protocol, one of its steps and the limits.
fn check_error(protocol: Protocol, error: &PullError) {
    let PullError::Starttls(error) = error else {
        panic!("{protocol}: a non-STARTTLS error before the hand-over: {error:?}");
    };
    assert_eq!(error.protocol, protocol);
    assert!(
        steps(protocol).contains(&error.step),
        "{protocol}: unknown step {:?}",
        error.step
    );
    match &error.failure {
        StarttlsFailure::LineTooLong { limit } => {
            assert!(is_line_protocol(protocol), "{protocol}: LineTooLong");
            assert_eq!(*limit, MAX_LINE);
        }
        StarttlsFailure::TooLong { limit } => {
            let expected = match protocol {
                Protocol::Ldap => LDAP_MAX_MESSAGE,
                Protocol::Mysql => MYSQL_MAX_PACKET,
                _ => MAX_TOTAL,
            };
            assert_eq!(*limit, expected, "{protocol}: TooLong limit");
        }
        StarttlsFailure::Refused { reply }
        | StarttlsFailure::NotOffered { reply }
        | StarttlsFailure::Unexpected { reply } => {
            // Quoted server text: at most 200 bytes of it, each at most 4 characters escaped,
            // plus the report's own words.
            assert!(
                reply.chars().count() <= 4 * 200 + 100,
                "{protocol}: unbounded reply text"
            );
            assert!(
                !reply.chars().any(|c| c.is_control()),
                "{protocol}: control characters in {reply:?}"
            );
        }
        _ => {}
    }
    assert!(!error.to_string().is_empty());
}

/// Every later call gives the same error and sends nothing.
fn stays_failed(mut session: PullSession, error: PullError, end: impl Fn(PullError) -> End) -> End {
    for _ in 0..2 {
        assert_eq!(
            session.advance().err().as_ref(),
            Some(&error),
            "advance after an error"
        );
        assert!(session.take_output().is_empty(), "output after an error");
        assert_eq!(
            session.feed(b"220 again\r\n+OK\r\nS").err().as_ref(),
            Some(&error),
            "feed after an error"
        );
        assert!(session.take_output().is_empty(), "output after an error");
        session.feed_eof();
    }
    end(error)
}
