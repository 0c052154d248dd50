//! One run per certificate at a time: an advisory lock on a file beside its outputs.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::Duration;

use crate::exit::{Class, CliError, Result};
use crate::layout::Outputs;
use crate::net::Deadline;

/// Held for the whole sync of one certificate; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// `.certpull-NAME.lock` in the certificate's directory (created if needed).
pub fn path(outputs: &Outputs, name: &str) -> PathBuf {
    outputs.lineage().join(format!(".certpull-{name}.lock"))
}

/// Waits for the certificate's lock until the deadline.
pub fn acquire(outputs: &Outputs, name: &str, deadline: Deadline) -> Result<LockGuard> {
    let path = path(outputs, name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::new(
                Class::Write,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            CliError::new(
                Class::Write,
                format!("cannot open lock {}: {e}", path.display()),
            )
        })?;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(LockGuard { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(CliError::new(
                    Class::Write,
                    format!("cannot lock {}: {e}", path.display()),
                ))
            }
        }
        if deadline.remaining().is_err() {
            return Err(CliError::new(
                Class::Lock,
                format!(
                    "{name}: another certpull run holds {}; gave up after {}",
                    path.display(),
                    humantime::format_duration(deadline.budget())
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
