//! One pull over the network: resolve, connect, and drive the core's session to an outcome,
//! all within one deadline; the core's errors are turned into classed, one-line messages.

use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, OnceLock};

use certpull_core::pki_types::ServerName;
use certpull_core::rustls::crypto::CryptoProvider;
use certpull_core::rustls::time_provider::DefaultTimeProvider;
use certpull_core::{
    pull_blocking, CertSummary, DriveError, Protocol, PullConfig, PullError, PullOutcome,
    PullSession, Trust, VerdictCache,
};

use crate::exit::{Class, CliError, Result};
use crate::net::{self, Deadline, DeadlineStream, Endpoint};

/// A chain pulled from one server, with its parsed summaries.
#[derive(Debug)]
pub struct Pulled {
    pub outcome: PullOutcome,
    pub address: SocketAddr,
    pub summaries: Vec<CertSummary>,
}

pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

impl Pulled {
    /// The chain in the policy's terms.
    pub fn candidate(&self) -> certpull_core::policy::Candidate<'_> {
        certpull_core::policy::Candidate {
            chain: &self.outcome.chain,
            summaries: &self.summaries,
            verdict: &self.outcome.verdict,
        }
    }
}

/// The SNI name and the name the leaf must be valid for.
pub fn server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_string())
        .map_err(|_| CliError::usage(format!("{name:?} is not a valid DNS name or IP address")))
}

/// What to pull: the certificate's name, the trust to judge it with, the preamble to run first.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: String,
    pub trust: Trust,
    pub starttls: Option<Protocol>,
    /// Valid verdicts shared by every pull of this request: a fleet serves one chain at many
    /// addresses, and it is judged once a second instead of once per address (the handshake
    /// signature is still checked on every pull).
    verdicts: Option<Arc<VerdictCache>>,
}

impl Request {
    pub fn new(name: String, trust: Trust, starttls: Option<Protocol>) -> Self {
        let verdicts = match &trust {
            Trust::Verify(roots) | Trust::CaptureOnly(Some(roots)) => {
                Some(Arc::new(VerdictCache::new(roots.clone())))
            }
            Trust::CaptureOnly(None) => None,
        };
        Self {
            name,
            trust,
            starttls,
            verdicts,
        }
    }
}

/// Pulls the chain from `endpoint`: resolve, connect and handshake bounded by `deadline`.
pub fn pull(request: &Request, endpoint: &Endpoint, deadline: Deadline) -> Result<Pulled> {
    pull_classified(request, endpoint, deadline, class_of)
}

/// [`pull`], with the caller's classes for the session's errors.
pub fn pull_classified(
    request: &Request,
    endpoint: &Endpoint,
    deadline: Deadline,
    classify: fn(&PullError) -> Class,
) -> Result<Pulled> {
    let name = request.name.as_str();
    let config = PullConfig::new(server_name(name)?, request.trust.clone())
        .with_starttls(request.starttls)
        .with_verdict_cache(request.verdicts.clone());
    let at = |address: &dyn std::fmt::Display, message: String| {
        format!("{name} at {address}: {message}")
    };

    let addresses = resolve_within(endpoint, deadline)?;
    let (stream, address) = net::connect(&addresses, deadline).map_err(|error| {
        let (class, message) = io_failure(&error, deadline, "connecting");
        CliError::new(class, at(endpoint, message))
    })?;

    let mut session = PullSession::new(&config, provider(), Arc::new(DefaultTimeProvider))
        .map_err(|e| CliError::usage(e.to_string()))?;
    let mut stream = DeadlineStream::new(stream, deadline);
    let outcome = pull_blocking(&mut session, &mut stream).map_err(|error| match error {
        DriveError::Io(error) => {
            let doing = format!(
                "during the handshake, {} bytes received",
                session.bytes_received()
            );
            let (class, message) = io_failure(&error, deadline, &doing);
            CliError::new(class, at(&address, message))
        }
        DriveError::Pull(error) => CliError::new(classify(&error), at(&address, describe(&error))),
    })?;
    let summaries = CertSummary::parse_chain(&outcome.chain)
        .map_err(|e| CliError::new(Class::Validation, at(&address, e.to_string())))?;
    Ok(Pulled {
        outcome,
        address,
        summaries,
    })
}

/// Resolution has no timeout of its own in libc, so it runs on a thread we stop waiting for.
pub fn resolve_within(endpoint: &Endpoint, deadline: Deadline) -> Result<Vec<SocketAddr>> {
    if endpoint.host.parse::<std::net::IpAddr>().is_ok() {
        return endpoint.resolve();
    }
    let (sender, receiver) = mpsc::channel();
    let job = endpoint.clone();
    std::thread::spawn(move || {
        let _ = sender.send(job.resolve());
    });
    let timed_out = || {
        CliError::new(
            Class::Timeout,
            format!(
                "resolving {} timed out after {}",
                endpoint.host,
                humantime::format_duration(deadline.budget())
            ),
        )
    };
    let remaining = deadline.remaining().map_err(|_| timed_out())?;
    receiver.recv_timeout(remaining).map_err(|_| timed_out())?
}

fn io_failure(error: &io::Error, deadline: Deadline, doing: &str) -> (Class, String) {
    if error.kind() == io::ErrorKind::TimedOut {
        (
            Class::Timeout,
            format!(
                "timed out after {} ({doing})",
                humantime::format_duration(deadline.budget())
            ),
        )
    } else {
        (
            Class::Network,
            format!("connection failed ({doing}): {error}"),
        )
    }
}

/// The classes `fetch` reports the session's errors in.
pub fn class_of(error: &PullError) -> Class {
    match error {
        PullError::Rejected(_) => Class::Validation,
        PullError::PeerClosed { .. } => Class::Network,
        PullError::Config(_) => Class::Usage,
        _ => Class::Protocol,
    }
}

/// The core's error, with the certificate a refusal concerns named.
fn describe(error: &PullError) -> String {
    let PullError::Rejected(rejected) = error else {
        return error.to_string();
    };
    let Ok(summaries) = CertSummary::parse_chain(&rejected.chain) else {
        return error.to_string();
    };
    match rejected.failure.concerns(&summaries) {
        Some(index) => {
            let cert = &summaries[index];
            format!(
                "{error} (certificate {} of {}: subject {}, issuer {})",
                index + 1,
                summaries.len(),
                cert.subject,
                cert.issuer
            )
        }
        None => error.to_string(),
    }
}
