//! FTP (RFC 4217): greeting, `AUTH TLS`, `234`.

use alloc::vec::Vec;

use super::smtp::ReplyReader;
use super::{Dialogue, Progress, StarttlsFailure};

pub(crate) struct Ftp {
    sent_auth: bool,
    replies: ReplyReader,
}

impl Ftp {
    pub(crate) fn new() -> Self {
        Self {
            sent_auth: false,
            replies: ReplyReader::default(),
        }
    }
}

impl Dialogue for Ftp {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        while let Some(reply) = self.replies.next_reply(input)? {
            match (self.sent_auth, reply.code) {
                (false, 220) => {
                    output.extend_from_slice(b"AUTH TLS\r\n");
                    self.sent_auth = true;
                }
                (true, 234) => return Ok(Progress::Proceed),
                _ => {
                    return Err(StarttlsFailure::Refused {
                        reply: reply.text(),
                    })
                }
            }
        }
        Ok(Progress::NeedsInput)
    }

    fn current_step(&self) -> &'static str {
        if self.sent_auth {
            "AUTH TLS"
        } else {
            "greeting"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    #[test]
    fn multi_line_greeting_then_auth_tls_proceeds() {
        let mut ftp = Ftp::new();
        let (sent, result) = run(
            &mut ftp,
            &[
                b"220-Welcome\r\n  continued without a code\r\n220 ready\r\n",
                b"234 Proceed with negotiation.\r\n",
            ],
        );
        assert_eq!(result, Ok(Progress::Proceed));
        assert_eq!(sent, b"AUTH TLS\r\n");
    }

    #[test]
    fn auth_refused() {
        let mut ftp = Ftp::new();
        let (_, result) = run(
            &mut ftp,
            &[
                b"220 (vsFTPd 3.0.3)\r\n",
                b"530 Please login with USER and PASS.\r\n",
            ],
        );
        assert!(matches!(result, Err(StarttlsFailure::Refused { .. })));
        assert_eq!(ftp.current_step(), "AUTH TLS");
    }
}
