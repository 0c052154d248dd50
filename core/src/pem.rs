//! PEM in (rustls-pki-types' parser) and out (pem-rfc7468's encoder).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::CertificateDer;

/// Why PEM text gave no certificates.
#[derive(Debug)]
pub enum PemError {
    /// The PEM syntax is broken (missing END line, bad base64, …).
    Syntax(pem::Error),
    /// The text holds no `CERTIFICATE` section.
    NoCertificates,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(error) => write!(f, "invalid PEM: {error}"),
            Self::NoCertificates => f.write_str("no CERTIFICATE block found"),
        }
    }
}

impl core::error::Error for PemError {}

/// Every `CERTIFICATE` block of `text`, in order; other blocks (keys, parameters) are skipped.
pub fn decode_certificates(text: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(PemError::Syntax)?;
    if certs.is_empty() {
        return Err(PemError::NoCertificates);
    }
    Ok(certs)
}

/// One certificate as a PEM block with LF line endings and 64-column lines.
pub fn encode_certificate(der: &[u8]) -> String {
    // Encoding into a String only fails on a label that is not valid, and ours is constant.
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

/// A chain as concatenated PEM blocks, in the order given.
pub fn encode_chain(chain: &[CertificateDer<'_>]) -> String {
    chain.iter().map(|der| encode_certificate(der)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<CertificateDer<'static>> {
        ["one.example", "two.example"]
            .iter()
            .map(|name| {
                let certified =
                    rcgen::generate_simple_self_signed(alloc::vec![String::from(*name)]).unwrap();
                certified.cert.der().clone()
            })
            .collect()
    }

    #[test]
    fn chain_round_trips_through_pem() {
        let chain = sample();
        let text = encode_chain(&chain);
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----\n").count(), 2);
        assert!(text.lines().all(|line| line.len() <= 64));
        assert_eq!(decode_certificates(text.as_bytes()).unwrap(), chain);
    }

    #[test]
    fn decoding_skips_other_blocks_and_tolerates_crlf() {
        let chain = sample();
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let text = alloc::format!("{key}{}", encode_chain(&chain)).replace('\n', "\r\n");
        assert_eq!(decode_certificates(text.as_bytes()).unwrap(), chain);
    }

    #[test]
    fn text_without_certificates_is_an_error() {
        assert!(matches!(
            decode_certificates(b"hello\n"),
            Err(PemError::NoCertificates)
        ));
        assert!(matches!(
            decode_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n"),
            Err(PemError::Syntax(_))
        ));
    }
}
