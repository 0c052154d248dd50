//! The command line: addresses, usage errors, unreadable local input, write errors, demo.

use std::time::Duration;

use certpull_tests::expect::pem_stdout_is_served_chain;
use certpull_tests::servers::{
    ipv6_loopback_available, start_openssl_at, start_openssl_on, LOCALHOST_V4, LOCALHOST_V6,
};
use certpull_tests::{
    certpull, exit, fetch, start_openssl, tempdir, Run, TestPki, TlsVersion, TEST_NAME,
};

/// A usage error: exit 2, something on stderr, nothing on stdout, quickly (no network).
#[track_caller]
fn assert_usage_error(run: &Run) {
    run.assert_code(exit::USAGE)
        .assert_no_stdout()
        .assert_finished_within(Duration::from_secs(5));
    assert!(
        !run.stderr.trim().is_empty(),
        "usage errors explain themselves\n{}",
        run.describe()
    );
}

#[test]
fn ipv6_bracketed_literal_with_port_is_accepted() {
    if !ipv6_loopback_available() {
        eprintln!("note: ::1 cannot be bound on this machine; IPv6 fetch not tested");
        return;
    }
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl_on(LOCALHOST_V6, &cert, TlsVersion::Tls13);
    assert!(server.connect_arg().starts_with("[::1]:"));
    pem_stdout_is_served_chain(&server.connect_arg(), &cert);
}

#[test]
fn host_name_in_connect_is_resolved() {
    // `localhost` resolves through /etc/hosts: no network needed.
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let connect = format!("localhost:{}", server.port());
    pem_stdout_is_served_chain(&connect, &cert);
}

/// Start s_server on port 443 of `ip` (we run as root), or explain why not.
fn server_on_port_443(
    ip: std::net::IpAddr,
    cert: &certpull_tests::ServerCert,
) -> Option<certpull_tests::ServerProcess> {
    match start_openssl_at(std::net::SocketAddr::new(ip, 443), cert, TlsVersion::Any) {
        Ok(server) => Some(server),
        Err(e) => {
            eprintln!("note: cannot serve on {ip} port 443 ({e:?}); default port not tested");
            None
        }
    }
}

#[test]
fn bare_ipv4_literal_defaults_to_port_443() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let Some(_server) = server_on_port_443(LOCALHOST_V4, &cert) else {
        return;
    };
    pem_stdout_is_served_chain("127.0.0.1", &cert);
}

#[test]
fn bare_ipv6_literal_is_accepted_and_defaults_to_port_443() {
    if !ipv6_loopback_available() {
        eprintln!("note: ::1 unavailable; bare IPv6 literal not tested");
        return;
    }
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let Some(_server) = server_on_port_443(LOCALHOST_V6, &cert) else {
        return;
    };
    pem_stdout_is_served_chain("::1", &cert);
}

#[test]
fn fetch_without_a_name_is_a_usage_error() {
    assert_usage_error(&certpull(["fetch", "--connect", "127.0.0.1:1"]));
}

#[test]
fn malformed_connect_addresses_are_usage_errors() {
    for bad in [
        "127.0.0.1:99999",
        "127.0.0.1:-1",
        "127.0.0.1:",
        "[::1",
        "[::1]:",
        "[::1]x",
        "[::1]:99999",
        "",
    ] {
        let run = fetch(TEST_NAME, bad, &["--timeout", "2s"]);
        assert_usage_error(&run);
    }
}

#[test]
fn malformed_timeouts_are_usage_errors() {
    for bad in [
        "abc",
        "-1s",
        "5parsecs",
        "",
        "1.2.3s",
        "s",
        "99999999999999999999s",
    ] {
        let run = fetch(TEST_NAME, "127.0.0.1:1", &["--timeout", bad]);
        assert_usage_error(&run);
    }
}

#[test]
fn usage_errors_are_one_line_starting_with_certpull() {
    // The contract: every error is one line on stderr starting with "certpull: " (cron mails
    // stderr; multi-line usage banners are noise there).
    let cases: [&[&str]; 6] = [
        &["fetch", "--connect", "127.0.0.1:1"],
        &["fetch", TEST_NAME, "--connect", "127.0.0.1:99999"],
        &[
            "fetch",
            TEST_NAME,
            "--connect",
            "127.0.0.1:1",
            "--timeout",
            "abc",
        ],
        &[
            "fetch",
            TEST_NAME,
            "--connect",
            "127.0.0.1:1",
            "--timeout",
            "5parsecs",
        ],
        &[
            "fetch",
            TEST_NAME,
            "--connect",
            "127.0.0.1:1",
            "--no-such-option",
        ],
        &["frobnicate"],
    ];
    let mut failures = Vec::new();
    for args in cases {
        let run = certpull(args);
        run.assert_code(exit::USAGE);
        let lines: Vec<&str> = run.stderr.lines().collect();
        if !(lines.len() == 1 && lines[0].starts_with("certpull: ")) {
            failures.push(format!("{:?} -> {:?}", args, run.stderr));
        }
    }
    assert!(
        failures.is_empty(),
        "usage errors not in the one-line \"certpull: \" form:\n{}",
        failures.join("\n")
    );
}

#[test]
fn unknown_subcommand_and_unknown_option_are_usage_errors() {
    assert_usage_error(&certpull(["frobnicate"]));
    assert_usage_error(&certpull([
        "fetch",
        TEST_NAME,
        "--connect",
        "127.0.0.1:1",
        "--no-such-option",
    ]));
}

#[test]
fn missing_ca_file_is_a_local_input_error() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let missing = pki.dir().join("does-not-exist.pem");
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &["--ca-file", &missing.to_string_lossy()],
    );
    run.assert_error(exit::USAGE, &["does-not-exist.pem"])
        .assert_no_stdout();
}

#[test]
fn ca_file_without_certificates_is_a_local_input_error() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    for (name, content) in [
        ("garbage.pem", "this is not a certificate\n"),
        ("empty.pem", ""),
        (
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        ),
    ] {
        let path = pki.dir().join(name);
        std::fs::write(&path, content).unwrap();
        let run = fetch(
            TEST_NAME,
            &server.connect_arg(),
            &["--ca-file", &path.to_string_lossy()],
        );
        run.assert_error(exit::USAGE, &[name]).assert_no_stdout();
    }
}

#[test]
fn unwritable_output_path_is_a_write_error() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let dir = tempdir();
    // The parent of the output path is a regular file: fails even for root.
    let not_a_dir = dir.path().join("plain-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let target = not_a_dir.join("fullchain.pem");
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &[
            "--ca-file",
            &cert.ca.to_string_lossy(),
            "--fullchain",
            &target.to_string_lossy(),
        ],
    );
    // Naming the path that could not be written (or its parent) names the cause.
    run.assert_error(exit::WRITE, &["plain-file", "write", "not a directory"])
        .assert_no_stdout();
}

#[test]
fn out_dir_that_is_a_file_is_a_write_error() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let dir = tempdir();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &[
            "--ca-file",
            &cert.ca.to_string_lossy(),
            "--out-dir",
            &file.to_string_lossy(),
        ],
    );
    run.assert_error(exit::WRITE, &["plain-file", "write", "not a directory"])
        .assert_no_stdout();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "x",
        "the file is untouched"
    );
}

#[test]
fn demo_runs_self_contained_and_exits_zero() {
    let run = certpull(["demo"]);
    run.assert_code(exit::OK)
        .assert_finished_within(Duration::from_secs(30));
    assert!(
        !run.stdout.is_empty(),
        "the demo shows something\n{}",
        run.describe()
    );
}

#[test]
fn help_mentions_fetch_and_exits_zero() {
    let run = certpull(["--help"]);
    run.assert_code(exit::OK);
    assert!(run.stdout.contains("fetch"), "{}", run.describe());
}
