//! vsftpd: FTP with AUTH TLS (RFC 4217).

use super::{is_root, require, start, Daemon, Launch, Tls};
use crate::pki::ServerCert;

/// vsftpd (`vsftpd FILE`) in the foreground (`listen=YES`, `background=NO`) on 127.0.0.1
/// (service `"ftp"`), `ssl_enable=YES` with `rsa_cert_file` = the full chain,
/// `rsa_private_key_file` = the key and `ssl_ciphers=HIGH` (its default cipher list has no
/// ECDSA suite), or `ssl_enable=NO`. Nobody can log in: local users are enabled only because
/// vsftpd refuses to start with every kind of login disabled, and no password is ever sent.
pub fn vsftpd(cert: &ServerCert, tls: Tls) -> Option<Daemon> {
    let vsftpd = require("vsftpd", &["/usr/sbin/vsftpd"], "vsftpd")?;
    let root = is_root();
    Some(start("vsftpd", None, &["ftp"], |dir, ports| {
        let empty = dir.mkdir("empty", 0o555);
        let mut conf = format!(
            "listen=YES\nlisten_ipv6=NO\nbackground=NO\n\
             listen_address=127.0.0.1\nlisten_port={port}\n\
             anonymous_enable=NO\nlocal_enable=YES\nwrite_enable=NO\n\
             seccomp_sandbox=NO\nsecure_chroot_dir={empty}\n\
             xferlog_enable=NO\nvsftpd_log_file=/dev/stderr\n",
            port = ports[0],
            empty = empty.display(),
        );
        if !root {
            conf.push_str("run_as_launching_user=YES\n");
        }
        match tls {
            Tls::Enabled => {
                let files = dir.tls_files(cert);
                conf.push_str(&format!(
                    "ssl_enable=YES\nrsa_cert_file={fullchain}\nrsa_private_key_file={key}\n\
                     ssl_ciphers=HIGH\n",
                    fullchain = files.fullchain.display(),
                    key = files.key.display(),
                ));
            }
            Tls::Disabled => conf.push_str("ssl_enable=NO\n"),
        }
        let file = dir.write("vsftpd.conf", &conf);
        Launch::as_invoker(dir, &vsftpd).arg(file)
    }))
}
