//! The command lines explain themselves: a help flag or an unknown word prints usage and exits
//! at once, never starting a benchmark, a simulator or a server.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BENCH: &str = env!("CARGO_BIN_EXE_bench");
const SERVICE: &str = env!("CARGO_BIN_EXE_spectrocloud-backend");

/// Runs `bin args`; fails the test when it is still running after a few seconds (it started
/// work instead of answering).
fn quick(bin: &str, args: &[&str]) -> Output {
    within(bin, args, Duration::from_secs(10))
}

/// Runs `bin args`; fails the test when it is still running after `limit`.
fn within(bin: &str, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "`{bin} {}` started work instead of answering",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn bench_help_and_unknown_words_never_start_a_benchmark() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["reads", "--help"],
        &["sync", "--help"],
        &["sync-index", "--help"],
        &["all", "--help"],
    ] {
        let out = quick(BENCH, args);
        let said = text(&out);
        assert!(out.status.success(), "bench {args:?}: {said}");
        assert!(said.contains("Usage: bench"), "bench {args:?}: {said}");
    }
    let scenarios = text(&quick(BENCH, &["--help"]));
    for s in [
        "sim-list",
        "sync",
        "sync-matrix",
        "sync-index",
        "reads",
        "reports",
        "all",
    ] {
        assert!(scenarios.contains(s), "{s} missing from: {scenarios}");
    }
    assert!(!scenarios.contains("serve-child"), "{scenarios}");
    // A bare `bench` and a wrong word or value: usage on stderr, exit 2, nothing run.
    for args in [&[][..], &["nonsense"], &["sync", "--dataset", "huge"]] {
        let out = quick(BENCH, args);
        assert_eq!(out.status.code(), Some(2), "bench {args:?}: {}", text(&out));
        let said = text(&out);
        assert!(said.contains("Usage") || said.contains("--help"), "{said}");
    }
    let values = text(&quick(BENCH, &["sync", "--help"]));
    assert!(
        values.contains("small") && values.contains("large"),
        "{values}"
    );
}

#[test]
fn every_service_subcommand_answers_help_without_starting() {
    let top = text(&quick(SERVICE, &["--help"]));
    for sub in [
        "serve",
        "demo",
        "palette-sim",
        "check-config",
        "backup",
        "sync",
    ] {
        assert!(top.contains(sub), "{sub} missing from: {top}");
        let out = quick(SERVICE, &[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help: {}", text(&out));
        assert!(text(&out).contains("Usage"), "{}", text(&out));
    }
    // The datasets are listed where they are chosen.
    for sub in ["demo", "palette-sim"] {
        let help = text(&quick(SERVICE, &[sub, "--help"]));
        assert!(
            ["small", "medium", "large"]
                .iter()
                .all(|d| help.contains(d)),
            "{sub}: {help}"
        );
    }
    let out = quick(SERVICE, &["nonsense"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// A minimal configuration in `dir` (one unreachable environment), its path returned.
fn config_in(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("c.toml");
    let db = dir.join("db.sqlite");
    std::fs::write(
        &path,
        format!(
            "{extra}\n[database]\nurl = \"sqlite://{}\"\n[[environments]]\nname = \"p\"\nurl = \"http://127.0.0.1:1\"\napi_token = \"k\"\n",
            db.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn demo_refuses_a_public_bind_in_words_before_starting_anything() {
    let out = quick(SERVICE, &["demo", "--bind", "0.0.0.0:0"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("loopback") && said.contains("--bind 127.0.0.1"),
        "{said}"
    );
    // No Rust debug output, and no advice demo cannot follow.
    assert!(
        !said.contains("ConfigIssue") && !said.contains("{ key"),
        "{said}"
    );
    assert!(!said.contains("Palette simulator at"), "{said}");
}

#[test]
fn a_taken_port_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let path = config_in(
        dir.path(),
        &format!("[server]\nbind = \"127.0.0.1:{port}\""),
    );
    let out = quick(SERVICE, &["serve", "--config", path.to_str().unwrap()]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    assert_eq!(said.matches("Address already in use").count(), 1, "{said}");
}

#[test]
fn a_typo_in_an_override_names_the_variable_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_in(dir.path(), "");
    let out = Command::new(SERVICE)
        .args(["check-config", "--config", path.to_str().unwrap()])
        .env("SPECTROCLOUD__SYNC__CONCURENCY", "3")
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("SPECTROCLOUD__SYNC__CONCURENCY"), "{said}");
    assert!(!said.contains("config file"), "{said}");
}

#[test]
fn a_backup_into_a_missing_directory_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_in(dir.path(), "");
    let config = path.to_str().unwrap();
    // A database to back up: one (failing) sync creates it, and says where Palette was not
    // reached and why.
    let sync = text(&quick(SERVICE, &["sync", "--once", "--config", config]));
    assert!(
        sync.contains("http://127.0.0.1:1") && sync.contains("Connection refused"),
        "{sync}"
    );
    let missing = dir.path().join("no/such/dir/backup.db");
    let out = quick(
        SERVICE,
        &["backup", missing.to_str().unwrap(), "--config", config],
    );
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("does not exist"), "{said}");
    assert!(
        said.contains(&dir.path().join("no/such/dir").display().to_string()),
        "{said}"
    );
    assert!(
        said.lines().count() <= 2 && !said.contains("unable to open database"),
        "{said}"
    );
}

/// A configuration in `dir` naming a PostgreSQL that refuses connections (port 1), with
/// `password` in its URL.
fn refused_postgres_in(dir: &std::path::Path, password: &str) -> std::path::PathBuf {
    let path = dir.join("c.toml");
    let url = format!("postgres://spectrocloud:{password}@127.0.0.1:1/spectrocloud");
    // Any free port: several of these run at once.
    let text = format!("[server]\nbind = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\n");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn backup_on_postgresql_points_to_pg_dump_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = refused_postgres_in(dir.path(), "Pw-s3cret-99");
    let dest = dir.path().join("copy.db");
    let out = quick(
        SERVICE,
        &[
            "backup",
            dest.to_str().unwrap(),
            "--config",
            path.to_str().unwrap(),
        ],
    );
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("pg_dump"), "{said}");
    assert!(
        !said.contains("Pw-s3cret-99"),
        "the password leaked: {said}"
    );
    assert!(!dest.exists());
}

/// A PostgreSQL that refuses the connection is waited for (it may be starting beside the
/// service), then said in the words `check-config` uses, not as "pool timed out".
#[test]
fn serve_names_a_refused_postgresql_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = refused_postgres_in(dir.path(), "Pw-s3cret-42");
    let started = Instant::now();
    let out = within(
        SERVICE,
        &["serve", "--config", path.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "gave up after {:?} instead of waiting for a database starting up",
        started.elapsed()
    );
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("cannot reach PostgreSQL at 127.0.0.1:1") && said.contains("refused"),
        "{said}"
    );
    assert!(!said.contains("pool timed out"), "{said}");
    assert!(
        !said.contains("Pw-s3cret-42"),
        "the password leaked: {said}"
    );
}

/// The simulator's gate-free control address can be fixed, for scripts that stage an outage.
#[tokio::test]
async fn the_simulators_control_address_can_be_chosen() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let control = format!("127.0.0.1:{port}");
    let mut sim = tokio::process::Command::new(SERVICE)
        .args([
            "palette-sim",
            "--bind",
            "127.0.0.1:0",
            "--control-bind",
            &control,
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://{control}/__sim/summary");
    let deadline = Instant::now() + Duration::from_secs(20);
    let summary = loop {
        if let Ok(resp) = reqwest::get(&url).await
            && resp.status() == 200
        {
            break resp.json::<serde_json::Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "no control API at {control}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(summary["clusters"].as_u64().unwrap_or(0) > 0, "{summary}");
    let _ = sim.kill().await;
}

#[test]
fn serve_logs_the_configurations_warnings_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // A taken port ends `serve` right after start-up.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let path = config_in(
        dir.path(),
        &format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\n[auth]\nmode = \"none\"\n[[auth.tokens]]\ntoken = \"cli-warned-token-7d1e0a\"\nsubject = \"user:default/a\"\n"
        ),
    );
    let said = text(&quick(
        SERVICE,
        &["serve", "--config", path.to_str().unwrap()],
    ));
    let warning = said
        .lines()
        .find(|l| l.contains("auth.tokens"))
        .unwrap_or_else(|| panic!("no warning about auth.tokens: {said}"));
    assert!(
        warning.contains("WARN") && warning.contains("ignored"),
        "{warning}"
    );
    assert!(!said.contains("cli-warned-token"), "{said}");
}
