//! `certpull check`: audit a fleet. Pull from every endpoint at once (bounded), report who
//! serves which leaf, how long it has left, and which endpoints lag behind. Answers with Nagios
//! exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

mod prometheus;
mod report;

use std::process::ExitCode;

use certpull_core::fleet::{self, Health, Thresholds};
use certpull_core::policy::Installed;
use certpull_core::{CertSummary, Protocol, Trust, Verdict};

use crate::cli::{default_port, CheckArgs, TrustArgs};
use crate::concurrent::{self, Deadlines};
use crate::exit::{CliError, Result};
use crate::layout::Outputs;
use crate::net::Endpoint;
use crate::output::unix_now;
use crate::progress::Progress;
use crate::pull::{self, Pulled};
use crate::roots;
use crate::sync::config;

/// One certificate to audit.
struct Subject {
    name: String,
    endpoints: Vec<Endpoint>,
    trust: TrustArgs,
    starttls: Option<Protocol>,
    /// The installed files to compare with (`--config`).
    local: Option<Outputs>,
}

/// What one endpoint (or the local files) showed.
pub struct Row {
    pub label: String,
    pub result: std::result::Result<Seen, CliError>,
    pub health: Health,
    /// Whether its leaf is older than the newest one seen.
    pub behind: bool,
}

/// A leaf as seen at an endpoint.
pub struct Seen {
    pub leaf: CertSummary,
    pub verdict: Verdict,
    pub protocol: &'static str,
}

/// One certificate's results.
pub struct Audit {
    pub name: String,
    pub rows: Vec<Row>,
    pub distinct_leaves: usize,
    pub health: Health,
}

impl Audit {
    pub fn behind(&self) -> usize {
        self.rows.iter().filter(|r| r.behind).count()
    }

    pub fn failed(&self) -> usize {
        self.rows.iter().filter(|r| r.result.is_err()).count()
    }
}

pub fn run(args: &CheckArgs) -> ExitCode {
    match check(args) {
        Ok(health) => ExitCode::from(health.exit_code()),
        Err(error) => {
            eprintln!("certpull: {error}");
            ExitCode::from(Health::Unknown.exit_code())
        }
    }
}

fn subjects(args: &CheckArgs) -> Result<Vec<Subject>> {
    if let Some(path) = &args.config {
        let defaults = config::Defaults {
            timeout: args.timeout,
            trust: args.trust.clone(),
            allow_downgrade: false,
            backup: false,
            starttls: args.starttls,
        };
        return Ok(config::load(path, &defaults)?
            .into_iter()
            .map(|job| Subject {
                name: job.name,
                endpoints: job.sources,
                trust: job.trust,
                starttls: job.starttls,
                local: Some(job.outputs),
            })
            .collect());
    }
    let name = args
        .name
        .clone()
        .ok_or_else(|| CliError::usage("a certificate NAME is required (or --config)"))?;
    pull::server_name(&name)?;
    let mut texts: Vec<String> = args.connect.clone();
    if let Some(path) = &args.targets {
        let list = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read targets {}: {e}", path.display())))?;
        texts.extend(
            list.lines()
                .map(|line| line.split('#').next().unwrap_or_default().trim())
                .filter(|line| !line.is_empty())
                .map(String::from),
        );
    }
    if texts.is_empty() {
        texts.push(name.clone());
    }
    let port = default_port(args.starttls);
    Ok(vec![Subject {
        endpoints: texts
            .iter()
            .map(|text| Endpoint::parse(text, port))
            .collect::<Result<_>>()?,
        name,
        trust: args.trust.clone(),
        starttls: args.starttls,
        local: None,
    }])
}

/// Judges every chain but refuses none: an audit reports what it saw.
fn audit_trust(trust: &TrustArgs) -> Result<Trust> {
    if trust.insecure {
        return Ok(Trust::CaptureOnly(None));
    }
    Ok(Trust::CaptureOnly(Some(roots::load(trust)?)))
}

fn seen(pulled: &Pulled) -> Option<Seen> {
    Some(Seen {
        leaf: pulled.summaries.first()?.clone(),
        verdict: pulled.outcome.verdict.clone(),
        protocol: pulled.outcome.protocol_name(),
    })
}

fn local_row(outputs: &Outputs, now: u64, thresholds: Thresholds) -> Row {
    let label = format!("local:{}", outputs.lineage().display());
    let result = outputs.read().and_then(|on_disk| {
        let installed = Installed::from_files(&on_disk.slots(outputs))
            .ok_or_else(|| CliError::usage("no installed certificate"))?;
        Ok(Seen {
            leaf: installed.leaf,
            verdict: Verdict::NotChecked,
            protocol: "file",
        })
    });
    let health = match &result {
        Ok(seen) => fleet::expiry_health(&seen.leaf, now, thresholds),
        Err(_) => Health::Critical,
    };
    Row {
        label,
        result,
        health,
        behind: false,
    }
}

fn audit(subject: &Subject, args: &CheckArgs, thresholds: Thresholds) -> Result<Audit> {
    let request = pull::Request::new(
        subject.name.clone(),
        audit_trust(&subject.trust)?,
        subject.starttls,
    );
    let results = concurrent::pull_all(
        &request,
        &subject.endpoints,
        Deadlines::PerEndpoint(args.timeout),
        usize::from(args.concurrency),
        pull::class_of,
        &Progress::labelled(&subject.name),
    );
    let now = unix_now();
    let mut rows: Vec<Row> = results
        .into_iter()
        .map(|(label, result)| {
            let result = result.and_then(|pulled| {
                seen(&pulled).ok_or_else(|| CliError::usage("the server sent no certificate"))
            });
            let health = match &result {
                Ok(seen) => fleet::chain_health(&seen.leaf, &seen.verdict, now, thresholds),
                Err(_) => Health::Critical,
            };
            Row {
                label,
                result,
                health,
                behind: false,
            }
        })
        .collect();
    if let Some(outputs) = &subject.local {
        rows.push(local_row(outputs, now, thresholds));
    }
    let leaves: Vec<Option<&CertSummary>> = rows
        .iter()
        .map(|row| row.result.as_ref().ok().map(|seen| &seen.leaf))
        .collect();
    let groups = fleet::group_by_leaf(&leaves);
    let behind: Vec<usize> = groups
        .iter()
        .skip(1)
        .flat_map(|group| group.endpoints.iter().copied())
        .collect();
    for index in &behind {
        if let Some(row) = rows.get_mut(*index) {
            row.behind = true;
        }
    }
    let mut health = rows
        .iter()
        .map(|r| r.health)
        .max()
        .unwrap_or(Health::Unknown);
    if groups.len() > 1 {
        health = health.max(Health::Warning);
    }
    Ok(Audit {
        name: subject.name.clone(),
        distinct_leaves: groups.len(),
        rows,
        health,
    })
}

fn check(args: &CheckArgs) -> Result<Health> {
    let thresholds = Thresholds {
        warning_days: args.thresholds.warn_days,
        critical_days: args.thresholds.crit_days,
    };
    let started = std::time::Instant::now();
    let audits = subjects(args)?
        .iter()
        .map(|subject| audit(subject, args, thresholds))
        .collect::<Result<Vec<_>>>()?;
    let health = audits
        .iter()
        .map(|a| a.health)
        .max()
        .unwrap_or(Health::Unknown);
    if let Some(path) = &args.prometheus {
        prometheus::write(path, &audits, unix_now(), started.elapsed())?;
    }
    if args.json {
        report::print_json(&audits, health)?;
    } else {
        report::print_table(&audits, health);
    }
    Ok(health)
}
