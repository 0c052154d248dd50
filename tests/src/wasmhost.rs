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

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{
    Caller, Engine, Extern, Instance, Linker, Memory, Module, Store, TypedFunc, Val, ValType,
};

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

// ---------------------------------------------------------------------------------------------
// The pull module
// ---------------------------------------------------------------------------------------------

/// Status and error codes of the pull ABI (see wasm-plugin/pull).
pub mod abi {
    pub const NEEDS_INPUT: i32 = 0;
    pub const COMPLETE: i32 = 1;
    pub const ERR_ARGUMENT: i32 = -1;
    pub const ERR_REJECTED: i32 = -2;
    pub const ERR_TLS: i32 = -3;
    pub const ERR_CLOSED: i32 = -4;
    pub const ERR_NOT_TLS: i32 = -5;
    pub const ERR_LIMIT: i32 = -7;
    pub const VERDICT_VALID: i32 = 0;
    pub const VERDICT_NOT_CHECKED: i32 = 1;
    pub const VERDICT_UNKNOWN_ISSUER: i32 = 2;
    pub const VERDICT_NAME_MISMATCH: i32 = 3;
}

/// The pull host's state: randomness calls, for the record.
#[derive(Default)]
pub struct PullState {
    /// Bytes of randomness handed to the module.
    pub random_bytes: usize,
}

/// `certpull_session_new_with_flags(name, name_len, starttls, anchors, anchors_len,
/// unix_seconds, flags)`.
type SessionNew = TypedFunc<(u32, u32, u32, u32, u32, u64, u32), i32>;

/// One instance of the pull module.
pub struct PullHost {
    store: Store<PullState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    new: SessionNew,
    feed: TypedFunc<(i32, u32, u32), i32>,
    feed_eof: TypedFunc<i32, i32>,
    advance: TypedFunc<i32, i32>,
    take_output: TypedFunc<(i32, u32, u32), i32>,
    capacity: TypedFunc<i32, i32>,
    verdict: TypedFunc<i32, i32>,
    session_free: TypedFunc<i32, i32>,
    instance: Instance,
    /// A host block of [`BUFFER`] bytes in the module's memory, reused for every transfer.
    buffer: u32,
}

/// The size of the host's transfer block in module memory.
pub const BUFFER: u32 = 64 * 1024;

/// What a pull through the module gave.
#[derive(Debug, Clone)]
pub struct WasmPull {
    /// The last `advance` status (1 complete, < 0 an error code).
    pub status: i32,
    /// The chain as PEM (empty when none was captured).
    pub chain_pem: String,
    /// The summary JSON.
    pub summary: serde_json::Value,
    /// The verdict code.
    pub verdict: i32,
    /// The error text (empty without an error).
    pub error: String,
}

impl PullHost {
    /// Instantiates the pull module with its one import, `env.certpull_random` (filled from
    /// the operating system's random source).
    pub fn new(module: &Module) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(engine());
        linker.func_wrap(
            "env",
            "certpull_random",
            |mut caller: Caller<'_, PullState>, ptr: u32, len: u32| -> i32 {
                let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                    return 1;
                };
                let mut bytes = vec![0u8; len as usize];
                if fill_random(&mut bytes).is_err() {
                    return 1;
                }
                caller.data_mut().random_bytes += bytes.len();
                match memory.write(&mut caller, ptr as usize, &bytes) {
                    Ok(()) => 0,
                    Err(_) => 1,
                }
            },
        )?;
        let mut store = Store::new(engine(), PullState::default());
        let instance = linker.instantiate(&mut store, module)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| wasmtime::format_err!("no memory export"))?;
        let f = |store: &mut Store<PullState>, name: &str| {
            instance
                .get_func(&mut *store, name)
                .ok_or_else(|| wasmtime::format_err!("missing export {name}"))
        };
        let alloc = f(&mut store, "certpull_alloc")?.typed(&store)?;
        let free = f(&mut store, "certpull_free")?.typed(&store)?;
        let new = f(&mut store, "certpull_session_new_with_flags")?.typed(&store)?;
        let feed = f(&mut store, "certpull_session_feed")?.typed(&store)?;
        let feed_eof = f(&mut store, "certpull_session_feed_eof")?.typed(&store)?;
        let advance = f(&mut store, "certpull_session_advance")?.typed(&store)?;
        let take_output = f(&mut store, "certpull_session_take_output")?.typed(&store)?;
        let capacity = f(&mut store, "certpull_session_receive_capacity")?.typed(&store)?;
        let verdict = f(&mut store, "certpull_session_verdict")?.typed(&store)?;
        let session_free = f(&mut store, "certpull_session_free")?.typed(&store)?;
        let buffer = alloc.call(&mut store, BUFFER)?;
        wasmtime::ensure!(buffer != 0, "certpull_alloc failed");
        Ok(Self {
            store,
            memory,
            alloc,
            free,
            new,
            feed,
            feed_eof,
            advance,
            take_output,
            capacity,
            verdict,
            session_free,
            instance,
            buffer,
        })
    }

    /// `certpull_abi_version()`.
    pub fn abi_version(&mut self) -> wasmtime::Result<u32> {
        let f: TypedFunc<(), u32> = self
            .instance
            .get_typed_func(&mut self.store, "certpull_abi_version")?;
        f.call(&mut self.store, ())
    }

    /// The module's memory size, in 64 KiB pages.
    pub fn memory_pages(&self) -> u64 {
        self.memory.size(&self.store)
    }

    /// Bytes of randomness handed out so far.
    pub fn random_bytes(&self) -> usize {
        self.store.data().random_bytes
    }

    /// Copies `data` into a fresh module block; returns (ptr, len). Free with [`Self::release`].
    fn put(&mut self, data: &[u8]) -> wasmtime::Result<(u32, u32)> {
        if data.is_empty() {
            return Ok((0, 0));
        }
        let len = u32::try_from(data.len())?;
        let ptr = self.alloc.call(&mut self.store, len)?;
        wasmtime::ensure!(ptr != 0, "certpull_alloc({len}) failed");
        self.memory.write(&mut self.store, ptr as usize, data)?;
        Ok((ptr, len))
    }

    fn release(&mut self, (ptr, len): (u32, u32)) -> wasmtime::Result<()> {
        if len > 0 {
            self.free.call(&mut self.store, (ptr, len))?;
        }
        Ok(())
    }

    /// `certpull_session_new_with_flags`: a handle, or (code, `certpull_last_error` text).
    pub fn session(
        &mut self,
        name: &str,
        starttls: u32,
        anchors_pem: &[u8],
        now: u64,
        flags: u32,
    ) -> wasmtime::Result<Result<i32, (i32, String)>> {
        let name_block = self.put(name.as_bytes())?;
        let anchors_block = self.put(anchors_pem)?;
        let handle = self.new.call(
            &mut self.store,
            (
                name_block.0,
                name_block.1,
                starttls,
                anchors_block.0,
                anchors_block.1,
                now,
                flags,
            ),
        )?;
        self.release(name_block)?;
        self.release(anchors_block)?;
        if handle > 0 {
            return Ok(Ok(handle));
        }
        let text = self.string_from("certpull_last_error", None)?;
        Ok(Err((handle, text)))
    }

    /// `certpull_session_feed` (in pieces of at most [`BUFFER`] bytes).
    pub fn feed(&mut self, handle: i32, data: &[u8]) -> wasmtime::Result<i32> {
        for piece in data.chunks(BUFFER as usize) {
            self.memory
                .write(&mut self.store, self.buffer as usize, piece)?;
            let status = self.feed.call(
                &mut self.store,
                (handle, self.buffer, u32::try_from(piece.len())?),
            )?;
            if status != 0 {
                return Ok(status);
            }
        }
        Ok(0)
    }

    /// `certpull_session_feed_eof`.
    pub fn feed_eof(&mut self, handle: i32) -> wasmtime::Result<i32> {
        self.feed_eof.call(&mut self.store, handle)
    }

    /// `certpull_session_advance`.
    pub fn advance(&mut self, handle: i32) -> wasmtime::Result<i32> {
        self.advance.call(&mut self.store, handle)
    }

    /// `certpull_session_receive_capacity`.
    pub fn receive_capacity(&mut self, handle: i32) -> wasmtime::Result<i32> {
        self.capacity.call(&mut self.store, handle)
    }

    /// All pending output (`certpull_session_take_output` until it gives 0).
    pub fn take_output(&mut self, handle: i32) -> wasmtime::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let n = self
                .take_output
                .call(&mut self.store, (handle, self.buffer, BUFFER))?;
            wasmtime::ensure!(n >= 0, "take_output: {n}");
            if n == 0 {
                return Ok(out);
            }
            let start = self.buffer as usize;
            out.extend_from_slice(&self.memory.data(&self.store)[start..start + n as usize]);
        }
    }

    /// `certpull_session_verdict`.
    pub fn verdict(&mut self, handle: i32) -> wasmtime::Result<i32> {
        self.verdict.call(&mut self.store, handle)
    }

    /// `certpull_session_free`.
    pub fn free_session(&mut self, handle: i32) -> wasmtime::Result<i32> {
        self.session_free.call(&mut self.store, handle)
    }

    /// A string getter (`certpull_session_chain_pem`, `…_summary_json`, `…_error`,
    /// `certpull_last_error`), growing the block when the text is longer than it.
    pub fn string_from(&mut self, export: &str, handle: Option<i32>) -> wasmtime::Result<String> {
        let mut cap = BUFFER;
        let mut block = self.buffer;
        loop {
            let len = match handle {
                Some(h) => {
                    let f: TypedFunc<(i32, u32, u32), i32> =
                        self.instance.get_typed_func(&mut self.store, export)?;
                    f.call(&mut self.store, (h, block, cap))?
                }
                None => {
                    let f: TypedFunc<(u32, u32), i32> =
                        self.instance.get_typed_func(&mut self.store, export)?;
                    f.call(&mut self.store, (block, cap))?
                }
            };
            wasmtime::ensure!(len >= 0, "{export}: {len}");
            let len = len as u32;
            if len <= cap {
                let start = block as usize;
                let text = self.memory.data(&self.store)[start..start + len as usize].to_vec();
                if block != self.buffer {
                    self.free.call(&mut self.store, (block, cap))?;
                }
                return Ok(String::from_utf8(text)?);
            }
            if block != self.buffer {
                self.free.call(&mut self.store, (block, cap))?;
            }
            cap = len;
            block = self.alloc.call(&mut self.store, cap)?;
            wasmtime::ensure!(block != 0, "certpull_alloc({cap}) failed");
        }
    }

    /// `certpull_keymatch(leaf, spki)`.
    pub fn keymatch(&mut self, leaf: &[u8], spki: &[u8]) -> wasmtime::Result<i32> {
        let leaf_block = self.put(leaf)?;
        let spki_block = self.put(spki)?;
        let f: TypedFunc<(u32, u32, u32, u32), i32> = self
            .instance
            .get_typed_func(&mut self.store, "certpull_keymatch")?;
        let result = f.call(
            &mut self.store,
            (leaf_block.0, leaf_block.1, spki_block.0, spki_block.1),
        )?;
        self.release(leaf_block)?;
        self.release(spki_block)?;
        Ok(result)
    }

    /// The results of a finished (or failed) session.
    pub fn results(&mut self, handle: i32, status: i32) -> wasmtime::Result<WasmPull> {
        let chain_pem = self.string_from("certpull_session_chain_pem", Some(handle))?;
        let json = self.string_from("certpull_session_summary_json", Some(handle))?;
        let summary = serde_json::from_str(&json)
            .map_err(|e| wasmtime::format_err!("summary JSON {e}: {json}"))?;
        let verdict = self.verdict(handle)?;
        let error = self.string_from("certpull_session_error", Some(handle))?;
        Ok(WasmPull {
            status,
            chain_pem,
            summary,
            verdict,
            error,
        })
    }

    /// A whole pull of `name` from `addr`: the host does the socket I/O, the module the TLS.
    pub fn pull_tcp(
        &mut self,
        addr: SocketAddr,
        name: &str,
        anchors_pem: &[u8],
        now: u64,
        flags: u32,
    ) -> wasmtime::Result<WasmPull> {
        let handle = match self.session(name, 0, anchors_pem, now, flags)? {
            Ok(handle) => handle,
            Err((code, text)) => wasmtime::bail!("session_new: {code} {text}"),
        };
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        let mut buf = vec![0u8; BUFFER as usize];
        let status = loop {
            let status = self.advance(handle)?;
            let out = self.take_output(handle)?;
            if !out.is_empty() {
                // A server that already closed makes the last write fail: not the pull's
                // business.
                let _ = stream.write_all(&out);
            }
            if status != abi::NEEDS_INPUT {
                break status;
            }
            let room = (self.receive_capacity(handle)?.max(1) as usize).min(buf.len());
            let n = stream.read(&mut buf[..room])?;
            if n == 0 {
                self.feed_eof(handle)?;
            } else {
                let fed = self.feed(handle, &buf[..n])?;
                if fed != 0 {
                    break fed;
                }
            }
        };
        let result = self.results(handle, status)?;
        self.free_session(handle)?;
        Ok(result)
    }
}

/// The operating system's randomness.
fn fill_random(bytes: &mut [u8]) -> io::Result<()> {
    fs::File::open("/dev/urandom")?.read_exact(bytes)
}

// ---------------------------------------------------------------------------------------------
// The proxy-wasm host
// ---------------------------------------------------------------------------------------------

/// proxy-wasm 0.2.1 status codes.
pub mod status {
    pub const OK: i32 = 0;
    pub const NOT_FOUND: i32 = 1;
    pub const BAD_ARGUMENT: i32 = 2;
    pub const UNIMPLEMENTED: i32 = 12;
}

/// The imports this host really implements.
pub const PROXY_IMPLEMENTED: [&str; 10] = [
    "proxy_log",
    "proxy_get_buffer_bytes",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_get_current_time_nanoseconds",
    "proxy_set_effective_context",
    "proxy_done",
    "proxy_get_property",
];

/// A metric the filter defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// Its name.
    pub name: String,
    /// 0 counter, 1 gauge, 2 histogram.
    pub kind: i32,
    /// Its value.
    pub value: u64,
}

/// What the proxy host holds for the filter.
#[derive(Default)]
pub struct ProxyState {
    /// The plugin configuration handed to `proxy_on_configure`.
    pub config: Vec<u8>,
    /// The data buffer of the callback in progress.
    pub data: Vec<u8>,
    /// Metrics by id (id = index).
    pub metrics: Vec<Metric>,
    /// Log lines (level, text).
    pub logs: Vec<(i32, String)>,
    /// The current time, nanoseconds since the Unix epoch.
    pub now_nanos: u64,
    /// Unimplemented imports that were called.
    pub unimplemented_calls: Vec<String>,
}

/// One instance of the filter with a root context (id 1).
pub struct ProxyHost {
    store: Store<ProxyState>,
    memory: Memory,
    instance: Instance,
    next_context: i32,
}

/// The root context id.
pub const ROOT_CONTEXT: i32 = 1;

fn read_guest(caller: &mut Caller<'_, ProxyState>, ptr: i32, len: i32) -> Option<Vec<u8>> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return None;
    };
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize)?;
    memory.data(&*caller).get(start..end).map(<[u8]>::to_vec)
}

fn write_guest(caller: &mut Caller<'_, ProxyState>, ptr: i32, bytes: &[u8]) -> bool {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return false;
    };
    memory
        .write(&mut *caller, ptr as u32 as usize, bytes)
        .is_ok()
}

fn proxy_linker(module: &Module) -> wasmtime::Result<Linker<ProxyState>> {
    let mut linker: Linker<ProxyState> = Linker::new(engine());
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut caller: Caller<'_, ProxyState>, level: i32, ptr: i32, len: i32| -> i32 {
            match read_guest(&mut caller, ptr, len) {
                Some(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    caller.data_mut().logs.push((level, text));
                    status::OK
                }
                None => status::BAD_ARGUMENT,
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut caller: Caller<'_, ProxyState>,
         kind: i32,
         start: i32,
         max: i32,
         ret_ptr: i32,
         ret_len: i32|
         -> wasmtime::Result<i32> {
            let source = match kind {
                2 | 3 => caller.data().data.clone(),
                7 => caller.data().config.clone(),
                _ => return Ok(status::NOT_FOUND),
            };
            let start = (start as u32 as usize).min(source.len());
            let end = start.saturating_add(max as u32 as usize).min(source.len());
            let bytes = &source[start..end];
            if bytes.is_empty() {
                return Ok(status::NOT_FOUND);
            }
            let malloc = caller
                .get_export("malloc")
                .and_then(Extern::into_func)
                .ok_or_else(|| wasmtime::format_err!("filter exports no malloc"))?
                .typed::<i32, i32>(&caller)?;
            let ptr = malloc.call(&mut caller, bytes.len() as i32)?;
            if ptr == 0 || !write_guest(&mut caller, ptr, bytes) {
                return Ok(status::BAD_ARGUMENT);
            }
            let ok = write_guest(&mut caller, ret_ptr, &(ptr as u32).to_le_bytes())
                && write_guest(&mut caller, ret_len, &(bytes.len() as u32).to_le_bytes());
            Ok(if ok { status::OK } else { status::BAD_ARGUMENT })
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut caller: Caller<'_, ProxyState>, kind: i32, ptr: i32, len: i32, ret_id: i32| -> i32 {
            let Some(name) = read_guest(&mut caller, ptr, len) else {
                return status::BAD_ARGUMENT;
            };
            let name = String::from_utf8_lossy(&name).into_owned();
            let metrics = &mut caller.data_mut().metrics;
            let id = match metrics.iter().position(|m| m.name == name) {
                Some(id) => id,
                None => {
                    metrics.push(Metric {
                        name,
                        kind,
                        value: 0,
                    });
                    metrics.len() - 1
                }
            };
            if write_guest(&mut caller, ret_id, &(id as u32).to_le_bytes()) {
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut caller: Caller<'_, ProxyState>, id: i32, offset: i64| -> i32 {
            match caller.data_mut().metrics.get_mut(id as u32 as usize) {
                Some(metric) => {
                    metric.value = metric.value.saturating_add_signed(offset);
                    status::OK
                }
                None => status::NOT_FOUND,
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut caller: Caller<'_, ProxyState>, id: i32, value: i64| -> i32 {
            match caller.data_mut().metrics.get_mut(id as u32 as usize) {
                Some(metric) => {
                    metric.value = value as u64;
                    status::OK
                }
                None => status::NOT_FOUND,
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut caller: Caller<'_, ProxyState>, id: i32, ret: i32| -> i32 {
            let Some(value) = caller
                .data()
                .metrics
                .get(id as u32 as usize)
                .map(|m| m.value)
            else {
                return status::NOT_FOUND;
            };
            if write_guest(&mut caller, ret, &value.to_le_bytes()) {
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut caller: Caller<'_, ProxyState>, ret: i32| -> i32 {
            let now = caller.data().now_nanos;
            if write_guest(&mut caller, ret, &now.to_le_bytes()) {
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    linker.func_wrap("env", "proxy_set_effective_context", |_: i32| -> i32 {
        status::OK
    })?;
    linker.func_wrap("env", "proxy_done", || -> i32 { status::OK })?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |_: i32, _: i32, _: i32, _: i32| -> i32 { status::NOT_FOUND },
    )?;
    // Every other import the module declares answers "unimplemented" and is recorded.
    for import in module.imports() {
        let name = import.name().to_string();
        if import.module() != "env" || PROXY_IMPLEMENTED.contains(&name.as_str()) {
            continue;
        }
        let Some(ty) = import.ty().func().cloned() else {
            continue;
        };
        let results: Vec<ValType> = ty.results().collect();
        linker.func_new("env", &name.clone(), ty, move |mut caller, _params, out| {
            caller.data_mut().unimplemented_calls.push(name.clone());
            for (slot, ty) in out.iter_mut().zip(&results) {
                *slot = match ty {
                    ValType::I64 => Val::I64(i64::from(status::UNIMPLEMENTED)),
                    _ => Val::I32(status::UNIMPLEMENTED),
                };
            }
            Ok(())
        })?;
    }
    Ok(linker)
}

impl ProxyHost {
    /// Instantiates the filter, runs `_initialize`, creates the root context and configures
    /// it with `config`; `now` is the proxy's clock (Unix seconds). Fails if the plugin
    /// refuses its configuration.
    pub fn new(module: &Module, config: &[u8], now: u64) -> wasmtime::Result<Self> {
        let linker = proxy_linker(module)?;
        let state = ProxyState {
            config: config.to_vec(),
            now_nanos: now.saturating_mul(1_000_000_000),
            ..ProxyState::default()
        };
        let mut store = Store::new(engine(), state);
        let instance = linker.instantiate(&mut store, module)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| wasmtime::format_err!("no memory export"))?;
        let mut host = Self {
            store,
            memory,
            instance,
            next_context: ROOT_CONTEXT + 1,
        };
        if host
            .instance
            .get_func(&mut host.store, "_initialize")
            .is_some()
        {
            host.call::<(), ()>("_initialize", ())?;
        }
        host.call::<(i32, i32), ()>("proxy_on_context_create", (ROOT_CONTEXT, 0))?;
        let started = host.call::<(i32, i32), i32>("proxy_on_vm_start", (ROOT_CONTEXT, 0))?;
        wasmtime::ensure!(started == 1, "proxy_on_vm_start returned {started}");
        let size = i32::try_from(config.len())?;
        let configured =
            host.call::<(i32, i32), i32>("proxy_on_configure", (ROOT_CONTEXT, size))?;
        wasmtime::ensure!(
            configured == 1,
            "proxy_on_configure refused the configuration: {:?}",
            host.store.data().logs
        );
        Ok(host)
    }

    fn call<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
        params: P,
    ) -> wasmtime::Result<R> {
        let f: TypedFunc<P, R> = self.instance.get_typed_func(&mut self.store, name)?;
        f.call(&mut self.store, params)
    }

    /// Sets the proxy's clock (Unix seconds).
    pub fn set_now(&mut self, now: u64) {
        self.store.data_mut().now_nanos = now.saturating_mul(1_000_000_000);
    }

    /// A new connection: creates its stream context; returns its id and the action of
    /// `proxy_on_new_connection`.
    pub fn new_connection(&mut self) -> wasmtime::Result<(i32, i32)> {
        let id = self.next_context;
        self.next_context += 1;
        self.call::<(i32, i32), ()>("proxy_on_context_create", (id, ROOT_CONTEXT))?;
        let action = self.call::<i32, i32>("proxy_on_new_connection", id)?;
        Ok((id, action))
    }

    /// `proxy_on_downstream_data` with `data` as the buffer; returns the action (0 Continue).
    pub fn downstream(&mut self, id: i32, data: &[u8], end: bool) -> wasmtime::Result<i32> {
        self.store.data_mut().data = data.to_vec();
        let size = i32::try_from(data.len())?;
        let action = self.call("proxy_on_downstream_data", (id, size, i32::from(end)));
        self.store.data_mut().data.clear();
        action
    }

    /// `proxy_on_upstream_data` with `data` as the buffer; returns the action.
    pub fn upstream(&mut self, id: i32, data: &[u8], end: bool) -> wasmtime::Result<i32> {
        self.store.data_mut().data = data.to_vec();
        let size = i32::try_from(data.len())?;
        let action = self.call("proxy_on_upstream_data", (id, size, i32::from(end)));
        self.store.data_mut().data.clear();
        action
    }

    /// Closes a connection: both close callbacks, then done, log and delete.
    pub fn close(&mut self, id: i32) -> wasmtime::Result<()> {
        self.call::<(i32, i32), ()>("proxy_on_downstream_connection_close", (id, 2))?;
        self.call::<(i32, i32), ()>("proxy_on_upstream_connection_close", (id, 2))?;
        let done = self.call::<i32, i32>("proxy_on_done", id)?;
        wasmtime::ensure!(done == 1, "proxy_on_done returned {done}");
        self.call::<i32, ()>("proxy_on_log", id)?;
        self.call::<i32, ()>("proxy_on_delete", id)?;
        Ok(())
    }

    /// Replays a recorded connection (in the recorded pieces), closes it, and returns every
    /// action the filter answered.
    pub fn replay(&mut self, recording: &[(Flow, Vec<u8>)]) -> wasmtime::Result<Vec<i32>> {
        let (id, action) = self.new_connection()?;
        let mut actions = vec![action];
        for (flow, bytes) in recording {
            actions.push(match flow {
                Flow::ClientToServer => self.downstream(id, bytes, false)?,
                Flow::ServerToClient => self.upstream(id, bytes, false)?,
            });
        }
        self.close(id)?;
        Ok(actions)
    }

    /// Every metric by name.
    pub fn metrics(&self) -> BTreeMap<String, u64> {
        self.store
            .data()
            .metrics
            .iter()
            .map(|m| (m.name.clone(), m.value))
            .collect()
    }

    /// One metric's value.
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.store
            .data()
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    /// The host state (logs, unimplemented calls).
    pub fn state(&self) -> &ProxyState {
        self.store.data()
    }

    /// The filter's memory size, in 64 KiB pages.
    pub fn memory_pages(&self) -> u64 {
        self.memory.size(&self.store)
    }
}

// ---------------------------------------------------------------------------------------------
// Recording real traffic
// ---------------------------------------------------------------------------------------------

/// Pieces of a connection, each with its direction, in the order they were read.
pub type Recording = Vec<(Flow, Vec<u8>)>;

/// The direction of a recorded piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// From the client (the proxy's downstream).
    ClientToServer,
    /// From the server (the proxy's upstream).
    ServerToClient,
}

/// Runs `client` against a relay on 127.0.0.1 that forwards to `server` and records every piece
/// read in each direction, in the order read. Returns the recording once both sides closed.
pub fn record_through_relay(server: SocketAddr, client: impl FnOnce(SocketAddr)) -> Recording {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let relay_addr = listener.local_addr().expect("relay address");
    let log: Arc<Mutex<Recording>> = Arc::default();
    let relay = {
        let log = log.clone();
        thread::spawn(move || {
            let (downstream, _) = listener.accept().expect("accept");
            let upstream = TcpStream::connect(server).expect("connect to server");
            for s in [&downstream, &upstream] {
                s.set_read_timeout(Some(Duration::from_secs(20))).ok();
                s.set_nodelay(true).ok();
            }
            let pump = |mut from: TcpStream, mut to: TcpStream, flow: Flow, log: Arc<Mutex<_>>| {
                thread::spawn(move || {
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                {
                                    let mut log: std::sync::MutexGuard<'_, Recording> =
                                        log.lock().expect("log");
                                    log.push((flow, buf[..n].to_vec()));
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                })
            };
            let a = pump(
                downstream.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
                Flow::ClientToServer,
                log.clone(),
            );
            let b = pump(upstream, downstream, Flow::ServerToClient, log);
            let _ = a.join();
            let _ = b.join();
        })
    };
    client(relay_addr);
    relay.join().expect("relay thread");
    let recording = log.lock().expect("log").clone();
    recording
}

/// `openssl s_client` through `addr` with SNI `name` and the given version flag (`-tls1_2`,
/// `-tls1_3`), offering ALPN `h2,http/1.1`; it completes the handshake, then closes.
pub fn openssl_client(addr: SocketAddr, name: &str, version_flag: &str) {
    let output = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            name,
        ])
        .args([version_flag, "-alpn", "h2,http/1.1", "-brief"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl s_client");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CONNECTION ESTABLISHED") || stderr.contains("Verification"),
        "openssl s_client did not complete the handshake: {stderr}"
    );
}

/// Pseudo-random bytes (xorshift), reproducible from `seed`.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
