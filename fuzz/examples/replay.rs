//! Runs inputs through a target outside libFuzzer and says how each ended, on stable Rust:
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example replay -- TARGET FILE...
//!
//! For `session`, it prints the configuration the flags select, the chunk plan and the
//! session's outcome or error, before asserting the target's properties.

use certpull_fuzz::targets::{self, session};

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay TARGET FILE...");
    for file in args {
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        println!("== {file} ({} bytes)", data.len());
        if target == "session" {
            let plan = session::Plan::parse(&data);
            let (config, now) = session::config(plan.flags);
            println!(
                "flags {:#04x}: trust {:?}, now {now}, limits {:?}; chunks {:?}; {} server bytes",
                plan.flags,
                config.trust,
                config.limits,
                plan.chunks,
                plan.data.len()
            );
        }
        let result = std::panic::catch_unwind(|| {
            if target == "session" {
                match session::drive(&data) {
                    session::End::Complete(outcome) => println!(
                        "complete: {} certificates, {:?}, {}",
                        outcome.chain.len(),
                        outcome.verdict,
                        outcome.protocol_name()
                    ),
                    session::End::Failed(error) => println!("error: {error:?}\n       {error}"),
                }
            } else {
                targets::run(&target, &data);
            }
        });
        println!(
            "{}",
            if result.is_ok() {
                "properties hold"
            } else {
                "PROPERTY FAILED"
            }
        );
    }
}
