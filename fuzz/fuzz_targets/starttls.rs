#![no_main]
//! See `certpull_fuzz::targets::starttls` for the input format and the properties asserted.

libfuzzer_sys::fuzz_target!(|data: &[u8]| certpull_fuzz::targets::starttls::run(data));
