//! [`PullHost`]: drives the pull module's C ABI (`certpull.wasm`), doing the socket I/O itself.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use wasmtime::{Caller, Extern, Instance, Linker, Memory, Module, Store, TypedFunc};

use super::engine;

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
