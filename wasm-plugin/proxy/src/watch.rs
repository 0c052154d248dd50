//! What the filter learns from one connection's bytes, and the metrics it publishes: the
//! proxy-independent part of the filter, tested on the host.

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use certpull_core::observe::{self, ClientObserver, ObserveError, Progress, ServerObserver};
use certpull_core::{pem, CertSummary};

/// At most this many server names get metrics of their own; later ones share the name
/// [`OVERFLOW_SNI`], so that random SNIs from clients cannot grow memory or metric count.
pub const MAX_SERVER_NAMES: usize = 128;
/// At most this many distinct leaves are remembered per server name (the gauge stops there).
pub const MAX_FINGERPRINTS: usize = 16;
/// The label of connections without a server_name extension (or whose ClientHello was not
/// understood).
pub const NO_SNI: &str = "-";
/// The label of server names beyond [`MAX_SERVER_NAMES`].
pub const OVERFLOW_SNI: &str = "other";
/// The most bytes fetched from the proxy per call, so a large buffered chunk is read in pieces.
pub const FETCH_CHUNK: usize = 16 * 1024;

/// Where the filter's numbers go (the proxy's metrics, or a map in tests).
pub trait Metrics {
    /// Adds `by` to the counter `name` (defining it at 0 first if new; `by` may be 0).
    fn increment(&mut self, name: &str, by: u64);
    /// Sets the gauge `name`.
    fn set(&mut self, name: &str, value: u64);
}

/// The names of the metrics, as documented in the README.
pub mod names {
    /// `certpull.handshakes;sni=S;version=V` (counter): server hellos seen, by SNI and version.
    pub fn handshakes(sni: &str, version: &str) -> String {
        format!("certpull.handshakes;sni={sni};version={version}")
    }
    /// `certpull.leaf_days_left;sni=S` (gauge): days until the last seen leaf expires (0 once
    /// expired).
    pub fn days_left(sni: &str) -> String {
        format!("certpull.leaf_days_left;sni={sni}")
    }
    /// `certpull.leaf_fingerprints;sni=S` (gauge): distinct leaves seen for this name.
    pub fn fingerprints(sni: &str) -> String {
        format!("certpull.leaf_fingerprints;sni={sni}")
    }
    /// `certpull.leaf_mismatches;sni=S` (counter): leaves that are not the expected one.
    pub fn mismatches(sni: &str) -> String {
        format!("certpull.leaf_mismatches;sni={sni}")
    }
    /// `certpull.parse_errors;direction=D;reason=R` (counter): connections whose bytes were
    /// not understood, by direction (`downstream`, `upstream`) and reason.
    pub fn parse_errors(direction: &str, reason: &str) -> String {
        format!("certpull.parse_errors;direction={direction};reason={reason}")
    }
}

/// The plugin's configuration: the expected leaf certificates (PEM), if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// SHA-256 of each expected leaf. Empty: no mismatch counting.
    pub expected: Vec<[u8; 32]>,
}

impl Config {
    /// Reads the plugin configuration: empty (or whitespace) for none, else PEM text whose
    /// CERTIFICATE blocks are the expected leaves (several during a rollover).
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let certs = pem::decode_certificates(text)
            .map_err(|e| format!("plugin configuration: expected leaf PEM: {e}"))?;
        let expected = certs
            .iter()
            .map(|der| CertSummary::parse(der).map(|s| s.sha256))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("plugin configuration: expected leaf: {e}"))?;
        Ok(Self { expected })
    }
}

#[derive(Debug, Default)]
struct NameState {
    fingerprints: Vec<[u8; 32]>,
}

/// What the plugin remembers across connections.
#[derive(Debug, Default)]
pub struct Plugin {
    config: Config,
    /// Server names with metrics of their own, at most [`MAX_SERVER_NAMES`].
    names: BTreeMap<String, NameState>,
    /// The shared labels ([`NO_SNI`], [`OVERFLOW_SNI`]): never counted against the cap.
    shared: BTreeMap<&'static str, NameState>,
}

impl Plugin {
    /// A plugin with this configuration.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The label for a server name: itself while there is room, else [`OVERFLOW_SNI`].
    fn label(&mut self, sni: Option<&str>) -> String {
        let Some(sni) = sni else {
            return NO_SNI.into();
        };
        if self.names.contains_key(sni) {
            return sni.into();
        }
        if self.names.len() < MAX_SERVER_NAMES {
            self.names.insert(sni.into(), NameState::default());
            return sni.into();
        }
        OVERFLOW_SNI.into()
    }

    fn leaf_seen(&mut self, label: &str, leaf: &[u8], now: u64, metrics: &mut dyn Metrics) {
        let summary = match CertSummary::parse(leaf) {
            Ok(summary) => summary,
            Err(_) => {
                metrics.increment(&names::parse_errors("upstream", "bad-certificate"), 1);
                return;
            }
        };
        let days = u64::try_from(summary.days_left(now)).unwrap_or(0);
        metrics.set(&names::days_left(label), days);
        let state = match self.names.get_mut(label) {
            Some(state) => state,
            None if label == NO_SNI => self.shared.entry(NO_SNI).or_default(),
            None => self.shared.entry(OVERFLOW_SNI).or_default(),
        };
        if !state.fingerprints.contains(&summary.sha256)
            && state.fingerprints.len() < MAX_FINGERPRINTS
        {
            state.fingerprints.push(summary.sha256);
        }
        let distinct = u64::try_from(state.fingerprints.len()).unwrap_or(u64::MAX);
        metrics.set(&names::fingerprints(label), distinct);
        if !self.config.expected.is_empty() {
            let mismatch = !self.config.expected.contains(&summary.sha256);
            metrics.increment(&names::mismatches(label), u64::from(mismatch));
        }
    }
}

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Bytes from the client.
    Downstream,
    /// Bytes from the server.
    Upstream,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Self::Downstream => "downstream",
            Self::Upstream => "upstream",
        }
    }
}

/// One connection being watched.
#[derive(Debug, Default)]
pub struct Connection {
    client: ClientObserver,
    server: ServerObserver,
    label: Option<String>,
    counted: bool,
}

impl Connection {
    /// A connection with nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether bytes of `direction` are still wanted (the proxy need not copy them otherwise).
    pub fn wants(&self, direction: Direction) -> bool {
        match direction {
            Direction::Downstream => !self.client.is_finished(),
            Direction::Upstream => !self.server.is_finished(),
        }
    }

    /// Bytes held for reassembly right now, both directions.
    pub fn buffered(&self) -> usize {
        self.client
            .buffered()
            .saturating_add(self.server.buffered())
    }

    /// Reads bytes of one direction; `now` is the current Unix time in seconds.
    pub fn observe(
        &mut self,
        direction: Direction,
        data: &[u8],
        now: u64,
        plugin: &mut Plugin,
        metrics: &mut dyn Metrics,
    ) {
        if !self.wants(direction) {
            return;
        }
        let result = match direction {
            Direction::Downstream => self.client.feed(data),
            Direction::Upstream => self.server.feed(data),
        };
        match result {
            Ok(Progress::NeedsMore) => {}
            Ok(Progress::Complete) => {}
            Err(error) => record_error(direction, &error, metrics),
        }
        self.publish(now, plugin, metrics);
    }

    fn publish(&mut self, now: u64, plugin: &mut Plugin, metrics: &mut dyn Metrics) {
        if self.counted {
            return;
        }
        let Some(hello) = self.server.server_hello().copied() else {
            return;
        };
        // The ServerHello answers the ClientHello, which was read before (or never will be).
        let label = match &self.label {
            Some(label) => label.clone(),
            None => {
                let sni = self
                    .client
                    .client_hello()
                    .and_then(|h| h.server_name.as_deref());
                let label = plugin.label(sni);
                self.label = Some(label.clone());
                label
            }
        };
        let flight = self.server.flight();
        if flight.is_none() && !self.server.is_finished() {
            // TLS ≤ 1.2: wait for the Certificate before counting the handshake.
            return;
        }
        self.counted = true;
        metrics.increment(
            &names::handshakes(&label, observe::version_name(hello.version)),
            1,
        );
        let leaf = flight
            .and_then(|f| f.certificates.as_ref())
            .and_then(|chain| chain.first());
        if let Some(leaf) = leaf {
            plugin.leaf_seen(&label, leaf, now, metrics);
        }
    }
}

fn record_error(direction: Direction, error: &ObserveError, metrics: &mut dyn Metrics) {
    metrics.increment(&names::parse_errors(direction.label(), error.code()), 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Map(BTreeMap<String, u64>);

    impl Metrics for Map {
        fn increment(&mut self, name: &str, by: u64) {
            *self.0.entry(name.into()).or_default() += by;
        }
        fn set(&mut self, name: &str, value: u64) {
            self.0.insert(name.into(), value);
        }
    }

    fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![content_type, 3, 3];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut out = vec![kind, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        out.extend_from_slice(body);
        out
    }

    fn client_hello(sni: &str) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[1; 32]);
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
        record(0x16, &message(1, &body))
    }

    fn server_flight(leaf: &[u8]) -> Vec<u8> {
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[2; 32]);
        hello.extend_from_slice(&[0, 0xc0, 0x2b, 0]);
        let mut list = vec![0, (leaf.len() >> 8) as u8, leaf.len() as u8];
        list.extend_from_slice(leaf);
        let mut certificate = vec![0, (list.len() >> 8) as u8, list.len() as u8];
        certificate.extend_from_slice(&list);
        let mut flight = message(2, &hello);
        flight.extend_from_slice(&message(11, &certificate));
        record(0x16, &flight)
    }

    const LEAF_PEM: &[u8] = include_bytes!("../../pull/testdata/leaf.pem");

    fn leaf_der() -> Vec<u8> {
        pem::decode_certificates(LEAF_PEM).unwrap()[0].to_vec()
    }

    #[test]
    fn a_tls12_connection_publishes_every_metric() {
        let mut plugin = Plugin::new(Config::parse(LEAF_PEM).unwrap());
        let mut metrics = Map::default();
        let mut conn = Connection::new();
        let now = 1_800_000_000;
        conn.observe(
            Direction::Downstream,
            &client_hello("WWW.Example.test"),
            now,
            &mut plugin,
            &mut metrics,
        );
        conn.observe(
            Direction::Upstream,
            &server_flight(&leaf_der()),
            now,
            &mut plugin,
            &mut metrics,
        );
        let m = &metrics.0;
        assert_eq!(
            m["certpull.handshakes;sni=www.example.test;version=TLSv1.2"],
            1
        );
        assert_eq!(m["certpull.leaf_fingerprints;sni=www.example.test"], 1);
        assert_eq!(m["certpull.leaf_mismatches;sni=www.example.test"], 0);
        let summary = CertSummary::parse(&leaf_der()).unwrap();
        assert_eq!(
            m["certpull.leaf_days_left;sni=www.example.test"],
            summary.days_left(now) as u64
        );
        assert!(!conn.wants(Direction::Downstream) && !conn.wants(Direction::Upstream));
        assert_eq!(conn.buffered(), 0);
    }

    #[test]
    fn garbage_is_counted_once_per_direction() {
        let mut plugin = Plugin::default();
        let mut metrics = Map::default();
        let mut conn = Connection::new();
        for _ in 0..3 {
            conn.observe(
                Direction::Downstream,
                b"GET / HTTP/1.1\r\n",
                0,
                &mut plugin,
                &mut metrics,
            );
            conn.observe(
                Direction::Upstream,
                &[0x16, 3, 3, 0xff, 0xff],
                0,
                &mut plugin,
                &mut metrics,
            );
        }
        assert_eq!(
            metrics.0,
            BTreeMap::from([
                (
                    "certpull.parse_errors;direction=downstream;reason=not-tls".into(),
                    1
                ),
                (
                    "certpull.parse_errors;direction=upstream;reason=record-too-large".into(),
                    1
                ),
            ])
        );
    }

    #[test]
    fn server_names_beyond_the_cap_share_one_label() {
        let mut plugin = Plugin::default();
        let mut metrics = Map::default();
        for i in 0..MAX_SERVER_NAMES + 10 {
            let mut conn = Connection::new();
            let sni = format!("n{i}.example");
            conn.observe(
                Direction::Downstream,
                &client_hello(&sni),
                0,
                &mut plugin,
                &mut metrics,
            );
            conn.observe(
                Direction::Upstream,
                &server_flight(&leaf_der()),
                0,
                &mut plugin,
                &mut metrics,
            );
        }
        assert_eq!(plugin.names.len(), MAX_SERVER_NAMES);
        assert_eq!(
            m_get(&metrics, "certpull.handshakes;sni=other;version=TLSv1.2"),
            10
        );
    }

    fn m_get(metrics: &Map, name: &str) -> u64 {
        metrics.0.get(name).copied().unwrap_or_default()
    }

    #[test]
    fn configuration_is_pem_or_nothing() {
        assert_eq!(Config::parse(b"  \n"), Ok(Config::default()));
        assert_eq!(Config::parse(LEAF_PEM).unwrap().expected.len(), 1);
        assert!(Config::parse(b"expected: nothing").is_err());
    }
}
