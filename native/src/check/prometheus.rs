//! `--prometheus FILE`: the audit in the Prometheus text format, for node_exporter's textfile
//! collector, written atomically (a scrape never sees half a file).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use certpull_core::hex;

use super::Audit;
use crate::exit::Result;
use crate::files::FileSet;

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics text for `audits`.
pub fn render(audits: &[Audit], now: u64, duration: Duration) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "certpull_endpoint_up",
        "gauge",
        "1 when the endpoint completed a handshake and sent a chain.",
    );
    for audit in audits {
        for row in &audit.rows {
            let _ = writeln!(
                out,
                "certpull_endpoint_up{{name=\"{}\",endpoint=\"{}\"}} {}",
                escape(&audit.name),
                escape(&row.label),
                u8::from(row.result.is_ok())
            );
        }
    }
    family(
        &mut out,
        "certpull_cert_not_after_timestamp_seconds",
        "gauge",
        "The leaf's notAfter as a Unix timestamp.",
    );
    for audit in audits {
        for row in &audit.rows {
            if let Ok(seen) = &row.result {
                let _ = writeln!(
                    out,
                    "certpull_cert_not_after_timestamp_seconds{{name=\"{}\",endpoint=\"{}\",sha256=\"{}\"}} {}",
                    escape(&audit.name),
                    escape(&row.label),
                    hex::encode(&seen.leaf.sha256),
                    seen.leaf.not_after
                );
            }
        }
    }
    family(
        &mut out,
        "certpull_cert_days_left",
        "gauge",
        "Whole days until the leaf expires (negative once expired).",
    );
    for audit in audits {
        for row in &audit.rows {
            if let Ok(seen) = &row.result {
                let _ = writeln!(
                    out,
                    "certpull_cert_days_left{{name=\"{}\",endpoint=\"{}\"}} {}",
                    escape(&audit.name),
                    escape(&row.label),
                    seen.leaf.days_left(now)
                );
            }
        }
    }
    family(
        &mut out,
        "certpull_cert_valid",
        "gauge",
        "1 when the chain validated (trusted root, name, dates).",
    );
    for audit in audits {
        for row in &audit.rows {
            if let Ok(seen) = &row.result {
                let valid = matches!(seen.verdict, certpull_core::Verdict::Valid);
                let _ = writeln!(
                    out,
                    "certpull_cert_valid{{name=\"{}\",endpoint=\"{}\"}} {}",
                    escape(&audit.name),
                    escape(&row.label),
                    u8::from(valid)
                );
            }
        }
    }
    family(
        &mut out,
        "certpull_distinct_leaves",
        "gauge",
        "Distinct leaves served for the name; more than 1 is drift.",
    );
    family(
        &mut out,
        "certpull_endpoints_behind",
        "gauge",
        "Endpoints serving an older leaf than the newest seen.",
    );
    family(
        &mut out,
        "certpull_health",
        "gauge",
        "Nagios-style health: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    );
    for audit in audits {
        let name = escape(&audit.name);
        let _ = writeln!(
            out,
            "certpull_distinct_leaves{{name=\"{name}\"}} {}",
            audit.distinct_leaves
        );
        let _ = writeln!(
            out,
            "certpull_endpoints_behind{{name=\"{name}\"}} {}",
            audit.behind()
        );
        let _ = writeln!(
            out,
            "certpull_health{{name=\"{name}\"}} {}",
            audit.health.exit_code()
        );
    }
    family(
        &mut out,
        "certpull_check_last_run_timestamp_seconds",
        "gauge",
        "When this check ran.",
    );
    let _ = writeln!(out, "certpull_check_last_run_timestamp_seconds {now}");
    family(
        &mut out,
        "certpull_check_last_success_timestamp_seconds",
        "gauge",
        "When a check last saw every endpoint answer, per name.",
    );
    for audit in audits.iter().filter(|a| a.failed() == 0) {
        let _ = writeln!(
            out,
            "certpull_check_last_success_timestamp_seconds{{name=\"{}\"}} {now}",
            escape(&audit.name)
        );
    }
    family(
        &mut out,
        "certpull_check_duration_seconds",
        "gauge",
        "How long the whole check took.",
    );
    let _ = writeln!(
        out,
        "certpull_check_duration_seconds {:.3}",
        duration.as_secs_f64()
    );
    out
}

pub fn write(path: &Path, audits: &[Audit], now: u64, duration: Duration) -> Result<()> {
    let mut set = FileSet::new();
    set.stage(path, render(audits, now, duration).as_bytes())?;
    set.commit()
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
