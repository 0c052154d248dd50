//! `certpull check` and `certpull inspect` fixtures: the command lines, the status line and table
//! rows, the JSON report's certificates and endpoints, and runs fed on standard input.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use time::OffsetDateTime;

use crate::cli::{certpull, certpull_bin, run_limited_with_stdin, Run, HARD_LIMIT};
use crate::pki::ServerCert;

/// The Nagios plugin exit codes of `check` and `inspect`.
pub mod health {
    pub const OK: i32 = 0;
    pub const WARNING: i32 = 1;
    pub const CRITICAL: i32 = 2;
    pub const UNKNOWN: i32 = 3;
}

/// `certpull check NAME --connect C... EXTRA...`.
pub fn check(name: &str, connects: &[String], extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["check".into(), name.into()];
    for c in connects {
        args.push("--connect".into());
        args.push(c.clone());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    certpull(args)
}

/// `certpull inspect ARGS...` with standard input closed.
pub fn inspect(args: &[&str]) -> Run {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    certpull(all)
}

/// `certpull ARGS...` with `stdin` written to its standard input (then closed); killed after
/// [`HARD_LIMIT`] like every other run.
pub fn certpull_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    run_limited_with_stdin(
        Command::new(certpull_bin()),
        args,
        HARD_LIMIT,
        &[],
        Some(stdin),
    )
}

/// The first line of stdout: the Nagios status line.
#[track_caller]
pub fn status_line(run: &Run) -> &str {
    run.stdout
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no status line on stdout\n{}", run.describe()))
}

/// Asserts the status line starts with `LABEL: NAME: ` (e.g. `WARNING: www.certpull.test: `).
#[track_caller]
pub fn assert_status(run: &Run, label: &str, name: &str) {
    let line = status_line(run);
    let prefix = format!("{label}: {name}: ");
    assert!(
        line.starts_with(&prefix),
        "the status line should start with {prefix:?}\n{}",
        run.describe()
    );
}

/// The table row of `endpoint` (the line whose first column is exactly `endpoint`).
#[track_caller]
pub fn table_row<'a>(run: &'a Run, endpoint: &str) -> &'a str {
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter(|line| line.split_whitespace().next() == Some(endpoint))
        .collect();
    assert!(
        rows.len() == 1,
        "exactly one table row should be for {endpoint}\n{}",
        run.describe()
    );
    rows[0]
}

/// The column of `row` right after the endpoint: `current`, `BEHIND` or `ERROR`.
pub fn row_state(row: &str) -> &str {
    row.split_whitespace().nth(1).unwrap_or_default()
}

/// The `certificates[]` entry for `name` in a `check --json` report.
#[track_caller]
pub fn json_certificate<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("\"certificates\" should be an array in {report:#}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no certificate {name:?} in {report:#}"))
}

/// The `endpoints[]` entry for `endpoint` in a certificate of a `check --json` report.
#[track_caller]
pub fn json_endpoint<'a>(certificate: &'a Value, endpoint: &str) -> &'a Value {
    let matching: Vec<&Value> = certificate["endpoints"]
        .as_array()
        .unwrap_or_else(|| panic!("\"endpoints\" should be an array in {certificate:#}"))
        .iter()
        .filter(|e| e["endpoint"] == endpoint)
        .collect();
    assert!(
        matching.len() == 1,
        "exactly one endpoint {endpoint:?} should be listed in {certificate:#}"
    );
    matching[0]
}

/// The number of endpoints a certificate of a `check --json` report lists.
pub fn json_endpoint_count(certificate: &Value) -> usize {
    certificate["endpoints"].as_array().map_or(0, Vec::len)
}

/// Whole days left on `cert`'s leaf now, as certpull counts them (floor).
pub fn days_left(cert: &ServerCert) -> i64 {
    (cert.not_after - OffsetDateTime::now_utc())
        .whole_seconds()
        .div_euclid(86_400)
}

/// `cert`'s notAfter as a Unix timestamp.
pub fn not_after_unix(cert: &ServerCert) -> i64 {
    cert.not_after.unix_timestamp()
}

/// Writes `lines` to `dir/targets.txt`.
pub fn write_targets(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("targets.txt");
    std::fs::write(&path, text).expect("write targets file");
    path
}

/// The string form of a path, for argument lists.
pub fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
