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

const TOKEN: &str = "hardening-bearer-token-4c1e9a77";

fn static_auth(c: &mut Config) {
    use spectrocloud_backend::config::{AuthMode, Secret, StaticToken};
    c.auth.mode = AuthMode::Static;
    c.auth.tokens = vec![StaticToken {
        token: Secret::new(TOKEN),
        subject: "user:default/hardy".into(),
        groups: vec![],
        palette_user: None,
    }];
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn head_works_wherever_get_does_and_health_needs_no_token() {
    let app = spawn_app_with(static_auth).await;
    let anonymous = http_client();
    let resp = anonymous.head(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty(), "HEAD has no body");

    let resp = app
        .client
        .head(app.url("/sync/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), Some("application/json"));
    let resp = anonymous.head(app.url("/clusters")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(header(&resp, "www-authenticate"), Some("Bearer"));
    app.stop().await;
}

#[tokio::test]
async fn every_401_names_the_bearer_scheme_metrics_too() {
    let app = spawn_app_with(static_auth).await;
    let anonymous = http_client();
    for url in [
        format!("{}/metrics", app.address),
        app.url("/clusters"),
        app.url("/sync/status"),
    ] {
        let resp = anonymous.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{url}");
        assert_eq!(header(&resp, "www-authenticate"), Some("Bearer"), "{url}");
    }
    app.stop().await;
}

#[tokio::test]
async fn security_headers_are_on_every_answer_and_hsts_only_when_configured() {
    let app = spawn_app_with(static_auth).await;
    let anonymous = http_client();
    let answers = [
        app.get("/sync/status").await,
        app.get("/no/such/route").await,
        anonymous.get(app.url("/clusters")).send().await.unwrap(),
        anonymous.get(app.url("/health")).send().await.unwrap(),
    ];
    for resp in &answers {
        let what = resp.url().path().to_string();
        assert_eq!(
            header(resp, "x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            header(resp, "referrer-policy"),
            Some("no-referrer"),
            "{what}"
        );
        assert_eq!(header(resp, "cache-control"), Some("no-store"), "{what}");
        assert_eq!(header(resp, "strict-transport-security"), None, "{what}");
    }
    app.stop().await;

    let app = spawn_app_with(|c| c.server.hsts_max_age_seconds = 31_536_000).await;
    let resp = app.get("/health").await;
    assert_eq!(
        header(&resp, "strict-transport-security"),
        Some("max-age=31536000")
    );
    app.stop().await;
}

#[tokio::test]
async fn request_logs_show_the_path_but_not_a_query_token() {
    let app = spawn_app().await;
    let secret = "query-token-never-logged-5d2f8e";
    remember_secret(secret);
    let resp = app
        .get(&format!(
            "/sync/status?token={secret}&instance=nope-instance-77"
        ))
        .await;
    assert_eq!(resp.status(), 404);
    app.stop().await; // checks every registered secret against the logs
    let logs = captured_logs();
    assert!(!logs.contains(secret));
    assert!(
        logs.contains("instance=nope-instance-77"),
        "the request line with its redacted query was logged"
    );
}

#[tokio::test]
async fn a_huge_email_header_is_refused_and_never_logged() {
    let app = spawn_app().await;
    let email = format!("{}@example.com", "e".repeat(30_000));
    let resp = app
        .client
        .get(app.url("/sync/status"))
        .header("X-SpectroCloud-User-Email", &email)
        .send()
        .await
        .unwrap();
    let msg = assert_error(resp, 400, "bad_request").await;
    assert!(msg.contains("254"), "{msg}");
    let ok = app
        .client
        .get(app.url("/sync/status"))
        .header("X-SpectroCloud-User-Email", "alice@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    app.stop().await;
    assert!(!captured_logs().contains(&"e".repeat(300)));
}

// ------------------------------------------------------------------ the database file

fn cli(args: &[&str], config: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("the CLI runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn db_config(dir: &std::path::Path, db: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("backup.toml");
    let text = format!(
        "[server]\nbind = \"127.0.0.1:0\"\n[auth]\nmode = \"none\"\n[database]\nurl = \"sqlite://{}\"\n",
        db.display()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

#[tokio::test]
async fn after_a_sync_the_wal_is_checkpointed_and_truncated() {
    if skip_on_postgres("SQLite's WAL file") {
        return;
    }
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let wal = app.db_path.with_extension("db-wal");
    let db_len = std::fs::metadata(&app.db_path).unwrap().len();
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(db_len > 100_000, "the mirror holds data: {db_len}");
    assert!(
        wal_len < 64 * 1024,
        "WAL is {wal_len} bytes next to {db_len}"
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn backup_copies_the_live_mirror_and_never_overwrites() {
    if skip_on_postgres("`backup` copies the SQLite file (PostgreSQL: pg_dump)") {
        return;
    }
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let config = db_config(dir.path(), &app.db_path);
    let dest = dir.path().join("copy.db");
    let dest_s = dest.to_string_lossy().into_owned();
    let (ok, out) = cli(&["backup", &dest_s], &config);
    assert!(ok, "{out}");
    assert!(out.contains("backup written"), "{out}");

    let copy = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&dest)
                .read_only(true),
        )
        .await
        .unwrap();
    let in_copy = count_sqlite(&copy, "SELECT count(*) FROM clusters WHERE env = ?", "env0").await;
    let live = count(
        &app.mirror().await,
        "SELECT count(*) FROM clusters WHERE env = ?",
        "env0",
    )
    .await;
    assert!(live > 0);
    assert_eq!(in_copy, live);
    copy.close().await;

    let before = std::fs::read(&dest).unwrap();
    let (ok, out) = cli(&["backup", &dest_s], &config);
    assert!(!ok && out.contains("already exists"), "{out}");
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        before,
        "the file is untouched"
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_corrupt_database_is_refused_at_start_with_a_clear_message() {
    if skip_on_postgres("a corrupt SQLite file") {
        return;
    }
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mirror.db");
    let (ok, out) = cli(
        &["backup", &copy.to_string_lossy()],
        &db_config(dir.path(), &app.db_path),
    );
    assert!(ok, "{out}");
    app.stop().await;
    sim.stop().await;

    // Garbage over the last pages (table data: SQLite opens the file, quick_check finds it),
    // then over every page but the first (the file cannot even be opened).
    let pristine = std::fs::read(&copy).unwrap();
    let page = 4096;
    assert!(pristine.len() > 8 * page);
    let config = db_config(dir.path(), &copy);
    for from in [pristine.len() / page * page - 2 * page, page] {
        let mut bytes = pristine.clone();
        for b in &mut bytes[from..] {
            *b = 0xA5;
        }
        std::fs::write(&copy, &bytes).unwrap();
        let (ok, out) = cli(&["serve"], &config);
        assert!(!ok, "a corrupt database must not be served: {out}");
        assert!(
            out.contains("quick_check") && out.contains("is corrupt"),
            "{out}"
        );
        assert!(out.contains("restore it from a backup"), "{out}");
    }
}

// ------------------------------------------------------------------ MCP transport

const AGENT: &str = "hardening-agent-token-0b7d3e51";
const OTHER: &str = "hardening-other-token-92af6c08";

fn two_callers(c: &mut Config) {
    use spectrocloud_backend::config::{AuthMode, Secret, StaticToken};
    c.auth.mode = AuthMode::Static;
    c.auth.tokens = [(AGENT, "user:default/agent"), (OTHER, "user:default/other")]
        .into_iter()
        .map(|(t, s)| StaticToken {
            token: Secret::new(t),
            subject: s.into(),
            groups: vec![],
            palette_user: None,
        })
        .collect();
    c.mcp.max_sessions_per_caller = 3;
    c.mcp.max_sessions = 5;
}

async fn mcp_post(
    app: &TestApp,
    token: &str,
    session: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(app.url("/mcp"))
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(s) = session {
        req = req.header("Mcp-Session-Id", s);
    }
    req.send().await.expect("MCP answers")
}

/// `initialize`; the new session's id, or the refusal's status.
async fn mcp_open(app: &TestApp, token: &str) -> Result<String, u16> {
    let body = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let resp = mcp_post(app, token, None, body.into()).await;
    if resp.status() != 200 {
        return Err(resp.status().as_u16());
    }
    let id = header(&resp, "mcp-session-id")
        .expect("session id")
        .to_string();
    let _ = resp.text().await;
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    mcp_post(app, token, Some(&id), note.into()).await;
    Ok(id)
}

/// The status of `tools/list` in session `id`.
async fn mcp_list(app: &TestApp, token: &str, id: &str) -> u16 {
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#;
    let resp = mcp_post(app, token, Some(id), body.into()).await;
    let status = resp.status().as_u16();
    let _ = resp.text().await;
    status
}

#[tokio::test]
async fn mcp_sessions_are_bounded_per_caller_and_overall() {
    let app = spawn_app_with(two_callers).await;
    remember_secret(AGENT);
    remember_secret(OTHER);
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(
            mcp_open(&app, AGENT)
                .await
                .expect("a caller may always open a session"),
        );
    }
    // Its three most recent sessions live; every older one was ended to make room.
    for (i, id) in ids.iter().enumerate() {
        let want = if i >= ids.len() - 3 { 200 } else { 404 };
        assert_eq!(mcp_list(&app, AGENT, id).await, want, "session {i}");
    }
    // 3 + 2 = the overall cap of 5: the next session of anyone is refused.
    mcp_open(&app, OTHER).await.expect("within the cap");
    mcp_open(&app, OTHER).await.expect("within the cap");
    assert_eq!(mcp_open(&app, OTHER).await, Err(503));
    app.stop().await;
}

#[tokio::test]
async fn mcp_malformed_bodies_are_json_rpc_parse_errors() {
    let app = spawn_app_with(two_callers).await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (body, code) in [
        ("{not json".to_string(), -32700),
        (deep, -32700),
        (r#"{"hello":"world"}"#.to_string(), -32600),
    ] {
        let resp = mcp_post(&app, AGENT, None, body).await;
        assert_eq!(resp.status(), 400);
        let v = json(resp).await;
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
        assert_eq!(v["error"]["code"], code, "{v}");
    }
    app.stop().await;
}

#[tokio::test]
async fn mcp_session_delete_is_204_then_404_and_only_for_its_owner() {
    let app = spawn_app_with(two_callers).await;
    let id = mcp_open(&app, AGENT).await.unwrap();
    let delete = |token: &'static str, id: String| {
        let url = app.url("/mcp");
        async move {
            reqwest::Client::new()
                .delete(url)
                .bearer_auth(token)
                .header("Mcp-Session-Id", id)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        mcp_list(&app, OTHER, &id).await,
        404,
        "not another caller's"
    );
    assert_eq!(delete(OTHER, id.clone()).await, 404);
    assert_eq!(mcp_list(&app, AGENT, &id).await, 200);
    assert_eq!(delete(AGENT, id.clone()).await, 204);
    assert_eq!(delete(AGENT, id.clone()).await, 404);
    assert_eq!(mcp_list(&app, AGENT, &id).await, 404);
    app.stop().await;
}
