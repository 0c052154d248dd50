//! Bounds on what a server can make a pull session hold.

/// Limits that keep a hostile or broken server from making the session allocate without bound.
///
/// rustls itself refuses handshake messages over 64 KiB; these limits bound what the session
/// buffers around it and what it accepts as a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most received bytes the session holds at once. A server that sends more before the
    /// handshake can make progress ends the pull with [`PullError::BufferLimit`](crate::PullError).
    pub max_buffered: usize,
    /// The most certificates accepted in the server's chain (leaf included).
    pub max_chain_certs: usize,
    /// The most bytes of DER accepted for the whole chain.
    pub max_chain_bytes: usize,
}

impl Limits {
    /// One maximal handshake message (64 KiB) plus the record framing around it, with room.
    pub const DEFAULT_MAX_BUFFERED: usize = 96 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_buffered: Self::DEFAULT_MAX_BUFFERED,
            max_chain_certs: 10,
            max_chain_bytes: 64 * 1024,
        }
    }
}
