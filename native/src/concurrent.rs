//! Pull from many endpoints at once, with bounded concurrency. A host name stands for every
//! address it resolves to, so `--from www.example.com` pulls from the whole fleet behind it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use std::time::Duration;

use certpull_core::PullError;

use crate::exit::{Class, CliError, Result};
use crate::net::{Deadline, Endpoint};
use crate::progress::Progress;
use crate::pull::{self, Pulled};

/// The deadline of each pull.
#[derive(Debug, Clone, Copy)]
pub enum Deadlines {
    /// One deadline for all (`sync`: one certificate, one `--timeout`).
    Shared(Deadline),
    /// Each endpoint gets this long from when its own pull starts (`check`).
    PerEndpoint(Duration),
}

impl Deadlines {
    fn start(self) -> Deadline {
        match self {
            Self::Shared(deadline) => deadline,
            Self::PerEndpoint(budget) => Deadline::after(budget),
        }
    }
}

/// Stack of a pull thread: a handshake needs little, and thousands of threads may run.
const THREAD_STACK: usize = 256 * 1024;

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

/// Pulls `request` from all `sources`, `parallel` at a time; results come back in source order,
/// each labelled with its address (or the source's name when it could not be resolved).
/// `progress` learns the number of addresses, then ticks once per finished pull.
pub fn pull_all(
    request: &pull::Request,
    sources: &[Endpoint],
    deadlines: Deadlines,
    parallel: usize,
    classify: fn(&PullError) -> Class,
    progress: &Progress,
) -> Vec<(String, Result<Pulled, CliError>)> {
    let targets = expand(sources, deadlines.start());
    progress.start(targets.len());
    let results: Vec<Mutex<Option<Result<Pulled>>>> =
        targets.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = targets.len().clamp(1, parallel.max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let worker = || loop {
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
                        pull::pull_classified(request, &endpoint, deadlines.start(), classify)
                    }
                    Err(error) => Err(CliError::new(error.class, error.message.clone())),
                };
                if let Ok(mut slot) = results[index].lock() {
                    *slot = Some(result);
                }
                progress.tick();
            };
            let spawned = std::thread::Builder::new()
                .stack_size(THREAD_STACK)
                .spawn_scoped(scope, worker);
            if spawned.is_err() {
                // Out of threads: the ones already running share the work.
                break;
            }
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
