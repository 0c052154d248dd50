//! LDAP (RFC 4511 §4.14): the StartTLS extended request, and its extended response read with a
//! small bounded BER reader (servers such as OpenLDAP use long-form lengths DER would refuse).

use alloc::vec::Vec;

use super::error::quote;
use super::{Dialogue, Progress, StarttlsFailure};

/// LDAPMessage { messageID 1, ExtendedRequest [APPLICATION 23] { requestName [0]
/// "1.3.6.1.4.1.1466.20037" } }.
const START_TLS_REQUEST: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16\x31\x2e\x33\x2e\x36\x2e\x31\x2e\x34\x2e\x31\x2e\x31\x34\x36\x36\x2e\x32\x30\x30\x33\x37";

/// The largest response accepted.
const MAX_MESSAGE: usize = 16 * 1024;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const ENUMERATED: u8 = 0x0a;
const OCTET_STRING: u8 = 0x04;
const EXTENDED_RESPONSE: u8 = 0x78;

pub(crate) struct Ldap {
    sent: bool,
}

impl Ldap {
    pub(crate) fn new() -> Self {
        Self { sent: false }
    }
}

/// A BER element: its tag and contents.
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
}

/// Reads one element from the front of `bytes`: `Ok(None)` when incomplete, and the rest.
fn read_tlv(bytes: &[u8]) -> Result<Option<(Tlv<'_>, &[u8])>, StarttlsFailure> {
    let unexpected = || StarttlsFailure::Unexpected {
        reply: quote(bytes),
    };
    let (Some(&tag), Some(&first)) = (bytes.first(), bytes.get(1)) else {
        return Ok(None);
    };
    let (length, header) = match first {
        0..=0x7f => (usize::from(first), 2usize),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7f);
            let Some(digits) = bytes.get(2..count.saturating_add(2)) else {
                return Ok(None);
            };
            let length = digits
                .iter()
                .fold(0usize, |n, d| (n << 8) | usize::from(*d));
            (length, count.saturating_add(2))
        }
        // Indefinite or absurd lengths are not LDAP.
        _ => return Err(unexpected()),
    };
    if length > MAX_MESSAGE {
        return Err(StarttlsFailure::TooLong { limit: MAX_MESSAGE });
    }
    let end = header.saturating_add(length);
    match (bytes.get(header..end), bytes.get(end..)) {
        (Some(value), Some(rest)) => Ok(Some((Tlv { tag, value }, rest))),
        _ => Ok(None),
    }
}

/// Reads an element that must be complete (inside an already complete message).
fn expect(bytes: &[u8], tag: u8) -> Result<(&[u8], &[u8]), StarttlsFailure> {
    match read_tlv(bytes)? {
        Some((tlv, rest)) if tlv.tag == tag => Ok((tlv.value, rest)),
        _ => Err(StarttlsFailure::Unexpected {
            reply: quote(bytes),
        }),
    }
}

fn result_name(code: u32) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "error",
    }
}

impl Dialogue for Ldap {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        if !self.sent {
            output.extend_from_slice(START_TLS_REQUEST);
            self.sent = true;
        }
        // Fail fast on a server that answers in another protocol.
        if input.first().is_some_and(|&tag| tag != SEQUENCE) {
            return Err(StarttlsFailure::Unexpected {
                reply: quote(input),
            });
        }
        let Some((message, rest)) = read_tlv(input)? else {
            return Ok(Progress::NeedsInput);
        };
        if message.tag != SEQUENCE {
            return Err(StarttlsFailure::Unexpected {
                reply: quote(input),
            });
        }
        let (_message_id, body) = expect(message.value, INTEGER)?;
        let (response, _controls) = expect(body, EXTENDED_RESPONSE)?;
        let (code, after_code) = expect(response, ENUMERATED)?;
        let code = code
            .iter()
            .fold(0u32, |n, d| n.wrapping_shl(8) | u32::from(*d));
        let (_matched_dn, after_dn) = expect(after_code, OCTET_STRING)?;
        let diagnostic = expect(after_dn, OCTET_STRING)
            .map(|(text, _)| text)
            .unwrap_or_default();
        let consumed = input.len().saturating_sub(rest.len());
        if code == 0 {
            input.drain(..consumed);
            return Ok(Progress::Proceed);
        }
        let mut reply = alloc::format!("resultCode {code} ({})", result_name(code));
        if !diagnostic.is_empty() {
            reply.push_str(": ");
            reply.push_str(&quote(diagnostic));
        }
        Err(StarttlsFailure::Refused { reply })
    }

    fn current_step(&self) -> &'static str {
        "StartTLS extended operation"
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    /// An ExtendedResponse with `code` and `diagnostic`, with OpenLDAP's 4-byte lengths.
    fn response(code: u8, diagnostic: &[u8]) -> Vec<u8> {
        let mut op = alloc::vec![
            ENUMERATED,
            1,
            code,
            OCTET_STRING,
            0,
            OCTET_STRING,
            diagnostic.len() as u8
        ];
        op.extend_from_slice(diagnostic);
        let mut body = alloc::vec![
            INTEGER,
            1,
            1,
            EXTENDED_RESPONSE,
            0x84,
            0,
            0,
            0,
            op.len() as u8
        ];
        body.extend(op);
        let mut message = alloc::vec![SEQUENCE, 0x84, 0, 0, 0, body.len() as u8];
        message.extend(body);
        message
    }

    #[test]
    fn the_request_is_the_start_tls_extended_operation() {
        assert_eq!(START_TLS_REQUEST.len(), 31);
        assert!(START_TLS_REQUEST.ends_with(b"1.3.6.1.4.1.1466.20037"));
    }

    #[test]
    fn success_proceeds_even_split_into_bytes() {
        let message = response(0, b"");
        let chunks: Vec<&[u8]> = message.chunks(1).collect();
        let mut ldap = Ldap::new();
        let (sent, result) = run(&mut ldap, &chunks);
        assert_eq!(result, Ok(Progress::Proceed));
        assert_eq!(sent, START_TLS_REQUEST);
    }

    #[test]
    fn failure_names_the_result_code_and_diagnostic() {
        let mut ldap = Ldap::new();
        let (_, result) = run(&mut ldap, &[&response(52, b"TLS not configured")]);
        match result {
            Err(StarttlsFailure::Refused { reply }) => {
                assert_eq!(reply, "resultCode 52 (unavailable): TLS not configured")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_and_giant_lengths_are_refused() {
        let mut ldap = Ldap::new();
        let (_, result) = run(&mut ldap, &[b"220 smtp\r\n"]);
        assert!(matches!(result, Err(StarttlsFailure::Unexpected { .. })));
        let mut ldap = Ldap::new();
        let (_, result) = run(&mut ldap, &[b"\x30\x84\x7f\xff\xff\xff"]);
        assert!(matches!(result, Err(StarttlsFailure::TooLong { .. })));
    }
}
