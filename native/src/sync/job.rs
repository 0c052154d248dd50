//! One certificate to keep in step: where to pull it from, what to check, where to put it.

use std::path::PathBuf;
use std::time::Duration;

use certpull_core::policy::{self, Decision, Installed, KeyReference, PolicyOptions, Selection};
use certpull_core::{LocalKey, Protocol, PullError, ValidationFailure};

use super::install;
use super::lock;
use super::report::{JobOutcome, JobReport, SourceReport};
use crate::cli::{default_port, SyncArgs, TrustArgs};
use crate::concurrent::{self, Deadlines};
use crate::exit::{Class, CliError, Result};
use crate::layout::Outputs;
use crate::net::{Deadline, Endpoint};
use crate::output::unix_now;
use crate::progress::Progress;
use crate::pull;

/// Sources pulled at once, at most.
const SOURCES_AT_ONCE: usize = 16;

/// A leaf that is not valid yet is a refusal for `sync` (the renewing peer is early, or its
/// clock is): the policy's rule, though rustls' verifier is the one that notices it first.
fn class_of(error: &PullError) -> Class {
    match error {
        PullError::Rejected(rejected)
            if matches!(rejected.failure, ValidationFailure::NotYetValid { .. }) =>
        {
            Class::Refused
        }
        other => pull::class_of(other),
    }
}

/// Everything `sync` needs to know about one certificate.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub sources: Vec<Endpoint>,
    pub key: Option<PathBuf>,
    pub outputs: Outputs,
    pub deploy_hook: Option<String>,
    pub allow_downgrade: bool,
    pub backup: bool,
    pub timeout: Duration,
    pub trust: TrustArgs,
    pub starttls: Option<Protocol>,
}

impl Job {
    pub fn from_args(args: &SyncArgs) -> Result<Self> {
        let name = args
            .name
            .clone()
            .ok_or_else(|| CliError::usage("a certificate NAME is required (or --config)"))?;
        let job = Self {
            sources: args
                .from
                .iter()
                .map(|text| Endpoint::parse(text, default_port(args.starttls)))
                .collect::<Result<_>>()?,
            key: args.key.clone(),
            outputs: Outputs::from_args(&args.files),
            deploy_hook: args.deploy_hook.clone(),
            allow_downgrade: args.allow_downgrade,
            backup: args.backup,
            timeout: args.timeout,
            trust: args.trust.clone(),
            starttls: args.starttls,
            name,
        };
        job.check()?;
        Ok(job)
    }

    /// What can be told wrong before touching the network.
    pub fn check(&self) -> Result<()> {
        pull::server_name(&self.name)?;
        if self.sources.is_empty() {
            return Err(CliError::usage(format!(
                "{}: no source to pull from (--from)",
                self.name
            )));
        }
        if self.outputs.is_empty() {
            return Err(CliError::usage(format!(
                "{}: nowhere to install (--out-dir, --cert, --chain or --fullchain)",
                self.name
            )));
        }
        Ok(())
    }
}

/// Runs one certificate's sync to a report; never panics, never stops the other certificates.
pub fn run(job: &Job) -> JobReport {
    let mut report = JobReport::new(&job.name, job.key.is_some());
    report.outcome = match sync(job, &mut report.sources) {
        Ok(outcome) => outcome,
        // Every line names its certificate, so a run over many stays readable.
        Err(error) if !error.message.starts_with(&job.name) => JobOutcome::Failed(CliError::new(
            error.class,
            format!("{}: {}", job.name, error.message),
        )),
        Err(error) => JobOutcome::Failed(error),
    };
    report
}

fn load_key(path: &PathBuf) -> Result<LocalKey> {
    let mut text = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read key {}: {e}", path.display())))?;
    let key = LocalKey::from_pem(&text, &pull::provider());
    zeroize::Zeroize::zeroize(&mut text);
    key.map_err(|e| CliError::usage(format!("key {}: {e}", path.display())))
}

fn sync(job: &Job, source_reports: &mut Vec<SourceReport>) -> Result<JobOutcome> {
    let deadline = Deadline::after(job.timeout);
    let key = job.key.as_ref().map(load_key).transpose()?;
    let request = pull::Request::new(
        job.name.clone(),
        crate::fetch::trust(&job.trust)?,
        job.starttls,
    );
    let options = PolicyOptions {
        allow_downgrade: job.allow_downgrade,
        allow_unvalidated: job.trust.insecure,
    };

    let _lock = lock::acquire(&job.outputs, &job.name, deadline)?;
    let on_disk = job.outputs.read()?;
    let installed = Installed::from_files(&on_disk.slots(&job.outputs));
    let key_reference = match &key {
        Some(key) => KeyReference::Local(key),
        None => KeyReference::InstalledLeaf,
    };

    let pulls = concurrent::pull_all(
        &request,
        &job.sources,
        Deadlines::Shared(deadline),
        SOURCES_AT_ONCE,
        class_of,
        &Progress::hidden(),
    );
    let now = unix_now();
    let mut decisions = Vec::new();
    let mut pulled = Vec::new();
    for (address, result) in pulls {
        match result {
            Ok(chain) => {
                let decision = policy::decide(
                    &chain.candidate(),
                    installed.as_ref(),
                    key_reference,
                    now,
                    options,
                );
                let not_after = chain.summaries.first().map_or(0, |leaf| leaf.not_after);
                source_reports.push(SourceReport::decided(&address, &decision, &chain, now));
                decisions.push((decision, not_after));
                pulled.push(chain);
            }
            Err(error) => source_reports.push(SourceReport::failed(&address, error)),
        }
    }

    match policy::select(&decisions) {
        Selection::Install(index) => {
            let chain = &pulled[index];
            let Decision::Install(reason) = decisions[index].0 else {
                return Err(CliError::new(
                    Class::Internal,
                    "selected a chain not to install",
                ));
            };
            install::install(job, chain, reason, &on_disk)
        }
        Selection::UpToDate(index) => Ok(JobOutcome::UpToDate {
            source: pulled[index].address.to_string(),
        }),
        Selection::Nothing => Err(no_installable_chain(&job.name, source_reports)),
    }
}

/// Every source failed or was refused: the class is that of the failure that got furthest.
fn no_installable_chain(name: &str, sources: &[SourceReport]) -> CliError {
    let class = sources
        .iter()
        .map(SourceReport::class)
        .max_by_key(|class| class.severity())
        .unwrap_or(Class::Network);
    let details: Vec<String> = sources.iter().map(SourceReport::one_line).collect();
    CliError::new(
        class,
        format!(
            "{name}: no source gave an installable chain: {}",
            details.join("; ")
        ),
    )
}
