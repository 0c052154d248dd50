//! The sans-IO pull session: a TLS client handshake that ends as soon as the server's chain is
//! known and judged.
//!
//! The caller owns the I/O. The loop it runs is:
//!
//! 1. call [`PullSession::advance`];
//! 2. send every byte of [`PullSession::pending_output`] to the server, then
//!    [`PullSession::consume_output`] what was sent;
//! 3. on [`Status::NeedsInput`], read from the server and [`PullSession::feed`] the bytes (or
//!    [`PullSession::feed_eof`] at end of stream), then go to 1;
//! 4. on [`Status::Complete`], the outcome is there; the pending output then holds the client's
//!    last flight and a `close_notify`, which the caller SHOULD send before closing.
//!
//! After an error, the pending output MAY hold one TLS alert for the server; the caller SHOULD
//! send it and close. Every later call returns the same error.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use rustls::client::{Resumption, UnbufferedClientConnection, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::time_provider::TimeProvider;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::{CipherSuite, ClientConfig, Error, ProtocolVersion, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName};

use crate::error::{server_name_text, PullError, RejectedChain, ValidationFailure};
use crate::limits::Limits;
use crate::starttls::{Preamble, Progress, Protocol};
use crate::verdict_cache::VerdictCache;
use crate::verify::{Capture, CapturingVerifier, Verdict};

/// How much of the server's first bytes is kept to tell "not TLS" apart and to report it.
const PREVIEW_LEN: usize = 48;
/// First guess for the room one encoded handshake flight needs.
const ENCODE_ROOM: usize = 4096;

/// Which trust anchors judge the chain, and whether a failed judgement is fatal.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Validate against these roots and refuse an invalid chain.
    Verify(Arc<RootCertStore>),
    /// Capture whatever chain the server sends. With roots, the verdict is still computed and
    /// reported, but never fatal. For labs and for reporting only: the handshake signature is
    /// still checked, the chain's trust is not.
    CaptureOnly(Option<Arc<RootCertStore>>),
}

/// What to pull and how.
#[derive(Debug, Clone)]
pub struct PullConfig {
    /// The name sent as SNI and that the leaf must be valid for (a DNS name or an IP address).
    pub server_name: ServerName<'static>,
    /// Trust anchors and enforcement.
    pub trust: Trust,
    /// Bounds on buffering and on the chain.
    pub limits: Limits,
    /// A plaintext preamble to run before the handshake (`None`: TLS from the first byte).
    pub starttls: Option<Protocol>,
    /// Valid verdicts shared between the pulls of one run (see [`VerdictCache`]); used only
    /// when built for this configuration's very root store.
    pub verdict_cache: Option<Arc<VerdictCache>>,
}

impl PullConfig {
    /// A configuration with default limits.
    pub fn new(server_name: ServerName<'static>, trust: Trust) -> Self {
        Self {
            server_name,
            trust,
            limits: Limits::default(),
            starttls: None,
            verdict_cache: None,
        }
    }

    /// The same configuration, with a STARTTLS preamble.
    pub fn with_starttls(mut self, protocol: Option<Protocol>) -> Self {
        self.starttls = protocol;
        self
    }

    /// The same configuration, sharing `cache`'s valid verdicts (ignored unless the cache was
    /// built for this configuration's root store).
    pub fn with_verdict_cache(mut self, cache: Option<Arc<VerdictCache>>) -> Self {
        self.verdict_cache = cache;
        self
    }
}

/// A completed pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOutcome {
    /// The chain exactly as the server sent it, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The judgement of the chain (always [`Verdict::Valid`] under [`Trust::Verify`]).
    pub verdict: Verdict,
    /// The negotiated protocol version.
    pub protocol_version: ProtocolVersion,
    /// The negotiated cipher suite.
    pub cipher_suite: CipherSuite,
}

impl PullOutcome {
    /// The protocol version as usually written (`TLSv1.3`).
    pub fn protocol_name(&self) -> &'static str {
        match self.protocol_version {
            ProtocolVersion::TLSv1_3 => "TLSv1.3",
            ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "unknown",
        }
    }

    /// The cipher suite's IANA-style name (`TLS13_AES_256_GCM_SHA384`).
    pub fn cipher_suite_name(&self) -> &'static str {
        self.cipher_suite.as_str().unwrap_or("unknown")
    }
}

/// What the caller must do after [`PullSession::advance`].
#[must_use]
#[derive(Debug)]
pub enum Status {
    /// Send the pending output, then the session MUST be fed more bytes (or end of stream)
    /// before `advance` can make progress.
    NeedsInput,
    /// The chain has been received and judged. The session takes no more calls except for
    /// draining its pending output.
    Complete(PullOutcome),
}

#[derive(Debug)]
enum Phase {
    Handshaking,
    Finished,
    Failed(PullError),
}

enum Step {
    Continue,
    NeedsInput,
    Complete,
}

/// One pull: a client handshake with a server, ending with its judged chain.
pub struct PullSession {
    /// The STARTTLS dialogue while it runs; `None` once TLS has started.
    preamble: Option<Preamble>,
    conn: UnbufferedClientConnection,
    incoming: Vec<u8>,
    outgoing: Vec<u8>,
    capture: Arc<spin::Mutex<Capture>>,
    limits: Limits,
    phase: Phase,
    eof: bool,
    received: usize,
    preview: Vec<u8>,
}

impl core::fmt::Debug for PullSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PullSession")
            .field("phase", &self.phase)
            .field("buffered", &self.incoming.len())
            .field("pending_output", &self.outgoing.len())
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl PullSession {
    /// Prepares a pull. The ClientHello is produced by the first [`advance`](Self::advance).
    ///
    /// `provider` supplies the cryptography and randomness, `time` the current time: the core
    /// has neither of its own. Session resumption is disabled, since a resumed handshake carries
    /// no certificate.
    pub fn new(
        config: &PullConfig,
        provider: Arc<CryptoProvider>,
        time: Arc<dyn TimeProvider>,
    ) -> Result<Self, PullError> {
        let (roots, enforce) = match &config.trust {
            Trust::Verify(roots) => (Some(roots), true),
            Trust::CaptureOnly(roots) => (roots.as_ref(), false),
        };
        let judge = roots
            .map(|roots| {
                WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .map_err(|error| PullError::Config(format!("trust anchors: {error}")))
            })
            .transpose()?;
        let cache = match (roots, &config.verdict_cache) {
            (Some(roots), Some(cache)) if cache.serves(roots) => Some(cache.clone()),
            _ => None,
        };
        let capture = Arc::new(spin::Mutex::new(Capture::default()));
        let verifier = Arc::new(CapturingVerifier::new(
            judge,
            enforce,
            cache,
            config.limits,
            provider.signature_verification_algorithms,
            capture.clone(),
        ));
        let mut tls = ClientConfig::builder_with_details(provider, time)
            .with_safe_default_protocol_versions()
            .map_err(PullError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        tls.resumption = Resumption::disabled();
        let conn = UnbufferedClientConnection::new(Arc::new(tls), config.server_name.clone())
            .map_err(PullError::Tls)?;
        let domain = server_name_text(&config.server_name);
        Ok(Self {
            preamble: config
                .starttls
                .map(|protocol| Preamble::new(protocol, &domain)),
            conn,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            capture,
            limits: config.limits,
            phase: Phase::Handshaking,
            eof: false,
            received: 0,
            preview: Vec::new(),
        })
    }

    /// Bytes the caller MUST send to the server, in order, before waiting for input.
    pub fn pending_output(&self) -> &[u8] {
        &self.outgoing
    }

    /// Marks the first `sent` bytes of [`pending_output`](Self::pending_output) as sent.
    pub fn consume_output(&mut self, sent: usize) {
        self.outgoing.drain(..sent.min(self.outgoing.len()));
    }

    /// Takes all pending output at once (the caller then MUST send all of it).
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.outgoing)
    }

    /// How many more bytes [`feed`](Self::feed) accepts before the buffer limit.
    pub fn receive_capacity(&self) -> usize {
        self.limits.max_buffered.saturating_sub(self.incoming.len())
    }

    /// Total bytes received from the server so far.
    pub fn bytes_received(&self) -> usize {
        self.received
    }

    /// Appends bytes received from the server. More than
    /// [`receive_capacity`](Self::receive_capacity) at once ends the session with
    /// [`PullError::BufferLimit`].
    pub fn feed(&mut self, data: &[u8]) -> Result<(), PullError> {
        self.check_open()?;
        if data.len() > self.receive_capacity() {
            let limit = self.limits.max_buffered;
            return Err(self.fail(PullError::BufferLimit { limit }));
        }
        let room = PREVIEW_LEN.saturating_sub(self.preview.len());
        self.preview.extend(data.iter().take(room).copied());
        self.received = self.received.saturating_add(data.len());
        self.incoming.extend_from_slice(data);
        Ok(())
    }

    /// Records that the server closed its side: no more bytes will come.
    pub fn feed_eof(&mut self) {
        self.eof = true;
    }

    /// Runs the handshake as far as the bytes received so far allow.
    ///
    /// After it returns, the caller MUST send [`pending_output`](Self::pending_output) before
    /// anything else, whatever the result.
    pub fn advance(&mut self) -> Result<Status, PullError> {
        self.check_open()?;
        if let Some(preamble) = &mut self.preamble {
            match preamble.step(&mut self.incoming, &mut self.outgoing) {
                Ok(Progress::NeedsInput) if self.eof => {
                    let error = PullError::Starttls(preamble.closed());
                    return Err(self.fail(error));
                }
                Ok(Progress::NeedsInput) => return Ok(Status::NeedsInput),
                Ok(Progress::Proceed) => {
                    self.preamble = None;
                    // What follows the go-ahead is the server's first TLS bytes.
                    self.preview = self.incoming.iter().take(PREVIEW_LEN).copied().collect();
                }
                Err(error) => return Err(self.fail(PullError::Starttls(error))),
            }
        }
        loop {
            match self.step() {
                Ok(Step::Continue) => {}
                Ok(Step::NeedsInput) if self.eof => {
                    let error = self.closed_error();
                    return Err(self.fail(error));
                }
                Ok(Step::NeedsInput) => return Ok(Status::NeedsInput),
                Ok(Step::Complete) => {
                    let outcome = self.outcome();
                    return match outcome {
                        Ok(outcome) => {
                            self.phase = Phase::Finished;
                            Ok(Status::Complete(outcome))
                        }
                        Err(error) => Err(self.fail(error)),
                    };
                }
                Err(StepError::Tls(error)) => {
                    self.queue_alert();
                    let error = self.classify(error);
                    return Err(self.fail(error));
                }
                Err(StepError::Closed) => {
                    let error = self.closed_error();
                    return Err(self.fail(error));
                }
            }
        }
    }

    fn check_open(&self) -> Result<(), PullError> {
        match &self.phase {
            Phase::Handshaking => Ok(()),
            Phase::Finished => Err(PullError::Finished),
            Phase::Failed(error) => Err(error.clone()),
        }
    }

    fn fail(&mut self, error: PullError) -> PullError {
        self.phase = Phase::Failed(error.clone());
        error
    }

    /// One call into rustls, with its state handled and its discard applied before returning.
    fn step(&mut self) -> Result<Step, StepError> {
        let UnbufferedStatus { discard, state } = self.conn.process_tls_records(&mut self.incoming);
        let step = match state {
            Err(error) => Err(StepError::Tls(error)),
            Ok(ConnectionState::EncodeTlsData(mut data)) => {
                append_encoded(&mut self.outgoing, |buf| data.encode(buf), encode_room)
                    .map(|()| Step::Continue)
                    .map_err(|e| StepError::Tls(Error::General(format!("encoding: {e}"))))
            }
            Ok(ConnectionState::TransmitTlsData(data)) => {
                // The bytes are already queued for the caller, who is bound to send them.
                data.done();
                Ok(Step::Continue)
            }
            Ok(ConnectionState::BlockedHandshake) => Ok(Step::NeedsInput),
            Ok(ConnectionState::WriteTraffic(mut traffic)) => {
                // The handshake is complete: say goodbye politely so servers log no error.
                let _ = append_encoded(
                    &mut self.outgoing,
                    |buf| traffic.queue_close_notify(buf),
                    encrypt_room,
                );
                Ok(Step::Complete)
            }
            Ok(ConnectionState::ReadTraffic(mut traffic)) => loop {
                match traffic.next_record() {
                    None => break Ok(Step::Continue),
                    Some(Ok(_application_data)) => {}
                    Some(Err(error)) => break Err(StepError::Tls(error)),
                }
            },
            Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => Err(StepError::Closed),
            Ok(other) => Err(StepError::Tls(Error::General(format!(
                "unexpected connection state {other:?}"
            )))),
        };
        self.discard(discard);
        step
    }

    /// After an error rustls has usually queued an alert; exactly one more call yields it (or
    /// nothing, after a record-layer error). A second one would trip rustls' internal
    /// assertions, so none is made.
    fn queue_alert(&mut self) {
        let UnbufferedStatus { discard, state } = self.conn.process_tls_records(&mut self.incoming);
        if let Ok(ConnectionState::EncodeTlsData(mut data)) = state {
            let _ = append_encoded(&mut self.outgoing, |buf| data.encode(buf), encode_room);
        }
        self.discard(discard);
    }

    fn discard(&mut self, count: usize) {
        self.incoming.drain(..count.min(self.incoming.len()));
    }

    fn looks_like_tls(&self) -> bool {
        match self.preview.as_slice() {
            [] => true,
            [content_type] => (0x14..=0x18).contains(content_type),
            [content_type, major, ..] => (0x14..=0x18).contains(content_type) && *major == 3,
        }
    }

    fn closed_error(&self) -> PullError {
        if self.looks_like_tls() {
            PullError::PeerClosed {
                bytes_received: self.received,
            }
        } else {
            PullError::NotTls {
                preview: self.preview.clone(),
            }
        }
    }

    /// Turns a rustls error into the pull's own terms, using what the verifier captured.
    fn classify(&self, error: Error) -> PullError {
        let capture = self.capture.lock();
        if let Some((certs, bytes)) = capture.oversized {
            return PullError::ChainTooLarge { certs, bytes };
        }
        if let (Error::InvalidCertificate(cert_error), Some(chain)) = (&error, &capture.chain) {
            // The verdict's failure (with its context) when the verifier refused the chain;
            // otherwise the chain passed (or was only captured) and the handshake signature
            // check failed: a leaf that cannot be parsed or that did not sign.
            let failure = match &capture.verdict {
                Some(Verdict::Invalid(failure)) if capture.refused => failure.clone(),
                _ => ValidationFailure::from_rustls(cert_error),
            };
            return PullError::Rejected(alloc::boxed::Box::new(RejectedChain {
                failure,
                chain: chain.clone(),
            }));
        }
        if !self.looks_like_tls() {
            return PullError::NotTls {
                preview: self.preview.clone(),
            };
        }
        PullError::Tls(error)
    }

    fn outcome(&mut self) -> Result<PullOutcome, PullError> {
        let (chain, verdict) = {
            let mut capture = self.capture.lock();
            (capture.chain.take(), capture.verdict.take())
        };
        let no_certificate = || {
            PullError::Tls(Error::General(
                "handshake completed without a certificate".into(),
            ))
        };
        let chain = chain.ok_or_else(no_certificate)?;
        let protocol_version = self.conn.protocol_version().ok_or_else(no_certificate)?;
        let cipher_suite = self
            .conn
            .negotiated_cipher_suite()
            .ok_or_else(no_certificate)?
            .suite();
        Ok(PullOutcome {
            chain,
            verdict: verdict.unwrap_or(Verdict::NotChecked),
            protocol_version,
            cipher_suite,
        })
    }
}

enum StepError {
    Tls(Error),
    Closed,
}

fn encode_room(error: &EncodeError) -> Option<usize> {
    match error {
        EncodeError::InsufficientSize(size) => Some(size.required_size),
        _ => None,
    }
}

fn encrypt_room(error: &EncryptError) -> Option<usize> {
    match error {
        EncryptError::InsufficientSize(size) => Some(size.required_size),
        _ => None,
    }
}

/// Lets rustls write at the end of `out`, growing it once if rustls asks for more room.
fn append_encoded<E>(
    out: &mut Vec<u8>,
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, E>,
    required: impl Fn(&E) -> Option<usize>,
) -> Result<(), E> {
    let start = out.len();
    let mut room = ENCODE_ROOM;
    loop {
        out.resize(start.saturating_add(room), 0);
        let (_, tail) = out.split_at_mut(start);
        match encode(tail) {
            Ok(written) => {
                out.truncate(start.saturating_add(written));
                return Ok(());
            }
            Err(error) => match required(&error) {
                Some(size) if size > room => room = size,
                _ => {
                    out.truncate(start);
                    return Err(error);
                }
            },
        }
    }
}
