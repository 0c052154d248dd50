//! The install policy, decision by decision.

use certpull_core::pki_types::CertificateDer;
use certpull_core::policy::{
    decide, names_not_covered, select, Candidate, Decision, InstallReason, Installed,
    InstalledFiles, KeyReference, PolicyOptions, Refusal, Selection, Slot,
};
use certpull_core::{pem, CertSummary, LocalKey, ValidationFailure, Verdict};
use rcgen::{CertificateParams, IsCa, Issuer, KeyPair};

/// 2027-01-01T00:00:00Z.
const NOW: u64 = 1_798_761_600;

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

fn ca(label: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, label);
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().clone();
    Ca {
        issuer: Issuer::new(params, key),
        der,
    }
}

/// A leaf for `names` of `key`, valid from `from` to `until` (years, January 1st).
fn leaf(ca: &Ca, key: &KeyPair, names: &[&str], from: i32, until: i32) -> CertificateDer<'static> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(until, 1, 1);
    params.signed_by(key, &ca.issuer).unwrap().der().clone()
}

struct Pulled {
    chain: Vec<CertificateDer<'static>>,
    summaries: Vec<CertSummary>,
    verdict: Verdict,
}

impl Pulled {
    fn new(chain: Vec<CertificateDer<'static>>) -> Self {
        let summaries = CertSummary::parse_chain(&chain).unwrap();
        Self {
            chain,
            summaries,
            verdict: Verdict::Valid,
        }
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            chain: &self.chain,
            summaries: &self.summaries,
            verdict: &self.verdict,
        }
    }
}

fn installed(chain: &[CertificateDer<'static>]) -> Installed {
    let full = pem::encode_chain(chain);
    Installed::from_files(&InstalledFiles {
        cert: Slot::NotManaged,
        chain: Slot::NotManaged,
        fullchain: Slot::Present(full.as_bytes()),
    })
    .unwrap()
}

fn local(key: &KeyPair) -> LocalKey {
    LocalKey::from_spki(&rcgen::PublicKeyData::subject_public_key_info(key))
}

struct World {
    ca: Ca,
    key: KeyPair,
    local: LocalKey,
}

fn world() -> World {
    let key = KeyPair::generate().unwrap();
    World {
        ca: ca("policy test CA"),
        local: local(&key),
        key,
    }
}

fn judge(world: &World, pulled: &Pulled, installed: Option<&Installed>) -> Decision {
    decide(
        &pulled.candidate(),
        installed,
        KeyReference::Local(&world.local),
        NOW,
        PolicyOptions::default(),
    )
}

#[test]
fn first_install_with_matching_key_is_installed() {
    let w = world();
    let pulled = Pulled::new(vec![
        leaf(&w.ca, &w.key, &["a.example"], 2026, 2028),
        w.ca.der.clone(),
    ]);
    assert_eq!(
        judge(&w, &pulled, None),
        Decision::Install(InstallReason::NothingInstalled)
    );
}

#[test]
fn leaf_of_another_key_is_refused() {
    let w = world();
    let other = KeyPair::generate().unwrap();
    let pulled = Pulled::new(vec![leaf(&w.ca, &other, &["a.example"], 2026, 2028)]);
    assert_eq!(
        judge(&w, &pulled, None),
        Decision::Refuse(Refusal::KeyMismatch {
            against_installed: false
        })
    );
}

#[test]
fn without_a_key_file_the_installed_leafs_key_is_the_reference() {
    let w = world();
    let old = installed(&[leaf(&w.ca, &w.key, &["a.example"], 2026, 2028)]);
    let renewed = Pulled::new(vec![leaf(&w.ca, &w.key, &["a.example"], 2026, 2029)]);
    let rekeyed = Pulled::new(vec![leaf(
        &w.ca,
        &KeyPair::generate().unwrap(),
        &["a.example"],
        2026,
        2029,
    )]);
    let options = PolicyOptions::default();
    assert_eq!(
        decide(
            &renewed.candidate(),
            Some(&old),
            KeyReference::InstalledLeaf,
            NOW,
            options
        ),
        Decision::Install(InstallReason::Renewed)
    );
    assert_eq!(
        decide(
            &rekeyed.candidate(),
            Some(&old),
            KeyReference::InstalledLeaf,
            NOW,
            options
        ),
        Decision::Refuse(Refusal::KeyMismatch {
            against_installed: true
        })
    );
    assert_eq!(
        decide(
            &renewed.candidate(),
            None,
            KeyReference::InstalledLeaf,
            NOW,
            options
        ),
        Decision::Refuse(Refusal::NoKeyReference)
    );
}

#[test]
fn same_chain_is_up_to_date() {
    let w = world();
    let chain = vec![
        leaf(&w.ca, &w.key, &["a.example"], 2026, 2028),
        w.ca.der.clone(),
    ];
    let pulled = Pulled::new(chain.clone());
    assert_eq!(
        judge(&w, &pulled, Some(&installed(&chain))),
        Decision::UpToDate
    );
}

#[test]
fn same_leaf_with_another_intermediate_is_installed() {
    let w = world();
    let cert = leaf(&w.ca, &w.key, &["a.example"], 2026, 2028);
    let old = installed(&[cert.clone(), ca("old intermediate").der]);
    let pulled = Pulled::new(vec![cert, w.ca.der.clone()]);
    assert_eq!(
        judge(&w, &pulled, Some(&old)),
        Decision::Install(InstallReason::ChainChanged)
    );
}

#[test]
fn same_chain_in_inconsistent_files_is_repaired() {
    let w = world();
    let new_leaf = leaf(&w.ca, &w.key, &["a.example"], 2026, 2028);
    let old_leaf = leaf(&w.ca, &w.key, &["a.example"], 2026, 2027);
    let chain = vec![new_leaf.clone(), w.ca.der.clone()];
    // Interrupted after fullchain.pem was renamed but before cert.pem was.
    let full = pem::encode_chain(&chain);
    let cert = pem::encode_chain(&[old_leaf]);
    let intermediates = pem::encode_chain(&chain[1..]);
    let mixed = Installed::from_files(&InstalledFiles {
        cert: Slot::Present(cert.as_bytes()),
        chain: Slot::Present(intermediates.as_bytes()),
        fullchain: Slot::Present(full.as_bytes()),
    })
    .unwrap();
    assert!(!mixed.consistent);
    assert_eq!(mixed.chain, chain, "fullchain.pem is the reference");
    let pulled = Pulled::new(chain);
    assert_eq!(
        judge(&w, &pulled, Some(&mixed)),
        Decision::Install(InstallReason::Repair)
    );
}

#[test]
fn installed_chain_falls_back_to_cert_and_chain_files() {
    let w = world();
    let chain = vec![
        leaf(&w.ca, &w.key, &["a.example"], 2026, 2028),
        w.ca.der.clone(),
    ];
    let cert = pem::encode_chain(&chain[..1]);
    let intermediates = pem::encode_chain(&chain[1..]);
    let found = Installed::from_files(&InstalledFiles {
        cert: Slot::Present(cert.as_bytes()),
        chain: Slot::Present(intermediates.as_bytes()),
        fullchain: Slot::Missing,
    })
    .unwrap();
    assert_eq!(found.chain, chain);
    assert!(!found.consistent, "a missing managed file is inconsistent");

    let found = Installed::from_files(&InstalledFiles {
        cert: Slot::Present(cert.as_bytes()),
        chain: Slot::Present(intermediates.as_bytes()),
        fullchain: Slot::NotManaged,
    })
    .unwrap();
    assert!(found.consistent);

    assert!(Installed::from_files(&InstalledFiles {
        cert: Slot::Missing,
        chain: Slot::Missing,
        fullchain: Slot::Present(b"not pem"),
    })
    .is_none());
}

#[test]
fn an_empty_chain_file_holds_no_intermediates() {
    let w = world();
    let chain = vec![leaf(&w.ca, &w.key, &["a.example"], 2026, 2028)];
    let cert = pem::encode_chain(&chain);
    let found = Installed::from_files(&InstalledFiles {
        cert: Slot::Present(cert.as_bytes()),
        chain: Slot::Present(b""),
        fullchain: Slot::Present(cert.as_bytes()),
    })
    .unwrap();
    assert!(found.consistent);
}

#[test]
fn leaf_expiring_earlier_is_a_downgrade_unless_allowed() {
    let w = world();
    let old = installed(&[leaf(&w.ca, &w.key, &["a.example"], 2026, 2029)]);
    let pulled = Pulled::new(vec![leaf(&w.ca, &w.key, &["a.example"], 2026, 2028)]);
    let decision = judge(&w, &pulled, Some(&old));
    match &decision {
        Decision::Refuse(refusal @ Refusal::ExpiresEarlier { installed, pulled }) => {
            assert!(installed > pulled);
            assert!(refusal.is_downgrade());
        }
        other => panic!("{other:?}"),
    }
    let allow = PolicyOptions {
        allow_downgrade: true,
        ..PolicyOptions::default()
    };
    assert_eq!(
        decide(
            &pulled.candidate(),
            Some(&old),
            KeyReference::Local(&w.local),
            NOW,
            allow
        ),
        Decision::Install(InstallReason::Renewed)
    );
}

#[test]
fn leaf_dropping_names_is_a_downgrade() {
    let w = world();
    let old = installed(&[leaf(
        &w.ca,
        &w.key,
        &["a.example", "b.example", "127.0.0.1"],
        2026,
        2028,
    )]);
    let pulled = Pulled::new(vec![leaf(&w.ca, &w.key, &["a.example"], 2026, 2029)]);
    assert_eq!(
        judge(&w, &pulled, Some(&old)),
        Decision::Refuse(Refusal::NamesDropped {
            missing: vec!["b.example".into(), "127.0.0.1".into()]
        })
    );
}

#[test]
fn wildcard_covers_one_label_and_names_may_grow() {
    let w = world();
    let installed_leaf = CertSummary::parse(&leaf(
        &w.ca,
        &w.key,
        &["www.example.com", "*.example.com"],
        2026,
        2028,
    ))
    .unwrap();
    let wider = CertSummary::parse(&leaf(
        &w.ca,
        &w.key,
        &["*.example.com", "new.example"],
        2026,
        2029,
    ))
    .unwrap();
    assert!(names_not_covered(&installed_leaf, &wider).is_empty());
    let deep = CertSummary::parse(&leaf(&w.ca, &w.key, &["a.b.example.com"], 2026, 2028)).unwrap();
    assert_eq!(names_not_covered(&deep, &wider), ["a.b.example.com"]);
}

#[test]
fn not_yet_valid_and_expired_leaves_are_refused() {
    let w = world();
    let future = Pulled::new(vec![leaf(&w.ca, &w.key, &["a.example"], 2028, 2029)]);
    assert!(matches!(
        judge(&w, &future, None),
        Decision::Refuse(Refusal::NotYetValid { .. })
    ));
    let past = Pulled::new(vec![leaf(&w.ca, &w.key, &["a.example"], 2020, 2021)]);
    assert!(matches!(
        judge(&w, &past, None),
        Decision::Refuse(Refusal::Expired { .. })
    ));
}

#[test]
fn unvalidated_chains_are_refused_unless_allowed() {
    let w = world();
    let mut pulled = Pulled::new(vec![leaf(&w.ca, &w.key, &["a.example"], 2026, 2028)]);
    pulled.verdict = Verdict::Invalid(ValidationFailure::UnknownIssuer);
    assert_eq!(
        judge(&w, &pulled, None),
        Decision::Refuse(Refusal::Invalid(ValidationFailure::UnknownIssuer))
    );
    pulled.verdict = Verdict::NotChecked;
    assert_eq!(
        judge(&w, &pulled, None),
        Decision::Refuse(Refusal::NotValidated)
    );
    let insecure = PolicyOptions {
        allow_unvalidated: true,
        ..PolicyOptions::default()
    };
    assert_eq!(
        decide(
            &pulled.candidate(),
            None,
            KeyReference::Local(&w.local),
            NOW,
            insecure
        ),
        Decision::Install(InstallReason::NothingInstalled)
    );
    // --insecure still enforces the key.
    let stranger = local(&KeyPair::generate().unwrap());
    assert!(matches!(
        decide(
            &pulled.candidate(),
            None,
            KeyReference::Local(&stranger),
            NOW,
            insecure
        ),
        Decision::Refuse(Refusal::KeyMismatch { .. })
    ));
}

#[test]
fn empty_chain_is_refused() {
    let w = world();
    let pulled = Pulled::new(Vec::new());
    assert_eq!(judge(&w, &pulled, None), Decision::Refuse(Refusal::Empty));
}

#[test]
fn selection_prefers_the_latest_installable_leaf() {
    let install = Decision::Install(InstallReason::Renewed);
    let refuse = Decision::Refuse(Refusal::Empty);
    assert_eq!(
        select(&[
            (refuse.clone(), 900),
            (install.clone(), 100),
            (install.clone(), 300),
            (Decision::UpToDate, 200),
            (install.clone(), 300),
        ]),
        Selection::Install(2)
    );
    assert_eq!(
        select(&[(refuse.clone(), 900), (Decision::UpToDate, 200)]),
        Selection::UpToDate(1)
    );
    assert_eq!(select(&[(refuse, 900)]), Selection::Nothing);
    assert_eq!(select(&[]), Selection::Nothing);
}
