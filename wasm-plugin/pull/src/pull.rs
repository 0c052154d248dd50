//! The safe core of the module: one pull, driven by the host through the C ABI.

use std::string::String;
use std::sync::{Arc, OnceLock};
use std::vec::Vec;

use certpull_core::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use certpull_core::rustls::crypto::{CryptoProvider, KeyProvider};
use certpull_core::rustls::sign::SigningKey;
use certpull_core::rustls::RootCertStore;
use certpull_core::{
    pem, CertSummary, FixedTime, LocalKey, Protocol, PullConfig, PullError, PullOutcome,
    PullSession, Status, Trust, ValidationFailure, Verdict,
};

use crate::json::Json;

/// `certpull_session_advance`: the handshake needs more bytes from the server.
pub const STATUS_NEEDS_INPUT: i32 = 0;
/// `certpull_session_advance`: the chain is in and judged.
pub const STATUS_COMPLETE: i32 = 1;

/// A bad argument: unknown or freed handle, invalid server name, unknown STARTTLS id, a
/// pointer the module cannot read.
pub const ERR_ARGUMENT: i32 = -1;
/// The chain was refused by validation (the verdict code tells why; the chain is kept).
pub const ERR_REJECTED: i32 = -2;
/// The TLS handshake failed (malformed message, alert, no common version or suite).
pub const ERR_TLS: i32 = -3;
/// The server closed the connection before the handshake completed.
pub const ERR_CLOSED: i32 = -4;
/// The server does not speak TLS.
pub const ERR_NOT_TLS: i32 = -5;
/// The STARTTLS preamble failed.
pub const ERR_STARTTLS: i32 = -6;
/// A limit was hit: too many buffered bytes, an oversized chain, too many sessions.
pub const ERR_LIMIT: i32 = -7;
/// The configuration was refused (trust anchors PEM unusable).
pub const ERR_CONFIG: i32 = -8;
/// The session already returned its outcome or its error.
pub const ERR_FINISHED: i32 = -9;

/// Verdict codes of `certpull_session_verdict`.
pub const VERDICT_NONE: i32 = -1;
/// The chain leads to a trusted root, names the server and is within its dates.
pub const VERDICT_VALID: i32 = 0;
/// Capture-only without anchors: nothing judged.
pub const VERDICT_NOT_CHECKED: i32 = 1;

/// Session option bit: with trust anchors, compute the verdict but never fail on it (like the
/// command line's `--insecure --ca-file`).
pub const FLAG_CAPTURE_ONLY: u32 = 1;

/// The provider every session shares: rustls-rustcrypto's cipher suites, key exchanges and
/// signature verification, randomness through getrandom (the host import on wasm32).
///
/// A pull never loads a private key, so the key provider is one that refuses every key. (The
/// signing code still ships: `rustls_rustcrypto::provider()` is the only way to its key
/// exchanges and verification algorithms, and it stores its own key provider, which keeps
/// about 57 KB of key parsing and RSA private-key code reachable; measured with twiggy.)
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            Arc::new(CryptoProvider {
                key_provider: &NoKeys,
                ..rustls_rustcrypto::provider()
            })
        })
        .clone()
}

/// A key provider without keys: the module only verifies.
#[derive(Debug)]
struct NoKeys;

impl KeyProvider for NoKeys {
    fn load_private_key(
        &self,
        _key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, certpull_core::rustls::Error> {
        Err(certpull_core::rustls::Error::General(
            "certpull.wasm loads no private keys".into(),
        ))
    }
}

/// The STARTTLS protocol of an ABI id: 0 none, then 1 smtp, 2 lmtp, 3 imap, 4 pop3, 5 ftp,
/// 6 xmpp, 7 ldap, 8 postgres, 9 mysql.
pub fn starttls_protocol(id: u32) -> Result<Option<Protocol>, i32> {
    if id == 0 {
        return Ok(None);
    }
    let index = usize::try_from(id.saturating_sub(1)).map_err(|_| ERR_ARGUMENT)?;
    Protocol::ALL
        .get(index)
        .copied()
        .map(Some)
        .ok_or(ERR_ARGUMENT)
}

/// The number of a validation failure in `certpull_session_verdict`.
pub fn failure_code(failure: &ValidationFailure) -> i32 {
    match failure {
        ValidationFailure::UnknownIssuer => 2,
        ValidationFailure::NotValidForName { .. } => 3,
        ValidationFailure::Expired { .. } => 4,
        ValidationFailure::NotYetValid { .. } => 5,
        ValidationFailure::BadSignature => 6,
        ValidationFailure::UnsupportedSignatureAlgorithm => 7,
        ValidationFailure::InvalidPurpose => 8,
        ValidationFailure::BadEncoding => 9,
        ValidationFailure::UnhandledCriticalExtension => 10,
        _ => 11,
    }
}

fn verdict_code(verdict: &Verdict) -> i32 {
    match verdict {
        Verdict::Valid => VERDICT_VALID,
        Verdict::NotChecked => VERDICT_NOT_CHECKED,
        Verdict::Invalid(failure) => failure_code(failure),
    }
}

/// The status code of a failed pull.
pub fn error_status(error: &PullError) -> i32 {
    match error {
        PullError::Rejected(_) => ERR_REJECTED,
        PullError::ChainTooLarge { .. } | PullError::BufferLimit { .. } => ERR_LIMIT,
        PullError::NotTls { .. } => ERR_NOT_TLS,
        PullError::Starttls(_) => ERR_STARTTLS,
        PullError::PeerClosed { .. } => ERR_CLOSED,
        PullError::Config(_) => ERR_CONFIG,
        PullError::Finished => ERR_FINISHED,
        _ => ERR_TLS,
    }
}

/// One pull, as the host drives it.
pub struct Pull {
    name: String,
    now: u64,
    session: PullSession,
    outcome: Option<PullOutcome>,
    error: Option<PullError>,
}

impl std::fmt::Debug for Pull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pull")
            .field("name", &self.name)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Pull {
    /// Prepares a pull of `name`'s chain. Empty `anchors_pem`: capture only (nothing judged);
    /// else the chain is validated against these roots, and refused unless
    /// [`FLAG_CAPTURE_ONLY`] is set.
    pub fn new(
        name: &str,
        starttls: u32,
        anchors_pem: &[u8],
        now: u64,
        flags: u32,
    ) -> Result<Self, (i32, String)> {
        let server_name = ServerName::try_from(name)
            .map(|n| n.to_owned())
            .map_err(|e| (ERR_ARGUMENT, format!("invalid server name {name:?}: {e}")))?;
        let protocol = starttls_protocol(starttls)
            .map_err(|code| (code, format!("unknown STARTTLS protocol id {starttls}")))?;
        let roots = if anchors_pem.is_empty() {
            None
        } else {
            let certs = pem::decode_certificates(anchors_pem)
                .map_err(|e| (ERR_CONFIG, format!("trust anchors: {e}")))?;
            let mut store = RootCertStore::empty();
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|e| (ERR_CONFIG, format!("trust anchor refused: {e}")))?;
            }
            Some(Arc::new(store))
        };
        let trust = match roots {
            Some(roots) if flags & FLAG_CAPTURE_ONLY == 0 => Trust::Verify(roots),
            roots => Trust::CaptureOnly(roots),
        };
        let config = PullConfig::new(server_name, trust).with_starttls(protocol);
        let session = PullSession::new(
            &config,
            provider(),
            Arc::new(FixedTime::from_unix_seconds(now)),
        )
        .map_err(|e| (error_status(&e), e.to_string()))?;
        Ok(Self {
            name: name.into(),
            now,
            session,
            outcome: None,
            error: None,
        })
    }

    /// Hands over bytes received from the server.
    pub fn feed(&mut self, data: &[u8]) -> i32 {
        match self.session.feed(data) {
            Ok(()) => 0,
            Err(error) => self.failed(error),
        }
    }

    /// Records that the server closed its side.
    pub fn feed_eof(&mut self) {
        self.session.feed_eof();
    }

    /// How many bytes [`feed`](Self::feed) accepts now.
    pub fn receive_capacity(&self) -> usize {
        self.session.receive_capacity()
    }

    /// Runs the handshake as far as the bytes allow.
    pub fn advance(&mut self) -> i32 {
        if let Some(error) = &self.error {
            return error_status(error);
        }
        if self.outcome.is_some() {
            return ERR_FINISHED;
        }
        match self.session.advance() {
            Ok(Status::NeedsInput) => STATUS_NEEDS_INPUT,
            Ok(Status::Complete(outcome)) => {
                self.outcome = Some(outcome);
                STATUS_COMPLETE
            }
            Err(error) => self.failed(error),
        }
    }

    fn failed(&mut self, error: PullError) -> i32 {
        let code = error_status(&error);
        if self.error.is_none() {
            self.error = Some(error);
        }
        code
    }

    /// Bytes waiting to be sent to the server.
    pub fn pending_output(&self) -> &[u8] {
        self.session.pending_output()
    }

    /// Copies pending output into `out` and marks it sent; returns the count.
    pub fn take_output(&mut self, out: &mut [u8]) -> usize {
        let pending = self.session.pending_output();
        let count = pending.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..count), pending.get(..count)) {
            dst.copy_from_slice(src);
        }
        self.session.consume_output(count);
        count
    }

    /// The chain the server sent, if known: after completion, or after a refusal.
    pub fn chain(&self) -> Option<&[CertificateDer<'static>]> {
        match (&self.outcome, &self.error) {
            (Some(outcome), _) => Some(&outcome.chain),
            (None, Some(PullError::Rejected(rejected))) => Some(&rejected.chain),
            _ => None,
        }
    }

    /// The chain as PEM, leaf first (empty when unknown).
    pub fn chain_pem(&self) -> String {
        self.chain().map(pem::encode_chain).unwrap_or_default()
    }

    /// The verdict code ([`VERDICT_NONE`] until a chain was judged).
    pub fn verdict(&self) -> i32 {
        match (&self.outcome, &self.error) {
            (Some(outcome), _) => verdict_code(&outcome.verdict),
            (None, Some(PullError::Rejected(rejected))) => failure_code(&rejected.failure),
            _ => VERDICT_NONE,
        }
    }

    /// The error's text (empty without an error).
    pub fn error_text(&self) -> String {
        self.error
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    /// The outcome, as JSON (see the README for the fields).
    pub fn summary_json(&self) -> String {
        let mut json = Json::object();
        json.string("name", &self.name);
        match &self.outcome {
            Some(outcome) => {
                json.string("protocol_version", outcome.protocol_name());
                json.string("cipher_suite", outcome.cipher_suite_name());
                json.string("verdict", outcome.verdict.code());
                if let Verdict::Invalid(failure) = &outcome.verdict {
                    json.string("verdict_detail", &failure.to_string());
                }
            }
            None => {
                json.null("protocol_version");
                json.null("cipher_suite");
                match &self.error {
                    Some(PullError::Rejected(rejected)) => {
                        json.string("verdict", rejected.failure.code());
                        json.string("verdict_detail", &rejected.failure.to_string());
                    }
                    _ => json.null("verdict"),
                }
            }
        }
        match &self.error {
            Some(error) => {
                let mut inner = Json::object();
                inner.string("code", error.code());
                inner.string("message", &error.to_string());
                json.raw("error", &inner.finish());
            }
            None => json.null("error"),
        }
        let chain = self.chain().unwrap_or_default();
        let mut items = Vec::with_capacity(chain.len());
        match CertSummary::parse_chain(chain) {
            Ok(summaries) => {
                for (summary, der) in summaries.iter().zip(chain) {
                    items.push(cert_json(summary, der, self.now));
                }
            }
            Err(error) => json.string("chain_error", &error.to_string()),
        }
        json.raw("chain", &crate::json::array(&items));
        json.finish()
    }
}

fn cert_json(summary: &CertSummary, der: &CertificateDer<'_>, now: u64) -> String {
    let mut json = Json::object();
    json.string("subject", &summary.subject);
    json.string("issuer", &summary.issuer);
    json.strings("dns_names", summary.dns_names.iter().map(String::as_str));
    let ips: Vec<String> = summary
        .ip_addresses
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    json.strings("ip_addresses", ips.iter().map(String::as_str));
    json.string("serial", &summary.serial);
    json.string("not_before", &summary.not_before_text);
    json.string("not_after", &summary.not_after_text);
    json.number("days_left", summary.days_left(now));
    json.string("sha256", &certpull_core::hex::encode(&summary.sha256));
    json.string(
        "spki_sha256",
        &certpull_core::hex::encode(&summary.spki_sha256),
    );
    json.boolean("is_ca", summary.is_ca);
    json.string("pem", &pem::encode_certificate(der));
    json.finish()
}

/// Whether the leaf (DER certificate) carries the public key `spki` (DER
/// SubjectPublicKeyInfo): 1 yes, 0 no, [`ERR_ARGUMENT`] if the leaf cannot be parsed.
pub fn keymatch(leaf: &[u8], spki: &[u8]) -> i32 {
    match CertSummary::parse(leaf) {
        Ok(summary) => i32::from(LocalKey::from_spki(spki).matches(&summary)),
        Err(_) => ERR_ARGUMENT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_ids_follow_the_documented_order() {
        assert_eq!(starttls_protocol(0), Ok(None));
        assert_eq!(starttls_protocol(1), Ok(Some(Protocol::Smtp)));
        assert_eq!(starttls_protocol(8), Ok(Some(Protocol::Postgres)));
        assert_eq!(starttls_protocol(9), Ok(Some(Protocol::Mysql)));
        assert_eq!(starttls_protocol(10), Err(ERR_ARGUMENT));
    }

    #[test]
    fn bad_arguments_are_refused_with_their_code() {
        let error = Pull::new("not a name!", 0, b"", 0, 0).unwrap_err();
        assert_eq!(error.0, ERR_ARGUMENT);
        assert_eq!(
            Pull::new("a.example", 99, b"", 0, 0).unwrap_err().0,
            ERR_ARGUMENT
        );
        let error = Pull::new("a.example", 0, b"no pem here", 0, 0).unwrap_err();
        assert_eq!(error.0, ERR_CONFIG, "{}", error.1);
    }

    #[test]
    fn a_new_session_says_hello_and_then_needs_input() {
        let mut pull = Pull::new("a.example", 0, b"", 1_700_000_000, 0).unwrap();
        assert_eq!(pull.advance(), STATUS_NEEDS_INPUT);
        let mut out = vec![0; 4096];
        let n = pull.take_output(&mut out);
        assert!(n > 100, "a ClientHello");
        assert_eq!(out[0], 0x16);
        assert_eq!(pull.take_output(&mut out), 0);
        assert_eq!(pull.verdict(), VERDICT_NONE);
        pull.feed_eof();
        assert_eq!(pull.advance(), ERR_CLOSED);
        assert!(
            pull.error_text().contains("closed"),
            "{}",
            pull.error_text()
        );
        let json = pull.summary_json();
        assert!(json.contains("\"error\":{\"code\":\"closed\""), "{json}");
        assert!(json.ends_with("\"chain\":[]}"), "{json}");
    }

    #[test]
    fn keymatch_compares_the_leaf_key() {
        // A self-signed Ed25519 certificate and its SubjectPublicKeyInfo, made with openssl.
        let der = pem::decode_certificates(include_bytes!("../testdata/leaf.pem"))
            .unwrap()
            .remove(0);
        let spki = include_bytes!("../testdata/leaf.spki.der");
        assert_eq!(keymatch(&der, spki), 1);
        assert_eq!(keymatch(&der, b"other key"), 0);
        assert_eq!(keymatch(b"not a certificate", spki), ERR_ARGUMENT);
    }
}
