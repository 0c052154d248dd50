//! Key match: the public key of the local private key, compared with a leaf's.
//!
//! The private key is parsed by the caller's crypto provider (PKCS#8, SEC1 and PKCS#1; RSA,
//! ECDSA P-256/P-384, Ed25519 with ring), which derives its SubjectPublicKeyInfo. Only that
//! public half and its hash are kept; the private key is dropped as soon as it is read.

use alloc::vec::Vec;
use core::fmt;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use sha2::{Digest, Sha256};

use crate::chain::CertSummary;

/// The public half of the local private key.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalKey {
    spki: Vec<u8>,
    spki_sha256: [u8; 32],
}

impl fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("spki_sha256", &crate::hex::encode(&self.spki_sha256))
            .finish()
    }
}

/// Why the local private key gave no public key to compare with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The text holds no PEM private key block (PKCS#8, SEC1 or PKCS#1).
    NoPrivateKey,
    /// The crypto provider cannot load the key (unsupported type or curve, or corrupt).
    Unsupported,
    /// The crypto provider loads the key but cannot tell its public key.
    PublicKeyUnavailable,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoPrivateKey => "no PEM private key found (PKCS#8, SEC1 or PKCS#1)",
            Self::Unsupported => "unsupported or corrupt private key",
            Self::PublicKeyUnavailable => "the crypto provider cannot derive this key's public key",
        })
    }
}

impl core::error::Error for KeyError {}

impl LocalKey {
    /// Reads the first private key of a PEM text.
    pub fn from_pem(pem: &[u8], provider: &CryptoProvider) -> Result<Self, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| KeyError::NoPrivateKey)?;
        Self::from_der(der, provider)
    }

    /// Reads a DER private key.
    pub fn from_der(
        der: PrivateKeyDer<'static>,
        provider: &CryptoProvider,
    ) -> Result<Self, KeyError> {
        let signing_key = provider
            .key_provider
            .load_private_key(der)
            .map_err(|_| KeyError::Unsupported)?;
        let spki = signing_key
            .public_key()
            .ok_or(KeyError::PublicKeyUnavailable)?;
        Ok(Self::from_spki(spki.as_ref()))
    }

    /// A public key given directly as a DER SubjectPublicKeyInfo.
    pub fn from_spki(spki: &[u8]) -> Self {
        Self {
            spki: spki.to_vec(),
            spki_sha256: Sha256::digest(spki).into(),
        }
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// SHA-256 of the SubjectPublicKeyInfo, comparable with [`CertSummary::spki_sha256`].
    pub fn spki_sha256(&self) -> &[u8; 32] {
        &self.spki_sha256
    }

    /// Whether `cert` carries this public key.
    pub fn matches(&self, cert: &CertSummary) -> bool {
        self.spki_sha256 == cert.spki_sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn provider() -> CryptoProvider {
        rustls::crypto::ring::default_provider()
    }

    fn summary_for(key: &rcgen::KeyPair) -> CertSummary {
        let params = rcgen::CertificateParams::new(alloc::vec!["k.example".to_string()]).unwrap();
        CertSummary::parse(params.self_signed(key).unwrap().der()).unwrap()
    }

    #[test]
    fn pkcs8_keys_of_every_algorithm_match_their_certificate_only() {
        let algorithms: [&'static rcgen::SignatureAlgorithm; 3] = [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ED25519,
        ];
        for algorithm in algorithms {
            let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
            let other = rcgen::KeyPair::generate_for(algorithm).unwrap();
            let local = LocalKey::from_pem(key.serialize_pem().as_bytes(), &provider()).unwrap();
            assert!(local.matches(&summary_for(&key)), "{algorithm:?}");
            assert!(!local.matches(&summary_for(&other)), "{algorithm:?}");
        }
    }

    #[test]
    fn rsa_key_in_pkcs8_and_pkcs1_matches() {
        let pkcs8 = include_str!("../testdata/rsa2048.key");
        let key =
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
        let summary = summary_for(&key);
        assert!(LocalKey::from_pem(pkcs8.as_bytes(), &provider())
            .unwrap()
            .matches(&summary));
        let pkcs1 = include_str!("../testdata/rsa2048.pkcs1.key");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(LocalKey::from_pem(pkcs1.as_bytes(), &provider())
            .unwrap()
            .matches(&summary));
    }

    #[test]
    fn sec1_ec_key_matches() {
        let pkcs8 = include_str!("../testdata/p384.key");
        let key =
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(pkcs8, &rcgen::PKCS_ECDSA_P384_SHA384)
                .unwrap();
        let sec1 = include_str!("../testdata/p384.sec1.key");
        assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        assert!(LocalKey::from_pem(sec1.as_bytes(), &provider())
            .unwrap()
            .matches(&summary_for(&key)));
    }

    #[test]
    fn text_without_a_key_is_refused() {
        assert_eq!(
            LocalKey::from_pem(
                b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
                &provider()
            ),
            Err(KeyError::NoPrivateKey)
        );
        assert_eq!(
            LocalKey::from_pem(
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                &provider()
            ),
            Err(KeyError::Unsupported)
        );
    }
}
