//! `pem`: PEM decoding of arbitrary text, and PEM round trips in both directions.
//!
//! Properties:
//! - whatever [`decode_certificates`] accepts is non-empty, and encoding it with
//!   [`encode_chain`] then decoding again gives the same DER list;
//! - any list of DER blobs (the input split into DER elements) survives encode → decode;
//! - the encoder writes ASCII, LF endings, lines of at most 64 columns, one BEGIN/END pair per
//!   certificate.

use certpull_core::pem::{decode_certificates, encode_certificate, encode_chain};
use rustls_pki_types::CertificateDer;

pub fn run(data: &[u8]) {
    if let Ok(certs) = decode_certificates(data) {
        assert!(!certs.is_empty(), "decode_certificates returned Ok(empty)");
        let text = encode_chain(&certs);
        check_encoding(&text, certs.len());
        let again = decode_certificates(text.as_bytes())
            .unwrap_or_else(|e| panic!("re-encoded PEM does not decode: {e}\n{text}"));
        assert_eq!(
            again, certs,
            "decode → encode → decode changed the DER list"
        );
    }

    let chain: Vec<CertificateDer<'static>> = crate::tlv::split(data)
        .into_iter()
        .map(|piece| CertificateDer::from(piece.to_vec()))
        .collect();
    if !chain.is_empty() {
        let text = encode_chain(&chain);
        check_encoding(&text, chain.len());
        let decoded = decode_certificates(text.as_bytes())
            .unwrap_or_else(|e| panic!("encoded PEM does not decode: {e}\n{text}"));
        assert_eq!(decoded, chain, "encode → decode changed the DER list");
        let first = encode_certificate(&chain[0]);
        assert!(text.starts_with(&first));
    }
}

fn check_encoding(text: &str, count: usize) {
    assert!(text.is_ascii());
    assert!(text.ends_with('\n'));
    assert!(!text.contains('\r'));
    assert!(
        text.lines().all(|line| line.len() <= 64),
        "line over 64 columns"
    );
    assert_eq!(text.matches("-----BEGIN CERTIFICATE-----\n").count(), count);
    assert_eq!(text.matches("-----END CERTIFICATE-----\n").count(), count);
}
