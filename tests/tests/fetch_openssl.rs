//! `certpull fetch` against a real `openssl s_server`: the chain comes out exactly as served,
//! over TLS 1.2 and 1.3, for ECDSA P-256, RSA-2048 and Ed25519 leaves.

use certpull_tests::expect::{
    json_report_is_complete, out_dir_holds_served_chain, pem_stdout_is_served_chain,
};
use certpull_tests::{
    assert_same_chain, fetch, pem_file_to_ders, start_openssl, tempdir, KeyKind, LeafVariant,
    TestPki, TlsVersion, TEST_NAME,
};

/// Start s_server with a good leaf of `key`, forcing `version`; check PEM and JSON output.
fn chain_is_fetched_as_served(key: KeyKind, version: TlsVersion) {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, key, LeafVariant::Good);
    let server = start_openssl(&cert, version);
    pem_stdout_is_served_chain(&server.connect_arg(), &cert);
    json_report_is_complete(&server.connect_arg(), &cert, version);
}

macro_rules! matrix {
    ($($test:ident: $key:ident, $version:ident;)*) => {$(
        #[test]
        fn $test() {
            chain_is_fetched_as_served(KeyKind::$key, TlsVersion::$version);
        }
    )*};
}

matrix! {
    tls12_ecdsa_p256_chain_is_printed_as_served_and_reported_valid: EcdsaP256, Tls12;
    tls13_ecdsa_p256_chain_is_printed_as_served_and_reported_valid: EcdsaP256, Tls13;
    tls12_rsa2048_chain_is_printed_as_served_and_reported_valid: Rsa2048, Tls12;
    tls13_rsa2048_chain_is_printed_as_served_and_reported_valid: Rsa2048, Tls13;
    tls12_ed25519_chain_is_printed_as_served_and_reported_valid: Ed25519, Tls12;
    tls13_ed25519_chain_is_printed_as_served_and_reported_valid: Ed25519, Tls13;
}

#[test]
fn tls13_is_negotiated_when_the_server_offers_both_versions() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let v = json_report_is_complete(&server.connect_arg(), &cert, TlsVersion::Any);
    assert_eq!(v["protocol_version"], "TLSv1.3", "{v}");
}

#[test]
fn out_dir_receives_cert_chain_and_fullchain_and_nothing_is_printed() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Tls13);
    let dir = tempdir();
    out_dir_holds_served_chain(&server.connect_arg(), &cert, dir.path());
    assert_eq!(
        certpull_tests::cli::dir_entries(dir.path()),
        ["cert.pem", "chain.pem", "fullchain.pem"],
        "exactly the three files"
    );
}

#[test]
fn cert_chain_and_fullchain_options_write_exactly_the_requested_paths() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Tls12);
    let ca = cert.ca.to_string_lossy().into_owned();

    // All three, at arbitrary names.
    let dir = tempdir();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &[
            "--ca-file",
            &ca,
            "--cert",
            &p("leaf.crt"),
            "--chain",
            &p("intermediates.crt"),
            "--fullchain",
            &p("full.crt"),
        ],
    );
    run.assert_ok_quiet_stderr().assert_no_stdout();
    assert_same_chain(
        &pem_file_to_ders(dir.path().join("leaf.crt").as_path()),
        &cert.served[..1],
        "--cert",
    );
    assert_same_chain(
        &pem_file_to_ders(dir.path().join("intermediates.crt").as_path()),
        &cert.served[1..],
        "--chain",
    );
    assert_same_chain(
        &pem_file_to_ders(dir.path().join("full.crt").as_path()),
        &cert.served,
        "--fullchain",
    );

    // Only --fullchain: nothing else appears.
    let dir = tempdir();
    let full = dir.path().join("fullchain.pem");
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &["--ca-file", &ca, "--fullchain", &full.to_string_lossy()],
    );
    run.assert_ok_quiet_stderr().assert_no_stdout();
    assert_same_chain(&pem_file_to_ders(&full), &cert.served, "--fullchain alone");
    assert_eq!(
        certpull_tests::cli::dir_entries(dir.path()),
        ["fullchain.pem"]
    );
}

#[test]
fn existing_output_files_are_replaced_by_the_fetched_chain() {
    let pki = TestPki::new();
    let old = pki.good_leaf();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let dir = tempdir();
    for (name, content) in [
        ("cert.pem", std::fs::read_to_string(&old.cert).unwrap()),
        ("chain.pem", std::fs::read_to_string(&old.chain).unwrap()),
        ("fullchain.pem", old.fullchain_pem.clone()),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    out_dir_holds_served_chain(&server.connect_arg(), &cert, dir.path());
}

#[test]
fn summary_is_a_readable_table_naming_the_leaf_and_not_pem() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let ca = cert.ca.to_string_lossy().into_owned();
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &["--ca-file", &ca, "--summary"],
    );
    run.assert_ok_quiet_stderr();
    assert!(run.stdout.contains(TEST_NAME), "{}", run.describe());
    assert!(
        run.stdout.contains(certpull_tests::pki::INTERMEDIATE_CN),
        "the summary should show the intermediate too\n{}",
        run.describe()
    );
    assert!(!run.stdout.contains("-----BEGIN"), "{}", run.describe());
    assert!(run.stdout.lines().count() >= 2, "{}", run.describe());
}

#[test]
fn json_lists_the_leaf_ip_addresses() {
    let pki = TestPki::new();
    let cert = pki.leaf_with_sans(
        &[TEST_NAME, "127.0.0.1", "::1"],
        KeyKind::EcdsaP256,
        LeafVariant::Good,
    );
    let server = start_openssl(&cert, TlsVersion::Any);
    let v = json_report_is_complete(&server.connect_arg(), &cert, TlsVersion::Any);
    let ips: Vec<String> = v["chain"][0]["ip_addresses"]
        .as_array()
        .expect("ip_addresses array")
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect();
    assert!(ips.contains(&"127.0.0.1".to_string()), "{v}");
    assert!(
        ips.iter()
            .any(|ip| ip.parse() == Ok(std::net::Ipv6Addr::LOCALHOST)),
        "{v}"
    );
}

#[test]
fn ca_file_is_repeatable_and_any_listed_root_anchors_the_chain() {
    let pki = TestPki::new();
    let unrelated = TestPki::with_root_name("unrelated root");
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let a = unrelated.ca_file.to_string_lossy().into_owned();
    let b = cert.ca.to_string_lossy().into_owned();
    let run = fetch(
        TEST_NAME,
        &server.connect_arg(),
        &["--ca-file", &a, "--ca-file", &b],
    );
    run.assert_ok_quiet_stderr();
    assert_same_chain(&run.stdout_chain(), &cert.served, "stdout");
}
