//! The audit as a table (status line first, as Nagios reads it) or as JSON.

use std::io::Write as _;

use certpull_core::fleet::Health;
use certpull_core::hex;
use serde::Serialize;

use super::{Audit, Row};
use crate::exit::{Class, CliError, Result};
use crate::output::unix_now;

/// The one-line status: `WARNING: www.example.com: 1 of 3 endpoints behind`.
pub fn status_line(audits: &[Audit], health: Health) -> String {
    let parts: Vec<String> = audits
        .iter()
        .map(|audit| {
            let mut notes = Vec::new();
            let total = audit.rows.len();
            if audit.failed() > 0 {
                notes.push(format!(
                    "{} of {total} unreachable or failed",
                    audit.failed()
                ));
            }
            if audit.behind() > 0 {
                notes.push(format!(
                    "{} of {total} behind ({} distinct leaves)",
                    audit.behind(),
                    audit.distinct_leaves
                ));
            }
            let expiring = audit
                .rows
                .iter()
                .filter(|r| r.result.is_ok() && r.health > Health::Ok)
                .count();
            if expiring > 0 {
                notes.push(format!(
                    "{expiring} of {total} expiring, expired or invalid"
                ));
            }
            if notes.is_empty() {
                notes.push(format!("{total} endpoints agree"));
            }
            format!("{}: {}", audit.name, notes.join(", "))
        })
        .collect();
    format!("{}: {}", health.label(), parts.join("; "))
}

/// An endpoint's error without the "NAME at ADDRESS: " the table already shows.
fn cause(name: &str, row: &Row, error: &CliError) -> String {
    let text = error.to_string();
    let prefix = format!("{name} at {}: ", row.label);
    text.strip_prefix(&prefix).map(String::from).unwrap_or(text)
}

fn row_state(row: &Row) -> &'static str {
    match (&row.result, row.behind) {
        (Err(_), _) => "ERROR",
        (Ok(_), true) => "BEHIND",
        (Ok(_), false) => "current",
    }
}

pub fn print_table(audits: &[Audit], health: Health) {
    let now = unix_now();
    let mut out = status_line(audits, health);
    out.push('\n');
    for audit in audits {
        out.push_str(&format!(
            "{}: {} endpoint(s), {} distinct leaf/leaves\n",
            audit.name,
            audit.rows.len(),
            audit.distinct_leaves
        ));
        let width = audit
            .rows
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(8)
            .max(8);
        out.push_str(&format!(
            "  {:<width$}  {:<8} {:<8} {:<16} {:<20} {:>5}  {:<16} {}\n",
            "ENDPOINT", "STATE", "HEALTH", "LEAF SHA-256", "NOT AFTER", "DAYS", "VERDICT", "TLS"
        ));
        for row in &audit.rows {
            match &row.result {
                Ok(seen) => out.push_str(&format!(
                    "  {:<width$}  {:<8} {:<8} {:<16} {:<20} {:>5}  {:<16} {}\n",
                    row.label,
                    row_state(row),
                    row.health.label(),
                    hex::encode(seen.leaf.sha256.get(..8).unwrap_or_default()),
                    seen.leaf.not_after_text,
                    seen.leaf.days_left(now),
                    seen.verdict.code(),
                    seen.protocol,
                )),
                Err(error) => out.push_str(&format!(
                    "  {:<width$}  {:<8} {:<8} {}\n",
                    row.label,
                    row_state(row),
                    row.health.label(),
                    cause(&audit.name, row, error)
                )),
            }
        }
    }
    print!("{out}");
}

#[derive(Serialize)]
struct JsonEndpoint<'a> {
    endpoint: &'a str,
    /// current | behind | error
    state: &'static str,
    health: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    days_left: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_version: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonCertificate<'a> {
    name: &'a str,
    health: &'static str,
    distinct_leaves: usize,
    behind: usize,
    failed: usize,
    endpoints: Vec<JsonEndpoint<'a>>,
}

#[derive(Serialize)]
struct JsonAudit<'a> {
    status: &'static str,
    summary: String,
    certificates: Vec<JsonCertificate<'a>>,
}

pub fn print_json(audits: &[Audit], health: Health) -> Result<()> {
    let now = unix_now();
    let report = JsonAudit {
        status: health.label(),
        summary: status_line(audits, health),
        certificates: audits
            .iter()
            .map(|audit| JsonCertificate {
                name: &audit.name,
                health: audit.health.label(),
                distinct_leaves: audit.distinct_leaves,
                behind: audit.behind(),
                failed: audit.failed(),
                endpoints: audit
                    .rows
                    .iter()
                    .map(|row| {
                        let seen = row.result.as_ref().ok();
                        JsonEndpoint {
                            endpoint: &row.label,
                            state: match row_state(row) {
                                "ERROR" => "error",
                                "BEHIND" => "behind",
                                _ => "current",
                            },
                            health: row.health.label(),
                            error: row
                                .result
                                .as_ref()
                                .err()
                                .map(|e| cause(&audit.name, row, e)),
                            sha256: seen.map(|s| hex::encode(&s.leaf.sha256)),
                            serial: seen.map(|s| s.leaf.serial.as_str()),
                            not_after: seen.map(|s| s.leaf.not_after_text.as_str()),
                            days_left: seen.map(|s| s.leaf.days_left(now)),
                            verdict: seen.map(|s| s.verdict.code()),
                            protocol_version: seen.map(|s| s.protocol),
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&report)
        .map_err(|e| CliError::new(Class::Internal, e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|e| {
        CliError::new(
            Class::Write,
            format!("cannot write to standard output: {e}"),
        )
    })
}
