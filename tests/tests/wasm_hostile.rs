//! Both WASM modules fed hostile bytes (random, truncated, giant lengths, endless SNIs): no
//! trap, no callback other than Continue, and memory that stays under a bound (in 64 KiB
//! pages).

use std::time::{SystemTime, UNIX_EPOCH};

use certpull_tests::wasmhost::{self, abi, noise, Flow, ProxyHost, PullHost};
use certpull_tests::{fetch, start_openssl, TestPki, TlsVersion};

/// Memory bound of the pull module: 64 sessions of at most ~100 KiB buffered each, plus the
/// allocator's slack, fit in 16 MiB; one session at a time stays far below.
const PULL_MAX_PAGES: u64 = 256;
/// Memory bound of the filter: 64 KiB per direction per live connection, bounded per-name
/// state, one connection at a time here.
const PROXY_MAX_PAGES: u64 = 64;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A real server's side of a TLS 1.2 handshake (ServerHello, Certificate, …).
fn real_server_flight() -> Vec<u8> {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Tls12);
    let ca = cert.ca.to_string_lossy().into_owned();
    let recording = wasmhost::record_through_relay(server.addr, |relay| {
        fetch(&cert.name, &relay.to_string(), &["--ca-file", &ca]).assert_ok_quiet_stderr();
    });
    recording
        .into_iter()
        .filter(|(flow, _)| *flow == Flow::ServerToClient)
        .flat_map(|(_, bytes)| bytes)
        .collect()
}

/// One session fed `bytes` (in pieces of `piece`), then EOF: it must end in an error.
fn pull_session_fails(host: &mut PullHost, bytes: &[u8], piece: usize) -> i32 {
    let handle = host
        .session("hostile.example", 0, b"", now(), 0)
        .unwrap()
        .expect("session");
    assert_eq!(host.advance(handle).unwrap(), abi::NEEDS_INPUT);
    host.take_output(handle).unwrap();
    let mut status = abi::NEEDS_INPUT;
    for chunk in bytes.chunks(piece.max(1)) {
        let fed = host.feed(handle, chunk).unwrap();
        if fed != 0 {
            status = fed;
            break;
        }
        status = host.advance(handle).unwrap();
        host.take_output(handle).unwrap();
        if status != abi::NEEDS_INPUT {
            break;
        }
    }
    if status == abi::NEEDS_INPUT {
        host.feed_eof(handle).unwrap();
        status = host.advance(handle).unwrap();
    }
    // Whatever happened, the results can be read.
    host.results(handle, status).unwrap();
    assert_eq!(host.free_session(handle).unwrap(), 0);
    status
}

#[test]
fn the_pull_module_survives_random_truncated_and_giant_input_in_bounded_memory() {
    let module = wasmhost::load(&wasmhost::modules().pull);
    let mut host = PullHost::new(&module).unwrap();
    let flight = real_server_flight();
    assert!(flight.len() > 500);

    // Truncations of a real server flight (from another session: it cannot complete).
    for cut in (0..flight.len()).step_by(97).chain([flight.len()]) {
        let status = pull_session_fails(&mut host, &flight[..cut], 1 + cut % 1400);
        assert!(status < 0, "cut {cut}: {status}");
    }
    let after_truncations = host.memory_pages();

    // Random bytes, half of them behind a plausible handshake record header.
    for seed in 0..300u64 {
        let mut bytes = noise(1 + (seed as usize * 131) % 20_000, seed);
        if seed % 2 == 0 {
            bytes.splice(0..0, [0x16, 3, 3, (seed % 0x48) as u8, 0x20]);
        }
        let status = pull_session_fails(&mut host, &bytes, 1 + (seed as usize * 37) % 3000);
        assert!(status < 0, "seed {seed}: {status}");
    }
    // A giant announced length, then more bytes than the session buffers.
    let mut giant = vec![0x16, 3, 3, 0x40, 0x00, 2, 0xff, 0xff, 0xff];
    giant.extend(noise(300_000, 7));
    let status = pull_session_fails(&mut host, &giant, 200_000);
    assert!(status < 0, "{status}");

    // Sessions are capped; the table frees cleanly.
    let handles: Vec<i32> = (0..64)
        .map(|_| {
            host.session("a.example", 0, b"", now(), 0)
                .unwrap()
                .unwrap()
        })
        .collect();
    let (code, text) = host
        .session("a.example", 0, b"", now(), 0)
        .unwrap()
        .unwrap_err();
    assert_eq!(code, abi::ERR_LIMIT, "{text}");
    for handle in handles {
        assert_eq!(host.free_session(handle).unwrap(), 0);
    }

    let pages = host.memory_pages();
    eprintln!(
        "pull module memory: {after_truncations} pages after truncations, {pages} pages at the end"
    );
    assert!(pages <= PULL_MAX_PAGES, "{pages} pages");
    // Another round of random sessions does not grow memory further.
    for seed in 1000..1100u64 {
        pull_session_fails(&mut host, &noise(5_000, seed), 512);
    }
    assert_eq!(host.memory_pages(), pages, "memory is reused, not grown");
}

/// A ClientHello record naming `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    let name = sni.as_bytes();
    let mut entry = vec![0];
    entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
    entry.extend_from_slice(name);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&((entry.len() + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&(entry.len() as u16).to_be_bytes());
    ext.extend_from_slice(&entry);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut message = vec![1, 0];
    message.extend_from_slice(&(body.len() as u16).to_be_bytes());
    message.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&(message.len() as u16).to_be_bytes());
    record.extend_from_slice(&message);
    record
}

/// A TLS 1.3 ServerHello record.
fn server_hello_13() -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[5; 32]);
    body.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let mut record = vec![
        0x16,
        3,
        3,
        0,
        (body.len() + 4) as u8,
        2,
        0,
        0,
        body.len() as u8,
    ];
    record.extend_from_slice(&body);
    record
}

#[test]
fn the_filter_survives_hostile_traffic_always_continues_and_stays_bounded() {
    let module = wasmhost::load(&wasmhost::modules().proxy);
    let mut host = ProxyHost::new(&module, b"", now()).unwrap();
    let flight = real_server_flight();
    let mut connections = 0u64;
    let mut run = |host: &mut ProxyHost, pieces: &[(Flow, Vec<u8>)]| {
        connections += 1;
        let actions = host.replay(pieces).expect("no trap");
        assert!(actions.iter().all(|a| *a == 0), "{actions:?}");
    };

    // Random bytes both ways, in random pieces.
    for seed in 0..200u64 {
        let down = noise((seed as usize * 211) % 9_000, seed);
        let up = noise((seed as usize * 101) % 9_000, seed + 7);
        let mut pieces = Vec::new();
        for chunk in down.chunks(1 + (seed as usize % 700)) {
            pieces.push((Flow::ClientToServer, chunk.to_vec()));
        }
        for chunk in up.chunks(1 + (seed as usize % 1300)) {
            pieces.push((Flow::ServerToClient, chunk.to_vec()));
        }
        run(&mut host, &pieces);
    }
    // Truncated real server flights after a good ClientHello.
    for cut in (0..flight.len()).step_by(53) {
        run(
            &mut host,
            &[
                (Flow::ClientToServer, client_hello("cut.example")),
                (Flow::ServerToClient, flight[..cut].to_vec()),
            ],
        );
    }
    // Giant lengths: a record over the TLS maximum; a handshake message announcing 16 MiB and
    // a megabyte of data behind it in one callback.
    let mut giant = vec![0x16, 3, 3, 0x40, 0x00, 1, 0xff, 0xff, 0xff];
    giant.extend(noise(1 << 20, 3));
    run(
        &mut host,
        &[
            (Flow::ClientToServer, vec![0x16, 3, 1, 0xff, 0xff, 0, 0, 0]),
            (Flow::ServerToClient, giant.clone()),
        ],
    );
    run(&mut host, &[(Flow::ClientToServer, giant)]);
    // A ClientHello that keeps announcing more without ever ending.
    let mut endless = vec![0x16, 3, 3, 0x40, 0x00, 1, 0x00, 0xff, 0x00];
    endless.extend(noise(0x4000 - 4, 11));
    for _ in 0..3 {
        endless.extend_from_slice(&[0x16, 3, 3, 0x40, 0x00]);
        endless.extend(noise(0x4000, 12));
    }
    run(&mut host, &[(Flow::ClientToServer, endless)]);

    // Endless distinct server names: metrics stay bounded.
    for i in 0..400 {
        run(
            &mut host,
            &[
                (
                    Flow::ClientToServer,
                    client_hello(&format!("n{i}.spray.example")),
                ),
                (Flow::ServerToClient, server_hello_13()),
            ],
        );
    }
    let metrics = host.metrics();
    let handshakes: u64 = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("certpull.handshakes;"))
        .map(|(_, v)| v)
        .sum();
    assert!(handshakes >= 400, "{handshakes}");
    assert!(
        metrics["certpull.handshakes;sni=other;version=TLSv1.3"] >= 400 - 128,
        "names beyond the cap share one label"
    );
    assert!(metrics.len() <= 128 * 4 + 64, "{} metrics", metrics.len());
    assert!(metrics.keys().any(|k| k.contains("reason=not-tls")));
    assert!(metrics
        .keys()
        .any(|k| k.contains("reason=message-too-large")));
    assert!(metrics
        .keys()
        .any(|k| k.contains("reason=record-too-large")));
    assert!(host.state().unimplemented_calls.is_empty());

    let pages = host.memory_pages();
    eprintln!("filter memory after {connections} hostile connections: {pages} pages");
    assert!(pages <= PROXY_MAX_PAGES, "{pages} pages");
}
