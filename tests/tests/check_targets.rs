//! `certpull check --targets FILE`: one endpoint per line, `#` comments and blank lines
//! ignored, combined with `--connect`; and the usage errors of `check`, which answer UNKNOWN.

use certpull_tests::fleet::{
    arg, check, health, json_certificate, json_endpoint, json_endpoint_count, write_targets,
};
use certpull_tests::{certpull, start_openssl, tempdir, TestPki, TlsVersion, TEST_NAME};

#[test]
fn targets_file_with_comments_and_blank_lines_lists_each_endpoint() {
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let a = start_openssl(&leaf, TlsVersion::Any);
    let b = start_openssl(&leaf, TlsVersion::Any);
    let dir = tempdir();
    let targets = write_targets(
        dir.path(),
        &format!(
            "# the web fleet\n\n{}\n   \n\t{}   # second machine\n# {}\n\n",
            a.connect_arg(),
            b.connect_arg(),
            "127.0.0.1:1"
        ),
    );
    let run = check(
        TEST_NAME,
        &[],
        &[
            "--targets",
            &arg(&targets),
            "--ca-file",
            &arg(&pki.ca_file),
            "--json",
        ],
    );
    run.assert_code(health::OK);
    let report = run.stdout_json();
    let cert = json_certificate(&report, TEST_NAME);
    assert_eq!(json_endpoint_count(cert), 2, "{}", run.describe());
    for server in [&a, &b] {
        assert_eq!(
            json_endpoint(cert, &server.connect_arg())["state"],
            "current",
            "{}",
            run.describe()
        );
    }
}

#[test]
fn targets_file_and_connect_are_checked_together() {
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let a = start_openssl(&leaf, TlsVersion::Any);
    let b = start_openssl(&leaf, TlsVersion::Any);
    let dir = tempdir();
    let targets = write_targets(dir.path(), &format!("{}\n", b.connect_arg()));
    let run = check(
        TEST_NAME,
        &[a.connect_arg()],
        &[
            "--targets",
            &arg(&targets),
            "--ca-file",
            &arg(&pki.ca_file),
            "--json",
        ],
    );
    run.assert_code(health::OK);
    let report = run.stdout_json();
    let cert = json_certificate(&report, TEST_NAME);
    assert_eq!(json_endpoint_count(cert), 2, "{}", run.describe());
    json_endpoint(cert, &a.connect_arg());
    json_endpoint(cert, &b.connect_arg());
}

#[test]
fn an_address_listed_twice_is_checked_once() {
    let pki = TestPki::new();
    let a = start_openssl(&pki.good_leaf(), TlsVersion::Any);
    let dir = tempdir();
    let targets = write_targets(dir.path(), &format!("{0}\n{0}\n", a.connect_arg()));
    let run = check(
        TEST_NAME,
        &[a.connect_arg()],
        &[
            "--targets",
            &arg(&targets),
            "--ca-file",
            &arg(&pki.ca_file),
            "--json",
        ],
    );
    run.assert_code(health::OK);
    let report = run.stdout_json();
    assert_eq!(
        json_endpoint_count(json_certificate(&report, TEST_NAME)),
        1,
        "{}",
        run.describe()
    );
}

#[test]
fn a_missing_targets_file_is_unknown() {
    let dir = tempdir();
    let missing = dir.path().join("no-such-targets.txt");
    let run = check(TEST_NAME, &[], &["--targets", &arg(&missing), "--insecure"]);
    run.assert_error(health::UNKNOWN, &["targets", "no such file"]);
}

#[test]
fn a_bad_address_in_the_targets_file_is_unknown() {
    let dir = tempdir();
    let targets = write_targets(dir.path(), "127.0.0.1:99999\n");
    let run = check(TEST_NAME, &[], &["--targets", &arg(&targets), "--insecure"]);
    run.assert_code(health::UNKNOWN).assert_one_line_error();
}

#[test]
fn check_without_a_name_is_a_usage_error_answered_unknown() {
    let run = certpull(["check", "--connect", "127.0.0.1:1"]);
    run.assert_code(health::UNKNOWN)
        .assert_one_line_error()
        .assert_no_stdout();
}

#[test]
fn check_with_an_unknown_option_is_unknown() {
    let run = certpull(["check", TEST_NAME, "--no-such-option"]);
    run.assert_code(health::UNKNOWN).assert_one_line_error();
}

#[test]
fn check_with_concurrency_zero_is_unknown() {
    let run = certpull([
        "check",
        TEST_NAME,
        "--connect",
        "127.0.0.1:1",
        "--concurrency",
        "0",
    ]);
    run.assert_code(health::UNKNOWN).assert_one_line_error();
}
