//! `certpull demo`: the whole story on 127.0.0.1, with no internet and nothing to set up.
//!
//! A throw-away CA issues a chain; a TLS server on 127.0.0.1 plays "the machine that renewed";
//! certpull pulls from it exactly as `fetch` does and installs the chain in certbot's layout.
//! Then an impostor with a look-alike chain from another CA is refused, and nothing is written.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certpull_core::{pem, Trust};
use rustls::{RootCertStore, ServerConfig, ServerConnection};

use crate::cli::DemoArgs;
use crate::exit::{Class, CliError, Result};
use crate::files::FileSet;
use crate::net::{Deadline, Endpoint};
use crate::output;
use crate::pki::ThrowawayPki;
use crate::pull;

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
        "certpull demo: everything happens on 127.0.0.1 and in {}",
        dir.display()
    );
    let pki = ThrowawayPki::generate("certpull demo", NAME, 90)?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, pem::encode_certificate(&pki.root))
        .map_err(|e| internal(format!("{}: {e}", ca_file.display())))?;
    println!(
        "1. A throw-away CA issued a 90-day chain for {NAME}; its root is in {}",
        ca_file.display()
    );

    let renewed = serve(&pki)?;
    println!("2. A TLS server on {renewed} plays the machine that renewed the certificate.");

    let mut roots = RootCertStore::empty();
    roots
        .add(pki.root.clone())
        .map_err(|e| internal(format!("demo root: {e}")))?;
    let roots = Arc::new(roots);
    let live = dir.join("live").join(NAME);
    let endpoint = Endpoint::parse(&renewed.to_string(), 443)?;
    let started = std::time::Instant::now();
    let pulled = pull::pull(NAME, &endpoint, Trust::Verify(roots.clone()), deadline())?;
    let elapsed = started.elapsed();
    std::fs::create_dir_all(&live).map_err(|e| internal(format!("{}: {e}", live.display())))?;
    let chain = &pulled.outcome.chain;
    let mut files = FileSet::new();
    files.stage(
        &live.join("cert.pem"),
        pem::encode_chain(&chain[..1]).as_bytes(),
    )?;
    files.stage(
        &live.join("chain.pem"),
        pem::encode_chain(&chain[1..]).as_bytes(),
    )?;
    files.stage(
        &live.join("fullchain.pem"),
        pem::encode_chain(chain).as_bytes(),
    )?;
    files.commit()?;
    println!(
        "3. certpull fetch {NAME} --connect {renewed} --ca-file {} --out-dir {}",
        ca_file.display(),
        live.display()
    );
    println!(
        "   pulled, validated and installed in {:.1} ms:",
        elapsed.as_secs_f64() * 1000.0
    );
    for line in output::summary(NAME, &pulled, output::unix_now()).lines() {
        println!("   {line}");
    }
    list_files(&live)?;

    let impostor_pki = ThrowawayPki::generate("certpull demo impostor", NAME, 365)?;
    let impostor = serve(&impostor_pki)?;
    let before = std::fs::read(live.join("fullchain.pem")).map_err(|e| internal(e.to_string()))?;
    let endpoint = Endpoint::parse(&impostor.to_string(), 443)?;
    match pull::pull(NAME, &endpoint, Trust::Verify(roots), deadline()) {
        Err(error) if error.class == Class::Validation => {
            println!("4. An impostor on {impostor} serves a look-alike chain from another CA:");
            println!("   refused (exit code {}): {error}", error.class.code());
        }
        Err(error) => return Err(error),
        Ok(_) => return Err(internal("the impostor's chain was accepted".into())),
    }
    let after = std::fs::read(live.join("fullchain.pem")).map_err(|e| internal(e.to_string()))?;
    if before != after {
        return Err(internal(
            "the installed chain changed after a refusal".into(),
        ));
    }
    println!("   the installed files were not touched.");
    if args.keep.is_none() {
        println!("Done; the temporary directory is removed. Keep it with --keep DIR.");
    }
    Ok(())
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

fn internal(message: String) -> CliError {
    CliError::new(Class::Internal, message)
}

fn list_files(dir: &Path) -> Result<()> {
    for name in ["cert.pem", "chain.pem", "fullchain.pem"] {
        let path = dir.join(name);
        let text = std::fs::read(&path).map_err(|e| internal(e.to_string()))?;
        let certs = pem::decode_certificates(&text)
            .map(|c| c.len())
            .unwrap_or(0);
        println!(
            "   wrote {} ({certs} certificate{})",
            path.display(),
            if certs == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// Serves `pki`'s chain on an ephemeral 127.0.0.1 port from a background thread, for as long as
/// the demo runs.
fn serve(pki: &ThrowawayPki) -> Result<SocketAddr> {
    let config = ServerConfig::builder_with_provider(pull::provider())
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        })
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
