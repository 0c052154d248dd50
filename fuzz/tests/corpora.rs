//! Replays every committed input through its target's function, as an ordinary test:
//! `corpus/<target>/*` (the seeds and minimised corpora) and `regressions/<target>/*` (inputs
//! that once failed). Runs on stable: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::fs;
use std::path::Path;

use certpull_fuzz::targets::{self, session, starttls};

fn inputs(dir: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(target);
    let Ok(entries) = fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read(e.path()).expect("read input"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let mut count = 0;
    for target in targets::ALL {
        for dir in ["corpus", "regressions"] {
            for (name, data) in inputs(dir, target) {
                let outcome = std::panic::catch_unwind(|| targets::run(target, &data));
                assert!(outcome.is_ok(), "{dir}/{target}/{name} fails");
                count += 1;
            }
        }
    }
    assert!(count > 0, "no inputs found");
}

#[test]
fn recorded_server_flights_replay_to_a_complete_pull() {
    let seeds: Vec<_> = inputs("corpus", "session")
        .into_iter()
        .filter(|(name, _)| name.starts_with("seed-tls"))
        .collect();
    assert!(seeds.len() >= 4, "TLS 1.2 and 1.3, ECDSA and RSA");
    for (name, data) in seeds {
        match session::drive(&data) {
            session::End::Complete(outcome) => {
                assert_eq!(outcome.chain.len(), 2, "{name}");
                assert_eq!(outcome.verdict, certpull_core::Verdict::Valid, "{name}");
            }
            session::End::Failed(error) => panic!("{name}: {error}"),
        }
    }
}

#[test]
fn starttls_dialogues_hand_over_on_a_go_ahead_and_fail_on_a_refusal() {
    let seeds = inputs("corpus", "starttls");
    let protocols: std::collections::HashSet<&str> = seeds
        .iter()
        .map(|(_, data)| starttls::protocol(data[0]).name())
        .collect();
    assert_eq!(
        protocols.len(),
        certpull_core::Protocol::ALL.len(),
        "a seed per protocol"
    );
    for (name, data) in seeds {
        let end = starttls::drive(&data);
        if name.contains("-ok") {
            assert_eq!(end, starttls::End::HandedOver, "{name}");
        } else {
            match end {
                starttls::End::Failed(certpull_core::PullError::Starttls(error)) => {
                    assert_eq!(error.protocol, starttls::protocol(data[0]), "{name}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

#[test]
fn recorded_handshakes_are_observed() {
    use certpull_core::observe::{ClientObserver, Progress, ServerObserver, TLS1_2, TLS1_3};

    let seeds = inputs("corpus", "observe");
    let stream = |name: &str| {
        let (_, data) = seeds
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        session::Plan::parse(data).data.to_vec()
    };
    for version in ["tls12", "tls13"] {
        let mut client = ClientObserver::new();
        assert_eq!(
            client.feed(&stream(&format!("seed-{version}-client"))),
            Ok(Progress::Complete)
        );
        let hello = client.client_hello().unwrap();
        assert_eq!(
            hello.server_name.as_deref(),
            Some(certpull_fuzz::pki::SERVER_NAME)
        );
        assert_eq!(hello.alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);

        let mut server = ServerObserver::new();
        assert_eq!(
            server.feed(&stream(&format!("seed-{version}-server"))),
            Ok(Progress::Complete)
        );
        let flight = server.flight().unwrap();
        if version == "tls12" {
            assert_eq!(hello.max_offered_version(), Some(TLS1_2));
            assert_eq!(flight.hello.version, TLS1_2);
            let served = certpull_fuzz::pki::Pki::get(certpull_fuzz::pki::LeafKind::EcdsaP256)
                .served_chain();
            assert_eq!(flight.certificates.as_ref(), Some(&served));
        } else {
            assert_eq!(hello.max_offered_version(), Some(TLS1_3));
            assert_eq!(flight.hello.version, TLS1_3);
            assert_eq!(flight.certificates, None);
        }
    }
}
