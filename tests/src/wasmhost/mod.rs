//! wasmtime hosts for the WASM plugin tests.
//!
//! - [`modules`] builds `certpull.wasm` and `certpull-proxy.wasm` once per test process (a
//!   `cargo build --target wasm32-unknown-unknown --release` of the two plugin crates, in their
//!   own target directory `target/wasm-plugin` so that it never waits on the lock of the
//!   running `cargo test`), or takes them from `$CERTPULL_WASM_DIR`.
//! - [`engine`] and [`load`]: one wasmtime engine, compiled modules cached on disk
//!   (`Module::serialize`, keyed by the module's SHA-256 and the engine's compatibility hash).
//! - [`PullHost`]: drives the pull module's C ABI, doing the socket I/O itself.
//! - [`ProxyHost`]: a minimal proxy-wasm 0.2.1 host (network filter callbacks, buffers,
//!   metrics, logs, time); every `proxy_*` import the filter declares is defined, the ones it
//!   does not use answer "unimplemented" (12) and are recorded.
//! - [`record_through_relay`]: a TCP relay on 127.0.0.1 that records both directions of a real
//!   TLS connection, to replay through the filter.

mod proxy;
mod pull;
mod relay;

pub use proxy::{status, Metric, ProxyHost, ProxyState, PROXY_IMPLEMENTED, ROOT_CONTEXT};
pub use pull::{abi, PullHost, PullState, WasmPull, BUFFER};
pub use relay::{noise, openssl_client, record_through_relay, Flow, Recording};

use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// The two plugin modules.
#[derive(Debug, Clone)]
pub struct Modules {
    /// `certpull.wasm`, the pull module.
    pub pull: PathBuf,
    /// `certpull-proxy.wasm`, the proxy-wasm filter.
    pub proxy: PathBuf,
}

/// The workspace's target directory (`$CARGO_TARGET_DIR`, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_dir().join(dir)
            }
        }
        None => workspace_dir().join("target"),
    }
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The built modules: from `$CERTPULL_WASM_DIR` (holding `certpull.wasm` and
/// `certpull-proxy.wasm`) if set, else built once per process with cargo.
pub fn modules() -> &'static Modules {
    static MODULES: OnceLock<Modules> = OnceLock::new();
    MODULES.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CERTPULL_WASM_DIR") {
            let dir = PathBuf::from(dir);
            let modules = Modules {
                pull: dir.join("certpull.wasm"),
                proxy: dir.join("certpull-proxy.wasm"),
            };
            assert!(
                modules.pull.exists() && modules.proxy.exists(),
                "CERTPULL_WASM_DIR={} lacks certpull.wasm or certpull-proxy.wasm",
                dir.display()
            );
            return modules;
        }
        build_modules()
    })
}

/// `cargo build -p certpull-wasm -p certpull-proxy --target wasm32-unknown-unknown --release`
/// into `target/wasm-plugin`, then copies the outputs to their documented names.
fn build_modules() -> Modules {
    let target = target_dir().join("wasm-plugin");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let output = Command::new(cargo)
        .current_dir(workspace_dir())
        .args([
            "build",
            "-p",
            "certpull-wasm",
            "-p",
            "certpull-proxy",
            "--target",
            "wasm32-unknown-unknown",
            "--release",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo to build the WASM modules");
    assert!(
        output.status.success(),
        "building the WASM modules failed (is the wasm32-unknown-unknown target installed? \
         `rustup target add wasm32-unknown-unknown`):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let release = target.join("wasm32-unknown-unknown").join("release");
    let modules = Modules {
        pull: target.join("certpull.wasm"),
        proxy: target.join("certpull-proxy.wasm"),
    };
    copy_if_changed(&release.join("certpull.wasm"), &modules.pull);
    copy_if_changed(&release.join("certpull_proxy.wasm"), &modules.proxy);
    eprintln!(
        "wasm modules ready in {:.1?} ({})",
        started.elapsed(),
        target.display()
    );
    modules
}

fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    if fs::read(to).ok().as_deref() != Some(bytes.as_slice()) {
        let tmp = to.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, &bytes).expect("write module copy");
        fs::rename(&tmp, to).expect("rename module copy");
    }
}

/// The one engine of the process (Cranelift, default settings).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::default)
}

/// Compiles a module without the cache, and how long that took.
pub fn compile_uncached(path: &Path) -> (Module, Duration) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let started = Instant::now();
    let module = Module::new(engine(), &bytes).expect("compile module");
    (module, started.elapsed())
}

/// A compiled module, from the on-disk cache when it holds this module for this engine.
pub fn load(path: &Path) -> Module {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Module>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(module) = loaded.lock().expect("module map").get(path) {
        return module.clone();
    }
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine().precompile_compatibility_hash().hash(&mut hasher);
    let key = format!(
        "{}-{:016x}",
        &crate::chain::hex(&Sha256::digest(&bytes))[..24],
        hasher.finish()
    );
    let dir = target_dir().join("wasm-plugin").join("cwasm");
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("module");
    let cached = dir.join(format!("{stem}-{key}.cwasm"));
    // SAFETY: the file was written by `Module::serialize` of this engine configuration (the
    // key includes its compatibility hash), and wasmtime checks it again on load.
    let module = match unsafe { Module::deserialize_file(engine(), &cached) } {
        Ok(module) => module,
        Err(_) => {
            let module = Module::new(engine(), &bytes).expect("compile module");
            let _ = fs::create_dir_all(&dir);
            if let Ok(serialized) = module.serialize() {
                let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
                if fs::write(&tmp, serialized).is_ok() {
                    let _ = fs::rename(&tmp, &cached);
                }
            }
            module
        }
    };
    loaded
        .lock()
        .expect("module map")
        .insert(path.to_path_buf(), module.clone());
    module
}

/// The import names of a module, as `module.name`.
pub fn import_names(module: &Module) -> Vec<String> {
    module
        .imports()
        .map(|i| format!("{}.{}", i.module(), i.name()))
        .collect()
}
