//! The deploy hook: run by `sh -c` only after a change was installed, with certbot's
//! environment (`RENEWED_LINEAGE`, `RENEWED_DOMAINS`) and certpull's own `CERTPULL_*`.

use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::job::Job;
use crate::pull::Pulled;

/// How much of the hook's stderr is kept for the report.
const STDERR_TAIL: usize = 2048;

/// How the hook ended.
#[derive(Debug, Clone)]
pub struct HookReport {
    pub command: String,
    /// The exit status; `None` when it could not be started or was killed by a signal.
    pub status: Option<i32>,
    /// The end of what it wrote to stderr (also passed through to certpull's stderr).
    pub stderr: String,
    /// Why it could not be started, if it could not.
    pub spawn_error: Option<String>,
}

impl HookReport {
    pub fn succeeded(&self) -> bool {
        self.status == Some(0)
    }

    /// One line: how it failed and the last line it wrote on stderr.
    pub fn failure(&self) -> String {
        let how = match (&self.spawn_error, self.status) {
            (Some(error), _) => format!("could not be started: {error}"),
            (None, Some(code)) => format!("exited with status {code}"),
            (None, None) => "was killed by a signal".to_string(),
        };
        match self.stderr.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) => format!("{how}: {}", last.trim()),
            None => how,
        }
    }
}

fn path_text(path: Option<&Path>) -> String {
    let Some(path) = path else {
        return String::new();
    };
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// The hook's environment.
pub fn environment(job: &Job, pulled: &Pulled) -> Vec<(&'static str, String)> {
    let leaf = pulled.summaries.first();
    let outputs = &job.outputs;
    vec![
        ("RENEWED_LINEAGE", path_text(Some(&outputs.lineage()))),
        (
            "RENEWED_DOMAINS",
            leaf.map(|l| l.dns_names.join(" ")).unwrap_or_default(),
        ),
        ("CERTPULL_NAME", job.name.clone()),
        ("CERTPULL_CERT", path_text(outputs.cert.as_deref())),
        ("CERTPULL_CHAIN", path_text(outputs.chain.as_deref())),
        (
            "CERTPULL_FULLCHAIN",
            path_text(outputs.fullchain.as_deref()),
        ),
        (
            "CERTPULL_NOT_AFTER",
            leaf.map(|l| l.not_after_text.clone()).unwrap_or_default(),
        ),
        ("CERTPULL_SOURCE", pulled.address.to_string()),
        (
            "CERTPULL_SHA256",
            leaf.map(|l| certpull_core::hex::encode(&l.sha256))
                .unwrap_or_default(),
        ),
    ]
}

/// Runs the hook to completion. Its stdout goes to certpull's stderr (so that `--json` output
/// stays clean and cron still mails it); its stderr is passed through and kept for the report.
pub fn run(command: &str, job: &Job, pulled: &Pulled) -> HookReport {
    let mut report = HookReport {
        command: command.to_string(),
        status: None,
        stderr: String::new(),
        spawn_error: None,
    };
    let stdout = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    };
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .envs(environment(job, pulled))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            report.spawn_error = Some(error.to_string());
            return report;
        }
    };
    let mut captured = Vec::new();
    if let Some(mut stderr) = child.stderr.take() {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buffer) {
            let chunk = &buffer[..n];
            eprint!("{}", String::from_utf8_lossy(chunk));
            captured.extend_from_slice(chunk);
            if captured.len() > 2 * STDERR_TAIL {
                captured.drain(..captured.len() - STDERR_TAIL);
            }
        }
    }
    match child.wait() {
        Ok(status) => report.status = status.code(),
        Err(error) => report.spawn_error = Some(error.to_string()),
    }
    let tail = captured.len().saturating_sub(STDERR_TAIL);
    report.stderr = String::from_utf8_lossy(&captured[tail..]).into_owned();
    report
}
