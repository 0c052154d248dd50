//! What `sync` says: nothing when nothing changed, one line per installed certificate, one line
//! per failure on stderr, every source with `-v`, and a JSON report with `--json`.

use std::io::Write as _;

use certpull_core::policy::{Decision, InstallReason};
use serde::Serialize;

use super::hook::HookReport;
use crate::exit::{Class, CliError, Result};
use crate::pull::Pulled;

/// What one source gave.
#[derive(Debug)]
pub struct SourceReport {
    pub address: String,
    pub result: std::result::Result<SourceChain, CliError>,
}

/// A chain a source served, and the policy's decision on it.
#[derive(Debug)]
pub struct SourceChain {
    pub decision: Decision,
    pub sha256: String,
    pub not_after: String,
    pub days_left: i64,
}

impl SourceReport {
    pub fn decided(address: &str, decision: &Decision, pulled: &Pulled, now: u64) -> Self {
        let leaf = pulled.summaries.first();
        Self {
            address: address.to_string(),
            result: Ok(SourceChain {
                decision: decision.clone(),
                sha256: leaf
                    .map(|l| certpull_core::hex::encode(&l.sha256))
                    .unwrap_or_default(),
                not_after: leaf.map(|l| l.not_after_text.clone()).unwrap_or_default(),
                days_left: leaf.map_or(0, |l| l.days_left(now)),
            }),
        }
    }

    pub fn failed(address: &str, error: CliError) -> Self {
        Self {
            address: address.to_string(),
            result: Err(error),
        }
    }

    /// The class this source's failure would give the certificate.
    pub fn class(&self) -> Class {
        match &self.result {
            Ok(chain) => match &chain.decision {
                Decision::Refuse(_) => Class::Refused,
                _ => Class::Internal,
            },
            Err(error) => error.class,
        }
    }

    /// `ADDRESS: what happened`.
    pub fn one_line(&self) -> String {
        match &self.result {
            Ok(chain) => format!("{}: {}", self.address, status_text(&chain.decision)),
            Err(error) => {
                // Pull errors already start with "NAME at ADDRESS: "; keep only the cause.
                let cause = error
                    .message
                    .split_once(&format!(" at {}: ", self.address))
                    .map_or(error.message.as_str(), |(_, cause)| cause);
                format!("{}: {cause}", self.address)
            }
        }
    }
}

fn reason_text(reason: InstallReason) -> &'static str {
    match reason {
        InstallReason::NothingInstalled => "first install",
        InstallReason::Renewed => "renewed",
        InstallReason::ChainChanged => "intermediates changed",
        InstallReason::Repair => "repaired an inconsistent set",
    }
}

fn status_text(decision: &Decision) -> String {
    match decision {
        Decision::Install(reason) => format!("installable ({})", reason_text(*reason)),
        Decision::UpToDate => "same chain as installed".into(),
        Decision::Refuse(refusal) => format!("refused: {refusal}"),
    }
}

/// How one certificate's sync ended.
#[derive(Debug)]
pub enum JobOutcome {
    Installed {
        reason: InstallReason,
        source: String,
        not_after: String,
        sha256: String,
        hook: Option<HookReport>,
    },
    UpToDate {
        source: String,
    },
    Failed(CliError),
}

/// One certificate's report.
#[derive(Debug)]
pub struct JobReport {
    pub name: String,
    pub key_file: bool,
    pub sources: Vec<SourceReport>,
    pub outcome: JobOutcome,
}

impl JobReport {
    pub fn new(name: &str, key_file: bool) -> Self {
        Self {
            name: name.to_string(),
            key_file,
            sources: Vec::new(),
            outcome: JobOutcome::Failed(CliError::new(Class::Internal, "not run")),
        }
    }

    /// The failure this certificate ends with, if any (a failed hook counts).
    pub fn error(&self) -> Option<CliError> {
        match &self.outcome {
            JobOutcome::Failed(error) => Some(CliError::new(error.class, error.message.clone())),
            JobOutcome::Installed {
                hook: Some(hook), ..
            } if !hook.succeeded() => Some(CliError::new(
                Class::Hook,
                format!(
                    "{}: installed, but the deploy hook {}",
                    self.name,
                    hook.failure()
                ),
            )),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct JsonRun<'a> {
    certificates: Vec<JsonCertificate<'a>>,
}

#[derive(Serialize)]
struct JsonCertificate<'a> {
    name: &'a str,
    /// installed | up-to-date | failed
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    /// key-file | installed-leaf
    key_reference: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<JsonHook<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
    sources: Vec<JsonSource<'a>>,
}

#[derive(Serialize)]
struct JsonHook<'a> {
    command: &'a str,
    status: Option<i32>,
    stderr: &'a str,
}

#[derive(Serialize)]
struct JsonSource<'a> {
    address: &'a str,
    /// installable | up-to-date | refused | error
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    days_left: Option<i64>,
}

fn reason_code(reason: InstallReason) -> &'static str {
    match reason {
        InstallReason::NothingInstalled => "first-install",
        InstallReason::Renewed => "renewed",
        InstallReason::ChainChanged => "chain-changed",
        InstallReason::Repair => "repair",
    }
}

fn json_source(source: &SourceReport) -> JsonSource<'_> {
    match &source.result {
        Ok(chain) => {
            let (status, detail) = match &chain.decision {
                Decision::Install(reason) => {
                    ("installable", Some(reason_code(*reason).to_string()))
                }
                Decision::UpToDate => ("up-to-date", None),
                Decision::Refuse(refusal) => {
                    ("refused", Some(format!("{}: {refusal}", refusal.code())))
                }
            };
            JsonSource {
                address: &source.address,
                status,
                detail,
                sha256: Some(&chain.sha256),
                not_after: Some(&chain.not_after),
                days_left: Some(chain.days_left),
            }
        }
        Err(error) => JsonSource {
            address: &source.address,
            status: "error",
            detail: Some(error.to_string()),
            sha256: None,
            not_after: None,
            days_left: None,
        },
    }
}

fn json_certificate(report: &JobReport) -> JsonCertificate<'_> {
    let mut json = JsonCertificate {
        name: &report.name,
        result: "failed",
        reason: None,
        source: None,
        not_after: None,
        sha256: None,
        key_reference: if report.key_file {
            "key-file"
        } else {
            "installed-leaf"
        },
        hook: None,
        error: None,
        exit_code: None,
        sources: report.sources.iter().map(json_source).collect(),
    };
    match &report.outcome {
        JobOutcome::Installed {
            reason,
            source,
            not_after,
            sha256,
            hook,
        } => {
            json.result = "installed";
            json.reason = Some(reason_code(*reason));
            json.source = Some(source);
            json.not_after = Some(not_after);
            json.sha256 = Some(sha256);
            json.hook = hook.as_ref().map(|h| JsonHook {
                command: &h.command,
                status: h.status,
                stderr: &h.stderr,
            });
        }
        JobOutcome::UpToDate { source } => {
            json.result = "up-to-date";
            json.source = Some(source);
        }
        JobOutcome::Failed(_) => {}
    }
    if let Some(error) = report.error() {
        json.exit_code = Some(error.class.code());
        json.error = Some(error.to_string());
    }
    json
}

/// Prints the run's reports: JSON on stdout, or the text lines (installs on stdout, failures
/// and `-v` details on stderr).
pub fn print(reports: &[JobReport], verbose: bool, json: bool) -> Result<()> {
    if json {
        let run = JsonRun {
            certificates: reports.iter().map(json_certificate).collect(),
        };
        let text = serde_json::to_string_pretty(&run)
            .map_err(|e| CliError::new(Class::Internal, e.to_string()))?;
        let mut stdout = std::io::stdout().lock();
        return writeln!(stdout, "{text}").map_err(|e| {
            CliError::new(
                Class::Write,
                format!("cannot write to standard output: {e}"),
            )
        });
    }
    let several = reports.len() > 1;
    for report in reports {
        if verbose {
            if !report.key_file {
                eprintln!(
                    "certpull: {}: no --key: comparing with the installed leaf's key",
                    report.name
                );
            }
            for source in &report.sources {
                eprintln!("certpull: {}: {}", report.name, source.one_line());
            }
        }
        match &report.outcome {
            JobOutcome::Installed {
                reason,
                source,
                not_after,
                ..
            } => println!(
                "certpull: installed {} from {source} ({}, expires {not_after}{})",
                report.name,
                reason_text(*reason),
                if report.key_file {
                    ""
                } else {
                    "; no --key: checked against the installed leaf's key"
                }
            ),
            JobOutcome::UpToDate { source } if verbose => {
                eprintln!(
                    "certpull: {}: up to date (checked against {source})",
                    report.name
                )
            }
            _ => {}
        }
        // With one certificate, main prints its error; with several, each is printed here.
        if several {
            if let Some(error) = report.error() {
                eprintln!("certpull: {error}");
            }
        }
    }
    Ok(())
}
