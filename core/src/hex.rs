//! Lowercase hexadecimal, for fingerprints and serial numbers.

use alloc::string::String;
use core::fmt::Write;

/// Encodes `bytes` as lowercase hexadecimal without separators.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lowercase_without_separators() {
        assert_eq!(super::encode(&[0x00, 0xab, 0x0f, 0xff]), "00ab0fff");
        assert_eq!(super::encode(&[]), "");
    }
}
