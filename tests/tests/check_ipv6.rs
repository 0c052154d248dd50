//! `certpull check` over IPv6 loopback: `[::1]:PORT` is pulled from and reported under that
//! label, next to an IPv4 endpoint serving the same leaf.

use certpull_tests::fleet::{assert_status, check, health, json_certificate, json_endpoint};
use certpull_tests::servers::{ipv6_loopback_available, start_nginx_on, LOCALHOST_V6};
use certpull_tests::{sha256_hex, start_nginx, TestPki, TlsVersion, TEST_NAME};

#[test]
fn ipv6_loopback_endpoint_is_checked_beside_an_ipv4_one() {
    if !ipv6_loopback_available() {
        eprintln!("SKIPPED: ::1 cannot be bound on this machine (no IPv6 loopback)");
        return;
    }
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let v6 = start_nginx_on(LOCALHOST_V6, &leaf, TlsVersion::Any);
    let v4 = start_nginx(&leaf, TlsVersion::Any);
    let v6_arg = v6.connect_arg();
    assert!(v6_arg.starts_with("[::1]:"), "{v6_arg}");
    let ca = pki.ca_file.to_string_lossy().into_owned();
    let run = check(
        TEST_NAME,
        &[v6_arg.clone(), v4.connect_arg()],
        &["--ca-file", &ca, "--json", "--timeout", "5s"],
    );
    run.assert_code(health::OK);
    let report = run.stdout_json();
    let cert = json_certificate(&report, TEST_NAME);
    assert_eq!(cert["distinct_leaves"], 1, "{}", run.describe());
    let endpoint = json_endpoint(cert, &v6_arg);
    assert_eq!(endpoint["state"], "current", "{}", run.describe());
    assert_eq!(endpoint["verdict"], "valid", "{}", run.describe());
    assert_eq!(
        endpoint["sha256"].as_str(),
        Some(sha256_hex(leaf.leaf_der()).as_str()),
        "{}",
        run.describe()
    );
}

#[test]
fn ipv6_loopback_endpoint_appears_in_the_table() {
    if !ipv6_loopback_available() {
        eprintln!("SKIPPED: ::1 cannot be bound on this machine (no IPv6 loopback)");
        return;
    }
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let v6 = start_nginx_on(LOCALHOST_V6, &leaf, TlsVersion::Tls12);
    let ca = pki.ca_file.to_string_lossy().into_owned();
    let run = check(TEST_NAME, &[v6.connect_arg()], &["--ca-file", &ca]);
    run.assert_code(health::OK);
    assert_status(&run, "OK", TEST_NAME);
    let row = certpull_tests::fleet::table_row(&run, &v6.connect_arg());
    assert!(row.contains("TLSv1.2"), "{}", run.describe());
}
