//! Benchmarks of the core: one complete pull against an in-process rustls server, and the
//! chain model (parse + PEM encode).
//!
//! A pull's time covers both ends of the handshake (the in-process server's key exchange and
//! signature as well as the client's), the chain's validation to the test root, and the session
//! set-up; nothing touches a socket.
//!
//! Run: `cargo bench -p certpull-core` (brief: add `-- --warm-up-time 1 --measurement-time 3`).

use std::hint::black_box;

use certpull_core::rustls::version::{TLS12, TLS13};
use certpull_core::rustls::SupportedProtocolVersion;
use certpull_core::{pem, CertSummary};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{KeyKind, TestPki, CURRENT};

const NAME: &str = "bench.certpull.test";

fn pull(c: &mut Criterion) {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let config = common::verify(&pki, NAME);
    let mut group = c.benchmark_group("pull");
    let versions: [(&str, &'static SupportedProtocolVersion); 2] =
        [("tls13_ecdsa_p256", &TLS13), ("tls12_ecdsa_p256", &TLS12)];
    for (label, version) in versions {
        let server = pki.server(version, pki.served_chain());
        // One checked pull first, so that the loop measures what it claims to.
        let outcome = common::pull_in_process(server.clone(), &config, usize::MAX).unwrap();
        assert_eq!(outcome.chain, pki.served_chain());
        assert_eq!(outcome.protocol_version, version.version);
        group.bench_function(label, |b| {
            b.iter(|| {
                let outcome =
                    common::pull_in_process(server.clone(), black_box(&config), usize::MAX)
                        .unwrap();
                black_box(outcome)
            })
        });
    }
    group.finish();
}

fn chain_model(c: &mut Criterion) {
    let pki = TestPki::new(KeyKind::EcdsaP256, &[NAME], CURRENT);
    let chain = pki.served_chain();
    let mut group = c.benchmark_group("chain");
    group.bench_function("parse_chain_2", |b| {
        b.iter(|| CertSummary::parse_chain(black_box(&chain)).unwrap())
    });
    group.bench_function("encode_chain_2", |b| {
        b.iter(|| pem::encode_chain(black_box(&chain)))
    });
    group.bench_function("parse_and_encode_chain_2", |b| {
        b.iter(|| {
            let summaries = CertSummary::parse_chain(black_box(&chain)).unwrap();
            let text = pem::encode_chain(black_box(&chain));
            black_box((summaries, text))
        })
    });
    group.finish();
}

criterion_group!(benches, pull, chain_model);
criterion_main!(benches);
