//! `certpull sync`: pull from every source, let the core's policy decide, install atomically,
//! run the deploy hook on change only. Quiet when nothing changed.

pub mod config;
mod hook;
mod install;
mod job;
mod lock;
pub mod report;

use crate::cli::SyncArgs;
use crate::exit::{CliError, Result};

pub use job::{run as run_job, Job};
pub use report::print as print_reports;

pub fn run(args: &SyncArgs) -> Result<()> {
    let jobs = match &args.config {
        Some(path) => config::load(path, &config::Defaults::from(args))?,
        None => vec![Job::from_args(args)?],
    };
    let reports: Vec<report::JobReport> = jobs.iter().map(job::run).collect();
    print_reports(&reports, args.verbose, args.json)?;
    match reports
        .iter()
        .filter_map(report::JobReport::error)
        .max_by_key(|error| error.class.severity())
    {
        Some(worst) if reports.len() == 1 => Err(CliError::new(worst.class, worst.message.clone())),
        // Every failure was already printed on its own line; the exit code is the worst's.
        Some(worst) => Err(CliError::new(worst.class, String::new())),
        None => Ok(()),
    }
}
