//! The pull module (`certpull.wasm`) in wasmtime: the host does the socket I/O against a real
//! `openssl s_server` or nginx on 127.0.0.1, the module does the TLS handshake and judges the
//! chain; the result equals the native `certpull fetch --json` on the same server.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use certpull_tests::wasmhost::{self, abi, PullHost, WasmPull};
use certpull_tests::{
    assert_same_chain, exit, fetch, pem_to_ders, start_nginx, start_openssl, KeyKind, LeafVariant,
    ServerCert, TestPki, TlsVersion, OTHER_NAME, TEST_NAME,
};
use serde_json::Value;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn host() -> PullHost {
    let module = wasmhost::load(&wasmhost::modules().pull);
    PullHost::new(&module).expect("instantiate certpull.wasm")
}

fn wasm_pull(addr: SocketAddr, name: &str, anchors: &str) -> WasmPull {
    host()
        .pull_tcp(addr, name, anchors.as_bytes(), now(), 0)
        .expect("no trap")
}

/// The fields both reports must agree on, for one certificate.
const CERT_FIELDS: [&str; 11] = [
    "subject",
    "issuer",
    "dns_names",
    "ip_addresses",
    "serial",
    "not_before",
    "not_after",
    "sha256",
    "spki_sha256",
    "is_ca",
    "pem",
];

/// A pull through the module and a native `certpull fetch --json` of the same server agree on
/// the chain, its summary, the verdict and the protocol version.
fn same_as_native(addr: SocketAddr, cert: &ServerCert, version: TlsVersion) {
    let wasm = wasm_pull(addr, &cert.name, &cert.root_pem);
    assert_eq!(wasm.status, abi::COMPLETE, "{wasm:#?}");
    assert_eq!(wasm.verdict, abi::VERDICT_VALID, "{wasm:#?}");
    assert_eq!(wasm.error, "");
    assert_same_chain(&pem_to_ders(&wasm.chain_pem), &cert.served, "WASM chain");

    let ca = cert.ca.to_string_lossy().into_owned();
    let native = fetch(&cert.name, &addr.to_string(), &["--ca-file", &ca, "--json"]);
    native.assert_ok_quiet_stderr();
    let native = native.stdout_json();
    let w = &wasm.summary;
    for key in ["name", "verdict", "protocol_version"] {
        assert_eq!(w[key], native[key], "{key}: wasm {w}\nnative {native}");
    }
    assert_eq!(w["protocol_version"], version.json_name().unwrap());
    let (wc, nc) = (
        w["chain"].as_array().expect("chain"),
        native["chain"].as_array().expect("chain"),
    );
    assert_eq!(wc.len(), nc.len());
    for (i, (a, b)) in wc.iter().zip(nc).enumerate() {
        for key in CERT_FIELDS {
            assert_eq!(a[key], b[key], "chain[{i}].{key}");
        }
        let days = |v: &Value| v["days_left"].as_i64().expect("days_left");
        assert!((days(a) - days(b)).abs() <= 1, "chain[{i}].days_left");
    }
    eprintln!(
        "{} {}: wasm {} / native {}",
        cert.key_kind_name(),
        w["protocol_version"],
        w["cipher_suite"],
        native["cipher_suite"]
    );
}

trait KindName {
    fn key_kind_name(&self) -> &'static str;
}

impl KindName for ServerCert {
    fn key_kind_name(&self) -> &'static str {
        match self.key_kind {
            KeyKind::EcdsaP256 => "ECDSA P-256",
            KeyKind::Rsa2048 => "RSA-2048",
            KeyKind::Ed25519 => "Ed25519",
        }
    }
}

macro_rules! openssl_matrix {
    ($($test:ident: $key:ident, $version:ident;)*) => {$(
        #[test]
        fn $test() {
            let pki = TestPki::new();
            let cert = pki.leaf(TEST_NAME, KeyKind::$key, LeafVariant::Good);
            let server = start_openssl(&cert, TlsVersion::$version);
            same_as_native(server.addr, &cert, TlsVersion::$version);
        }
    )*};
}

openssl_matrix! {
    openssl_tls12_ecdsa_pull_in_wasm_equals_native: EcdsaP256, Tls12;
    openssl_tls13_ecdsa_pull_in_wasm_equals_native: EcdsaP256, Tls13;
    openssl_tls12_rsa_pull_in_wasm_equals_native: Rsa2048, Tls12;
    openssl_tls13_rsa_pull_in_wasm_equals_native: Rsa2048, Tls13;
    openssl_tls13_ed25519_pull_in_wasm_equals_native: Ed25519, Tls13;
}

#[test]
fn nginx_tls12_and_tls13_pulls_in_wasm_equal_native() {
    let pki = TestPki::new();
    for (key, version) in [
        (KeyKind::EcdsaP256, TlsVersion::Tls13),
        (KeyKind::Rsa2048, TlsVersion::Tls12),
    ] {
        let cert = pki.leaf(TEST_NAME, key, LeafVariant::Good);
        let server = start_nginx(&cert, version);
        same_as_native(server.addr, &cert, version);
    }
}

#[test]
fn an_untrusted_root_is_refused_inside_wasm_with_the_chain_kept() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Tls13);
    let stranger = TestPki::with_root_name("some other root");
    let wasm = wasm_pull(server.addr, &cert.name, &stranger.root_pem);
    assert_eq!(wasm.status, abi::ERR_REJECTED, "{wasm:#?}");
    assert_eq!(wasm.verdict, abi::VERDICT_UNKNOWN_ISSUER);
    assert_eq!(wasm.summary["verdict"], "unknown-issuer");
    assert_eq!(wasm.summary["error"]["code"], "unknown-issuer");
    assert!(wasm.error.contains("unknown issuer"), "{}", wasm.error);
    assert_same_chain(&pem_to_ders(&wasm.chain_pem), &cert.served, "refused chain");

    // The native binary refuses it the same way.
    let ca = stranger.ca_file.to_string_lossy().into_owned();
    fetch(&cert.name, &server.connect_arg(), &["--ca-file", &ca])
        .assert_error(exit::VALIDATION, &["unknown issuer"]);
}

#[test]
fn a_wrong_name_is_refused_inside_wasm() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Tls12);
    let wasm = wasm_pull(server.addr, OTHER_NAME, &cert.root_pem);
    assert_eq!(wasm.status, abi::ERR_REJECTED, "{wasm:#?}");
    assert_eq!(wasm.verdict, abi::VERDICT_NAME_MISMATCH);
    assert_eq!(wasm.summary["verdict"], "name-mismatch");
    assert!(
        wasm.error.contains(OTHER_NAME) && wasm.error.contains(TEST_NAME),
        "{}",
        wasm.error
    );
    let ca = cert.ca.to_string_lossy().into_owned();
    fetch(OTHER_NAME, &server.connect_arg(), &["--ca-file", &ca])
        .assert_error(exit::VALIDATION, &["not valid for name"]);
}

#[test]
fn capture_only_reports_without_judging_and_the_flag_judges_without_failing() {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::SelfSigned);
    let server = start_openssl(&cert, TlsVersion::Tls13);
    let captured = wasm_pull(server.addr, TEST_NAME, "");
    assert_eq!(captured.status, abi::COMPLETE, "{captured:#?}");
    assert_eq!(captured.verdict, abi::VERDICT_NOT_CHECKED);
    assert_eq!(captured.summary["verdict"], "not-checked");
    assert_same_chain(&pem_to_ders(&captured.chain_pem), &cert.served, "captured");

    let judged = host()
        .pull_tcp(server.addr, TEST_NAME, cert.root_pem.as_bytes(), now(), 1)
        .expect("no trap");
    assert_eq!(judged.status, abi::COMPLETE, "{judged:#?}");
    assert_eq!(judged.verdict, abi::VERDICT_UNKNOWN_ISSUER);
}

#[test]
fn a_server_that_is_not_tls_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.write_all(b"220 smtp.example ESMTP ready\r\n");
    });
    let wasm = wasm_pull(addr, TEST_NAME, "");
    server.join().unwrap();
    assert_eq!(wasm.status, abi::ERR_NOT_TLS, "{wasm:#?}");
    assert!(wasm.error.contains("220 smtp.example"), "{}", wasm.error);
}

#[test]
fn keymatch_compares_the_leaf_with_the_local_public_key() {
    let pki = TestPki::new();
    let mut host = host();
    for kind in [KeyKind::EcdsaP256, KeyKind::Rsa2048, KeyKind::Ed25519] {
        let cert = pki.leaf(TEST_NAME, kind, LeafVariant::Good);
        let other = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::Good);
        let spki = public_key_der(&cert);
        assert_eq!(
            host.keymatch(cert.leaf_der(), &spki).unwrap(),
            1,
            "{kind:?}"
        );
        assert_eq!(
            host.keymatch(other.leaf_der(), &spki).unwrap(),
            0,
            "{kind:?}"
        );
    }
    assert_eq!(host.keymatch(b"garbage", b"x").unwrap(), abi::ERR_ARGUMENT);
}

/// The DER SubjectPublicKeyInfo of the leaf's private key, by openssl.
fn public_key_der(cert: &ServerCert) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&cert.key)
        .output()
        .expect("run openssl pkey");
    assert!(out.status.success());
    out.stdout
}

#[test]
fn the_module_imports_only_its_randomness_and_speaks_abi_1() {
    let module = wasmhost::load(&wasmhost::modules().pull);
    assert_eq!(wasmhost::import_names(&module), ["env.certpull_random"]);
    let mut host = PullHost::new(&module).unwrap();
    assert_eq!(host.abi_version().unwrap(), 1);
    // Randomness is drawn only through the import: a handshake takes some.
    let handle = host
        .session(TEST_NAME, 0, b"", now(), 0)
        .unwrap()
        .expect("session");
    assert_eq!(host.advance(handle).unwrap(), abi::NEEDS_INPUT);
    assert!(host.random_bytes() >= 32, "{}", host.random_bytes());
    let hello = host.take_output(handle).unwrap();
    assert_eq!(hello[0], 0x16, "a TLS handshake record");
    assert_eq!(host.free_session(handle).unwrap(), 0);
    assert_eq!(host.advance(handle).unwrap(), abi::ERR_ARGUMENT, "freed");
}

#[test]
fn bad_session_arguments_are_explained() {
    let mut host = host();
    let (code, text) = host
        .session("not a name!", 0, b"", now(), 0)
        .unwrap()
        .unwrap_err();
    assert_eq!(code, abi::ERR_ARGUMENT);
    assert!(text.contains("invalid server name"), "{text}");
    let (code, text) = host
        .session(
            TEST_NAME,
            0,
            b"-----BEGIN CERTIFICATE-----\nAAAA\n",
            now(),
            0,
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(code, -8, "{text}");
    assert!(text.contains("trust anchors"), "{text}");
    let (code, _) = host
        .session(TEST_NAME, 42, b"", now(), 0)
        .unwrap()
        .unwrap_err();
    assert_eq!(code, abi::ERR_ARGUMENT);
}
