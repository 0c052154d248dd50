//! The install policy: a pure function from (installed chain, pulled chain, local key, now,
//! options) to a decision. Every judgement about installing lives here; callers only act.
//!
//! The trust model (see DESIGN.md): a pulled chain is installed only when it validated (unless
//! the caller opted out), its leaf is valid now, its leaf carries the local key, and it is not a
//! downgrade of what is installed.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rustls_pki_types::CertificateDer;

use crate::chain::CertSummary;
use crate::error::ValidationFailure;
use crate::keymatch::LocalKey;
use crate::timefmt::{Instant, Span};
use crate::verify::Verdict;

/// What the caller allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyOptions {
    /// Install a leaf that expires earlier or names less than the installed one.
    pub allow_downgrade: bool,
    /// Install a chain whose verdict is not [`Verdict::Valid`] (`--insecure`, labs only).
    pub allow_unvalidated: bool,
}

/// A chain pulled from a source, parsed.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The chain as sent, leaf first.
    pub chain: &'a [CertificateDer<'static>],
    /// Its summaries, in the same order.
    pub summaries: &'a [CertSummary],
    /// The validation verdict.
    pub verdict: &'a Verdict,
}

/// What the key of the pulled leaf must equal.
#[derive(Debug, Clone, Copy)]
pub enum KeyReference<'a> {
    /// The public half of the local private key (`--key`).
    Local(&'a LocalKey),
    /// No key file: the installed leaf's key stands in for it.
    InstalledLeaf,
}

/// How one managed file stands on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot<'a> {
    /// The caller does not write this file.
    NotManaged,
    /// The file does not exist.
    Missing,
    /// The file's contents.
    Present(&'a [u8]),
}

/// The installed files: leaf, intermediates, and leaf followed by intermediates.
#[derive(Debug, Clone, Copy)]
pub struct InstalledFiles<'a> {
    /// `cert.pem`: the leaf.
    pub cert: Slot<'a>,
    /// `chain.pem`: the intermediates.
    pub chain: Slot<'a>,
    /// `fullchain.pem`: the leaf, then the intermediates.
    pub fullchain: Slot<'a>,
}

/// The installed chain, as far as the files tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's summary.
    pub leaf: CertSummary,
    /// Whether every managed file holds its part of this chain (false after an interrupted
    /// install or a hand edit: the next install repairs it).
    pub consistent: bool,
}

fn certs(slot: Slot<'_>) -> Option<Vec<CertificateDer<'static>>> {
    match slot {
        Slot::Present(text) if text.iter().all(u8::is_ascii_whitespace) => Some(Vec::new()),
        Slot::Present(text) => crate::pem::decode_certificates(text).ok(),
        _ => None,
    }
}

impl Installed {
    /// Reads the installed chain from the files: `fullchain` when it parses, else `cert`
    /// followed by `chain`. `None` when no leaf can be found.
    pub fn from_files(files: &InstalledFiles<'_>) -> Option<Self> {
        let full = certs(files.fullchain).filter(|c| !c.is_empty());
        let chain = match full {
            Some(chain) => chain,
            None => {
                let mut chain = certs(files.cert)?;
                chain.truncate(1);
                chain.extend(certs(files.chain).unwrap_or_default());
                chain
            }
        };
        let leaf = CertSummary::parse(chain.first()?).ok()?;
        let (head, tail) = chain.split_at(1);
        let holds = |slot: Slot<'_>, expected: &[CertificateDer<'static>]| match slot {
            Slot::NotManaged => true,
            Slot::Missing => false,
            Slot::Present(_) => certs(slot).as_deref() == Some(expected),
        };
        let consistent =
            holds(files.cert, head) && holds(files.chain, tail) && holds(files.fullchain, &chain);
        Some(Self {
            chain,
            leaf,
            consistent,
        })
    }
}

/// Why a chain is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallReason {
    /// Nothing was installed yet.
    NothingInstalled,
    /// A new leaf that is not a downgrade.
    Renewed,
    /// The same leaf with different intermediates.
    ChainChanged,
    /// The same chain, but the files disagreed (an interrupted install): rewrite them all.
    Repair,
}

/// Why a chain is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The chain failed validation.
    Invalid(ValidationFailure),
    /// The chain was not validated and the options require it.
    NotValidated,
    /// The server sent no certificate that parses.
    Empty,
    /// The leaf is not valid yet.
    NotYetValid {
        /// The leaf's notBefore (Unix seconds).
        not_before: u64,
    },
    /// The leaf has expired.
    Expired {
        /// The leaf's notAfter (Unix seconds).
        not_after: u64,
    },
    /// The leaf's public key is not the local key's.
    KeyMismatch {
        /// Whether the reference was the installed leaf (no key file given).
        against_installed: bool,
    },
    /// No key file and nothing installed: the key cannot be checked.
    NoKeyReference,
    /// The leaf expires before the installed one.
    ExpiresEarlier {
        /// The installed leaf's notAfter.
        installed: u64,
        /// The pulled leaf's notAfter.
        pulled: u64,
    },
    /// The leaf drops names the installed one has.
    NamesDropped {
        /// The installed names the pulled leaf does not cover.
        missing: Vec<String>,
    },
}

impl Refusal {
    /// Whether this refusal is a downgrade (which `allow_downgrade` would have let through).
    pub fn is_downgrade(&self) -> bool {
        matches!(
            self,
            Self::ExpiresEarlier { .. } | Self::NamesDropped { .. }
        )
    }

    /// A short stable name, for reports.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(failure) => failure.code(),
            Self::NotValidated => "not-validated",
            Self::Empty => "empty-chain",
            Self::NotYetValid { .. } => "not-yet-valid",
            Self::Expired { .. } => "expired",
            Self::KeyMismatch { .. } => "key-mismatch",
            Self::NoKeyReference => "no-key-reference",
            Self::ExpiresEarlier { .. } => "downgrade-expiry",
            Self::NamesDropped { .. } => "downgrade-names",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(failure) => write!(f, "{failure}"),
            Self::NotValidated => f.write_str("the chain was not validated"),
            Self::Empty => f.write_str("the server sent no usable certificate"),
            Self::NotYetValid { not_before } => {
                write!(f, "the leaf is not valid yet (valid from {})", Instant(*not_before))
            }
            Self::Expired { not_after } => {
                write!(f, "the leaf has expired (on {})", Instant(*not_after))
            }
            Self::KeyMismatch {
                against_installed: false,
            } => f.write_str("the leaf's public key does not match the local private key"),
            Self::KeyMismatch {
                against_installed: true,
            } => f.write_str(
                "the leaf's public key differs from the installed leaf's (no --key given to compare with)",
            ),
            Self::NoKeyReference => f.write_str(
                "no --key given and nothing installed: the leaf's key cannot be checked",
            ),
            Self::ExpiresEarlier { installed, pulled } => write!(
                f,
                "downgrade: the leaf expires on {}, {} before the installed one",
                Instant(*pulled),
                Span(installed.saturating_sub(*pulled))
            ),
            Self::NamesDropped { missing } => write!(
                f,
                "downgrade: the leaf does not cover the installed names {}",
                missing.join(", ")
            ),
        }
    }
}

/// The policy's answer for one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write the candidate's chain.
    Install(InstallReason),
    /// The installed files already hold this chain: write nothing, run nothing.
    UpToDate,
    /// Do not install it.
    Refuse(Refusal),
}

/// Judges one candidate against what is installed.
pub fn decide(
    candidate: &Candidate<'_>,
    installed: Option<&Installed>,
    key: KeyReference<'_>,
    now: u64,
    options: PolicyOptions,
) -> Decision {
    match check(candidate, installed, key, now, options) {
        Ok(decision) => decision,
        Err(refusal) => Decision::Refuse(refusal),
    }
}

fn check(
    candidate: &Candidate<'_>,
    installed: Option<&Installed>,
    key: KeyReference<'_>,
    now: u64,
    options: PolicyOptions,
) -> Result<Decision, Refusal> {
    match candidate.verdict {
        Verdict::Valid => {}
        _ if options.allow_unvalidated => {}
        Verdict::Invalid(failure) => return Err(Refusal::Invalid(failure.clone())),
        Verdict::NotChecked => return Err(Refusal::NotValidated),
    }
    let leaf = candidate.summaries.first().ok_or(Refusal::Empty)?;
    if candidate.chain.len() != candidate.summaries.len() {
        return Err(Refusal::Empty);
    }
    if now < leaf.not_before {
        return Err(Refusal::NotYetValid {
            not_before: leaf.not_before,
        });
    }
    if now >= leaf.not_after {
        return Err(Refusal::Expired {
            not_after: leaf.not_after,
        });
    }
    let key_matches = match (key, installed) {
        (KeyReference::Local(local), _) => local.matches(leaf),
        (KeyReference::InstalledLeaf, Some(installed)) => {
            installed.leaf.spki_sha256 == leaf.spki_sha256
        }
        (KeyReference::InstalledLeaf, None) => return Err(Refusal::NoKeyReference),
    };
    if !key_matches {
        return Err(Refusal::KeyMismatch {
            against_installed: matches!(key, KeyReference::InstalledLeaf),
        });
    }
    let Some(installed) = installed else {
        return Ok(Decision::Install(InstallReason::NothingInstalled));
    };
    if installed.leaf.sha256 == leaf.sha256 {
        return Ok(if installed.chain.as_slice() != candidate.chain {
            Decision::Install(InstallReason::ChainChanged)
        } else if !installed.consistent {
            Decision::Install(InstallReason::Repair)
        } else {
            Decision::UpToDate
        });
    }
    if !options.allow_downgrade {
        if leaf.not_after < installed.leaf.not_after {
            return Err(Refusal::ExpiresEarlier {
                installed: installed.leaf.not_after,
                pulled: leaf.not_after,
            });
        }
        let missing = names_not_covered(&installed.leaf, leaf);
        if !missing.is_empty() {
            return Err(Refusal::NamesDropped { missing });
        }
    }
    Ok(Decision::Install(InstallReason::Renewed))
}

/// The installed leaf's DNS names and IP addresses that the pulled leaf does not cover.
/// A pulled wildcard `*.example.com` covers one label (`www.example.com`) and itself.
pub fn names_not_covered(installed: &CertSummary, pulled: &CertSummary) -> Vec<String> {
    let mut missing: Vec<String> = installed
        .dns_names
        .iter()
        .filter(|name| !pulled.dns_names.iter().any(|p| dns_covers(p, name)))
        .cloned()
        .collect();
    missing.extend(
        installed
            .ip_addresses
            .iter()
            .filter(|ip| !pulled.ip_addresses.contains(ip))
            .map(|ip| alloc::format!("{ip}")),
    );
    missing
}

fn dns_covers(pattern: &str, name: &str) -> bool {
    if pattern.eq_ignore_ascii_case(name) {
        return true;
    }
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            !label.is_empty() && label != "*" && rest.eq_ignore_ascii_case(suffix)
        }
        _ => false,
    }
}

/// Which candidate a multi-source pull acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Install this candidate: of those the policy would install, the latest notAfter.
    Install(usize),
    /// Nothing to install; this candidate showed the installed chain is current.
    UpToDate(usize),
    /// Every candidate was refused (or there were none).
    Nothing,
}

/// Picks among candidates' decisions (with their leaves' notAfter): newest valid wins.
pub fn select(decisions: &[(Decision, u64)]) -> Selection {
    let mut best: Option<(usize, u64)> = None;
    for (index, (decision, not_after)) in decisions.iter().enumerate() {
        if matches!(decision, Decision::Install(_))
            && best.is_none_or(|(_, best_after)| *not_after > best_after)
        {
            best = Some((index, *not_after));
        }
    }
    if let Some((index, _)) = best {
        return Selection::Install(index);
    }
    decisions
        .iter()
        .position(|(decision, _)| *decision == Decision::UpToDate)
        .map_or(Selection::Nothing, Selection::UpToDate)
}
