//! Pulling through a STARTTLS preamble: certpull against the real daemons of [`crate::daemons`],
//! and `openssl s_client -starttls` as an independent check of those fixtures.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::chain::{assert_same_chain, pem_file_to_ders, pem_to_ders};
use crate::cli::{exit, fetch, tempdir, Run};
use crate::daemons::Daemon;
use crate::pki::ServerCert;

/// `certpull fetch NAME --connect ADDR --starttls PROTO --ca-file CA --timeout 10s EXTRA...`.
pub fn fetch_starttls(name: &str, connect: &str, proto: &str, ca: &Path, extra: &[&str]) -> Run {
    let ca = ca.to_string_lossy().into_owned();
    let mut args = vec!["--starttls", proto, "--ca-file", &ca, "--timeout", "10s"];
    args.extend_from_slice(extra);
    fetch(name, connect, &args)
}

/// The chain `daemon` was configured with: its copy of the full chain (`tls/fullchain.pem` in
/// its directory), as DER, leaf first.
pub fn configured_chain(daemon: &Daemon) -> Vec<Vec<u8>> {
    pem_file_to_ders(&daemon.dir().join("tls/fullchain.pem"))
}

/// `certpull fetch NAME --connect ADDR --starttls PROTO --ca-file CA --out-dir DIR` succeeds
/// quietly and writes `fullchain.pem` equal (as a DER list) to the chain `daemon` was configured
/// with, which is `cert`'s served chain; `cert.pem` and `chain.pem` split it.
#[track_caller]
pub fn assert_pulls_configured_chain(
    daemon: &Daemon,
    service: &str,
    proto: &str,
    cert: &ServerCert,
) -> Run {
    let out = tempdir();
    let dir = out.path().to_string_lossy().into_owned();
    let run = fetch_starttls(
        &cert.name,
        &daemon.connect_arg_of(service),
        proto,
        &cert.ca,
        &["--out-dir", &dir],
    );
    assert!(
        run.code == Some(exit::OK) && run.stderr.is_empty() && run.stdout.is_empty(),
        "certpull should pull the chain through {proto} STARTTLS quietly\n{}\n{}",
        run.describe(),
        daemon.describe()
    );
    let configured = configured_chain(daemon);
    assert_same_chain(&configured, &cert.served, "the daemon's configured chain");
    assert_same_chain(
        &pem_file_to_ders(&out.path().join("fullchain.pem")),
        &configured,
        &format!("fullchain.pem pulled from {proto}"),
    );
    assert_same_chain(
        &pem_file_to_ders(&out.path().join("cert.pem")),
        &configured[..1],
        "cert.pem",
    );
    assert_same_chain(
        &pem_file_to_ders(&out.path().join("chain.pem")),
        &configured[1..],
        "chain.pem",
    );
    run
}

/// A STARTTLS failure as the contract has it: exit 5 (protocol), nothing on stdout, one
/// `certpull: ` line naming `NAME at ADDR`, `protocol error`, the protocol (`smtp: `), the
/// failed step (e.g. `EHLO`) and at least one of `causes` (case-insensitively).
#[track_caller]
pub fn assert_starttls_failure(
    run: &Run,
    daemon: &Daemon,
    proto: &str,
    step: &str,
    causes: &[&str],
) {
    let context = format!("{}\n{}", run.describe(), daemon.describe());
    assert_eq!(
        run.code,
        Some(exit::PROTOCOL),
        "exit code 5 (protocol)\n{context}"
    );
    assert!(run.stdout.is_empty(), "nothing on stdout\n{context}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("certpull: "),
        "one line on stderr starting with \"certpull: \"\n{context}"
    );
    let line = lines[0];
    for needed in ["protocol error", &format!("{proto}: "), step] {
        assert!(
            line.contains(needed),
            "stderr should contain {needed:?}\n{context}"
        );
    }
    let lower = line.to_lowercase();
    assert!(
        causes.iter().any(|c| lower.contains(&c.to_lowercase())),
        "stderr should name the cause (one of {causes:?})\n{context}"
    );
}

/// What `openssl s_client -starttls` saw.
#[derive(Debug)]
pub struct SClient {
    /// `Verify return code: 0 (ok)` for the name and the CA file.
    pub verified: bool,
    /// The chain shown (`-showcerts`), DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// stdout and stderr.
    pub output: String,
}

/// `openssl s_client -connect ADDR -starttls PROTO -servername NAME -verify_hostname NAME
/// -CAfile CA -showcerts` (and `-xmpphost NAME` for XMPP), stdin closed.
pub fn s_client_starttls(addr: SocketAddr, proto: &str, name: &str, ca: &Path) -> SClient {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        .args(["-starttls", proto])
        .args(["-servername", name, "-verify_hostname", name])
        .arg("-CAfile")
        .arg(ca)
        .arg("-showcerts");
    if proto == "xmpp" {
        cmd.args(["-xmpphost", name]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let output = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    SClient {
        verified: output.contains("Verify return code: 0 (ok)"),
        chain: pem_to_ders(&stdout),
        output,
    }
}
