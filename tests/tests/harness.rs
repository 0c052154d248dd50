//! Self-tests of the fixtures, checked with `openssl s_client` (not certpull): when one of these
//! fails, the certpull tests that use the same fixture say nothing about certpull.

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use certpull_tests::hostile::{refused_addr, Behaviour, FullBacklog, HostileServer};
use certpull_tests::servers::{
    ipv6_loopback_available, openssl_s_client, start_openssl_on, LOCALHOST_V6,
};
use certpull_tests::{
    assert_same_chain, pem_to_ders, start_nginx, start_openssl, KeyKind, LeafVariant, TestPki,
    TlsVersion, TEST_NAME,
};

fn s_client_version_flag(v: TlsVersion) -> &'static [&'static str] {
    match v {
        TlsVersion::Any => &[],
        TlsVersion::Tls12 => &["-tls1_2"],
        TlsVersion::Tls13 => &["-tls1_3"],
    }
}

#[test]
fn openssl_and_nginx_fixtures_serve_the_configured_chain_and_verify_with_openssl() {
    let pki = TestPki::new();
    for key in KeyKind::ALL {
        let cert = pki.leaf(TEST_NAME, key, LeafVariant::Good);
        for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
            for (what, server) in [
                ("openssl", start_openssl(&cert, version)),
                ("nginx", start_nginx(&cert, version)),
            ] {
                let (ok, out) = openssl_s_client(
                    server.addr,
                    TEST_NAME,
                    &cert.ca,
                    s_client_version_flag(version),
                );
                assert!(
                    ok,
                    "{what} {key:?} {version:?}: s_client did not verify:\n{out}\nserver log:\n{}",
                    server.log()
                );
                assert_same_chain(
                    &pem_to_ders(&out),
                    &cert.served,
                    &format!("{what} {key:?} {version:?}"),
                );
                let proto = version.json_name().expect("forced version");
                assert!(
                    out.contains(&format!("Protocol  : {proto}"))
                        || out.contains(&format!("New, {proto}")),
                    "{what} {key:?}: expected {proto}:\n{out}"
                );
            }
        }
    }
}

#[test]
fn defective_leaves_fail_openssl_verification_for_the_expected_reason() {
    let pki = TestPki::new();
    let cases = [
        (LeafVariant::Expired, "certificate has expired"),
        (LeafVariant::NotYetValid, "certificate is not yet valid"),
        (LeafVariant::SelfSigned, "self-signed certificate"),
        (LeafVariant::OtherName, "hostname mismatch"),
        (
            LeafVariant::MissingIntermediate,
            "unable to get local issuer certificate",
        ),
    ];
    for (variant, reason) in cases {
        let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, variant);
        let server = start_openssl(&cert, TlsVersion::Any);
        let (ok, out) = openssl_s_client(server.addr, TEST_NAME, &cert.ca, &[]);
        assert!(!ok, "{variant:?} verified:\n{out}");
        assert!(
            out.contains(reason),
            "{variant:?}: expected {reason:?}:\n{out}"
        );
        assert_same_chain(&pem_to_ders(&out), &cert.served, &format!("{variant:?}"));
    }
}

#[test]
fn openssl_fixture_listens_on_ipv6_loopback() {
    if !ipv6_loopback_available() {
        eprintln!("note: ::1 cannot be bound here; IPv6 fixture not tested");
        return;
    }
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl_on(LOCALHOST_V6, &cert, TlsVersion::Tls13);
    assert_eq!(server.connect_arg(), format!("[::1]:{}", server.port()));
    let (ok, out) = openssl_s_client(server.addr, TEST_NAME, &cert.ca, &[]);
    assert!(ok, "{out}");
}

#[test]
fn parallel_servers_get_distinct_ports() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let servers: Vec<_> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                start_openssl(&cert, TlsVersion::Any)
            } else {
                start_nginx(&cert, TlsVersion::Any)
            }
        })
        .collect();
    let mut ports: Vec<u16> = servers.iter().map(|s| s.port()).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), servers.len());
}

#[test]
fn full_backlog_makes_connect_hang() {
    let backlog = FullBacklog::start();
    let err = TcpStream::connect_timeout(&backlog.addr, Duration::from_millis(500))
        .expect_err("connect should not complete");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
}

#[test]
fn refused_addr_refuses() {
    let err = TcpStream::connect_timeout(&refused_addr(), Duration::from_secs(2)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn hostile_servers_send_what_they_claim() {
    let first_bytes = |b: Behaviour| {
        let server = HostileServer::start(b);
        let mut s = TcpStream::connect(server.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        if b == Behaviour::HttpBadRequest {
            use std::io::Write;
            s.write_all(b"\x16\x03\x01\x00\x05hello").unwrap();
        }
        let mut buf = vec![0u8; 32];
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(server.accepted() >= 1 || n == 0);
        buf.truncate(n);
        buf
    };
    assert_eq!(first_bytes(Behaviour::Silent), b"");
    assert_eq!(first_bytes(Behaviour::CloseOnAccept), b"");
    assert!(first_bytes(Behaviour::SmtpBanner).starts_with(b"220 mail.example.com ESMTP\r\n"));
    assert!(first_bytes(Behaviour::HttpBadRequest).starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert_eq!(
        &first_bytes(Behaviour::HugeHandshake)[..9],
        b"\x16\x03\x03\x40\x00\x02\xff\xff\xff"
    );
    assert_eq!(
        &first_bytes(Behaviour::HalfRecordThenStall)[..5],
        b"\x16\x03\x03\x00\x80"
    );
    assert_eq!(
        &first_bytes(Behaviour::RecordHeaderThenGarbage)[..5],
        b"\x16\x03\x03\x00\x40"
    );
    assert!(!(20..=24).contains(&first_bytes(Behaviour::RandomBytes)[0]));
    assert_eq!(
        first_bytes(Behaviour::Trickle),
        b"\x16",
        "one byte per 200 ms"
    );
}
