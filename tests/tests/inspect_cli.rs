//! `certpull inspect FILE... | -`: local PEM files judged by days left (OK / WARNING /
//! CRITICAL), checked against a key with `--key`, read from standard input with `-`, reported
//! as JSON with `--json`; anything that cannot be judged is UNKNOWN.

use std::fs;

use certpull_tests::fleet::{arg, certpull_with_stdin, health, inspect};
use certpull_tests::pki::LeafSpec;
use certpull_tests::{sha256_hex, tempdir, KeyKind, LeafVariant, ServerCert, TestPki, TEST_NAME};
use serde_json::Value;

fn leaf_with_days_left(pki: &TestPki, days: i64) -> ServerCert {
    pki.issue(&LeafSpec::fresh(&[TEST_NAME], KeyKind::EcdsaP256, days))
}

/// The first stdout line starts with `LABEL: FILE: `.
#[track_caller]
fn assert_first_line(run: &certpull_tests::Run, label: &str, file: &str) {
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{label}: {file}: ")),
        "the first line should start with \"{label}: {file}: \"\n{}",
        run.describe()
    );
}

#[test]
fn inspect_a_leaf_far_from_expiry_is_ok() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 60);
    let run = inspect(&[&arg(&cert.fullchain)]);
    run.assert_code(health::OK);
    assert_first_line(&run, "OK", &arg(&cert.fullchain));
}

#[test]
fn inspect_a_leaf_with_ten_days_left_is_a_warning() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 10);
    let run = inspect(&[&arg(&cert.cert)]);
    run.assert_code(health::WARNING);
    assert_first_line(&run, "WARNING", &arg(&cert.cert));
}

#[test]
fn inspect_a_leaf_with_ten_days_left_is_ok_with_warn_days_5() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 10);
    let run = inspect(&[&arg(&cert.cert), "--warn-days", "5", "--crit-days", "2"]);
    run.assert_code(health::OK);
}

#[test]
fn inspect_a_leaf_with_three_days_left_is_critical() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 3);
    let run = inspect(&[&arg(&cert.fullchain)]);
    run.assert_code(health::CRITICAL);
    assert_first_line(&run, "CRITICAL", &arg(&cert.fullchain));
}

#[test]
fn inspect_an_expired_leaf_is_critical_and_says_expired() {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::Expired);
    let run = inspect(&[&arg(&cert.fullchain)]);
    run.assert_code(health::CRITICAL);
    assert!(
        run.stdout
            .lines()
            .next()
            .unwrap_or_default()
            .contains("EXPIRED"),
        "{}",
        run.describe()
    );
}

#[test]
fn inspect_several_files_exits_with_the_worst() {
    let pki = TestPki::new();
    let ok = leaf_with_days_left(&pki, 60);
    let warning = leaf_with_days_left(&pki, 10);
    let run = inspect(&[&arg(&ok.fullchain), &arg(&warning.fullchain)]);
    run.assert_code(health::WARNING);
    assert!(
        run.stdout
            .contains(&format!("OK: {}: ", arg(&ok.fullchain)))
            && run
                .stdout
                .contains(&format!("WARNING: {}: ", arg(&warning.fullchain))),
        "each file has its line\n{}",
        run.describe()
    );
}

#[test]
fn inspect_with_the_matching_key_is_ok() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 60);
    let run = inspect(&[&arg(&cert.fullchain), "--key", &arg(&cert.key)]);
    run.assert_code(health::OK);
}

#[test]
fn inspect_with_the_matching_key_in_another_form_is_ok() {
    let pki = TestPki::new();
    let cert = pki.issue(&LeafSpec::fresh(&[TEST_NAME], KeyKind::Rsa2048, 60));
    let key = cert.key_in_form(certpull_tests::KeyForm::Pkcs1);
    let run = inspect(&[&arg(&cert.fullchain), "--key", &arg(&key)]);
    run.assert_code(health::OK);
}

#[test]
fn inspect_with_another_key_is_critical_and_says_the_key_does_not_match() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 60);
    let other = leaf_with_days_left(&pki, 60);
    let run = inspect(&[&arg(&cert.fullchain), "--key", &arg(&other.key)]);
    run.assert_code(health::CRITICAL);
    let out = run.stdout.to_lowercase();
    assert!(
        out.contains("key") && (out.contains("not match") || out.contains("not carry")),
        "the output says the key does not match\n{}",
        run.describe()
    );
}

#[test]
fn inspect_json_says_key_match_false_for_another_key() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 60);
    let other = leaf_with_days_left(&pki, 60);
    let run = inspect(&[&arg(&cert.fullchain), "--key", &arg(&other.key), "--json"]);
    run.assert_code(health::CRITICAL);
    let v = run.stdout_json();
    assert_eq!(v["files"][0]["key_match"], false, "{}", run.describe());
    assert_eq!(v["files"][0]["status"], "CRITICAL", "{}", run.describe());
}

#[test]
fn inspect_an_unreadable_key_is_unknown() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 60);
    let dir = tempdir();
    let run = inspect(&[
        &arg(&cert.fullchain),
        "--key",
        &arg(&dir.path().join("no-such-key.pem")),
    ]);
    run.assert_error(health::UNKNOWN, &["key"]);
}

#[test]
fn inspect_dash_reads_the_chain_from_stdin() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 10);
    let run = certpull_with_stdin(&["inspect", "-", "--json"], cert.fullchain_pem.as_bytes());
    run.assert_code(health::WARNING);
    let v = run.stdout_json();
    let file = &v["files"][0];
    assert_eq!(file["path"], "-", "{}", run.describe());
    assert_eq!(
        file["chain"][0]["sha256"]
            .as_str()
            .map(|s| s.replace(':', "").to_lowercase()),
        Some(sha256_hex(cert.leaf_der())),
        "{}",
        run.describe()
    );
}

#[test]
fn inspect_an_unreadable_file_is_unknown() {
    let dir = tempdir();
    let missing = dir.path().join("no-such-cert.pem");
    let run = inspect(&[&arg(&missing)]);
    run.assert_code(health::UNKNOWN);
    assert!(
        run.stdout
            .starts_with(&format!("UNKNOWN: {}: ", arg(&missing))),
        "{}",
        run.describe()
    );
}

#[test]
fn inspect_a_directory_is_unknown() {
    let dir = tempdir();
    let run = inspect(&[&arg(dir.path())]);
    run.assert_code(health::UNKNOWN);
}

#[test]
fn inspect_a_file_without_a_certificate_is_unknown() {
    let dir = tempdir();
    let file = dir.path().join("not-a-cert.pem");
    fs::write(&file, "hello, this is not PEM\n").unwrap();
    let run = inspect(&[&arg(&file)]);
    run.assert_code(health::UNKNOWN);
}

#[test]
fn inspect_a_private_key_alone_is_unknown() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 60);
    let run = inspect(&[&arg(&cert.key)]);
    run.assert_code(health::UNKNOWN);
}

#[test]
fn inspect_an_unknown_file_next_to_a_critical_one_is_unknown() {
    let pki = TestPki::new();
    let critical = leaf_with_days_left(&pki, 2);
    let dir = tempdir();
    let run = inspect(&[
        &arg(&critical.fullchain),
        &arg(&dir.path().join("missing.pem")),
    ]);
    run.assert_code(health::UNKNOWN);
}

#[test]
fn inspect_json_parses_and_lists_each_file_with_its_chain() {
    let pki = TestPki::new();
    let cert = leaf_with_days_left(&pki, 60);
    let run = inspect(&[&arg(&cert.fullchain), "--json", "--key", &arg(&cert.key)]);
    run.assert_code(health::OK);
    let v = run.stdout_json();
    let ctx = run.describe();
    assert_eq!(v["status"], "OK", "{ctx}");
    let files = v["files"].as_array().expect("files array");
    assert_eq!(files.len(), 1, "{ctx}");
    let file = &files[0];
    assert_eq!(file["path"], arg(&cert.fullchain), "{ctx}");
    assert_eq!(file["status"], "OK", "{ctx}");
    assert_eq!(file["key_match"], true, "{ctx}");
    assert!(
        file["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{ctx}"
    );
    let chain = file["chain"].as_array().expect("chain array");
    assert_eq!(chain.len(), cert.served.len(), "{ctx}");
    assert!(
        chain[0]["days_left"]
            .as_i64()
            .is_some_and(|d| (58..=60).contains(&d)),
        "{ctx}"
    );
    assert!(chain.iter().all(|c| c["sha256"].is_string()), "{ctx}");
    assert!(chain[0]["subject"]
        .as_str()
        .is_some_and(|s| s.contains(TEST_NAME)));
}

#[test]
fn inspect_json_of_an_unreadable_file_says_unknown() {
    let dir = tempdir();
    let run = inspect(&[&arg(&dir.path().join("gone.pem")), "--json"]);
    run.assert_code(health::UNKNOWN);
    let v: Value = run.stdout_json();
    assert_eq!(v["status"], "UNKNOWN", "{}", run.describe());
    assert_eq!(v["files"][0]["status"], "UNKNOWN", "{}", run.describe());
}

#[test]
fn inspect_without_a_file_is_a_usage_error_answered_unknown() {
    let run = inspect(&[]);
    run.assert_code(health::UNKNOWN)
        .assert_one_line_error()
        .assert_no_stdout();
}

#[test]
fn inspect_with_a_bad_threshold_is_unknown() {
    let run = inspect(&["x.pem", "--warn-days", "soon"]);
    run.assert_code(health::UNKNOWN).assert_one_line_error();
}
