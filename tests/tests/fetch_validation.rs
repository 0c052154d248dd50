//! A chain that does not validate is refused: exit 6, one line on stderr naming the reason,
//! nothing on stdout, no file written. `--insecure` lets it through, loudly.

use std::time::Duration;

use certpull_tests::expect::assert_files_hold_served_chain;
use certpull_tests::{
    assert_dir_empty, assert_same_chain, exit, fetch, start_nginx, start_openssl, tempdir, KeyKind,
    LeafVariant, Run, TestPki, TlsVersion, TEST_NAME,
};

/// Fetch with `--out-dir` (and `--ca-file` when given): must be refused with exit 6, a
/// one-line error mentioning one of `causes`, no stdout, no file.
fn assert_refused(connect: &str, ca_file: Option<&str>, causes: &[&str]) -> Run {
    let dir = tempdir();
    let out = dir.path().to_string_lossy().into_owned();
    let mut args = vec!["--out-dir", out.as_str(), "--timeout", "5s"];
    if let Some(ca) = ca_file {
        args.extend(["--ca-file", ca]);
    }
    // The client always asks for TEST_NAME (an `OtherName` leaf is for another name).
    let run = fetch(TEST_NAME, connect, &args);
    run.assert_code(exit::VALIDATION)
        .assert_no_stdout()
        .assert_finished_within(Duration::from_secs(10));
    assert_dir_empty(dir.path(), &run);
    run.assert_error(exit::VALIDATION, causes);
    run
}

fn refused_with_test_root(variant: LeafVariant, causes: &[&str]) {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, variant);
    let server = start_openssl(&cert, TlsVersion::Any);
    let ca = cert.ca.to_string_lossy().into_owned();
    assert_refused(&server.connect_arg(), Some(&ca), causes);
}

#[test]
fn expired_leaf_is_refused_as_expired() {
    refused_with_test_root(LeafVariant::Expired, &["expired"]);
}

#[test]
fn not_yet_valid_leaf_is_refused_as_not_yet_valid() {
    refused_with_test_root(
        LeafVariant::NotYetValid,
        &["not yet valid", "not valid yet", "not-yet-valid"],
    );
}

#[test]
fn self_signed_leaf_is_refused_as_unknown_issuer() {
    refused_with_test_root(
        LeafVariant::SelfSigned,
        &["unknown issuer", "self-signed", "self signed"],
    );
}

#[test]
fn leaf_for_another_name_is_refused_as_not_valid_for_name() {
    refused_with_test_root(LeafVariant::OtherName, &["not valid for name"]);
}

#[test]
fn chain_missing_its_intermediate_is_refused_as_unknown_issuer() {
    // No AIA fetching and no borrowing: the served chain alone must reach the root.
    refused_with_test_root(LeafVariant::MissingIntermediate, &["unknown issuer"]);
}

#[test]
fn private_ca_chain_is_refused_without_ca_file() {
    // Default trust is the system roots, which do not include the test root.
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    assert_refused(&server.connect_arg(), None, &["unknown issuer"]);
}

#[test]
fn ca_file_replaces_the_system_roots_so_another_root_does_not_anchor_the_chain() {
    let pki = TestPki::new();
    let unrelated = TestPki::with_root_name("unrelated root");
    let cert = pki.good_leaf();
    let server = start_nginx(&cert, TlsVersion::Any);
    let ca = unrelated.ca_file.to_string_lossy().into_owned();
    assert_refused(&server.connect_arg(), Some(&ca), &["unknown issuer"]);
}

#[test]
fn json_output_of_a_refused_chain_is_not_reported_valid() {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::Expired);
    let server = start_openssl(&cert, TlsVersion::Any);
    let ca = cert.ca.to_string_lossy().into_owned();
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &["--ca-file", &ca, "--json"],
    );
    run.assert_error(exit::VALIDATION, &["expired"]);
    // The contract allows a report of a refused chain; if one is printed it must say why.
    if !run.stdout.trim().is_empty() {
        let v = run.stdout_json();
        assert_eq!(v["verdict"], "expired", "{}", run.describe());
    }
}

#[test]
fn insecure_accepts_a_self_signed_leaf_with_a_loud_warning() {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::SelfSigned);
    let server = start_openssl(&cert, TlsVersion::Any);
    let run = fetch(TEST_NAME, &server.connect_arg(), &["--insecure"]);
    run.assert_code(exit::OK);
    assert_same_chain(&run.stdout_chain(), &cert.served, "stdout with --insecure");
    let warning = run.stderr.to_lowercase();
    assert!(
        warning.contains("insecure") || warning.contains("warning"),
        "--insecure must warn on stderr\n{}",
        run.describe()
    );
}

#[test]
fn insecure_writes_the_files_of_a_self_signed_chain() {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::Ed25519, LeafVariant::SelfSigned);
    let server = start_nginx(&cert, TlsVersion::Tls13);
    let dir = tempdir();
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &["--insecure", "--out-dir", &dir.path().to_string_lossy()],
    );
    run.assert_code(exit::OK).assert_no_stdout();
    assert!(
        !run.stderr.is_empty(),
        "--insecure must warn\n{}",
        run.describe()
    );
    assert_files_hold_served_chain(dir.path(), &cert);
}

#[test]
fn insecure_json_does_not_claim_the_chain_is_valid() {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::SelfSigned);
    let server = start_openssl(&cert, TlsVersion::Any);
    let run = fetch(TEST_NAME, &server.connect_arg(), &["--insecure", "--json"]);
    run.assert_code(exit::OK);
    let v = run.stdout_json();
    assert_ne!(v["verdict"], "valid", "{}", run.describe());
    assert!(v["verdict"].is_string(), "{}", run.describe());
}
