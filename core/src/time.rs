//! Time for callers without a clock: the core never reads one itself.

use rustls::time_provider::TimeProvider;
use rustls_pki_types::UnixTime;

/// A [`TimeProvider`] that always answers the instant it was built with.
///
/// A pull lasts seconds, so a host that passes "now" once per session (a WASM host, a test)
/// loses nothing by freezing it.
#[derive(Debug, Clone, Copy)]
pub struct FixedTime(pub UnixTime);

impl FixedTime {
    /// The given number of seconds since the Unix epoch.
    pub fn from_unix_seconds(seconds: u64) -> Self {
        Self(UnixTime::since_unix_epoch(core::time::Duration::from_secs(
            seconds,
        )))
    }
}

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}
