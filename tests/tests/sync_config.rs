//! `certpull sync --config FILE`: many certificates in one run, each failure on its own stderr
//! line, the worst failure's exit code, paths relative to the file, and a bad file refused with
//! `FILE:LINE:COL:` before anything else happens.

use std::fs;
use std::path::{Path, PathBuf};

use certpull_tests::cli::exit;
use certpull_tests::hostile::refused_addr;
use certpull_tests::sync::{assert_installed, install_files, Scenario, Snapshot, SyncCommand};
use certpull_tests::{
    start_openssl, tempdir, Behaviour, HostileServer, Run, TlsVersion, TEST_NAME,
};

const API_NAME: &str = "api.certpull.test";

/// A configuration directory: `certpull.toml`, `ca.pem` (every scenario's root), and for each
/// certificate `keys/DIR.pem` and the installed files in `DIR/`.
struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    fn new(scenarios: &[(&Scenario, &str)]) -> ConfigDir {
        let dir = tempdir();
        let roots: String = scenarios
            .iter()
            .map(|(s, _)| s.installed.root_pem.clone())
            .collect();
        fs::write(dir.path().join("ca.pem"), roots).unwrap();
        fs::create_dir(dir.path().join("keys")).unwrap();
        for (s, sub) in scenarios {
            fs::copy(&s.installed.key, dir.path().join(format!("keys/{sub}.pem"))).unwrap();
            install_files(&dir.path().join(sub), &s.installed);
        }
        ConfigDir { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self) -> PathBuf {
        self.path().join("certpull.toml")
    }

    /// Writes `certpull.toml`.
    fn write(&self, text: &str) -> PathBuf {
        fs::write(self.file(), text).unwrap();
        self.file()
    }

    /// `certpull sync --config certpull.toml`, run from another directory so that only the
    /// file's own directory can make its relative paths work.
    fn sync(&self) -> SyncCommand {
        SyncCommand::config(&self.file()).current_dir(Path::new("/"))
    }
}

/// A `[[certificate]]` table with paths relative to the configuration file.
fn entry(s: &Scenario, sub: &str, from: &[String]) -> String {
    let from: Vec<String> = from.iter().map(|f| format!("{f:?}")).collect();
    format!(
        "[[certificate]]\nname = {name:?}\nfrom = [{from}]\nkey = \"keys/{sub}.pem\"\n\
         out_dir = \"{sub}\"\ndeploy_hook = '''{hook}'''\n\n",
        name = s.installed.name,
        from = from.join(", "),
        hook = s.hook.command(),
    )
}

const HEADER: &str = "timeout = \"2s\"\nca_file = [\"ca.pem\"]\n\n";

/// Every stderr line starts with `certpull: `.
#[track_caller]
fn assert_stderr_lines_are_certpull_lines(run: &Run) {
    assert!(
        !run.stderr.is_empty() && run.stderr.lines().all(|l| l.starts_with("certpull: ")),
        "every stderr line starts with \"certpull: \"\n{}",
        run.describe()
    );
}

#[test]
fn good_certificate_is_installed_while_another_whose_source_is_down_fails_with_its_code() {
    let www = Scenario::new();
    let api = Scenario::named(API_NAME);
    let cfg = ConfigDir::new(&[(&www, "www"), (&api, "api")]);
    let server = start_openssl(&www.renewed, TlsVersion::Any);
    cfg.write(&format!(
        "{HEADER}{}{}",
        entry(&www, "www", &[server.connect_arg()]),
        entry(&api, "api", &[refused_addr().to_string()]),
    ));
    let api_before = Snapshot::of_dir(&cfg.path().join("api"));

    let run = cfg.sync().run();
    run.assert_code(exit::NETWORK);
    let out: Vec<&str> = run.stdout.lines().collect();
    assert!(
        out.len() == 1
            && out[0].starts_with(&format!(
                "certpull: installed {TEST_NAME} from {} (",
                server.connect_arg()
            )),
        "one stdout line for the install\n{}",
        run.describe()
    );
    assert_installed(&cfg.path().join("www"), &www.renewed, "www via config");
    www.hook.assert_runs(1, &run);

    assert_stderr_lines_are_certpull_lines(&run);
    let api_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(API_NAME))
        .collect();
    assert!(
        api_lines.len() == 1 && api_lines[0].to_lowercase().contains("refused"),
        "the failing certificate is reported on one stderr line naming it and the cause\n{}",
        run.describe()
    );
    assert!(
        !run.stderr.contains(TEST_NAME),
        "the good certificate is not reported as failing\n{}",
        run.describe()
    );
    api_before.assert_unchanged(&run);
    api.hook.assert_not_run(&run);
}

#[test]
fn exit_code_is_the_worst_failure_by_severity() {
    // A network failure (3) and a policy refusal (8): the refusal is worse.
    let www = Scenario::new();
    let api = Scenario::named(API_NAME);
    let cfg = ConfigDir::new(&[(&www, "www"), (&api, "api")]);
    let older = api.pki.renewal(&api.installed, 10);
    let older_server = start_openssl(&older, TlsVersion::Any);
    cfg.write(&format!(
        "{HEADER}{}{}",
        entry(&www, "www", &[refused_addr().to_string()]),
        entry(&api, "api", &[older_server.connect_arg()]),
    ));
    let before = [
        Snapshot::of_dir(&cfg.path().join("www")),
        Snapshot::of_dir(&cfg.path().join("api")),
    ];
    let run = cfg.sync().run();
    run.assert_code(exit::REFUSED).assert_no_stdout();
    assert_stderr_lines_are_certpull_lines(&run);
    for name in [TEST_NAME, API_NAME] {
        assert_eq!(
            run.stderr.lines().filter(|l| l.contains(name)).count(),
            1,
            "{name} is reported on exactly one line\n{}",
            run.describe()
        );
    }
    for snapshot in &before {
        snapshot.assert_unchanged(&run);
    }
    www.hook.assert_not_run(&run);
    api.hook.assert_not_run(&run);
}

#[test]
fn hook_failure_outranks_a_refusal() {
    let www = Scenario::new();
    let api = Scenario::named(API_NAME);
    let cfg = ConfigDir::new(&[(&www, "www"), (&api, "api")]);
    let renewed_server = start_openssl(&www.renewed, TlsVersion::Any);
    let older = api.pki.renewal(&api.installed, 10);
    let older_server = start_openssl(&older, TlsVersion::Any);
    let www_entry = entry(&www, "www", &[renewed_server.connect_arg()]).replace(
        &format!("deploy_hook = '''{}'''", www.hook.command()),
        "deploy_hook = \"exit 4\"",
    );
    cfg.write(&format!(
        "{HEADER}{www_entry}{}",
        entry(&api, "api", &[older_server.connect_arg()]),
    ));
    let run = cfg.sync().run();
    run.assert_code(exit::HOOK);
    assert_installed(
        &cfg.path().join("www"),
        &www.renewed,
        "installed, hook failed",
    );
}

#[test]
fn relative_paths_are_relative_to_the_config_file() {
    let www = Scenario::new();
    let cfg = ConfigDir::new(&[(&www, "www")]);
    let server = start_openssl(&www.renewed, TlsVersion::Any);
    cfg.write(&format!(
        "{HEADER}{}",
        entry(&www, "www", &[server.connect_arg()])
    ));
    let run = cfg.sync().run();
    run.assert_ok_quiet_stderr();
    assert_installed(&cfg.path().join("www"), &www.renewed, "relative out_dir");
    assert!(
        !Path::new("/www").exists(),
        "nothing written relative to the working directory"
    );
    let env = www.hook.assert_runs(1, &run);
    assert_eq!(
        env.get("CERTPULL_FULLCHAIN").map(PathBuf::from),
        Some(cfg.path().join("www").join("fullchain.pem")),
        "the hook gets the resolved path"
    );
}

#[test]
fn config_run_with_nothing_to_do_is_silent() {
    let www = Scenario::new();
    let api = Scenario::named(API_NAME);
    let cfg = ConfigDir::new(&[(&www, "www"), (&api, "api")]);
    let a = start_openssl(&www.installed, TlsVersion::Any);
    let b = start_openssl(&api.installed, TlsVersion::Any);
    cfg.write(&format!(
        "{HEADER}{}{}",
        entry(&www, "www", &[a.connect_arg()]),
        entry(&api, "api", &[b.connect_arg()]),
    ));
    let run = cfg.sync().run();
    run.assert_ok_quiet_stderr().assert_no_stdout();
}

#[test]
fn config_json_reports_every_certificate() {
    let www = Scenario::new();
    let api = Scenario::named(API_NAME);
    let cfg = ConfigDir::new(&[(&www, "www"), (&api, "api")]);
    let server = start_openssl(&www.renewed, TlsVersion::Any);
    let down = refused_addr().to_string();
    cfg.write(&format!(
        "{HEADER}{}{}",
        entry(&www, "www", &[server.connect_arg()]),
        entry(&api, "api", std::slice::from_ref(&down)),
    ));
    let run = cfg.sync().args(["--json"]).run();
    run.assert_code(exit::NETWORK);
    let v = run.stdout_json();
    let certs = v["certificates"].as_array().expect("certificates array");
    assert_eq!(certs.len(), 2, "{v}");
    assert_eq!(certs[0]["name"], TEST_NAME, "{v}");
    assert_eq!(certs[0]["result"], "installed", "{v}");
    assert_eq!(certs[1]["name"], API_NAME, "{v}");
    assert_eq!(certs[1]["result"], "failed", "{v}");
    assert_eq!(certs[1]["exit_code"], exit::NETWORK, "{v}");
    assert_eq!(certs[1]["sources"][0]["address"], down.as_str(), "{v}");
    assert_eq!(certs[1]["sources"][0]["status"], "error", "{v}");
}

/// Writes `text` as the configuration, runs it, and asserts exit 2 with one stderr line
/// starting `certpull: FILE:LINE:` (and the column when `column` is given) naming `what`;
/// nothing contacted, nothing written.
#[track_caller]
fn bad_config(text: &str, line: usize, column: Option<usize>, what: &str) -> Run {
    let www = Scenario::new();
    let cfg = ConfigDir::new(&[(&www, "www")]);
    let server = HostileServer::start(Behaviour::Silent);
    let text = text.replace("@SERVER@", &server.connect_arg());
    let file = cfg.write(&text);
    let before = Snapshot::of_dir(&cfg.path().join("www"));
    let run = cfg.sync().run();
    run.assert_error(exit::USAGE, &[what]).assert_no_stdout();
    let place = match column {
        Some(c) => format!("certpull: {}:{line}:{c}: ", file.display()),
        None => format!("certpull: {}:{line}:", file.display()),
    };
    assert!(
        run.stderr.starts_with(&place),
        "the message starts with {place:?}\n{}",
        run.describe()
    );
    before.assert_unchanged(&run);
    assert_eq!(server.accepted(), 0, "nothing was contacted");
    run
}

#[test]
fn unknown_top_level_key_is_a_usage_error_with_file_and_line() {
    bad_config(
        "timeout = \"2s\"\n\ncolour = \"blue\"\n\n[[certificate]]\nname = \"www.certpull.test\"\nfrom = [\"@SERVER@\"]\nout_dir = \"www\"\n",
        3,
        Some(1),
        "colour",
    );
}

#[test]
fn unknown_certificate_key_is_a_usage_error_with_file_and_line() {
    bad_config(
        "[[certificate]]\nname = \"www.certpull.test\"\nfrom = [\"@SERVER@\"]\nout_dir = \"www\"\nrenew_before = 30\n",
        5,
        Some(1),
        "renew_before",
    );
}

#[test]
fn bad_timeout_value_is_a_usage_error_pointing_at_the_value() {
    bad_config(
        "[[certificate]]\nname = \"www.certpull.test\"\nfrom = [\"@SERVER@\"]\nout_dir = \"www\"\ntimeout = \"soon\"\n",
        5,
        Some(11),
        "timeout",
    );
}

#[test]
fn wrong_value_type_is_a_usage_error_with_file_and_line() {
    bad_config(
        "[[certificate]]\nname = \"www.certpull.test\"\nfrom = \"@SERVER@\"\nout_dir = \"www\"\n",
        3,
        None,
        "from",
    );
}

#[test]
fn bad_source_address_is_a_usage_error_pointing_at_it() {
    bad_config(
        "[[certificate]]\nname = \"www.certpull.test\"\nfrom = [\"@SERVER@\", \"[::1\"]\nout_dir = \"www\"\n",
        3,
        None,
        "[::1",
    );
}

#[test]
fn certificate_listed_twice_is_a_usage_error() {
    bad_config(
        "[[certificate]]\nname = \"www.certpull.test\"\nfrom = [\"@SERVER@\"]\nout_dir = \"www\"\n\n[[certificate]]\nname = \"www.certpull.test\"\nfrom = [\"@SERVER@\"]\nout_dir = \"www2\"\n",
        7,
        None,
        "twice",
    );
}

#[test]
fn certificate_without_outputs_is_a_usage_error_with_file_and_line() {
    bad_config(
        "timeout = \"2s\"\n[[certificate]]\nname = \"www.certpull.test\"\nfrom = [\"@SERVER@\"]\n",
        2,
        None,
        "nowhere to install",
    );
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let dir = tempdir();
    let missing = dir.path().join("nope.toml");
    let run = SyncCommand::config(&missing).run();
    run.assert_error(exit::USAGE, &["nope.toml"])
        .assert_no_stdout();
}

#[test]
fn config_with_from_on_the_command_line_is_a_usage_error() {
    let dir = tempdir();
    let file = dir.path().join("c.toml");
    fs::write(&file, "").unwrap();
    let run = SyncCommand::config(&file).from("127.0.0.1:1").run();
    run.assert_code(exit::USAGE).assert_one_line_error();
}
