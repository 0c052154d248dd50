//! Fixed PKIs, built with rcgen, identical in every process.
//!
//! CAs sign with Ed25519 keys derived from constant seeds (Ed25519 signatures are
//! deterministic; rcgen derives serial numbers from the public key), so every certificate here
//! is the same DER on every run, and a crash input that depends on one reproduces. Leaves carry
//! ECDSA P-256 or RSA-2048 keys, loaded from `fuzz/keys/`.

use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};

/// The name the session targets pull (SNI and the name the leaves are valid for).
pub const SERVER_NAME: &str = "pull.certpull.test";

/// 2026-06-01T00:00:00Z: inside every session leaf's validity (2025-01-01 .. 2099-01-01).
pub const VALID_NOW: u64 = 1_780_272_000;

/// The private keys of the leaves and of the `key` target's seeds (throw-away, test only).
pub mod keys {
    /// ECDSA P-256, PKCS#8.
    pub const P256_PKCS8: &str = include_str!("../keys/p256.pkcs8.key");
    /// The same P-256 key, SEC1.
    pub const P256_SEC1: &str = include_str!("../keys/p256.sec1.key");
    /// ECDSA P-384, PKCS#8.
    pub const P384_PKCS8: &str = include_str!("../keys/p384.pkcs8.key");
    /// The same P-384 key, SEC1.
    pub const P384_SEC1: &str = include_str!("../keys/p384.sec1.key");
    /// RSA-2048, PKCS#8.
    pub const RSA2048_PKCS8: &str = include_str!("../keys/rsa2048.pkcs8.key");
    /// The same RSA key, PKCS#1.
    pub const RSA2048_PKCS1: &str = include_str!("../keys/rsa2048.pkcs1.key");
}

/// An Ed25519 key pair from a constant seed (PKCS#8 v1 built by hand).
pub fn ed25519_key(seed: u8) -> KeyPair {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[seed; 32]);
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), &rcgen::PKCS_ED25519)
        .expect("Ed25519 PKCS#8 from a seed")
}

/// The leaf key types the session seeds were recorded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKind {
    /// ECDSA P-256 leaf.
    EcdsaP256,
    /// RSA-2048 leaf.
    Rsa2048,
}

impl LeafKind {
    /// Both kinds.
    pub const ALL: [LeafKind; 2] = [LeafKind::EcdsaP256, LeafKind::Rsa2048];

    /// A short name for file names.
    pub fn label(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa",
            Self::Rsa2048 => "rsa",
        }
    }

    /// The leaf's private key, PKCS#8 PEM.
    pub fn key_pem(self) -> &'static str {
        match self {
            Self::EcdsaP256 => keys::P256_PKCS8,
            Self::Rsa2048 => keys::RSA2048_PKCS8,
        }
    }

    fn key_pair(self) -> KeyPair {
        let alg = match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
        };
        KeyPair::from_pkcs8_pem_and_sign_algo(self.key_pem(), alg).expect("leaf key")
    }
}

/// A root, an intermediate and a leaf.
#[derive(Debug, Clone)]
pub struct Pki {
    /// Self-signed root (Ed25519).
    pub root: CertificateDer<'static>,
    /// Intermediate CA (Ed25519), signed by the root.
    pub intermediate: CertificateDer<'static>,
    /// Leaf for [`SERVER_NAME`], signed by the intermediate.
    pub leaf: CertificateDer<'static>,
    /// The leaf's private key, PEM.
    pub leaf_key_pem: &'static str,
}

impl Pki {
    fn build(kind: LeafKind) -> Self {
        let tag = kind.label();
        let mut root_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        root_params.distinguished_name = rcgen::DistinguishedName::new();
        root_params
            .distinguished_name
            .push(DnType::CommonName, format!("certpull fuzz root {tag}"));
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        root_params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let root_key = ed25519_key(if kind == LeafKind::EcdsaP256 { 1 } else { 3 });
        let root = root_params.self_signed(&root_key).expect("root");
        let root_issuer = Issuer::new(root_params, root_key);

        let mut mid_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        mid_params.distinguished_name = rcgen::DistinguishedName::new();
        mid_params.distinguished_name.push(
            DnType::CommonName,
            format!("certpull fuzz intermediate {tag}"),
        );
        mid_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        mid_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        mid_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        mid_params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let mid_key = ed25519_key(if kind == LeafKind::EcdsaP256 { 2 } else { 4 });
        let intermediate = mid_params.signed_by(&mid_key, &root_issuer).expect("mid");
        let mid_issuer = Issuer::new(mid_params, mid_key);

        let mut leaf_params = CertificateParams::new(vec![
            SERVER_NAME.to_string(),
            "www.certpull.test".to_string(),
        ])
        .expect("params");
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        leaf_params.distinguished_name = rcgen::DistinguishedName::new();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        leaf_params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let leaf = leaf_params
            .signed_by(&kind.key_pair(), &mid_issuer)
            .expect("leaf");
        Self {
            root: root.der().clone(),
            intermediate: intermediate.der().clone(),
            leaf: leaf.der().clone(),
            leaf_key_pem: kind.key_pem(),
        }
    }

    /// The PKI of a leaf kind (built once per process).
    pub fn get(kind: LeafKind) -> &'static Pki {
        static ECDSA: OnceLock<Pki> = OnceLock::new();
        static RSA: OnceLock<Pki> = OnceLock::new();
        let cell = match kind {
            LeafKind::EcdsaP256 => &ECDSA,
            LeafKind::Rsa2048 => &RSA,
        };
        cell.get_or_init(|| Pki::build(kind))
    }

    /// The chain a server sends: leaf, then intermediate.
    pub fn served_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.leaf.clone(), self.intermediate.clone()]
    }
}

/// Both PKIs' roots in one store (so every recorded flight validates).
pub fn roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            for kind in LeafKind::ALL {
                store.add(Pki::get(kind).root.clone()).expect("root");
            }
            Arc::new(store)
        })
        .clone()
}

/// [`SERVER_NAME`] as a rustls server name.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from(SERVER_NAME).expect("name").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkis_are_deterministic() {
        for kind in LeafKind::ALL {
            let a = Pki::build(kind);
            let b = Pki::build(kind);
            assert_eq!(a.root, b.root);
            assert_eq!(a.intermediate, b.intermediate);
            assert_eq!(a.leaf, b.leaf, "{kind:?}");
        }
    }
}
