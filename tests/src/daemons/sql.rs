//! PostgreSQL and MariaDB, each with a throw-away data directory.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::{daemon_account, require, run_setup, skip, start, Daemon, Launch, Tls};
use crate::pki::ServerCert;

/// The newest `/usr/lib/postgresql/VERSION/bin` holding `postgres` and `initdb`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("postgres").exists() && bin.join("initdb").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// PostgreSQL: `initdb` into the daemon's directory, then `postgres -D DIR -p PORT -k SOCKDIR
/// -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=fullchain -c ssl_key_file=key`
/// (or `-c ssl=off`), as `postgres` when we are root (it refuses root), stopped with SIGINT
/// (fast shutdown). Service `"postgres"`.
pub fn postgres(cert: &ServerCert, tls: Tls) -> Option<Daemon> {
    let Some(bin) = postgres_bin_dir() else {
        return skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres; apt-get install postgresql)");
    };
    let owner = daemon_account("postgres");
    Some(start("postgres", owner, &["postgres"], |dir, ports| {
        // initdb fills an existing empty directory (it may not create one in ours).
        let data = dir.mkdir("data", 0o700);
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .current_dir(dir.path());
        run_setup("initdb", dir.owner(), initdb);
        let sockets = dir.mkdir("sockets", 0o755);
        let mut launch = Launch::new(dir, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(ports[0].to_string())
            .arg("-k")
            .arg(&sockets)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "shared_buffers=1MB", "-c", "max_connections=5"])
            .args(["-c", "fsync=off", "-c", "logging_collector=off"])
            .stop_signal("INT");
        launch = match tls {
            Tls::Enabled => {
                let files = dir.tls_files(cert);
                launch
                    .args(["-c", "ssl=on"])
                    .arg("-c")
                    .arg(format!("ssl_cert_file={}", files.fullchain.display()))
                    .arg("-c")
                    .arg(format!("ssl_key_file={}", files.key.display()))
            }
            Tls::Disabled => launch.args(["-c", "ssl=off"]),
        };
        launch
    }))
}

/// MariaDB: `mariadbd --no-defaults` on an empty data directory (created by the server; no
/// `mariadb-install-db`: a STARTTLS preamble needs no tables, and it saves 3 s and 100 MB per
/// server), `--skip-grant-tables`, InnoDB off, `--bind-address=127.0.0.1 --port=PORT`,
/// `--ssl-cert=fullchain --ssl-key=key` (or no SSL option), `--user=mysql` when root.
/// Service `"mysql"`.
pub fn mariadb(cert: &ServerCert, tls: Tls) -> Option<Daemon> {
    let mariadbd = require(
        "MariaDB",
        &["/usr/sbin/mariadbd", "/usr/sbin/mysqld"],
        "mariadb-server",
    )?;
    let owner = daemon_account("mysql");
    Some(start("mariadb", owner, &["mysql"], |dir, ports| {
        let data = dir.mkdir("data", 0o750);
        // After dropping privileges mariadbd creates its socket and pid file as mysql: in a
        // directory of its own.
        let run = dir.mkdir("run", 0o755);
        // mariadbd drops privileges itself (`--user`): start it as ourselves.
        let mut launch = Launch::as_invoker(dir, &mariadbd)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={}", ports[0]))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", run.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", run.join("mysqld.pid").display()))
            .args([
                "--skip-grant-tables",
                "--skip-name-resolve",
                "--skip-log-bin",
            ])
            .args(["--innodb=OFF", "--default-storage-engine=MyISAM"])
            .arg("--default-tmp-storage-engine=MyISAM")
            .arg(format!("--tmpdir={}", dir.mkdir("tmp", 0o750).display()));
        if let Some(a) = dir.owner() {
            launch = launch.arg(format!("--user={}", a.name));
        }
        if tls == Tls::Enabled {
            let files = dir.tls_files(cert);
            launch = launch
                .arg(format!("--ssl-cert={}", files.fullchain.display()))
                .arg(format!("--ssl-key={}", files.key.display()));
        }
        launch
    }))
}
