//! Replays every committed input through its target's function, as an ordinary test:
//! `corpus/<target>/*` (the seeds and minimised corpora) and `regressions/<target>/*` (inputs
//! that once failed). Runs on stable: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::fs;
use std::path::Path;

use certpull_fuzz::targets::{self, session};

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
