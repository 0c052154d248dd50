//! `certpull sync --json`: one JSON document on stdout that names each certificate's result,
//! the chain chosen, and what every source gave.

use certpull_tests::cli::exit;
use certpull_tests::hostile::refused_addr;
use certpull_tests::sync::{leaf_sha256, rfc3339_seconds, Scenario};
use certpull_tests::{start_openssl, Run, TlsVersion, TEST_NAME};
use serde_json::Value;

/// The report of the only certificate.
#[track_caller]
fn only_certificate(run: &Run) -> Value {
    let v = run.stdout_json();
    let certs = v["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("\"certificates\" should be an array\n{}", run.describe()));
    assert_eq!(certs.len(), 1, "{}", run.describe());
    assert_eq!(certs[0]["name"], TEST_NAME, "{}", run.describe());
    certs[0].clone()
}

#[test]
fn json_install_names_result_reason_source_chain_and_sources() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).args(["--json"]).run();
    run.assert_ok_quiet_stderr();
    let c = only_certificate(&run);
    let ctx = run.describe();
    assert_eq!(c["result"], "installed", "{ctx}");
    assert_eq!(c["reason"], "renewed", "{ctx}");
    assert_eq!(c["source"], server.connect_arg().as_str(), "{ctx}");
    assert_eq!(c["sha256"], leaf_sha256(&s.renewed).as_str(), "{ctx}");
    assert_eq!(
        c["not_after"],
        rfc3339_seconds(s.renewed.not_after).as_str(),
        "{ctx}"
    );
    assert_eq!(c["key_reference"], "key-file", "{ctx}");
    assert_eq!(c["hook"]["status"], 0, "{ctx}");
    assert!(c.get("error").is_none(), "{ctx}");
    let sources = c["sources"].as_array().expect("sources array");
    assert_eq!(sources.len(), 1, "{ctx}");
    assert_eq!(
        sources[0]["address"],
        server.connect_arg().as_str(),
        "{ctx}"
    );
    assert_eq!(sources[0]["status"], "installable", "{ctx}");
    assert_eq!(
        sources[0]["sha256"],
        leaf_sha256(&s.renewed).as_str(),
        "{ctx}"
    );
    assert!(sources[0]["days_left"].is_number(), "{ctx}");
}

#[test]
fn json_up_to_date_run_reports_up_to_date_and_writes_nothing() {
    let s = Scenario::new();
    let server = start_openssl(&s.installed, TlsVersion::Any);
    let before = s.snapshot();
    let run = s
        .sync(server.connect_arg())
        .without("--key")
        .args(["--json"])
        .run();
    run.assert_ok_quiet_stderr();
    let c = only_certificate(&run);
    assert_eq!(c["result"], "up-to-date", "{}", run.describe());
    assert_eq!(c["key_reference"], "installed-leaf", "{}", run.describe());
    assert_eq!(
        c["sources"][0]["status"],
        "up-to-date",
        "{}",
        run.describe()
    );
    before.assert_unchanged(&run);
    s.hook.assert_not_run(&run);
}

#[test]
fn json_failure_names_the_error_and_the_exit_code_it_exits_with() {
    let s = Scenario::new();
    let down = refused_addr().to_string();
    let before = s.snapshot();
    let run = s.sync(&down).args(["--json"]).timeout("2s").run();
    run.assert_code(exit::NETWORK);
    let c = only_certificate(&run);
    let ctx = run.describe();
    assert_eq!(c["result"], "failed", "{ctx}");
    assert_eq!(c["exit_code"], exit::NETWORK, "{ctx}");
    assert!(
        c["error"].as_str().is_some_and(|e| e.contains("refused")),
        "{ctx}"
    );
    assert_eq!(c["sources"][0]["address"], down.as_str(), "{ctx}");
    assert_eq!(c["sources"][0]["status"], "error", "{ctx}");
    before.assert_unchanged(&run);
}

#[test]
fn json_refusal_names_the_refusal_code() {
    let s = Scenario::new();
    let older = s.pki.renewal(&s.installed, 10);
    let server = start_openssl(&older, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).args(["--json"]).run();
    run.assert_code(exit::REFUSED);
    let c = only_certificate(&run);
    let ctx = run.describe();
    assert_eq!(c["result"], "failed", "{ctx}");
    assert_eq!(c["exit_code"], exit::REFUSED, "{ctx}");
    assert_eq!(c["sources"][0]["status"], "refused", "{ctx}");
    assert!(
        c["sources"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("downgrade-expiry")),
        "{ctx}"
    );
}

#[test]
fn json_keeps_stdout_clean_of_hook_output() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(server.connect_arg())
        .without("--deploy-hook")
        .hook("echo reloading; echo warn >&2")
        .args(["--json"])
        .run();
    run.assert_code(exit::OK);
    let c = only_certificate(&run);
    assert_eq!(c["hook"]["status"], 0, "{}", run.describe());
    assert!(
        run.stderr.contains("reloading"),
        "the hook's stdout goes to stderr\n{}",
        run.describe()
    );
}
