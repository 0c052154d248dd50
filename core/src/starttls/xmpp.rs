//! XMPP client-to-server (RFC 6120 §5): a stream header naming the domain, the server's
//! features with `<starttls/>`, our `<starttls/>`, and its `<proceed/>`.
//!
//! A handful of fixed elements is all the preamble needs, so they are found by bounded substring
//! search rather than by a full XML parser.

use alloc::string::String;
use alloc::vec::Vec;

use super::error::quote;
use super::lines::MAX_TOTAL;
use super::{Dialogue, Progress, StarttlsFailure};

const TLS_NAMESPACE: &str = "urn:ietf:params:xml:ns:xmpp-tls";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Features,
    Proceed,
}

pub(crate) struct Xmpp {
    domain: String,
    state: State,
    buffer: Vec<u8>,
    total: usize,
}

impl Xmpp {
    pub(crate) fn new(domain: String) -> Self {
        Self {
            domain,
            state: State::Start,
            buffer: Vec::new(),
            total: 0,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The end of the first element named `name` (`<name .../>` or `<name ...>…</name>`), if
/// complete in `buffer`.
fn element_end(buffer: &[u8], name: &str) -> Option<usize> {
    let open = alloc::format!("<{name}");
    let start = find(buffer, open.as_bytes())?;
    let after = buffer.get(start..)?;
    let tag_end = find(after, b">")?;
    if after.get(tag_end.checked_sub(1)?) == Some(&b'/') {
        return start.checked_add(tag_end)?.checked_add(1);
    }
    let close = alloc::format!("</{name}>");
    let close_at = find(after, close.as_bytes())?;
    start.checked_add(close_at)?.checked_add(close.len())
}

/// The condition of a `<stream:error>` (`host-unknown`, …), for the report.
fn stream_error_condition(buffer: &[u8]) -> String {
    let start = find(buffer, b"<stream:error").unwrap_or(0);
    let rest = buffer.get(start..).unwrap_or_default();
    // The first child element after the opening tag names the condition.
    let condition = find(rest, b">")
        .and_then(|end| rest.get(end.checked_add(1)?..))
        .and_then(|inner| {
            let open = find(inner, b"<")?;
            let name = inner.get(open.checked_add(1)?..)?;
            let end = name
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')?;
            name.get(..end)
        })
        .unwrap_or(rest);
    alloc::format!("stream error {}", quote(condition))
}

impl Dialogue for Xmpp {
    fn step(
        &mut self,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Result<Progress, StarttlsFailure> {
        if self.state == State::Start {
            output.extend_from_slice(
                alloc::format!(
                    "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='jabber:client' \
                     xmlns:stream='http://etherx.jabber.org/streams'>",
                    self.domain
                )
                .as_bytes(),
            );
            self.state = State::Features;
        }
        self.total = self.total.saturating_add(input.len());
        if self.total > MAX_TOTAL {
            return Err(StarttlsFailure::TooLong { limit: MAX_TOTAL });
        }
        self.buffer.append(input);

        if find(&self.buffer, b"<stream:error").is_some() {
            if element_end(&self.buffer, "stream:error").is_some()
                || find(&self.buffer, b"</stream:stream>").is_some()
            {
                return Err(StarttlsFailure::Refused {
                    reply: stream_error_condition(&self.buffer),
                });
            }
            return Ok(Progress::NeedsInput);
        }
        match self.state {
            State::Start => Ok(Progress::NeedsInput),
            State::Features => {
                let Some(end) = element_end(&self.buffer, "stream:features") else {
                    return Ok(Progress::NeedsInput);
                };
                // Only what is inside the features element counts: the stream header (or
                // anything before it) naming the TLS namespace offers nothing.
                let start = find(&self.buffer, b"<stream:features").unwrap_or(0);
                let features = self.buffer.get(start..end).unwrap_or_default();
                let offered = find(features, b"<starttls").is_some()
                    && find(features, TLS_NAMESPACE.as_bytes()).is_some();
                if !offered {
                    return Err(StarttlsFailure::NotOffered {
                        reply: quote(features),
                    });
                }
                self.buffer.drain(..end);
                output.extend_from_slice(
                    alloc::format!("<starttls xmlns='{TLS_NAMESPACE}'/>").as_bytes(),
                );
                self.state = State::Proceed;
                self.step(input, output)
            }
            State::Proceed => {
                if let Some(end) = element_end(&self.buffer, "proceed") {
                    // Whatever follows <proceed/> is the server's first TLS bytes.
                    let rest = self.buffer.split_off(end);
                    *input = rest;
                    return Ok(Progress::Proceed);
                }
                if find(&self.buffer, b"<failure").is_some() {
                    return Err(StarttlsFailure::Refused {
                        reply: quote(&self.buffer),
                    });
                }
                Ok(Progress::NeedsInput)
            }
        }
    }

    fn current_step(&self) -> &'static str {
        match self.state {
            State::Start | State::Features => "stream features",
            State::Proceed => "starttls",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    const HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' id='x' from='example.org' version='1.0'>";

    #[test]
    fn features_with_starttls_then_proceed() {
        let mut xmpp = Xmpp::new(String::from("example.org"));
        let (sent, result) = run(
            &mut xmpp,
            &[
                HEADER,
                b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>",
                b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>",
                b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            ],
        );
        assert_eq!(result, Ok(Progress::Proceed));
        let sent = String::from_utf8(sent).unwrap();
        assert!(sent.contains("to='example.org'"));
        assert!(sent.ends_with("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    }

    #[test]
    fn features_without_starttls_are_not_offered() {
        let mut xmpp = Xmpp::new(String::from("example.org"));
        let (_, result) = run(
            &mut xmpp,
            &[
                HEADER,
                b"<stream:features><bind xmlns='x'/></stream:features>",
            ],
        );
        assert!(matches!(result, Err(StarttlsFailure::NotOffered { .. })));
    }

    #[test]
    fn the_tls_namespace_outside_the_features_offers_nothing() {
        // Found by the starttls fuzz target: the namespace in the stream header, a <starttls>
        // in another namespace inside the features.
        let mut xmpp = Xmpp::new(String::from("example.org"));
        let (sent, result) = run(
            &mut xmpp,
            &[
                b"<stream:stream id='urn:ietf:params:xml:ns:xmpp-tls' version='1.0'>",
                b"<stream:features><starttls xmlns='urn:example:other'/></stream:features>",
                b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            ],
        );
        assert!(
            matches!(result, Err(StarttlsFailure::NotOffered { .. })),
            "{result:?}"
        );
        assert!(!String::from_utf8(sent).unwrap().contains("<starttls"));
    }

    #[test]
    fn host_unknown_stream_error_is_named() {
        let mut xmpp = Xmpp::new(String::from("wrong.example"));
        let (_, result) = run(
            &mut xmpp,
            &[
                HEADER,
                b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
            ],
        );
        match result {
            Err(StarttlsFailure::Refused { reply }) => {
                assert!(reply.contains("host-unknown"), "{reply}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failure_element_is_a_refusal() {
        let mut xmpp = Xmpp::new(String::from("example.org"));
        let (_, result) = run(
            &mut xmpp,
            &[
                HEADER,
                b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
                b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
            ],
        );
        assert!(matches!(result, Err(StarttlsFailure::Refused { .. })));
    }

    #[test]
    fn an_endless_stream_is_bounded() {
        let mut xmpp = Xmpp::new(String::from("example.org"));
        let junk = alloc::vec![b'a'; 8192];
        let replies: Vec<&[u8]> = core::iter::repeat_n(junk.as_slice(), 10).collect();
        let (_, result) = run(&mut xmpp, &replies);
        assert_eq!(result, Err(StarttlsFailure::TooLong { limit: MAX_TOTAL }));
    }
}
