//! Sockets with one deadline: address parsing, resolution, connect, and a stream whose every
//! read and write is bounded by what is left of the deadline.

use std::io::{self, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::exit::{Class, CliError, Result};

/// Where to connect, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parses `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT`, or a bare IPv6 literal.
    pub fn parse(text: &str, default_port: u16) -> Result<Self> {
        let bad = |why: &str| CliError::usage(format!("invalid address {text:?}: {why}"));
        if text.is_empty() {
            return Err(bad("empty"));
        }
        if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("missing ']' after an IPv6 literal"))?;
            host.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address between the brackets"))?;
            let port = match after {
                "" => default_port,
                _ => parse_port(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("junk after ']'"))?,
                )
                .ok_or_else(|| bad("invalid port"))?,
            };
            return Ok(Self {
                host: host.to_string(),
                port,
            });
        }
        if text.parse::<std::net::Ipv6Addr>().is_ok() {
            return Ok(Self {
                host: text.to_string(),
                port: default_port,
            });
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(port).ok_or_else(|| bad("invalid port"))?),
            None => (text, default_port),
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(bad("not a host name or address"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }

    /// The addresses to try, in the resolver's order.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let addresses: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| {
                CliError::new(Class::Network, format!("cannot resolve {}: {e}", self.host))
            })?
            .collect();
        if addresses.is_empty() {
            return Err(CliError::new(
                Class::Network,
                format!("{} resolves to no address", self.host),
            ));
        }
        Ok(addresses)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn parse_port(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|port| *port != 0)
}

/// A point in time after which every operation fails with `TimedOut`.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
            budget,
        }
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// What is left, or a `TimedOut` error once nothing is.
    pub fn remaining(&self) -> io::Result<Duration> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
        } else {
            Ok(left)
        }
    }
}

/// Connects to the first address that answers before the deadline.
pub fn connect(
    addresses: &[SocketAddr],
    deadline: Deadline,
) -> io::Result<(TcpStream, SocketAddr)> {
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for address in addresses {
        let remaining = deadline.remaining()?;
        match TcpStream::connect_timeout(address, remaining) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok((stream, *address));
            }
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// A TCP stream whose reads and writes fail with `TimedOut` once the deadline has passed.
pub struct DeadlineStream {
    stream: TcpStream,
    deadline: Deadline,
}

impl DeadlineStream {
    pub fn new(stream: TcpStream, deadline: Deadline) -> Self {
        Self { stream, deadline }
    }
}

/// Socket timeouts surface as `WouldBlock` on Unix; both mean the deadline passed.
fn deadline_error(error: io::Error) -> io::Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "deadline passed")
        }
        _ => error,
    }
}

impl embedded_io::ErrorType for DeadlineStream {
    type Error = io::Error;
}

impl embedded_io::Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream
            .set_read_timeout(Some(self.deadline.remaining()?))?;
        loop {
            match self.stream.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map_err(deadline_error),
            }
        }
    }
}

impl embedded_io::Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream
            .set_write_timeout(Some(self.deadline.remaining()?))?;
        loop {
            match self.stream.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map_err(deadline_error),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn addresses_parse_with_and_without_ports() {
        assert_eq!(
            Endpoint::parse("192.0.2.10", 443).unwrap(),
            endpoint("192.0.2.10", 443)
        );
        assert_eq!(
            Endpoint::parse("192.0.2.10:8443", 443).unwrap(),
            endpoint("192.0.2.10", 8443)
        );
        assert_eq!(
            Endpoint::parse("[2001:db8::1]:8443", 443).unwrap(),
            endpoint("2001:db8::1", 8443)
        );
        assert_eq!(Endpoint::parse("[::1]", 443).unwrap(), endpoint("::1", 443));
        assert_eq!(
            Endpoint::parse("2001:db8::1", 443).unwrap(),
            endpoint("2001:db8::1", 443)
        );
        assert_eq!(
            Endpoint::parse("peer.example:25", 443).unwrap(),
            endpoint("peer.example", 25)
        );
    }

    #[test]
    fn bad_addresses_are_usage_errors() {
        for text in [
            "",
            "host:",
            "host:0",
            "host:99999",
            "[::1",
            "[nope]:1",
            "[::1]x",
            "a b",
        ] {
            let error = Endpoint::parse(text, 443).unwrap_err();
            assert_eq!(error.class, Class::Usage, "{text}");
        }
    }

    #[test]
    fn display_brackets_ipv6() {
        assert_eq!(endpoint("::1", 443).to_string(), "[::1]:443");
        assert_eq!(endpoint("127.0.0.1", 8443).to_string(), "127.0.0.1:8443");
    }
}
