//! Configuration: validation messages name the key; check-config exits non-zero.

use std::process::Command;

use spectrocloud_backend::config::{Config, ConfigError};

fn issues(toml: &str) -> Vec<(String, String)> {
    match Config::from_toml_str(toml) {
        Err(ConfigError::Invalid(issues)) => {
            issues.into_iter().map(|i| (i.key, i.message)).collect()
        }
        Err(other) => vec![("<parse>".into(), other.to_string())],
        Ok(_) => vec![],
    }
}

const ENV: &str = r#"
[[environments]]
name = "prod"
url = "https://api.spectrocloud.com"
api_token = "k"
"#;

#[test]
fn valid_config_parses() {
    let c = Config::from_toml_str(ENV).expect("valid");
    assert_eq!(c.environments[0].name, "prod");
    assert_eq!(c.server.base_path, "/api/spectrocloud");
    assert_eq!(format!("{:?}", c.environments[0].api_token), "***");
}

#[test]
fn duplicate_environment_names() {
    let got = issues(&format!("{ENV}{ENV}"));
    assert!(
        got.iter()
            .any(|(k, m)| k == "environments[1].name" && m.contains("duplicate")),
        "{got:?}"
    );
}

#[test]
fn empty_url_and_bad_url() {
    let got = issues(
        r#"
[[environments]]
name = "a"
url = ""
api_token = "k"
[[environments]]
name = "b"
url = "ftp://x"
api_token = "k"
"#,
    );
    assert!(
        got.iter().any(|(k, _)| k == "environments[0].url"),
        "{got:?}"
    );
    assert!(
        got.iter().any(|(k, _)| k == "environments[1].url"),
        "{got:?}"
    );
}

#[test]
fn unknown_auth_mode_names_the_key() {
    let got = issues(&format!("[auth]\nmode = \"magic\"\n{ENV}"));
    assert!(
        got.iter()
            .any(|(k, m)| m.contains("auth.mode") && m.contains("magic") || k == "auth.mode"),
        "{got:?}"
    );
}

#[test]
fn none_mode_refused_on_public_bind() {
    let got = issues(&format!(
        "[server]\nbind = \"0.0.0.0:7007\"\n[auth]\nmode = \"none\"\n{ENV}"
    ));
    assert!(
        got.iter()
            .any(|(k, m)| k == "auth.mode" && m.contains("loopback")),
        "{got:?}"
    );
    assert!(issues(&format!("[auth]\nmode = \"none\"\n{ENV}")).is_empty());
}

#[test]
fn backstage_mode_needs_an_issuer_it_can_check() {
    let cfg = |backstage: &str| {
        issues(&format!(
            "[auth]\nmode = \"backstage\"\n[auth.backstage]\n{backstage}\n{ENV}"
        ))
    };
    let got = cfg("jwks_url = \"https://bs.example/keys\"");
    assert!(
        got.iter().any(|(k, _)| k == "auth.backstage.issuer"),
        "{got:?}"
    );
    assert!(cfg("jwks_url = \"https://bs.example/api/auth/.well-known/jwks.json\"").is_empty());
    assert!(
        cfg("jwks_url = \"https://bs.example/keys\"\nissuer = \"https://bs.example/api/auth\"")
            .is_empty()
    );
}

#[test]
fn unknown_key_is_named() {
    let got = issues(&format!("[server]\nbnd = \"127.0.0.1:1\"\n{ENV}"));
    assert!(got.iter().any(|(_, m)| m.contains("bnd")), "{got:?}");
}

#[test]
fn unset_variable_is_named() {
    let got = issues(
        r#"
[[environments]]
name = "a"
url = "https://x.example"
api_token = "${SCB_DEFINITELY_UNSET_VAR}"
"#,
    );
    assert!(
        got.iter()
            .any(|(k, m)| k.contains("environments[0].api_token")
                && m.contains("SCB_DEFINITELY_UNSET_VAR")),
        "{got:?}"
    );
}

#[test]
fn bad_cron_and_permission() {
    let got = issues(&format!(
        "[sync]\nschedule = \"every minute\"\n[[permissions.grants]]\nprincipals=[\"*\"]\nallow=[\"spectrocloud.cluster.fly\"]\n{ENV}"
    ));
    assert!(got.iter().any(|(k, _)| k == "sync.schedule"), "{got:?}");
    assert!(
        got.iter()
            .any(|(k, _)| k == "permissions.grants[0].allow[0]"),
        "{got:?}"
    );
}

#[test]
fn answer_caps_and_deletion_fraction_are_checked() {
    let got = issues(&format!(
        "[sync]\nmax_listing_bytes = 100\nmax_object_bytes = 0\nmax_deletion_fraction = 1.5\n{ENV}"
    ));
    for key in [
        "sync.max_listing_bytes",
        "sync.max_object_bytes",
        "sync.max_deletion_fraction",
    ] {
        assert!(got.iter().any(|(k, _)| k == key), "{key}: {got:?}");
    }
    let got = issues(&format!("[sync]\nmax_deletion_fraction = 0.0\n{ENV}"));
    assert!(
        got.iter().any(|(k, _)| k == "sync.max_deletion_fraction"),
        "{got:?}"
    );
    let c = Config::from_toml_str(ENV).expect("valid");
    assert_eq!(c.sync.max_listing_bytes, 256 * 1024 * 1024);
    assert_eq!(c.sync.max_object_bytes, 32 * 1024 * 1024);
    assert_eq!(c.sync.max_deletion_fraction, 0.5);
}

#[test]
fn check_config_cli_reports_bad_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, format!("[sync]\nconcurrency = 0\n{ENV}")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sync.concurrency"), "{stderr}");
}

#[test]
fn check_config_cli_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.toml");
    std::fs::write(
        &path,
        "[[environments]]\nname=\"p\"\nurl=\"https://x.example\"\napi_token=\"very-secret-key\"\n[[auth.tokens]]\ntoken=\"tok-1234567890abcdef\"\nsubject=\"user:default/a\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("very-secret-key") && !stdout.contains("tok-1234567890abcdef"),
        "{stdout}"
    );
    assert!(stdout.contains("***"));
}

#[test]
fn shipped_config_is_valid() {
    let c = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.toml"
    )))
    .expect("shipped config.toml is valid");
    assert!(!c.environments.is_empty());
}

#[test]
fn env_override_applies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, ENV).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env("SPECTROCLOUD__SYNC__CONCURRENCY", "3")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("concurrency = 3"));
}

#[test]
fn docker_config_is_valid_when_its_token_is_set() {
    // SAFETY: this variable name is used by this test only.
    unsafe { std::env::set_var("SC_API_TOKEN", "compose-token-0123456789") };
    let c = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.docker.toml"
    )))
    .expect("config.docker.toml is valid");
    assert_eq!(c.server.bind, "0.0.0.0:7007");
}

#[test]
fn create_defaults_are_parsed_and_checked() {
    let ok = format!(
        "{ENV}[environments.create_defaults.eks]\nregion = \"us-east-1\"\n\
         [environments.create_defaults.vsphere]\nsshKeys = [\"ssh-ed25519 AAAA\"]\n"
    );
    let c = Config::from_toml_str(&ok).expect("valid");
    assert_eq!(
        c.environments[0].create_defaults["eks"]["region"],
        "us-east-1"
    );
    let bad = format!(
        "{ENV}[environments.create_defaults.gcp]\nregion = \"x\"\n\
         [environments.create_defaults.aks]\nregion = \"x\"\nlocation = \"\"\n"
    );
    let got = issues(&bad);
    for key in [
        "environments[0].create_defaults.gcp",
        "environments[0].create_defaults.aks.region",
        "environments[0].create_defaults.aks.location",
    ] {
        assert!(got.iter().any(|(k, _)| k == key), "{key} not in {got:?}");
    }
}

#[test]
fn a_closed_set_lists_its_allowed_values() {
    for (toml, allowed) in [
        (
            "[auth]\nmode = \"magic\"\n",
            "allowed: none, static, backstage",
        ),
        ("[log]\nformat = \"xml\"\n", "allowed: text, json"),
    ] {
        let got = issues(&format!("{toml}{ENV}"));
        assert!(
            got.iter().any(|(_, m)| m.contains(allowed)),
            "{toml}: {got:?}"
        );
    }
}

#[test]
fn requiring_user_tokens_where_none_is_used_is_refused() {
    let got = issues(&format!(
        "[auth]\nrequire_user_token = true\n{ENV}user_tokens = false\n"
    ));
    assert!(
        got.iter()
            .any(|(k, m)| k == "environments[0].require_user_token"
                && m.contains("user_tokens = false")),
        "{got:?}"
    );
    // Where it is not required, an environment without user tokens is fine.
    assert!(issues(&format!("{ENV}user_tokens = false\n")).is_empty());
}

/// A directory holding `text` as `c.toml`.
fn write_config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), text).unwrap();
    dir
}

/// Runs `check-config` (with `extra` arguments) on `text`: success, stdout, stderr.
fn check_config(text: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .arg("check-config")
        .args(extra)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const TOKEN: &str =
    "[[auth.tokens]]\ntoken = \"check-config-token-51ab9c\"\nsubject = \"user:default/a\"\n";
const GRANT: &str = "[[permissions.grants]]\nprincipals = [\"*\"]\nallow = [\"spectrocloud.*\"]\n";

#[test]
fn check_config_warns_on_set_ups_that_cannot_work_as_meant() {
    // Zero environments; tokens that mode "none" would silently ignore.
    let (code, stdout, stderr) = check_config(&format!("[auth]\nmode = \"none\"\n{TOKEN}"), &[]);
    assert_eq!(code, Some(0), "warnings do not fail: {stderr}");
    assert!(
        stderr.contains("warning: environments: no environment is configured"),
        "{stderr}"
    );
    assert!(stderr.contains("warning: auth.tokens: ignored"), "{stderr}");
    assert!(stdout.contains("with 2 warnings"), "{stdout}");
    assert!(!stderr.contains("check-config-token"), "{stderr}");
    // --strict fails on them (CI).
    let (code, _, _) = check_config(&format!("[auth]\nmode = \"none\"\n{TOKEN}"), &["--strict"]);
    assert_eq!(code, Some(1));
    // Permissions enabled with no grant: everyone refused; grants that give cluster.create
    // but nobody the audit's own permission.
    let (_, _, stderr) = check_config(&format!("{ENV}{TOKEN}"), &[]);
    assert!(
        stderr.contains("warning: permissions.grants: none configured"),
        "{stderr}"
    );
    let creators =
        "[[permissions.grants]]\nprincipals = [\"*\"]\nallow = [\"spectrocloud.cluster.create\"]\n";
    let (_, _, stderr) = check_config(&format!("{ENV}{TOKEN}{creators}"), &[]);
    assert!(stderr.contains("spectrocloud.audit.view"), "{stderr}");
    // A complete set-up: no warning, and --strict passes.
    let (code, stdout, stderr) = check_config(&format!("{ENV}{TOKEN}{GRANT}"), &["--strict"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(stdout.contains("is valid;"), "{stdout}");
}

/// `check-config` on a configuration naming the database `url` (and nothing else).
fn check_database(url: &str) -> (Option<i32>, String, String) {
    check_config(&format!("[database]\nurl = \"{url}\"\n"), &[])
}

#[test]
fn check_config_never_prints_the_database_password() {
    let (code, stdout, stderr) =
        check_database("postgres://spectrocloud:Pw-s3cret-88@127.0.0.1:1/spectrocloud");
    assert_eq!(code, Some(2), "{stderr}");
    let said = format!("{stdout}{stderr}");
    assert!(
        !said.contains("Pw-s3cret-88"),
        "the password leaked: {said}"
    );
}

#[tokio::test]
async fn check_config_names_what_stands_in_the_way_of_a_postgresql_database() {
    let Some(server) = crate::helpers::postgres_server() else {
        eprintln!("skipped: SPECTROCLOUD_TEST_POSTGRES_URL is not set");
        return;
    };
    let good = url::Url::parse(&crate::helpers::fresh_postgres_database(&server).await).unwrap();
    let (code, stdout, stderr) = check_database(good.as_str());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("# database: PostgreSQL"), "{stdout}");
    assert!(stdout.contains("no schema yet"), "{stdout}");
    // The configuration printed shows the URL without its password (when the server takes
    // it: the test server trusts loopback).
    let mut with_password = good.clone();
    with_password.set_password(Some("Pw-s3cret-66")).unwrap();
    let (code, stdout, stderr) = check_database(with_password.as_str());
    if code == Some(0) {
        assert!(stdout.contains(":***@"), "{stdout}");
    }
    assert!(
        !format!("{stdout}{stderr}").contains("Pw-s3cret-66"),
        "the password leaked"
    );

    let mut port = good.clone();
    port.set_port(Some(1)).unwrap();
    let (code, _, stderr) = check_database(port.as_str());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("error: database.url: cannot reach PostgreSQL at 127.0.0.1:1"),
        "{stderr}"
    );

    let mut name = good.clone();
    name.set_path("sbt_no_such_database");
    let (code, _, stderr) = check_database(name.as_str());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("database `sbt_no_such_database` does not exist"),
        "{stderr}"
    );
    // `serve` says it in the same words, at once: waiting cannot create a database.
    let started = std::time::Instant::now();
    let serve = Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["serve", "--config"])
        .arg(
            write_config(&format!(
                "[server]\nbind = \"127.0.0.1:0\"\n[database]\nurl = \"{name}\"\n"
            ))
            .path()
            .join("c.toml"),
        )
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve.status.success(), "{said}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{said}"
    );
    assert!(
        said.contains("database `sbt_no_such_database` does not exist")
            && !said.contains("at line"),
        "{said}"
    );

    let mut user = good.clone();
    user.set_username("sbt_no_such_user").unwrap();
    user.set_password(Some("Pw-s3cret-77")).unwrap();
    let (code, stdout, stderr) = check_database(user.as_str());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("refused user `sbt_no_such_user`"),
        "{stderr}"
    );
    assert!(
        !format!("{stdout}{stderr}").contains("Pw-s3cret-77"),
        "the password leaked"
    );
}

/// A migration this binary does not know, as a newer release would have left it.
async fn newer_migration(app: &crate::helpers::TestApp) {
    let db = app.mirror().await;
    let checksum = if crate::helpers::on_postgres() {
        "'\\x00'::bytea"
    } else {
        "X'00'"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000000, 'from the future', TRUE, {checksum}, 1)"
    )))
    .execute(&db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_named_by_check_config_and_at_start_up() {
    let app = crate::helpers::spawn_app().await;
    let url = app.config.database.url.clone();
    let (code, stdout, stderr) = check_database(&url);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("schema up to date"), "{stdout}");

    newer_migration(&app).await;
    let (code, _, stderr) = check_database(&url);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "the schema is newer than this binary: migration 99991231000000 (from the future)"
        ),
        "{stderr}"
    );
    // Starting on it is refused with the same words.
    let refused = spectrocloud_backend::store::Db::open(&app.config.database).await;
    let why = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(why.contains("newer than this binary"), "{why}");
    app.stop().await;
}

#[test]
fn lease_and_replica_id_are_checked() {
    let got = issues(&format!(
        "[server]\nreplica_id = \"a b\"\n[sync]\nlease_seconds = 0\n{ENV}"
    ));
    assert!(
        got.iter()
            .any(|(k, m)| k == "server.replica_id" && m.contains("`a b`")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|(k, m)| k == "sync.lease_seconds" && m.contains("between 1 and 3600")),
        "{got:?}"
    );
    let ok =
        Config::from_toml_str(&format!("[server]\nreplica_id = \"web-1\"\n{ENV}")).expect("valid");
    assert_eq!(ok.server.replica_id(), "web-1");
    assert_eq!(ok.sync.lease_seconds, 30);
    // Unset: the host and this process, so two processes on one host differ.
    let default = Config::from_toml_str(ENV)
        .expect("valid")
        .server
        .replica_id();
    assert!(
        default.ends_with(&format!("-{}", std::process::id())),
        "{default}"
    );
}
