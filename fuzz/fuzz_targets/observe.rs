#![no_main]
//! See `certpull_fuzz::targets::observe` for the input format and the properties asserted.

libfuzzer_sys::fuzz_target!(|data: &[u8]| certpull_fuzz::targets::observe::run(data));
