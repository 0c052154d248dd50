//! Pull from every source at once, within one deadline. A host name stands for every address
//! it resolves to, so `--from www.example.com` pulls from the whole fleet behind the name.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use certpull_core::{PullError, ValidationFailure};

use crate::exit::{Class, CliError, Result};
use crate::net::{Deadline, Endpoint};
use crate::pull::{self, Pulled};

/// Pulls running at once, at most.
const MAX_PARALLEL: usize = 16;

/// The addresses to pull from: every address of every source, each once. A source that cannot
/// be resolved is reported under its own name.
fn expand(sources: &[Endpoint], deadline: Deadline) -> Vec<(String, Result<SocketAddr>)> {
    let mut targets: Vec<(String, Result<SocketAddr>)> = Vec::new();
    for source in sources {
        match pull::resolve_within(source, deadline) {
            Ok(addresses) => {
                for address in addresses {
                    if !targets
                        .iter()
                        .any(|(_, t)| t.as_ref().ok() == Some(&address))
                    {
                        targets.push((address.to_string(), Ok(address)));
                    }
                }
            }
            Err(error) => targets.push((source.to_string(), Err(error))),
        }
    }
    targets
}

/// A leaf that is not valid yet is a refusal for `sync` (the renewing peer is early, or its
/// clock is): the policy's rule, though rustls' verifier is the one that notices it first.
fn class_of(error: &PullError) -> Class {
    match error {
        PullError::Rejected(rejected)
            if matches!(rejected.failure, ValidationFailure::NotYetValid { .. }) =>
        {
            Class::Refused
        }
        other => pull::class_of(other),
    }
}

/// Pulls `name` from all `sources` concurrently; results come back in source order.
pub fn pull_all(
    request: &pull::Request,
    sources: &[Endpoint],
    deadline: Deadline,
) -> Vec<(String, Result<Pulled, CliError>)> {
    let targets = expand(sources, deadline);
    let results: Vec<Mutex<Option<Result<Pulled>>>> =
        targets.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = targets.len().clamp(1, MAX_PARALLEL);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, target)) = targets.get(index) else {
                    break;
                };
                let result = match target {
                    Ok(address) => {
                        let endpoint = Endpoint {
                            host: address.ip().to_string(),
                            port: address.port(),
                        };
                        pull::pull_classified(request, &endpoint, deadline, class_of)
                    }
                    Err(error) => Err(CliError::new(error.class, error.message.clone())),
                };
                if let Ok(mut slot) = results[index].lock() {
                    *slot = Some(result);
                }
            });
        }
    });
    targets
        .into_iter()
        .zip(results)
        .map(|((label, _), slot)| {
            let result = slot.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(CliError::new(
                    crate::exit::Class::Internal,
                    "a pull thread died",
                ))
            });
            (label, result)
        })
        .collect()
}
