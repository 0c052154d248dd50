//! `certpull inspect`: what local PEM files hold, how close their leaves are to expiry, and
//! whether they carry the local key. Answers with Nagios exit codes.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use certpull_core::fleet::{self, Health, Thresholds};
use certpull_core::{pem, CertSummary, LocalKey};
use serde::Serialize;

use crate::cli::{InspectArgs, ThresholdArgs};
use crate::output::{self, CertReport};
use crate::pull;

impl From<&ThresholdArgs> for Thresholds {
    fn from(args: &ThresholdArgs) -> Self {
        Self {
            warning_days: args.warn_days,
            critical_days: args.crit_days,
        }
    }
}

#[derive(Serialize)]
struct FileReport {
    path: String,
    /// OK, WARNING, CRITICAL, UNKNOWN.
    status: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_match: Option<bool>,
    chain: Vec<CertReport>,
}

#[derive(Serialize)]
struct InspectReport {
    status: &'static str,
    files: Vec<FileReport>,
}

fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(path)
    }
}

fn load_key(path: &Path) -> Result<LocalKey, String> {
    let mut text =
        std::fs::read(path).map_err(|e| format!("cannot read key {}: {e}", path.display()))?;
    let key = LocalKey::from_pem(&text, &pull::provider());
    zeroize::Zeroize::zeroize(&mut text);
    key.map_err(|e| format!("key {}: {e}", path.display()))
}

fn inspect_file(
    path: &Path,
    key: Option<&LocalKey>,
    thresholds: Thresholds,
    now: u64,
) -> (Health, FileReport, String) {
    let name = path.display().to_string();
    let unknown = |detail: String| {
        let report = FileReport {
            path: name.clone(),
            status: Health::Unknown.label(),
            detail: detail.clone(),
            key_match: None,
            chain: Vec::new(),
        };
        (Health::Unknown, report, String::new())
    };
    let bytes = match read_input(path) {
        Ok(bytes) => bytes,
        Err(e) => return unknown(format!("cannot read: {e}")),
    };
    let chain = match pem::decode_certificates(&bytes) {
        Ok(chain) => chain,
        Err(e) => return unknown(e.to_string()),
    };
    let summaries = match CertSummary::parse_chain(&chain) {
        Ok(summaries) => summaries,
        Err(e) => return unknown(e.to_string()),
    };
    let Some(leaf) = summaries.first() else {
        return unknown("no certificate".into());
    };
    let mut health = fleet::expiry_health(leaf, now, thresholds);
    let days = leaf.days_left(now);
    let mut detail = if leaf.is_valid_at(now) {
        format!(
            "{} expires {} ({days} days left)",
            leaf.subject, leaf.not_after_text
        )
    } else if now < leaf.not_before {
        format!("{} not valid before {}", leaf.subject, leaf.not_before_text)
    } else {
        format!(
            "{} EXPIRED {} ({} days ago)",
            leaf.subject, leaf.not_after_text, -days
        )
    };
    let key_match = key.map(|key| key.matches(leaf));
    if key_match == Some(false) {
        health = Health::Critical;
        detail.push_str("; the leaf does NOT carry the key's public key");
    }
    let report = FileReport {
        path: name,
        status: health.label(),
        detail,
        key_match,
        chain: summaries
            .iter()
            .zip(&chain)
            .map(|(summary, der)| CertReport::new(summary, der, now))
            .collect(),
    };
    let blocks = output::chain_blocks(&summaries, now);
    (health, report, blocks)
}

pub fn run(args: &InspectArgs) -> ExitCode {
    let thresholds = Thresholds::from(&args.thresholds);
    let key = match args.key.as_deref().map(load_key).transpose() {
        Ok(key) => key,
        Err(message) => {
            eprintln!("certpull: {message}");
            return ExitCode::from(Health::Unknown.exit_code());
        }
    };
    let now = output::unix_now();
    let mut worst = Health::Ok;
    let mut files = Vec::new();
    let mut text = String::new();
    for path in &args.files {
        let (health, report, blocks) = inspect_file(path, key.as_ref(), thresholds, now);
        worst = worst.max(health);
        text.push_str(&format!(
            "{}: {}: {}\n{blocks}",
            report.status, report.path, report.detail
        ));
        files.push(report);
    }
    if args.json {
        let report = InspectReport {
            status: worst.label(),
            files,
        };
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("certpull: {e}");
                return ExitCode::from(Health::Unknown.exit_code());
            }
        }
    } else {
        print!("{text}");
    }
    ExitCode::from(worst.exit_code())
}
