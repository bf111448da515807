//! Hardening of the edges: what reaches logs and answers, HEAD and security headers, start-up
//! checks of the database, backups, and bounds on MCP sessions.

use std::process::Command;

use spectrocloud_backend::config::{Config, ConfigError};

use crate::helpers::*;

fn check_config(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("check-config runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_toml_syntax_error_names_key_line_and_column_but_never_the_value() {
    let (ok, out) = check_config(
        "[[environments]]\nname = \"prod\"\nurl = \"https://api.example\"\napi_token = Zx9-very-secret-palette-key\n",
    );
    assert!(!ok, "{out}");
    assert!(!out.contains("Zx9-very-secret"), "the value leaked: {out}");
    assert!(out.contains("line 4"), "{out}");
    assert!(out.contains("column"), "{out}");
    assert!(out.contains("api_token"), "{out}");
}

#[test]
fn an_environment_url_with_a_password_is_refused_without_printing_it() {
    let (ok, out) = check_config(
        "[[environments]]\nname = \"prod\"\nurl = \"https://admin:Pw-s3cret-42@api.example\"\napi_token = \"k\"\n",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("environments[0].url"), "{out}");
    assert!(out.contains("user name or password"), "{out}");
    assert!(
        !out.contains("Pw-s3cret-42") && !out.contains("admin:"),
        "{out}"
    );
}

#[test]
fn static_tokens_shorter_than_16_characters_are_refused() {
    let with = |token: &str| {
        format!("[[auth.tokens]]\ntoken = \"{token}\"\nsubject = \"user:default/a\"\n")
    };
    match Config::from_toml_str(&with("x")) {
        Err(ConfigError::Invalid(issues)) => {
            assert!(
                issues
                    .iter()
                    .any(|i| i.key == "auth.tokens[0].token" && i.message.contains("16")),
                "{issues:?}"
            );
            assert!(!format!("{issues:?}").contains("\"x\""));
        }
        other => panic!("a one-character token must be refused: {other:?}"),
    }
    assert!(Config::from_toml_str(&with("abcdefghijklmnop")).is_ok());
}

#[tokio::test]
async fn an_unknown_instance_is_not_echoed_in_full() {
    let app = spawn_app().await;
    let long = "x".repeat(5000);
    let msg = assert_error(
        app.get(&format!("/clusters?instance={long}")).await,
        404,
        "unknown_instance",
    )
    .await;
    assert!(msg.len() < 200, "{} bytes", msg.len());
    assert!(msg.contains(&"x".repeat(64)), "{msg}");
    app.stop().await;
}
