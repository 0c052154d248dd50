//! Support for certpull-core's fuzz targets: a deterministic crypto provider, fixed PKIs, and
//! one function per target that feeds core with the fuzzer's input and asserts its properties.
//!
//! The targets in `fuzz_targets/` are one line each; the work is here so that the same code
//! runs under libFuzzer, in `cargo test` (every committed corpus and regression input, see
//! `tests/corpora.rs`) and in `examples/seeds.rs`. Nothing here links libFuzzer.
//!
//! Everything is deterministic across processes: an input that fails once fails again.

pub mod det;
pub mod pki;
pub mod targets;
pub mod tlv;
