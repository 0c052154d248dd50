//! Valid verdicts shared between pulls: a chain is judged once per second per name, an invalid
//! one every time, and the handshake signature on every pull.

mod common;

use std::sync::Arc;

use certpull_core::rustls::version::{TLS12, TLS13};
use certpull_core::rustls::RootCertStore;
use certpull_core::{
    FixedTime, PullConfig, PullError, PullOutcome, PullSession, Trust, ValidationFailure, Verdict,
    VerdictCache,
};
use common::*;

const NAME: &str = "www.example.com";
const OTHER_NAME: &str = "api.example.com";

/// One time for every pull of a test: the cache keys on the second of the check.
fn pull_at_fixed_time(
    server: Arc<certpull_core::rustls::ServerConfig>,
    config: &PullConfig,
) -> Result<PullOutcome, PullError> {
    let time = Arc::new(FixedTime::from_unix_seconds(now() - now() % 60));
    let mut session = PullSession::new(config, provider(), time)?;
    finish_in_process(&mut session, server, 1000)
}

fn cached(name_text: &str, roots: &Arc<RootCertStore>, cache: &Arc<VerdictCache>) -> PullConfig {
    PullConfig::new(name(name_text), Trust::Verify(roots.clone()))
        .with_verdict_cache(Some(cache.clone()))
}

#[test]
fn the_second_pull_of_the_same_chain_is_answered_from_the_cache() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let roots = pki.roots();
    let cache = Arc::new(VerdictCache::new(roots.clone()));
    let config = cached(NAME, &roots, &cache);
    for (version, hits) in [(&TLS13, 0), (&TLS12, 1), (&TLS13, 2)] {
        let outcome = pull_at_fixed_time(pki.server(version, pki.served_chain()), &config).unwrap();
        assert_eq!(outcome.verdict, Verdict::Valid);
        assert_eq!(outcome.chain, pki.served_chain());
        assert_eq!(cache.hits(), hits);
    }
    assert_eq!(cache.len(), 1);
}

#[test]
fn an_impostor_replaying_a_cached_chain_still_fails_the_handshake_signature() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let impostor = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let roots = pki.roots();
    let cache = Arc::new(VerdictCache::new(roots.clone()));
    let config = cached(NAME, &roots, &cache);
    pull_at_fixed_time(pki.server(&TLS13, pki.served_chain()), &config).unwrap();
    for version in [&TLS12, &TLS13] {
        let server = impostor_server(version, pki.served_chain(), &impostor.leaf_key);
        match pull_at_fixed_time(server, &config) {
            Err(PullError::Rejected(rejected)) => {
                assert_eq!(rejected.failure, ValidationFailure::BadSignature)
            }
            other => panic!("an impostor got through: {other:?}"),
        }
    }
    assert_eq!(
        cache.hits(),
        2,
        "the chain itself was known valid both times"
    );
}

#[test]
fn a_chain_that_fails_is_judged_every_time_and_never_kept() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let other = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let roots = other.roots();
    let cache = Arc::new(VerdictCache::new(roots.clone()));
    let config = PullConfig::new(name(NAME), Trust::CaptureOnly(Some(roots.clone())))
        .with_verdict_cache(Some(cache.clone()));
    for _ in 0..2 {
        let outcome = pull_at_fixed_time(pki.server(&TLS13, pki.served_chain()), &config).unwrap();
        assert_eq!(
            outcome.verdict,
            Verdict::Invalid(ValidationFailure::UnknownIssuer)
        );
    }
    assert!(cache.is_empty());
    assert_eq!(cache.hits(), 0);
}

#[test]
fn a_cache_built_for_another_root_store_is_not_used() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    // Equal contents, another store: the cache cannot tell what it would be vouching for.
    let cache = Arc::new(VerdictCache::new(pki.roots()));
    let config = cached(NAME, &pki.roots(), &cache);
    for _ in 0..2 {
        let outcome = pull_at_fixed_time(pki.server(&TLS13, pki.served_chain()), &config).unwrap();
        assert_eq!(outcome.verdict, Verdict::Valid);
    }
    assert!(cache.is_empty());
    assert_eq!(cache.hits(), 0);
}

#[test]
fn the_same_chain_for_another_name_is_judged_anew() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME, OTHER_NAME], CURRENT);
    let roots = pki.roots();
    let cache = Arc::new(VerdictCache::new(roots.clone()));
    for name_text in [NAME, OTHER_NAME] {
        let config = cached(name_text, &roots, &cache);
        let outcome = pull_at_fixed_time(pki.server(&TLS13, pki.served_chain()), &config).unwrap();
        assert_eq!(outcome.verdict, Verdict::Valid);
    }
    assert_eq!(cache.hits(), 0);
    assert_eq!(cache.len(), 2);
    // And a name the leaf does not carry is refused even after both were cached.
    let config = cached("mail.example.com", &roots, &cache);
    let result = pull_at_fixed_time(pki.server(&TLS13, pki.served_chain()), &config);
    assert!(
        matches!(&result, Err(PullError::Rejected(r)) if matches!(r.failure, ValidationFailure::NotValidForName { .. })),
        "{result:?}"
    );
}
