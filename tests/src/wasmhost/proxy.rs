//! [`ProxyHost`]: a minimal proxy-wasm 0.2.1 host for `certpull-proxy.wasm` (network filter
//! callbacks, buffers, metrics, logs, time).

use std::collections::BTreeMap;

use wasmtime::{Caller, Extern, Instance, Linker, Memory, Module, Store, TypedFunc, Val, ValType};

use super::{engine, Flow};

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
