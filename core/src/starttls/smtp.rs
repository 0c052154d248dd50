//! SMTP (RFC 3207) and LMTP (RFC 2033): banner, EHLO/LHLO, STARTTLS. Also the reply format FTP
//! shares (RFC 959: three digits, `-` for a continuation).

use alloc::string::String;
use alloc::vec::Vec;

use super::error::quote;
use super::lines::{starts_with_ignore_case, LineReader};
use super::{Dialogue, Progress, StarttlsFailure};

/// The name the client gives itself in EHLO: a syntactically valid domain that never resolves.
const CLIENT_NAME: &str = "certpull.invalid";

/// A complete reply: its code and its lines' text (after the code and separator).
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) lines: Vec<Vec<u8>>,
}

impl Reply {
    /// The reply as one bounded line for reports.
    pub(crate) fn text(&self) -> String {
        let mut joined = Vec::new();
        for (index, line) in self.lines.iter().enumerate() {
            if index > 0 {
                joined.extend_from_slice(b" / ");
            }
            joined.extend_from_slice(line);
        }
        alloc::format!("{} {}", self.code, quote(&joined))
    }
}

/// Assembles multi-line numeric replies (`250-…` lines up to `250 …`).
#[derive(Debug, Default)]
pub(crate) struct ReplyReader {
    lines: LineReader,
    pending: Option<Reply>,
}

fn code_of(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u16, |n, d| {
        n.checked_mul(10)?
            .checked_add(u16::from(d.saturating_sub(b'0')))
    })
}

impl ReplyReader {
    /// The next complete reply, or `None` when more input is needed.
    pub(crate) fn next_reply(
        &mut self,
        input: &mut Vec<u8>,
    ) -> Result<Option<Reply>, StarttlsFailure> {
        while let Some(line) = self.lines.next_line(input)? {
            let code = code_of(&line);
            let separator = line.get(3).copied();
            let text = line.get(4..).unwrap_or_default().to_vec();
            match (&mut self.pending, code) {
                // A continuation line of FTP may carry no code at all.
                (Some(reply), code) if code != Some(reply.code) || separator == Some(b'-') => {
                    reply.lines.push(if code.is_some() { text } else { line });
                }
                (Some(reply), _) => {
                    reply.lines.push(text);
                    return Ok(self.pending.take());
                }
                (None, Some(code)) if separator == Some(b'-') => {
                    self.pending = Some(Reply {
                        code,
                        lines: alloc::vec![text],
                    });
                }
                (None, Some(code)) if matches!(separator, None | Some(b' ')) => {
                    return Ok(Some(Reply {
                        code,
                        lines: alloc::vec![text],
                    }));
                }
                (None, _) => {
                    return Err(StarttlsFailure::Unexpected {
                        reply: quote(&line),
                    })
                }
            }
        }
        Ok(None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Banner,
    Hello,
    StartTls,
}

pub(crate) struct Smtp {
    hello: &'static str,
    state: State,
    replies: ReplyReader,
}

impl Smtp {
    /// `hello` is `EHLO` (SMTP) or `LHLO` (LMTP).
    pub(crate) fn new(hello: &'static str) -> Self {
        Self {
            hello,
            state: State::Banner,
            replies: ReplyReader::default(),
        }
    }
}

/// Whether an EHLO reply line announces the STARTTLS extension.
fn offers_starttls(line: &[u8]) -> bool {
    starts_with_ignore_case(line, b"STARTTLS")
        && line.get(8).is_none_or(|b| b.is_ascii_whitespace())
}

impl Dialogue for Smtp {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        while let Some(reply) = self.replies.next_reply(input)? {
            match self.state {
                State::Banner if reply.code == 220 => {
                    output.extend_from_slice(
                        alloc::format!("{} {CLIENT_NAME}\r\n", self.hello).as_bytes(),
                    );
                    self.state = State::Hello;
                }
                State::Hello if reply.code == 250 => {
                    if !reply.lines.iter().any(|line| offers_starttls(line)) {
                        return Err(StarttlsFailure::NotOffered {
                            reply: reply.text(),
                        });
                    }
                    output.extend_from_slice(b"STARTTLS\r\n");
                    self.state = State::StartTls;
                }
                State::StartTls if reply.code == 220 => return Ok(Progress::Proceed),
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
        match (self.state, self.hello) {
            (State::Banner, _) => "banner",
            (State::Hello, "LHLO") => "LHLO",
            (State::Hello, _) => "EHLO",
            (State::StartTls, _) => "STARTTLS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    #[test]
    fn multi_line_ehlo_with_starttls_proceeds() {
        let mut smtp = Smtp::new("EHLO");
        let (sent, result) = run(
            &mut smtp,
            &[
                b"220-mail.example.com ESMTP\r\n220 welcome\r\n",
                b"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n",
                b"250-STARTTLS\r\n250 8BITMIME\r\n",
                b"220 2.0.0 Ready to start TLS\r\n",
            ],
        );
        assert_eq!(result, Ok(Progress::Proceed));
        assert_eq!(sent, b"EHLO certpull.invalid\r\nSTARTTLS\r\n");
    }

    #[test]
    fn lmtp_says_lhlo() {
        let mut lmtp = Smtp::new("LHLO");
        let (sent, _) = run(&mut lmtp, &[b"220 lmtp ready\r\n"]);
        assert_eq!(sent, b"LHLO certpull.invalid\r\n");
    }

    #[test]
    fn replies_split_anywhere_are_reassembled() {
        let mut smtp = Smtp::new("EHLO");
        let script: &[u8] = b"220 hi\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n";
        let chunks: Vec<&[u8]> = script.chunks(1).collect();
        let (_, result) = run(&mut smtp, &chunks);
        assert_eq!(result, Ok(Progress::Proceed));
    }

    #[test]
    fn ehlo_without_starttls_is_not_offered() {
        let mut smtp = Smtp::new("EHLO");
        let (_, result) = run(&mut smtp, &[b"220 hi\r\n", b"250-mx\r\n250 STARTTLSX\r\n"]);
        assert!(
            matches!(result, Err(StarttlsFailure::NotOffered { .. })),
            "{result:?}"
        );
        assert_eq!(smtp.current_step(), "EHLO");
    }

    #[test]
    fn refusals_keep_the_servers_words() {
        let mut smtp = Smtp::new("EHLO");
        let (_, result) = run(&mut smtp, &[b"554 5.7.1 go away\r\n"]);
        assert_eq!(
            result,
            Err(StarttlsFailure::Refused {
                reply: String::from("554 5.7.1 go away")
            })
        );
        let mut smtp = Smtp::new("EHLO");
        let (_, result) = run(
            &mut smtp,
            &[
                b"220 hi\r\n",
                b"250 STARTTLS\r\n",
                b"454 4.7.0 TLS not available\r\n",
            ],
        );
        assert!(matches!(result, Err(StarttlsFailure::Refused { .. })));
        assert_eq!(smtp.current_step(), "STARTTLS");
    }

    #[test]
    fn garbage_is_unexpected() {
        let mut smtp = Smtp::new("EHLO");
        let (_, result) = run(&mut smtp, &[b"HTTP/1.1 400 Bad Request\r\n"]);
        assert!(matches!(result, Err(StarttlsFailure::Unexpected { .. })));
    }
}
