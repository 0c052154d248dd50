//! The proxy-wasm filter (`certpull-proxy.wasm`) in a minimal proxy-wasm 0.2.1 host on
//! wasmtime, fed real TLS 1.2 and 1.3 traffic recorded by these tests through a relay between a
//! real client and a real `openssl s_server`.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use certpull_tests::wasmhost::{self, Flow, ProxyHost};
use certpull_tests::{fetch, start_openssl, KeyKind, LeafVariant, ServerCert, TestPki, TlsVersion};

const SNI: &str = "www.certpull.test";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn filter(config: &str) -> ProxyHost {
    let module = wasmhost::load(&wasmhost::modules().proxy);
    ProxyHost::new(&module, config.as_bytes(), now()).expect("filter starts")
}

/// One real connection from the native `certpull fetch` to s_server, as recorded by the relay.
fn record_certpull(server: SocketAddr, cert: &ServerCert) -> Vec<(Flow, Vec<u8>)> {
    let ca = cert.ca.to_string_lossy().into_owned();
    let recording = wasmhost::record_through_relay(server, |relay| {
        fetch(&cert.name, &relay.to_string(), &["--ca-file", &ca]).assert_ok_quiet_stderr();
    });
    assert!(recording.iter().any(|(f, _)| *f == Flow::ClientToServer));
    assert!(recording.iter().any(|(f, _)| *f == Flow::ServerToClient));
    recording
}

/// A real connection of certpull to `openssl s_server`, recorded; the PKI is returned so that
/// the certificate's files outlive the capture.
fn capture(key: KeyKind, version: TlsVersion) -> (TestPki, ServerCert, Vec<(Flow, Vec<u8>)>) {
    let pki = TestPki::new();
    let cert = pki.leaf(SNI, key, LeafVariant::Good);
    let server = start_openssl(&cert, version);
    let recording = record_certpull(server.addr, &cert);
    (pki, cert, recording)
}

#[track_caller]
fn all_continue(actions: &[i32]) {
    assert!(
        actions.iter().all(|a| *a == 0),
        "every callback answers Continue: {actions:?}"
    );
}

#[track_caller]
fn clean(host: &ProxyHost) {
    assert!(
        host.state().unimplemented_calls.is_empty(),
        "{:?}",
        host.state().unimplemented_calls
    );
    let errors: Vec<_> = host
        .metrics()
        .into_iter()
        .filter(|(name, _)| name.starts_with("certpull.parse_errors"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

fn days_left(cert: &ServerCert) -> u64 {
    let left = cert.not_after.unix_timestamp() - now() as i64;
    left.div_euclid(86_400) as u64
}

#[test]
fn tls12_traffic_gives_sni_version_days_left_and_one_fingerprint() {
    let (_pki, cert, recording) = capture(KeyKind::EcdsaP256, TlsVersion::Tls12);
    let mut host = filter(&cert.cert_pem());
    all_continue(&host.replay(&recording).unwrap());
    let m = host.metrics();
    assert_eq!(
        m[&format!("certpull.handshakes;sni={SNI};version=TLSv1.2")],
        1,
        "{m:#?}"
    );
    assert_eq!(
        m[&format!("certpull.leaf_days_left;sni={SNI}")],
        days_left(&cert)
    );
    assert_eq!(m[&format!("certpull.leaf_fingerprints;sni={SNI}")], 1);
    assert_eq!(m[&format!("certpull.leaf_mismatches;sni={SNI}")], 0);
    clean(&host);

    // The same leaf again: one more handshake, still one fingerprint.
    all_continue(&host.replay(&recording).unwrap());
    let m = host.metrics();
    assert_eq!(
        m[&format!("certpull.handshakes;sni={SNI};version=TLSv1.2")],
        2
    );
    assert_eq!(m[&format!("certpull.leaf_fingerprints;sni={SNI}")], 1);
    assert_eq!(m[&format!("certpull.leaf_mismatches;sni={SNI}")], 0);
    assert!(
        host.state()
            .logs
            .iter()
            .any(|(_, l)| l.contains("1 expected leaves")),
        "{:?}",
        host.state().logs
    );
}

#[test]
fn tls13_traffic_gives_sni_and_version_only() {
    let (_pki, cert, recording) = capture(KeyKind::Rsa2048, TlsVersion::Tls13);
    let mut host = filter(&cert.cert_pem());
    all_continue(&host.replay(&recording).unwrap());
    let m = host.metrics();
    assert_eq!(
        m[&format!("certpull.handshakes;sni={SNI};version=TLSv1.3")],
        1,
        "{m:#?}"
    );
    assert!(
        !m.keys().any(|k| k.starts_with("certpull.leaf_")),
        "TLS 1.3 encrypts the certificate: {m:#?}"
    );
    clean(&host);
}

#[test]
fn a_second_leaf_shows_as_two_fingerprints_and_one_mismatch() {
    let pki = TestPki::new();
    let expected = pki.leaf(SNI, KeyKind::EcdsaP256, LeafVariant::Good);
    let stale = pki.renewal(&expected, 10);
    let recordings: Vec<_> = [&expected, &stale]
        .into_iter()
        .map(|cert| {
            let server = start_openssl(cert, TlsVersion::Tls12);
            record_certpull(server.addr, cert)
        })
        .collect();
    let mut host = filter(&expected.cert_pem());
    for recording in &recordings {
        all_continue(&host.replay(recording).unwrap());
    }
    let m = host.metrics();
    assert_eq!(
        m[&format!("certpull.handshakes;sni={SNI};version=TLSv1.2")],
        2,
        "{m:#?}"
    );
    assert_eq!(m[&format!("certpull.leaf_fingerprints;sni={SNI}")], 2);
    assert_eq!(m[&format!("certpull.leaf_mismatches;sni={SNI}")], 1);
    // The gauge follows the leaf seen last: the one with 10 days left.
    assert_eq!(
        m[&format!("certpull.leaf_days_left;sni={SNI}")],
        days_left(&stale)
    );
    clean(&host);

    // Without an expected leaf there is no mismatch counter.
    let mut host = filter("");
    all_continue(&host.replay(&recordings[1]).unwrap());
    assert!(host
        .metrics()
        .keys()
        .all(|k| !k.starts_with("certpull.leaf_mismatches")));
}

#[test]
fn traffic_cut_into_small_pieces_gives_the_same_metrics() {
    let (_pki, cert, recording) = capture(KeyKind::Rsa2048, TlsVersion::Tls12);
    let pieces: Vec<(Flow, Vec<u8>)> = recording
        .iter()
        .flat_map(|(flow, bytes)| bytes.chunks(7).map(|c| (*flow, c.to_vec())))
        .collect();
    let mut whole = filter(&cert.cert_pem());
    let mut cut = filter(&cert.cert_pem());
    all_continue(&whole.replay(&recording).unwrap());
    all_continue(&cut.replay(&pieces).unwrap());
    assert_eq!(whole.metrics(), cut.metrics());
    clean(&cut);
}

#[test]
fn openssl_client_traffic_with_alpn_is_understood() {
    let pki = TestPki::new();
    let cert = pki.leaf(SNI, KeyKind::EcdsaP256, LeafVariant::Good);
    for (version, flag, name) in [
        (TlsVersion::Tls12, "-tls1_2", "TLSv1.2"),
        (TlsVersion::Tls13, "-tls1_3", "TLSv1.3"),
    ] {
        let server = start_openssl(&cert, version);
        let recording = wasmhost::record_through_relay(server.addr, |relay| {
            wasmhost::openssl_client(relay, SNI, flag)
        });
        let mut host = filter("");
        all_continue(&host.replay(&recording).unwrap());
        let m = host.metrics();
        assert_eq!(
            m[&format!("certpull.handshakes;sni={SNI};version={name}")],
            1,
            "{m:#?}"
        );
        clean(&host);
    }
}

#[test]
fn a_configuration_that_is_not_pem_is_refused_and_pem_is_accepted() {
    let module = wasmhost::load(&wasmhost::modules().proxy);
    let error = ProxyHost::new(&module, b"expected: yes", now())
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("plugin configuration"),
        "{error}"
    );
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let pem = format!("{}{}", cert.cert_pem(), pki.good_leaf().cert_pem());
    let host = ProxyHost::new(&module, pem.as_bytes(), now()).expect("accepted");
    assert!(host
        .state()
        .logs
        .iter()
        .any(|(_, l)| l.contains("2 expected leaves")));
}

#[test]
fn the_filter_speaks_proxy_wasm_0_2_1_and_imports_only_proxy_calls() {
    let module = wasmhost::load(&wasmhost::modules().proxy);
    let imports = wasmhost::import_names(&module);
    assert!(
        imports.iter().all(|i| i.starts_with("env.proxy_")),
        "{imports:?}"
    );
    let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
    for export in [
        "proxy_abi_version_0_2_1",
        "proxy_on_context_create",
        "proxy_on_new_connection",
        "proxy_on_downstream_data",
        "proxy_on_upstream_data",
        "malloc",
    ] {
        assert!(exports.contains(&export), "{export} in {exports:?}");
    }
}
