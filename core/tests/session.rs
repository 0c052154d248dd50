//! The pull session against an in-process rustls server: every version, key type and chunking.

mod common;

use certpull_core::rustls::version::{TLS12, TLS13};
use certpull_core::rustls::{ProtocolVersion, SupportedProtocolVersion};
use certpull_core::{Limits, PullConfig, PullError, Trust, ValidationFailure, Verdict};
use common::*;

const NAME: &str = "www.example.com";

fn pulls_served_chain(kind: KeyKind, version: &'static SupportedProtocolVersion) {
    let pki = TestPki::new(kind, &[NAME, "example.com"], CURRENT);
    for chunk in [1, 7, 1000, usize::MAX] {
        let outcome = pull_in_process(
            pki.server(version, pki.served_chain()),
            &verify(&pki, NAME),
            chunk,
        )
        .unwrap_or_else(|e| panic!("{kind:?} {version:?} chunk {chunk}: {e}"));
        assert_eq!(outcome.chain, pki.served_chain(), "chunk {chunk}");
        assert_eq!(outcome.verdict, Verdict::Valid);
        assert_eq!(outcome.protocol_version, version.version);
    }
}

#[test]
fn tls13_ecdsa_p256_leaf_is_pulled_in_every_chunking() {
    pulls_served_chain(KeyKind::EcdsaP256, &TLS13);
}

#[test]
fn tls12_ecdsa_p256_leaf_is_pulled_in_every_chunking() {
    pulls_served_chain(KeyKind::EcdsaP256, &TLS12);
}

#[test]
fn tls13_rsa_2048_leaf_is_pulled_in_every_chunking() {
    pulls_served_chain(KeyKind::Rsa2048, &TLS13);
}

#[test]
fn tls12_rsa_2048_leaf_is_pulled_in_every_chunking() {
    pulls_served_chain(KeyKind::Rsa2048, &TLS12);
}

#[test]
fn tls13_ed25519_leaf_is_pulled_in_every_chunking() {
    pulls_served_chain(KeyKind::Ed25519, &TLS13);
}

#[test]
fn tls12_ed25519_leaf_is_pulled_in_every_chunking() {
    pulls_served_chain(KeyKind::Ed25519, &TLS12);
}

#[test]
fn outcome_names_version_and_cipher_suite() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let outcome = pull_in_process(
        pki.server(&TLS13, pki.served_chain()),
        &verify(&pki, NAME),
        1000,
    )
    .unwrap();
    assert_eq!(outcome.protocol_version, ProtocolVersion::TLSv1_3);
    assert_eq!(outcome.protocol_name(), "TLSv1.3");
    assert!(outcome.cipher_suite_name().starts_with("TLS13_"));
}

#[test]
fn ip_address_server_name_is_validated_against_ip_sans() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &["127.0.0.1"], CURRENT);
    let outcome = pull_in_process(
        pki.server(&TLS13, pki.served_chain()),
        &verify(&pki, "127.0.0.1"),
        1000,
    )
    .unwrap();
    assert_eq!(outcome.chain, pki.served_chain());
}

fn rejected(result: Result<certpull_core::PullOutcome, PullError>) -> certpull_core::RejectedChain {
    match result {
        Err(PullError::Rejected(rejected)) => *rejected,
        other => panic!("expected a rejected chain, got {other:?}"),
    }
}

#[test]
fn chain_from_an_unknown_root_is_rejected_and_kept_for_the_report() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let other = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    for version in [&TLS12, &TLS13] {
        let result = pull_in_process(
            pki.server(version, pki.served_chain()),
            &verify(&other, NAME),
            1000,
        );
        let rejected = rejected(result);
        assert_eq!(rejected.failure, ValidationFailure::UnknownIssuer);
        assert_eq!(rejected.chain, pki.served_chain());
    }
}

#[test]
fn missing_intermediate_is_an_unknown_issuer() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let rejected = rejected(pull_in_process(
        pki.server(&TLS13, vec![pki.leaf.clone()]),
        &verify(&pki, NAME),
        1000,
    ));
    assert_eq!(rejected.failure, ValidationFailure::UnknownIssuer);
    assert_eq!(rejected.chain, vec![pki.leaf.clone()]);
}

#[test]
fn leaf_for_another_name_is_rejected_with_both_names() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &["other.example.org"], CURRENT);
    let rejected = rejected(pull_in_process(
        pki.server(&TLS13, pki.served_chain()),
        &verify(&pki, NAME),
        1000,
    ));
    match rejected.failure {
        ValidationFailure::NotValidForName {
            expected,
            presented,
        } => {
            assert_eq!(expected, NAME);
            assert!(presented.iter().any(|n| n.contains("other.example.org")));
        }
        other => panic!("expected a name mismatch, got {other:?}"),
    }
}

#[test]
fn expired_leaf_is_rejected() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], Years(2020, 2021));
    let rejected = rejected(pull_in_process(
        pki.server(&TLS12, pki.served_chain()),
        &verify(&pki, NAME),
        1000,
    ));
    assert!(matches!(
        rejected.failure,
        ValidationFailure::Expired { .. }
    ));
}

#[test]
fn not_yet_valid_leaf_is_rejected() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], Years(2090, 2100));
    let rejected = rejected(pull_in_process(
        pki.server(&TLS13, pki.served_chain()),
        &verify(&pki, NAME),
        1000,
    ));
    assert!(matches!(
        rejected.failure,
        ValidationFailure::NotYetValid { .. }
    ));
}

#[test]
fn capture_only_completes_and_reports_the_verdict() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let other = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let config = PullConfig::new(name(NAME), Trust::CaptureOnly(Some(other.roots())));
    let outcome = pull_in_process(pki.server(&TLS13, pki.served_chain()), &config, 1000).unwrap();
    assert_eq!(outcome.chain, pki.served_chain());
    assert_eq!(
        outcome.verdict,
        Verdict::Invalid(ValidationFailure::UnknownIssuer)
    );

    let config = PullConfig::new(name(NAME), Trust::CaptureOnly(None));
    let outcome = pull_in_process(pki.server(&TLS12, pki.served_chain()), &config, 7).unwrap();
    assert_eq!(outcome.verdict, Verdict::NotChecked);
}

#[test]
fn a_leaf_that_did_not_sign_the_handshake_is_a_bad_signature_in_every_mode() {
    // The chain is public: an impostor can replay it, but cannot sign with its key. Whatever
    // the trust mode, the pull fails on the handshake signature, and says so (not the
    // verdict of a chain that was only being captured).
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let impostor = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let untrusted = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let configs = [
        verify(&pki, NAME),
        PullConfig::new(name(NAME), Trust::CaptureOnly(None)),
        PullConfig::new(name(NAME), Trust::CaptureOnly(Some(untrusted.roots()))),
    ];
    for version in [&TLS12, &TLS13] {
        for config in &configs {
            let server = impostor_server(version, pki.served_chain(), &impostor.leaf_key);
            let rejected = rejected(pull_in_process(server, config, 1000));
            assert_eq!(rejected.failure, ValidationFailure::BadSignature);
            assert_eq!(rejected.chain, pki.served_chain());
        }
    }
}

#[test]
fn chain_over_the_certificate_limit_is_refused() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let mut config = verify(&pki, NAME);
    config.limits = Limits {
        max_chain_certs: 1,
        ..Limits::default()
    };
    let result = pull_in_process(pki.server(&TLS13, pki.served_chain()), &config, 1000);
    assert!(
        matches!(result, Err(PullError::ChainTooLarge { certs: 2, .. })),
        "{result:?}"
    );
}

#[test]
fn bytes_over_the_buffer_limit_are_refused() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let mut config = verify(&pki, NAME);
    config.limits.max_buffered = 64;
    let result = pull_scripted(&config, &[0x16; 65]);
    assert_eq!(result, Err(PullError::BufferLimit { limit: 64 }));
}

#[test]
fn an_http_reply_is_reported_as_not_tls() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    match pull_scripted(&verify(&pki, NAME), reply) {
        Err(error @ PullError::NotTls { .. }) => {
            assert!(error.to_string().contains("HTTP/1.1 400 Bad Request\\r\\n"))
        }
        other => panic!("expected NotTls, got {other:?}"),
    }
}

#[test]
fn a_short_smtp_banner_then_close_is_reported_as_not_tls() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    assert!(matches!(
        pull_scripted(&verify(&pki, NAME), b"220"),
        Err(PullError::NotTls { .. })
    ));
}

#[test]
fn close_before_any_answer_is_peer_closed() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    assert_eq!(
        pull_scripted(&verify(&pki, NAME), b""),
        Err(PullError::PeerClosed { bytes_received: 0 })
    );
}

#[test]
fn a_record_header_followed_by_garbage_is_a_tls_error() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let mut reply = vec![0x16, 0x03, 0x03, 0x00, 0x20];
    reply.extend([0xAB; 32]);
    let result = pull_scripted(&verify(&pki, NAME), &reply);
    assert!(matches!(result, Err(PullError::Tls(_))), "{result:?}");
}

#[test]
fn a_handshake_message_announcing_16_mib_is_refused_without_buffering_it() {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    // A ServerHello record whose handshake header announces 16 MiB.
    let reply = [0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0xff, 0xff, 0xff];
    let result = pull_scripted(&verify(&pki, NAME), &reply);
    assert!(
        matches!(
            result,
            Err(PullError::Tls(_)) | Err(PullError::PeerClosed { .. })
        ),
        "{result:?}"
    );
}

#[test]
fn a_failed_session_keeps_its_error_and_queues_one_alert() {
    use std::sync::Arc;
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let mut session = certpull_core::PullSession::new(
        &verify(&pki, NAME),
        provider(),
        Arc::new(certpull_core::FixedTime::from_unix_seconds(now())),
    )
    .unwrap();
    let _ = session.advance().unwrap();
    let _hello = session.take_output();
    // A well-framed ServerHello whose body is garbage: rustls answers with a decode_error alert.
    let reply = [
        0x16, 0x03, 0x03, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0xAB, 0xAB, 0xAB, 0xAB,
    ];
    session.feed(&reply).unwrap();
    let first = session.advance().unwrap_err();
    let alert = session.take_output();
    assert_eq!(alert.first(), Some(&0x15), "one alert record: {alert:?}");
    assert_eq!(session.advance().unwrap_err(), first);
    assert!(session.take_output().is_empty());
    assert_eq!(session.feed(b"more").unwrap_err(), first);
}

#[test]
fn smtp_preamble_runs_before_the_handshake_in_the_same_session() {
    use certpull_core::{Protocol, Status};
    let pki = TestPki::new(KeyKind::EcdsaP256, &["mail.example.com"], CURRENT);
    let config = verify(&pki, "mail.example.com").with_starttls(Some(Protocol::Smtp));
    let mut session = new_session(&config).unwrap();
    let mut exchange = |reply: &[u8]| {
        session.feed(reply).unwrap();
        assert!(matches!(session.advance().unwrap(), Status::NeedsInput));
        session.take_output()
    };
    assert_eq!(
        exchange(b"220 mail.example.com ESMTP\r\n"),
        b"EHLO certpull.invalid\r\n"
    );
    assert_eq!(
        exchange(b"250-mail.example.com\r\n250 STARTTLS\r\n"),
        b"STARTTLS\r\n"
    );
    let hello = exchange(b"220 2.0.0 Ready to start TLS\r\n");
    assert_eq!(
        hello.first(),
        Some(&0x16),
        "the ClientHello follows the go-ahead"
    );

    // Hand the ClientHello to the server and finish the handshake.
    let server_config = pki.server(&TLS13, pki.served_chain());
    let mut server = certpull_core::rustls::ServerConnection::new(server_config).unwrap();
    server.read_tls(&mut hello.as_slice()).unwrap();
    server.process_new_packets().unwrap();
    let mut flight = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut flight).unwrap();
    }
    session.feed(&flight).unwrap();
    let outcome = loop {
        match session.advance().unwrap() {
            Status::Complete(outcome) => break outcome,
            Status::NeedsInput => {
                let output = session.take_output();
                server.read_tls(&mut output.as_slice()).unwrap();
                server.process_new_packets().unwrap();
                let mut more = Vec::new();
                while server.wants_write() {
                    server.write_tls(&mut more).unwrap();
                }
                assert!(!more.is_empty(), "server has nothing more to say");
                session.feed(&more).unwrap();
            }
        }
    };
    assert_eq!(outcome.chain, pki.served_chain());
}

#[test]
fn a_refused_preamble_names_protocol_step_and_reply() {
    use certpull_core::Protocol;
    let pki = TestPki::new(KeyKind::EcdsaP256, &["mail.example.com"], CURRENT);
    let config = verify(&pki, "mail.example.com").with_starttls(Some(Protocol::Smtp));
    let mut session = new_session(&config).unwrap();
    let _ = session.advance().unwrap();
    session.feed(b"220 hi\r\n250 PIPELINING\r\n").unwrap();
    let error = session.advance().unwrap_err();
    assert_eq!(
        error.to_string(),
        "protocol error: smtp: server did not offer STARTTLS in its EHLO reply (250 PIPELINING)"
    );
}

#[test]
fn a_server_closing_during_the_preamble_is_reported_at_its_step() {
    use certpull_core::Protocol;
    let pki = TestPki::new(KeyKind::EcdsaP256, &["db.example.com"], CURRENT);
    let config = verify(&pki, "db.example.com").with_starttls(Some(Protocol::Postgres));
    let mut session = new_session(&config).unwrap();
    let _ = session.advance().unwrap();
    assert_eq!(session.take_output(), [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    session.feed_eof();
    assert_eq!(
        session.advance().unwrap_err().to_string(),
        "protocol error: postgres: server closed the connection at SSLRequest"
    );
}
