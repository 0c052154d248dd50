//! A throw-away PKI for the demo: a root CA, an intermediate and a leaf, made in memory.

use certpull_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

use crate::exit::{Class, CliError, Result};

/// A chain for one name, with the root that anchors it and the leaf's private key.
pub struct ThrowawayPki {
    pub root: CertificateDer<'static>,
    /// Leaf first, then the intermediate: what a server sends.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn pki_error(error: rcgen::Error) -> CliError {
    CliError::new(Class::Internal, format!("generating the demo PKI: {error}"))
}

fn ca_params(common_name: &str, path_len: Option<u8>) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(path_len.map_or(
        BasicConstraints::Unconstrained,
        BasicConstraints::Constrained,
    ));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(5 * 365);
    Ok(params)
}

impl ThrowawayPki {
    /// A chain for `name`, valid from a day ago for `days` days, under a root called `label`.
    pub fn generate(label: &str, name: &str, days: i64) -> Result<Self> {
        let root_params = ca_params(&format!("{label} root CA"), None)?;
        let root_key = KeyPair::generate().map_err(pki_error)?;
        let root = root_params.self_signed(&root_key).map_err(pki_error)?;
        let root_issuer = Issuer::new(root_params, root_key);

        let mid_params = ca_params(&format!("{label} intermediate CA"), Some(0))?;
        let mid_key = KeyPair::generate().map_err(pki_error)?;
        let intermediate = mid_params
            .signed_by(&mid_key, &root_issuer)
            .map_err(pki_error)?;
        let mid_issuer = Issuer::new(mid_params, mid_key);

        let mut leaf_params = CertificateParams::new(vec![name.to_string()]).map_err(pki_error)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, name);
        let now = OffsetDateTime::now_utc();
        leaf_params.not_before = now - Duration::days(1);
        leaf_params.not_after = now + Duration::days(days);
        let leaf_key = KeyPair::generate().map_err(pki_error)?;
        let leaf = leaf_params
            .signed_by(&leaf_key, &mid_issuer)
            .map_err(pki_error)?;

        Ok(Self {
            root: root.der().clone(),
            chain: vec![leaf.der().clone(), intermediate.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        })
    }
}
