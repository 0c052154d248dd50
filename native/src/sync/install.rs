//! Installing a chosen chain: optional backup, staged files, renames, then the deploy hook.

use std::time::Duration;

use certpull_core::policy::InstallReason;

use super::hook;
use super::job::Job;
use super::report::JobOutcome;
use crate::exit::{Class, CliError, Result};
use crate::files::{self, FileSet};
use crate::layout::OnDisk;
use crate::pull::Pulled;

/// Test-only fault injection: the integration tests set it to stop or fail an install at a
/// chosen point. Nothing else should.
const FAULT_VARIABLE: &str = "CERTPULL_TEST_FAULT";

fn fault(point: &str) -> bool {
    std::env::var(FAULT_VARIABLE).is_ok_and(|value| value == point)
}

/// Stalls long enough for a test to kill the process at this point.
fn stall_if(point: &str) {
    if fault(point) {
        std::thread::sleep(Duration::from_secs(300));
    }
}

pub fn install(
    job: &Job,
    pulled: &Pulled,
    reason: InstallReason,
    on_disk: &OnDisk,
) -> Result<JobOutcome> {
    for path in job.outputs.paths() {
        files::remove_stale_staging(path);
    }
    let mut set = FileSet::new();
    if job.backup && reason != InstallReason::Repair {
        for (path, old) in on_disk.existing(&job.outputs) {
            let mut backup = path.as_os_str().to_owned();
            backup.push(".prev");
            set.stage(backup.as_ref(), old)?;
        }
    }
    if fault("fail-stage") {
        return Err(CliError::new(
            Class::Write,
            format!(
                "cannot write {}: No space left on device (injected by {FAULT_VARIABLE})",
                job.outputs.lineage().display()
            ),
        ));
    }
    for (path, contents) in job.outputs.contents(&pulled.outcome.chain) {
        set.stage(&path, contents.as_bytes())?;
    }
    stall_if("stall-before-rename");
    set.commit_observed(|renamed| {
        if renamed == 1 {
            stall_if("stall-after-first-rename");
        }
    })?;

    let hook = job
        .deploy_hook
        .as_ref()
        .map(|command| hook::run(command, job, pulled));
    let leaf = pulled.summaries.first();
    Ok(JobOutcome::Installed {
        reason,
        source: pulled.address.to_string(),
        not_after: leaf.map(|l| l.not_after_text.clone()).unwrap_or_default(),
        sha256: leaf
            .map(|l| certpull_core::hex::encode(&l.sha256))
            .unwrap_or_default(),
        hook,
    })
}
