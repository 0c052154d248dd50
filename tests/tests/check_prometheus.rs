//! `certpull check --prometheus FILE`: the node_exporter textfile, read back with a real
//! parser (the `prometheus-parse` crate; also `promtool check metrics` when installed), holds the
//! audit's values, and is replaced atomically with no staged file left behind.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use certpull_tests::cli::dir_entries;
use certpull_tests::fleet::{arg, check, days_left, health, not_after_unix};
use certpull_tests::hostile::refused_addr;
use certpull_tests::{start_nginx, tempdir, Run, ServerCert, TestPki, TlsVersion, TEST_NAME};
use prometheus_parse::{Sample, Scrape, Value};

/// The file parsed by `prometheus-parse`, strictly: that crate skips lines it cannot read, so
/// every line that is neither blank nor a comment must have become a sample, and every sample's
/// family must have `# HELP` and `# TYPE gauge`.
#[track_caller]
fn parse(path: &Path, run: &Run) -> Scrape {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}\n{}", path.display(), run.describe()));
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("the metrics do not parse: {e}\n{text}"));
    let sample_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines,
        "every sample line parses\n{text}"
    );
    for sample in &scrape.samples {
        assert!(
            matches!(sample.value, Value::Gauge(_)),
            "{} is typed gauge\n{text}",
            sample.metric
        );
        assert!(
            scrape.docs.contains_key(&sample.metric),
            "{} has # HELP\n{text}",
            sample.metric
        );
    }
    promtool_accepts(path, &text);
    scrape
}

/// `promtool check metrics` (Debian's `prometheus` package), when it is installed.
fn promtool_accepts(path: &Path, text: &str) {
    let Ok(file) = fs::File::open(path) else {
        return;
    };
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::from(file))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check metrics: {}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("promtool not installed: checked with prometheus-parse only"),
    }
}

/// The samples of `metric` whose labels include `labels`.
fn samples<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The value of the one sample of `metric` with `labels`.
#[track_caller]
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = samples(scrape, metric, labels);
    assert!(
        found.len() == 1,
        "exactly one {metric} with {labels:?}, found {found:?}"
    );
    match found[0].value {
        Value::Gauge(v) | Value::Untyped(v) | Value::Counter(v) => v,
        ref other => panic!("{metric}: unexpected value {other:?}"),
    }
}

fn old_and_new(pki: &TestPki) -> (ServerCert, ServerCert) {
    let base = pki.good_leaf();
    (pki.renewal(&base, 20), pki.renewal(&base, 89))
}

fn now() -> f64 {
    time::OffsetDateTime::now_utc().unix_timestamp() as f64
}

#[test]
fn prometheus_file_parses_and_holds_up_days_left_drift_and_health() {
    let pki = TestPki::new();
    let (old, new) = old_and_new(&pki);
    let old_server = start_nginx(&old, TlsVersion::Any);
    let new_server = start_nginx(&new, TlsVersion::Any);
    let refused = refused_addr().to_string();
    let dir = tempdir();
    let file = dir.path().join("certpull.prom");
    let started = now();
    let run = check(
        TEST_NAME,
        &[
            old_server.connect_arg(),
            new_server.connect_arg(),
            refused.clone(),
        ],
        &[
            "--ca-file",
            &arg(&pki.ca_file),
            "--timeout",
            "2s",
            "--prometheus",
            &arg(&file),
        ],
    );
    run.assert_code(health::CRITICAL);
    let m = parse(&file, &run);
    let name = ("name", TEST_NAME);
    let old_addr = old_server.connect_arg();
    let new_addr = new_server.connect_arg();
    for (endpoint, up) in [(&old_addr, 1.0), (&new_addr, 1.0), (&refused, 0.0)] {
        assert_eq!(
            value(&m, "certpull_endpoint_up", &[name, ("endpoint", endpoint)]),
            up,
            "certpull_endpoint_up for {endpoint}"
        );
    }
    for (endpoint, cert) in [(&old_addr, &old), (&new_addr, &new)] {
        let days = value(
            &m,
            "certpull_cert_days_left",
            &[name, ("endpoint", endpoint)],
        );
        assert!(
            (days - days_left(cert) as f64).abs() <= 1.0,
            "certpull_cert_days_left for {endpoint}: {days}, expected {}",
            days_left(cert)
        );
        assert_eq!(
            value(
                &m,
                "certpull_cert_not_after_timestamp_seconds",
                &[name, ("endpoint", endpoint)]
            ),
            not_after_unix(cert) as f64,
            "notAfter of {endpoint}"
        );
        assert_eq!(
            value(&m, "certpull_cert_valid", &[name, ("endpoint", endpoint)]),
            1.0
        );
    }
    assert!(
        samples(&m, "certpull_cert_days_left", &[("endpoint", &refused)]).is_empty(),
        "no days_left for an endpoint that sent no leaf"
    );
    assert_eq!(value(&m, "certpull_distinct_leaves", &[name]), 2.0);
    assert_eq!(value(&m, "certpull_endpoints_behind", &[name]), 1.0);
    assert_eq!(value(&m, "certpull_health", &[name]), 2.0);
    let last_run = value(&m, "certpull_check_last_run_timestamp_seconds", &[]);
    assert!(
        last_run >= started - 1.0 && last_run <= now() + 1.0,
        "last run {last_run} is now"
    );
    assert!(
        samples(&m, "certpull_check_last_success_timestamp_seconds", &[name]).is_empty(),
        "no last success while an endpoint failed"
    );
    let duration = value(&m, "certpull_check_duration_seconds", &[]);
    assert!((0.0..10.0).contains(&duration), "duration {duration}");
}

#[test]
fn prometheus_file_of_an_agreeing_fleet_has_health_0_and_a_last_success() {
    let pki = TestPki::new();
    let leaf = pki.good_leaf();
    let a = start_nginx(&leaf, TlsVersion::Any);
    let b = start_nginx(&leaf, TlsVersion::Any);
    let dir = tempdir();
    let file = dir.path().join("certpull.prom");
    let run = check(
        TEST_NAME,
        &[a.connect_arg(), b.connect_arg()],
        &["--ca-file", &arg(&pki.ca_file), "--prometheus", &arg(&file)],
    );
    run.assert_code(health::OK);
    let m = parse(&file, &run);
    let name = ("name", TEST_NAME);
    assert_eq!(value(&m, "certpull_distinct_leaves", &[name]), 1.0);
    assert_eq!(value(&m, "certpull_endpoints_behind", &[name]), 0.0);
    assert_eq!(value(&m, "certpull_health", &[name]), 0.0);
    assert_eq!(samples(&m, "certpull_endpoint_up", &[name]).len(), 2);
    let last_success = value(&m, "certpull_check_last_success_timestamp_seconds", &[name]);
    assert!((last_success - now()).abs() <= 5.0, "{last_success}");
}

#[test]
fn prometheus_file_is_replaced_atomically_and_no_staged_file_is_left() {
    let pki = TestPki::new();
    let server = start_nginx(&pki.good_leaf(), TlsVersion::Any);
    let dir = tempdir();
    let file = dir.path().join("certpull.prom");
    let before = "# an old scrape\ncertpull_health{name=\"www.certpull.test\"} 3\n";
    fs::write(&file, before).unwrap();
    // A second name for the old file: an in-place rewrite would change what it reads; a rename
    // over the old name leaves it alone.
    let old_link = dir.path().join("old-link");
    fs::hard_link(&file, &old_link).unwrap();
    for _ in 0..2 {
        let run = check(
            TEST_NAME,
            &[server.connect_arg()],
            &["--ca-file", &arg(&pki.ca_file), "--prometheus", &arg(&file)],
        );
        run.assert_code(health::OK);
        assert_eq!(
            dir_entries(dir.path()),
            ["certpull.prom", "old-link"],
            "nothing but the metrics file (and our link) in the directory\n{}",
            run.describe()
        );
        assert_eq!(
            fs::read_to_string(&old_link).unwrap(),
            before,
            "the old file was not rewritten in place\n{}",
            run.describe()
        );
        let m = parse(&file, &run);
        assert_eq!(value(&m, "certpull_health", &[("name", TEST_NAME)]), 0.0);
    }
}

#[test]
fn an_unwritable_prometheus_file_is_unknown() {
    let pki = TestPki::new();
    let server = start_nginx(&pki.good_leaf(), TlsVersion::Any);
    let dir = tempdir();
    let file = dir.path().join("no-such-dir").join("certpull.prom");
    let run = check(
        TEST_NAME,
        &[server.connect_arg()],
        &["--ca-file", &arg(&pki.ca_file), "--prometheus", &arg(&file)],
    );
    run.assert_code(health::UNKNOWN).assert_one_line_error();
    assert!(dir_entries(dir.path()).is_empty(), "{}", run.describe());
}
