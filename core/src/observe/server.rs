//! The server direction: the ServerHello and, up to TLS 1.2, the Certificate message.

use alloc::vec::Vec;

use rustls_pki_types::CertificateDer;

use super::framer::{Flow, Framer, Item};
use super::{
    parse_certificate, parse_server_hello, ObserveError, ObserveLimits, Progress, ServerHello,
    State, APPLICATION_DATA, CERTIFICATE, CHANGE_CIPHER_SPEC, SERVER_HELLO, TLS1_3,
};

/// What the server's bytes told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFlight {
    /// The ServerHello.
    pub hello: ServerHello,
    /// The chain of the Certificate message, leaf first: `None` under TLS 1.3 (encrypted) and
    /// when the server sent none (a resumed session, an anonymous or PSK suite).
    pub certificates: Option<Vec<CertificateDer<'static>>>,
}

#[derive(Debug)]
enum ServerStep {
    AwaitHello,
    AwaitCertificate(ServerHello),
}

/// Watches the server's bytes for its ServerHello and, up to TLS 1.2, its Certificate.
#[derive(Debug)]
pub struct ServerObserver {
    framer: Framer,
    step: ServerStep,
    state: State<ServerFlight>,
}

impl Default for ServerObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerObserver {
    /// An observer with the default limits.
    pub fn new() -> Self {
        Self::with_limits(ObserveLimits::default())
    }

    /// An observer with the given limits.
    pub fn with_limits(limits: ObserveLimits) -> Self {
        Self {
            framer: Framer::new(limits),
            step: ServerStep::AwaitHello,
            state: State::Reading,
        }
    }

    /// Reads the next bytes the server sent. Once complete or failed, bytes are ignored and
    /// the same answer is given again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ObserveError> {
        if let Some(answer) = self.state.repeated() {
            return answer;
        }
        let limits = self.framer.limits;
        let step = &mut self.step;
        let mut done = None;
        let result = self.framer.feed(data, &mut |item| {
            server_item(item, step, &limits, &mut done)
        });
        self.state.settle(&mut self.framer, result, done)
    }

    /// The ServerHello, as soon as it is read (before the flight is complete).
    pub fn server_hello(&self) -> Option<&ServerHello> {
        match (&self.state, &self.step) {
            (State::Complete(flight), _) => Some(&flight.hello),
            (_, ServerStep::AwaitCertificate(hello)) => Some(hello),
            _ => None,
        }
    }

    /// What was observed, once complete.
    pub fn flight(&self) -> Option<&ServerFlight> {
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

fn server_item(
    item: Item<'_>,
    step: &mut ServerStep,
    limits: &ObserveLimits,
    done: &mut Option<ServerFlight>,
) -> Result<Flow, ObserveError> {
    let finish = |done: &mut Option<ServerFlight>, hello, certificates| {
        *done = Some(ServerFlight {
            hello,
            certificates,
        });
        Ok(Flow::Stop)
    };
    match (item, &*step) {
        (Item::Alert { level, description }, _) => Err(ObserveError::Alert { level, description }),
        (
            Item::Handshake {
                kind: SERVER_HELLO,
                body,
            },
            ServerStep::AwaitHello,
        ) => {
            let hello = parse_server_hello(body)?;
            if hello.version >= TLS1_3 {
                // Everything after a TLS 1.3 ServerHello (or HelloRetryRequest) is encrypted,
                // or another hello of the same version.
                finish(done, hello, None)
            } else {
                *step = ServerStep::AwaitCertificate(hello);
                Ok(Flow::Continue)
            }
        }
        (Item::Handshake { kind, .. }, ServerStep::AwaitHello) => {
            Err(ObserveError::UnexpectedMessage {
                handshake_type: kind,
            })
        }
        (Item::ChangeCipherSpec, ServerStep::AwaitHello) => Err(ObserveError::UnexpectedRecord {
            content_type: CHANGE_CIPHER_SPEC,
        }),
        (Item::ApplicationData, ServerStep::AwaitHello) => Err(ObserveError::UnexpectedRecord {
            content_type: APPLICATION_DATA,
        }),
        (
            Item::Handshake {
                kind: CERTIFICATE,
                body,
            },
            ServerStep::AwaitCertificate(hello),
        ) => {
            let chain = parse_certificate(body, limits)?;
            finish(done, *hello, Some(chain))
        }
        // Anything else after a TLS ≤ 1.2 ServerHello means no Certificate is coming: a
        // resumed session (NewSessionTicket or ChangeCipherSpec), an anonymous or PSK key
        // exchange (ServerKeyExchange, ServerHelloDone).
        (_, ServerStep::AwaitCertificate(hello)) => finish(done, *hello, None),
    }
}
