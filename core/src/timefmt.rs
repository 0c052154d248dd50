//! Times and durations as operators read them.

use core::fmt;
use core::time::Duration;

/// Seconds since the Unix epoch as RFC 3339 UTC text (`2027-03-04T00:00:00Z`).
pub struct Instant(pub u64);

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match der::DateTime::from_unix_duration(Duration::from_secs(self.0)) {
            Ok(time) => write!(f, "{time}"),
            Err(_) => write!(f, "{} s after the epoch", self.0),
        }
    }
}

/// A span of seconds in the largest unit that keeps it readable (`3 days`, `5 hours`, `42 s`).
pub struct Span(pub u64);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0;
        if seconds >= 2 * 86_400 {
            write!(f, "{} days", seconds / 86_400)
        } else if seconds >= 2 * 3_600 {
            write!(f, "{} hours", seconds / 3_600)
        } else if seconds >= 2 * 60 {
            write!(f, "{} minutes", seconds / 60)
        } else {
            write!(f, "{seconds} s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn instants_are_rfc3339() {
        assert_eq!(Instant(1_798_761_600).to_string(), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn spans_pick_a_readable_unit() {
        assert_eq!(Span(864_000).to_string(), "10 days");
        assert_eq!(Span(3 * 3_600).to_string(), "3 hours");
        assert_eq!(Span(150).to_string(), "2 minutes");
        assert_eq!(Span(42).to_string(), "42 s");
    }
}
