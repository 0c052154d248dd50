//! The chain model: what a certificate says, parsed with x509-cert into a plain summary.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use der::oid::AssociatedOid;
use der::{Decode, Encode};
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};
use x509_cert::Certificate;

/// What one certificate says, as a follower needs to judge and report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject distinguished name (RFC 4514 text).
    pub subject: String,
    /// Issuer distinguished name (RFC 4514 text).
    pub issuer: String,
    /// DNS names of the subjectAltName extension, in order.
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension, in order.
    pub ip_addresses: Vec<IpAddr>,
    /// Serial number, lowercase hexadecimal, without the DER sign byte.
    pub serial: String,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: u64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: u64,
    /// notBefore as RFC 3339 text (UTC).
    pub not_before_text: String,
    /// notAfter as RFC 3339 text (UTC).
    pub not_after_text: String,
    /// SHA-256 of the whole certificate (its fingerprint).
    pub sha256: [u8; 32],
    /// SHA-256 of the SubjectPublicKeyInfo: equal for two certificates of the same key.
    pub spki_sha256: [u8; 32],
    /// Whether basicConstraints says this is a CA.
    pub is_ca: bool,
}

/// A certificate that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError {
    /// Position in the chain (0 = leaf).
    pub index: usize,
    /// What the DER parser said.
    pub reason: String,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate {} of the chain cannot be parsed: {}",
            self.index.saturating_add(1),
            self.reason
        )
    }
}

impl core::error::Error for ChainError {}

impl CertSummary {
    /// Parses one DER certificate.
    pub fn parse(der: &[u8]) -> Result<Self, der::Error> {
        let cert = Certificate::from_der(der)?;
        let tbs = &cert.tbs_certificate;
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let mut is_ca = false;
        for ext in tbs.extensions.iter().flatten() {
            if ext.extn_id == SubjectAltName::OID {
                let san = SubjectAltName::from_der(ext.extn_value.as_bytes())?;
                for name in san.0 {
                    match name {
                        GeneralName::DnsName(dns) => dns_names.push(dns.to_string()),
                        GeneralName::IpAddress(octets) => {
                            if let Some(ip) = ip_from_octets(octets.as_bytes()) {
                                ip_addresses.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            } else if ext.extn_id == BasicConstraints::OID {
                is_ca = BasicConstraints::from_der(ext.extn_value.as_bytes())?.ca;
            }
        }
        let spki = tbs.subject_public_key_info.to_der()?;
        let validity = &tbs.validity;
        Ok(Self {
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            dns_names,
            ip_addresses,
            serial: crate::hex::encode(strip_sign_byte(tbs.serial_number.as_bytes())),
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
            not_before_text: validity.not_before.to_date_time().to_string(),
            not_after_text: validity.not_after.to_date_time().to_string(),
            sha256: Sha256::digest(der).into(),
            spki_sha256: Sha256::digest(&spki).into(),
            is_ca,
        })
    }

    /// Parses every certificate of a chain, naming the first one that fails.
    pub fn parse_chain(chain: &[CertificateDer<'_>]) -> Result<Vec<Self>, ChainError> {
        chain
            .iter()
            .enumerate()
            .map(|(index, der)| {
                Self::parse(der).map_err(|e| ChainError {
                    index,
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Seconds until notAfter from `now` (negative once expired).
    pub fn seconds_left(&self, now: u64) -> i64 {
        let after = i128::from(self.not_after);
        let now = i128::from(now);
        i64::try_from(after.saturating_sub(now)).unwrap_or(if after > now {
            i64::MAX
        } else {
            i64::MIN
        })
    }

    /// Whole days until notAfter from `now`, rounded down (negative once expired).
    pub fn days_left(&self, now: u64) -> i64 {
        self.seconds_left(now).div_euclid(86_400)
    }

    /// Whether the certificate is valid at `now` (notBefore ≤ now < notAfter).
    pub fn is_valid_at(&self, now: u64) -> bool {
        self.not_before <= now && now < self.not_after
    }

    /// Whether the subject and issuer are the same name (a self-issued certificate).
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    /// All subjectAltName entries as text: DNS names, then IP addresses.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.dns_names.clone();
        names.extend(self.ip_addresses.iter().map(ToString::to_string));
        names
    }
}

fn ip_from_octets(octets: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(octets) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(octets)
        .ok()
        .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

/// DER integers carry a leading zero byte when the high bit of a positive number is set.
fn strip_sign_byte(bytes: &[u8]) -> &[u8] {
    match bytes {
        [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => rest,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(names: &[&str]) -> (rcgen::CertifiedKey<rcgen::KeyPair>, CertSummary) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let certified = rcgen::generate_simple_self_signed(names).unwrap();
        let summary = CertSummary::parse(certified.cert.der()).unwrap();
        (certified, summary)
    }

    #[test]
    fn summary_lists_dns_and_ip_names_in_order() {
        let (_, summary) = leaf(&["www.example.com", "example.com", "127.0.0.1", "::1"]);
        assert_eq!(summary.dns_names, ["www.example.com", "example.com"]);
        assert_eq!(
            summary.ip_addresses,
            [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            ]
        );
        assert_eq!(
            summary.names(),
            ["www.example.com", "example.com", "127.0.0.1", "::1"]
        );
        assert!(!summary.is_ca);
        assert!(summary.is_self_issued());
    }

    #[test]
    fn fingerprints_are_sha256_of_certificate_and_key() {
        let (certified, summary) = leaf(&["a.example"]);
        let expected: [u8; 32] = Sha256::digest(certified.cert.der()).into();
        assert_eq!(summary.sha256, expected);
        let spki: [u8; 32] = Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(
            &certified.signing_key,
        ))
        .into();
        assert_eq!(summary.spki_sha256, spki);
    }

    #[test]
    fn dates_are_read_as_unix_seconds_and_rfc3339() {
        let mut params = rcgen::CertificateParams::new(["d.example".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 1, 2);
        params.not_after = rcgen::date_time_ymd(2026, 3, 4);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let summary = CertSummary::parse(cert.der()).unwrap();
        assert_eq!(summary.not_before, 1_767_312_000);
        assert_eq!(summary.not_after_text, "2026-03-04T00:00:00Z");
        assert!(summary.is_valid_at(1_767_312_000));
        assert!(!summary.is_valid_at(summary.not_after));
        assert_eq!(summary.days_left(summary.not_after - 86_400 - 1), 1);
        assert_eq!(summary.days_left(summary.not_after + 1), -1);
    }

    #[test]
    fn ca_flag_is_read_from_basic_constraints() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert!(CertSummary::parse(cert.der()).unwrap().is_ca);
    }

    #[test]
    fn serial_drops_the_der_sign_byte() {
        assert_eq!(strip_sign_byte(&[0x00, 0x80, 0x01]), &[0x80, 0x01]);
        assert_eq!(strip_sign_byte(&[0x00, 0x7f]), &[0x00, 0x7f]);
        assert_eq!(strip_sign_byte(&[0x00]), &[0x00]);
    }

    #[test]
    fn garbage_is_an_error_naming_the_position() {
        let chain = [
            CertificateDer::from(leaf(&["x.example"]).0.cert.der().to_vec()),
            CertificateDer::from(alloc::vec![0x30, 0x03, 0x01]),
        ];
        let error = CertSummary::parse_chain(&chain).unwrap_err();
        assert_eq!(error.index, 1);
        assert!(error.to_string().starts_with("certificate 2 of the chain"));
    }
}
