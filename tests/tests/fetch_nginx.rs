//! `certpull fetch` against a real nginx: the chain comes out exactly as served (the
//! `ssl_certificate` full chain), over TLS 1.2 and 1.3, for ECDSA P-256, RSA-2048 and Ed25519.

use certpull_tests::expect::{
    json_report_is_complete, out_dir_holds_served_chain, pem_stdout_is_served_chain,
};
use certpull_tests::{start_nginx, tempdir, KeyKind, LeafVariant, TestPki, TlsVersion, TEST_NAME};

/// Start nginx with a good leaf of `key`, offering only `version`; check PEM, JSON and files.
fn chain_is_fetched_as_served(key: KeyKind, version: TlsVersion) {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, key, LeafVariant::Good);
    let server = start_nginx(&cert, version);
    pem_stdout_is_served_chain(&server.connect_arg(), &cert);
    json_report_is_complete(&server.connect_arg(), &cert, version);
    let dir = tempdir();
    out_dir_holds_served_chain(&server.connect_arg(), &cert, dir.path());
}

macro_rules! matrix {
    ($($test:ident: $key:ident, $version:ident;)*) => {$(
        #[test]
        fn $test() {
            chain_is_fetched_as_served(KeyKind::$key, TlsVersion::$version);
        }
    )*};
}

matrix! {
    tls12_ecdsa_p256_chain_is_printed_and_written_as_served: EcdsaP256, Tls12;
    tls13_ecdsa_p256_chain_is_printed_and_written_as_served: EcdsaP256, Tls13;
    tls12_rsa2048_chain_is_printed_and_written_as_served: Rsa2048, Tls12;
    tls13_rsa2048_chain_is_printed_and_written_as_served: Rsa2048, Tls13;
    tls12_ed25519_chain_is_printed_and_written_as_served: Ed25519, Tls12;
    tls13_ed25519_chain_is_printed_and_written_as_served: Ed25519, Tls13;
}
