//! The command line: what each subcommand takes.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "certpull",
    version,
    about = "Pull a renewed TLS certificate chain from a peer by handshake, validate it, install it",
    long_about = "Pull a renewed TLS certificate chain from a peer by handshake, validate it, \
                  install it.\n\nThe chain is public: every TLS server sends it during the \
                  handshake. certpull connects to a peer (by address, with the domain as SNI), \
                  validates the chain it was shown, and writes it. The private key never travels."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull the chain a server presents for NAME; print it or write it to files
    Fetch(FetchArgs),
    /// Run a self-contained demonstration on 127.0.0.1 (no internet needed)
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The certificate's name: sent as SNI and checked against the leaf (DNS name or IP address)
    pub name: String,

    #[command(flatten)]
    pub endpoint: EndpointArgs,

    #[command(flatten)]
    pub trust: TrustArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EndpointArgs {
    /// Where to connect: HOST, HOST:PORT, IPv4[:PORT], [IPv6]:PORT or a bare IPv6 literal
    /// (port 443 unless given). Without it, NAME itself is resolved
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub connect: Option<String>,

    /// Deadline for resolving, connecting and the whole handshake together (e.g. 10s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct TrustArgs {
    /// Trust only the CA certificates in FILE (PEM); may be repeated
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_files: Vec<PathBuf>,

    /// With --ca-file: trust the system roots as well
    #[arg(long, requires = "ca_files")]
    pub system_roots: bool,

    /// Do not validate the chain (labs only): it is reported and written whatever it is
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print a readable summary of the chain instead of PEM
    #[arg(long, conflicts_with = "json")]
    pub summary: bool,

    /// Print a JSON report of the chain instead of PEM
    #[arg(long)]
    pub json: bool,

    /// Write cert.pem, chain.pem and fullchain.pem (certbot's layout) into DIR
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Write the leaf certificate to FILE
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Write the intermediates, as sent, to FILE
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,

    /// Write the leaf followed by the intermediates to FILE
    #[arg(long, value_name = "FILE")]
    pub fullchain: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's files in DIR (created if needed) instead of a removed temporary directory
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// `10s`, `500ms`, `1m`, or a bare number of seconds.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Duration::from_secs_f64(seconds),
        Ok(_) => return Err("must be a positive duration".into()),
        Err(_) => humantime::parse_duration(text).map_err(|e| e.to_string())?,
    };
    if duration.is_zero() {
        return Err("must be a positive duration".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_take_units_or_bare_seconds() {
        assert_eq!(parse_timeout("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
