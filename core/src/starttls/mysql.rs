//! MySQL and MariaDB: the server greeting (protocol 10) must carry the SSL capability; the
//! client answers with an SSL request packet and the TLS handshake follows at once.

use alloc::vec::Vec;

use super::error::quote;
use super::{Dialogue, Progress, StarttlsFailure};

const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
/// The most payload a greeting may have.
const MAX_PACKET: usize = 16 * 1024;
/// utf8mb3_general_ci.
const CHARSET: u8 = 33;

pub(crate) struct Mysql {
    _private: (),
}

impl Mysql {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }
}

/// The SSL request: 4 capability bytes, 4 of max packet size, a charset, 23 zeros.
fn ssl_request(sequence: u8) -> Vec<u8> {
    let capabilities =
        CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION;
    let mut packet = alloc::vec![32, 0, 0, sequence.wrapping_add(1)];
    packet.extend_from_slice(&capabilities.to_le_bytes());
    packet.extend_from_slice(&0x0100_0000u32.to_le_bytes());
    packet.push(CHARSET);
    packet.extend_from_slice(&[0; 23]);
    packet
}

/// The server's lower capability flags, from a protocol-10 greeting.
fn greeting_capabilities(payload: &[u8]) -> Option<u16> {
    let version_end = payload
        .iter()
        .skip(1)
        .position(|&b| b == 0)?
        .checked_add(1)?;
    // NUL, connection id (4), auth data part 1 (8), filler (1), then the flags.
    let at = version_end.checked_add(1 + 4 + 8 + 1)?;
    let flags = payload.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*flags.first()?, *flags.get(1)?]))
}

impl Dialogue for Mysql {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        let Some(Ok([l0, l1, l2, sequence])) = input.get(..4).map(<[u8; 4]>::try_from) else {
            return Ok(Progress::NeedsInput);
        };
        let length = usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16;
        if length > MAX_PACKET {
            return Err(StarttlsFailure::TooLong { limit: MAX_PACKET });
        }
        let end = length.saturating_add(4);
        let Some(payload) = input.get(4..end) else {
            return Ok(Progress::NeedsInput);
        };
        match payload.first() {
            // An error packet: 0xff, a 2-byte code, then (protocol 4.1) '#' and a SQL state.
            Some(0xff) => {
                let code = payload
                    .get(1..3)
                    .and_then(|c| <[u8; 2]>::try_from(c).ok())
                    .map_or(0, u16::from_le_bytes);
                let message = payload.get(3..).unwrap_or_default();
                let message = message
                    .strip_prefix(b"#")
                    .map_or(message, |m| m.get(5..).unwrap_or_default());
                Err(StarttlsFailure::Refused {
                    reply: alloc::format!("error {code}: {}", quote(message)),
                })
            }
            Some(10) => {
                let capabilities =
                    greeting_capabilities(payload).ok_or_else(|| StarttlsFailure::Unexpected {
                        reply: quote(payload),
                    })?;
                if u32::from(capabilities) & CLIENT_SSL == 0 {
                    let version_end = payload.iter().skip(1).position(|&b| b == 0).unwrap_or(0);
                    return Err(StarttlsFailure::NotOffered {
                        reply: alloc::format!(
                            "server {} without the SSL capability",
                            quote(payload.get(1..=version_end).unwrap_or_default())
                        ),
                    });
                }
                input.drain(..end);
                output.extend_from_slice(&ssl_request(sequence));
                Ok(Progress::Proceed)
            }
            _ => Err(StarttlsFailure::Unexpected {
                reply: quote(input),
            }),
        }
    }

    fn current_step(&self) -> &'static str {
        "greeting"
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    fn greeting(capabilities: u16) -> Vec<u8> {
        let mut payload = alloc::vec![10];
        payload.extend_from_slice(b"10.11.6-MariaDB\0");
        payload.extend_from_slice(&[1, 0, 0, 0]);
        payload.extend_from_slice(b"abcdefgh");
        payload.push(0);
        payload.extend_from_slice(&capabilities.to_le_bytes());
        payload.extend_from_slice(&[33, 2, 0, 0xff, 0x81, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut packet = alloc::vec![payload.len() as u8, 0, 0, 0];
        packet.extend(payload);
        packet
    }

    #[test]
    fn greeting_with_ssl_gets_an_ssl_request() {
        let mut mysql = Mysql::new();
        let packet = greeting(0xfffe);
        let chunks: Vec<&[u8]> = packet.chunks(3).collect();
        let (sent, result) = run(&mut mysql, &chunks);
        assert_eq!(result, Ok(Progress::Proceed));
        assert_eq!(sent.len(), 36);
        assert_eq!(&sent[..4], &[32, 0, 0, 1]);
        assert_ne!(
            u32::from_le_bytes([sent[4], sent[5], sent[6], sent[7]]) & CLIENT_SSL,
            0
        );
    }

    #[test]
    fn greeting_without_ssl_is_not_offered() {
        let mut mysql = Mysql::new();
        let (_, result) = run(&mut mysql, &[&greeting(0xfffe & !(CLIENT_SSL as u16))]);
        match result {
            Err(StarttlsFailure::NotOffered { reply }) => {
                assert!(reply.contains("MariaDB"), "{reply}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_packet_is_a_refusal_with_its_message() {
        let mut packet = alloc::vec![0, 0, 0, 0, 0xff, 0x69, 0x04];
        packet.extend_from_slice(b"Host '127.0.0.1' is blocked");
        packet[0] = (packet.len() - 4) as u8;
        let mut mysql = Mysql::new();
        let (_, result) = run(&mut mysql, &[&packet]);
        match result {
            Err(StarttlsFailure::Refused { reply }) => {
                assert_eq!(reply, "error 1129: Host '127.0.0.1' is blocked")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_packets_are_refused() {
        let mut mysql = Mysql::new();
        let (_, result) = run(&mut mysql, &[&[0xff, 0xff, 0xff, 0]]);
        assert!(matches!(result, Err(StarttlsFailure::TooLong { .. })));
    }
}
