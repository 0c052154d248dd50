//! Several `--from` sources: all are pulled, the newest installable leaf wins whatever the
//! order, a failing source does not stop the others, and a host name stands for every address
//! it resolves to.

use std::fs;
use std::net::SocketAddr;

use certpull_tests::cli::exit;
use certpull_tests::hostile::refused_addr;
use certpull_tests::servers::{
    ipv6_loopback_available, start_openssl_at, start_openssl_on, LOCALHOST_V4, LOCALHOST_V6,
};
use certpull_tests::sync::{assert_installed, Scenario, INSTALLED_DAYS};
use certpull_tests::{
    start_nginx, start_openssl, Behaviour, HostileServer, Run, ServerCert, ServerProcess,
    TlsVersion, TEST_NAME,
};
use serde_json::Value;

/// Asserts an install from `source`, and that the hook saw `source`.
#[track_caller]
fn assert_installed_from(s: &Scenario, run: &Run, source: &str, cert: &ServerCert) {
    run.assert_ok_quiet_stderr();
    assert!(
        run.stdout
            .starts_with(&format!("certpull: installed {TEST_NAME} from {source} (")),
        "installed from {source}\n{}",
        run.describe()
    );
    assert_installed(s.out_dir(), cert, &format!("from {source}"));
    let env = s.hook.assert_runs(1, run);
    assert_eq!(env.get("CERTPULL_SOURCE").map(String::as_str), Some(source));
}

/// The `address`es of the sources in a `--json` report.
fn json_addresses(run: &Run) -> Vec<String> {
    let v = run.stdout_json();
    v["certificates"][0]["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("sources should be an array\n{}", run.describe()))
        .iter()
        .map(|s| s["address"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn renewed_source_wins_over_a_down_one_and_a_stale_one() {
    let s = Scenario::new();
    let stale = s.pki.renewal(&s.installed, INSTALLED_DAYS - 10);
    let stale_server = start_openssl(&stale, TlsVersion::Any);
    let renewed_server = start_nginx(&s.renewed, TlsVersion::Any);
    let down = refused_addr();
    let run = s
        .sync(down)
        .from(stale_server.connect_arg())
        .from(renewed_server.connect_arg())
        .timeout("2s")
        .run();
    assert_installed_from(&s, &run, &renewed_server.connect_arg(), &s.renewed);
}

#[test]
fn newest_installable_leaf_wins_whatever_the_order_of_the_sources() {
    let s = Scenario::new();
    // Both are installable renewals; the one expiring later must win, listed first or last.
    let newer = s.pki.renewal(&s.installed, INSTALLED_DAYS + 20);
    let newer_server = start_openssl(&newer, TlsVersion::Any);
    let newest_server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(newer_server.connect_arg())
        .from(newest_server.connect_arg())
        .run();
    assert_installed_from(&s, &run, &newest_server.connect_arg(), &s.renewed);

    let s = Scenario::new();
    let newer = s.pki.renewal(&s.installed, INSTALLED_DAYS + 20);
    let newer_server = start_openssl(&newer, TlsVersion::Any);
    let newest_server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(newest_server.connect_arg())
        .from(newer_server.connect_arg())
        .run();
    assert_installed_from(&s, &run, &newest_server.connect_arg(), &s.renewed);
}

#[test]
fn up_to_date_source_and_a_down_one_is_a_silent_success() {
    let s = Scenario::new();
    let current = start_openssl(&s.installed, TlsVersion::Any);
    let before = s.snapshot();
    let run = s
        .sync(refused_addr())
        .from(current.connect_arg())
        .timeout("2s")
        .run();
    run.assert_ok_quiet_stderr().assert_no_stdout();
    before.assert_unchanged(&run);
    s.hook.assert_not_run(&run);
}

#[test]
fn every_source_down_is_a_network_error() {
    let s = Scenario::new();
    let before = s.snapshot();
    let run = s
        .sync(refused_addr())
        .from(refused_addr())
        .timeout("2s")
        .run();
    s.assert_nothing_changed(&run, exit::NETWORK, &before);
    run.assert_error(exit::NETWORK, &["refused"]);
}

#[test]
fn failure_that_got_furthest_gives_the_exit_code() {
    // A timeout and a policy refusal: the refusal got further (exit 8).
    let s = Scenario::new();
    let silent = HostileServer::start(Behaviour::Silent);
    let older = s.pki.renewal(&s.installed, INSTALLED_DAYS - 10);
    let older_server = start_openssl(&older, TlsVersion::Any);
    let before = s.snapshot();
    let run = s
        .sync(silent.connect_arg())
        .from(older_server.connect_arg())
        .timeout("2s")
        .run();
    s.assert_nothing_changed(&run, exit::REFUSED, &before);
    assert!(
        run.stderr.contains(&silent.connect_arg())
            && run.stderr.contains(&older_server.connect_arg()),
        "the one line names every source\n{}",
        run.describe()
    );
}

#[test]
fn duplicate_sources_are_pulled_once() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(server.connect_arg())
        .from(server.connect_arg())
        .args(["--json"])
        .run();
    run.assert_code(exit::OK);
    assert_eq!(
        json_addresses(&run),
        vec![server.connect_arg()],
        "{}",
        run.describe()
    );
}

#[test]
fn ipv6_literal_source_is_pulled() {
    if !ipv6_loopback_available() {
        eprintln!("note: ::1 cannot be bound here; not tested");
        return;
    }
    let s = Scenario::new();
    let server = start_openssl_on(LOCALHOST_V6, &s.renewed, TlsVersion::Any);
    assert!(server.connect_arg().starts_with("[::1]:"));
    let run = s.sync(server.connect_arg()).run();
    assert_installed_from(&s, &run, &server.connect_arg(), &s.renewed);
}

#[test]
fn localhost_source_is_pulled_at_its_address() {
    // This machine's /etc/hosts: localhost is 127.0.0.1 (and perhaps ::1).
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(format!("localhost:{}", server.port()))
        .timeout("2s")
        .run();
    assert_installed_from(&s, &run, &server.connect_arg(), &s.renewed);
}

/// One server on `[::1]:P` and one on `127.0.0.1:P` (the same port).
fn same_port_on_both_loopbacks(
    v6_cert: &ServerCert,
    v4_cert: &ServerCert,
) -> Option<(ServerProcess, ServerProcess)> {
    if !ipv6_loopback_available() {
        return None;
    }
    for _ in 0..8 {
        let v6 = start_openssl_on(LOCALHOST_V6, v6_cert, TlsVersion::Any);
        if let Ok(v4) = start_openssl_at(
            SocketAddr::new(LOCALHOST_V4, v6.port()),
            v4_cert,
            TlsVersion::Any,
        ) {
            return Some((v6, v4));
        }
    }
    None
}

#[test]
fn localhost_source_expands_to_every_address_it_resolves_to() {
    let s = Scenario::new();
    // The renewal only on ::1; the installed chain on 127.0.0.1, same port.
    let Some((v6, v4)) = same_port_on_both_loopbacks(&s.renewed, &s.installed) else {
        eprintln!("note: no IPv6 loopback here; not tested");
        return;
    };
    // In a private mount namespace, localhost resolves to both loopback addresses.
    let hosts = s.pki.dir().join("hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n::1 localhost\n").unwrap();
    let command = s
        .sync(format!("localhost:{}", v6.port()))
        .args(["--json"])
        .timeout("3s");
    let Some(run) =
        command.run_in_mount_namespace(&format!("mount --bind '{}' /etc/hosts", hosts.display()))
    else {
        eprintln!("note: no private mount namespace here (unshare -m); not tested");
        return;
    };
    run.assert_code(exit::OK);
    let mut addresses = json_addresses(&run);
    addresses.sort();
    let mut expected = vec![v4.connect_arg(), v6.connect_arg()];
    expected.sort();
    assert_eq!(
        addresses,
        expected,
        "both addresses were pulled\n{}",
        run.describe()
    );
    let v = run.stdout_json();
    assert_eq!(
        v["certificates"][0]["source"].as_str(),
        Some(v6.connect_arg().as_str()),
        "the renewal on ::1 was installed\n{}",
        run.describe()
    );
    assert_installed(s.out_dir(), &s.renewed, "from [::1]");
    s.hook.assert_runs(1, &run);
}

#[test]
fn unresolvable_source_fails_naming_it() {
    let s = Scenario::new();
    let before = s.snapshot();
    let run = s.sync("no-such-host.invalid:443").timeout("3s").run();
    // Resolution fails fast here; a resolver that does not answer at all would be a timeout.
    let code = if run.code == Some(exit::TIMEOUT) {
        exit::TIMEOUT
    } else {
        exit::NETWORK
    };
    s.assert_nothing_changed(&run, code, &before);
    run.assert_error(code, &["no-such-host.invalid"]);
}

#[test]
fn json_lists_a_refused_source_with_its_reason() {
    let s = Scenario::new();
    let older = s.pki.renewal(&s.installed, INSTALLED_DAYS - 10);
    let older_server = start_openssl(&older, TlsVersion::Any);
    let renewed_server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(older_server.connect_arg())
        .from(renewed_server.connect_arg())
        .args(["--json"])
        .run();
    run.assert_code(exit::OK);
    let v = run.stdout_json();
    let sources = v["certificates"][0]["sources"].as_array().expect("sources");
    let by_address = |a: &str| -> &Value {
        sources
            .iter()
            .find(|s| s["address"] == a)
            .unwrap_or_else(|| panic!("source {a} in {v}"))
    };
    let refused = by_address(&older_server.connect_arg());
    assert_eq!(refused["status"], "refused", "{v}");
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("downgrade")),
        "{v}"
    );
    assert_eq!(
        by_address(&renewed_server.connect_arg())["status"],
        "installable",
        "{v}"
    );
}
