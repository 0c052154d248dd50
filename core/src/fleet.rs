//! Fleet audit judgements: how close a leaf is to expiry, and which endpoints lag behind.
//!
//! `certpull check` and `certpull inspect` report with these; like the install policy, the
//! decisions live here and the binary only gathers and prints.

use alloc::vec::Vec;

use crate::chain::CertSummary;
use crate::verify::Verdict;

/// Health in the Nagios plugin sense; the order is severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Nothing to do.
    Ok,
    /// Look soon (expiry within the warning window, or drift).
    Warning,
    /// Act now (expiry within the critical window, expired, invalid, unreachable).
    Critical,
    /// The check itself could not be made.
    Unknown,
}

impl Health {
    /// The Nagios plugin exit code: 0, 1, 2, 3.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Critical => 2,
            Self::Unknown => 3,
        }
    }

    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// Days-left thresholds: below `critical_days` is critical, below `warning_days` a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Warn when fewer days than this are left.
    pub warning_days: i64,
    /// Critical when fewer days than this are left.
    pub critical_days: i64,
}

impl Default for Thresholds {
    /// 14 and 7 days: a 90-day certificate renewed at 30 days left never warns; a stalled
    /// renewal warns two weeks ahead.
    fn default() -> Self {
        Self {
            warning_days: 14,
            critical_days: 7,
        }
    }
}

/// The health of a leaf by its dates alone.
pub fn expiry_health(leaf: &CertSummary, now: u64, thresholds: Thresholds) -> Health {
    if !leaf.is_valid_at(now) {
        return Health::Critical;
    }
    let days = leaf.days_left(now);
    if days < thresholds.critical_days {
        Health::Critical
    } else if days < thresholds.warning_days {
        Health::Warning
    } else {
        Health::Ok
    }
}

/// The health of a pulled chain: its verdict, then its leaf's dates.
pub fn chain_health(
    leaf: &CertSummary,
    verdict: &Verdict,
    now: u64,
    thresholds: Thresholds,
) -> Health {
    match verdict {
        Verdict::Invalid(_) => Health::Critical,
        Verdict::Valid | Verdict::NotChecked => expiry_health(leaf, now, thresholds),
    }
}

/// Endpoints grouped by the leaf they serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafGroup {
    /// The leaf's SHA-256 fingerprint.
    pub sha256: [u8; 32],
    /// The leaf's notAfter.
    pub not_after: u64,
    /// Indexes (into the caller's list) of the endpoints serving this leaf.
    pub endpoints: Vec<usize>,
}

/// Groups endpoints by leaf, newest notAfter first (ties: most endpoints first). `leaves` holds
/// each endpoint's leaf, `None` for an endpoint that gave none. More than one group is drift:
/// every endpoint outside the first group is behind.
pub fn group_by_leaf(leaves: &[Option<&CertSummary>]) -> Vec<LeafGroup> {
    let mut groups: Vec<LeafGroup> = Vec::new();
    for (index, leaf) in leaves.iter().enumerate() {
        let Some(leaf) = leaf else { continue };
        match groups.iter_mut().find(|g| g.sha256 == leaf.sha256) {
            Some(group) => group.endpoints.push(index),
            None => groups.push(LeafGroup {
                sha256: leaf.sha256,
                not_after: leaf.not_after,
                endpoints: alloc::vec![index],
            }),
        }
    }
    groups.sort_by(|a, b| {
        b.not_after
            .cmp(&a.not_after)
            .then(b.endpoints.len().cmp(&a.endpoints.len()))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn leaf(tag: u8, not_before: u64, not_after: u64) -> CertSummary {
        CertSummary {
            subject: String::new(),
            issuer: String::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            serial: String::new(),
            not_before,
            not_after,
            not_before_text: String::new(),
            not_after_text: String::new(),
            sha256: [tag; 32],
            spki_sha256: [0; 32],
            is_ca: false,
        }
    }

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_000 * DAY;

    #[test]
    fn expiry_windows_give_ok_warning_critical() {
        let t = Thresholds::default();
        assert_eq!(
            expiry_health(&leaf(1, 0, NOW + 30 * DAY), NOW, t),
            Health::Ok
        );
        assert_eq!(
            expiry_health(&leaf(1, 0, NOW + 14 * DAY), NOW, t),
            Health::Ok
        );
        assert_eq!(
            expiry_health(&leaf(1, 0, NOW + 13 * DAY + 1), NOW, t),
            Health::Warning
        );
        assert_eq!(
            expiry_health(&leaf(1, 0, NOW + 6 * DAY), NOW, t),
            Health::Critical
        );
        assert_eq!(
            expiry_health(&leaf(1, 0, NOW - 1), NOW, t),
            Health::Critical
        );
        assert_eq!(
            expiry_health(&leaf(1, NOW + 1, NOW + 90 * DAY), NOW, t),
            Health::Critical
        );
    }

    #[test]
    fn an_invalid_chain_is_critical_whatever_its_dates() {
        let verdict = Verdict::Invalid(crate::ValidationFailure::UnknownIssuer);
        let t = Thresholds::default();
        assert_eq!(
            chain_health(&leaf(1, 0, NOW + 90 * DAY), &verdict, NOW, t),
            Health::Critical
        );
        assert_eq!(
            chain_health(&leaf(1, 0, NOW + 90 * DAY), &Verdict::Valid, NOW, t),
            Health::Ok
        );
    }

    #[test]
    fn groups_put_the_newest_leaf_first_and_skip_failures() {
        let old = leaf(1, 0, NOW + 10 * DAY);
        let new = leaf(2, 0, NOW + 90 * DAY);
        let groups = group_by_leaf(&[Some(&old), None, Some(&new), Some(&new), Some(&old)]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].sha256, [2; 32]);
        assert_eq!(groups[0].endpoints, [2, 3]);
        assert_eq!(groups[1].endpoints, [0, 4]);
        assert!(group_by_leaf(&[None, None]).is_empty());
    }

    #[test]
    fn nagios_codes_follow_severity() {
        assert_eq!(Health::Ok.exit_code(), 0);
        assert_eq!(Health::Unknown.exit_code(), 3);
        assert!(Health::Critical > Health::Warning);
    }
}
