//! What `certpull sync` must not install. Each refusal: the right exit code, one `certpull: `
//! line on stderr naming the cause, nothing on stdout, the follower's files byte-identical with
//! unchanged inode and mtime, no deploy hook run, no staged file left behind.

use std::time::Duration;

use certpull_tests::cli::exit;
use certpull_tests::hostile::refused_addr;
use certpull_tests::sync::{Scenario, INSTALLED_DAYS, RENEWED_DAYS};
use certpull_tests::{
    start_openssl, Behaviour, FullBacklog, HostileServer, KeyKind, LeafSpec, Run, ServerCert,
    TestPki, TlsVersion, OTHER_NAME, TEST_NAME,
};

/// A run with `--timeout 2s` ends well within this.
const BOUND_2S: Duration = Duration::from_secs(8);

/// Serves `served` to the scenario's follower and asserts it is refused with `code`, naming
/// one of `causes`, changing nothing.
fn refused(s: &Scenario, served: &ServerCert, code: i32, causes: &[&str]) -> Run {
    let server = start_openssl(served, TlsVersion::Any);
    refused_from(s, &server.connect_arg(), code, causes)
}

fn refused_from(s: &Scenario, source: &str, code: i32, causes: &[&str]) -> Run {
    let before = s.snapshot();
    let run = s.sync(source).timeout("2s").run();
    s.assert_nothing_changed(&run, code, &before);
    run.assert_error(code, causes)
        .assert_finished_within(BOUND_2S);
    run
}

#[test]
fn leaf_with_another_key_than_the_key_file_is_refused_with_exit_8() {
    let s = Scenario::new();
    let rekeyed = s.pki.issue(&LeafSpec::fresh(
        &[TEST_NAME],
        KeyKind::EcdsaP256,
        RENEWED_DAYS,
    ));
    refused(&s, &rekeyed, exit::REFUSED, &["key"]);
}

#[test]
fn leaf_with_another_key_than_the_installed_leaf_is_refused_without_key_file() {
    let s = Scenario::new();
    let rekeyed = s.pki.issue(&LeafSpec::fresh(
        &[TEST_NAME],
        KeyKind::EcdsaP256,
        RENEWED_DAYS,
    ));
    let server = start_openssl(&rekeyed, TlsVersion::Any);
    let before = s.snapshot();
    let run = s.sync(server.connect_arg()).without("--key").run();
    s.assert_nothing_changed(&run, exit::REFUSED, &before);
    run.assert_error(exit::REFUSED, &["key"]);
}

#[test]
fn leaf_expiring_before_the_installed_one_is_refused_as_a_downgrade() {
    let s = Scenario::new();
    let older = s.pki.renewal(&s.installed, INSTALLED_DAYS - 10);
    refused(&s, &older, exit::REFUSED, &["downgrade", "expires"]);
}

#[test]
fn leaf_dropping_an_installed_name_is_refused_as_a_downgrade() {
    let pki = TestPki::new();
    let installed = pki.issue(&LeafSpec::fresh(
        &[TEST_NAME, "alt.certpull.test"],
        KeyKind::EcdsaP256,
        INSTALLED_DAYS,
    ));
    let s = Scenario::with_installed(pki, installed);
    let shrunk = s
        .pki
        .issue(&LeafSpec::same_key_as(&s.installed, RENEWED_DAYS).with_sans(&[TEST_NAME]));
    refused(&s, &shrunk, exit::REFUSED, &["alt.certpull.test"]);
}

#[test]
fn not_yet_valid_leaf_is_refused_with_exit_8() {
    // The contract: "not-yet-valid → refused (exit 8)".
    let s = Scenario::new();
    let future = s
        .pki
        .issue(&LeafSpec::same_key_as(&s.installed, RENEWED_DAYS).starting_in_days(2));
    refused(
        &s,
        &future,
        exit::REFUSED,
        &["not valid yet", "not yet valid"],
    );
}

#[test]
fn expired_leaf_is_refused_by_validation_with_exit_6() {
    let s = Scenario::new();
    let mut spec = LeafSpec::same_key_as(&s.installed, -2);
    spec.not_before = spec.not_after - time::Duration::days(90);
    let expired = s.pki.issue(&spec);
    refused(&s, &expired, exit::VALIDATION, &["expired"]);
}

#[test]
fn chain_to_an_untrusted_root_is_refused_with_exit_6() {
    let s = Scenario::new();
    // Same key, later expiry, but issued under another root than --ca-file's.
    let rogue = TestPki::with_root_name("rogue root");
    let forged = rogue.issue(&LeafSpec::same_key_as(&s.installed, RENEWED_DAYS));
    refused(&s, &forged, exit::VALIDATION, &["unknown issuer"]);
}

#[test]
fn leaf_for_another_name_is_refused_with_exit_6() {
    let s = Scenario::new();
    let wrong = s
        .pki
        .issue(&LeafSpec::same_key_as(&s.installed, RENEWED_DAYS).with_sans(&[OTHER_NAME]));
    refused(&s, &wrong, exit::VALIDATION, &["not valid for name"]);
}

#[test]
fn no_key_file_and_nothing_installed_is_refused_with_exit_8() {
    let s = Scenario::new();
    for path in s.paths() {
        std::fs::remove_file(path).unwrap();
    }
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let before = s.snapshot();
    let run = s.sync(server.connect_arg()).without("--key").run();
    s.assert_nothing_changed(&run, exit::REFUSED, &before);
    run.assert_error(exit::REFUSED, &["--key"]);
    for path in s.paths() {
        assert!(!path.exists(), "{} was written", path.display());
    }
}

#[test]
fn unreadable_key_file_is_a_usage_error_before_any_network() {
    let s = Scenario::new();
    let server = HostileServer::start(Behaviour::Silent);
    let missing = s.pki.dir().join("no-such-key.pem");
    let before = s.snapshot();
    let run = s
        .sync(server.connect_arg())
        .without("--key")
        .key(&missing)
        .run();
    s.assert_nothing_changed(&run, exit::USAGE, &before);
    run.assert_error(exit::USAGE, &["no-such-key.pem"]);
    assert_eq!(server.accepted(), 0, "no connection was made");
}

#[test]
fn key_file_without_a_key_is_a_usage_error() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let before = s.snapshot();
    // A certificate where the key should be.
    let run = s
        .sync(server.connect_arg())
        .without("--key")
        .key(&s.installed.cert)
        .run();
    s.assert_nothing_changed(&run, exit::USAGE, &before);
}

fn hostile(behaviour: Behaviour, code: i32, causes: &[&str]) {
    let s = Scenario::new();
    let server = HostileServer::start(behaviour);
    refused_from(&s, &server.connect_arg(), code, causes);
    assert!(
        server.accepted() >= 1,
        "{behaviour:?}: certpull never connected"
    );
}

const NOT_TLS: &[&str] = &["not a TLS server", "protocol"];
const TIMED_OUT: &[&str] = &["timed out"];

#[test]
fn hostile_random_bytes_are_a_protocol_error() {
    hostile(Behaviour::RandomBytes, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn hostile_record_header_then_garbage_is_a_protocol_error() {
    hostile(Behaviour::RecordHeaderThenGarbage, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn hostile_16_mib_handshake_message_is_a_protocol_error() {
    hostile(
        Behaviour::HugeHandshake,
        exit::PROTOCOL,
        &["protocol", "not a TLS server", "too large", "oversized"],
    );
}

#[test]
fn hostile_silent_server_times_out() {
    hostile(Behaviour::Silent, exit::TIMEOUT, TIMED_OUT);
}

#[test]
fn hostile_half_record_then_stall_times_out() {
    hostile(Behaviour::HalfRecordThenStall, exit::TIMEOUT, TIMED_OUT);
}

#[test]
fn hostile_trickling_server_times_out() {
    hostile(Behaviour::Trickle, exit::TIMEOUT, TIMED_OUT);
}

#[test]
fn hostile_close_on_accept_is_a_network_error() {
    hostile(
        Behaviour::CloseOnAccept,
        exit::NETWORK,
        &["closed", "reset", "eof", "end of file"],
    );
}

#[test]
fn hostile_http_400_reply_is_a_protocol_error() {
    hostile(Behaviour::HttpBadRequest, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn hostile_smtp_banner_is_a_protocol_error() {
    hostile(Behaviour::SmtpBanner, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn connect_stuck_in_syn_sent_times_out() {
    let s = Scenario::new();
    let backlog = FullBacklog::start();
    refused_from(&s, &backlog.connect_arg(), exit::TIMEOUT, TIMED_OUT);
}

#[test]
fn refused_connection_is_a_network_error() {
    let s = Scenario::new();
    refused_from(&s, &refused_addr().to_string(), exit::NETWORK, &["refused"]);
}

/// `sync --insecure` from a server of `cert` is refused (exit 8): nothing written, no hook.
fn insecure_still_refuses(s: &Scenario, cert: &ServerCert) {
    let server = start_openssl(cert, TlsVersion::Any);
    let before = s.snapshot();
    let run = s.sync(server.connect_arg()).args(["--insecure"]).run();
    run.assert_code(exit::REFUSED).assert_no_stdout();
    before.assert_unchanged(&run);
    s.hook.assert_not_run(&run);
}

#[test]
fn insecure_still_refuses_a_leaf_with_another_key() {
    // DESIGN: --insecure skips validation but still enforces the key match and the downgrade
    // rules.
    let s = Scenario::new();
    let rogue = TestPki::with_root_name("rogue root");
    let rekeyed = rogue.issue(&LeafSpec::fresh(
        &[TEST_NAME],
        KeyKind::EcdsaP256,
        RENEWED_DAYS,
    ));
    insecure_still_refuses(&s, &rekeyed);
}

#[test]
fn insecure_still_refuses_a_downgrade() {
    let s = Scenario::new();
    let older = s.pki.renewal(&s.installed, INSTALLED_DAYS - 10);
    insecure_still_refuses(&s, &older);
}

#[test]
fn insecure_still_refuses_a_not_yet_valid_leaf() {
    let s = Scenario::new();
    let future = s
        .pki
        .issue(&LeafSpec::same_key_as(&s.installed, RENEWED_DAYS).starting_in_days(2));
    insecure_still_refuses(&s, &future);
}
