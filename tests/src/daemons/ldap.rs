//! OpenLDAP's slapd: StartTLS needs no database, only the TLS settings.

use std::fmt::Write as _;

use super::{daemon_account, require, start, Daemon, Launch, Tls};
use crate::pki::ServerCert;

/// slapd (`slapd -d 0 -h ldap://127.0.0.1:PORT/ -f slapd.conf`), foreground, with a
/// `slapd.conf` holding `TLSCertificateFile` (the full chain), `TLSCertificateKeyFile` and
/// `TLSCACertificateFile` (the root), or no TLS setting at all with [`Tls::Disabled`]; as root it
/// drops to `openldap` (`-u openldap -g openldap`), whose copy of the key it reads. Service
/// `"ldap"`.
pub fn slapd(cert: &ServerCert, tls: Tls) -> Option<Daemon> {
    let slapd = require("OpenLDAP slapd", &["/usr/sbin/slapd"], "slapd")?;
    let owner = daemon_account("openldap");
    Some(start("slapd", owner, &["ldap"], |dir, ports| {
        let run = dir.mkdir("run", 0o755);
        let mut conf = format!(
            "pidfile {run}/slapd.pid\nargsfile {run}/slapd.args\n",
            run = run.display()
        );
        if tls == Tls::Enabled {
            let files = dir.tls_files(cert);
            let ca = dir.join("tls/ca.pem");
            std::fs::copy(&cert.ca, &ca).expect("copy ca.pem");
            write!(
                conf,
                "TLSCertificateFile {fullchain}\nTLSCertificateKeyFile {key}\n\
                 TLSCACertificateFile {ca}\n",
                fullchain = files.fullchain.display(),
                key = files.key.display(),
                ca = ca.display(),
            )
            .expect("format");
        }
        let file = dir.write("slapd.conf", &conf);
        let mut launch = Launch::as_invoker(dir, &slapd)
            .args(["-d", "0", "-h"])
            .arg(format!("ldap://127.0.0.1:{}/", ports[0]))
            .arg("-f")
            .arg(file);
        if let Some(a) = dir.owner() {
            launch = launch.args(["-u", &a.name, "-g", &a.name]);
        }
        launch
    }))
}
