//! `key`: the local private key, read from arbitrary PEM or DER by ring, and the key match.
//!
//! Input: one mode byte (0: PEM text, 1: PKCS#8 DER, 2: SEC1 DER, 3: PKCS#1 DER), a 2-byte
//! little-endian length, that many key bytes, then a certificate (DER).
//!
//! Properties: a key that loads has a non-empty SubjectPublicKeyInfo whose SHA-256 is
//! `spki_sha256`, and `LocalKey::from_spki` of it is the same key; `matches` on any parsed
//! certificate never panics and agrees with the certificate's `spki_sha256`; errors display.

use certpull_core::{CertSummary, LocalKey};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

use super::{ring_provider, sha256};

/// Splits an input into (mode, key bytes, certificate bytes).
pub fn split(data: &[u8]) -> (u8, &[u8], &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return (0, &[], &[]);
    };
    let (len, rest) = match rest {
        [lo, hi, tail @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), tail),
        _ => (rest.len(), rest),
    };
    let (key, cert) = rest.split_at(len.min(rest.len()));
    (mode, key, cert)
}

/// The inverse of [`split`], for seeds.
pub fn join(mode: u8, key: &[u8], cert: &[u8]) -> Vec<u8> {
    let len = u16::try_from(key.len()).expect("key under 64 KiB");
    let mut out = vec![mode];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(cert);
    out
}

pub fn run(data: &[u8]) {
    let provider = ring_provider();
    let (mode, key, cert) = split(data);
    let loaded = match mode % 4 {
        0 => LocalKey::from_pem(key, &provider),
        1 => LocalKey::from_der(
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())),
            &provider,
        ),
        2 => LocalKey::from_der(
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(key.to_vec())),
            &provider,
        ),
        _ => LocalKey::from_der(
            PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(key.to_vec())),
            &provider,
        ),
    };
    match loaded {
        Ok(local) => {
            assert!(!local.spki().is_empty());
            assert_eq!(*local.spki_sha256(), sha256(local.spki()));
            assert_eq!(LocalKey::from_spki(local.spki()), local);
            let _ = format!("{local:?}");
            if let Ok(summary) = CertSummary::parse(cert) {
                assert_eq!(
                    local.matches(&summary),
                    summary.spki_sha256 == *local.spki_sha256()
                );
            }
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
        }
    }
}
