//! `certpull sync` installs what it should: a renewed chain served by a real nginx replaces the
//! follower's files byte for byte, the deploy hook runs once with certbot's and certpull's
//! environment, and a second run changes nothing and says nothing.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

use certpull_tests::cli::exit;
use certpull_tests::sync::{
    assert_installed, install_files, leaf_sha256, rfc3339_seconds, staged_files, HookLog, Scenario,
    SyncCommand,
};
use certpull_tests::{
    start_nginx, start_openssl, tempdir, KeyForm, KeyKind, LeafSpec, Run, TestPki, TlsVersion,
    TEST_NAME,
};

/// Asserts the contract's one stdout line for an install, and nothing on stderr.
#[track_caller]
fn assert_installed_line(run: &Run, name: &str, source: &str) {
    run.assert_ok_quiet_stderr();
    let lines: Vec<&str> = run.stdout.lines().collect();
    let prefix = format!("certpull: installed {name} from {source} (");
    assert!(
        lines.len() == 1 && lines[0].starts_with(&prefix),
        "stdout should be one line starting {prefix:?}\n{}",
        run.describe()
    );
}

/// Asserts a run that found nothing to do: exit 0, no output at all.
#[track_caller]
fn assert_silent_no_op(run: &Run) {
    run.assert_ok_quiet_stderr().assert_no_stdout();
}

#[test]
fn renewed_chain_from_nginx_replaces_the_files_byte_for_byte_and_runs_the_hook_once() {
    let s = Scenario::new();
    let server = start_nginx(&s.renewed, TlsVersion::Any);
    let source = server.connect_arg();

    let run = s.sync(&source).run();
    assert_installed_line(&run, TEST_NAME, &source);
    assert!(
        run.stdout.contains("renewed"),
        "the line names the reason\n{}",
        run.describe()
    );
    assert_installed(s.out_dir(), &s.renewed, "after the renewal");
    assert!(staged_files(s.out_dir()).is_empty(), "no staged file left");

    let env = s.hook.assert_runs(1, &run);
    let out = s.out_dir().display().to_string();
    let expected = [
        ("RENEWED_LINEAGE", out.clone()),
        ("RENEWED_DOMAINS", TEST_NAME.to_string()),
        ("CERTPULL_NAME", TEST_NAME.to_string()),
        ("CERTPULL_CERT", format!("{out}/cert.pem")),
        ("CERTPULL_CHAIN", format!("{out}/chain.pem")),
        ("CERTPULL_FULLCHAIN", format!("{out}/fullchain.pem")),
        ("CERTPULL_NOT_AFTER", rfc3339_seconds(s.renewed.not_after)),
        ("CERTPULL_SOURCE", source.clone()),
        ("CERTPULL_SHA256", leaf_sha256(&s.renewed)),
    ];
    for (key, value) in expected {
        assert_eq!(
            env.get(key).map(String::as_str),
            Some(value.as_str()),
            "hook variable {key} in {env:?}\n{}",
            run.describe()
        );
    }
}

#[test]
fn second_run_against_the_same_chain_writes_nothing_runs_no_hook_and_prints_nothing() {
    let s = Scenario::new();
    let server = start_nginx(&s.renewed, TlsVersion::Any);
    let first = s.sync(server.connect_arg()).run();
    first.assert_code(exit::OK);
    s.hook.assert_runs(1, &first);

    let before = s.snapshot();
    let entries_before = certpull_tests::cli::dir_entries(s.out_dir());
    let second = s.sync(server.connect_arg()).run();
    assert_silent_no_op(&second);
    before.assert_unchanged(&second);
    s.hook.assert_runs(1, &second);
    assert_eq!(
        certpull_tests::cli::dir_entries(s.out_dir()),
        entries_before,
        "no file created or removed\n{}",
        second.describe()
    );
}

#[test]
fn installed_chain_already_served_is_up_to_date_without_any_write() {
    let s = Scenario::new();
    let server = start_openssl(&s.installed, TlsVersion::Any);
    let before = s.snapshot();
    let run = s.sync(server.connect_arg()).run();
    assert_silent_no_op(&run);
    before.assert_unchanged(&run);
    s.hook.assert_not_run(&run);
}

#[test]
fn verbose_up_to_date_run_says_so_on_stderr_only() {
    let s = Scenario::new();
    let server = start_openssl(&s.installed, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).args(["-v"]).run();
    run.assert_code(exit::OK).assert_no_stdout();
    assert!(
        run.stderr.lines().all(|l| l.starts_with("certpull: "))
            && run.stderr.contains("up to date"),
        "-v reports every source and the result on stderr\n{}",
        run.describe()
    );
}

#[test]
fn first_install_into_an_empty_directory_writes_all_three_files() {
    let pki = TestPki::new();
    let cert = pki.good_leaf();
    let server = start_openssl(&cert, TlsVersion::Any);
    let root = tempdir();
    let out = root.path().join("new").join("lineage");
    let hook = HookLog::new();
    let run = SyncCommand::new(TEST_NAME)
        .from(server.connect_arg())
        .key(&cert.key)
        .out_dir(&out)
        .ca_file(&pki.ca_file)
        .hook(&hook.command())
        .run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert!(run.stdout.contains("first install"), "{}", run.describe());
    assert_installed(&out, &cert, "first install");
    for file in ["cert.pem", "chain.pem", "fullchain.pem"] {
        let mode = fs::metadata(out.join(file)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o644, "{file}: new files are public certificates");
    }
    hook.assert_runs(1, &run);
}

#[test]
fn same_leaf_with_different_intermediates_is_installed() {
    let s = Scenario::new();
    // The peer now also sends the root after the intermediate: same leaf, other chain.
    let reissued = s.pki.with_extra_chain(&s.installed, &s.installed.root_pem);
    let server = start_openssl(&reissued, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert!(
        run.stdout.contains("intermediates changed"),
        "{}",
        run.describe()
    );
    assert_installed(s.out_dir(), &reissued, "new intermediates");
    s.hook.assert_runs(1, &run);
}

#[test]
fn hand_deleted_chain_file_is_repaired_from_the_same_chain() {
    let s = Scenario::new();
    fs::remove_file(s.out_dir().join("chain.pem")).unwrap();
    let server = start_openssl(&s.installed, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &s.installed, "repaired");
    s.hook.assert_runs(1, &run);
}

#[test]
fn existing_file_modes_are_kept_on_install() {
    let s = Scenario::new();
    let modes = [0o640, 0o600, 0o444];
    for (path, mode) in s.paths().iter().zip(modes) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).run();
    run.assert_code(exit::OK);
    assert_installed(s.out_dir(), &s.renewed, "renewed");
    for (path, mode) in s.paths().iter().zip(modes) {
        assert_eq!(
            fs::metadata(path).unwrap().mode() & 0o7777,
            mode,
            "{} keeps its mode\n{}",
            path.display(),
            run.describe()
        );
    }
}

#[test]
fn existing_file_owner_and_group_are_kept_on_install() {
    // Tests run as root, which may give files away: a new file must get the old one's owner.
    let s = Scenario::new();
    for path in s.paths() {
        std::os::unix::fs::chown(&path, Some(4242), Some(4343)).unwrap();
    }
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).run();
    run.assert_code(exit::OK);
    assert_installed(s.out_dir(), &s.renewed, "renewed");
    for path in s.paths() {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (4242, 4343),
            "{} keeps its owner and group\n{}",
            path.display(),
            run.describe()
        );
    }
}

#[test]
fn without_key_the_installed_leafs_key_is_the_reference() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).without("--key").run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &s.renewed, "renewed, no --key");
}

#[test]
fn key_in_sec1_form_is_accepted() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let sec1 = s.installed.key_in_form(KeyForm::Sec1);
    assert!(fs::read_to_string(&sec1)
        .unwrap()
        .contains("BEGIN EC PRIVATE KEY"));
    let run = s
        .sync(server.connect_arg())
        .without("--key")
        .key(&sec1)
        .run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
}

#[test]
fn rsa_key_in_pkcs1_form_is_accepted() {
    let pki = TestPki::new();
    let installed = pki.issue(&LeafSpec::fresh(&[TEST_NAME], KeyKind::Rsa2048, 30));
    let s = Scenario::with_installed(pki, installed);
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let pkcs1 = s.installed.key_in_form(KeyForm::Pkcs1);
    assert!(fs::read_to_string(&pkcs1)
        .unwrap()
        .contains("BEGIN RSA PRIVATE KEY"));
    let run = s
        .sync(server.connect_arg())
        .without("--key")
        .key(&pkcs1)
        .run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &s.renewed, "RSA renewal");
}

#[test]
fn ed25519_renewal_is_installed() {
    let pki = TestPki::new();
    let installed = pki.issue(&LeafSpec::fresh(&[TEST_NAME], KeyKind::Ed25519, 30));
    let s = Scenario::with_installed(pki, installed);
    let server = start_nginx(&s.renewed, TlsVersion::Tls13);
    let run = s.sync(server.connect_arg()).run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &s.renewed, "Ed25519 renewal");
}

#[test]
fn allow_downgrade_installs_an_older_leaf() {
    let s = Scenario::new();
    let older = s.pki.renewal(&s.installed, 10);
    let server = start_openssl(&older, TlsVersion::Any);
    let run = s
        .sync(server.connect_arg())
        .args(["--allow-downgrade"])
        .run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &older, "downgrade allowed");
    s.hook.assert_runs(1, &run);
}

#[test]
fn failing_hook_exits_9_and_leaves_the_new_files_installed() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(server.connect_arg())
        .without("--deploy-hook")
        .hook("echo reload failed >&2; exit 3")
        .run();
    run.assert_code(exit::HOOK);
    assert_installed(s.out_dir(), &s.renewed, "hook failed");
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("certpull: ") && last.contains("hook") && last.contains("reload failed"),
        "the last stderr line names the hook failure and its message\n{}",
        run.describe()
    );
}

#[test]
fn hook_does_not_run_again_after_it_failed_once_the_chain_is_installed() {
    // A failed hook leaves the files installed; the next run is up to date and silent.
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let first = s
        .sync(server.connect_arg())
        .without("--deploy-hook")
        .hook("exit 1")
        .run();
    first.assert_code(exit::HOOK);
    let second = s.sync(server.connect_arg()).run();
    assert_silent_no_op(&second);
    s.hook.assert_not_run(&second);
}

#[test]
fn backup_keeps_the_previous_files_as_prev() {
    let s = Scenario::new();
    let old: Vec<Vec<u8>> = s.paths().iter().map(|p| fs::read(p).unwrap()).collect();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).args(["--backup"]).run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &s.renewed, "with --backup");
    for (path, old) in s.paths().iter().zip(&old) {
        let mut prev = path.as_os_str().to_owned();
        prev.push(".prev");
        let backup = fs::read(&prev)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", prev.to_string_lossy(), run.describe()));
        assert_eq!(
            &backup,
            old,
            "{} holds the replaced file",
            prev.to_string_lossy()
        );
    }
}

#[test]
fn certbot_live_symlinks_are_followed_and_the_archive_files_replaced() {
    let s = Scenario::new();
    // certbot: live/NAME/X.pem -> ../../archive/NAME/X1.pem
    let root = tempdir();
    let archive = root.path().join("archive").join(TEST_NAME);
    let live = root.path().join("live").join(TEST_NAME);
    install_files(&archive, &s.installed);
    fs::create_dir_all(&live).unwrap();
    for file in ["cert", "chain", "fullchain"] {
        fs::rename(
            archive.join(format!("{file}.pem")),
            archive.join(format!("{file}1.pem")),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            format!("../../archive/{TEST_NAME}/{file}1.pem"),
            live.join(format!("{file}.pem")),
        )
        .unwrap();
    }
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(server.connect_arg())
        .without("--out-dir")
        .out_dir(&live)
        .run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    for file in ["cert", "chain", "fullchain"] {
        let link = live.join(format!("{file}.pem"));
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{} is still a symlink\n{}",
            link.display(),
            run.describe()
        );
        assert_eq!(
            fs::read_link(&link).unwrap().to_string_lossy(),
            format!("../../archive/{TEST_NAME}/{file}1.pem"),
            "the link is unchanged"
        );
    }
    let env = s.hook.assert_runs(1, &run);
    assert_eq!(
        env.get("RENEWED_LINEAGE").map(String::as_str),
        Some(live.display().to_string().as_str()),
        "the lineage is live/NAME, as with certbot"
    );
    // Through the links and in the archive: the renewed chain.
    assert_installed(&live, &s.renewed, "through live/ links");
    for (file, expected) in certpull_tests::sync::expected_contents(&s.renewed) {
        let stem = file.trim_end_matches(".pem");
        assert_eq!(
            fs::read_to_string(archive.join(format!("{stem}1.pem"))).unwrap(),
            expected,
            "archive/{stem}1.pem"
        );
    }
    let second = s
        .sync(server.connect_arg())
        .without("--out-dir")
        .out_dir(&live)
        .run();
    assert_silent_no_op(&second);
}

#[test]
fn explicit_cert_chain_and_fullchain_paths_are_written() {
    let s = Scenario::new();
    let other = tempdir();
    let (cert, chain, full) = (
        other.path().join("leaf.crt"),
        other.path().join("ca-bundle.crt"),
        other.path().join("full.crt"),
    );
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let run = s
        .sync(server.connect_arg())
        .without("--out-dir")
        .args([
            "--cert".to_string(),
            cert.display().to_string(),
            "--chain".to_string(),
            chain.display().to_string(),
            "--fullchain".to_string(),
            full.display().to_string(),
        ])
        .run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    let [(_, c), (_, ch), (_, f)] = certpull_tests::sync::expected_contents(&s.renewed);
    assert_eq!(fs::read_to_string(&cert).unwrap(), c);
    assert_eq!(fs::read_to_string(&chain).unwrap(), ch);
    assert_eq!(fs::read_to_string(&full).unwrap(), f);
    let env = s.hook.assert_runs(1, &run);
    assert_eq!(
        env.get("RENEWED_LINEAGE").map(String::as_str),
        Some(other.path().display().to_string().as_str()),
        "the lineage is the fullchain's directory"
    );
}

#[test]
fn renewal_adding_a_name_is_installed() {
    let s = Scenario::new();
    let wider = s.pki.issue(
        &LeafSpec::same_key_as(&s.installed, 89).with_sans(&[TEST_NAME, "new.certpull.test"]),
    );
    let server = start_openssl(&wider, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &wider, "more names");
    let env = s.hook.assert_runs(1, &run);
    assert_eq!(
        env.get("RENEWED_DOMAINS").map(String::as_str),
        Some("www.certpull.test new.certpull.test"),
        "RENEWED_DOMAINS lists the leaf's names, space-separated"
    );
}

#[test]
fn wildcard_renewal_covering_the_installed_name_is_installed() {
    let s = Scenario::new();
    let wildcard = s
        .pki
        .issue(&LeafSpec::same_key_as(&s.installed, 89).with_sans(&["*.certpull.test"]));
    let server = start_openssl(&wildcard, TlsVersion::Any);
    let run = s.sync(server.connect_arg()).run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &wildcard, "wildcard");
}

#[test]
fn key_rollover_installs_a_leaf_of_the_new_key_file() {
    // The installed leaf has the old key; --key is the new one; the peer serves a leaf of it.
    let s = Scenario::new();
    let rolled = s
        .pki
        .issue(&LeafSpec::fresh(&[TEST_NAME], KeyKind::EcdsaP256, 89));
    let server = start_openssl(&rolled, TlsVersion::Any);
    let run = s
        .sync(server.connect_arg())
        .without("--key")
        .key(&rolled.key)
        .run();
    assert_installed_line(&run, TEST_NAME, &server.connect_arg());
    assert_installed(s.out_dir(), &rolled, "new key");
}
