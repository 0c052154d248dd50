//! One function per fuzz target: `run(input)` panics when a property fails.

pub mod chain;
pub mod key;
pub mod observe;
pub mod pem;
pub mod policy;
pub mod session;
pub mod starttls;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use sha2::{Digest, Sha256};

/// ring's default provider, as native uses it (built once per process).
pub fn ring_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Runs a target's function by name (for the corpus replay test and the seeds example).
pub fn run(target: &str, input: &[u8]) {
    match target {
        "pem" => pem::run(input),
        "chain" => chain::run(input),
        "key" => key::run(input),
        "policy" => policy::run(input),
        "session" => session::run(input),
        "starttls" => starttls::run(input),
        "observe" => observe::run(input),
        other => panic!("unknown target {other}"),
    }
}

/// Every target's name.
pub const ALL: [&str; 7] = [
    "pem", "chain", "key", "policy", "session", "starttls", "observe",
];
