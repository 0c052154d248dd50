//! `certpull.wasm`: certpull's sans-IO pull session as a WebAssembly module, for any host that
//! can open a TCP socket (wasmtime, wasmer, a browser extension's backend, a proxy's own
//! runtime…). The host moves the bytes; the module does the TLS handshake, captures and judges
//! the chain, and reports it.
//!
//! Build: `cargo build -p certpull-wasm --target wasm32-unknown-unknown --release` →
//! `target/wasm32-unknown-unknown/release/certpull.wasm`.
//!
//! # Imports
//!
//! Exactly one: `env.certpull_random(ptr: i32, len: i32) -> i32`. The host fills `len` bytes at
//! `ptr` in the module's memory with cryptographically secure random bytes and returns 0 (any
//! other value fails the handshake). The current time is an argument of
//! [`certpull_session_new`](abi::certpull_session_new); the module has no clock, no socket, no
//! file and no WASI.
//!
//! # ABI (version 1, [`certpull_abi_version`](abi::certpull_abi_version))
//!
//! Pointers and lengths are `i32` (wasm32), times `i64`. Handles are positive `i32`; negative
//! returns are error codes: -1 bad argument or handle, -2 chain refused by validation, -3 TLS
//! handshake failed, -4 server closed, -5 not TLS, -6 STARTTLS failed, -7 a limit was hit, -8
//! configuration refused, -9 session already finished.
//!
//! | export | meaning |
//! | --- | --- |
//! | `certpull_abi_version() -> u32` | 1 |
//! | `certpull_alloc(len) -> ptr` / `certpull_free(ptr, len)` | memory for inputs and outputs |
//! | `certpull_session_new(name, name_len, starttls, anchors, anchors_len, unix_secs) -> handle` | anchors PEM, length 0: capture only |
//! | `certpull_session_new_with_flags(…, flags) -> handle` | flags bit 0: judge but never fail on the verdict |
//! | `certpull_last_error(out, cap) -> len` | why the last `session_new` failed |
//! | `certpull_session_feed(h, ptr, len) -> 0/err` / `certpull_session_feed_eof(h)` | bytes from the server / its EOF |
//! | `certpull_session_receive_capacity(h) -> n` | the most bytes the next feed takes |
//! | `certpull_session_advance(h) -> status` | 0 needs input, 1 complete, < 0 error |
//! | `certpull_session_output_len(h)` / `certpull_session_take_output(h, out, cap) -> n` | bytes to send to the server |
//! | `certpull_session_chain_pem(h, out, cap) -> len` | the chain as sent, PEM, leaf first |
//! | `certpull_session_summary_json(h, out, cap) -> len` | versions, verdict, error, parsed chain |
//! | `certpull_session_verdict(h) -> code` | -1 none, 0 valid, 1 not checked, 2 unknown issuer, 3 name mismatch, 4 expired, 5 not yet valid, 6 bad signature, 7 unsupported algorithm, 8 invalid purpose, 9 bad encoding, 10 unhandled critical extension, 11 other |
//! | `certpull_session_error(h, out, cap) -> len` | the error's text |
//! | `certpull_keymatch(leaf, leaf_len, spki, spki_len) -> 1/0/-1` | does the leaf carry this public key |
//! | `certpull_session_free(h)` | ends the session |
//!
//! # Memory ownership
//!
//! 1. The host owns every block it gets from `certpull_alloc(len)` and gives it back with
//!    `certpull_free(ptr, len)` (same `len`). The module never frees or keeps a host block.
//! 2. Inputs (`name`, `anchors`, fed bytes, `leaf`, `spki`) are read during the call and copied
//!    if needed: the host may reuse or free them as soon as the call returns.
//! 3. Outputs are written into a host block (`out`, `cap`): the module writes at most `cap`
//!    bytes and returns the whole length, so a host seeing `len > cap` calls again with a
//!    larger block (`snprintf` style). Strings are UTF-8, not NUL-terminated.
//!    `certpull_session_take_output` moves bytes out: what it returned is no longer pending.
//! 4. A session owns everything it holds until `certpull_session_free`; a freed handle is
//!    refused by every function (handles carry a generation and are not reused at once).
//! 5. After a host write into memory, a call into the module may grow the memory and so move
//!    the host's view of it: hosts re-read the memory base after each call.
//!
//! Memory is bounded: at most [`MAX_SESSIONS`](abi::MAX_SESSIONS) sessions, each buffering at
//! most [`Limits::DEFAULT_MAX_BUFFERED`](certpull_core::Limits::DEFAULT_MAX_BUFFERED) received
//! bytes and a chain of at most 64 KiB.
//!
//! The module is single-threaded; one instance serves any number of sessions in turn.
#![warn(missing_docs)]

pub mod abi;
mod json;
pub mod pull;
mod random;

pub use abi::ABI_VERSION;
