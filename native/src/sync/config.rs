//! `--config FILE`: many certificates in one TOML file. Unknown keys and bad values are refused
//! with the file, line, column and key named.
//!
//! ```toml
//! timeout = "10s"                      # defaults for every certificate
//! ca_file = ["/etc/certpull/ca.pem"]
//!
//! [[certificate]]
//! name = "www.example.com"
//! from = ["192.0.2.10", "192.0.2.11:8443", "www.example.com"]
//! key = "/etc/ssl/private/www.example.com.key"
//! out_dir = "/etc/ssl/certpull/www.example.com"
//! deploy_hook = "systemctl reload nginx"
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use certpull_core::Protocol;

use super::job::Job;
use crate::cli::{default_port, parse_protocol, parse_timeout, SyncArgs, TrustArgs};
use crate::exit::{CliError, Result};
use crate::layout::Outputs;
use crate::net::Endpoint;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    timeout: Option<Spanned<String>>,
    ca_file: Option<Vec<PathBuf>>,
    system_roots: Option<bool>,
    insecure: Option<bool>,
    backup: Option<bool>,
    allow_downgrade: Option<bool>,
    deploy_hook: Option<String>,
    starttls: Option<Spanned<String>>,
    #[serde(default, rename = "certificate")]
    certificates: Vec<Spanned<CertificateEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateEntry {
    name: Spanned<String>,
    from: Spanned<Vec<Spanned<String>>>,
    key: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    cert: Option<PathBuf>,
    chain: Option<PathBuf>,
    fullchain: Option<PathBuf>,
    deploy_hook: Option<String>,
    allow_downgrade: Option<bool>,
    backup: Option<bool>,
    timeout: Option<Spanned<String>>,
    ca_file: Option<Vec<PathBuf>>,
    system_roots: Option<bool>,
    insecure: Option<bool>,
    starttls: Option<Spanned<String>>,
}

/// Names a place in the file: `FILE:LINE:COLUMN: message`.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: Option<Range<usize>>, message: impl std::fmt::Display) -> CliError {
        let place = match span {
            Some(span) => {
                let before = self.text.get(..span.start).unwrap_or(self.text);
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{}:{line}:{column}", self.path.display())
            }
            None => self.path.display().to_string(),
        };
        CliError::usage(format!("{place}: {message}"))
    }

    /// The bare key whose value starts at `offset` (`from` in `from = "x"`), if the line says.
    fn key_before(&self, offset: usize) -> Option<&str> {
        let before = self.text.get(..offset)?;
        let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
        let key = line.trim_end().strip_suffix('=')?.trim();
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        bare.then_some(key)
    }

    fn protocol(&self, value: &Spanned<String>) -> Result<Protocol> {
        parse_protocol(value.get_ref())
            .map_err(|why| self.error(Some(value.span()), format!("starttls: {why}")))
    }

    fn timeout(&self, value: &Spanned<String>) -> Result<Duration> {
        parse_timeout(value.get_ref())
            .map_err(|why| self.error(Some(value.span()), format!("timeout: {why}")))
    }
}

/// Reads the file into one job per certificate. The command line's `--timeout`, `--ca-file`,
/// `--system-roots`, `--insecure`, `--starttls`, `--allow-downgrade` and `--backup` are defaults for what the
/// file leaves unset.
/// What the command line says for keys the file leaves unset.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub timeout: Duration,
    pub trust: TrustArgs,
    pub allow_downgrade: bool,
    pub backup: bool,
    pub starttls: Option<Protocol>,
}

impl From<&SyncArgs> for Defaults {
    fn from(args: &SyncArgs) -> Self {
        Self {
            timeout: args.timeout,
            trust: args.trust.clone(),
            allow_downgrade: args.allow_downgrade,
            backup: args.backup,
            starttls: args.starttls,
        }
    }
}

pub fn load(path: &Path, args: &Defaults) -> Result<Vec<Job>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read config {}: {e}", path.display())))?;
    let at = Locator { path, text: &text };
    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
        let message = e.message().trim();
        match e.span().and_then(|span| at.key_before(span.start)) {
            Some(key) if !message.contains(key) => at.error(e.span(), format!("{key}: {message}")),
            _ => at.error(e.span(), message),
        }
    })?;
    if file.certificates.is_empty() {
        return Err(at.error(None, "no [[certificate]] table"));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base.join(p)
        }
    };

    let default_timeout = match &file.timeout {
        Some(value) => at.timeout(value)?,
        None => args.timeout,
    };
    let default_ca: Vec<PathBuf> = match &file.ca_file {
        Some(files) => files.iter().map(resolve).collect(),
        None => args.trust.ca_files.clone(),
    };

    let mut jobs = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for entry in &file.certificates {
        let span = entry.span();
        let cert = entry.get_ref();
        let name = cert.name.get_ref();
        crate::pull::server_name(name)
            .map_err(|e| at.error(Some(cert.name.span()), format!("name: {e}")))?;
        if names.contains(&name.as_str()) {
            return Err(at.error(
                Some(cert.name.span()),
                format!("name: {name:?} is listed twice"),
            ));
        }
        names.push(name);
        let starttls = match cert.starttls.as_ref().or(file.starttls.as_ref()) {
            Some(value) => Some(at.protocol(value)?),
            None => args.starttls,
        };
        if cert.from.get_ref().is_empty() {
            return Err(at.error(Some(cert.from.span()), "from: no source to pull from"));
        }
        let sources = cert
            .from
            .get_ref()
            .iter()
            .map(|source| {
                Endpoint::parse(source.get_ref(), default_port(starttls))
                    .map_err(|e| at.error(Some(source.span()), format!("from: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let outputs = Outputs::new(
            cert.out_dir.as_ref().map(resolve).as_deref(),
            cert.cert.as_ref().map(resolve).as_deref(),
            cert.chain.as_ref().map(resolve).as_deref(),
            cert.fullchain.as_ref().map(resolve).as_deref(),
        );
        let timeout = match &cert.timeout {
            Some(value) => at.timeout(value)?,
            None => default_timeout,
        };
        let job = Job {
            name: name.clone(),
            sources,
            key: cert.key.as_ref().map(resolve),
            outputs,
            deploy_hook: cert
                .deploy_hook
                .clone()
                .or_else(|| file.deploy_hook.clone()),
            allow_downgrade: cert
                .allow_downgrade
                .or(file.allow_downgrade)
                .unwrap_or(args.allow_downgrade),
            backup: cert.backup.or(file.backup).unwrap_or(args.backup),
            timeout,
            trust: TrustArgs {
                ca_files: cert
                    .ca_file
                    .as_ref()
                    .map(|files| files.iter().map(resolve).collect())
                    .unwrap_or_else(|| default_ca.clone()),
                system_roots: cert
                    .system_roots
                    .or(file.system_roots)
                    .unwrap_or(args.trust.system_roots),
                insecure: cert
                    .insecure
                    .or(file.insecure)
                    .unwrap_or(args.trust.insecure),
            },
            starttls,
        };
        job.check()
            .map_err(|e| at.error(Some(span.clone()), e.message))?;
        jobs.push(job);
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn args(config: &Path) -> SyncArgs {
        let cli = crate::cli::Cli::try_parse_from([
            "certpull".as_ref(),
            "sync".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
        ])
        .unwrap();
        match cli.command {
            crate::cli::Command::Sync(args) => args,
            _ => unreachable!(),
        }
    }

    fn load_text(text: &str) -> Result<Vec<Job>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certpull.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, &Defaults::from(&args(&path)))
    }

    #[test]
    fn the_shipped_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/certpull.toml");
        let jobs = load(&path, &Defaults::from(&args(&path))).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].sources.len(), 3);
        assert_eq!(jobs[1].outputs.chain, None);
    }

    #[test]
    fn relative_paths_are_relative_to_the_file_and_defaults_apply() {
        let jobs = load_text(
            "timeout = \"3s\"\nca_file = [\"ca.pem\"]\n[[certificate]]\nname = \"a.example\"\n\
             from = [\"127.0.0.1:8443\"]\nout_dir = \"out\"\ntimeout = \"2s\"\n\
             [[certificate]]\nname = \"b.example\"\nfrom = [\"[::1]\"]\nfullchain = \"/abs/f.pem\"\n",
        )
        .unwrap();
        assert_eq!(jobs[0].timeout, Duration::from_secs(2));
        assert_eq!(jobs[1].timeout, Duration::from_secs(3));
        assert!(jobs[0]
            .outputs
            .cert
            .as_ref()
            .unwrap()
            .ends_with("out/cert.pem"));
        assert!(
            jobs[0].trust.ca_files[0].is_absolute() || jobs[0].trust.ca_files[0].starts_with("/")
        );
        assert_eq!(jobs[1].sources[0].port, 443);
    }

    #[test]
    fn unknown_keys_name_file_line_and_column() {
        let error = load_text("[[certificate]]\nname = \"a.example\"\nfrom = [\"h\"]\nout_dir = \"o\"\nhoook = \"x\"\n")
            .unwrap_err();
        assert_eq!(error.class, crate::exit::Class::Usage);
        assert!(
            error
                .message
                .contains("certpull.toml:5:1: unknown field `hoook`"),
            "{}",
            error.message
        );
    }

    #[test]
    fn bad_values_name_their_place() {
        let error = load_text(
            "[[certificate]]\nname = \"a.example\"\nfrom = [\"h:99999\"]\nout_dir = \"o\"\n",
        )
        .unwrap_err();
        assert!(
            error
                .message
                .contains("certpull.toml:3:9: from: invalid address"),
            "{}",
            error.message
        );
        let error = load_text("timeout = \"soon\"\n[[certificate]]\nname = \"a.example\"\nfrom = [\"h\"]\nout_dir = \"o\"\n")
            .unwrap_err();
        assert!(
            error.message.contains("certpull.toml:1:11: timeout:"),
            "{}",
            error.message
        );
        let error =
            load_text("[[certificate]]\nname = \"a.example\"\nfrom = [\"h\"]\n").unwrap_err();
        assert!(
            error
                .message
                .contains("certpull.toml:1:1: a.example: nowhere to install"),
            "{}",
            error.message
        );
        let error = load_text("").unwrap_err();
        assert!(
            error.message.contains("no [[certificate]]"),
            "{}",
            error.message
        );
    }
}
