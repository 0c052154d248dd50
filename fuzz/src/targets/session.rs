//! `session`: the pull session fed arbitrary server bytes after its ClientHello, in arbitrary
//! chunkings, in deterministic mode (see [`crate::det`]).
//!
//! # Input
//! `[flags][n][n × u16 LE chunk sizes][server bytes…]`. The chunk sizes are used in turn, over
//! and over (n = 0: everything at once); a size of 0 means "advance without feeding". Once the
//! bytes run out the session is told end of stream. Flags:
//! - bits 0–1, trust: 0 verify against both fixed roots, 1 capture only (with roots), 2 capture
//!   only (no roots), 3 verify against the ECDSA PKI's root only;
//! - bits 2–3, time: 0 [`VALID_NOW`], 1 2024-06-01 (before the leaves), 2 2100-06-01 (after
//!   everything), 3 the epoch;
//! - bits 4–5, `max_chain_certs`: 10, 1, 2, 3;
//! - bit 6, `max_chain_bytes`: 64 KiB, or 1500;
//! - bit 7, `max_buffered`: 16 KiB, or 1 KiB.
//!
//! None of the flags changes the ClientHello, so a flight recorded with flags 0 replays under
//! every flag.
//!
//! # Properties
//! - never panics (rustls' debug assertions are on in fuzz builds: the unbuffered API's sharp
//!   edges panic there);
//! - the ClientHello is byte-identical on every run (deterministic mode holds);
//! - everything the session asks to send is well-formed TLS records;
//! - buffering: `receive_capacity` never exceeds `max_buffered`, falls by exactly what was fed,
//!   the session's buffer never holds more than `max_buffered`, and feeding more than the
//!   capacity fails with `BufferLimit { limit: max_buffered }`;
//! - after end of stream, `advance` never asks for input again;
//! - on an error, the output of that call ends with at most one alert record (nothing after it);
//!   every later `advance` and `feed` returns the same error and no output appears after it;
//! - on completion: a non-empty chain within the limits, `Valid` under enforced verification,
//!   `NotChecked` without roots; later calls return `Finished` and produce no output;
//! - errors agree with the configuration: no `Rejected` in capture-only mode, `ChainTooLarge`
//!   only past a limit, never `Config` or `Finished` as a first error; every error displays.

use std::sync::{Arc, OnceLock};

use certpull_core::rustls::RootCertStore;
use certpull_core::{
    FixedTime, Limits, PullConfig, PullError, PullOutcome, PullSession, Status, Trust,
    ValidationFailure, Verdict,
};

use crate::det;
use crate::pki::{self, LeafKind, Pki, VALID_NOW};

/// Most steps before the harness gives up feeding and signals end of stream.
const MAX_STEPS: usize = 4096;
/// TLS's record payload limit plus the most any expansion adds.
const MAX_RECORD: usize = 16384 + 2048;

/// What [`Plan::feed_next`] did.
pub(crate) enum Fed {
    /// End of stream.
    Eof,
    /// This many bytes were taken.
    Bytes(usize),
    /// The piece was over the session's capacity and refused, as it must be.
    Refused(PullError),
}

/// A parsed fuzzer input.
#[derive(Debug)]
pub struct Plan<'a> {
    /// See the module docs.
    pub flags: u8,
    /// Chunk sizes, cycled.
    pub chunks: Vec<usize>,
    /// What the server sends.
    pub data: &'a [u8],
}

impl<'a> Plan<'a> {
    /// Reads the input format of the module docs; short inputs are padded with defaults.
    pub fn parse(input: &'a [u8]) -> Self {
        let (flags, rest) = input.split_first().map_or((0, input), |(f, r)| (*f, r));
        let (count, mut rest) = rest.split_first().map_or((0, rest), |(n, r)| (*n, r));
        let mut chunks = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            match rest {
                [lo, hi, tail @ ..] => {
                    chunks.push(usize::from(u16::from_le_bytes([*lo, *hi])));
                    rest = tail;
                }
                _ => break,
            }
        }
        if chunks.is_empty() {
            chunks.push(usize::MAX);
        }
        Self {
            flags,
            chunks,
            data: rest,
        }
    }

    /// Feeds `session` the next piece of `rest` in this plan's chunking, or end of stream once
    /// `rest` is used up or after [`MAX_STEPS`], checking the capacity contract on the way: a
    /// piece within `receive_capacity` is taken and lowers it by its length; a larger one is
    /// refused with `BufferLimit`, and nothing is sent.
    pub(crate) fn feed_next(
        &self,
        session: &mut PullSession,
        rest: &mut &'a [u8],
        step: usize,
        max_buffered: usize,
    ) -> Fed {
        check_buffered(session, max_buffered);
        let capacity = session.receive_capacity();
        assert!(capacity <= max_buffered, "capacity over the limit");
        if rest.is_empty() || step >= MAX_STEPS {
            session.feed_eof();
            return Fed::Eof;
        }
        let size = self.chunks[step % self.chunks.len()];
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        *rest = tail;
        let result = session.feed(chunk);
        if chunk.len() > capacity {
            let error = result.expect_err("feed beyond receive_capacity succeeded");
            assert_eq!(
                error,
                PullError::BufferLimit {
                    limit: max_buffered
                }
            );
            assert!(
                session.take_output().is_empty(),
                "output after a refused feed"
            );
            return Fed::Refused(error);
        }
        result.unwrap_or_else(|e| panic!("feed within capacity failed: {e:?}"));
        assert_eq!(
            session.receive_capacity(),
            capacity - chunk.len(),
            "capacity did not fall by what was fed"
        );
        Fed::Bytes(chunk.len())
    }

    /// Writes an input (for seeds).
    pub fn encode(flags: u8, chunks: &[u16], data: &[u8]) -> Vec<u8> {
        let mut out = vec![
            flags,
            u8::try_from(chunks.len()).expect("at most 255 chunks"),
        ];
        for chunk in chunks {
            out.extend_from_slice(&chunk.to_le_bytes());
        }
        out.extend_from_slice(data);
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrustKind {
    Verify,
    CaptureWithRoots,
    CaptureBare,
    VerifyEcdsaRootOnly,
}

/// The configuration the flags select.
pub fn config(flags: u8) -> (PullConfig, u64) {
    let (config, now, _) = config_and_kind(flags);
    (config, now)
}

fn config_and_kind(flags: u8) -> (PullConfig, u64, TrustKind) {
    let kind = match flags & 3 {
        0 => TrustKind::Verify,
        1 => TrustKind::CaptureWithRoots,
        2 => TrustKind::CaptureBare,
        _ => TrustKind::VerifyEcdsaRootOnly,
    };
    let trust = match kind {
        TrustKind::Verify => Trust::Verify(pki::roots()),
        TrustKind::CaptureWithRoots => Trust::CaptureOnly(Some(pki::roots())),
        TrustKind::CaptureBare => Trust::CaptureOnly(None),
        TrustKind::VerifyEcdsaRootOnly => Trust::Verify(ecdsa_root_only()),
    };
    let now = match (flags >> 2) & 3 {
        0 => VALID_NOW,
        1 => 1_717_200_000, // 2024-06-01
        2 => 4_115_491_200, // 2100-06-01
        _ => 0,
    };
    let limits = Limits {
        max_buffered: if flags & 0x80 == 0 { 16 * 1024 } else { 1024 },
        max_chain_certs: [10, 1, 2, 3][usize::from((flags >> 4) & 3)],
        max_chain_bytes: if flags & 0x40 == 0 { 64 * 1024 } else { 1500 },
    };
    let mut config = PullConfig::new(pki::server_name(), trust);
    config.limits = limits;
    (config, now, kind)
}

fn ecdsa_root_only() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            store
                .add(Pki::get(LeafKind::EcdsaP256).root.clone())
                .expect("root");
            Arc::new(store)
        })
        .clone()
}

/// A new session in deterministic mode (the randomness stream restarts from [`det::SEED`]).
pub fn new_session(config: &PullConfig, now: u64) -> PullSession {
    det::reset(det::SEED);
    PullSession::new(
        config,
        det::provider(),
        Arc::new(FixedTime::from_unix_seconds(now)),
    )
    .expect("the fuzz configurations are valid")
}

/// How a run ended (for the seeds example and the corpus test).
#[derive(Debug)]
pub enum End {
    /// The pull completed.
    Complete(PullOutcome),
    /// The pull failed.
    Failed(PullError),
}

pub fn run(input: &[u8]) {
    let _ = drive(input);
}

/// Runs one input, asserting every property; returns how it ended.
pub fn drive(input: &[u8]) -> End {
    let plan = Plan::parse(input);
    let (config, now, kind) = config_and_kind(plan.flags);
    let limits = config.limits;
    let mut session = new_session(&config, now);

    let first = session.advance();
    let hello = session.take_output();
    assert!(
        matches!(first, Ok(Status::NeedsInput)),
        "first advance: {first:?}"
    );
    check_client_hello(&hello);

    let mut data = plan.data;
    let mut eof = false;
    for step in 0.. {
        match plan.feed_next(&mut session, &mut data, step, limits.max_buffered) {
            Fed::Eof => eof = true,
            Fed::Bytes(_) => {}
            Fed::Refused(error) => return after_error(session, error, kind, &limits),
        }

        let status = session.advance();
        let output = session.take_output();
        match status {
            Ok(Status::NeedsInput) => {
                assert!(!eof, "advance asked for input after end of stream");
                check_records(&output);
            }
            Ok(Status::Complete(outcome)) => {
                check_records(&output);
                check_outcome(&outcome, kind, &limits);
                for _ in 0..2 {
                    assert_eq!(session.advance().err(), Some(PullError::Finished));
                    assert_eq!(
                        session.feed(b"\x15\x03\x03").err(),
                        Some(PullError::Finished)
                    );
                    assert!(session.take_output().is_empty(), "output after completion");
                }
                return End::Complete(outcome);
            }
            Err(error) => {
                check_error_output(&output);
                return after_error(session, error, kind, &limits);
            }
        }
    }
    unreachable!()
}

/// The ClientHello: well-formed, a handshake record, and the same on every run.
fn check_client_hello(hello: &[u8]) {
    let records = check_records(hello);
    assert_eq!(records.first().map(|r| r.0), Some(0x16), "no ClientHello");
    static FIRST: OnceLock<Vec<u8>> = OnceLock::new();
    let first = FIRST.get_or_init(|| hello.to_vec());
    assert!(
        first == hello,
        "ClientHello differs between runs: not deterministic"
    );
}

/// Splits output into records (type, payload length), asserting they are well-formed.
fn check_records(output: &[u8]) -> Vec<(u8, usize)> {
    let mut records = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        let [content_type, major, _minor, hi, lo, ..] = *rest else {
            panic!("truncated record header in output: {rest:02x?}");
        };
        assert!(
            (0x14..=0x17).contains(&content_type),
            "bad content type {content_type:#x}"
        );
        assert_eq!(major, 3, "bad record version");
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        assert!(len <= MAX_RECORD, "record of {len} bytes");
        assert!(rest.len() >= 5 + len, "truncated record in output");
        records.push((content_type, len));
        rest = &rest[5 + len..];
    }
    records
}

/// An alert is a plaintext (or TLS 1.2 encrypted) alert record, or a TLS 1.3 encrypted record
/// of exactly an alert's size (2 bytes + inner type + 16-byte tag).
fn is_alert(record: &(u8, usize)) -> bool {
    matches!(record, (0x15, _) | (0x17, 19))
}

fn check_error_output(output: &[u8]) {
    let records = check_records(output);
    let alerts: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| is_alert(r))
        .map(|(i, _)| i)
        .collect();
    assert!(
        alerts.len() <= 1,
        "more than one alert after an error: {records:?}"
    );
    if let Some(&index) = alerts.first() {
        assert_eq!(
            index + 1,
            records.len(),
            "output after the alert: {records:?}"
        );
    }
}

/// The session's own count of buffered bytes, from its `Debug` (the only place it shows).
pub(crate) fn buffered(session: &PullSession) -> usize {
    let text = format!("{session:?}");
    text.split("buffered: ")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .expect("the session's Debug shows `buffered`")
}

/// The session buffers at most `max` bytes, and its capacity is what is left.
pub(crate) fn check_buffered(session: &PullSession, max: usize) {
    let held = buffered(session);
    assert!(held <= max, "session buffers {held} > {max} bytes");
    assert_eq!(session.receive_capacity(), max - held);
}

fn check_outcome(outcome: &PullOutcome, kind: TrustKind, limits: &Limits) {
    assert!(!outcome.chain.is_empty(), "completed with an empty chain");
    assert!(outcome.chain.len() <= limits.max_chain_certs);
    let bytes: usize = outcome.chain.iter().map(|der| der.len()).sum();
    assert!(bytes <= limits.max_chain_bytes);
    match kind {
        TrustKind::Verify | TrustKind::VerifyEcdsaRootOnly => {
            assert_eq!(outcome.verdict, Verdict::Valid, "enforced, yet not valid")
        }
        TrustKind::CaptureBare => assert_eq!(outcome.verdict, Verdict::NotChecked),
        TrustKind::CaptureWithRoots => {
            assert_ne!(
                outcome.verdict,
                Verdict::NotChecked,
                "roots, yet not checked"
            )
        }
    }
    let _ = outcome.protocol_name();
    let _ = outcome.cipher_suite_name();
    let _ = certpull_core::CertSummary::parse_chain(&outcome.chain);
}

fn after_error(
    mut session: PullSession,
    error: PullError,
    kind: TrustKind,
    limits: &Limits,
) -> End {
    match &error {
        PullError::Rejected(rejected) => {
            // Capture-only mode judges no chain, but the handshake signature is always
            // checked: a leaf that cannot be parsed, or that did not make the signature, still
            // ends the pull (and the chain is reported).
            let signature_failure = matches!(
                rejected.failure,
                ValidationFailure::BadEncoding
                    | ValidationFailure::BadSignature
                    | ValidationFailure::UnsupportedSignatureAlgorithm
                    | ValidationFailure::Other(_)
            );
            assert!(
                matches!(kind, TrustKind::Verify | TrustKind::VerifyEcdsaRootOnly)
                    || signature_failure,
                "chain rejected in capture-only mode for its validation: {error:?}"
            );
            assert!(!rejected.chain.is_empty());
            let _ = rejected.failure.code();
        }
        PullError::ChainTooLarge { certs, bytes } => assert!(
            *certs > limits.max_chain_certs || *bytes > limits.max_chain_bytes,
            "ChainTooLarge within the limits"
        ),
        PullError::BufferLimit { limit } => assert_eq!(*limit, limits.max_buffered),
        PullError::NotTls { preview } => assert!(preview.len() <= 48),
        PullError::Config(_) | PullError::Finished => panic!("unexpected first error {error:?}"),
        _ => {}
    }
    assert!(!error.to_string().is_empty());
    let _ = error.code();

    for _ in 0..2 {
        match session.advance() {
            Err(again) => assert_eq!(again, error, "advance after an error changed the error"),
            Ok(status) => panic!("advance after an error returned {status:?}"),
        }
        assert!(
            session.take_output().is_empty(),
            "output after the error's alert"
        );
        assert_eq!(
            session.feed(b"\x16\x03\x03\x00\x01\x00").err().as_ref(),
            Some(&error),
            "feed after an error"
        );
        assert!(
            session.take_output().is_empty(),
            "output after the error's alert"
        );
        session.feed_eof();
    }
    End::Failed(error)
}
