//! Prosody, an XMPP server: client-to-server STARTTLS for one virtual host.

use std::fmt::Write as _;

use super::{daemon_account, require, start, Daemon, Launch, Tls};
use crate::pki::ServerCert;

/// Prosody (`prosody --config FILE -F`) with one `VirtualHost` named after the certificate's
/// name, c2s on 127.0.0.1 (service `"xmpp"`), `ssl = { certificate = fullchain, key = key }`
/// and `c2s_require_encryption` (or no certificate and no encryption required with
/// [`Tls::Disabled`]); s2s, HTTP and direct-TLS ports off. As `prosody` when we are root (it
/// refuses root).
pub fn prosody(cert: &ServerCert, tls: Tls) -> Option<Daemon> {
    let prosody = require("Prosody", &["/usr/bin/prosody"], "prosody")?;
    let owner = daemon_account("prosody");
    Some(start("prosody", owner, &["xmpp"], |dir, ports| {
        let data = dir.mkdir("data", 0o750);
        let certs = dir.mkdir("certs", 0o750);
        let mut conf = format!(
            "pidfile = \"{pid}\"\n\
             data_path = \"{data}\"\n\
             certificates = \"{certs}\"\n\
             daemonize = false\n\
             log = {{ {{ levels = {{ min = \"info\" }}, to = \"console\" }} }}\n\
             modules_enabled = {{ {tls_module}\"saslauth\", \"disco\" }}\n\
             modules_disabled = {{ \"s2s\", \"offline\", \"c2s_bosh\" }}\n\
             c2s_ports = {{ {port} }}\n\
             c2s_interfaces = {{ \"127.0.0.1\" }}\n\
             c2s_direct_tls_ports = {{}}\n\
             legacy_ssl_ports = {{}}\n\
             s2s_ports = {{}}\n\
             http_ports = {{}}\n\
             https_ports = {{}}\n\
             authentication = \"anonymous\"\n\
             c2s_require_encryption = {require}\n\
             VirtualHost \"{name}\"\n",
            pid = data.join("prosody.pid").display(),
            data = data.display(),
            certs = certs.display(),
            port = ports[0],
            require = tls == Tls::Enabled,
            // Without mod_tls Prosody offers no <starttls/> at all (with it but no certificate
            // it still offers STARTTLS and then fails the handshake).
            tls_module = if tls == Tls::Enabled { "\"tls\", " } else { "" },
            name = cert.name,
        );
        if tls == Tls::Enabled {
            let files = dir.tls_files(cert);
            writeln!(
                conf,
                "  ssl = {{ certificate = \"{fullchain}\", key = \"{key}\" }}",
                fullchain = files.fullchain.display(),
                key = files.key.display(),
            )
            .expect("format");
        }
        let file = dir.write("prosody.cfg.lua", &conf);
        Launch::new(dir, &prosody)
            .arg("--config")
            .arg(file)
            .arg("-F")
            .env("HOME", dir.path())
    }))
}
