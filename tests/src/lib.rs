//! Test harness for certpull's integration tests: a throw-away PKI, real TLS servers
//! (`openssl s_server`, nginx), real STARTTLS daemons from Debian packages (Postfix, Dovecot,
//! slapd, PostgreSQL, MariaDB, Prosody, vsftpd), hostile servers, and a runner for the
//! `certpull` binary.
//!
//! Everything binds to loopback on ephemeral ports, so tests run in parallel.

pub mod chain;
pub mod cli;
pub mod daemons;
pub mod expect;
pub mod fleet;
pub mod hostile;
pub mod pki;
pub mod servers;
pub mod starttls;
pub mod sync;
pub mod wasmhost;

pub use chain::{assert_same_chain, pem_file_to_ders, pem_to_ders, sha256_hex};
pub use cli::{assert_dir_empty, certpull, certpull_bin, exit, fetch, tempdir, Run};
pub use hostile::{Behaviour, FullBacklog, HostileServer};
pub use pki::{
    KeyForm, KeyKind, LeafKey, LeafSpec, LeafVariant, ServerCert, TestPki, OTHER_NAME, TEST_NAME,
};
pub use servers::{start_nginx, start_openssl, ServerProcess, TlsVersion};
