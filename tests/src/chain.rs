//! PEM normalisation: compare chains as lists of DER certificates, not as text.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};

/// Every `CERTIFICATE` block of `pem`, in order, as DER. Panics on malformed PEM.
pub fn pem_to_ders(pem: &str) -> Vec<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.expect("well-formed PEM certificate").to_vec())
        .collect()
}

/// Like [`pem_to_ders`] but for a file.
pub fn pem_file_to_ders(path: &std::path::Path) -> Vec<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    pem_to_ders(&text)
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lowercase hex without separators.
pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fingerprint as a tool may print it (`AB:CD:..`, `abcd..`) reduced to lowercase hex.
pub fn normalise_fingerprint(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// True if `printed` is the SHA-256 `expected_hex`, printed as hex (any case, optional `:`
/// separators) or as standard base64 (as in HPKP pins).
pub fn fingerprint_matches(printed: &str, expected_hex: &str) -> bool {
    let hexed = normalise_fingerprint(printed);
    if hexed.len() == 64 {
        return hexed == expected_hex;
    }
    base64_decode(printed.trim()).is_some_and(|bytes| hex(&bytes) == expected_hex)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Short description of a DER list for assertion messages.
pub fn describe(ders: &[Vec<u8>]) -> String {
    let items: Vec<String> = ders
        .iter()
        .map(|d| format!("{}…({} bytes)", &sha256_hex(d)[..12], d.len()))
        .collect();
    format!("[{}]", items.join(", "))
}

/// Assert two DER lists are equal, with a readable message.
#[track_caller]
pub fn assert_same_chain(actual: &[Vec<u8>], expected: &[Vec<u8>], what: &str) {
    assert!(
        actual == expected,
        "{what}: chain differs from the served one\n  got:      {}\n  expected: {}",
        describe(actual),
        describe(expected)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_match_in_hex_colon_hex_and_base64() {
        let h = sha256_hex(b"abc");
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(fingerprint_matches(&h.to_uppercase(), &h));
        let colons: Vec<String> = h
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        assert!(fingerprint_matches(&colons.join(":"), &h));
        assert!(fingerprint_matches(
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            &h
        ));
        assert!(!fingerprint_matches(&sha256_hex(b"abd"), &h));
    }
}
