//! `certpull check` thresholds and verdicts: days left against `--warn-days` / `--crit-days`,
//! and chains that are expired or untrusted, which check reports (it refuses nothing).

use certpull_tests::fleet::{
    assert_status, check, health, json_certificate, json_endpoint, row_state, table_row,
};
use certpull_tests::pki::LeafSpec;
use certpull_tests::{
    sha256_hex, start_openssl, KeyKind, LeafVariant, ServerCert, ServerProcess, TestPki,
    TlsVersion, TEST_NAME,
};

/// A server for a leaf with `days` days left, and the `--ca-file` argument.
fn serving_days_left(days: i64) -> (TestPki, ServerCert, ServerProcess) {
    let pki = TestPki::new();
    let leaf = pki.issue(&LeafSpec::fresh(&[TEST_NAME], KeyKind::EcdsaP256, days));
    let server = start_openssl(&leaf, TlsVersion::Any);
    (pki, leaf, server)
}

fn ca(pki: &TestPki) -> String {
    pki.ca_file.to_string_lossy().into_owned()
}

/// `check` of a leaf with ten days left, with `thresholds` added, exits `code` and says `label`
/// on the status line; returns the run and the server's `--connect` argument.
fn ten_days_left_with(
    thresholds: &[&str],
    code: i32,
    label: &str,
) -> (certpull_tests::Run, String) {
    let (pki, _leaf, server) = serving_days_left(10);
    let ca = ca(&pki);
    let mut args = vec!["--ca-file", ca.as_str()];
    args.extend_from_slice(thresholds);
    let run = check(TEST_NAME, &[server.connect_arg()], &args);
    run.assert_code(code);
    assert_status(&run, label, TEST_NAME);
    (run, server.connect_arg())
}

#[test]
fn a_leaf_with_ten_days_left_is_a_warning_by_default() {
    let (run, endpoint) = ten_days_left_with(&[], health::WARNING, "WARNING");
    let row = table_row(&run, &endpoint);
    assert_eq!(row_state(row), "current", "{}", run.describe());
    assert!(row.contains("WARNING"), "{}", run.describe());
}

#[test]
fn a_leaf_with_ten_days_left_is_ok_with_warn_days_5() {
    ten_days_left_with(&["--warn-days", "5", "--crit-days", "3"], health::OK, "OK");
}

#[test]
fn a_leaf_with_ten_days_left_is_critical_with_crit_days_11() {
    ten_days_left_with(
        &["--warn-days", "30", "--crit-days", "11"],
        health::CRITICAL,
        "CRITICAL",
    );
}

#[test]
fn days_left_in_json_are_the_leafs() {
    let (pki, leaf, server) = serving_days_left(40);
    let run = check(
        TEST_NAME,
        &[server.connect_arg()],
        &["--ca-file", &ca(&pki), "--json"],
    );
    run.assert_code(health::OK);
    let report = run.stdout_json();
    let endpoint = json_endpoint(json_certificate(&report, TEST_NAME), &server.connect_arg());
    let days = endpoint["days_left"].as_i64().expect("days_left");
    let expected = certpull_tests::fleet::days_left(&leaf);
    assert!(
        (days - expected).abs() <= 1,
        "days_left {days}, expected about {expected}\n{}",
        run.describe()
    );
    assert_eq!(endpoint["health"], "OK", "{}", run.describe());
}

#[test]
fn an_expired_leaf_is_critical_and_still_reported() {
    let pki = TestPki::new();
    let leaf = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::Expired);
    let server = start_openssl(&leaf, TlsVersion::Any);
    let run = check(
        TEST_NAME,
        &[server.connect_arg()],
        &["--ca-file", &ca(&pki), "--json"],
    );
    run.assert_code(health::CRITICAL);
    let report = run.stdout_json();
    let ctx = run.describe();
    let endpoint = json_endpoint(json_certificate(&report, TEST_NAME), &server.connect_arg());
    assert_eq!(endpoint["state"], "current", "{ctx}");
    assert_eq!(endpoint["health"], "CRITICAL", "{ctx}");
    assert_eq!(endpoint["verdict"], "expired", "{ctx}");
    assert!(
        endpoint["days_left"].as_i64().is_some_and(|d| d < 0),
        "{ctx}"
    );
    assert_eq!(
        endpoint["sha256"].as_str(),
        Some(sha256_hex(leaf.leaf_der()).as_str()),
        "{ctx}"
    );
}

#[test]
fn an_untrusted_chain_is_reported_critical_with_verdict_unknown_issuer() {
    let trusted = TestPki::new();
    let other = TestPki::with_root_name("some other root");
    let leaf = other.good_leaf();
    let server = start_openssl(&leaf, TlsVersion::Any);
    let run = check(
        TEST_NAME,
        &[server.connect_arg()],
        &["--ca-file", &ca(&trusted), "--json"],
    );
    run.assert_code(health::CRITICAL);
    let report = run.stdout_json();
    let ctx = run.describe();
    let endpoint = json_endpoint(json_certificate(&report, TEST_NAME), &server.connect_arg());
    assert_eq!(endpoint["state"], "current", "the chain is reported\n{ctx}");
    assert_eq!(endpoint["verdict"], "unknown-issuer", "{ctx}");
    assert_eq!(endpoint["health"], "CRITICAL", "{ctx}");
    assert_eq!(
        endpoint["sha256"].as_str(),
        Some(sha256_hex(leaf.leaf_der()).as_str()),
        "{ctx}"
    );
}

#[test]
fn an_untrusted_chain_shows_unknown_issuer_in_the_table() {
    let trusted = TestPki::new();
    let other = TestPki::with_root_name("some other root");
    let server = start_openssl(&other.good_leaf(), TlsVersion::Any);
    let run = check(
        TEST_NAME,
        &[server.connect_arg()],
        &["--ca-file", &ca(&trusted)],
    );
    run.assert_code(health::CRITICAL);
    assert_status(&run, "CRITICAL", TEST_NAME);
    let row = table_row(&run, &server.connect_arg());
    assert!(row.contains("unknown-issuer"), "{}", run.describe());
}

#[test]
fn a_leaf_for_another_name_is_critical_with_verdict_name_mismatch() {
    let pki = TestPki::new();
    let leaf = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::OtherName);
    let server = start_openssl(&leaf, TlsVersion::Any);
    let run = check(
        TEST_NAME,
        &[server.connect_arg()],
        &["--ca-file", &ca(&pki), "--json"],
    );
    run.assert_code(health::CRITICAL);
    let report = run.stdout_json();
    let endpoint = json_endpoint(json_certificate(&report, TEST_NAME), &server.connect_arg());
    assert_eq!(endpoint["verdict"], "name-mismatch", "{}", run.describe());
}
