//! POP3 (RFC 2595): greeting `+OK`, `STLS`, `+OK`.

use alloc::vec::Vec;

use super::error::quote;
use super::lines::{starts_with_ignore_case, LineReader};
use super::{Dialogue, Progress, StarttlsFailure};

pub(crate) struct Pop3 {
    sent_stls: bool,
    lines: LineReader,
}

impl Pop3 {
    pub(crate) fn new() -> Self {
        Self {
            sent_stls: false,
            lines: LineReader::default(),
        }
    }
}

impl Dialogue for Pop3 {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        while let Some(line) = self.lines.next_line(input)? {
            if !starts_with_ignore_case(&line, b"+OK") {
                return Err(StarttlsFailure::Refused {
                    reply: quote(&line),
                });
            }
            if self.sent_stls {
                return Ok(Progress::Proceed);
            }
            output.extend_from_slice(b"STLS\r\n");
            self.sent_stls = true;
        }
        Ok(Progress::NeedsInput)
    }

    fn current_step(&self) -> &'static str {
        if self.sent_stls {
            "STLS"
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
    fn greeting_then_stls_proceeds() {
        let mut pop3 = Pop3::new();
        let (sent, result) = run(
            &mut pop3,
            &[
                b"+OK Dovecot ready.\r\n",
                b"+OK Begin TLS negotiation now.\r\n",
            ],
        );
        assert_eq!(result, Ok(Progress::Proceed));
        assert_eq!(sent, b"STLS\r\n");
    }

    #[test]
    fn err_reply_is_a_refusal_naming_the_step() {
        let mut pop3 = Pop3::new();
        let (_, result) = run(&mut pop3, &[b"+OK hi\r\n", b"-ERR Unknown command.\r\n"]);
        assert!(
            matches!(result, Err(StarttlsFailure::Refused { ref reply }) if reply.contains("Unknown"))
        );
        assert_eq!(pop3.current_step(), "STLS");
    }
}
