#![no_main]
//! See `certpull_fuzz::targets::chain` for the input format and the properties asserted.

libfuzzer_sys::fuzz_target!(|data: &[u8]| certpull_fuzz::targets::chain::run(data));
