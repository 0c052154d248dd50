//! Real STARTTLS servers from Debian packages — Postfix, Dovecot, slapd, PostgreSQL, MariaDB,
//! Prosody, vsftpd — each started by a test on 127.0.0.1 (ephemeral ports) with a private
//! configuration in its own temporary directory, serving a [`ServerCert`], and stopped by pid
//! when dropped.
//!
//! As root, each daemon runs as its package's system user (`postgres`, `mysql`, `openldap`, …)
//! with its own copy of the key (mode 0600, owned by that user), or drops privileges itself as
//! it does in production. Run as another user, the daemons that can run as that user do; Postfix
//! cannot (its `master` is reserved for the superuser) and is skipped with a note.
//!
//! Every `start` function returns `None`, after printing why on stderr, when the daemon is not
//! installed; the tests then pass without checking anything, unless `CERTPULL_REQUIRE_DAEMONS=1`
//! (which `scripts/test.sh` sets, after installing every package) makes that a failure.

pub mod ftp;
pub mod ldap;
pub mod mail;
pub mod sql;
pub mod xmpp;

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::pki::ServerCert;
use crate::servers::{pid_listens_on, LOCALHOST_V4};

/// How long a daemon gets to listen on all its ports.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a daemon gets to exit after its stop signal before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many sets of ports are tried (another process may take a port we picked).
const START_ATTEMPTS: usize = 6;
/// What daemons write when a port we picked was taken meanwhile.
const PORT_TAKEN: [&str; 3] = ["in use", "could not bind", "failed to open server port"];

/// Whether a daemon is configured with the test certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// TLS configured with the certificate's key and full chain.
    Enabled,
    /// No TLS at all (the daemon's STARTTLS is absent or refused).
    Disabled,
}

/// A system account (from `/etc/passwd`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The account `name`, if it exists.
pub fn account(name: &str) -> Option<Account> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() <= 3 || f[0] != name {
            return None;
        }
        Some(Account {
            name: name.to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
        })
    })
}

/// True if this process's effective user is root.
pub fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

/// The account a daemon runs as: `name` when we are root (and it exists), else ourselves.
pub fn daemon_account(name: &str) -> Option<Account> {
    if is_root() {
        Some(account(name).unwrap_or_else(|| panic!("system user {name} missing")))
    } else {
        None
    }
}

/// The first of `candidates` that exists.
pub fn find_binary(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Set (to `1`) by `scripts/test.sh`: a daemon that cannot be started fails its test instead of
/// skipping it, so that the suite CI runs cannot pass without checking anything.
pub const REQUIRE_DAEMONS: &str = "CERTPULL_REQUIRE_DAEMONS";

/// Prints why a test checks nothing, and returns `None`; panics instead when
/// [`REQUIRE_DAEMONS`] is set.
pub fn skip<T>(test_note: &str) -> Option<T> {
    if std::env::var_os(REQUIRE_DAEMONS).is_some_and(|v| v == "1") {
        panic!("{test_note} ({REQUIRE_DAEMONS}=1: every daemon must run)");
    }
    eprintln!("SKIPPED: {test_note}");
    None
}

/// `binary` if installed, else a note naming the Debian package and `None`.
pub fn require(what: &str, candidates: &[&str], package: &str) -> Option<PathBuf> {
    find_binary(candidates).or_else(|| {
        skip(&format!(
            "{what} is not installed (looked for {candidates:?}; apt-get install {package})"
        ))
    })
}

/// The daemon's private directory, and helpers to put files in it.
pub struct ServerDir {
    dir: TempDir,
    owner: Option<Account>,
}

impl ServerDir {
    /// A fresh directory (mode 0755) for a daemon that runs as `owner` (`None`: as ourselves).
    fn new(what: &str, owner: Option<Account>) -> ServerDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("certpull-{what}-"))
            .tempdir()
            .expect("daemon tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod 0755");
        ServerDir { dir, owner }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `DIR/rel`.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The account the daemon runs as (`None`: ourselves).
    pub fn owner(&self) -> Option<&Account> {
        self.owner.as_ref()
    }

    /// Gives `path` to the daemon's account (no-op when it runs as ourselves).
    pub fn chown(&self, path: &Path) {
        if let Some(a) = &self.owner {
            std::os::unix::fs::chown(path, Some(a.uid), Some(a.gid))
                .unwrap_or_else(|e| panic!("chown {} {}: {e}", a.name, path.display()));
        }
    }

    /// Creates `DIR/rel` (mode `mode`), owned by the daemon's account.
    pub fn mkdir(&self, rel: &str, mode: u32) -> PathBuf {
        let path = self.join(rel);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod dir");
        self.chown(&path);
        path
    }

    /// Writes `DIR/rel` (mode 0644, owned by us: daemons only read their configuration).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.join(rel);
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
        path
    }

    /// The daemon's copy of `cert`: `DIR/tls/{key,cert,chain,fullchain}.pem`, the key mode 0600,
    /// everything owned by the daemon's account.
    pub fn tls_files(&self, cert: &ServerCert) -> TlsFiles {
        let tls = self.mkdir("tls", 0o755);
        let files = TlsFiles {
            key: tls.join("key.pem"),
            cert: tls.join("cert.pem"),
            chain: tls.join("chain.pem"),
            fullchain: tls.join("fullchain.pem"),
        };
        for (from, to, mode) in [
            (&cert.key, &files.key, 0o600),
            (&cert.cert, &files.cert, 0o644),
            (&cert.chain, &files.chain, 0o644),
            (&cert.fullchain, &files.fullchain, 0o644),
        ] {
            fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
            fs::set_permissions(to, fs::Permissions::from_mode(mode)).expect("chmod");
            self.chown(to);
        }
        files
    }
}

/// A daemon's copy of the certificate files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub chain: PathBuf,
    /// Leaf then intermediates: what the daemon is configured to serve.
    pub fullchain: PathBuf,
}

/// How to run a configured daemon.
pub struct Launch {
    pub command: Command,
    /// Where the daemon writes the pid of the process holding its listening sockets, when that
    /// is not the process started (Postfix's `master`, under `postfix-script`).
    pub pid_file: Option<PathBuf>,
    /// The signal that stops it cleanly (`TERM`, or `INT` for PostgreSQL's fast shutdown).
    pub stop_signal: &'static str,
}

impl Launch {
    /// `program ARGS`, run as the directory's owner, stopped with SIGTERM.
    pub fn new(dir: &ServerDir, program: &Path) -> Launch {
        let mut command = Command::new(program);
        command.current_dir(dir.path());
        if let Some(a) = dir.owner() {
            // std calls setgroups(0) before setuid when it starts as root.
            command.uid(a.uid).gid(a.gid);
        }
        Launch {
            command,
            pid_file: None,
            stop_signal: "TERM",
        }
    }

    /// `program ARGS` run as ourselves (a daemon that drops privileges itself).
    pub fn as_invoker(dir: &ServerDir, program: &Path) -> Launch {
        let mut command = Command::new(program);
        command.current_dir(dir.path());
        Launch {
            command,
            pid_file: None,
            stop_signal: "TERM",
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Launch {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Launch {
        self.command.env(key, value);
        self
    }

    pub fn pid_file(mut self, path: PathBuf) -> Launch {
        self.pid_file = Some(path);
        self
    }

    pub fn stop_signal(mut self, signal: &'static str) -> Launch {
        self.stop_signal = signal;
        self
    }
}

/// A running daemon, stopped (its stop signal, then SIGKILL after [`STOP_TIMEOUT`]) by pid
/// when dropped.
pub struct Daemon {
    what: &'static str,
    child: Child,
    /// The process holding the listening sockets: the child, or the pid from the pid file.
    server_pid: u32,
    listeners: Vec<(&'static str, SocketAddr)>,
    stop_signal: &'static str,
    log: PathBuf,
    // Dropped after the process is stopped (fields drop after `Drop::drop`).
    dir: ServerDir,
}

impl Daemon {
    /// The address of the listener for `service` (as named at start, e.g. `"imap"`).
    pub fn addr(&self, service: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("{} has no {service} listener", self.what))
    }

    /// `127.0.0.1:PORT` of the first (usually only) listener.
    pub fn connect_arg(&self) -> String {
        self.listeners[0].1.to_string()
    }

    /// `127.0.0.1:PORT` of the listener for `service`.
    pub fn connect_arg_of(&self, service: &str) -> String {
        self.addr(service).to_string()
    }

    /// The pid of the process holding the listening sockets.
    pub fn pid(&self) -> u32 {
        self.server_pid
    }

    /// The daemon's directory (configuration, data, copy of the key).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the daemon wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A description for assertion messages: what, pid, listeners, and the log's tail.
    pub fn describe(&self) -> String {
        let log = self.log();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{} (pid {}) on {:?}; last log lines:\n{}",
            self.what,
            self.server_pid,
            self.listeners,
            tail.join("\n")
        )
    }

    fn child_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("what", &self.what)
            .field("pid", &self.server_pid)
            .field("listeners", &self.listeners)
            .finish()
    }
}

/// `kill -SIGNAL PID` (the shell's builtin: no procps needed).
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{signal} {pid} 2>/dev/null"))
        .status();
}

fn pid_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; its state is Z.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let child_pid = self.child.id();
        signal(self.server_pid, self.stop_signal);
        let start = Instant::now();
        while start.elapsed() < STOP_TIMEOUT {
            let server_gone = self.server_pid == child_pid || !pid_alive(self.server_pid);
            if !self.child_running() && server_gone {
                return;
            }
            sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{} (pid {}) ignored SIG{} for {STOP_TIMEOUT:?}: killing it",
            self.what, self.server_pid, self.stop_signal
        );
        signal(self.server_pid, "KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` distinct ports that were free a moment ago on 127.0.0.1.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind(SocketAddr::new(LOCALHOST_V4, 0)).expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local_addr").port())
        .collect()
}

/// Why one start attempt failed.
enum Failure {
    PortTaken(String),
    Fatal(String),
}

/// Starts a daemon with listeners named `services` on fresh ports of 127.0.0.1: `configure`
/// writes its configuration into the directory for the given ports (one per service, in order)
/// and says how to run it. Waits until the daemon's own process listens on every port; retries
/// with other ports if one was taken meanwhile.
pub fn start(
    what: &'static str,
    owner: Option<Account>,
    services: &[&'static str],
    mut configure: impl FnMut(&ServerDir, &[u16]) -> Launch,
) -> Daemon {
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        let dir = ServerDir::new(what, owner.clone());
        let ports = free_ports(services.len());
        let launch = configure(&dir, &ports);
        let listeners = services
            .iter()
            .zip(&ports)
            .map(|(s, p)| (*s, SocketAddr::new(LOCALHOST_V4, *p)))
            .collect();
        match spawn(what, dir, listeners, launch) {
            Ok(daemon) => return daemon,
            Err(Failure::PortTaken(log)) => last = log,
            Err(Failure::Fatal(msg)) => panic!("{msg}"),
        }
    }
    panic!("{what} failed to start {START_ATTEMPTS} times (ports taken); last log:\n{last}")
}

fn spawn(
    what: &'static str,
    dir: ServerDir,
    listeners: Vec<(&'static str, SocketAddr)>,
    launch: Launch,
) -> Result<Daemon, Failure> {
    let log = dir.join("daemon.log");
    let log_file = File::create(&log).expect("create daemon log");
    let Launch {
        mut command,
        pid_file,
        stop_signal,
    } = launch;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file.try_clone().expect("dup log")))
        .stderr(Stdio::from(log_file));
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what} ({command:?}): {e}"));
    let server_pid = child.id();
    let mut daemon = Daemon {
        what,
        child,
        server_pid,
        listeners,
        stop_signal,
        log,
        dir,
    };
    let start = Instant::now();
    loop {
        let log = daemon.log();
        let taken = PORT_TAKEN.iter().any(|p| log.to_lowercase().contains(p));
        if !daemon.child_running() {
            let status = daemon.child.try_wait().ok().flatten();
            return Err(if taken {
                Failure::PortTaken(log)
            } else {
                Failure::Fatal(format!(
                    "{what} exited at start ({status:?}): {command:?}\nlog:\n{log}"
                ))
            });
        }
        if taken {
            // Some daemons (Prosody) keep running without the port: stop it (on drop), retry.
            return Err(Failure::PortTaken(log));
        }
        if let Some(file) = &pid_file {
            if let Some(pid) = fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
            {
                daemon.server_pid = pid;
            }
        }
        if daemon
            .listeners
            .iter()
            .all(|(_, a)| pid_listens_on(daemon.server_pid, a.port()))
        {
            return Ok(daemon);
        }
        if start.elapsed() > START_TIMEOUT {
            return Err(Failure::Fatal(format!(
                "{what} did not listen on {:?} within {START_TIMEOUT:?}: {command:?}\nlog:\n{log}",
                daemon.listeners
            )));
        }
        sleep(Duration::from_millis(20));
    }
}

/// Runs a setup command (e.g. `initdb`) to completion as `owner`, panicking with its output if
/// it fails.
pub fn run_setup(what: &str, owner: Option<&Account>, mut command: Command) {
    if let Some(a) = owner {
        command.uid(a.uid).gid(a.gid);
    }
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {what} ({command:?}): {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {command:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
