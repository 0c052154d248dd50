//! Deterministic mode for the pull session: ring's provider with a seeded randomness source and
//! a seeded X25519 key exchange.
//!
//! ring's own key exchange draws its ephemeral key from the operating system
//! (`SystemRandom` inside rustls' `KxGroup::start`) whatever `secure_random` says, and ring
//! offers no way to seed it. So the first group offered here is an X25519 built on
//! x25519-dalek whose private key comes from the same seeded stream. Reset the stream with
//! [`reset`] before each `PullSession::new`: the ClientHello (random, session id, key share)
//! is then byte-identical on every run, a recorded server flight (TLS 1.2 or 1.3) still
//! matches it, and the handshake completes on replay.
//!
//! ring's P-256 and P-384 stay in the list after it: a TLS 1.2 server only picks an ECDSA
//! certificate when the client lists the certificate's curve (openssl answers "no shared
//! cipher" otherwise). rustls only computes a key share for the first group, so they draw no
//! randomness unless a server picks them (a TLS 1.3 HelloRetryRequest or a TLS 1.2
//! ServerKeyExchange for P-256/P-384): from there on that run's client key is not
//! reproducible, which only changes bytes the client sends, never what it accepts.

use std::cell::Cell;
use std::sync::Arc;

use rustls::crypto::{
    ring, ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::{Error, NamedGroup, PeerMisbehaved};

/// The seed every session target run starts from (also the one the seeds were recorded with).
pub const SEED: u64 = 0x6365_7274_7075_6c6c; // "certpull"

thread_local! {
    // One stream per thread: libFuzzer runs one input at a time on one thread, but `cargo
    // test` replays corpora on several at once, and a shared stream would make each thread's
    // ClientHello depend on the others' (the recorded flights would then no longer match).
    static STATE: Cell<u64> = const { Cell::new(SEED) };
}

/// Restarts this thread's randomness stream from `seed`.
pub fn reset(seed: u64) {
    STATE.set(seed);
}

/// SplitMix64: small, fast, and plenty for a fuzzer (this is not a CSPRNG, on purpose).
fn next_u64() -> u64 {
    let mut z = STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        next
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fill(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let word = next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// A `SecureRandom` that replays the seeded stream.
#[derive(Debug)]
pub struct SeededRandom;

impl SecureRandom for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        fill(buf);
        Ok(())
    }
}

static RANDOM: SeededRandom = SeededRandom;

/// X25519 whose ephemeral private key is drawn from the seeded stream.
#[derive(Debug)]
pub struct SeededX25519;

static X25519: SeededX25519 = SeededX25519;

struct Active {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl SupportedKxGroup for SeededX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut bytes = [0u8; 32];
        fill(&mut bytes);
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Ok(Box::new(Active { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

impl ActiveKeyExchange for Active {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        // As ring does: exactly 32 bytes, and no low-order point (all-zero shared secret).
        let peer: [u8; 32] = peer
            .try_into()
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// ring's default provider (cipher suites, signature verification, key loading), with the
/// seeded randomness, and the seeded X25519 first among the key-exchange groups.
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = ring::default_provider();
    provider.secure_random = &RANDOM;
    provider.kx_groups = vec![
        &X25519,
        ring::kx_group::SECP256R1,
        ring::kx_group::SECP384R1,
    ];
    Arc::new(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_restarts_identically() {
        reset(7);
        let mut a = [0u8; 45];
        fill(&mut a);
        reset(7);
        let mut b = [0u8; 45];
        fill(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, [0u8; 45]);
    }

    #[test]
    fn seeded_x25519_agrees_with_itself() {
        reset(1);
        let a = X25519.start().unwrap();
        let b = X25519.start().unwrap();
        let a_pub = a.pub_key().to_vec();
        let b_pub = b.pub_key().to_vec();
        let ab = a.complete(&b_pub).unwrap();
        let ba = b.complete(&a_pub).unwrap();
        assert_eq!(ab.secret_bytes(), ba.secret_bytes());
        reset(1);
        assert_eq!(X25519.start().unwrap().pub_key(), &a_pub[..]);
        assert!(X25519.start().unwrap().complete(&[0u8; 32]).is_err());
        assert!(X25519.start().unwrap().complete(&[9u8; 31]).is_err());
    }
}
