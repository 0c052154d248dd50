//! The capturing verifier: records the chain exactly as the server sent it (so that a refusal can
//! still report it), judges it with rustls' WebPKI verifier, and always checks the handshake
//! signature against the leaf.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::ValidationFailure;
use crate::limits::Limits;
use crate::verdict_cache::VerdictCache;

/// The judgement of a chain against the trust anchors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The chain leads to a trusted root, names the server and is within its dates.
    Valid,
    /// The chain fails validation (reported, and fatal unless in capture-only mode).
    Invalid(ValidationFailure),
    /// Capture-only mode without trust anchors: nothing was judged.
    NotChecked,
}

impl Verdict {
    /// A short stable name: `valid`, `not-checked`, or the failure's code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid(failure) => failure.code(),
            Self::NotChecked => "not-checked",
        }
    }
}

/// What the verifier saw, shared with the session that owns it.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub(crate) chain: Option<Vec<CertificateDer<'static>>>,
    pub(crate) verdict: Option<Verdict>,
    /// Set when the chain was over the limits: (certificates, bytes).
    pub(crate) oversized: Option<(usize, usize)>,
    /// Whether the verifier itself ended the handshake over the verdict (enforcing mode). When
    /// not, a later certificate error came from the handshake signature check instead.
    pub(crate) refused: bool,
}

#[derive(Debug)]
pub(crate) struct CapturingVerifier {
    /// The WebPKI judge; `None` in capture-only mode without anchors.
    judge: Option<Arc<WebPkiServerVerifier>>,
    /// Whether an invalid chain aborts the handshake.
    enforce: bool,
    /// Valid verdicts shared with other sessions (for the judge's own roots only).
    cache: Option<Arc<VerdictCache>>,
    limits: Limits,
    algorithms: WebPkiSupportedAlgorithms,
    capture: Arc<spin::Mutex<Capture>>,
}

impl CapturingVerifier {
    pub(crate) fn new(
        judge: Option<Arc<WebPkiServerVerifier>>,
        enforce: bool,
        cache: Option<Arc<VerdictCache>>,
        limits: Limits,
        algorithms: WebPkiSupportedAlgorithms,
        capture: Arc<spin::Mutex<Capture>>,
    ) -> Self {
        Self {
            judge,
            enforce,
            cache,
            limits,
            algorithms,
            capture,
        }
    }
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let certs = intermediates.len().saturating_add(1);
        let bytes = intermediates
            .iter()
            .fold(end_entity.len(), |sum, der| sum.saturating_add(der.len()));
        if certs > self.limits.max_chain_certs || bytes > self.limits.max_chain_bytes {
            self.capture.lock().oversized = Some((certs, bytes));
            return Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }

        let mut chain = Vec::with_capacity(certs);
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|der| der.clone().into_owned()));

        let (verdict, refusal) = match &self.judge {
            None => (Verdict::NotChecked, None),
            Some(judge) => {
                let cached = self.cache.as_ref().map(|cache| {
                    let key = VerdictCache::key(server_name, now, end_entity, intermediates);
                    (cache, key)
                });
                let judged = match &cached {
                    Some((cache, key)) if cache.is_valid(key) => Ok(()),
                    _ => judge
                        .verify_server_cert(
                            end_entity,
                            intermediates,
                            server_name,
                            ocsp_response,
                            now,
                        )
                        .map(|_| ()),
                };
                match judged {
                    Ok(()) => {
                        if let Some((cache, key)) = cached {
                            cache.insert_valid(key);
                        }
                        (Verdict::Valid, None)
                    }
                    Err(Error::InvalidCertificate(error)) => (
                        Verdict::Invalid(ValidationFailure::from_rustls(&error)),
                        Some(Error::InvalidCertificate(error)),
                    ),
                    Err(other) => (
                        Verdict::Invalid(ValidationFailure::Other(format!("{other}"))),
                        Some(other),
                    ),
                }
            }
        };
        let refusal = refusal.filter(|_| self.enforce);
        {
            let mut capture = self.capture.lock();
            capture.chain = Some(chain);
            capture.verdict = Some(verdict);
            capture.refused = refusal.is_some();
        }
        match refusal {
            Some(error) => Err(error),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
