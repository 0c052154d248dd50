//! `certpull check`: endpoints that serve different leaves for one name (drift) are a WARNING
//! and the ones serving the older leaf are named BEHIND; endpoints that agree are OK.

use certpull_tests::fleet::{
    assert_status, check, health, json_certificate, json_endpoint, json_endpoint_count, row_state,
    table_row,
};
use certpull_tests::{sha256_hex, start_nginx, ServerCert, TestPki, TlsVersion, TEST_NAME};

/// A PKI, an older leaf (20 days left) and its renewal (89 days left), same key and name.
fn old_and_new() -> (TestPki, ServerCert, ServerCert) {
    let pki = TestPki::new();
    let base = pki.good_leaf();
    let old = pki.renewal(&base, 20);
    let new = pki.renewal(&base, 89);
    (pki, old, new)
}

fn ca(pki: &TestPki) -> String {
    pki.ca_file.to_string_lossy().into_owned()
}

#[test]
fn drift_between_two_nginx_is_a_warning_and_the_older_endpoint_is_behind() {
    let (pki, old, new) = old_and_new();
    let old_server = start_nginx(&old, TlsVersion::Any);
    let new_server = start_nginx(&new, TlsVersion::Any);
    let run = check(
        TEST_NAME,
        &[old_server.connect_arg(), new_server.connect_arg()],
        &["--ca-file", &ca(&pki)],
    );
    run.assert_code(health::WARNING);
    assert_status(&run, "WARNING", TEST_NAME);
    let old_row = table_row(&run, &old_server.connect_arg());
    let new_row = table_row(&run, &new_server.connect_arg());
    assert_eq!(row_state(old_row), "BEHIND", "{}", run.describe());
    assert_eq!(row_state(new_row), "current", "{}", run.describe());
}

#[test]
fn drift_json_counts_two_leaves_one_behind_with_each_served_fingerprint() {
    let (pki, old, new) = old_and_new();
    let old_server = start_nginx(&old, TlsVersion::Any);
    let new_server = start_nginx(&new, TlsVersion::Any);
    let run = check(
        TEST_NAME,
        &[new_server.connect_arg(), old_server.connect_arg()],
        &["--ca-file", &ca(&pki), "--json"],
    );
    run.assert_code(health::WARNING);
    let report = run.stdout_json();
    let ctx = run.describe();
    assert_eq!(report["status"], "WARNING", "{ctx}");
    let cert = json_certificate(&report, TEST_NAME);
    assert_eq!(cert["distinct_leaves"], 2, "{ctx}");
    assert_eq!(cert["behind"], 1, "{ctx}");
    assert_eq!(cert["failed"], 0, "{ctx}");
    assert_eq!(json_endpoint_count(cert), 2, "{ctx}");
    for (server, served, state) in [
        (&old_server, &old, "behind"),
        (&new_server, &new, "current"),
    ] {
        let endpoint = json_endpoint(cert, &server.connect_arg());
        assert_eq!(endpoint["state"], state, "{ctx}");
        assert_eq!(
            endpoint["sha256"].as_str(),
            Some(sha256_hex(served.leaf_der()).as_str()),
            "{}: sha256 of the served leaf\n{ctx}",
            server.connect_arg()
        );
        assert_eq!(endpoint["verdict"], "valid", "{ctx}");
    }
}

#[test]
fn endpoints_serving_the_same_leaf_agree_and_exit_ok() {
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let a = start_nginx(&leaf, TlsVersion::Any);
    let b = start_nginx(&leaf, TlsVersion::Tls13);
    let run = check(
        TEST_NAME,
        &[a.connect_arg(), b.connect_arg()],
        &["--ca-file", &ca(&pki)],
    );
    run.assert_code(health::OK);
    assert_status(&run, "OK", TEST_NAME);
    for server in [&a, &b] {
        assert_eq!(
            row_state(table_row(&run, &server.connect_arg())),
            "current",
            "{}",
            run.describe()
        );
    }
}
