//! `certpull check` with endpoints that fail: refused, silent, hostile and never-accepting
//! endpoints mixed with good ones. Each is reported on its own row as an error, the good ones
//! still report their leaf, the run ends within the per-endpoint deadline, and the result is
//! CRITICAL.

use std::time::Duration;

use certpull_tests::fleet::{
    assert_status, check, health, json_certificate, json_endpoint, row_state, status_line,
    table_row,
};
use certpull_tests::hostile::refused_addr;
use certpull_tests::{
    sha256_hex, start_nginx, Behaviour, FullBacklog, HostileServer, TestPki, TlsVersion, TEST_NAME,
};

const TIMEOUT: &str = "2s";
/// Generous: three per-endpoint deadlines.
const BOUND: Duration = Duration::from_secs(6);

/// The failing endpoints of every test here: one of each kind, kept alive while the test runs.
struct Failing {
    _hostile: Vec<HostileServer>,
    _backlog: FullBacklog,
    addresses: Vec<String>,
}

fn failing() -> Failing {
    let hostile: Vec<HostileServer> = [
        Behaviour::Silent,
        Behaviour::Trickle,
        Behaviour::HalfRecordThenStall,
        Behaviour::RandomBytes,
        Behaviour::HugeHandshake,
        Behaviour::CloseOnAccept,
    ]
    .into_iter()
    .map(HostileServer::start)
    .collect();
    let backlog = FullBacklog::start();
    let mut addresses = vec![refused_addr().to_string(), backlog.connect_arg()];
    addresses.extend(hostile.iter().map(HostileServer::connect_arg));
    Failing {
        _hostile: hostile,
        _backlog: backlog,
        addresses,
    }
}

#[test]
fn unreachable_silent_and_hostile_endpoints_are_each_an_error_row_and_critical() {
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let good = start_nginx(&leaf, TlsVersion::Any);
    let bad = failing();
    let mut connects = vec![good.connect_arg()];
    connects.extend(bad.addresses.iter().cloned());
    let ca = pki.ca_file.to_string_lossy().into_owned();
    let run = check(
        TEST_NAME,
        &connects,
        &["--ca-file", &ca, "--timeout", TIMEOUT],
    );
    run.assert_code(health::CRITICAL)
        .assert_finished_within(BOUND);
    assert_status(&run, "CRITICAL", TEST_NAME);
    let expected = format!(
        "{} of {} unreachable or failed",
        bad.addresses.len(),
        connects.len()
    );
    assert!(
        status_line(&run).contains(&expected),
        "the status line should say {expected:?}\n{}",
        run.describe()
    );
    assert_eq!(
        row_state(table_row(&run, &good.connect_arg())),
        "current",
        "{}",
        run.describe()
    );
    for address in &bad.addresses {
        let row = table_row(&run, address);
        assert_eq!(row_state(row), "ERROR", "{address}\n{}", run.describe());
    }
}

#[test]
fn unreachable_silent_and_hostile_endpoints_are_each_reported_in_json_within_the_deadline() {
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let good = start_nginx(&leaf, TlsVersion::Any);
    let bad = failing();
    let mut connects = bad.addresses.clone();
    connects.insert(connects.len() / 2, good.connect_arg());
    let ca = pki.ca_file.to_string_lossy().into_owned();
    let run = check(
        TEST_NAME,
        &connects,
        &["--ca-file", &ca, "--timeout", TIMEOUT, "--json"],
    );
    run.assert_code(health::CRITICAL)
        .assert_finished_within(BOUND);
    let report = run.stdout_json();
    let ctx = run.describe();
    assert_eq!(report["status"], "CRITICAL", "{ctx}");
    let cert = json_certificate(&report, TEST_NAME);
    assert_eq!(cert["failed"], bad.addresses.len(), "{ctx}");
    assert_eq!(cert["distinct_leaves"], 1, "{ctx}");
    assert_eq!(cert["behind"], 0, "{ctx}");
    let ok = json_endpoint(cert, &good.connect_arg());
    assert_eq!(ok["state"], "current", "{ctx}");
    assert_eq!(
        ok["sha256"].as_str(),
        Some(sha256_hex(leaf.leaf_der()).as_str()),
        "{ctx}"
    );
    for address in &bad.addresses {
        let endpoint = json_endpoint(cert, address);
        assert_eq!(endpoint["state"], "error", "{address}\n{ctx}");
        assert_eq!(endpoint["health"], "CRITICAL", "{address}\n{ctx}");
        assert!(
            endpoint["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{address}: the error is given\n{ctx}"
        );
        assert!(
            endpoint.get("sha256").is_none(),
            "{address}: no leaf for a failed endpoint\n{ctx}"
        );
    }
}

#[test]
fn each_endpoint_gets_its_own_deadline_beyond_the_concurrency_limit() {
    // Four silent endpoints two at a time: two waves of one deadline each. A deadline shared
    // by the whole run would fail the second wave at once.
    let silent: Vec<HostileServer> = (0..4)
        .map(|_| HostileServer::start(Behaviour::Silent))
        .collect();
    let connects: Vec<String> = silent.iter().map(HostileServer::connect_arg).collect();
    let run = check(
        TEST_NAME,
        &connects,
        &[
            "--timeout",
            "1s",
            "--concurrency",
            "2",
            "--json",
            "--insecure",
        ],
    );
    run.assert_code(health::CRITICAL)
        .assert_finished_within(Duration::from_secs(6));
    assert!(
        run.elapsed >= Duration::from_millis(1900),
        "two waves of a 1 s deadline take about 2 s\n{}",
        run.describe()
    );
    let report = run.stdout_json();
    let cert = json_certificate(&report, TEST_NAME);
    assert_eq!(cert["failed"], 4, "{}", run.describe());
    for server in &silent {
        assert!(
            server.accepted() >= 1,
            "{} was connected to\n{}",
            server.connect_arg(),
            run.describe()
        );
    }
}

#[test]
fn a_lone_refused_endpoint_is_critical_not_unknown() {
    let run = check(
        TEST_NAME,
        &[refused_addr().to_string()],
        &["--timeout", TIMEOUT, "--insecure"],
    );
    run.assert_code(health::CRITICAL);
    assert_status(&run, "CRITICAL", TEST_NAME);
}

/// Listeners on 127.0.0.1 that never answer: the kernel completes the TCP handshake, nobody
/// reads, so every pull lasts its whole deadline.
fn silent_listeners(n: usize) -> Vec<std::net::TcpListener> {
    (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a silent listener"))
        .collect()
}

fn targets_of(listeners: &[std::net::TcpListener]) -> String {
    listeners
        .iter()
        .map(|l| format!("{}\n", l.local_addr().expect("listener address")))
        .collect()
}

#[test]
fn a_long_run_on_a_terminal_draws_a_progress_bar_on_stderr() {
    let listeners = silent_listeners(20);
    let dir = certpull_tests::tempdir();
    let targets = certpull_tests::fleet::write_targets(dir.path(), &targets_of(&listeners));
    // `script` gives certpull a pseudo-terminal for stdout and stderr alike.
    let command = format!(
        "'{}' check {TEST_NAME} --targets '{}' --timeout 1s",
        certpull_tests::certpull_bin().display(),
        targets.display()
    );
    let out = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run certpull check under script(1)");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(health::CRITICAL), "{screen}");
    assert!(
        screen.contains("/20 endpoints"),
        "the bar counts the endpoints on the terminal:\n{screen}"
    );
    assert!(
        screen.contains("CRITICAL"),
        "the report follows the bar:\n{screen}"
    );
}

#[test]
fn a_long_run_into_a_pipe_draws_no_progress_bar() {
    let listeners = silent_listeners(20);
    let dir = certpull_tests::tempdir();
    let targets = certpull_tests::fleet::write_targets(dir.path(), &targets_of(&listeners));
    let targets = certpull_tests::fleet::arg(&targets);
    let run = check(TEST_NAME, &[], &["--targets", &targets, "--timeout", "1s"]);
    run.assert_code(health::CRITICAL);
    assert!(
        !run.stderr.contains("endpoints") && !run.stdout.contains("endpoints  "),
        "no progress bar without a terminal\n{}",
        run.describe()
    );
}
