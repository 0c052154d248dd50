//! `chain`: the certificate summary of arbitrary DER, and of a chain cut from the input.
//!
//! Properties, for DER that [`CertSummary::parse`] accepts:
//! - parsing again gives an identical summary, and so does the DER's trip through PEM;
//! - `sha256` is the SHA-256 of the input; the serial is lowercase hex; `names()` is the DNS
//!   names then the IP addresses; `seconds_left(not_after) == 0`; date helpers never panic;
//! - a leaf covers its own names (`names_not_covered(x, x)` is empty).
//!
//! The input is also split into consecutive DER elements and given to
//! [`CertSummary::parse_chain`]: it succeeds exactly when every element parses, with the same
//! summaries, and otherwise names the first element that does not.

use certpull_core::pem::{decode_certificates, encode_certificate};
use certpull_core::policy::names_not_covered;
use certpull_core::CertSummary;
use rustls_pki_types::CertificateDer;

use super::sha256;

pub fn run(data: &[u8]) {
    if let Ok(summary) = CertSummary::parse(data) {
        check_summary(data, &summary);
    }

    let chain: Vec<CertificateDer<'static>> = crate::tlv::split(data)
        .into_iter()
        .map(|piece| CertificateDer::from(piece.to_vec()))
        .collect();
    match CertSummary::parse_chain(&chain) {
        Ok(summaries) => {
            assert_eq!(summaries.len(), chain.len());
            for (der, summary) in chain.iter().zip(&summaries) {
                assert_eq!(CertSummary::parse(der).as_ref().ok(), Some(summary));
            }
            if let (Some(first), Some(last)) = (summaries.first(), summaries.last()) {
                // Chains of any shape feed the policy's name comparison.
                let _ = names_not_covered(first, last);
                let _ = names_not_covered(last, first);
            }
        }
        Err(error) => {
            assert!(error.index < chain.len(), "error index out of range");
            assert!(CertSummary::parse(&chain[error.index]).is_err());
            for der in &chain[..error.index] {
                assert!(
                    CertSummary::parse(der).is_ok(),
                    "parse_chain skipped a failure"
                );
            }
            let text = error.to_string();
            assert!(text.starts_with(&format!("certificate {} ", error.index + 1)));
        }
    }
}

fn check_summary(der: &[u8], summary: &CertSummary) {
    let again = CertSummary::parse(der).expect("second parse of the same DER");
    assert_eq!(&again, summary, "parse is not deterministic");

    let text = encode_certificate(der);
    let back = decode_certificates(text.as_bytes()).expect("PEM of the DER decodes");
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].as_ref(), der);
    assert_eq!(
        CertSummary::parse(&back[0]).as_ref().ok(),
        Some(summary),
        "DER → PEM → DER → summary differs"
    );

    assert_eq!(summary.sha256, sha256(der));
    assert!(!summary.serial.is_empty());
    assert!(summary.serial.len().is_multiple_of(2));
    assert!(summary
        .serial
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));

    let names = summary.names();
    assert_eq!(
        names.len(),
        summary.dns_names.len() + summary.ip_addresses.len()
    );
    assert_eq!(&names[..summary.dns_names.len()], &summary.dns_names[..]);
    assert!(names_not_covered(summary, summary).is_empty());

    assert_eq!(summary.seconds_left(summary.not_after), 0);
    for now in [0, summary.not_before, summary.not_after, u64::MAX] {
        let _ = summary.days_left(now);
        let _ = summary.seconds_left(now);
        let _ = summary.is_valid_at(now);
    }
    assert_eq!(
        summary.is_valid_at(summary.not_before),
        summary.not_before < summary.not_after
    );
    assert!(!summary.is_valid_at(summary.not_after));
    assert!(summary.not_before_text.ends_with('Z'));
    assert!(summary.not_after_text.ends_with('Z'));
    let _ = summary.is_self_issued();
}
