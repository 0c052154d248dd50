//! The proxy-wasm glue: root and stream contexts around [`crate::watch`].
//!
//! Built for wasm32 only: proxy-wasm's host calls are imports of the proxy.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MetricType, PeerType};

use crate::watch::{Config, Connection, Direction, Metrics, Plugin, FETCH_CHUNK};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Root { shared: Rc::new(RefCell::new(Shared::default())) })
    });
}}

/// The proxy's metrics, by name; ids are defined once and cached.
#[derive(Default)]
struct HostMetrics {
    ids: HashMap<String, u32>,
}

impl HostMetrics {
    fn id(&mut self, name: &str, kind: MetricType) -> Option<u32> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(kind, name).ok()?;
        self.ids.insert(name.into(), id);
        Some(id)
    }
}

impl Metrics for HostMetrics {
    fn increment(&mut self, name: &str, by: u64) {
        if let Some(id) = self.id(name, MetricType::Counter) {
            let _ = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
        }
    }

    fn set(&mut self, name: &str, value: u64) {
        if let Some(id) = self.id(name, MetricType::Gauge) {
            let _ = hostcalls::record_metric(id, value);
        }
    }
}

#[derive(Default)]
struct Shared {
    plugin: Plugin,
    metrics: HostMetrics,
}

struct Root {
    shared: Rc<RefCell<Shared>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let text = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        match Config::parse(&text) {
            Ok(config) => {
                let expected = config.expected.len();
                self.shared.borrow_mut().plugin = Plugin::new(config);
                let _ = hostcalls::log(
                    LogLevel::Info,
                    &format!("certpull: watching TLS handshakes, {expected} expected leaves"),
                );
                true
            }
            Err(error) => {
                let _ = hostcalls::log(LogLevel::Error, &format!("certpull: {error}"));
                false
            }
        }
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(Stream {
            shared: self.shared.clone(),
            connection: Connection::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }
}

struct Stream {
    shared: Rc<RefCell<Shared>>,
    connection: Connection,
}

impl Stream {
    /// Reads the callback's buffer in chunks, only as long as the watcher wants bytes.
    fn watch(&mut self, direction: Direction, buffer: BufferType, size: usize) {
        let now = hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut start = 0;
        while start < size && self.connection.wants(direction) {
            let want = FETCH_CHUNK.min(size.saturating_sub(start));
            let Ok(Some(bytes)) = hostcalls::get_buffer(buffer, start, want) else {
                return;
            };
            if bytes.is_empty() {
                return;
            }
            start = start.saturating_add(bytes.len());
            let mut shared = self.shared.borrow_mut();
            let Shared { plugin, metrics } = &mut *shared;
            self.connection
                .observe(direction, &bytes, now, plugin, metrics);
        }
    }
}

impl Context for Stream {}

impl StreamContext for Stream {
    fn on_new_connection(&mut self) -> Action {
        Action::Continue
    }

    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        self.watch(Direction::Downstream, BufferType::DownstreamData, data_size);
        Action::Continue
    }

    fn on_upstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        self.watch(Direction::Upstream, BufferType::UpstreamData, data_size);
        Action::Continue
    }

    fn on_downstream_close(&mut self, _peer_type: PeerType) {}

    fn on_upstream_close(&mut self, _peer_type: PeerType) {}
}
