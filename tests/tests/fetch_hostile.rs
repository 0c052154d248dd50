//! Broken and hostile peers: every one ends with the right exit code, a one-line error naming
//! the cause, within `--timeout` plus a margin, and without writing anything.

use std::time::Duration;

use certpull_tests::hostile::refused_addr;
use certpull_tests::{
    assert_dir_empty, exit, fetch, tempdir, Behaviour, FullBacklog, HostileServer, Run, TEST_NAME,
};

/// Generous upper bound for a run with `--timeout 2s` (2 s + process start + slack under load).
const BOUND_2S: Duration = Duration::from_secs(8);

/// The contract's wording for exit 5: the line contains "not a TLS server" or "protocol".
const NOT_TLS: &[&str] = &["not a TLS server", "protocol"];
const TIMED_OUT: &[&str] = &["timed out"];

/// `certpull fetch TEST_NAME --connect ADDR --timeout 2s --out-dir EMPTY`, then assert the
/// error shape, the bound, and that nothing was written.
fn fetch_fails(connect: &str, code: i32, causes: &[&str]) -> Run {
    let dir = tempdir();
    let run = fetch(
        TEST_NAME,
        connect,
        &[
            "--timeout",
            "2s",
            "--out-dir",
            &dir.path().to_string_lossy(),
        ],
    );
    run.assert_error(code, causes)
        .assert_no_stdout()
        .assert_finished_within(BOUND_2S);
    assert_dir_empty(dir.path(), &run);
    run
}

fn hostile(behaviour: Behaviour, code: i32, causes: &[&str]) {
    let server = HostileServer::start(behaviour);
    fetch_fails(&server.connect_arg(), code, causes);
    assert!(
        server.accepted() >= 1,
        "{behaviour:?}: certpull never connected"
    );
}

#[test]
fn random_bytes_are_a_protocol_error_not_a_tls_server() {
    hostile(Behaviour::RandomBytes, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn record_header_followed_by_garbage_is_a_protocol_error() {
    hostile(Behaviour::RecordHeaderThenGarbage, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn handshake_message_announcing_16_mib_is_refused_as_oversized_without_waiting() {
    hostile(
        Behaviour::HugeHandshake,
        exit::PROTOCOL,
        &["protocol", "not a TLS server", "too large", "oversized"],
    );
}

#[test]
fn silent_server_times_out() {
    hostile(Behaviour::Silent, exit::TIMEOUT, TIMED_OUT);
}

#[test]
fn half_a_record_then_a_stall_times_out() {
    hostile(Behaviour::HalfRecordThenStall, exit::TIMEOUT, TIMED_OUT);
}

#[test]
fn close_on_accept_is_a_network_error() {
    hostile(
        Behaviour::CloseOnAccept,
        exit::NETWORK,
        &["closed", "reset", "eof", "end of file"],
    );
}

#[test]
fn http_400_reply_is_not_a_tls_server() {
    hostile(Behaviour::HttpBadRequest, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn smtp_banner_is_not_a_tls_server() {
    hostile(Behaviour::SmtpBanner, exit::PROTOCOL, NOT_TLS);
}

#[test]
fn connect_stuck_in_syn_sent_times_out() {
    let backlog = FullBacklog::start();
    fetch_fails(&backlog.connect_arg(), exit::TIMEOUT, TIMED_OUT);
}

#[test]
fn refused_connection_is_a_network_error() {
    fetch_fails(&refused_addr().to_string(), exit::NETWORK, &["refused"]);
}

#[test]
fn timeout_accepts_milliseconds() {
    let server = HostileServer::start(Behaviour::Silent);
    let run = fetch(TEST_NAME, &server.connect_arg(), &["--timeout", "500ms"]);
    run.assert_error(exit::TIMEOUT, TIMED_OUT)
        .assert_finished_within(Duration::from_secs(5));
}

#[test]
fn default_timeout_is_ten_seconds() {
    let server = HostileServer::start(Behaviour::Silent);
    let run = fetch(TEST_NAME, &server.connect_arg(), &[]);
    run.assert_error(exit::TIMEOUT, TIMED_OUT)
        .assert_finished_within(Duration::from_secs(20));
    // A timeout never fires early, so this lower bound cannot flake.
    assert!(
        run.elapsed >= Duration::from_millis(9500),
        "default timeout should be 10s\n{}",
        run.describe()
    );
}

#[test]
fn one_timeout_bounds_the_whole_handshake_even_when_bytes_keep_trickling() {
    // A byte every 200 ms: a per-read timeout would never fire; the --timeout must be a deadline.
    hostile(Behaviour::Trickle, exit::TIMEOUT, TIMED_OUT);
}
