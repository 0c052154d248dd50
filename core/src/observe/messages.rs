//! Parsers of the handshake messages an observer reads: ClientHello (server name, ALPN,
//! supported versions), ServerHello, and the TLS ≤ 1.2 Certificate message.

use alloc::string::String;
use alloc::vec::Vec;

use rustls_pki_types::CertificateDer;

use super::{
    is_grease, Field, ObserveError, ObserveLimits, EXT_ALPN, EXT_SERVER_NAME,
    EXT_SUPPORTED_VERSIONS, HELLO_RETRY_RANDOM, MAX_HOST_NAME,
};

/// What a ClientHello says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The legacy_version field (`0x0303` for TLS 1.2 and 1.3 clients).
    pub legacy_version: u16,
    /// The host_name of the server_name extension, lowercased, if sent.
    pub server_name: Option<String>,
    /// The ALPN protocols offered, in order (at most [`ObserveLimits::max_list_entries`]).
    pub alpn: Vec<Vec<u8>>,
    /// The supported_versions extension's list, GREASE included, in order; without that
    /// extension, the legacy_version alone.
    pub offered_versions: Vec<u16>,
}

impl ClientHello {
    /// The highest offered version that is not GREASE.
    pub fn max_offered_version(&self) -> Option<u16> {
        self.offered_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
    }
}

/// What a ServerHello says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello {
    /// The legacy_version field.
    pub legacy_version: u16,
    /// The negotiated version: the supported_versions extension's, else legacy_version.
    pub version: u16,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
    /// Whether this is a TLS 1.3 HelloRetryRequest.
    pub hello_retry: bool,
}

/// A bounds-checked reader over a handshake message body.
#[derive(Debug, Clone, Copy)]
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(count)?;
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        let (&byte, tail) = self.0.split_first()?;
        self.0 = tail;
        Some(byte)
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }

    fn u24(&mut self) -> Option<usize> {
        let [a, b, c]: [u8; 3] = self.take(3)?.try_into().ok()?;
        Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    fn vec8(&mut self) -> Option<Reader<'a>> {
        let length = self.u8()?;
        self.take(usize::from(length)).map(Reader)
    }

    fn vec16(&mut self) -> Option<Reader<'a>> {
        let length = self.u16()?;
        self.take(usize::from(length)).map(Reader)
    }

    fn vec24(&mut self) -> Option<Reader<'a>> {
        let length = self.u24()?;
        self.take(length).map(Reader)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn rest(&self) -> &'a [u8] {
        self.0
    }
}

/// Extensions as (type, data) pairs; `None` if the list is malformed.
fn extensions<'a>(reader: &mut Reader<'a>) -> Option<Vec<(u16, &'a [u8])>> {
    if reader.is_empty() {
        return Some(Vec::new());
    }
    let mut list = reader.vec16()?;
    if !reader.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    while !list.is_empty() {
        let kind = list.u16()?;
        let data = list.vec16()?;
        out.push((kind, data.rest()));
    }
    Some(out)
}

/// Parses a ClientHello body (the handshake message without its 4-byte header).
pub fn parse_client_hello(
    body: &[u8],
    limits: &ObserveLimits,
) -> Result<ClientHello, ObserveError> {
    let malformed = ObserveError::Malformed(Field::ClientHello);
    let mut reader = Reader(body);
    let legacy_version = reader.u16().ok_or(malformed.clone())?;
    reader.take(32).ok_or(malformed.clone())?;
    let session_id = reader.vec8().ok_or(malformed.clone())?;
    let suites = reader.vec16().ok_or(malformed.clone())?;
    let compression = reader.vec8().ok_or(malformed.clone())?;
    if session_id.rest().len() > 32
        || suites.is_empty()
        || suites.rest().len() % 2 != 0
        || compression.is_empty()
    {
        return Err(malformed);
    }
    let mut hello = ClientHello {
        legacy_version,
        server_name: None,
        alpn: Vec::new(),
        offered_versions: Vec::new(),
    };
    let mut versions_seen = false;
    for (kind, data) in extensions(&mut reader).ok_or(malformed)? {
        match kind {
            EXT_SERVER_NAME if hello.server_name.is_none() => {
                hello.server_name = parse_server_name(data)?;
            }
            EXT_ALPN if hello.alpn.is_empty() => {
                hello.alpn = parse_alpn(data, limits)?;
            }
            EXT_SUPPORTED_VERSIONS if !versions_seen => {
                versions_seen = true;
                hello.offered_versions = parse_offered_versions(data, limits)?;
            }
            _ => {}
        }
    }
    if !versions_seen {
        hello.offered_versions.push(legacy_version);
    }
    Ok(hello)
}

pub(super) fn parse_server_name(data: &[u8]) -> Result<Option<String>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::ServerName);
    let mut outer = Reader(data);
    let mut list = outer.vec16().ok_or(malformed.clone())?;
    if !outer.is_empty() {
        return Err(malformed);
    }
    while !list.is_empty() {
        let name_type = list.u8().ok_or(malformed.clone())?;
        let name = list.vec16().ok_or(malformed.clone())?.rest();
        if name_type != 0 {
            continue;
        }
        let valid = !name.is_empty()
            && name.len() <= MAX_HOST_NAME
            && name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*'));
        if !valid {
            return Err(malformed);
        }
        let text = name.iter().map(|b| char::from(b.to_ascii_lowercase()));
        return Ok(Some(text.collect()));
    }
    Ok(None)
}

fn parse_alpn(data: &[u8], limits: &ObserveLimits) -> Result<Vec<Vec<u8>>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::Alpn);
    let mut outer = Reader(data);
    let mut list = outer.vec16().ok_or(malformed.clone())?;
    if !outer.is_empty() || list.is_empty() {
        return Err(malformed);
    }
    let mut protocols = Vec::new();
    while !list.is_empty() {
        let protocol = list.vec8().ok_or(malformed.clone())?.rest();
        if protocol.is_empty() {
            return Err(malformed);
        }
        if protocols.len() < limits.max_list_entries {
            protocols.push(protocol.to_vec());
        }
    }
    Ok(protocols)
}

fn parse_offered_versions(data: &[u8], limits: &ObserveLimits) -> Result<Vec<u16>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::SupportedVersions);
    let mut outer = Reader(data);
    let mut list = outer.vec8().ok_or(malformed.clone())?;
    if !outer.is_empty() || list.is_empty() || list.rest().len() % 2 != 0 {
        return Err(malformed);
    }
    let mut versions = Vec::new();
    while let Some(version) = list.u16() {
        if versions.len() < limits.max_list_entries {
            versions.push(version);
        }
    }
    Ok(versions)
}

/// Parses a ServerHello body (the handshake message without its 4-byte header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, ObserveError> {
    let malformed = ObserveError::Malformed(Field::ServerHello);
    let mut reader = Reader(body);
    let legacy_version = reader.u16().ok_or(malformed.clone())?;
    let random = reader.take(32).ok_or(malformed.clone())?;
    let session_id = reader.vec8().ok_or(malformed.clone())?;
    let cipher_suite = reader.u16().ok_or(malformed.clone())?;
    reader.u8().ok_or(malformed.clone())?;
    if session_id.rest().len() > 32 {
        return Err(malformed);
    }
    let mut version = legacy_version;
    for (kind, data) in extensions(&mut reader).ok_or(malformed)? {
        if kind == EXT_SUPPORTED_VERSIONS {
            let bad = ObserveError::Malformed(Field::SupportedVersions);
            let mut ext = Reader(data);
            version = ext.u16().ok_or(bad.clone())?;
            if !ext.is_empty() {
                return Err(bad);
            }
        }
    }
    Ok(ServerHello {
        legacy_version,
        version,
        cipher_suite,
        hello_retry: random == HELLO_RETRY_RANDOM.as_slice(),
    })
}

/// Parses a TLS ≤ 1.2 Certificate body: the DER certificates, leaf first.
pub fn parse_certificate(
    body: &[u8],
    limits: &ObserveLimits,
) -> Result<Vec<CertificateDer<'static>>, ObserveError> {
    let malformed = ObserveError::Malformed(Field::Certificate);
    let mut reader = Reader(body);
    let mut list = reader.vec24().ok_or(malformed.clone())?;
    if !reader.is_empty() {
        return Err(malformed);
    }
    let mut chain = Vec::new();
    while !list.is_empty() {
        let der = list.vec24().ok_or(malformed.clone())?.rest();
        if der.is_empty() {
            return Err(malformed);
        }
        if chain.len() >= limits.max_certificates {
            return Err(ObserveError::TooManyCertificates {
                limit: limits.max_certificates,
            });
        }
        chain.push(CertificateDer::from(der.to_vec()));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec;

    use super::*;

    #[test]
    fn certificate_lists_are_checked() {
        let limits = ObserveLimits::default();
        // Entry longer than the list.
        assert_eq!(
            parse_certificate(&[0, 0, 4, 0, 0, 9, 1], &limits),
            Err(ObserveError::Malformed(Field::Certificate))
        );
        // Empty entry.
        assert_eq!(
            parse_certificate(&[0, 0, 3, 0, 0, 0], &limits),
            Err(ObserveError::Malformed(Field::Certificate))
        );
        // Too many entries.
        let mut list = Vec::new();
        for _ in 0..17 {
            list.extend_from_slice(&[0, 0, 1, 0x30]);
        }
        let mut body = vec![0, 0, list.len() as u8];
        body.extend_from_slice(&list);
        assert_eq!(
            parse_certificate(&body, &limits),
            Err(ObserveError::TooManyCertificates { limit: 16 })
        );
    }

    #[test]
    fn server_names_are_validated_and_lowercased() {
        let ext = |name: &[u8]| {
            let mut entry = vec![0];
            entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
            entry.extend_from_slice(name);
            let mut data = (entry.len() as u16).to_be_bytes().to_vec();
            data.extend_from_slice(&entry);
            data
        };
        assert_eq!(
            parse_server_name(&ext(b"WWW.Example.COM")),
            Ok(Some("www.example.com".to_string()))
        );
        assert_eq!(
            parse_server_name(&ext(b"bad name\n")),
            Err(ObserveError::Malformed(Field::ServerName))
        );
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0304));
    }
}
