//! `--starttls` against the real servers of Debian's packages, each started on 127.0.0.1 by the
//! test and stopped by pid: Postfix (SMTP), Dovecot (IMAP, POP3, LMTP), vsftpd (FTP), Prosody
//! (XMPP), slapd (LDAP), PostgreSQL and MariaDB (MySQL).
//!
//! For each protocol: the chain certpull pulls through the preamble is the chain the daemon was
//! configured with, `openssl s_client -starttls` sees the same chain (an independent check of
//! the fixture), and the same daemon without TLS makes certpull fail at the named step with
//! exit code 5. `sync` and `check` take `--starttls` too.

use certpull_tests::daemons::{self, mail::DovecotService, Daemon, Tls};
use certpull_tests::fleet::check;
use certpull_tests::starttls::{
    assert_pulls_configured_chain, assert_starttls_failure, configured_chain, fetch_starttls,
    s_client_starttls,
};
use certpull_tests::sync::{assert_installed, HookLog, SyncCommand};
use certpull_tests::{
    assert_same_chain, exit, tempdir, KeyKind, LeafVariant, ServerCert, TestPki, TEST_NAME,
};

/// A good leaf of `key` for [`TEST_NAME`] under a fresh test PKI (kept alive with it).
fn leaf(key: KeyKind) -> (TestPki, ServerCert) {
    let pki = TestPki::new();
    let cert = pki.leaf(TEST_NAME, key, LeafVariant::Good);
    (pki, cert)
}

/// certpull pulls the configured chain through `proto`'s preamble from `daemon`'s `service`,
/// and `openssl s_client -starttls S_CLIENT_PROTO` sees the same, verified chain.
#[track_caller]
fn pulls_as_configured(
    daemon: &Daemon,
    service: &str,
    proto: &str,
    s_client_proto: &str,
    cert: &ServerCert,
) {
    assert_pulls_configured_chain(daemon, service, proto, cert);
    let seen = s_client_starttls(daemon.addr(service), s_client_proto, &cert.name, &cert.ca);
    assert!(
        seen.verified,
        "openssl s_client -starttls {s_client_proto} should verify the daemon's chain\n{}\n{}",
        seen.output,
        daemon.describe()
    );
    assert_same_chain(
        &seen.chain,
        &configured_chain(daemon),
        &format!("openssl s_client -starttls {s_client_proto}"),
    );
}

/// certpull against `daemon` configured without TLS fails at `step`, naming one of `causes`.
#[track_caller]
fn fails_without_tls(daemon: &Daemon, service: &str, proto: &str, step: &str, causes: &[&str]) {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let run = fetch_starttls(
        &cert.name,
        &daemon.connect_arg_of(service),
        proto,
        &cert.ca,
        &[],
    );
    assert_starttls_failure(&run, daemon, proto, step, causes);
}

#[test]
fn smtp_chain_from_postfix_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(postfix) = daemons::mail::postfix(&cert, Tls::Enabled) else {
        return;
    };
    pulls_as_configured(&postfix, "smtp", "smtp", "smtp", &cert);
}

#[test]
fn smtp_without_starttls_in_ehlo_names_the_ehlo_step() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(postfix) = daemons::mail::postfix(&cert, Tls::Disabled) else {
        return;
    };
    fails_without_tls(
        &postfix,
        "smtp",
        "smtp",
        "EHLO",
        &["did not offer STARTTLS"],
    );
}

#[test]
fn smtp_preamble_is_followed_by_full_validation() {
    // The preamble only opens the door: the chain is still judged for the name asked.
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(postfix) = daemons::mail::postfix(&cert, Tls::Enabled) else {
        return;
    };
    let run = fetch_starttls(
        "mail.other.test",
        &postfix.connect_arg_of("smtp"),
        "smtp",
        &cert.ca,
        &[],
    );
    run.assert_error(exit::VALIDATION, &["name"])
        .assert_no_stdout();
}

#[test]
fn lmtp_chain_from_dovecot_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::Rsa2048);
    let Some(dovecot) = daemons::mail::dovecot(&cert, Tls::Enabled, DovecotService::Lmtp) else {
        return;
    };
    pulls_as_configured(&dovecot, "lmtp", "lmtp", "lmtp", &cert);
}

#[test]
fn imap_chain_from_dovecot_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(dovecot) = daemons::mail::dovecot(&cert, Tls::Enabled, DovecotService::Imap) else {
        return;
    };
    pulls_as_configured(&dovecot, "imap", "imap", "imap", &cert);
}

#[test]
fn imap_without_starttls_capability_names_the_step() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(dovecot) = daemons::mail::dovecot(&cert, Tls::Disabled, DovecotService::Imap) else {
        return;
    };
    fails_without_tls(
        &dovecot,
        "imap",
        "imap",
        "CAPABILITY",
        &["did not offer STARTTLS"],
    );
}

#[test]
fn pop3_chain_from_dovecot_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::Rsa2048);
    let Some(dovecot) = daemons::mail::dovecot(&cert, Tls::Enabled, DovecotService::Pop3) else {
        return;
    };
    pulls_as_configured(&dovecot, "pop3", "pop3", "pop3", &cert);
}

#[test]
fn pop3_refused_stls_names_the_step() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(dovecot) = daemons::mail::dovecot(&cert, Tls::Disabled, DovecotService::Pop3) else {
        return;
    };
    fails_without_tls(&dovecot, "pop3", "pop3", "STLS", &["refused", "-ERR"]);
}

#[test]
fn ftp_chain_from_vsftpd_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(vsftpd) = daemons::ftp::vsftpd(&cert, Tls::Enabled) else {
        return;
    };
    pulls_as_configured(&vsftpd, "ftp", "ftp", "ftp", &cert);
}

#[test]
fn ftp_refused_auth_tls_names_the_step() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(vsftpd) = daemons::ftp::vsftpd(&cert, Tls::Disabled) else {
        return;
    };
    fails_without_tls(
        &vsftpd,
        "ftp",
        "ftp",
        "AUTH TLS",
        &["refused", "530", "500"],
    );
}

#[test]
fn xmpp_chain_from_prosody_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(prosody) = daemons::xmpp::prosody(&cert, Tls::Enabled) else {
        return;
    };
    pulls_as_configured(&prosody, "xmpp", "xmpp", "xmpp", &cert);
}

#[test]
fn xmpp_without_starttls_feature_names_the_step() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(prosody) = daemons::xmpp::prosody(&cert, Tls::Disabled) else {
        return;
    };
    fails_without_tls(
        &prosody,
        "xmpp",
        "xmpp",
        "stream features",
        &["did not offer STARTTLS"],
    );
}

#[test]
fn ldap_chain_from_slapd_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::Rsa2048);
    let Some(slapd) = daemons::ldap::slapd(&cert, Tls::Enabled) else {
        return;
    };
    pulls_as_configured(&slapd, "ldap", "ldap", "ldap", &cert);
}

#[test]
fn ldap_refused_starttls_names_the_extended_operation() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(slapd) = daemons::ldap::slapd(&cert, Tls::Disabled) else {
        return;
    };
    fails_without_tls(
        &slapd,
        "ldap",
        "ldap",
        "StartTLS extended operation",
        &["refused"],
    );
}

#[test]
fn postgres_chain_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(postgres) = daemons::sql::postgres(&cert, Tls::Enabled) else {
        return;
    };
    pulls_as_configured(&postgres, "postgres", "postgres", "postgres", &cert);
}

#[test]
fn postgres_with_ssl_off_names_the_ssl_request() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(postgres) = daemons::sql::postgres(&cert, Tls::Disabled) else {
        return;
    };
    fails_without_tls(
        &postgres,
        "postgres",
        "postgres",
        "SSLRequest",
        &["refused", "(N)"],
    );
}

#[test]
fn mysql_chain_from_mariadb_is_the_configured_chain() {
    let (_pki, cert) = leaf(KeyKind::Rsa2048);
    let Some(mariadb) = daemons::sql::mariadb(&cert, Tls::Enabled) else {
        return;
    };
    pulls_as_configured(&mariadb, "mysql", "mysql", "mysql", &cert);
}

#[test]
fn mysql_without_ssl_capability_names_the_greeting() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(mariadb) = daemons::sql::mariadb(&cert, Tls::Disabled) else {
        return;
    };
    fails_without_tls(
        &mariadb,
        "mysql",
        "mysql",
        "greeting",
        &["did not offer", "SSL"],
    );
}

#[test]
fn sync_over_postgres_starttls_installs_and_runs_the_hook_once() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(postgres) = daemons::sql::postgres(&cert, Tls::Enabled) else {
        return;
    };
    let out = tempdir();
    let hook = HookLog::new();
    let sync = SyncCommand::new(&cert.name)
        .from(postgres.connect_arg_of("postgres"))
        .args(["--starttls", "postgres"])
        .key(&cert.key)
        .ca_file(&cert.ca)
        .out_dir(out.path())
        .hook(&hook.command());
    let first = sync.run();
    first.assert_code(exit::OK);
    assert_installed(out.path(), &cert, &first.describe());
    let env = hook.assert_runs(1, &first);
    assert_eq!(
        env.get("CERTPULL_SOURCE").map(String::as_str),
        Some(postgres.connect_arg_of("postgres").as_str()),
        "the hook names the source\n{}",
        first.describe()
    );
    let second = sync.run();
    second.assert_code(exit::OK);
    assert!(
        second.stdout.is_empty() && second.stderr.is_empty(),
        "second run is silent\n{}",
        second.describe()
    );
    hook.assert_runs(1, &second);
}

#[test]
fn check_over_imap_starttls_reports_the_served_leaf() {
    let (_pki, cert) = leaf(KeyKind::EcdsaP256);
    let Some(dovecot) = daemons::mail::dovecot(&cert, Tls::Enabled, DovecotService::Imap) else {
        return;
    };
    let ca = cert.ca.to_string_lossy().into_owned();
    let run = check(
        &cert.name,
        &[dovecot.connect_arg_of("imap")],
        &["--starttls", "imap", "--ca-file", &ca, "--json"],
    );
    assert_eq!(
        run.code,
        Some(0),
        "check over IMAP STARTTLS is OK\n{}",
        run.describe()
    );
    let report: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("check --json is JSON");
    let endpoint = &report["certificates"][0]["endpoints"][0];
    assert_eq!(endpoint["state"], "current", "{report:#}");
    assert_eq!(endpoint["verdict"], "valid", "{report:#}");
    assert_eq!(
        endpoint["sha256"].as_str(),
        Some(certpull_tests::sha256_hex(cert.leaf_der()).as_str()),
        "the leaf served over IMAP\n{report:#}"
    );
}
