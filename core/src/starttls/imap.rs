//! IMAP (RFC 9051, RFC 2595): greeting, `CAPABILITY`, then the tagged `STARTTLS`.

use alloc::vec::Vec;

use super::error::quote;
use super::lines::{starts_with_ignore_case, LineReader};
use super::{Dialogue, Progress, StarttlsFailure};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Capability,
    StartTls,
}

pub(crate) struct Imap {
    state: State,
    offered: bool,
    capabilities: Vec<u8>,
    lines: LineReader,
}

impl Imap {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Greeting,
            offered: false,
            capabilities: Vec::new(),
            lines: LineReader::default(),
        }
    }
}

/// Whether a space-separated capability list names STARTTLS.
fn lists_starttls(text: &[u8]) -> bool {
    text.split(|b| b.is_ascii_whitespace() || *b == b']' || *b == b'[')
        .any(|word| word.eq_ignore_ascii_case(b"STARTTLS"))
}

impl Dialogue for Imap {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        while let Some(line) = self.lines.next_line(input)? {
            match self.state {
                State::Greeting if starts_with_ignore_case(&line, b"* OK") => {
                    output.extend_from_slice(b"a001 CAPABILITY\r\n");
                    self.state = State::Capability;
                }
                State::Greeting => {
                    return Err(StarttlsFailure::Refused {
                        reply: quote(&line),
                    })
                }
                State::Capability if starts_with_ignore_case(&line, b"* CAPABILITY") => {
                    self.offered |= lists_starttls(&line);
                    self.capabilities = line;
                }
                State::Capability if starts_with_ignore_case(&line, b"a001 OK") => {
                    if !self.offered {
                        return Err(StarttlsFailure::NotOffered {
                            reply: quote(&self.capabilities),
                        });
                    }
                    output.extend_from_slice(b"a002 STARTTLS\r\n");
                    self.state = State::StartTls;
                }
                State::StartTls if starts_with_ignore_case(&line, b"a002 OK") => {
                    return Ok(Progress::Proceed)
                }
                // Other untagged data may come at any time.
                State::Capability | State::StartTls if line.first() == Some(&b'*') => {}
                State::Capability | State::StartTls => {
                    return Err(StarttlsFailure::Refused {
                        reply: quote(&line),
                    })
                }
            }
        }
        Ok(Progress::NeedsInput)
    }

    fn current_step(&self) -> &'static str {
        match self.state {
            State::Greeting => "greeting",
            State::Capability => "CAPABILITY",
            State::StartTls => "STARTTLS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    #[test]
    fn capability_then_starttls_proceeds() {
        let mut imap = Imap::new();
        let (sent, result) = run(
            &mut imap,
            &[
                b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n",
                b"* CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED\r\na001 OK done\r\n",
                b"a002 OK Begin TLS negotiation now.\r\n",
            ],
        );
        assert_eq!(result, Ok(Progress::Proceed));
        assert_eq!(sent, b"a001 CAPABILITY\r\na002 STARTTLS\r\n");
    }

    #[test]
    fn capability_without_starttls_is_not_offered() {
        let mut imap = Imap::new();
        let (_, result) = run(
            &mut imap,
            &[
                b"* OK hi\r\n",
                b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na001 OK\r\n",
            ],
        );
        assert!(matches!(result, Err(StarttlsFailure::NotOffered { .. })));
    }

    #[test]
    fn bye_greeting_and_no_reply_are_refusals() {
        let mut imap = Imap::new();
        let (_, result) = run(&mut imap, &[b"* BYE too many connections\r\n"]);
        assert!(matches!(result, Err(StarttlsFailure::Refused { .. })));
        let mut imap = Imap::new();
        let (_, result) = run(
            &mut imap,
            &[
                b"* OK hi\r\n",
                b"* CAPABILITY STARTTLS\r\na001 OK\r\n",
                b"a002 NO [UNAVAILABLE] later\r\n",
            ],
        );
        assert!(matches!(result, Err(StarttlsFailure::Refused { .. })));
        assert_eq!(imap.current_step(), "STARTTLS");
    }
}
