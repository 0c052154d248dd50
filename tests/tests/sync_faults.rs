//! Installs that are interrupted or cannot write: a SIGKILL at either injected stall leaves each
//! file wholly old or wholly new and the next run repairs the set; a write failure changes
//! nothing; a run that cannot get the certificate's lock gives up with exit 10.

use std::fs;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::time::Duration;

use certpull_tests::cli::exit;
use certpull_tests::sync::{
    assert_installed, can_unshare_mounts, expected_contents, staged_files, Fault, Immutable,
    Scenario, Snapshot,
};
use certpull_tests::{start_openssl, Run, ServerCert, TlsVersion, TEST_NAME};

/// How long a run may take to reach an injected stall.
const REACH_STALL: Duration = Duration::from_secs(20);

/// The renewal, served with the root appended so that all three files differ between the
/// installed chain and the served one (chain.pem too).
fn served_renewal(s: &Scenario) -> ServerCert {
    s.pki.with_extra_chain(&s.renewed, &s.renewed.root_pem)
}

/// Asserts each of the follower's files holds, in whole, either the old or the new contents;
/// returns for each whether it is new.
#[track_caller]
fn each_file_wholly_old_or_new(dir: &Path, old: &ServerCert, new: &ServerCert) -> [bool; 3] {
    let olds = expected_contents(old);
    let news = expected_contents(new);
    let mut is_new = [false; 3];
    for (i, ((file, old), (_, new))) in olds.iter().zip(&news).enumerate() {
        let now = fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{file} must exist after a crash: {e}"));
        assert!(
            now == *old || now == *new,
            "{file} is neither the old nor the new contents:\n{now}"
        );
        is_new[i] = now == *new;
    }
    is_new
}

/// The contents of the staged files, sorted.
fn staged_contents(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = staged_files(dir)
        .iter()
        .map(|p| fs::read_to_string(p).unwrap_or_default())
        .collect();
    v.sort();
    v
}

/// The next normal run installs the served chain and leaves the set consistent.
#[track_caller]
fn next_run_repairs(s: &Scenario, source: &str, served: &ServerCert) -> Run {
    let run = s.sync(source).run();
    run.assert_ok_quiet_stderr();
    assert!(
        run.stdout
            .starts_with(&format!("certpull: installed {TEST_NAME} from {source} (")),
        "{}",
        run.describe()
    );
    assert_installed(s.out_dir(), served, "after the repair run");
    s.hook.assert_runs(1, &run);
    run
}

#[test]
fn sigkill_while_stalled_before_rename_leaves_the_old_files_and_the_next_run_installs() {
    let s = Scenario::new();
    let served = served_renewal(&s);
    let server = start_openssl(&served, TlsVersion::Any);
    let before = s.snapshot();

    let mut stalled = s
        .sync(server.connect_arg())
        .fault(Fault::StallBeforeRename)
        .spawn();
    // Inside the stall: all three new contents are staged, fully written.
    let mut expected: Vec<String> = expected_contents(&served)
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    expected.sort();
    stalled.wait_until("all three files are staged", REACH_STALL, || {
        staged_contents(s.out_dir()) == expected
    });
    let status = stalled.kill9();
    assert_eq!(status.signal(), Some(9), "{}", stalled.describe());

    assert_eq!(
        each_file_wholly_old_or_new(s.out_dir(), &s.installed, &served),
        [false; 3],
        "killed before any rename: every file is old"
    );
    before.assert_unchanged(&stalled);
    s.hook.assert_not_run(&stalled);

    next_run_repairs(&s, &server.connect_arg(), &served);
}

#[test]
fn sigkill_after_the_first_rename_leaves_whole_files_and_the_next_run_repairs_the_set() {
    let s = Scenario::new();
    let served = served_renewal(&s);
    let server = start_openssl(&served, TlsVersion::Any);

    let mut stalled = s
        .sync(server.connect_arg())
        .fault(Fault::StallAfterFirstRename)
        .spawn();
    let new_cert = served.cert_pem();
    let cert_path = s.out_dir().join("cert.pem");
    stalled.wait_until("cert.pem is renamed into place", REACH_STALL, || {
        fs::read_to_string(&cert_path).is_ok_and(|t| t == new_cert)
    });
    let status = stalled.kill9();
    assert_eq!(status.signal(), Some(9), "{}", stalled.describe());

    assert_eq!(
        each_file_wholly_old_or_new(s.out_dir(), &s.installed, &served),
        [true, false, false],
        "killed after the first rename: cert.pem new, chain.pem and fullchain.pem old"
    );
    s.hook.assert_not_run(&stalled);

    next_run_repairs(&s, &server.connect_arg(), &served);
}

#[test]
fn sigkill_after_the_first_rename_of_the_same_leaf_is_repaired_too() {
    // Same leaf, new intermediates: after the crash cert.pem is unchanged in content, so only
    // the mismatch between the files tells the install was cut short.
    let s = Scenario::new();
    let served = s.pki.with_extra_chain(&s.installed, &s.installed.root_pem);
    let server = start_openssl(&served, TlsVersion::Any);
    let mut stalled = s
        .sync(server.connect_arg())
        .fault(Fault::StallAfterFirstRename)
        .spawn();
    let cert_path = s.out_dir().join("cert.pem");
    let old_ino = Snapshot::of(std::slice::from_ref(&cert_path))
        .state(&cert_path)
        .map(|st| st.ino);
    stalled.wait_until("cert.pem is renamed into place", REACH_STALL, || {
        Snapshot::of(std::slice::from_ref(&cert_path))
            .state(&cert_path)
            .map(|st| st.ino)
            != old_ino
    });
    stalled.kill9();
    each_file_wholly_old_or_new(s.out_dir(), &s.installed, &served);
    next_run_repairs(&s, &server.connect_arg(), &served);
}

#[test]
fn injected_no_space_left_while_staging_exits_7_and_changes_nothing() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let before = s.snapshot();
    let run = s
        .sync(server.connect_arg())
        .fault(Fault::FailStage)
        .args(["--backup"])
        .run();
    s.assert_nothing_changed(&run, exit::WRITE, &before);
    run.assert_error(exit::WRITE, &["No space left on device"]);
    for path in s.paths() {
        let mut prev = path.into_os_string();
        prev.push(".prev");
        assert!(
            !Path::new(&prev).exists(),
            "no backup is made when nothing is installed: {}\n{}",
            prev.to_string_lossy(),
            run.describe()
        );
    }
}

#[test]
fn immutable_output_directory_exits_7_and_changes_nothing() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    // The lock file exists from an earlier run, so the failure is at staging, not at locking.
    fs::write(s.out_dir().join(format!(".certpull-{TEST_NAME}.lock")), "").unwrap();
    let before = s.snapshot();
    let Some(_immutable) = Immutable::set(s.out_dir()) else {
        eprintln!("note: chattr +i is not supported here; see read_only_mount test");
        return;
    };
    let run = s.sync(server.connect_arg()).run();
    s.assert_nothing_changed(&run, exit::WRITE, &before);
    run.assert_error(
        exit::WRITE,
        &["cannot write", "operation not permitted", "permission"],
    );
}

#[test]
fn immutable_output_directory_without_a_lock_file_exits_7_and_changes_nothing() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let before = s.snapshot();
    let Some(_immutable) = Immutable::set(s.out_dir()) else {
        eprintln!("note: chattr +i is not supported here");
        return;
    };
    let run = s.sync(server.connect_arg()).run();
    s.assert_nothing_changed(&run, exit::WRITE, &before);
    run.assert_error(exit::WRITE, &["lock"]);
}

#[test]
fn read_only_mount_of_the_output_directory_exits_7_and_changes_nothing() {
    if !can_unshare_mounts() {
        eprintln!("note: no private mount namespace here (unshare -m); not tested");
        return;
    }
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    fs::write(s.out_dir().join(format!(".certpull-{TEST_NAME}.lock")), "").unwrap();
    let before = s.snapshot();
    let d = s.out_dir().display();
    let run = s
        .sync(server.connect_arg())
        .run_in_mount_namespace(&format!(
            "mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}'"
        ))
        .expect("mount namespace");
    s.assert_nothing_changed(&run, exit::WRITE, &before);
    run.assert_error(exit::WRITE, &["read-only"]);
}

#[test]
fn second_run_gives_up_with_exit_10_while_another_holds_the_lock() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let before = s.snapshot();
    let mut holder = s
        .sync(server.connect_arg())
        .fault(Fault::StallBeforeRename)
        .spawn();
    // Staged files exist only once the lock is held.
    holder.wait_until("the first run stalls holding the lock", REACH_STALL, || {
        staged_files(s.out_dir()).len() == 3
    });

    let run = s.sync(server.connect_arg()).timeout("1s").run();
    run.assert_error(exit::LOCK, &["lock", "another certpull"])
        .assert_no_stdout()
        .assert_finished_within(Duration::from_secs(5));
    assert!(
        run.elapsed >= Duration::from_millis(900),
        "it waited for the lock until its deadline\n{}",
        run.describe()
    );
    assert!(holder.is_running(), "{}", holder.describe());
    holder.kill9();
    before.assert_unchanged(&run);
    s.hook.assert_not_run(&run);
}

#[test]
fn staged_files_of_a_killed_run_are_removed_by_the_next_run() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let mut stalled = s
        .sync(server.connect_arg())
        .fault(Fault::StallBeforeRename)
        .spawn();
    stalled.wait_until("all three files are staged", REACH_STALL, || {
        staged_files(s.out_dir()).len() == 3
    });
    stalled.kill9();
    let run = next_run_repairs(&s, &server.connect_arg(), &s.renewed);
    let left = staged_files(s.out_dir());
    assert!(
        left.is_empty(),
        "a killed run's staged files are left behind for ever: {left:?}\n{}",
        run.describe()
    );
}

#[test]
fn waiting_run_takes_over_when_the_lock_holder_dies() {
    let s = Scenario::new();
    let server = start_openssl(&s.renewed, TlsVersion::Any);
    let mut holder = s
        .sync(server.connect_arg())
        .fault(Fault::StallBeforeRename)
        .spawn();
    holder.wait_until("the first run stalls holding the lock", REACH_STALL, || {
        staged_files(s.out_dir()).len() == 3
    });
    let mut waiter = s.sync(server.connect_arg()).timeout("20s").spawn();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        waiter.is_running(),
        "the second run waits for the lock\n{}",
        waiter.describe()
    );
    holder.kill9();
    let run = waiter.wait(Duration::from_secs(15));
    run.assert_ok_quiet_stderr();
    assert!(
        run.stdout.starts_with("certpull: installed "),
        "{}",
        run.describe()
    );
    assert_installed(s.out_dir(), &s.renewed, "after the holder died");
    s.hook.assert_runs(1, &run);
}
