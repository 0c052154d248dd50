//! The client direction: the ClientHello.

use super::framer::{Flow, Framer, Item};
use super::{
    parse_client_hello, ClientHello, ObserveError, ObserveLimits, Progress, State,
    APPLICATION_DATA, CHANGE_CIPHER_SPEC, CLIENT_HELLO,
};

/// Watches the client's bytes for its ClientHello.
#[derive(Debug)]
pub struct ClientObserver {
    framer: Framer,
    state: State<ClientHello>,
}

impl Default for ClientObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientObserver {
    /// An observer with the default limits.
    pub fn new() -> Self {
        Self::with_limits(ObserveLimits::default())
    }

    /// An observer with the given limits.
    pub fn with_limits(limits: ObserveLimits) -> Self {
        Self {
            framer: Framer::new(limits),
            state: State::Reading,
        }
    }

    /// Reads the next bytes the client sent. Once complete or failed, bytes are ignored and
    /// the same answer is given again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ObserveError> {
        if let Some(answer) = self.state.repeated() {
            return answer;
        }
        let limits = self.framer.limits;
        let mut found = None;
        let result = self.framer.feed(data, &mut |item| match item {
            Item::Handshake {
                kind: CLIENT_HELLO,
                body,
            } => {
                found = Some(parse_client_hello(body, &limits)?);
                Ok(Flow::Stop)
            }
            Item::Handshake { kind, .. } => Err(ObserveError::UnexpectedMessage {
                handshake_type: kind,
            }),
            Item::Alert { level, description } => Err(ObserveError::Alert { level, description }),
            Item::ChangeCipherSpec => Err(ObserveError::UnexpectedRecord {
                content_type: CHANGE_CIPHER_SPEC,
            }),
            Item::ApplicationData => Err(ObserveError::UnexpectedRecord {
                content_type: APPLICATION_DATA,
            }),
        });
        self.state.settle(&mut self.framer, result, found)
    }

    /// The ClientHello, once complete.
    pub fn client_hello(&self) -> Option<&ClientHello> {
        self.state.complete()
    }

    /// The error the observer stopped on, if any.
    pub fn error(&self) -> Option<&ObserveError> {
        self.state.error()
    }

    /// Whether the observer reads no more (complete or failed).
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Bytes held for reassembly right now (buffer capacity included).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}
