//! Real TLS servers (`openssl s_server`, nginx) on ephemeral loopback ports, stopped on drop.

use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::pki::ServerCert;

/// How long a server gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How many ports are tried before giving up (another process may take a port we picked).
const START_ATTEMPTS: usize = 8;

/// The TLS versions a server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    /// Whatever the server offers by default (TLS 1.2 and 1.3 here).
    Any,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// The name certpull reports in `--json` (`protocol_version`), if the version is forced.
    pub fn json_name(self) -> Option<&'static str> {
        match self {
            TlsVersion::Any => None,
            TlsVersion::Tls12 => Some("TLSv1.2"),
            TlsVersion::Tls13 => Some("TLSv1.3"),
        }
    }

    fn openssl_flag(self) -> Option<&'static str> {
        match self {
            TlsVersion::Any => None,
            TlsVersion::Tls12 => Some("-tls1_2"),
            TlsVersion::Tls13 => Some("-tls1_3"),
        }
    }

    fn nginx_protocols(self) -> &'static str {
        match self {
            TlsVersion::Any => "TLSv1.2 TLSv1.3",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
}

/// `127.0.0.1`.
pub const LOCALHOST_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// `::1`.
pub const LOCALHOST_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// A port that was free a moment ago on `ip` (bind to port 0, read it, release it).
pub fn free_port(ip: IpAddr) -> io::Result<u16> {
    let l = TcpListener::bind(SocketAddr::new(ip, 0))?;
    Ok(l.local_addr()?.port())
}

/// True if a socket can be bound on `::1` (IPv6 loopback configured).
pub fn ipv6_loopback_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// A running server process, killed (SIGKILL, by pid) when dropped.
pub struct ServerProcess {
    child: Child,
    /// The address the server listens on.
    pub addr: SocketAddr,
    log: PathBuf,
    what: &'static str,
    _dir: TempDir,
}

impl ServerProcess {
    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The value for `--connect`: `127.0.0.1:PORT` or `[::1]:PORT`.
    pub fn connect_arg(&self) -> String {
        self.addr.to_string()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to its log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl std::fmt::Debug for ServerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerProcess")
            .field("what", &self.what)
            .field("pid", &self.child.id())
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `openssl s_server` on 127.0.0.1 serving `cert` (leaf via `-cert`, intermediates via
/// `-cert_chain`), offering only `version` when forced.
pub fn start_openssl(cert: &ServerCert, version: TlsVersion) -> ServerProcess {
    start_openssl_on(LOCALHOST_V4, cert, version)
}

/// Like [`start_openssl`], on `ip` (e.g. [`LOCALHOST_V6`]).
pub fn start_openssl_on(ip: IpAddr, cert: &ServerCert, version: TlsVersion) -> ServerProcess {
    start_with_retries("openssl s_server", ip, |_dir, addr| {
        openssl_command(addr, cert, version)
    })
}

fn openssl_command(addr: SocketAddr, cert: &ServerCert, version: TlsVersion) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_server")
        .arg("-accept")
        .arg(addr.to_string())
        .arg("-cert")
        .arg(&cert.cert)
        .arg("-key")
        .arg(&cert.key)
        // Answer HTTP GETs with a status page; never reads stdin.
        .arg("-www")
        .arg("-quiet");
    if cert.has_intermediates() {
        cmd.arg("-cert_chain").arg(&cert.chain);
    }
    if let Some(flag) = version.openssl_flag() {
        cmd.arg(flag);
    }
    cmd
}

/// Start `openssl s_server` on exactly `addr` (e.g. a well-known port), once.
pub fn start_openssl_at(
    addr: SocketAddr,
    cert: &ServerCert,
    version: TlsVersion,
) -> Result<ServerProcess, StartFailure> {
    spawn_once("openssl s_server", addr, &mut |_dir: &Path, addr| {
        openssl_command(addr, cert, version)
    })
}

/// Start nginx (single process, foreground) on 127.0.0.1 serving `cert.fullchain`.
pub fn start_nginx(cert: &ServerCert, version: TlsVersion) -> ServerProcess {
    start_nginx_on(LOCALHOST_V4, cert, version)
}

/// Like [`start_nginx`], on `ip`.
pub fn start_nginx_on(ip: IpAddr, cert: &ServerCert, version: TlsVersion) -> ServerProcess {
    start_with_retries("nginx", ip, |dir, addr| {
        let conf = dir.join("nginx.conf");
        fs::write(&conf, nginx_conf(dir, addr, cert, version)).expect("write nginx.conf");
        let mut cmd = Command::new(nginx_binary());
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"));
        cmd
    })
}

fn nginx_binary() -> PathBuf {
    for p in [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("nginx")
}

fn nginx_conf(dir: &Path, addr: SocketAddr, cert: &ServerCert, version: TlsVersion) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {addr} ssl;
        server_name {name};
        ssl_certificate {fullchain};
        ssl_certificate_key {key};
        ssl_protocols {protocols};
        location / {{ return 200 "certpull test nginx\n"; }}
    }}
}}
"#,
        name = cert.name,
        fullchain = cert.fullchain.display(),
        key = cert.key.display(),
        protocols = version.nginx_protocols(),
    )
}

/// Pick a port, start the process, wait until *that* process listens on it; on failure
/// (the port was taken meanwhile) retry with another port.
fn start_with_retries(
    what: &'static str,
    ip: IpAddr,
    mut make: impl FnMut(&Path, SocketAddr) -> Command,
) -> ServerProcess {
    let mut last_log = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port(ip).unwrap_or_else(|e| panic!("bind {ip}:0: {e}"));
        match spawn_once(what, SocketAddr::new(ip, port), &mut make) {
            Ok(server) => return server,
            Err(StartFailure::PortInUse(log)) => last_log = log,
            Err(StartFailure::Other(msg)) => panic!("{msg}"),
        }
    }
    panic!("{what} failed to start {START_ATTEMPTS} times; last log:\n{last_log}")
}

/// Why a server did not start.
#[derive(Debug)]
pub enum StartFailure {
    /// The address was taken (the server's log).
    PortInUse(String),
    /// Anything else (a description with the log).
    Other(String),
}

/// Start the process on exactly `addr`, once.
fn spawn_once(
    what: &'static str,
    addr: SocketAddr,
    make: &mut impl FnMut(&Path, SocketAddr) -> Command,
) -> Result<ServerProcess, StartFailure> {
    let dir = tempfile::Builder::new()
        .prefix("certpull-server-")
        .tempdir()
        .expect("server tempdir");
    let log = dir.path().join("server.log");
    let log_file = File::create(&log).expect("create server log");
    let mut cmd = make(dir.path(), addr);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(log_file.try_clone().expect("dup log")))
        .stderr(Stdio::from(log_file));
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what} ({cmd:?}): {e}"));
    let mut server = ServerProcess {
        child,
        addr,
        log,
        what,
        _dir: dir,
    };
    match wait_listening(&mut server, START_TIMEOUT) {
        Ok(()) => Ok(server),
        Err(StartError::Exited) => {
            let log = server.log();
            if log.contains("in use") {
                Err(StartFailure::PortInUse(log))
            } else {
                Err(StartFailure::Other(format!(
                    "{what} exited at start on {addr}; log:\n{log}"
                )))
            }
        }
        Err(StartError::Timeout) => Err(StartFailure::Other(format!(
            "{what} did not listen on {addr} within {START_TIMEOUT:?}; log:\n{}",
            server.log()
        ))),
    }
}

enum StartError {
    Exited,
    Timeout,
}

fn wait_listening(server: &mut ServerProcess, timeout: Duration) -> Result<(), StartError> {
    let start = Instant::now();
    loop {
        if !server.is_running() {
            return Err(StartError::Exited);
        }
        if pid_listens_on(server.pid(), server.addr.port()) {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(StartError::Timeout);
        }
        sleep(Duration::from_millis(20));
    }
}

/// True if process `pid` holds a TCP socket in LISTEN state on `port` (Linux `/proc`). This
/// proves the port belongs to our process and not to some other test's server.
pub fn pid_listens_on(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .ok()
            .and_then(|t| {
                let t = t.to_string_lossy().into_owned();
                t.strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                    .map(str::to_owned)
            })
            .is_some_and(|inode| inodes.contains(&inode))
    })
}

/// Inodes of sockets listening on `port` (any address, IPv4 or IPv6).
fn listening_inodes(port: u16) -> Vec<String> {
    let port_hex = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() > 9 && f[1].ends_with(&port_hex) && f[3] == "0A" {
                inodes.push(f[9].to_string());
            }
        }
    }
    inodes
}

/// Run `openssl s_client` against `addr` with SNI `name`, trusting `ca`; returns its combined
/// output and whether it verified the chain (`Verify return code: 0 (ok)`).
pub fn openssl_s_client(addr: SocketAddr, name: &str, ca: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        .arg("-servername")
        .arg(name)
        .arg("-verify_hostname")
        .arg(name)
        .arg("-CAfile")
        .arg(ca)
        .arg("-showcerts")
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text.contains("Verify return code: 0 (ok)"), text)
}
