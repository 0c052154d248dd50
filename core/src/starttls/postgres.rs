//! PostgreSQL: the SSLRequest message and the server's one-byte answer (`S` yes, `N` no).

use alloc::string::String;
use alloc::vec::Vec;

use super::error::quote;
use super::{Dialogue, Progress, StarttlsFailure};

/// Length 8, then the SSLRequest code 80877103 (1234 << 16 | 5679).
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

pub(crate) struct Postgres {
    sent: bool,
}

impl Postgres {
    pub(crate) fn new() -> Self {
        Self { sent: false }
    }
}

impl Dialogue for Postgres {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        if !self.sent {
            output.extend_from_slice(&SSL_REQUEST);
            self.sent = true;
        }
        match input.first() {
            None => Ok(Progress::NeedsInput),
            Some(b'S') => {
                input.remove(0);
                Ok(Progress::Proceed)
            }
            Some(b'N') => Err(StarttlsFailure::Refused {
                reply: String::from("N: the server does not accept SSL"),
            }),
            // A server too old for SSLRequest answers with an ErrorResponse.
            Some(b'E') => Err(StarttlsFailure::Refused {
                reply: quote(input),
            }),
            Some(_) => Err(StarttlsFailure::Unexpected {
                reply: quote(input),
            }),
        }
    }

    fn current_step(&self) -> &'static str {
        "SSLRequest"
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    #[test]
    fn s_proceeds_and_n_refuses() {
        let mut pg = Postgres::new();
        let (sent, result) = run(&mut pg, &[b"S"]);
        assert_eq!(result, Ok(Progress::Proceed));
        assert_eq!(sent, SSL_REQUEST);
        let mut pg = Postgres::new();
        let (_, result) = run(&mut pg, &[b"N"]);
        assert!(
            matches!(result, Err(StarttlsFailure::Refused { ref reply }) if reply.starts_with("N"))
        );
    }

    #[test]
    fn other_bytes_are_unexpected() {
        let mut pg = Postgres::new();
        let (_, result) = run(&mut pg, &[b"HTTP/1.1"]);
        assert!(matches!(result, Err(StarttlsFailure::Unexpected { .. })));
    }
}
