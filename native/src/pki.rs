//! A throw-away PKI for the demo: a root CA and an intermediate made in memory, issuing leaves.

use certpull_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

use crate::exit::{Class, CliError, Result};

/// A root and an intermediate that issue leaves.
pub struct ThrowawayCa {
    pub root: CertificateDer<'static>,
    intermediate: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
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

/// A new ECDSA P-256 key pair.
pub fn new_key() -> Result<KeyPair> {
    KeyPair::generate().map_err(pki_error)
}

/// The key in the form rustls serves with.
pub fn private_key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

impl ThrowawayCa {
    /// A root and an intermediate called after `label`.
    pub fn new(label: &str) -> Result<Self> {
        let root_params = ca_params(&format!("{label} root CA"), None)?;
        let root_key = new_key()?;
        let root = root_params.self_signed(&root_key).map_err(pki_error)?;
        let root_issuer = Issuer::new(root_params, root_key);

        let mid_params = ca_params(&format!("{label} intermediate CA"), Some(0))?;
        let mid_key = new_key()?;
        let intermediate = mid_params
            .signed_by(&mid_key, &root_issuer)
            .map_err(pki_error)?;
        Ok(Self {
            root: root.der().clone(),
            intermediate: intermediate.der().clone(),
            issuer: Issuer::new(mid_params, mid_key),
        })
    }

    /// The chain a server sends (leaf, intermediate) for `name` and `key`, valid from `from`
    /// days ago until `until` days from now.
    pub fn issue(
        &self,
        name: &str,
        key: &KeyPair,
        from: i64,
        until: i64,
    ) -> Result<Vec<CertificateDer<'static>>> {
        let mut params = CertificateParams::new(vec![name.to_string()]).map_err(pki_error)?;
        params.distinguished_name.push(DnType::CommonName, name);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(from);
        params.not_after = now + Duration::days(until);
        let leaf = params.signed_by(key, &self.issuer).map_err(pki_error)?;
        Ok(vec![leaf.der().clone(), self.intermediate.clone()])
    }
}
