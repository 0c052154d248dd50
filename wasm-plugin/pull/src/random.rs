//! Randomness on wasm32-unknown-unknown: the one host import.
//!
//! rustls-rustcrypto draws its randomness through `rand_core::OsRng`, that is getrandom 0.2,
//! which has no source on wasm32-unknown-unknown. Its `custom` feature lets this crate register
//! one: the host's `env.certpull_random`. On every other target getrandom uses the operating
//! system and this module is empty.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod host {
    use core::num::NonZeroU32;

    #[link(wasm_import_module = "env")]
    extern "C" {
        /// Fills `len` bytes at `ptr` with secure random bytes; 0 on success.
        fn certpull_random(ptr: *mut u8, len: usize) -> i32;
    }

    /// getrandom's error for a host that could not give randomness.
    const HOST_FAILED: u32 = getrandom::Error::CUSTOM_START;

    fn host_random(buffer: &mut [u8]) -> Result<(), getrandom::Error> {
        // SAFETY: the import writes exactly `buffer.len()` bytes into `buffer`, which is ours.
        let status = unsafe { certpull_random(buffer.as_mut_ptr(), buffer.len()) };
        match (status, NonZeroU32::new(HOST_FAILED)) {
            (0, _) => Ok(()),
            (_, Some(code)) => Err(getrandom::Error::from(code)),
            (_, None) => Err(getrandom::Error::UNSUPPORTED),
        }
    }

    getrandom::register_custom_getrandom!(host_random);
}
