//! Running the real `certpull` binary and asserting on what it did.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::chain::pem_to_ders;

/// Exit codes of the CLI contract.
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NETWORK: i32 = 3;
    pub const TIMEOUT: i32 = 4;
    pub const PROTOCOL: i32 = 5;
    pub const VALIDATION: i32 = 6;
    pub const WRITE: i32 = 7;
    /// `sync`: the policy refused every chain (key mismatch, downgrade, dates).
    pub const REFUSED: i32 = 8;
    /// `sync`: installed, but the deploy hook failed.
    pub const HOOK: i32 = 9;
    /// `sync`: another run holds the certificate's lock past the deadline.
    pub const LOCK: i32 = 10;
}

/// A run is killed by the harness after this long (a hang is a failure, not a stuck suite).
pub const HARD_LIMIT: Duration = Duration::from_secs(60);

/// The `certpull` binary: `$CERTPULL_BIN` if set, else `target/<profile>/certpull` next to the
/// test executable (which lives in `target/<profile>/deps/`).
pub fn certpull_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CERTPULL_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(format!("certpull{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "certpull binary not found at {}: build it first (`cargo build -p certpull`) or set CERTPULL_BIN",
        bin.display()
    );
    bin
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// Exit code (`None` if killed by a signal, including by the harness).
    pub code: Option<i32>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// True if the harness had to kill it after [`HARD_LIMIT`].
    pub killed_by_harness: bool,
}

/// Run `certpull ARGS...` with stdin closed, capturing stdout and stderr.
pub fn certpull<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_limit(Command::new(certpull_bin()), args, HARD_LIMIT)
}

/// The binary's test-only fault injection variable (`stall-before-rename`,
/// `stall-after-first-rename`, `fail-stage`).
pub const FAULT_VARIABLE: &str = "CERTPULL_TEST_FAULT";

/// Run `certpull ARGS...` like [`certpull`], with `envs` added to its environment.
pub fn certpull_with_env<I, S>(envs: &[(&str, &str)], args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_limited(Command::new(certpull_bin()), args, HARD_LIMIT, envs)
}

/// Run a command, killing it after `limit`.
pub fn run_with_limit<I, S>(cmd: Command, args: I, limit: Duration) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_limited(cmd, args, limit, &[])
}

/// The environment every run of the binary gets: no colour, no logging, no trust or fault
/// settings inherited from the caller; then `envs`.
pub fn prepare(cmd: &mut Command, envs: &[(&str, &str)]) {
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove(FAULT_VARIABLE);
    for (key, value) in envs {
        cmd.env(key, value);
    }
}

/// Run a command with `envs` (after [`prepare`]), killing it after `limit`.
pub fn run_limited<I, S>(cmd: Command, args: I, limit: Duration, envs: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_limited_with_stdin(cmd, args, limit, envs, None)
}

/// [`run_limited`], with `stdin` (if any) written to the command's standard input, then closed;
/// without it standard input is `/dev/null`.
pub fn run_limited_with_stdin<I, S>(
    mut cmd: Command,
    args: I,
    limit: Duration,
    envs: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    prepare(&mut cmd, envs);
    cmd.args(&args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let writer = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut input)) => {
            let bytes = bytes.to_vec();
            Some(thread::spawn(move || {
                // The binary may stop reading early (an error): a broken pipe is not the test's
                // concern.
                let _ = input.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let mut out = child.stdout.take().expect("stdout pipe");
    let mut err = child.stderr.take().expect("stderr pipe");
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for certpull") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            killed = true;
            break child.wait().expect("wait for killed certpull");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let stdout = String::from_utf8_lossy(&out_t.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().expect("stderr reader")).into_owned();
    let run = Run {
        args,
        code: status.code(),
        status,
        stdout,
        stderr,
        elapsed,
        killed_by_harness: killed,
    };
    // Captured by the test harness: shown for failing tests or with --nocapture.
    eprintln!("{}", run.describe());
    run
}

/// `certpull fetch NAME --connect ADDR EXTRA...`.
pub fn fetch(name: &str, connect: &str, extra: &[&str]) -> Run {
    let mut args = vec!["fetch", name, "--connect", connect];
    args.extend_from_slice(extra);
    certpull(args)
}

impl Run {
    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "certpull {:?}\n  exit: {:?}{}\n  elapsed: {:?}\n  stdout: {:?}\n  stderr: {:?}",
            self.args,
            self.code,
            if self.killed_by_harness {
                " (killed by the test harness: hung)"
            } else {
                ""
            },
            self.elapsed,
            truncate(&self.stdout, 2000),
            truncate(&self.stderr, 2000),
        )
    }

    /// Assert the exit code.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    /// Assert success with nothing on stderr.
    #[track_caller]
    pub fn assert_ok_quiet_stderr(&self) -> &Self {
        self.assert_code(exit::OK);
        assert!(
            self.stderr.is_empty(),
            "expected nothing on stderr\n{}",
            self.describe()
        );
        self
    }

    /// Assert the contract's error shape: exit `code`, exactly one line on stderr starting with
    /// `certpull: ` that mentions (case-insensitively) at least one of `causes`.
    #[track_caller]
    pub fn assert_error(&self, code: i32, causes: &[&str]) -> &Self {
        self.assert_code(code);
        self.assert_one_line_error();
        let lower = self.stderr.to_lowercase();
        assert!(
            causes.iter().any(|c| lower.contains(&c.to_lowercase())),
            "stderr should name the cause (one of {causes:?})\n{}",
            self.describe()
        );
        self
    }

    /// Assert stderr is exactly one line starting with `certpull: `.
    #[track_caller]
    pub fn assert_one_line_error(&self) -> &Self {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("certpull: "),
            "stderr should be exactly one line starting with \"certpull: \"\n{}",
            self.describe()
        );
        self
    }

    /// Assert nothing was printed on stdout.
    #[track_caller]
    pub fn assert_no_stdout(&self) -> &Self {
        assert!(
            self.stdout.is_empty(),
            "expected nothing on stdout\n{}",
            self.describe()
        );
        self
    }

    /// Assert the run ended (by itself) in less than `bound`.
    #[track_caller]
    pub fn assert_finished_within(&self, bound: Duration) -> &Self {
        assert!(
            !self.killed_by_harness && self.elapsed < bound,
            "expected the run to end within {bound:?}\n{}",
            self.describe()
        );
        self
    }

    /// stdout parsed as a PEM chain (DER list).
    pub fn stdout_chain(&self) -> Vec<Vec<u8>> {
        pem_to_ders(&self.stdout)
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.describe()))
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_string()
    } else {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…[{} more bytes]", &s[..end], s.len() - end)
    }
}

/// Names of the entries of `dir` (sorted), for "no file written" assertions.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// Assert `dir` is empty.
#[track_caller]
pub fn assert_dir_empty(dir: &Path, run: &Run) {
    let entries = dir_entries(dir);
    assert!(
        entries.is_empty(),
        "no file should be written in {} but found {entries:?}\n{}",
        dir.display(),
        run.describe()
    );
}

/// A fresh empty temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("certpull-out-")
        .tempdir()
        .expect("tempdir")
}
