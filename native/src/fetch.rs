//! `certpull fetch`: pull a server's chain, validate it, print it or write it.

use std::io::Write as _;
use std::path::PathBuf;

use certpull_core::{pem, Trust};

use crate::cli::{default_port, FetchArgs, TrustArgs};
use crate::exit::{Class, CliError, Result};
use crate::files::FileSet;
use crate::layout::Outputs;
use crate::net::{Deadline, Endpoint};
use crate::output::{self, FetchReport};
use crate::pull::{self, Pulled};
use crate::roots;

pub fn run(args: &FetchArgs) -> Result<()> {
    let endpoint = Endpoint::parse(
        args.endpoint.connect.as_deref().unwrap_or(&args.name),
        default_port(args.endpoint.starttls),
    )?;
    pull::server_name(&args.name)?;
    let request = pull::Request::new(
        args.name.clone(),
        trust(&args.trust)?,
        args.endpoint.starttls,
    );
    let pulled = pull::pull(&request, &endpoint, Deadline::after(args.endpoint.timeout))?;
    let files = Outputs::from_args(&args.files).contents(&pulled.outcome.chain);
    if !files.is_empty() {
        write_files(&files)?;
    }
    print(args, &pulled, files.is_empty())
}

/// The trust the options ask for. `--insecure` still reports a verdict when roots are at hand.
pub fn trust(args: &TrustArgs) -> Result<Trust> {
    if !args.insecure {
        return Ok(Trust::Verify(roots::load(args)?));
    }
    eprintln!("certpull: warning: --insecure: the chain is NOT validated; use this in labs only");
    let roots = if args.ca_files.is_empty() {
        roots::load(args).ok()
    } else {
        Some(roots::load(args)?)
    };
    Ok(Trust::CaptureOnly(roots))
}

/// Stages every file, then renames them all into place.
pub fn write_files(files: &[(PathBuf, String)]) -> Result<()> {
    let mut set = FileSet::new();
    for (path, contents) in files {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                CliError::new(
                    Class::Write,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
        }
        set.stage(path, contents.as_bytes())?;
    }
    set.commit()
}

fn print(args: &FetchArgs, pulled: &Pulled, pem_by_default: bool) -> Result<()> {
    let now = output::unix_now();
    let text = if args.json {
        let report = FetchReport::new(&args.name, pulled, now);
        serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::new(Class::Internal, e.to_string()))?
            + "\n"
    } else if args.summary {
        output::summary(&args.name, pulled, now)
    } else if pem_by_default {
        pem::encode_chain(&pulled.outcome.chain)
    } else {
        return Ok(());
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            CliError::new(
                Class::Write,
                format!("cannot write to standard output: {e}"),
            )
        })
}
