//! An in-process rustls server and a throw-away PKI for the core's tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use certpull_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use certpull_core::rustls::crypto::{ring, CryptoProvider};
use certpull_core::rustls::server::{ClientHello, ResolvesServerCert};
use certpull_core::rustls::sign::CertifiedKey;
use certpull_core::rustls::{
    RootCertStore, ServerConfig, ServerConnection, SupportedProtocolVersion,
};
use certpull_core::{FixedTime, PullConfig, PullError, PullOutcome, PullSession, Status, Trust};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};

pub const RSA_2048_PKCS8: &str = include_str!("../../testdata/rsa2048.key");

#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    EcdsaP256,
    Rsa2048,
    Ed25519,
}

impl KeyKind {
    fn generate(self) -> KeyPair {
        match self {
            Self::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            Self::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
            Self::Rsa2048 => {
                KeyPair::from_pkcs8_pem_and_sign_algo(RSA_2048_PKCS8, &rcgen::PKCS_RSA_SHA256)
                    .unwrap()
            }
        }
    }
}

/// Validity of a leaf, by calendar years.
#[derive(Debug, Clone, Copy)]
pub struct Years(pub i32, pub i32);

pub const CURRENT: Years = Years(2020, 2100);

pub struct TestPki {
    pub root: CertificateDer<'static>,
    pub intermediate: CertificateDer<'static>,
    pub leaf: CertificateDer<'static>,
    pub leaf_key: PrivateKeyDer<'static>,
}

static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl TestPki {
    /// A root, an intermediate and a leaf. Every PKI gets names of its own, so that two of them
    /// never look like the same CA.
    pub fn new(kind: KeyKind, names: &[&str], validity: Years) -> Self {
        let id = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        root_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("certpull test root {id}"),
        );
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_key = KeyPair::generate().unwrap();
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(root_params, root_key);

        let mut mid_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        mid_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("certpull test intermediate {id}"),
        );
        mid_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        mid_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mid_key = KeyPair::generate().unwrap();
        let intermediate = mid_params.signed_by(&mid_key, &root_issuer).unwrap();
        let mid_issuer = Issuer::new(mid_params, mid_key);

        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut leaf_params = CertificateParams::new(names).unwrap();
        leaf_params.not_before = rcgen::date_time_ymd(validity.0, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(validity.1, 1, 1);
        let leaf_key = kind.generate();
        let leaf = leaf_params.signed_by(&leaf_key, &mid_issuer).unwrap();
        Self {
            root: root.der().clone(),
            intermediate: intermediate.der().clone(),
            leaf: leaf.der().clone(),
            leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        }
    }

    pub fn roots(&self) -> Arc<RootCertStore> {
        let mut store = RootCertStore::empty();
        store.add(self.root.clone()).unwrap();
        Arc::new(store)
    }

    pub fn served_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.leaf.clone(), self.intermediate.clone()]
    }

    pub fn server(
        &self,
        version: &'static SupportedProtocolVersion,
        chain: Vec<CertificateDer<'static>>,
    ) -> Arc<ServerConfig> {
        Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_protocol_versions(&[version])
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, self.leaf_key.clone_key())
                .unwrap(),
        )
    }
}

/// A server that presents `chain` but signs the handshake with `signing_key`: an impostor
/// replaying someone else's public chain. rustls' own config builders refuse the mismatch, so
/// the certificate is resolved by hand.
pub fn impostor_server(
    version: &'static SupportedProtocolVersion,
    chain: Vec<CertificateDer<'static>>,
    signing_key: &PrivateKeyDer<'static>,
) -> Arc<ServerConfig> {
    #[derive(Debug)]
    struct Fixed(Arc<CertifiedKey>);
    impl ResolvesServerCert for Fixed {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let key = provider()
        .key_provider
        .load_private_key(signing_key.clone_key())
        .unwrap();
    let resolver = Fixed(Arc::new(CertifiedKey::new(chain, key)));
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver)),
    )
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn name(text: &str) -> ServerName<'static> {
    ServerName::try_from(text.to_string()).unwrap()
}

pub fn verify(pki: &TestPki, server_name: &str) -> PullConfig {
    PullConfig::new(name(server_name), Trust::Verify(pki.roots()))
}

/// Runs a pull against an in-process server, handing the server's bytes to the session
/// `chunk` bytes at a time.
pub fn pull_in_process(
    server: Arc<ServerConfig>,
    config: &PullConfig,
    chunk: usize,
) -> Result<PullOutcome, PullError> {
    let mut session = new_session(config)?;
    finish_in_process(&mut session, server, chunk)
}

pub fn new_session(config: &PullConfig) -> Result<PullSession, PullError> {
    PullSession::new(
        config,
        provider(),
        Arc::new(FixedTime::from_unix_seconds(now())),
    )
}

/// Runs `session` (past any preamble) to the end against an in-process server.
pub fn finish_in_process(
    session: &mut PullSession,
    server: Arc<ServerConfig>,
    chunk: usize,
) -> Result<PullOutcome, PullError> {
    let mut server = ServerConnection::new(server).unwrap();
    let mut to_client = Vec::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 100_000, "pull did not converge");
        let status = session.advance();
        let output = session.take_output();
        if !output.is_empty() {
            let mut reader = output.as_slice();
            while !reader.is_empty() {
                server.read_tls(&mut reader).unwrap();
                // A server that fails (e.g. on our alert) simply stops talking.
                let _ = server.process_new_packets();
            }
        }
        match status? {
            Status::Complete(outcome) => return Ok(outcome),
            Status::NeedsInput => {}
        }
        while server.wants_write() {
            server.write_tls(&mut to_client).unwrap();
        }
        if to_client.is_empty() {
            session.feed_eof();
            continue;
        }
        let take = chunk.min(to_client.len());
        session.feed(&to_client[..take])?;
        to_client.drain(..take);
    }
}

/// Runs a pull against a scripted server that answers the ClientHello with `reply`, then EOF.
pub fn pull_scripted(config: &PullConfig, reply: &[u8]) -> Result<PullOutcome, PullError> {
    let mut session = PullSession::new(
        config,
        provider(),
        Arc::new(FixedTime::from_unix_seconds(now())),
    )?;
    match session.advance()? {
        Status::NeedsInput => {}
        Status::Complete(_) => panic!("completed without a server"),
    }
    assert!(!session.take_output().is_empty(), "no ClientHello");
    session.feed(reply)?;
    match session.advance()? {
        Status::Complete(outcome) => return Ok(outcome),
        Status::NeedsInput => {}
    }
    session.feed_eof();
    match session.advance()? {
        Status::Complete(outcome) => Ok(outcome),
        Status::NeedsInput => panic!("still waiting after EOF"),
    }
}
