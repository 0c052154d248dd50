//! `certpull check --config FILE`: every certificate of a sync configuration is checked
//! against its sources, and its installed files appear as a `local:DIR` row, BEHIND when the
//! fleet serves a renewal the follower has not installed yet.

use std::fs;
use std::path::{Path, PathBuf};

use certpull_tests::fleet::{
    arg, assert_status, health, json_certificate, json_endpoint, json_endpoint_count, row_state,
    status_line, table_row,
};
use certpull_tests::sync::Scenario;
use certpull_tests::{certpull, sha256_hex, start_nginx, tempdir, Run, TlsVersion, TEST_NAME};

const API_NAME: &str = "api.certpull.test";

/// A `[[certificate]]` table for `scenario`, pulled from `from`, installed in its out_dir.
fn entry(scenario: &Scenario, from: &[String]) -> String {
    let from: Vec<String> = from.iter().map(|f| format!("{f:?}")).collect();
    format!(
        "[[certificate]]\nname = {:?}\nfrom = [{}]\nkey = {:?}\nout_dir = {:?}\nca_file = [{:?}]\n\n",
        scenario.installed.name,
        from.join(", "),
        arg(&scenario.installed.key),
        arg(scenario.out_dir()),
        arg(&scenario.pki.ca_file),
    )
}

fn write_config(dir: &Path, entries: &[String]) -> PathBuf {
    let path = dir.join("certpull.toml");
    fs::write(&path, format!("timeout = \"2s\"\n\n{}", entries.concat())).expect("write config");
    path
}

fn check_config(config: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["check".to_string(), "--config".into(), arg(config)];
    args.extend(extra.iter().map(|s| s.to_string()));
    certpull(args)
}

fn local_label(scenario: &Scenario) -> String {
    format!("local:{}", scenario.out_dir().display())
}

#[test]
fn installed_files_are_a_local_row_behind_a_renewed_fleet() {
    let www = Scenario::new();
    let server = start_nginx(&www.renewed, TlsVersion::Any);
    let dir = tempdir();
    let config = write_config(dir.path(), &[entry(&www, &[server.connect_arg()])]);
    let run = check_config(&config, &[]);
    run.assert_code(health::WARNING);
    assert_status(&run, "WARNING", TEST_NAME);
    assert_eq!(
        row_state(table_row(&run, &local_label(&www))),
        "BEHIND",
        "{}",
        run.describe()
    );
    assert_eq!(
        row_state(table_row(&run, &server.connect_arg())),
        "current",
        "{}",
        run.describe()
    );
}

#[test]
fn installed_files_in_json_carry_the_installed_leaf_and_are_behind() {
    let www = Scenario::new();
    let server = start_nginx(&www.renewed, TlsVersion::Any);
    let dir = tempdir();
    let config = write_config(dir.path(), &[entry(&www, &[server.connect_arg()])]);
    let run = check_config(&config, &["--json"]);
    run.assert_code(health::WARNING);
    let report = run.stdout_json();
    let ctx = run.describe();
    let cert = json_certificate(&report, TEST_NAME);
    assert_eq!(cert["distinct_leaves"], 2, "{ctx}");
    assert_eq!(cert["behind"], 1, "{ctx}");
    assert_eq!(json_endpoint_count(cert), 2, "{ctx}");
    let local = json_endpoint(cert, &local_label(&www));
    assert_eq!(local["state"], "behind", "{ctx}");
    assert_eq!(
        local["sha256"].as_str(),
        Some(sha256_hex(www.installed.leaf_der()).as_str()),
        "{ctx}"
    );
    let remote = json_endpoint(cert, &server.connect_arg());
    assert_eq!(remote["state"], "current", "{ctx}");
    assert_eq!(
        remote["sha256"].as_str(),
        Some(sha256_hex(www.renewed.leaf_der()).as_str()),
        "{ctx}"
    );
}

#[test]
fn installed_files_that_match_the_fleet_are_current_and_ok() {
    let www = Scenario::new();
    let server = start_nginx(&www.installed, TlsVersion::Any);
    let dir = tempdir();
    let config = write_config(dir.path(), &[entry(&www, &[server.connect_arg()])]);
    let run = check_config(&config, &[]);
    run.assert_code(health::OK);
    assert_status(&run, "OK", TEST_NAME);
    assert_eq!(
        row_state(table_row(&run, &local_label(&www))),
        "current",
        "{}",
        run.describe()
    );
}

#[test]
fn every_certificate_of_the_config_is_checked_and_the_worst_wins() {
    let www = Scenario::new();
    let api = Scenario::named(API_NAME);
    let www_server = start_nginx(&www.installed, TlsVersion::Any);
    let api_server = start_nginx(&api.renewed, TlsVersion::Any);
    let dir = tempdir();
    let config = write_config(
        dir.path(),
        &[
            entry(&www, &[www_server.connect_arg()]),
            entry(&api, &[api_server.connect_arg()]),
        ],
    );
    let run = check_config(&config, &["--json"]);
    run.assert_code(health::WARNING);
    let report = run.stdout_json();
    let ctx = run.describe();
    assert_eq!(report["status"], "WARNING", "{ctx}");
    assert_eq!(
        json_certificate(&report, TEST_NAME)["health"],
        "OK",
        "{ctx}"
    );
    assert_eq!(json_certificate(&report, TEST_NAME)["behind"], 0, "{ctx}");
    assert_eq!(
        json_certificate(&report, API_NAME)["health"],
        "WARNING",
        "{ctx}"
    );
    assert_eq!(json_certificate(&report, API_NAME)["behind"], 1, "{ctx}");
}

#[test]
fn the_status_line_names_every_certificate_of_the_config() {
    let www = Scenario::new();
    let api = Scenario::named(API_NAME);
    let www_server = start_nginx(&www.installed, TlsVersion::Any);
    let api_server = start_nginx(&api.renewed, TlsVersion::Any);
    let dir = tempdir();
    let config = write_config(
        dir.path(),
        &[
            entry(&www, &[www_server.connect_arg()]),
            entry(&api, &[api_server.connect_arg()]),
        ],
    );
    let run = check_config(&config, &[]);
    run.assert_code(health::WARNING);
    let line = status_line(&run);
    assert!(
        line.starts_with("WARNING: ")
            && line.contains(&format!("{TEST_NAME}: "))
            && line.contains(&format!("{API_NAME}: ")),
        "{}",
        run.describe()
    );
}

#[test]
fn config_with_connect_is_a_usage_error_answered_unknown() {
    let www = Scenario::new();
    let dir = tempdir();
    let config = write_config(dir.path(), &[entry(&www, &["127.0.0.1:1".into()])]);
    let run = check_config(&config, &["--connect", "127.0.0.1:2"]);
    run.assert_code(health::UNKNOWN).assert_one_line_error();
}
