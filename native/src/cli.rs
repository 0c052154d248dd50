//! The command line: what each subcommand takes.

use std::path::PathBuf;
use std::time::Duration;

use certpull_core::Protocol;
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
    /// Pull from peers and install the chain when it is safe; run the deploy hook on change
    Sync(SyncArgs),
    /// Audit a fleet: which endpoint serves which leaf, drift, days left (Nagios exit codes)
    Check(CheckArgs),
    /// Summarise local PEM files, with expiry thresholds and key match (Nagios exit codes)
    Inspect(InspectArgs),
    /// Run a self-contained demonstration on 127.0.0.1 (no internet needed)
    Demo(DemoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ThresholdArgs {
    /// WARNING when a leaf has fewer days left than this
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    pub warn_days: i64,

    /// CRITICAL when a leaf has fewer days left than this
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub crit_days: i64,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The certificate's name (SNI, and the name the leaf must be valid for)
    #[arg(required_unless_present = "config", conflicts_with = "config")]
    pub name: Option<String>,

    /// An endpoint: ADDR[:PORT], or a host name standing for all its addresses; may be repeated
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub connect: Vec<String>,

    /// A file of endpoints, one per line (blank lines and # comments ignored)
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// Check every certificate of a sync configuration: its sources and its installed files
    #[arg(long, value_name = "FILE", conflicts_with_all = ["connect", "targets"])]
    pub config: Option<PathBuf>,

    /// Endpoints checked at once
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub concurrency: u16,

    /// Deadline of each endpoint (connect and handshake)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Run this protocol's plaintext preamble before TLS (see fetch --starttls)
    #[arg(long, value_name = "PROTO", value_parser = parse_protocol)]
    pub starttls: Option<Protocol>,

    #[command(flatten)]
    pub trust: TrustArgs,

    #[command(flatten)]
    pub thresholds: ThresholdArgs,

    /// Print a JSON report instead of the table
    #[arg(long)]
    pub json: bool,

    /// Also write the results in Prometheus text format to FILE (node_exporter's textfile
    /// collector), atomically
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// PEM files to summarise (`-` for standard input)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Check that each file's leaf carries this private key's public key
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    #[command(flatten)]
    pub thresholds: ThresholdArgs,

    /// Print a JSON report instead of text
    #[arg(long)]
    pub json: bool,
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
    pub files: FileArgs,

    /// Print a readable summary of the chain instead of PEM
    #[arg(long, conflicts_with = "json")]
    pub summary: bool,

    /// Print a JSON report of the chain instead of PEM
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The certificate's name (SNI, and the name the leaf must be valid for)
    #[arg(required_unless_present = "config", conflicts_with = "config")]
    pub name: Option<String>,

    /// A peer to pull from: ADDR[:PORT], or a host name standing for every address it resolves
    /// to; may be repeated. All are pulled concurrently; the newest installable chain wins
    #[arg(long, value_name = "ADDR[:PORT]", required_unless_present = "config")]
    pub from: Vec<String>,

    /// The local private key (PEM: PKCS#8, SEC1 or PKCS#1); the leaf must carry its public key.
    /// Without it, the installed leaf's key is the reference. Only read, never copied
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    #[command(flatten)]
    pub files: FileArgs,

    /// Command run by `sh -c` after a change was installed (certbot's --deploy-hook semantics)
    #[arg(long, value_name = "CMD")]
    pub deploy_hook: Option<String>,

    /// Install a leaf that expires earlier or covers fewer names than the installed one
    #[arg(long)]
    pub allow_downgrade: bool,

    /// Keep the replaced files as FILE.prev
    #[arg(long)]
    pub backup: bool,

    /// Deadline per certificate for resolving, connecting and all handshakes together
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Run this protocol's plaintext preamble before TLS (smtp, lmtp, imap, pop3, ftp, xmpp,
    /// ldap, postgres, mysql); sources without a port get the protocol's default port
    #[arg(long, value_name = "PROTO", value_parser = parse_protocol)]
    pub starttls: Option<Protocol>,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// Sync every certificate of a TOML configuration file
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "key", "out_dir", "cert", "chain", "fullchain", "deploy_hook"])]
    pub config: Option<PathBuf>,

    /// Say what happened with every source, also when nothing changed
    #[arg(short, long)]
    pub verbose: bool,

    /// Print a JSON report of every certificate and source on standard output
    #[arg(long)]
    pub json: bool,
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

    /// Run this protocol's plaintext preamble before TLS; the default port becomes the
    /// protocol's: smtp (25), lmtp (24), imap (143), pop3 (110), ftp (21), xmpp (5222),
    /// ldap (389), postgres (5432), mysql (3306)
    #[arg(long, value_name = "PROTO", value_parser = parse_protocol)]
    pub starttls: Option<Protocol>,
}

#[derive(Debug, Clone, Default, Args)]
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

#[derive(Debug, Clone, Default, Args)]
pub struct FileArgs {
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

/// Help and version go to stdout with exit 0; any other argument error becomes one line on
/// stderr, like every other error, with exit code 2.
pub fn usage_error(error: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        let code = if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            2
        } else {
            0
        };
        return std::process::ExitCode::from(code);
    }
    let rendered = error.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // clap lists missing arguments on the lines after "were not provided:".
    let detail: Vec<&str> = if first.ends_with(':') {
        lines.take_while(|l| !l.starts_with("Usage:")).collect()
    } else {
        Vec::new()
    };
    let message = if detail.is_empty() {
        first.to_string()
    } else {
        format!("{first} {}", detail.join(", "))
    };
    eprintln!("certpull: {message} (see certpull --help)");
    // Monitoring commands answer in Nagios terms: a check that cannot run is UNKNOWN.
    let monitoring = std::env::args()
        .nth(1)
        .is_some_and(|command| command == "check" || command == "inspect");
    std::process::ExitCode::from(if monitoring {
        certpull_core::fleet::Health::Unknown.exit_code()
    } else {
        crate::exit::Class::Usage.code()
    })
}

/// A STARTTLS protocol by name.
pub fn parse_protocol(text: &str) -> Result<Protocol, String> {
    Protocol::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
        format!("unknown protocol (expected one of {})", names.join(", "))
    })
}

/// The port to use when an address gives none.
pub fn default_port(starttls: Option<Protocol>) -> u16 {
    starttls.map_or(443, Protocol::default_port)
}

/// `10s`, `500ms`, `1m`, or a bare number of seconds.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
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
