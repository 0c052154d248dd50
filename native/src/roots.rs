//! Trust anchors: the system bundle (one file read, not a directory scan) or private CA files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certpull_core::pem;
use rustls::RootCertStore;

use crate::cli::TrustArgs;
use crate::exit::{CliError, Result};

/// Where distributions keep their one-file bundle of trusted roots, most common first.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // RHEL, CentOS
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // Alpine, macOS, BSDs
];

/// The system bundle: `SSL_CERT_FILE` if set, else the first bundle file that exists.
pub fn system_bundle() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
        return Ok(PathBuf::from(path));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| {
            CliError::usage(
                "no system CA bundle found (install ca-certificates, set SSL_CERT_FILE, or use --ca-file)",
            )
        })
}

/// Adds every certificate of a PEM file as a trust anchor.
pub fn add_file(store: &mut RootCertStore, path: &Path) -> Result<()> {
    let text = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read CA file {}: {e}", path.display())))?;
    let certs = pem::decode_certificates(&text)
        .map_err(|e| CliError::usage(format!("CA file {}: {e}", path.display())))?;
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(CliError::usage(format!(
            "CA file {}: no usable CA certificate",
            path.display()
        )));
    }
    Ok(())
}

/// The anchors the trust options ask for: the CA files (plus the system bundle with
/// `--system-roots`), or the system bundle alone.
pub fn load(trust: &TrustArgs) -> Result<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    if trust.ca_files.is_empty() || trust.system_roots {
        add_file(&mut store, &system_bundle()?)?;
    }
    for path in &trust.ca_files {
        add_file(&mut store, path)?;
    }
    Ok(Arc::new(store))
}
