#![no_main]
//! See `certpull_fuzz::targets::session` for the input format and the properties asserted.

libfuzzer_sys::fuzz_target!(|data: &[u8]| certpull_fuzz::targets::session::run(data));
