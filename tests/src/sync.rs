//! `certpull sync` fixtures: a follower's installed certificate directory (certbot's layout),
//! snapshots of its files, a deploy hook that records each run, the command line, runs stopped
//! in the middle of an install, and a private mount namespace for what root cannot otherwise be
//! denied (a read-only directory, another `/etc/hosts`).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use time::OffsetDateTime;

use crate::chain::{assert_same_chain, pem_file_to_ders, sha256_hex};
use crate::cli::{certpull_bin, prepare, run_limited, tempdir, Run, FAULT_VARIABLE, HARD_LIMIT};
use crate::pki::{ServerCert, TestPki};

/// certbot's files, in the order `sync` renames them into place.
pub const FILES: [&str; 3] = ["cert.pem", "chain.pem", "fullchain.pem"];

/// Days left on the follower's installed leaf in a [`Scenario`].
pub const INSTALLED_DAYS: i64 = 30;
/// Days left on a renewal in a [`Scenario`].
pub const RENEWED_DAYS: i64 = 89;

/// The fault injection points of `CERTPULL_TEST_FAULT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Sleeps 300 s after staging every file, before any rename.
    StallBeforeRename,
    /// Sleeps 300 s after the first rename (cert.pem without `--backup`).
    StallAfterFirstRename,
    /// Fails with an injected "No space left on device" before staging.
    FailStage,
}

impl Fault {
    pub fn value(self) -> &'static str {
        match self {
            Fault::StallBeforeRename => "stall-before-rename",
            Fault::StallAfterFirstRename => "stall-after-first-rename",
            Fault::FailStage => "fail-stage",
        }
    }
}

/// Writes `cert`'s leaf, intermediates and full chain into `dir` (created if needed), as certbot
/// leaves them: `cert.pem`, `chain.pem`, `fullchain.pem`.
pub fn install_files(dir: &Path, cert: &ServerCert) {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    for (file, text) in [
        ("cert.pem", cert.cert_pem()),
        ("chain.pem", cert.chain_pem()),
        ("fullchain.pem", cert.fullchain_pem.clone()),
    ] {
        fs::write(dir.join(file), text).expect("write installed file");
    }
}

/// What each certbot file must hold for `cert`, byte for byte.
pub fn expected_contents(cert: &ServerCert) -> [(&'static str, String); 3] {
    [
        ("cert.pem", cert.cert_pem()),
        ("chain.pem", cert.chain_pem()),
        ("fullchain.pem", cert.fullchain_pem.clone()),
    ]
}

/// Asserts `dir`'s three files hold `cert`'s served chain: the same certificates (DER) and the
/// same bytes as the PEM the server was given.
#[track_caller]
pub fn assert_installed(dir: &Path, cert: &ServerCert, context: &str) {
    assert_same_chain(
        &pem_file_to_ders(&dir.join("cert.pem")),
        &cert.served[..1],
        &format!("cert.pem ({context})"),
    );
    assert_same_chain(
        &pem_file_to_ders(&dir.join("chain.pem")),
        &cert.served[1..],
        &format!("chain.pem ({context})"),
    );
    assert_same_chain(
        &pem_file_to_ders(&dir.join("fullchain.pem")),
        &cert.served,
        &format!("fullchain.pem ({context})"),
    );
    for (file, expected) in expected_contents(cert) {
        let actual = fs::read_to_string(dir.join(file)).expect("read installed file");
        assert!(
            actual == expected,
            "{file} ({context}) is not byte-for-byte the served PEM\n--- got:\n{actual}\n--- expected:\n{expected}"
        );
    }
}

/// Whatever can describe itself in an assertion message: a finished [`Run`], a
/// [`Background`] run, or plain text.
pub trait Describe {
    fn describe(&self) -> String;
}

impl Describe for Run {
    fn describe(&self) -> String {
        Run::describe(self)
    }
}

impl Describe for Background {
    fn describe(&self) -> String {
        Background::describe(self)
    }
}

impl Describe for str {
    fn describe(&self) -> String {
        self.to_string()
    }
}

/// One file's contents and identity, to tell "not touched" from "rewritten with the same bytes".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    pub bytes: Vec<u8>,
    pub ino: u64,
    pub mode: u32,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileState {
    /// The file's state (`None` if it does not exist). Symlinks are followed.
    pub fn of(path: &Path) -> Option<FileState> {
        let meta = fs::metadata(path).ok()?;
        Some(FileState {
            bytes: fs::read(path).ok()?,
            ino: meta.ino(),
            mode: meta.mode(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

/// The state of a set of files at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    files: Vec<(PathBuf, Option<FileState>)>,
}

impl Snapshot {
    /// `dir`'s certbot files.
    pub fn of_dir(dir: &Path) -> Snapshot {
        Self::of(&FILES.map(|f| dir.join(f)))
    }

    /// These files.
    pub fn of(paths: &[PathBuf]) -> Snapshot {
        Snapshot {
            files: paths
                .iter()
                .map(|p| (p.clone(), FileState::of(p)))
                .collect(),
        }
    }

    /// Asserts every file is as it was: same bytes, same inode, same mtime and ctime.
    #[track_caller]
    pub fn assert_unchanged(&self, run: &(impl Describe + ?Sized)) {
        for (path, before) in &self.files {
            let after = FileState::of(path);
            let name = path.display();
            match (before, &after) {
                (Some(b), Some(a)) => {
                    assert!(
                        a.bytes == b.bytes,
                        "{name} was changed\n--- before:\n{}\n--- after:\n{}\n{}",
                        String::from_utf8_lossy(&b.bytes),
                        String::from_utf8_lossy(&a.bytes),
                        run.describe()
                    );
                    assert_eq!(
                        (a.ino, a.mtime, a.ctime),
                        (b.ino, b.mtime, b.ctime),
                        "{name} was rewritten (inode, mtime, ctime) though its bytes are the same\n{}",
                        run.describe()
                    );
                }
                (None, None) => {}
                _ => panic!(
                    "{name}: existed before: {}, exists after: {}\n{}",
                    before.is_some(),
                    after.is_some(),
                    run.describe()
                ),
            }
        }
    }

    /// The state of `path` when the snapshot was taken.
    pub fn state(&self, path: &Path) -> Option<&FileState> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, s)| s.as_ref())
    }
}

/// The staged temporary files (`.certpull-*.tmp`) in `dir`.
pub fn staged_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".certpull-") && n.ends_with(".tmp"))
        })
        .collect();
    v.sort();
    v
}

/// A deploy hook that appends its environment (`RENEWED_*`, `CERTPULL_*`) to a log, one
/// record per run.
pub struct HookLog {
    dir: TempDir,
}

impl Default for HookLog {
    fn default() -> Self {
        Self::new()
    }
}

const HOOK_RECORD: &str = "--- hook run";

impl HookLog {
    pub fn new() -> HookLog {
        HookLog {
            dir: tempfile::Builder::new()
                .prefix("certpull-hook-")
                .tempdir()
                .expect("hook tempdir"),
        }
    }

    /// The log file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("hook.log")
    }

    /// The `--deploy-hook` command.
    pub fn command(&self) -> String {
        format!(
            "{{ echo '{HOOK_RECORD}'; env | grep -E '^(RENEWED_|CERTPULL_)' | sort; }} >> '{}'",
            self.path().display()
        )
    }

    /// Each run's environment, in order.
    pub fn runs(&self) -> Vec<BTreeMap<String, String>> {
        let text = fs::read_to_string(self.path()).unwrap_or_default();
        let mut runs = Vec::new();
        for line in text.lines() {
            if line == HOOK_RECORD {
                runs.push(BTreeMap::new());
            } else if let (Some(run), Some((k, v))) = (runs.last_mut(), line.split_once('=')) {
                run.insert(k.to_string(), v.to_string());
            }
        }
        runs
    }

    /// Asserts the hook never ran.
    #[track_caller]
    pub fn assert_not_run(&self, run: &(impl Describe + ?Sized)) {
        let runs = self.runs();
        assert!(
            runs.is_empty(),
            "the deploy hook must not run, but ran {} time(s): {runs:?}\n{}",
            runs.len(),
            run.describe()
        );
    }

    /// Asserts the hook ran exactly `n` times; returns the last run's environment.
    #[track_caller]
    pub fn assert_runs(
        &self,
        n: usize,
        run: &(impl Describe + ?Sized),
    ) -> BTreeMap<String, String> {
        let runs = self.runs();
        assert_eq!(
            runs.len(),
            n,
            "the deploy hook should have run {n} time(s): {runs:?}\n{}",
            run.describe()
        );
        runs.last().cloned().unwrap_or_default()
    }
}

/// A `certpull sync` command line.
#[derive(Clone, Debug)]
pub struct SyncCommand {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    cwd: Option<PathBuf>,
}

impl SyncCommand {
    /// `certpull sync NAME`.
    pub fn new(name: &str) -> SyncCommand {
        SyncCommand {
            args: vec!["sync".into(), name.into()],
            envs: Vec::new(),
            cwd: None,
        }
    }

    /// `certpull sync --config FILE`.
    pub fn config(file: &Path) -> SyncCommand {
        SyncCommand {
            args: vec!["sync".into(), "--config".into(), path_arg(file)],
            envs: Vec::new(),
            cwd: None,
        }
    }

    /// Adds `ARGS`.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds `--from ADDR`.
    pub fn from(self, addr: impl Display) -> Self {
        self.args(["--from".to_string(), addr.to_string()])
    }

    /// Adds `--key FILE`.
    pub fn key(self, key: &Path) -> Self {
        self.args(["--key".to_string(), path_arg(key)])
    }

    /// Adds `--out-dir DIR`.
    pub fn out_dir(self, dir: &Path) -> Self {
        self.args(["--out-dir".to_string(), path_arg(dir)])
    }

    /// Adds `--ca-file FILE`.
    pub fn ca_file(self, ca: &Path) -> Self {
        self.args(["--ca-file".to_string(), path_arg(ca)])
    }

    /// Adds `--deploy-hook CMD`.
    pub fn hook(self, command: &str) -> Self {
        self.args(["--deploy-hook", command])
    }

    /// Adds `--timeout T` (later occurrences win with clap, so this replaces an earlier one).
    pub fn timeout(mut self, timeout: &str) -> Self {
        if let Some(i) = self.args.iter().position(|a| a == "--timeout") {
            self.args[i + 1] = timeout.to_string();
            return self;
        }
        self.args(["--timeout", timeout])
    }

    /// Removes an option and its value (e.g. `--key`).
    pub fn without(mut self, option: &str) -> Self {
        while let Some(i) = self.args.iter().position(|a| a == option) {
            self.args.drain(i..(i + 2).min(self.args.len()));
        }
        self
    }

    /// Sets `CERTPULL_TEST_FAULT`.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.envs
            .push((FAULT_VARIABLE.to_string(), fault.value().to_string()));
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// The arguments after `certpull`.
    pub fn arg_list(&self) -> &[String] {
        &self.args
    }

    fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Runs to completion (killed after the harness's hard limit).
    pub fn run(&self) -> Run {
        let mut cmd = Command::new(certpull_bin());
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        run_limited(cmd, &self.args, HARD_LIMIT, &self.env_pairs())
    }

    /// Runs inside a private mount namespace after `setup` (shell commands, e.g. bind mounts)
    /// succeeded there; `None` if this machine cannot make one (see [`can_unshare_mounts`]).
    pub fn run_in_mount_namespace(&self, setup: &str) -> Option<Run> {
        if !can_unshare_mounts() {
            return None;
        }
        let mut cmd = Command::new("unshare");
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let script = format!("set -e; {setup}; exec \"$0\" \"$@\"");
        let mut args = vec![
            "-m".to_string(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            script,
            path_arg(&certpull_bin()),
        ];
        args.extend(self.args.iter().cloned());
        Some(run_limited(cmd, &args, HARD_LIMIT, &self.env_pairs()))
    }

    /// Starts in the background (stdout and stderr to files), for runs a test stops itself.
    pub fn spawn(&self) -> Background {
        let logs = tempfile::Builder::new()
            .prefix("certpull-bg-")
            .tempdir()
            .expect("background tempdir");
        let stdout = logs.path().join("stdout");
        let stderr = logs.path().join("stderr");
        let mut cmd = Command::new(certpull_bin());
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        prepare(&mut cmd, &self.env_pairs());
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("stdout file"))
            .stderr(File::create(&stderr).expect("stderr file"));
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Background {
            child,
            args: self.args.clone(),
            envs: self.envs.clone(),
            stdout,
            stderr,
            started: Instant::now(),
            _logs: logs,
        }
    }
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A `certpull` run in the background; SIGKILLed (by pid) when dropped if still running.
pub struct Background {
    child: Child,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    stdout: PathBuf,
    stderr: PathBuf,
    started: Instant,
    _logs: TempDir,
}

impl Background {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything about the run so far, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "background certpull {:?} env {:?} (pid {}, {:?} ago)\n  stdout: {:?}\n  stderr: {:?}",
            self.args,
            self.envs,
            self.child.id(),
            self.started.elapsed(),
            fs::read_to_string(&self.stdout).unwrap_or_default(),
            fs::read_to_string(&self.stderr).unwrap_or_default(),
        )
    }

    /// Polls `condition` until it holds; panics (with the run's output) if the process ends
    /// first or `limit` passes.
    #[track_caller]
    pub fn wait_until(&mut self, what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if condition() {
                return;
            }
            if !self.is_running() {
                panic!(
                    "certpull ended before {what}: {:?}\n{}",
                    self.child.try_wait(),
                    self.describe()
                );
            }
            if start.elapsed() > limit {
                panic!(
                    "{what} did not happen within {limit:?}\n{}",
                    self.describe()
                );
            }
            sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to end by itself (SIGKILL after `limit`), as a finished [`Run`].
    pub fn wait(&mut self, limit: Duration) -> Run {
        let start = Instant::now();
        let mut killed = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for certpull") {
                break status;
            }
            if start.elapsed() > limit {
                killed = true;
                break self.kill9();
            }
            sleep(Duration::from_millis(5));
        };
        let run = Run {
            args: self.args.clone(),
            code: status.code(),
            status,
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
            elapsed: self.started.elapsed(),
            killed_by_harness: killed,
        };
        eprintln!("{}", run.describe());
        run
    }

    /// SIGKILL, then reap; returns the status (killed by signal 9).
    pub fn kill9(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("reap killed certpull")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill9();
        }
    }
}

/// True if this process may create a private mount namespace (`unshare -m`) and bind-mount
/// in it (root with CAP_SYS_ADMIN).
pub fn can_unshare_mounts() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        let dir = tempdir();
        let d = dir.path().display();
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}' && ! touch '{d}/x' 2>/dev/null"
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `chattr +i DIR` for as long as the guard lives: even root cannot create, remove or rename
/// entries in it. `None` if the file system does not support it (or it does not stop root).
pub struct Immutable {
    dir: PathBuf,
}

impl Immutable {
    pub fn set(dir: &Path) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let guard = Immutable {
            dir: dir.to_path_buf(),
        };
        // Prove it: root must not be able to create an entry.
        let probe = dir.join(".certpull-immutable-probe");
        if File::create(&probe).is_ok() {
            let _ = fs::remove_file(&probe);
            return None;
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.dir).status();
    }
}

/// A follower with an older chain installed, and a PKI to issue what its peers serve.
pub struct Scenario {
    pub pki: TestPki,
    /// The chain installed on the follower (expires in [`INSTALLED_DAYS`] days).
    pub installed: ServerCert,
    /// A renewal of it (same key and names, expires in [`RENEWED_DAYS`] days).
    pub renewed: ServerCert,
    /// Records each deploy hook run.
    pub hook: HookLog,
    out: TempDir,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    /// ECDSA P-256 leaf for [`crate::TEST_NAME`], installed, and its renewal.
    pub fn new() -> Scenario {
        Self::named(crate::TEST_NAME)
    }

    /// ECDSA P-256 leaf for `name`, installed, and its renewal.
    pub fn named(name: &str) -> Scenario {
        let pki = TestPki::new();
        let installed = pki.issue(&crate::pki::LeafSpec::fresh(
            &[name],
            crate::KeyKind::EcdsaP256,
            INSTALLED_DAYS,
        ));
        Self::with_installed(pki, installed)
    }

    /// `installed` (issued by `pki`) is installed; its renewal is issued.
    pub fn with_installed(pki: TestPki, installed: ServerCert) -> Scenario {
        let renewed = pki.renewal(&installed, RENEWED_DAYS);
        let out = tempdir();
        install_files(out.path(), &installed);
        Scenario {
            pki,
            installed,
            renewed,
            hook: HookLog::new(),
            out,
        }
    }

    /// The follower's certificate directory.
    pub fn out_dir(&self) -> &Path {
        self.out.path()
    }

    /// The follower's `cert.pem`, `chain.pem`, `fullchain.pem`.
    pub fn paths(&self) -> [PathBuf; 3] {
        FILES.map(|f| self.out_dir().join(f))
    }

    /// The state of the follower's files now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::of_dir(self.out_dir())
    }

    /// `certpull sync NAME --from SOURCE --key KEY --out-dir DIR --ca-file ROOT --deploy-hook
    /// HOOK --timeout 5s`.
    pub fn sync(&self, source: impl Display) -> SyncCommand {
        SyncCommand::new(&self.installed.name)
            .from(source)
            .key(&self.installed.key)
            .out_dir(self.out_dir())
            .ca_file(&self.pki.ca_file)
            .hook(&self.hook.command())
            .timeout("5s")
    }

    /// Asserts a refused or failed run: exit `code`, one `certpull: ` line on stderr, no
    /// stdout, files untouched since `before`, no hook run, no staged file left behind.
    #[track_caller]
    pub fn assert_nothing_changed(&self, run: &Run, code: i32, before: &Snapshot) {
        run.assert_code(code)
            .assert_one_line_error()
            .assert_no_stdout();
        before.assert_unchanged(run);
        self.hook.assert_not_run(run);
        let staged = staged_files(self.out_dir());
        assert!(
            staged.is_empty(),
            "staged files left behind: {staged:?}\n{}",
            run.describe()
        );
    }
}

/// `notAfter` as certpull prints it (`2026-03-04T00:00:00Z`): whole seconds, UTC.
pub fn rfc3339_seconds(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Lowercase hex SHA-256 of `cert`'s leaf.
pub fn leaf_sha256(cert: &ServerCert) -> String {
    sha256_hex(cert.leaf_der())
}
