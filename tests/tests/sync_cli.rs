//! `certpull sync` command-line mistakes: exit 2, one `certpull: ` line, nothing contacted.

use certpull_tests::cli::exit;
use certpull_tests::sync::SyncCommand;
use certpull_tests::{certpull, tempdir, Behaviour, HostileServer, Run, TEST_NAME};

#[track_caller]
fn usage_error(run: &Run) {
    run.assert_code(exit::USAGE)
        .assert_one_line_error()
        .assert_no_stdout();
}

#[test]
fn sync_without_a_name_is_a_usage_error() {
    let dir = tempdir();
    let run = certpull([
        "sync",
        "--from",
        "127.0.0.1:1",
        "--out-dir",
        &dir.path().to_string_lossy(),
    ]);
    usage_error(&run);
}

#[test]
fn sync_without_a_source_is_a_usage_error() {
    let dir = tempdir();
    usage_error(&SyncCommand::new(TEST_NAME).out_dir(dir.path()).run());
}

#[test]
fn sync_without_anywhere_to_install_is_a_usage_error() {
    let server = HostileServer::start(Behaviour::Silent);
    let run = SyncCommand::new(TEST_NAME)
        .from(server.connect_arg())
        .timeout("2s")
        .run();
    usage_error(&run);
    assert_eq!(server.accepted(), 0, "nothing was contacted");
}

#[test]
fn sync_with_a_malformed_source_is_a_usage_error() {
    let dir = tempdir();
    for bad in ["127.0.0.1:99999", "[::1", "", "host name:443"] {
        usage_error(
            &SyncCommand::new(TEST_NAME)
                .from(bad)
                .out_dir(dir.path())
                .run(),
        );
    }
    assert!(
        certpull_tests::cli::dir_entries(dir.path()).is_empty(),
        "nothing written"
    );
}

#[test]
fn sync_with_an_invalid_name_is_a_usage_error() {
    let dir = tempdir();
    usage_error(
        &SyncCommand::new("not a name!")
            .from("127.0.0.1:1")
            .out_dir(dir.path())
            .run(),
    );
}

#[test]
fn sync_with_a_malformed_timeout_is_a_usage_error() {
    let dir = tempdir();
    usage_error(
        &SyncCommand::new(TEST_NAME)
            .from("127.0.0.1:1")
            .out_dir(dir.path())
            .timeout("soon")
            .run(),
    );
}

#[test]
fn sync_with_a_missing_ca_file_is_a_usage_error() {
    let dir = tempdir();
    let missing = dir.path().join("missing-ca.pem");
    let server = HostileServer::start(Behaviour::Silent);
    let run = SyncCommand::new(TEST_NAME)
        .from(server.connect_arg())
        .out_dir(&dir.path().join("out"))
        .ca_file(&missing)
        .timeout("2s")
        .run();
    usage_error(&run);
    run.assert_error(exit::USAGE, &["missing-ca.pem"]);
    assert_eq!(server.accepted(), 0, "nothing was contacted");
}
