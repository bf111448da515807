//! The command lines explain themselves: a help flag or an unknown word prints usage and exits
//! at once, never starting a benchmark, a simulator or a server.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BENCH: &str = env!("CARGO_BIN_EXE_bench");
const SERVICE: &str = env!("CARGO_BIN_EXE_spectrocloud-backend");

/// Runs `bin args`; fails the test when it is still running after a few seconds (it started
/// work instead of answering).
fn quick(bin: &str, args: &[&str]) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(10) {
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
