//! Test harness: the real server on port 0 with a fresh temporary database (and, for most
//! tests, the real Palette simulator on port 0). The database is a SQLite file, or, with
//! `SPECTROCLOUD_TEST_POSTGRES_URL` set to a PostgreSQL server, a new database on it per app. Logs of the whole run are captured so a test
//! can check that no secret was ever logged.
#![allow(dead_code)] // shared by many test modules; not every one uses every helper

use std::io::Write;
use std::net::TcpListener;
use std::sync::{LazyLock, Mutex};

use spectrocloud_backend::app::{AppHandle, Application};
use spectrocloud_backend::config::{AuthMode, Config, LogConfig};
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// Everything the services logged during this test binary's run.
pub static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Every secret a test handed to the services (tokens, keys); none may ever show in `LOGS`.
pub static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How far `LOGS` has been checked for secrets.
static CHECKED: Mutex<usize> = Mutex::new(0);

/// Registers a secret before it is handed to a service; it must not be in the logs already.
pub fn remember_secret(s: &str) {
    let logged = LOGS
        .lock()
        .map(|l| String::from_utf8_lossy(&l).contains(s))
        .unwrap_or(false);
    assert!(
        !logged,
        "a secret was logged before this test registered it"
    );
    if let Ok(mut all) = SECRETS.lock()
        && !all.iter().any(|x| x == s)
    {
        all.push(s.to_string());
    }
}

/// Checks what was logged since the last check for every registered secret. Runs whenever a
/// test stops its server, so the logs of the whole test run are checked as it goes.
pub fn assert_no_secret_logged() {
    let secrets = SECRETS.lock().map(|s| s.clone()).unwrap_or_default();
    let longest = secrets.iter().map(String::len).max().unwrap_or(0);
    let logs = LOGS.lock().expect("log buffer");
    let mut checked = CHECKED.lock().expect("log cursor");
    let from = checked.saturating_sub(longest);
    let text = String::from_utf8_lossy(&logs[from..]);
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret appears in the logs: {}…",
            &secret[..secret.len().min(6)]
        );
    }
    *checked = logs.len();
}

struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = std::io::stdout().write_all(buf);
        }
        if let Ok(mut logs) = LOGS.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    // The simulator's API key is a secret too, registered before anything is logged.
    if let Ok(mut all) = SECRETS.lock() {
        all.push("sim-api-key".to_string());
    }
    let config = LogConfig {
        level: "debug,spectrocloud_backend=trace,hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info,actix_http=info"
            .into(),
        ..LogConfig::default()
    };
    spectrocloud_backend::telemetry::init_with_writer(&config, || CaptureWriter);
});

pub fn init_tracing() {
    LazyLock::force(&TRACING);
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().expect("log buffer")).into_owned()
}

pub struct TestApp {
    pub address: String,
    /// `address` + base path, e.g. http://127.0.0.1:1234/api/spectrocloud
    pub base: String,
    pub client: reqwest::Client,
    pub handle: AppHandle,
    pub join: JoinHandle<std::io::Result<()>>,
    pub db_path: std::path::PathBuf,
    /// The server's own mirror handles (tests that reach under the API: disk-full recovery).
    pub db: spectrocloud_backend::store::Db,
    pub config: Config,
    _dir: TempDir,
}

/// A config suitable for tests: loopback, no auth, one worker, temp database, no environments.
/// The PostgreSQL server this run's apps get their databases on, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("SPECTROCLOUD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether this run's mirrors are on PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// True (and says so) when a test is about SQLite's file and this run is on PostgreSQL.
pub fn skip_on_postgres(why: &str) -> bool {
    if on_postgres() {
        eprintln!("skipped on PostgreSQL: {why}");
    }
    on_postgres()
}

/// A new, empty database on the test server; its URL.
pub async fn fresh_postgres_database(server: &str) -> String {
    use sqlx::ConnectOptions;
    let name = format!("sbt_{}", uuid_like());
    let mut admin = server
        .parse::<sqlx::postgres::PgConnectOptions>()
        .expect("SPECTROCLOUD_TEST_POSTGRES_URL")
        .connect()
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::Executor::execute(
        &mut admin,
        sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
    )
    .await
    .expect("create test database");
    let mut url = url::Url::parse(server).expect("PostgreSQL URL");
    url.set_path(&name);
    url.to_string()
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

pub fn base_config(dir: &TempDir) -> Config {
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".into();
    config.server.workers = Some(1);
    config.server.shutdown_timeout_seconds = 5;
    config.database.url = format!("sqlite://{}", dir.path().join("mirror.db").display());
    config.database.max_readers = 4;
    config.auth.mode = AuthMode::None;
    config.permissions.enabled = false;
    config.sync.on_startup = false;
    // Effectively never: tests trigger syncs themselves (a cron boundary must not interfere).
    config.sync.schedule = "0 0 0 1 1 *".into();
    config.sync.retry_base_ms = 20;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the server with the test config, adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config(&dir);
    if let Some(server) = postgres_server() {
        config.database.url = fresh_postgres_database(&server).await;
    }
    adjust(&mut config);
    start(config, dir).await
}

/// A second server (another replica, another process) on `first`'s database, with `first`'s
/// configuration adjusted by `adjust`. `first` must outlive it (it owns a SQLite file's
/// directory).
pub async fn spawn_app_on(first: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = first.config.clone();
    config.server.bind = "127.0.0.1:0".into();
    adjust(&mut config);
    start(config, dir).await
}

async fn start(config: Config, dir: TempDir) -> TestApp {
    config.validate().expect("test config must be valid");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let app = Application::build_with_listener(config.clone(), listener)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let base = format!("{address}{}", config.server.base_path);
    let handle = app.handle();
    let db_path = app
        .state()
        .db
        .sqlite_path()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let db = app.state().db.clone();
    let join = tokio::spawn(app.run_until_stopped());
    // With static tokens, the harness speaks as the first one (tests of other callers set
    // their own header).
    let mut headers = reqwest::header::HeaderMap::new();
    for t in &config.auth.tokens {
        remember_secret(t.token.expose());
    }
    if let Some(t) = config.auth.tokens.first() {
        let v = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", t.token.expose()))
            .expect("token header");
        headers.insert(reqwest::header::AUTHORIZATION, v);
    }
    TestApp {
        address,
        base,
        client: reqwest::Client::builder()
            .default_headers(headers)
            .pool_idle_timeout(IDLE_BEFORE_SERVER_CLOSES)
            .build()
            .expect("client"),
        handle,
        join,
        db_path,
        db,
        config,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.join.await;
        assert_no_secret_logged();
    }
}

/// Reads a response as JSON, failing the test with the body when it is not JSON.
pub async fn json(resp: reqwest::Response) -> serde_json::Value {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text}"))
}

/// Asserts the `{error, code}` shape and the code; returns the message.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let body = json(resp).await;
    assert_eq!(body["code"], code, "unexpected error code in {body}");
    let msg = body["error"].as_str().expect("error message is a string");
    assert!(!msg.is_empty());
    msg.to_string()
}

// ------------------------------------------------------------------ the Palette simulator

pub use palette_sim::{SimConfig, SimServer, Sizes};

/// A small simulator (the demo dataset) on port 0.
pub async fn spawn_sim() -> SimServer {
    spawn_sim_with(SimConfig::default()).await
}

pub async fn spawn_sim_with(mut config: SimConfig) -> SimServer {
    init_tracing();
    config.workers = 1;
    palette_sim::start(config).await.expect("simulator starts")
}

pub fn sizes(projects: usize, clusters: usize, profiles: usize) -> Sizes {
    Sizes {
        projects,
        clusters,
        profiles,
        versions_per_profile: 3,
    }
}

/// Calls the simulator's control API.
pub async fn sim_control(
    sim: &SimServer,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let client = reqwest::Client::new();
    let mut req = client.request(method, format!("{}/__sim{path}", sim.control_url));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control API answers");
    assert!(
        resp.status().is_success(),
        "control {path}: {}",
        resp.status()
    );
    if resp.status() == 204 {
        return serde_json::Value::Null;
    }
    resp.json().await.expect("control API JSON")
}

pub async fn set_knobs(sim: &SimServer, patch: serde_json::Value) {
    sim_control(sim, reqwest::Method::PUT, "/knobs", Some(patch)).await;
}

pub async fn sim_counters(sim: &SimServer) -> std::collections::BTreeMap<String, u64> {
    serde_json::from_value(sim_control(sim, reqwest::Method::GET, "/counters", None).await)
        .expect("counters")
}

/// A fresh session token for a simulated user, e.g. "alice@acme.example".
pub async fn sim_token(sim: &SimServer, email: &str) -> String {
    let v = sim_control(
        sim,
        reqwest::Method::POST,
        "/tokens",
        Some(serde_json::json!({ "email": email })),
    )
    .await;
    let token = v["token"].as_str().expect("token").to_string();
    remember_secret(&token);
    token
}

// ------------------------------------------------------------------ server + simulators

/// An environment pointing at a simulator.
pub fn env_for(name: &str, sim: &SimServer) -> spectrocloud_backend::config::EnvironmentConfig {
    spectrocloud_backend::config::EnvironmentConfig {
        name: name.into(),
        url: sim.url.clone(),
        tenant: "acme".into(),
        api_token: spectrocloud_backend::config::Secret::new(sim.state.api_key.clone()),
        include_projects: vec![],
        exclude_projects: vec![],
        schedule: None,
        user_tokens: true,
        create_defaults: Default::default(),
        require_user_token: None,
        // Paced far above the simulator's speed: tests that are not about rate limits run as
        // fast as before; those that are set the limits they test.
        rate_limits: spectrocloud_backend::config::RateLimitsConfig {
            scale: 100.0,
            ..Default::default()
        },
    }
}

/// The server with one environment per simulator (named `env0`, `env1`, ...).
pub async fn spawn_app_for(sims: &[&SimServer], adjust: impl FnOnce(&mut Config)) -> TestApp {
    let envs: Vec<_> = sims
        .iter()
        .enumerate()
        .map(|(i, s)| env_for(&format!("env{i}"), s))
        .collect();
    spawn_app_with(move |c| {
        c.environments = envs;
        adjust(c);
    })
    .await
}

impl TestApp {
    /// Triggers a sync of `env` over HTTP and waits for its run to end; returns the run record.
    pub async fn sync(&self, env: &str) -> serde_json::Value {
        let resp = self
            .client
            .post(self.url(&format!("/sync?instance={env}")))
            .send()
            .await
            .expect("trigger");
        assert_eq!(resp.status(), 202, "sync trigger");
        let body: serde_json::Value = resp.json().await.expect("trigger JSON");
        let id = body["runs"][0]["run_id"].as_i64().expect("run id");
        self.wait_run(env, id).await
    }

    /// Starts a sync of `env` over HTTP without waiting for it; returns the run's id.
    pub async fn start_sync(&self, env: &str) -> i64 {
        let t: serde_json::Value = self
            .client
            .post(self.url(&format!("/sync?instance={env}")))
            .send()
            .await
            .expect("trigger")
            .json()
            .await
            .expect("trigger JSON");
        t["runs"][0]["run_id"].as_i64().expect("run id")
    }

    /// `/sync/status` of `env`: its one environment entry.
    pub async fn env_status(&self, env: &str) -> serde_json::Value {
        let s = json(self.get(&format!("/sync/status?instance={env}")).await).await;
        s["environments"][0].clone()
    }

    /// Waits (generously: 60 s) until the running run of `env` has applied its listings;
    /// returns the run's progress.
    pub async fn wait_listed(&self, env: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let s = self.env_status(env).await;
            let p = &s["running"]["progress"];
            if p["listed_at"].is_string() {
                return p.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "listings not applied in 60 s: {s}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits until run `id` of `env` has ended; returns its record.
    pub async fn wait_run(&self, env: &str, id: i64) -> serde_json::Value {
        for _ in 0..600 {
            let status: serde_json::Value = self
                .client
                .get(self.url(&format!("/sync/status?instance={env}")))
                .send()
                .await
                .expect("status")
                .json()
                .await
                .expect("status JSON");
            let e = &status["environments"][0];
            if e["running"].is_null() && e["last_run"]["id"].as_i64() == Some(id) {
                return e["last_run"].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("sync run {id} of {env} did not end within 30 s");
    }

    /// A connection to the mirror, whichever backend it is on (SQL through [`q`]).
    pub async fn mirror(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.config.database.url)
            .await
            .expect("open mirror")
    }

    /// SQLite's pool of read-only connections (what answers read from).
    pub fn sqlite_reader(&self) -> &sqlx::SqlitePool {
        match &self.db.pools {
            spectrocloud_backend::store::Pools::Sqlite { reader, .. } => reader,
            spectrocloud_backend::store::Pools::Postgres { .. } => {
                panic!("a SQLite-only test ran on PostgreSQL")
            }
        }
    }

    /// SQLite's writer pool itself (tests of SQLite's file: skip them on PostgreSQL).
    pub fn sqlite_writer(&self) -> &sqlx::SqlitePool {
        match &self.db.pools {
            spectrocloud_backend::store::Pools::Sqlite { writer, .. } => writer,
            spectrocloud_backend::store::Pools::Postgres { .. } => {
                panic!("a SQLite-only test ran on PostgreSQL")
            }
        }
    }
}

/// A test's SQL (written with `?`) for this run's backend.
pub fn q(sql: &str) -> sqlx::AssertSqlSafe<String> {
    if on_postgres() {
        sqlx::AssertSqlSafe(spectrocloud_backend::store::dialect::postgres(sql))
    } else {
        sqlx::AssertSqlSafe(sql.to_string())
    }
}

/// `SELECT count(*) ...` on the mirror.
pub async fn count(pool: &sqlx::AnyPool, sql: &'static str, env: &str) -> i64 {
    sqlx::query_scalar(q(sql))
        .bind(env)
        .fetch_one(pool)
        .await
        .expect("count query")
}

/// A simulator and the server with one environment (`env0`) on it, synced once.
pub async fn synced(config: SimConfig, adjust: impl FnOnce(&mut Config)) -> (SimServer, TestApp) {
    let sim = spawn_sim_with(config).await;
    let app = spawn_app_for(&[&sim], adjust).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "first sync: {run}");
    (sim, app)
}

/// How long a pooled connection may sit idle: well under the server's keep-alive (5 s), so a
/// client never sends on a connection the server is closing at that moment, which fails the
/// request with `IncompleteMessage` when a long flood leaves some connections idle.
const IDLE_BEFORE_SERVER_CLOSES: std::time::Duration = std::time::Duration::from_secs(2);

/// A client kept for many requests (floods, several callers): its pool drops idle connections
/// before the server does.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(IDLE_BEFORE_SERVER_CLOSES)
        .build()
        .expect("client")
}

/// GET on the simulator with the API key.
pub async fn sim_get(sim: &SimServer, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}{path}", sim.url))
        .header("ApiKey", "sim-api-key")
        .send()
        .await
        .expect("simulator answers")
        .json()
        .await
        .expect("simulator JSON")
}

/// A simulated user from `/__sim/users`: uid, email, projects, tenantPermissions, a fresh token.
pub async fn sim_user(sim: &SimServer, email: &str) -> serde_json::Value {
    let users = sim_control(sim, reqwest::Method::GET, "/users", None).await;
    let user = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == email)
        .cloned()
        .unwrap_or_else(|| panic!("no simulated user {email}"));
    remember_secret(user["token"].as_str().expect("token"));
    user
}

/// [`count`] on a SQLite file opened by a SQLite-only test.
pub async fn count_sqlite(pool: &sqlx::SqlitePool, sql: &'static str, env: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(env)
        .fetch_one(pool)
        .await
        .expect("count query")
}
