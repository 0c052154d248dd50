//! A throw-away test PKI: a root CA, an intermediate CA, and leaves of several key types and
//! defects, written into a temporary directory as `key.pem`, `fullchain.pem` and `ca.pem`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject as _;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use crate::chain::{pem_to_ders, sha256_hex};

/// The DNS name test leaves are issued for unless a test asks otherwise.
pub const TEST_NAME: &str = "www.certpull.test";
/// The name a "wrong name" leaf is issued for.
pub const OTHER_NAME: &str = "other.certpull.test";

/// Common name of the test root.
pub const ROOT_CN: &str = "certpull test root";
/// Common name of the test intermediate.
pub const INTERMEDIATE_CN: &str = "certpull test intermediate";

/// Key type of a leaf certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    Rsa2048,
    Ed25519,
}

impl KeyKind {
    pub const ALL: [KeyKind; 3] = [KeyKind::EcdsaP256, KeyKind::Rsa2048, KeyKind::Ed25519];

    /// A fresh key pair and its PKCS#8 PEM as written to `key.pem`.
    fn generate(self) -> (KeyPair, String) {
        match self {
            KeyKind::EcdsaP256 => {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
                let pem = key.serialize_pem();
                (key, pem)
            }
            // ring writes Ed25519 keys as PKCS#8 v2, which OpenSSL 3.0 cannot read: let
            // OpenSSL generate a v1 key instead (rcgen reads it).
            KeyKind::Ed25519 => {
                let pem = openssl_genpkey(&["-algorithm", "ED25519"]);
                (KeyPair::from_pem(&pem).expect("load Ed25519 key"), pem)
            }
            KeyKind::Rsa2048 => {
                let pem = rsa_2048_pkcs8_pem().to_string();
                (KeyPair::from_pem(&pem).expect("load RSA key"), pem)
            }
        }
    }
}

/// What is wrong (or not) with a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafVariant {
    /// Valid now, for the requested name, issued by the intermediate, served with it.
    Good,
    /// notAfter is in the past.
    Expired,
    /// notBefore is in the future.
    NotYetValid,
    /// Signed by its own key; served alone.
    SelfSigned,
    /// Issued for [`OTHER_NAME`] instead of the requested name.
    OtherName,
    /// Correctly issued by the intermediate, but the intermediate is not served.
    MissingIntermediate,
}

/// `openssl genpkey ARGS` → PKCS#8 PEM.
fn openssl_genpkey(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .output()
        .expect("run openssl genpkey (is openssl installed?)");
    assert!(
        out.status.success(),
        "openssl genpkey {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("PEM is ASCII")
}

/// RSA-2048 keys cannot be generated with rcgen on ring: `openssl genpkey` makes one per test
/// process, reused by every RSA leaf.
fn rsa_2048_pkcs8_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| openssl_genpkey(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]))
}

fn random_serial() -> SerialNumber {
    // Unique enough for a test PKI: time and a process-wide counter.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = vec![0x01];
    bytes.extend_from_slice(&nanos.to_be_bytes());
    bytes.extend_from_slice(&n.to_be_bytes());
    bytes.extend_from_slice(&std::process::id().to_be_bytes());
    SerialNumber::from_slice(&bytes)
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certpull test PKI");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca_params(common_name: &str, path_len: Option<u8>) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name);
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::days(30);
    params.not_after = now + Duration::days(3650);
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    params
}

/// A root CA and an intermediate CA, both ECDSA P-256, living in a temporary directory.
pub struct TestPki {
    dir: TempDir,
    intermediate_issuer: Issuer<'static, KeyPair>,
    /// PEM of the root certificate.
    pub root_pem: String,
    /// PEM of the intermediate certificate.
    pub intermediate_pem: String,
    /// `ca.pem`: the root certificate, for `--ca-file`.
    pub ca_file: PathBuf,
    /// Lowercase hex SHA-256 of the intermediate's SubjectPublicKeyInfo.
    pub intermediate_spki_sha256: String,
}

impl TestPki {
    /// A fresh root and intermediate.
    pub fn new() -> TestPki {
        Self::with_root_name(ROOT_CN)
    }

    /// A fresh root (with the given common name) and intermediate.
    pub fn with_root_name(root_cn: &str) -> TestPki {
        let dir = tempfile::Builder::new()
            .prefix("certpull-pki-")
            .tempdir()
            .expect("create PKI tempdir");

        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("root key");
        let root_params = ca_params(root_cn, None);
        let root_cert = root_params.self_signed(&root_key).expect("self-sign root");
        let root_issuer = Issuer::new(root_params, root_key);

        let int_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("intermediate key");
        let int_params = ca_params(INTERMEDIATE_CN, Some(0));
        let int_cert = int_params
            .signed_by(&int_key, &root_issuer)
            .expect("sign intermediate");
        let intermediate_spki_sha256 = sha256_hex(&int_key.subject_public_key_info());
        let intermediate_issuer = Issuer::new(int_params, int_key);

        let root_pem = root_cert.pem();
        let ca_file = dir.path().join("ca.pem");
        fs::write(&ca_file, &root_pem).expect("write ca.pem");

        TestPki {
            dir,
            intermediate_issuer,
            root_pem,
            intermediate_pem: int_cert.pem(),
            ca_file,
            intermediate_spki_sha256,
        }
    }

    /// The PKI's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A good ECDSA P-256 leaf for [`TEST_NAME`].
    pub fn good_leaf(&self) -> ServerCert {
        self.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::Good)
    }

    /// Issue a leaf and write its server files into a fresh subdirectory.
    pub fn leaf(&self, name: &str, key: KeyKind, variant: LeafVariant) -> ServerCert {
        self.leaf_with_sans(&[name], key, variant)
    }

    /// Issue a leaf whose SANs are `sans` (DNS names, or IP literals which become IP SANs).
    /// For [`LeafVariant::OtherName`] the SANs are replaced with [`OTHER_NAME`].
    pub fn leaf_with_sans(&self, sans: &[&str], key: KeyKind, variant: LeafVariant) -> ServerCert {
        let now = OffsetDateTime::now_utc();
        let sans: Vec<String> = match variant {
            LeafVariant::OtherName => vec![OTHER_NAME.to_string()],
            _ => sans.iter().map(|s| s.to_string()).collect(),
        };
        let (not_before, not_after) = match variant {
            LeafVariant::Expired => (now - Duration::days(90), now - Duration::days(2)),
            LeafVariant::NotYetValid => (now + Duration::days(2), now + Duration::days(90)),
            _ => (now - Duration::days(1), now + Duration::days(89)),
        };
        self.issue_leaf(&sans, key.generate(), key, variant, not_before, not_after)
    }

    /// Issue a leaf as `spec` says (its key fresh or taken from another leaf, its names and
    /// dates chosen), signed by the intermediate and served with it.
    pub fn issue(&self, spec: &LeafSpec<'_>) -> ServerCert {
        let (key, key_kind) = match spec.key {
            LeafKey::Fresh(kind) => (kind.generate(), kind),
            LeafKey::SameAs(other) => {
                let pem = fs::read_to_string(&other.key).expect("read the other leaf's key");
                let key = KeyPair::from_pem(&pem).expect("load the other leaf's key");
                ((key, pem), other.key_kind)
            }
        };
        let now = OffsetDateTime::now_utc();
        let variant = if spec.not_before > now {
            LeafVariant::NotYetValid
        } else if spec.not_after <= now {
            LeafVariant::Expired
        } else {
            LeafVariant::Good
        };
        self.issue_leaf(
            &spec.sans,
            key,
            key_kind,
            variant,
            spec.not_before,
            spec.not_after,
        )
    }

    /// A renewal of `cert` as the renewing machine would get it with key reuse: same key, same
    /// names, valid from yesterday until `days_left` days from now.
    pub fn renewal(&self, cert: &ServerCert, days_left: i64) -> ServerCert {
        self.issue(&LeafSpec::same_key_as(cert, days_left))
    }

    fn issue_leaf(
        &self,
        sans: &[String],
        (leaf_key, leaf_key_pem): (KeyPair, String),
        key: KeyKind,
        variant: LeafVariant,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> ServerCert {
        let mut params = CertificateParams::new(sans.to_vec()).expect("leaf SANs");
        params.distinguished_name = dn(&sans[0]);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if key == KeyKind::Rsa2048 {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = variant != LeafVariant::SelfSigned;
        params.not_before = not_before;
        params.not_after = not_after;

        let leaf_cert = if variant == LeafVariant::SelfSigned {
            params.self_signed(&leaf_key).expect("self-sign leaf")
        } else {
            params
                .signed_by(&leaf_key, &self.intermediate_issuer)
                .expect("sign leaf")
        };

        let leaf_spki = sha256_hex(&leaf_key.subject_public_key_info());
        let (served_intermediates, spki_sha256) = match variant {
            LeafVariant::SelfSigned | LeafVariant::MissingIntermediate => {
                (Vec::new(), vec![leaf_spki])
            }
            _ => (
                vec![self.intermediate_pem.clone()],
                vec![leaf_spki, self.intermediate_spki_sha256.clone()],
            ),
        };

        let sub = self.new_leaf_dir();
        let leaf_pem = leaf_cert.pem();
        let chain_pem: String = served_intermediates.concat();
        let fullchain_pem = format!("{leaf_pem}{chain_pem}");

        let files = ServerCert {
            dir: sub.clone(),
            key: sub.join("key.pem"),
            cert: sub.join("cert.pem"),
            chain: sub.join("chain.pem"),
            fullchain: sub.join("fullchain.pem"),
            ca: sub.join("ca.pem"),
            name: sans[0].clone(),
            sans: sans.to_vec(),
            key_kind: key,
            variant,
            served: pem_to_ders(&fullchain_pem),
            spki_sha256,
            not_after: params.not_after,
            fullchain_pem,
            root_pem: self.root_pem.clone(),
        };
        fs::write(&files.key, leaf_key_pem).expect("write key.pem");
        fs::write(&files.cert, &leaf_pem).expect("write cert.pem");
        fs::write(&files.chain, &chain_pem).expect("write chain.pem");
        fs::write(&files.fullchain, &files.fullchain_pem).expect("write fullchain.pem");
        fs::write(&files.ca, &self.root_pem).expect("write ca.pem");
        files
    }

    /// A fresh subdirectory of the PKI's directory for one leaf's files.
    fn new_leaf_dir(&self) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static LEAVES: AtomicU64 = AtomicU64::new(0);
        let n = LEAVES.fetch_add(1, Ordering::Relaxed);
        let sub = self.dir.path().join(format!("leaf-{n}"));
        fs::create_dir(&sub).expect("create leaf dir");
        sub
    }

    /// `cert`, served with `extra_pem` (e.g. the root, or another intermediate) appended to its
    /// chain: the same leaf with different intermediates.
    pub fn with_extra_chain(&self, cert: &ServerCert, extra_pem: &str) -> ServerCert {
        let sub = self.new_leaf_dir();
        let chain_pem = format!(
            "{}{extra_pem}",
            fs::read_to_string(&cert.chain).expect("chain")
        );
        let leaf_pem = fs::read_to_string(&cert.cert).expect("cert");
        let fullchain_pem = format!("{leaf_pem}{chain_pem}");
        let mut spki_sha256 = cert.spki_sha256.clone();
        for der in pem_to_ders(extra_pem) {
            let parsed = x509_spki_sha256(&der);
            spki_sha256.push(parsed);
        }
        let files = ServerCert {
            dir: sub.clone(),
            key: sub.join("key.pem"),
            cert: sub.join("cert.pem"),
            chain: sub.join("chain.pem"),
            fullchain: sub.join("fullchain.pem"),
            ca: sub.join("ca.pem"),
            served: pem_to_ders(&fullchain_pem),
            spki_sha256,
            fullchain_pem,
            ..cert.clone()
        };
        fs::copy(&cert.key, &files.key).expect("copy key.pem");
        fs::write(&files.cert, &leaf_pem).expect("write cert.pem");
        fs::write(&files.chain, &chain_pem).expect("write chain.pem");
        fs::write(&files.fullchain, &files.fullchain_pem).expect("write fullchain.pem");
        fs::write(&files.ca, &self.root_pem).expect("write ca.pem");
        files
    }
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo, by `openssl x509 -pubkey` (test-only).
fn x509_spki_sha256(der: &[u8]) -> String {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-pubkey"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run openssl x509");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(der)
        .expect("write DER to openssl");
    let out = child.wait_with_output().expect("openssl x509 output");
    let pem = String::from_utf8(out.stdout).expect("PEM is ASCII");
    let spki = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .expect("public key PEM");
    sha256_hex(spki.as_ref())
}

/// Where a leaf's key comes from.
#[derive(Clone, Copy, Debug)]
pub enum LeafKey<'a> {
    /// A new key of this kind.
    Fresh(KeyKind),
    /// The key of another leaf (a renewal with key reuse, certbot `--reuse-key`).
    SameAs(&'a ServerCert),
}

/// What to issue: names, key and dates of a leaf.
#[derive(Clone, Debug)]
pub struct LeafSpec<'a> {
    /// The SANs; the first is also the subject's common name.
    pub sans: Vec<String>,
    pub key: LeafKey<'a>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl<'a> LeafSpec<'a> {
    /// `cert`'s names and key, valid from yesterday until `days_left` days from now.
    pub fn same_key_as(cert: &'a ServerCert, days_left: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            sans: cert.sans(),
            key: LeafKey::SameAs(cert),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(days_left),
        }
    }

    /// A fresh key of `kind` for `sans`, valid from yesterday until `days_left` days from now.
    pub fn fresh(sans: &[&str], kind: KeyKind, days_left: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            sans: sans.iter().map(|s| s.to_string()).collect(),
            key: LeafKey::Fresh(kind),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(days_left),
        }
    }

    /// These names instead.
    pub fn with_sans(mut self, sans: &[&str]) -> Self {
        self.sans = sans.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Valid only from `days` days from now.
    pub fn starting_in_days(mut self, days: i64) -> Self {
        self.not_before = OffsetDateTime::now_utc() + Duration::days(days);
        self
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// The files a TLS server needs for one leaf, and what it will serve.
#[derive(Clone, Debug)]
pub struct ServerCert {
    /// Directory holding the files below (inside the PKI's tempdir).
    pub dir: PathBuf,
    /// The leaf's private key (PKCS#8 PEM).
    pub key: PathBuf,
    /// The leaf alone.
    pub cert: PathBuf,
    /// The served intermediates (may be empty).
    pub chain: PathBuf,
    /// Leaf followed by the served intermediates: exactly what a server sends.
    pub fullchain: PathBuf,
    /// The test root.
    pub ca: PathBuf,
    /// The leaf's first SAN.
    pub name: String,
    /// All the leaf's SANs, in order.
    pub sans: Vec<String>,
    pub key_kind: KeyKind,
    pub variant: LeafVariant,
    /// The served chain, DER, leaf first.
    pub served: Vec<Vec<u8>>,
    /// Lowercase hex SHA-256 of each served certificate's SubjectPublicKeyInfo.
    pub spki_sha256: Vec<String>,
    /// The leaf's notAfter.
    pub not_after: OffsetDateTime,
    /// The served chain, PEM, leaf first.
    pub fullchain_pem: String,
    /// The test root, PEM.
    pub root_pem: String,
}

impl ServerCert {
    /// True if `chain.pem` is non-empty (an openssl `-cert_chain` is needed).
    pub fn has_intermediates(&self) -> bool {
        self.served.len() > 1
    }

    /// The served leaf, DER.
    pub fn leaf_der(&self) -> &[u8] {
        &self.served[0]
    }

    /// The leaf's SANs.
    pub fn sans(&self) -> Vec<String> {
        self.sans.clone()
    }

    /// The leaf's private key converted to `form` by `openssl` (written beside `key.pem`).
    pub fn key_in_form(&self, form: KeyForm) -> PathBuf {
        let (file, args): (&str, &[&str]) = match form {
            KeyForm::Pkcs8 => return self.key.clone(),
            KeyForm::Sec1 => ("key.sec1.pem", &["ec"]),
            KeyForm::Pkcs1 => ("key.pkcs1.pem", &["rsa", "-traditional"]),
        };
        let path = self.dir.join(file);
        let out = Command::new("openssl")
            .args(args)
            .arg("-in")
            .arg(&self.key)
            .arg("-out")
            .arg(&path)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    /// The leaf alone, PEM (as in `cert.pem`).
    pub fn cert_pem(&self) -> String {
        fs::read_to_string(&self.cert).expect("read cert.pem")
    }

    /// The served intermediates, PEM (as in `chain.pem`; may be empty).
    pub fn chain_pem(&self) -> String {
        fs::read_to_string(&self.chain).expect("read chain.pem")
    }
}

/// The PEM form of a private key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyForm {
    /// `BEGIN PRIVATE KEY` (what the PKI writes).
    Pkcs8,
    /// `BEGIN EC PRIVATE KEY` (ECDSA keys only).
    Sec1,
    /// `BEGIN RSA PRIVATE KEY` (RSA keys only).
    Pkcs1,
}
