//! certpull: pull a renewed TLS certificate chain from a peer by handshake, validate it, and
//! install it. The decisions live in `certpull-core`; this binary does the I/O around them.

mod check;
mod cli;
mod concurrent;
mod demo;
mod exit;
mod fetch;
mod files;
mod inspect;
mod layout;
mod net;
mod output;
mod pki;
mod progress;
mod pull;
mod roots;
mod sync;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::usage_error(error),
    };
    let result = match cli.command {
        cli::Command::Fetch(args) => fetch::run(&args),
        cli::Command::Sync(args) => sync::run(&args),
        cli::Command::Check(args) => return check::run(&args),
        cli::Command::Inspect(args) => return inspect::run(&args),
        cli::Command::Demo(args) => demo::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // An empty message: the failures were reported already, one line each.
            if !error.message.is_empty() {
                eprintln!("certpull: {error}");
            }
            ExitCode::from(error.class.code())
        }
    }
}
