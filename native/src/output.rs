//! What `fetch` prints: PEM, a readable summary, or a JSON report.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use certpull_core::pki_types::CertificateDer;
use certpull_core::{hex, pem, CertSummary, Verdict};
use serde::Serialize;

use crate::pull::Pulled;

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One certificate in a JSON report.
#[derive(Debug, Serialize)]
pub struct CertReport {
    pub subject: String,
    pub issuer: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub sha256: String,
    pub spki_sha256: String,
    pub is_ca: bool,
    pub pem: String,
}

impl CertReport {
    pub fn new(summary: &CertSummary, der: &CertificateDer<'_>, now: u64) -> Self {
        Self {
            subject: summary.subject.clone(),
            issuer: summary.issuer.clone(),
            dns_names: summary.dns_names.clone(),
            ip_addresses: summary
                .ip_addresses
                .iter()
                .map(|ip| ip.to_string())
                .collect(),
            serial: summary.serial.clone(),
            not_before: summary.not_before_text.clone(),
            not_after: summary.not_after_text.clone(),
            days_left: summary.days_left(now),
            sha256: hex::encode(&summary.sha256),
            spki_sha256: hex::encode(&summary.spki_sha256),
            is_ca: summary.is_ca,
            pem: pem::encode_certificate(der),
        }
    }
}

/// The JSON report of `fetch`.
#[derive(Debug, Serialize)]
pub struct FetchReport {
    pub name: String,
    pub address: String,
    pub protocol_version: &'static str,
    pub cipher_suite: &'static str,
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict_detail: Option<String>,
    pub chain: Vec<CertReport>,
}

impl FetchReport {
    pub fn new(name: &str, pulled: &Pulled, now: u64) -> Self {
        let outcome = &pulled.outcome;
        Self {
            name: name.to_string(),
            address: pulled.address.to_string(),
            protocol_version: outcome.protocol_name(),
            cipher_suite: outcome.cipher_suite_name(),
            verdict: outcome.verdict.code(),
            verdict_detail: match &outcome.verdict {
                Verdict::Invalid(failure) => Some(failure.to_string()),
                _ => None,
            },
            chain: pulled
                .summaries
                .iter()
                .zip(&outcome.chain)
                .map(|(summary, der)| CertReport::new(summary, der, now))
                .collect(),
        }
    }
}

/// Fingerprints as openssl prints them: uppercase pairs joined by colons.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Valid => "chain valid".into(),
        Verdict::NotChecked => "chain NOT validated (--insecure)".into(),
        Verdict::Invalid(failure) => format!("chain INVALID, accepted by --insecure: {failure}"),
    }
}

/// A readable block per certificate, leaf first.
pub fn summary(name: &str, pulled: &Pulled, now: u64) -> String {
    let outcome = &pulled.outcome;
    let mut out = format!(
        "{name} at {}: {}, {}, {}\n",
        pulled.address,
        outcome.protocol_name(),
        outcome.cipher_suite_name(),
        verdict_text(&outcome.verdict)
    );
    out.push_str(&chain_blocks(&pulled.summaries, now));
    out
}

/// A readable block per certificate, leaf first, each line indented by two spaces.
pub fn chain_blocks(summaries: &[certpull_core::CertSummary], now: u64) -> String {
    let mut out = String::new();
    for (index, cert) in summaries.iter().enumerate() {
        let role = match (index, cert.is_ca) {
            (0, _) => "leaf",
            (_, true) => "CA",
            (_, false) => "cert",
        };
        let days = cert.days_left(now);
        let left = if days < 0 {
            format!("EXPIRED {} days ago", -days)
        } else {
            format!("{days} days left")
        };
        let names = cert.names();
        let _ = writeln!(out, "  [{}] {role:<4} {}", index + 1, cert.subject);
        if !names.is_empty() {
            let _ = writeln!(out, "      names    {}", names.join(", "));
        }
        let _ = writeln!(out, "      issuer   {}", cert.issuer);
        let _ = writeln!(
            out,
            "      valid    {} to {} ({left})",
            cert.not_before_text, cert.not_after_text
        );
        let _ = writeln!(out, "      serial   {}", cert.serial);
        let _ = writeln!(out, "      sha256   {}", colon_hex(&cert.sha256));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn colon_hex_matches_openssl_style() {
        assert_eq!(super::colon_hex(&[0xab, 0x01, 0xff]), "AB:01:FF");
    }
}
