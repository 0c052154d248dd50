//! Shared expectations about successful fetches: what must be printed and written.

use std::path::Path;

use serde_json::Value;
use time::OffsetDateTime;

use crate::chain::{
    assert_same_chain, fingerprint_matches, pem_file_to_ders, pem_to_ders, sha256_hex,
};
use crate::cli::{fetch, Run};
use crate::pki::{ServerCert, INTERMEDIATE_CN};
use crate::servers::TlsVersion;

/// `certpull fetch NAME --connect ADDR --ca-file ca.pem` prints exactly the served chain as
/// PEM, leaf first, and nothing on stderr.
#[track_caller]
pub fn pem_stdout_is_served_chain(connect: &str, cert: &ServerCert) -> Run {
    let ca = cert.ca.to_string_lossy().into_owned();
    let run = fetch(&cert.name, connect, &["--ca-file", &ca, "--timeout", "10s"]);
    run.assert_ok_quiet_stderr();
    assert!(
        run.stdout.starts_with("-----BEGIN CERTIFICATE-----"),
        "stdout should start with a PEM certificate\n{}",
        run.describe()
    );
    assert_same_chain(&run.stdout_chain(), &cert.served, "PEM on stdout");
    run
}

/// `--json` parses and describes the connection and every served certificate.
#[track_caller]
pub fn json_report_is_complete(connect: &str, cert: &ServerCert, version: TlsVersion) -> Value {
    let ca = cert.ca.to_string_lossy().into_owned();
    let run = fetch(&cert.name, connect, &["--ca-file", &ca, "--json"]);
    run.assert_ok_quiet_stderr();
    let v = run.stdout_json();
    let ctx = run.describe();
    let s = |v: &Value, k: &str| -> String {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("JSON field {k:?} should be a string in {v}\n{ctx}"))
            .to_string()
    };

    assert_eq!(s(&v, "name"), cert.name, "name\n{ctx}");
    let port = connect.rsplit(':').next().expect("port");
    assert!(
        s(&v, "address").contains(port),
        "address should name the port {port}\n{ctx}"
    );
    let proto = s(&v, "protocol_version");
    match version.json_name() {
        Some(expected) => assert_eq!(proto, expected, "protocol_version\n{ctx}"),
        None => assert!(
            proto == "TLSv1.2" || proto == "TLSv1.3",
            "protocol_version\n{ctx}"
        ),
    }
    assert!(!s(&v, "cipher_suite").is_empty(), "cipher_suite\n{ctx}");
    assert_eq!(s(&v, "verdict"), "valid", "verdict\n{ctx}");

    let chain = v
        .get("chain")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("\"chain\" should be an array\n{ctx}"));
    assert_eq!(chain.len(), cert.served.len(), "chain length\n{ctx}");
    for (i, (c, der)) in chain.iter().zip(&cert.served).enumerate() {
        let pem = s(c, "pem");
        assert_same_chain(
            &pem_to_ders(&pem),
            std::slice::from_ref(der),
            &format!("chain[{i}].pem"),
        );
        assert!(
            fingerprint_matches(&s(c, "sha256"), &sha256_hex(der)),
            "chain[{i}].sha256 should be {}\n{ctx}",
            sha256_hex(der)
        );
        assert!(
            fingerprint_matches(&s(c, "spki_sha256"), &cert.spki_sha256[i]),
            "chain[{i}].spki_sha256 should be {}\n{ctx}",
            cert.spki_sha256[i]
        );
        assert_eq!(
            c.get("is_ca").and_then(Value::as_bool),
            Some(i > 0),
            "chain[{i}].is_ca\n{ctx}"
        );
        assert!(!s(c, "serial").is_empty(), "chain[{i}].serial\n{ctx}");
        assert!(
            !s(c, "not_before").is_empty(),
            "chain[{i}].not_before\n{ctx}"
        );
        assert!(!s(c, "not_after").is_empty(), "chain[{i}].not_after\n{ctx}");
        assert!(
            c.get("days_left").is_some_and(Value::is_number),
            "chain[{i}].days_left should be a number\n{ctx}"
        );
        for k in ["dns_names", "ip_addresses"] {
            assert!(
                c.get(k).is_some_and(Value::is_array),
                "chain[{i}].{k} should be an array\n{ctx}"
            );
        }
    }

    let leaf = &chain[0];
    assert!(
        s(leaf, "subject").contains(&cert.name),
        "leaf subject\n{ctx}"
    );
    if cert.served.len() > 1 {
        assert!(
            s(leaf, "issuer").contains(INTERMEDIATE_CN),
            "leaf issuer\n{ctx}"
        );
        assert!(
            s(&chain[1], "subject").contains(INTERMEDIATE_CN),
            "intermediate subject\n{ctx}"
        );
    }
    let dns: Vec<&str> = leaf["dns_names"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(dns.contains(&cert.name.as_str()), "leaf dns_names\n{ctx}");
    let days = leaf["days_left"].as_f64().expect("number");
    let expected = (cert.not_after - OffsetDateTime::now_utc()).whole_days() as f64;
    assert!(
        (days - expected).abs() <= 1.0,
        "leaf days_left {days}, expected about {expected}\n{ctx}"
    );
    v
}

/// `--out-dir DIR` writes `cert.pem`, `chain.pem`, `fullchain.pem` equal to the served chain
/// and prints nothing.
#[track_caller]
pub fn out_dir_holds_served_chain(connect: &str, cert: &ServerCert, dir: &Path) -> Run {
    let ca = cert.ca.to_string_lossy().into_owned();
    let out = dir.to_string_lossy().into_owned();
    let run = fetch(&cert.name, connect, &["--ca-file", &ca, "--out-dir", &out]);
    run.assert_ok_quiet_stderr().assert_no_stdout();
    assert_files_hold_served_chain(dir, cert);
    run
}

/// `cert.pem`, `chain.pem` and `fullchain.pem` in `dir` hold the served chain.
#[track_caller]
pub fn assert_files_hold_served_chain(dir: &Path, cert: &ServerCert) {
    assert_same_chain(
        &pem_file_to_ders(&dir.join("cert.pem")),
        &cert.served[..1],
        "cert.pem",
    );
    assert_same_chain(
        &pem_file_to_ders(&dir.join("chain.pem")),
        &cert.served[1..],
        "chain.pem",
    );
    assert_same_chain(
        &pem_file_to_ders(&dir.join("fullchain.pem")),
        &cert.served,
        "fullchain.pem",
    );
}
