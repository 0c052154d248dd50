//! `certpull demo`: the whole story on 127.0.0.1, with no internet and nothing to set up.
//!
//! A throw-away CA issues a chain; TLS servers on 127.0.0.1 play the fleet. The follower runs
//! exactly what its cron job would (`certpull sync`): first install, the renewal picked up from
//! the peer that renewed while a stale peer is passed over, a quiet run when nothing changed,
//! and an impostor refused with nothing touched.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certpull_core::pem;
use certpull_core::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

use crate::cli::{DemoArgs, TrustArgs};
use crate::exit::{Class, CliError, Result};
use crate::layout::Outputs;
use crate::net::Endpoint;
use crate::pki::{self, ThrowawayCa};
use crate::pull;
use crate::sync::{self, Job};

const NAME: &str = "www.demo.certpull.test";

pub fn run(args: &DemoArgs) -> Result<()> {
    let temp;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| internal(format!("{}: {e}", dir.display())))?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().map_err(|e| internal(e.to_string()))?;
            temp.path().to_path_buf()
        }
    };
    println!(
        "certpull demo: everything happens on 127.0.0.1 and in {}\n",
        dir.display()
    );

    let ca = ThrowawayCa::new("certpull demo")?;
    let key = pki::new_key()?;
    let ca_file = write(
        &dir.join("ca.pem"),
        pem::encode_certificate(&ca.root).as_bytes(),
    )?;
    let key_file = write(&dir.join("key.pem"), key.serialize_pem().as_bytes())?;
    let old_chain = ca.issue(NAME, &key, 60, 30)?;
    let new_chain = ca.issue(NAME, &key, 0, 90)?;
    let stale = serve(old_chain, pki::private_key_der(&key))?;
    println!(
        "The fleet for {NAME}; every machine holds the same key ({}):",
        key_file.display()
    );
    println!("  {stale}  serves the current chain (expires in 30 days)");

    let live = dir.join("live").join(NAME);
    let hook_log = dir.join("deploy-hook.log");
    let mut job = Job {
        name: NAME.to_string(),
        sources: vec![endpoint(stale)?],
        key: Some(key_file),
        outputs: Outputs::new(Some(&live), None, None, None),
        deploy_hook: Some(format!(
            "echo \"reload the web server for $RENEWED_DOMAINS (expires $CERTPULL_NOT_AFTER)\" >> '{}'",
            hook_log.display()
        )),
        allow_downgrade: false,
        backup: false,
        timeout: Duration::from_secs(10),
        trust: TrustArgs {
            ca_files: vec![ca_file.clone()],
            ..TrustArgs::default()
        },
        starttls: None,
    };

    step(
        1,
        "The follower's first run installs the chain and runs the deploy hook",
        &job,
    );
    sync_and_report(&job)?;

    let renewed = serve(new_chain, pki::private_key_der(&key))?;
    println!(
        "\n  {renewed}  renews (same key, expires in 90 days); {stale} still serves the old chain"
    );
    job.sources.push(endpoint(renewed)?);
    step(
        2,
        "The next run pulls from both peers: the newest valid chain wins",
        &job,
    );
    sync_and_report(&job)?;

    step(
        3,
        "Nothing changed since: the cron run is silent, writes nothing, runs no hook",
        &job,
    );
    let before = modified(&live)?;
    sync_and_report(&job)?;
    if modified(&live)? != before {
        return Err(internal("an up-to-date run rewrote the files".into()));
    }
    println!("  (no output; files untouched)");

    let impostor_ca = ThrowawayCa::new("certpull demo impostor")?;
    let impostor_key = pki::new_key()?;
    let impostor_chain = impostor_ca.issue(NAME, &impostor_key, 0, 365)?;
    let impostor = serve(impostor_chain, pki::private_key_der(&impostor_key))?;
    println!("\n  {impostor}  an impostor serves a look-alike chain from another CA and key");
    job.sources = vec![endpoint(impostor)?];
    step(
        4,
        "A pull from the impostor is refused, and nothing is touched",
        &job,
    );
    match sync_and_report(&job) {
        Err(error) if error.class == Class::Validation => {
            println!("  refused (exit code {}): {error}", error.class.code())
        }
        Err(error) => return Err(error),
        Ok(()) => return Err(internal("the impostor's chain was accepted".into())),
    }
    if modified(&live)? != before {
        return Err(internal("a refused chain touched the files".into()));
    }

    println!("\nInstalled in {}:", live.display());
    for name in ["cert.pem", "chain.pem", "fullchain.pem"] {
        let text = std::fs::read(live.join(name)).map_err(|e| internal(e.to_string()))?;
        let certs = pem::decode_certificates(&text)
            .map(|c| c.len())
            .unwrap_or(0);
        println!("  {name:<14} {certs} certificate(s)");
    }
    let log = std::fs::read_to_string(&hook_log).unwrap_or_default();
    println!("Deploy hook ran {} time(s):", log.lines().count());
    for line in log.lines() {
        println!("  {line}");
    }
    if args.keep.is_none() {
        println!("\nThe temporary directory is removed; keep it with --keep DIR.");
    }
    Ok(())
}

fn step(number: u32, what: &str, job: &Job) {
    let sources: Vec<String> = job.sources.iter().map(|s| format!("--from {s}")).collect();
    println!("\n{number}. {what}:");
    println!(
        "  $ certpull sync {NAME} {} --key key.pem --ca-file ca.pem --out-dir live/{NAME} --deploy-hook ...",
        sources.join(" ")
    );
}

fn sync_and_report(job: &Job) -> Result<()> {
    let report = sync::run_job(job);
    for source in &report.sources {
        println!("  source {}", source.one_line());
    }
    sync::print_reports(std::slice::from_ref(&report), false, false)?;
    match report.error() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn endpoint(address: SocketAddr) -> Result<Endpoint> {
    Endpoint::parse(&address.to_string(), 443)
}

fn internal(message: String) -> CliError {
    CliError::new(Class::Internal, message)
}

fn write(path: &Path, contents: &[u8]) -> Result<PathBuf> {
    std::fs::write(path, contents).map_err(|e| internal(format!("{}: {e}", path.display())))?;
    Ok(path.to_path_buf())
}

fn modified(dir: &Path) -> Result<Vec<std::time::SystemTime>> {
    ["cert.pem", "chain.pem", "fullchain.pem"]
        .iter()
        .map(|name| {
            std::fs::metadata(dir.join(name))
                .and_then(|m| m.modified())
                .map_err(|e| internal(e.to_string()))
        })
        .collect()
}

/// Serves `chain` on an ephemeral 127.0.0.1 port from a background thread, for as long as the
/// demo runs.
fn serve(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<SocketAddr> {
    let config = ServerConfig::builder_with_provider(pull::provider())
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| internal(format!("demo server: {e}")))?;
    let config = Arc::new(config);
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| internal(format!("demo server: {e}")))?;
    let address = listener.local_addr().map_err(|e| internal(e.to_string()))?;
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            let Ok(mut conn) = ServerConnection::new(config.clone()) else {
                continue;
            };
            let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
            while conn.is_handshaking() {
                if conn.complete_io(&mut socket).is_err() {
                    break;
                }
            }
            // Flush the last flight (alerts included); the client closes.
            let _ = conn.complete_io(&mut socket);
        }
    });
    Ok(address)
}
