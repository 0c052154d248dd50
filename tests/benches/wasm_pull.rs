//! The WASM figures: one full pull through `certpull.wasm` in wasmtime against the same pull
//! natively in process (certpull-core, rustls with ring), both against one nginx on 127.0.0.1
//! (TLS 1.3, ECDSA P-256 leaf and intermediate, validated to the test root); and the module's
//! costs before a first pull: compiling it (Cranelift, cold), loading the precompiled module
//! the hosts cache (`Module::deserialize_file`), and instantiating it (`PullHost::new`).
//!
//! `native_rustcrypto` runs the native pull with the module's provider (rustls-rustcrypto), so
//! the ratio splits into what the provider costs and what the WASM runtime costs.
//!
//! Both pulls do the same work in the same order, the way `PullHost::pull_tcp` drives the
//! module: parse the anchors PEM into a root store, set up the session, connect, run the
//! handshake with the same feed/advance/output loop, then parse the chain's summary and
//! encode it as PEM (the module's `summary_json` and `chain_pem`). One `PullHost` serves every
//! WASM pull, a session each, as a host that keeps the instance would.
//!
//! Run: `cargo bench -p certpull-tests --bench wasm_pull` (scripts/bench-wasm.sh builds the
//! modules, runs this with the modules as built and after `wasm-opt -Oz`, and prints the ratio).
//! `CERTPULL_WASM_DIR` selects prebuilt modules, as for the tests.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use certpull_core::pki_types::ServerName;
use certpull_core::rustls::crypto::CryptoProvider;
use certpull_core::rustls::RootCertStore;
use certpull_core::{pem, CertSummary, FixedTime, PullConfig, PullSession, Status, Trust};
use certpull_tests::wasmhost::{self, abi, PullHost};
use certpull_tests::{start_nginx, KeyKind, LeafVariant, TestPki, TlsVersion, TEST_NAME};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use wasmtime::Module;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// What a native pull hands back: the chain's summaries and its PEM, as the module does.
struct NativePull {
    summaries: Vec<CertSummary>,
    chain_pem: String,
}

/// One pull natively with `provider`, driven exactly like `PullHost::pull_tcp` drives the
/// module.
fn native_pull(
    provider: &Arc<CryptoProvider>,
    addr: SocketAddr,
    name: &str,
    anchors_pem: &[u8],
    now: u64,
) -> NativePull {
    let mut roots = RootCertStore::empty();
    for cert in pem::decode_certificates(anchors_pem).expect("anchors PEM") {
        roots.add(cert).expect("anchor");
    }
    let server_name = ServerName::try_from(name.to_string()).expect("server name");
    let config = PullConfig::new(server_name, Trust::Verify(Arc::new(roots)));
    let mut session = PullSession::new(
        &config,
        provider.clone(),
        Arc::new(FixedTime::from_unix_seconds(now)),
    )
    .expect("session");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; wasmhost::BUFFER as usize];
    let outcome = loop {
        let status = session.advance().expect("handshake");
        let out = session.take_output();
        if !out.is_empty() {
            let _ = stream.write_all(&out);
        }
        match status {
            Status::Complete(outcome) => break outcome,
            Status::NeedsInput => {}
        }
        let room = session.receive_capacity().max(1).min(buf.len());
        let n = stream.read(&mut buf[..room]).expect("read");
        if n == 0 {
            session.feed_eof();
        } else {
            session.feed(&buf[..n]).expect("feed");
        }
    };
    NativePull {
        summaries: CertSummary::parse_chain(&outcome.chain).expect("chain"),
        chain_pem: pem::encode_chain(&outcome.chain),
    }
}

fn pull(c: &mut Criterion) {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, KeyKind::EcdsaP256, LeafVariant::Good);
    let server = start_nginx(&cert, TlsVersion::Tls13);
    let anchors = cert.root_pem.as_bytes();
    let module = wasmhost::load(&wasmhost::modules().pull);
    let mut host = PullHost::new(&module).expect("instantiate certpull.wasm");

    // One checked pull of each first, so that the loops measure what they claim to.
    let wasm = host
        .pull_tcp(server.addr, &cert.name, anchors, now(), 0)
        .expect("no trap");
    assert_eq!(wasm.status, abi::COMPLETE, "{wasm:#?}");
    assert_eq!(wasm.verdict, abi::VERDICT_VALID, "{wasm:#?}");
    let ring = Arc::new(rustls::crypto::ring::default_provider());
    // The module's provider, natively: splits the ratio into provider and runtime.
    let rustcrypto = Arc::new(rustls_rustcrypto::provider());
    for provider in [&ring, &rustcrypto] {
        let native = native_pull(provider, server.addr, &cert.name, anchors, now());
        assert_eq!(
            native.chain_pem, wasm.chain_pem,
            "both pulls see the same chain"
        );
        assert_eq!(native.summaries.len(), cert.served.len());
    }

    let mut group = c.benchmark_group("pull");
    group.bench_function("wasm_wasmtime", |b| {
        b.iter(|| {
            let pulled = host
                .pull_tcp(server.addr, black_box(&cert.name), anchors, now(), 0)
                .expect("no trap");
            assert_eq!(pulled.status, abi::COMPLETE);
            black_box(pulled)
        })
    });
    for (label, provider) in [("native_ring", &ring), ("native_rustcrypto", &rustcrypto)] {
        group.bench_function(label, |b| {
            b.iter(|| {
                let name = black_box(cert.name.as_str());
                black_box(native_pull(provider, server.addr, name, anchors, now()))
            })
        });
    }
    group.finish();
    drop(server);
}

fn module(c: &mut Criterion) {
    let path = &wasmhost::modules().pull;
    let bytes = std::fs::read(path).expect("read certpull.wasm");
    let engine = wasmhost::engine();
    let dir = tempfile::tempdir().expect("temp dir");
    let cached = dir.path().join("certpull.cwasm");
    let compiled = Module::new(engine, &bytes).expect("compile");
    std::fs::write(&cached, compiled.serialize().expect("serialize")).expect("write cwasm");

    let mut group = c.benchmark_group("module");
    // About a second per compile: the fewest samples criterion takes, one iteration each.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("compile_cold", |b| {
        b.iter(|| Module::new(engine, black_box(&bytes)).expect("compile"))
    });
    group.bench_function("load_cached", |b| {
        b.iter(|| {
            // SAFETY: written just above by `Module::serialize` of this same engine.
            unsafe { Module::deserialize_file(engine, black_box(&cached)) }.expect("deserialize")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("instance");
    group.bench_function("instantiate", |b| {
        b.iter(|| PullHost::new(black_box(&compiled)).expect("instantiate"))
    });
    group.finish();
}

criterion_group!(benches, pull, module);
criterion_main!(benches);
