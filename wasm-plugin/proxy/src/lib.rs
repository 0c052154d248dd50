//! `certpull-proxy.wasm`: a proxy-wasm (ABI 0.2.1) network filter for Envoy's
//! `envoy.filters.network.wasm` that watches TLS handshakes on passthrough listeners and
//! publishes certificate metrics. It never changes or delays traffic: every callback answers
//! Continue.
//!
//! From the client's bytes it reads the ClientHello (server name), from the server's the
//! ServerHello (version) and, up to TLS 1.2, the Certificate message (TLS 1.3 encrypts it:
//! then only version and server name are counted). Parsing is
//! [`certpull_core::observe`]: bounded (64 KiB per direction), panic-free, stopping as soon as
//! it has what it needs.
//!
//! Metrics (names carry `;key=value` tags, see the README for Envoy's tag extraction):
//!
//! | name | type | meaning |
//! | --- | --- | --- |
//! | `certpull.handshakes;sni=S;version=V` | counter | server hellos seen |
//! | `certpull.leaf_days_left;sni=S` | gauge | days until the last seen leaf expires (0 once expired) |
//! | `certpull.leaf_fingerprints;sni=S` | gauge | distinct leaves seen (more than 1: some upstream serves another certificate) |
//! | `certpull.leaf_mismatches;sni=S` | counter | leaves that are none of the configured expected ones |
//! | `certpull.parse_errors;direction=D;reason=R` | counter | connections not understood |
//!
//! Configuration: empty, or PEM text whose CERTIFICATE blocks are the expected leaves.
//!
//! Build: `cargo build -p certpull-proxy --target wasm32-unknown-unknown --release` →
//! `target/wasm32-unknown-unknown/release/certpull_proxy.wasm`.
#![warn(missing_docs)]

pub mod watch;

#[cfg(target_arch = "wasm32")]
mod filter;
