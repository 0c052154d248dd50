//! `policy`: the install decision and source selection on arbitrary (installed, pulled) pairs.
//!
//! The input drives `arbitrary::Unstructured` to build a scenario from a small fixed set of real
//! certificates ([`Fixture`], built once with rcgen, deterministic): the installed files
//! (`cert.pem`, `chain.pem`, `fullchain.pem`, each unmanaged, missing, or holding PEM of some
//! certificates, mangled, or arbitrary bytes), up to four pulled candidates (chains of
//! fixture certificates, byte-mutated ones or arbitrary DER; a verdict; summaries possibly
//! out of step with the chain), a key reference, a time and the options.
//!
//! Properties:
//! - `Installed::from_files` never panics; what it returns has a leaf that is the parsed first
//!   certificate; `consistent` only when every managed file holds exactly its part; it reads
//!   `fullchain.pem` when that holds a parsable leaf;
//! - `decide` never panics, is deterministic, and its answer obeys the trust model: an install
//!   or "up to date" only for a validated (or explicitly allowed) chain whose leaf is valid now
//!   and carries the reference key; "up to date" only for exactly the installed, consistent
//!   chain; "nothing installed" only when nothing is; a renewal never expires earlier or drops
//!   names unless downgrades are allowed; downgrade refusals only when they are not;
//! - `select` picks the install with the latest notAfter (first on ties), else the first
//!   "up to date", else nothing;
//! - every refusal and failure displays, whatever numbers it holds.

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use certpull_core::error::ValidationFailure;
use certpull_core::pem::{decode_certificates, encode_chain};
use certpull_core::policy::{
    decide, names_not_covered, select, Candidate, Decision, InstallReason, Installed,
    InstalledFiles, KeyReference, PolicyOptions, Refusal, Selection, Slot,
};
use certpull_core::{CertSummary, LocalKey, Verdict};
use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyUsagePurpose, SanType};
use rustls_pki_types::CertificateDer;

use super::ring_provider;
use crate::pki::{ed25519_key, LeafKind, Pki};

/// The fixed certificates and keys the scenarios pick from.
pub struct Fixture {
    /// Certificates: CAs and leaves of two keys, various names and dates.
    pub certs: Vec<CertificateDer<'static>>,
    /// Local keys: the fixture's two leaf keys, and the session PKIs' leaf keys.
    pub keys: Vec<LocalKey>,
    /// Instants around the certificates' dates.
    pub times: Vec<u64>,
}

fn leaf(
    issuer: &Issuer<'_, rcgen::KeyPair>,
    key_seed: u8,
    names: &[&str],
    from: (i32, u8),
    to: (i32, u8),
) -> CertificateDer<'static> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    for name in names {
        params.subject_alt_names.push(match name.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*name).try_into().expect("dns name")),
        });
    }
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.not_before = rcgen::date_time_ymd(from.0, from.1, 1);
    params.not_after = rcgen::date_time_ymd(to.0, to.1, 1);
    params
        .signed_by(&ed25519_key(key_seed), issuer)
        .expect("leaf")
        .der()
        .clone()
}

impl Fixture {
    fn build() -> Self {
        let mut root_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        root_params.distinguished_name = rcgen::DistinguishedName::new();
        root_params
            .distinguished_name
            .push(DnType::CommonName, "certpull policy root");
        root_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        root_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        root_params.not_after = rcgen::date_time_ymd(2040, 1, 1);
        let root_key = ed25519_key(10);
        let root = root_params.self_signed(&root_key).expect("root");
        let root_issuer = Issuer::new(root_params.clone(), root_key);

        let mut mid_params = root_params.clone();
        mid_params.distinguished_name = rcgen::DistinguishedName::new();
        mid_params
            .distinguished_name
            .push(DnType::CommonName, "certpull policy intermediate");
        let mid_key = ed25519_key(11);
        let mid = mid_params.signed_by(&mid_key, &root_issuer).expect("mid");
        let mid_issuer = Issuer::new(mid_params, mid_key);

        let (a, b) = (20, 21);
        let www = ["a.example", "www.a.example"];
        let certs = vec![
            root.der().clone(),
            mid.der().clone(),
            leaf(&mid_issuer, a, &www, (2025, 1), (2026, 1)),
            leaf(&mid_issuer, a, &www, (2025, 6), (2026, 9)),
            leaf(&mid_issuer, a, &["a.example"], (2025, 9), (2026, 12)),
            leaf(
                &mid_issuer,
                a,
                &["*.a.example", "a.example"],
                (2025, 9),
                (2027, 1),
            ),
            leaf(
                &mid_issuer,
                a,
                &["a.example", "WWW.A.EXAMPLE", "10.0.0.1", "::1"],
                (2026, 1),
                (2027, 6),
            ),
            leaf(&mid_issuer, b, &www, (2025, 6), (2026, 9)),
            leaf(&mid_issuer, a, &www, (2020, 1), (2021, 1)),
            leaf(
                &root_issuer,
                a,
                &["*.*.a.example", "*"],
                (2025, 1),
                (2030, 1),
            ),
            Pki::get(LeafKind::EcdsaP256).leaf.clone(),
            Pki::get(LeafKind::Rsa2048).leaf.clone(),
            Pki::get(LeafKind::Rsa2048).intermediate.clone(),
        ];
        let provider = ring_provider();
        let keys = [
            ed25519_key(a).serialize_pem(),
            ed25519_key(b).serialize_pem(),
            LeafKind::EcdsaP256.key_pem().to_string(),
            LeafKind::Rsa2048.key_pem().to_string(),
        ]
        .iter()
        .map(|pem| LocalKey::from_pem(pem.as_bytes(), &provider).expect("fixture key"))
        .collect();
        let mut times: Vec<u64> = certs
            .iter()
            .filter_map(|der| CertSummary::parse(der).ok())
            .flat_map(|s| [s.not_before, s.not_after])
            .collect();
        times.extend([0, u64::MAX, crate::pki::VALID_NOW]);
        Self { certs, keys, times }
    }

    /// The fixture (built once per process).
    pub fn get() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(Fixture::build)
    }
}

fn pick_cert(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<CertificateDer<'static>> {
    Ok(match u.int_in_range(0..=7u8)? {
        // Mostly real certificates, unchanged.
        0..=4 => fx.certs[u.choose_index(fx.certs.len())?].clone(),
        5 => {
            // A real certificate with a few bytes flipped.
            let mut der = fx.certs[u.choose_index(fx.certs.len())?].to_vec();
            for _ in 0..u.int_in_range(1..=4u8)? {
                let at = u.choose_index(der.len())?;
                der[at] ^= u.int_in_range(1..=255u8)?;
            }
            CertificateDer::from(der)
        }
        6 => {
            // A real certificate, truncated.
            let der = &fx.certs[u.choose_index(fx.certs.len())?];
            let len = u.choose_index(der.len())?;
            CertificateDer::from(der[..len].to_vec())
        }
        _ => CertificateDer::from(Vec::<u8>::arbitrary_take(u)?),
    })
}

trait TakeBytes: Sized {
    fn arbitrary_take(u: &mut Unstructured<'_>) -> Result<Self>;
}

impl TakeBytes for Vec<u8> {
    fn arbitrary_take(u: &mut Unstructured<'_>) -> Result<Self> {
        let len = u.int_in_range(0..=64usize)?;
        Ok(u.bytes(len.min(u.len()))?.to_vec())
    }
}

fn pick_chain(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<Vec<CertificateDer<'static>>> {
    let len = u.int_in_range(0..=4usize)?;
    (0..len).map(|_| pick_cert(u, fx)).collect()
}

/// File contents: PEM of some certificates, perhaps mangled, or arbitrary bytes.
fn pick_file(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<Vec<u8>> {
    let mut text = match u.int_in_range(0..=5u8)? {
        0 => Vec::<u8>::arbitrary_take(u)?,
        1 => b" \n\t\r\n".to_vec(),
        _ => encode_chain(&pick_chain(u, fx)?).into_bytes(),
    };
    match u.int_in_range(0..=7u8)? {
        0 => {
            text = String::from_utf8_lossy(&text)
                .replace('\n', "\r\n")
                .into_bytes();
        }
        1 => {
            let cut = u.choose_index(text.len().max(1))?;
            text.truncate(cut);
        }
        2 => {
            let prefix = Vec::<u8>::arbitrary_take(u)?;
            text.splice(0..0, prefix);
        }
        3 => text.extend(Vec::<u8>::arbitrary_take(u)?),
        4 if !text.is_empty() => {
            let at = u.choose_index(text.len())?;
            text[at] = u.arbitrary()?;
        }
        _ => {}
    }
    Ok(text)
}

fn slot(file: &Option<Vec<u8>>, missing: bool) -> Slot<'_> {
    match file {
        Some(text) => Slot::Present(text),
        None if missing => Slot::Missing,
        None => Slot::NotManaged,
    }
}

fn pick_failure(u: &mut Unstructured<'_>) -> Result<ValidationFailure> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => ValidationFailure::UnknownIssuer,
        1 => ValidationFailure::NotValidForName {
            expected: u.arbitrary()?,
            presented: u.arbitrary()?,
        },
        2 => ValidationFailure::Expired {
            now: u.arbitrary()?,
            not_after: u.arbitrary()?,
        },
        3 => ValidationFailure::NotYetValid {
            now: u.arbitrary()?,
            not_before: u.arbitrary()?,
        },
        4 => ValidationFailure::BadSignature,
        _ => ValidationFailure::Other(u.arbitrary()?),
    })
}

fn pick_verdict(u: &mut Unstructured<'_>) -> Result<Verdict> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 | 1 => Verdict::Valid,
        2 => Verdict::NotChecked,
        _ => Verdict::Invalid(pick_failure(u)?),
    })
}

fn pick_time(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<u64> {
    Ok(if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        let base = fx.times[u.choose_index(fx.times.len())?];
        let offset: i32 = u.int_in_range(-3..=3)?;
        base.saturating_add_signed(i64::from(offset))
    })
}

struct Pulled {
    chain: Vec<CertificateDer<'static>>,
    summaries: Vec<CertSummary>,
    verdict: Verdict,
}

fn pick_pulled(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<Pulled> {
    let chain = pick_chain(u, fx)?;
    let mut summaries: Vec<CertSummary> = match CertSummary::parse_chain(&chain) {
        Ok(summaries) => summaries,
        // What a careless caller might pass: the summaries that did parse.
        Err(_) => chain
            .iter()
            .filter_map(|der| CertSummary::parse(der).ok())
            .collect(),
    };
    if u.ratio(1, 16)? {
        summaries.pop();
    }
    Ok(Pulled {
        chain,
        summaries,
        verdict: pick_verdict(u)?,
    })
}

fn check_installed(files: &InstalledFiles<'_>, installed: Option<&Installed>) {
    let decoded = |slot: Slot<'_>| match slot {
        Slot::Present(text) if text.iter().all(u8::is_ascii_whitespace) => Some(Vec::new()),
        Slot::Present(text) => decode_certificates(text).ok(),
        _ => None,
    };
    let full = decoded(files.fullchain).filter(|chain| !chain.is_empty());
    let Some(installed) = installed else {
        // Nothing found: neither file offers a leaf that parses.
        if let Some(full) = &full {
            assert!(CertSummary::parse(&full[0]).is_err());
        } else if let Some(cert) = decoded(files.cert) {
            assert!(cert.first().is_none_or(|c| CertSummary::parse(c).is_err()));
        }
        return;
    };
    assert!(!installed.chain.is_empty());
    assert_eq!(
        CertSummary::parse(&installed.chain[0]).as_ref().ok(),
        Some(&installed.leaf)
    );
    if let Some(full) = full {
        assert_eq!(installed.chain, full, "fullchain.pem was not preferred");
    }
    if installed.consistent {
        let (head, tail) = installed.chain.split_at(1);
        for (slot, part) in [
            (files.cert, head),
            (files.chain, tail),
            (files.fullchain, &installed.chain[..]),
        ] {
            match slot {
                Slot::NotManaged => {}
                Slot::Missing => panic!("consistent with a missing file"),
                Slot::Present(_) => assert_eq!(decoded(slot).as_deref(), Some(part)),
            }
        }
    }
}

fn check_decision(
    decision: &Decision,
    candidate: &Candidate<'_>,
    installed: Option<&Installed>,
    key: KeyReference<'_>,
    now: u64,
    options: PolicyOptions,
) {
    if let Decision::Refuse(refusal) = decision {
        let _ = refusal.code();
        assert!(!refusal.to_string().is_empty());
        if refusal.is_downgrade() {
            assert!(!options.allow_downgrade, "downgrade refused though allowed");
        }
        return;
    }
    // An install or "up to date": every condition of the trust model holds.
    assert!(
        *candidate.verdict == Verdict::Valid || options.allow_unvalidated,
        "accepted an unvalidated chain: {decision:?}"
    );
    assert_eq!(candidate.chain.len(), candidate.summaries.len());
    let leaf = candidate
        .summaries
        .first()
        .expect("accepted an empty chain");
    assert!(leaf.is_valid_at(now), "accepted a leaf not valid now");
    let reference = match (key, installed) {
        (KeyReference::Local(local), _) => *local.spki_sha256(),
        (KeyReference::InstalledLeaf, Some(installed)) => installed.leaf.spki_sha256,
        (KeyReference::InstalledLeaf, None) => panic!("accepted without a key reference"),
    };
    assert_eq!(
        leaf.spki_sha256, reference,
        "accepted a leaf of another key"
    );
    match (decision, installed) {
        (Decision::Install(InstallReason::NothingInstalled), None) => {}
        (_, None) => panic!("{decision:?} with nothing installed"),
        (Decision::Install(InstallReason::NothingInstalled), Some(_)) => {
            panic!("NothingInstalled with something installed")
        }
        (Decision::UpToDate, Some(installed)) => {
            assert_eq!(installed.leaf.sha256, leaf.sha256);
            assert_eq!(installed.chain.as_slice(), candidate.chain);
            assert!(installed.consistent, "up to date, yet the files disagree");
        }
        (Decision::Install(InstallReason::ChainChanged), Some(installed)) => {
            assert_eq!(installed.leaf.sha256, leaf.sha256);
            assert_ne!(installed.chain.as_slice(), candidate.chain);
        }
        (Decision::Install(InstallReason::Repair), Some(installed)) => {
            assert_eq!(installed.chain.as_slice(), candidate.chain);
            assert!(!installed.consistent);
        }
        (Decision::Install(InstallReason::Renewed), Some(installed)) => {
            assert_ne!(installed.leaf.sha256, leaf.sha256);
            if !options.allow_downgrade {
                assert!(
                    leaf.not_after >= installed.leaf.not_after,
                    "renewal expires earlier"
                );
                assert!(names_not_covered(&installed.leaf, leaf).is_empty());
            }
        }
        (Decision::Refuse(_), _) => unreachable!(),
    }
}

fn check_selection(decisions: &[(Decision, u64)], selection: Selection) {
    let installs = || {
        decisions
            .iter()
            .enumerate()
            .filter(|(_, (d, _))| matches!(d, Decision::Install(_)))
    };
    match selection {
        Selection::Install(index) => {
            let (decision, after) = &decisions[index];
            assert!(matches!(decision, Decision::Install(_)));
            for (other, (_, other_after)) in installs() {
                assert!(*other_after <= *after, "a later install was passed over");
                if other < index {
                    assert!(*other_after < *after, "not the first of equals");
                }
            }
        }
        Selection::UpToDate(index) => {
            assert_eq!(installs().count(), 0);
            assert_eq!(decisions[index].0, Decision::UpToDate);
            assert!(decisions[..index]
                .iter()
                .all(|(d, _)| *d != Decision::UpToDate));
        }
        Selection::Nothing => {
            assert_eq!(installs().count(), 0);
            assert!(decisions.iter().all(|(d, _)| *d != Decision::UpToDate));
        }
    }
}

fn scenario(u: &mut Unstructured<'_>) -> Result<()> {
    let fx = Fixture::get();

    // The installed files.
    let cert = if u.ratio(3, 4)? {
        Some(pick_file(u, fx)?)
    } else {
        None
    };
    let chain = if u.ratio(3, 4)? {
        Some(pick_file(u, fx)?)
    } else {
        None
    };
    let full = if u.ratio(3, 4)? {
        Some(pick_file(u, fx)?)
    } else {
        None
    };
    let missing: [bool; 3] = u.arbitrary()?;
    let files = InstalledFiles {
        cert: slot(&cert, missing[0]),
        chain: slot(&chain, missing[1]),
        fullchain: slot(&full, missing[2]),
    };
    let installed = Installed::from_files(&files);
    check_installed(&files, installed.as_ref());
    assert_eq!(
        Installed::from_files(&files),
        installed,
        "from_files is not deterministic"
    );
    let installed = if u.ratio(1, 8)? { None } else { installed };

    // The key reference.
    let spki_key;
    let key = match u.int_in_range(0..=5u8)? {
        0 => KeyReference::InstalledLeaf,
        1 => {
            spki_key = LocalKey::from_spki(&Vec::<u8>::arbitrary_take(u)?);
            KeyReference::Local(&spki_key)
        }
        _ => KeyReference::Local(&fx.keys[u.choose_index(fx.keys.len())?]),
    };
    let now = pick_time(u, fx)?;
    let options = PolicyOptions {
        allow_downgrade: u.ratio(1, 4)?,
        allow_unvalidated: u.ratio(1, 4)?,
    };

    // The candidates.
    let mut pulled = Vec::new();
    for _ in 0..u.int_in_range(0..=4u8)? {
        pulled.push(pick_pulled(u, fx)?);
    }
    let mut decisions = Vec::new();
    for p in &pulled {
        let candidate = Candidate {
            chain: &p.chain,
            summaries: &p.summaries,
            verdict: &p.verdict,
        };
        let decision = decide(&candidate, installed.as_ref(), key, now, options);
        assert_eq!(
            decide(&candidate, installed.as_ref(), key, now, options),
            decision,
            "decide is not deterministic"
        );
        check_decision(&decision, &candidate, installed.as_ref(), key, now, options);
        let after = p.summaries.first().map_or(0, |s| s.not_after);
        decisions.push((decision, after));
    }
    // Arbitrary decision lists too: select is a pure function of them.
    if u.ratio(1, 4)? {
        for _ in 0..u.int_in_range(0..=3u8)? {
            let decision = match u.int_in_range(0..=2u8)? {
                0 => Decision::Install(InstallReason::Renewed),
                1 => Decision::UpToDate,
                _ => Decision::Refuse(Refusal::Empty),
            };
            decisions.push((decision, u.arbitrary()?));
        }
    }
    check_selection(&decisions, select(&decisions));

    // Refusals and failures display whatever numbers they hold.
    let (a, b): (u64, u64) = (u.arbitrary()?, u.arbitrary()?);
    for refusal in [
        Refusal::NotYetValid { not_before: a },
        Refusal::Expired { not_after: a },
        Refusal::ExpiresEarlier {
            installed: a,
            pulled: b,
        },
        Refusal::Invalid(pick_failure(u)?),
    ] {
        assert!(!refusal.to_string().is_empty());
    }
    Ok(())
}

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = scenario(&mut u);
}
