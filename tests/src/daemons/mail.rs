//! Postfix (SMTP) and Dovecot (IMAP, POP3, LMTP), each with a private configuration.

use std::fmt::Write as _;

use super::{daemon_account, is_root, require, skip, start, Daemon, Launch, Tls};
use crate::pki::ServerCert;

/// Postfix's `postfix` command and the `master` it runs.
const POSTFIX: &[&str] = &["/usr/sbin/postfix"];
const POSTFIX_MASTER: &[&str] = &["/usr/lib/postfix/sbin/master"];

/// The Postfix services `smtpd` needs, in `master.cf` syntax (Debian's defaults, unchrooted).
const POSTFIX_SERVICES: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// Postfix's `smtpd` on 127.0.0.1 (service `"smtp"`), by `postfix -c DIR start-fg`: a private
/// `main.cf`/`master.cf`, queue and data directories in the daemon's directory,
/// `smtpd_tls_chain_files = key, fullchain` and `smtpd_tls_security_level = may` (or no
/// `smtpd_tls_*` at all with [`Tls::Disabled`]). Needs root (Postfix's `master` refuses to run
/// as anyone else); runs its daemons as `postfix`.
pub fn postfix(cert: &ServerCert, tls: Tls) -> Option<Daemon> {
    let postfix = require("Postfix", POSTFIX, "postfix")?;
    require("Postfix's master", POSTFIX_MASTER, "postfix")?;
    if !is_root() {
        return skip("Postfix needs root (its master daemon refuses other users)");
    }
    let owner = daemon_account("postfix");
    Some(start("postfix", None, &["smtp"], |dir, ports| {
        let conf = dir.mkdir("conf", 0o755);
        let queue = dir.mkdir("queue", 0o755);
        // The data directory belongs to mail_owner; the queue's subdirectories are made by
        // `postfix-script` (post-install create-missing) with the right owners.
        let data = dir.mkdir("data", 0o700);
        if let Some(a) = &owner {
            std::os::unix::fs::chown(&data, Some(a.uid), Some(a.gid)).expect("chown data");
        }
        let mut main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {queue}\n\
             data_directory = {data}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             myhostname = {name}\n\
             mydestination =\n\
             local_recipient_maps =\n\
             alias_maps =\n\
             alias_database =\n\
             biff = no\n\
             maillog_file = /dev/stdout\n",
            queue = queue.display(),
            data = data.display(),
            name = cert.name,
        );
        if tls == Tls::Enabled {
            let files = dir.tls_files(cert);
            write!(
                main_cf,
                "smtpd_tls_chain_files = {key}, {fullchain}\n\
                 smtpd_tls_security_level = may\n",
                key = files.key.display(),
                fullchain = files.fullchain.display(),
            )
            .expect("format");
        }
        dir.write("conf/main.cf", &main_cf);
        dir.write(
            "conf/master.cf",
            &format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n{POSTFIX_SERVICES}",
                port = ports[0]
            ),
        );
        // `postfix-script start-fg` runs master as its child (in a new session): the pid
        // file names the process that listens and gets the stop signal.
        Launch::as_invoker(dir, &postfix)
            .arg("-c")
            .arg(&conf)
            .arg("start-fg")
            .pid_file(queue.join("pid/master.pid"))
    }))
}

/// Dovecot's `imap` and `pop3` login services and its `lmtp` service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DovecotService {
    Imap,
    Pop3,
    Lmtp,
}

impl DovecotService {
    /// The protocol name, as in Dovecot's `protocols` and certpull's `--starttls`.
    pub fn name(self) -> &'static str {
        match self {
            DovecotService::Imap => "imap",
            DovecotService::Pop3 => "pop3",
            DovecotService::Lmtp => "lmtp",
        }
    }

    /// The binary the service needs, and its Debian package.
    fn binary(self) -> (&'static str, &'static str) {
        match self {
            DovecotService::Imap => ("/usr/lib/dovecot/imap-login", "dovecot-imapd"),
            DovecotService::Pop3 => ("/usr/lib/dovecot/pop3-login", "dovecot-pop3d"),
            DovecotService::Lmtp => ("/usr/lib/dovecot/lmtp", "dovecot-lmtpd"),
        }
    }

    /// The `service` block with one TCP listener on 127.0.0.1:`port` (and the TLS-on-connect
    /// listeners turned off).
    fn block(self, port: u16) -> String {
        match self {
            DovecotService::Imap => format!(
                "service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    \
                 port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n"
            ),
            DovecotService::Pop3 => format!(
                "service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n    \
                 port = {port}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n}}\n"
            ),
            DovecotService::Lmtp => format!(
                "service lmtp {{\n  unix_listener lmtp {{\n    mode = 0600\n  }}\n  \
                 inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n}}\n"
            ),
        }
    }
}

/// Dovecot (`dovecot -F -c FILE`) with one listener for `service` on 127.0.0.1 (named by
/// [`DovecotService::name`]): base and state directories in the daemon's directory,
/// `ssl = yes` with `ssl_cert = <fullchain` and `ssl_key = <key` (or `ssl = no`), a static
/// passdb/userdb that is never used.
pub fn dovecot(cert: &ServerCert, tls: Tls, service: DovecotService) -> Option<Daemon> {
    let dovecot = require("Dovecot", &["/usr/sbin/dovecot"], "dovecot-core")?;
    let (binary, package) = service.binary();
    require(&format!("Dovecot's {}", service.name()), &[binary], package)?;
    let root = is_root();
    let (me, my_group) = (id("-un"), id("-gn"));
    Some(start("dovecot", None, &[service.name()], |dir, ports| {
        let base = dir.mkdir("run", 0o755);
        let state = dir.mkdir("state", 0o755);
        let instance = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut conf = format!(
            "base_dir = {base}\n\
             state_dir = {state}\n\
             instance_name = {instance}\n\
             log_path = /dev/stderr\n\
             protocols = {protocol}\n\
             listen = 127.0.0.1\n\
             auth_mechanisms = plain\n\
             passdb {{\n  driver = static\n  args = password=unused\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home=/nonexistent\n}}\n",
            base = base.display(),
            state = state.display(),
            protocol = service.name(),
        );
        if !root {
            // Unprivileged: every process runs as ourselves.
            write!(
                conf,
                "default_internal_user = {me}\ndefault_login_user = {me}\n\
                 default_internal_group = {my_group}\n"
            )
            .expect("format");
        }
        match tls {
            Tls::Enabled => {
                let files = dir.tls_files(cert);
                write!(
                    conf,
                    "ssl = yes\nssl_cert = <{fullchain}\nssl_key = <{key}\n",
                    fullchain = files.fullchain.display(),
                    key = files.key.display(),
                )
                .expect("format");
            }
            Tls::Disabled => conf.push_str("ssl = no\n"),
        }
        conf.push_str(&service.block(ports[0]));
        let file = dir.write("dovecot.conf", &conf);
        Launch::as_invoker(dir, &dovecot)
            .arg("-F")
            .arg("-c")
            .arg(file)
    }))
}

/// `id FLAG`: this process's user (`-un`) or group (`-gn`) name, for Dovecot run unprivileged.
fn id(flag: &str) -> String {
    let out = std::process::Command::new("id")
        .arg(flag)
        .output()
        .unwrap_or_else(|e| panic!("run id {flag}: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
