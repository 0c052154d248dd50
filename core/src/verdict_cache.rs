//! Valid verdicts already reached, shared between pulls.
//!
//! A fleet audit meets the same chain at every endpoint, and judging it (path building and a
//! signature check per certificate on the path) is about a third of a pull's CPU. A
//! [`VerdictCache`] shared by the pulls of one run lets each distinct chain be judged once per
//! second.
//!
//! What is kept, and why it is safe:
//!
//! - only [`Verdict::Valid`](crate::Verdict::Valid): a chain that fails is judged again every
//!   time, so its report always carries the verifier's own words;
//! - the key is a SHA-256 over everything the verdict depends on: the server name, the second
//!   of the check, and the exact bytes of every certificate as sent, in order. The trust
//!   anchors are the cache's own: a session uses the cache only when its roots are the very
//!   same [`RootCertStore`] (the same `Arc`), and ignores it otherwise. (A stapled OCSP
//!   response is not part of it: the verifier is built without revocation checking, so it
//!   plays no part in the verdict);
//! - the handshake signature is never cached: every pull still proves that the server holds the
//!   leaf's private key, so replaying a known-good public chain gains an impostor nothing;
//! - at most [`VerdictCache::CAPACITY`] keys, the oldest replaced first.

use alloc::sync::Arc;
use alloc::vec::Vec;

use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::error::server_name_text;

/// The digest that names one (name, second, chain) judgement.
pub(crate) type VerdictKey = [u8; 32];

/// Valid verdicts for one set of trust anchors. Share it (in an `Arc`) between the sessions of
/// one run through [`PullConfig::with_verdict_cache`](crate::PullConfig::with_verdict_cache).
#[derive(Debug)]
pub struct VerdictCache {
    roots: Arc<RootCertStore>,
    state: spin::Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    keys: Vec<VerdictKey>,
    /// Where the next key goes once the cache is full (the oldest one).
    next: usize,
    hits: u64,
}

impl VerdictCache {
    /// The most verdicts kept: a run meets few distinct chains, each for a few seconds.
    pub const CAPACITY: usize = 64;

    /// An empty cache for verdicts reached against `roots`.
    pub fn new(roots: Arc<RootCertStore>) -> Self {
        Self {
            roots,
            state: spin::Mutex::new(State::default()),
        }
    }

    /// Whether the cache holds verdicts for these trust anchors (the same store, not an equal
    /// one).
    pub fn serves(&self, roots: &Arc<RootCertStore>) -> bool {
        Arc::ptr_eq(&self.roots, roots)
    }

    /// How many judgements were answered from the cache.
    pub fn hits(&self) -> u64 {
        self.state.lock().hits
    }

    /// How many verdicts are kept.
    pub fn len(&self) -> usize {
        self.state.lock().keys.len()
    }

    /// Whether no verdict is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn key(
        name: &ServerName<'_>,
        now: UnixTime,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> VerdictKey {
        let mut digest = Sha256::new();
        let name = server_name_text(name);
        digest.update(length_prefix(name.len()));
        digest.update(name.as_bytes());
        digest.update(now.as_secs().to_be_bytes());
        for der in core::iter::once(end_entity).chain(intermediates) {
            digest.update(length_prefix(der.len()));
            digest.update(der.as_ref());
        }
        digest.finalize().into()
    }

    /// Whether `key` was judged valid; counts a hit when it was.
    pub(crate) fn is_valid(&self, key: &VerdictKey) -> bool {
        let mut state = self.state.lock();
        let found = state.keys.contains(key);
        if found {
            state.hits = state.hits.saturating_add(1);
        }
        found
    }

    /// Remembers that `key` was judged valid.
    pub(crate) fn insert_valid(&self, key: VerdictKey) {
        let mut state = self.state.lock();
        if state.keys.contains(&key) {
            return;
        }
        if state.keys.len() < Self::CAPACITY {
            state.keys.push(key);
            return;
        }
        let next = state.next;
        if let Some(slot) = state.keys.get_mut(next) {
            *slot = key;
        }
        state.next = next.saturating_add(1) % Self::CAPACITY;
    }
}

/// Lengths go into the digest so that no two different inputs concatenate alike.
fn length_prefix(len: usize) -> [u8; 8] {
    u64::try_from(len).unwrap_or(u64::MAX).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(bytes: &[u8]) -> CertificateDer<'static> {
        CertificateDer::from(bytes.to_vec())
    }

    fn name(text: &str) -> ServerName<'static> {
        ServerName::try_from(alloc::string::String::from(text)).unwrap()
    }

    #[test]
    fn the_key_depends_on_name_second_and_every_byte_of_the_chain() {
        let now = UnixTime::since_unix_epoch(core::time::Duration::from_secs(1_000));
        let later = UnixTime::since_unix_epoch(core::time::Duration::from_secs(1_001));
        let base = VerdictCache::key(&name("a.example"), now, &der(b"leaf"), &[der(b"mid")]);
        assert_eq!(
            base,
            VerdictCache::key(&name("a.example"), now, &der(b"leaf"), &[der(b"mid")])
        );
        for other in [
            VerdictCache::key(&name("b.example"), now, &der(b"leaf"), &[der(b"mid")]),
            VerdictCache::key(&name("a.example"), later, &der(b"leaf"), &[der(b"mid")]),
            VerdictCache::key(&name("a.example"), now, &der(b"leaf"), &[der(b"mix")]),
            VerdictCache::key(&name("a.example"), now, &der(b"leaf"), &[]),
            // The same bytes cut elsewhere are another chain.
            VerdictCache::key(&name("a.example"), now, &der(b"lea"), &[der(b"fmid")]),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn at_most_capacity_keys_are_kept_the_oldest_replaced_first() {
        let cache = VerdictCache::new(Arc::new(RootCertStore::empty()));
        let key = |i: usize| [u8::try_from(i % 256).unwrap(); 32];
        for i in 0..VerdictCache::CAPACITY {
            cache.insert_valid(key(i));
        }
        cache.insert_valid(key(0));
        assert_eq!(cache.len(), VerdictCache::CAPACITY);
        cache.insert_valid(key(VerdictCache::CAPACITY));
        assert_eq!(cache.len(), VerdictCache::CAPACITY);
        assert!(!cache.is_valid(&key(0)));
        assert!(cache.is_valid(&key(1)));
        assert!(cache.is_valid(&key(VerdictCache::CAPACITY)));
        assert_eq!(cache.hits(), 2);
    }

    #[test]
    fn a_cache_serves_only_its_own_root_store() {
        let roots = Arc::new(RootCertStore::empty());
        let cache = VerdictCache::new(roots.clone());
        assert!(cache.serves(&roots));
        assert!(!cache.serves(&Arc::new(RootCertStore::empty())));
    }
}
