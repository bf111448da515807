//! Builds the whole application from a config (state, HTTP server, background workers) and runs
//! it on a given listener, so tests can start it on port 0 with a temporary database.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::api;
use crate::api::middleware::{BodyLimit, TooLarge};
use crate::auth::Authenticator;
use crate::auth::palette_user::TokenCache;
use crate::auth::scope::ScopeCache;
use crate::config::Config;
use crate::palette::{Environments, PaletteError};
use crate::service::AppState;
use crate::store::{Db, StoreError};
use crate::sync::{RunNow, RunReport, SyncEngine, Trigger, leader, scheduler};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    // The cause is in the message and not a `source`: printed with its chain, it would show
    // twice.
    #[error("cannot bind {addr}: {cause}")]
    Bind { addr: String, cause: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot prepare the mirror: {0}")]
    Mirror(#[from] sqlx::Error),
    #[error("environment client: {0}")]
    Palette(#[from] PaletteError),
    #[error("cannot start the sync scheduler: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error("cannot start the HTTP server: {0}")]
    Server(#[source] std::io::Error),
}

/// Build options no config file can set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Registers the benchmark's ceiling route (`api::ceiling`).
    pub ceiling: bool,
}

pub struct Application {
    server: Server,
    addr: SocketAddr,
    state: web::Data<AppState>,
    shutdown: CancellationToken,
    mcp_sessions: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

/// Stops a running [`Application`] from elsewhere (signal handler, test).
#[derive(Clone)]
pub struct AppHandle {
    server: ServerHandle,
    shutdown: CancellationToken,
    mcp_sessions: CancellationToken,
}

/// After a stop, MCP sessions get this long to finish the tool calls under way before their
/// streams (which would otherwise hold the drain open) are closed.
const MCP_GRACE: Duration = Duration::from_secs(5);

impl AppHandle {
    /// Stops background workers and the server; with `graceful`, in-flight requests finish first.
    pub async fn stop(&self, graceful: bool) {
        self.shutdown.cancel();
        let sessions = self.mcp_sessions.clone();
        if graceful {
            tokio::spawn(async move {
                tokio::time::sleep(MCP_GRACE).await;
                sessions.cancel();
            });
        } else {
            sessions.cancel();
        }
        self.server.stop(graceful).await;
        self.mcp_sessions.cancel();
    }
}

impl Application {
    /// Binds `server.bind` and builds the application.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        let listener =
            TcpListener::bind(&config.server.bind).map_err(|cause| StartupError::Bind {
                addr: config.server.bind.clone(),
                cause,
            })?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds the application on an already bound listener (port 0 in tests).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Application, StartupError> {
        Self::build_with_options(config, listener, Options::default()).await
    }

    /// [`Application::build_with_listener`] with what only the benchmark asks for.
    pub async fn build_with_options(
        config: Config,
        listener: TcpListener,
        options: Options,
    ) -> Result<Application, StartupError> {
        let addr = listener.local_addr().map_err(StartupError::Server)?;
        let config = Arc::new(config);
        let shutdown = CancellationToken::new();
        let state = build_state(&config, &shutdown).await?;
        let mut workers = start_workers(&config, &state.sync, &shutdown).await?;
        workers.push(follow_other_processes(&config, &state, &shutdown));
        // The change history's notifier, webhooks and upkeep: off the sync's path.
        workers.extend(crate::service::history::start(&state.db, &config, &shutdown).await);
        let mcp_sessions = CancellationToken::new();
        let server = http_server(&config, &state, &mcp_sessions, options, listener)?;
        tracing::info!(%addr, base_path = %config.server.base_path, "server listening");
        Ok(Application {
            server,
            addr,
            state,
            shutdown,
            mcp_sessions,
            workers,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn handle(&self) -> AppHandle {
        AppHandle {
            server: self.server.handle(),
            shutdown: self.shutdown.clone(),
            mcp_sessions: self.mcp_sessions.clone(),
        }
    }

    /// Serves until stopped through an [`AppHandle`]; then stops the workers and closes the
    /// database.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.shutdown.cancel();
        self.mcp_sessions.cancel();
        for w in self.workers {
            if tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .is_err()
            {
                tracing::warn!("a background worker did not stop within 10 s");
            }
        }
        self.state.sync.wait_idle(Duration::from_secs(10)).await;
        self.state.db.close().await;
        tracing::info!("server stopped");
        result
    }
}

/// A 413 in the error shape of the request's route family (the actions registry answers as
/// Backstage does, MCP with a JSON-RPC error, the rest `{error, code}`), so each family's
/// clients read it as they read its other errors. The families are known here, where the
/// routes are mounted, so `api`'s body guard calls this without importing `mcp`.
fn too_large(base_path: &str) -> TooLarge {
    let base = base_path.trim_end_matches('/');
    let actions = format!("{base}/.backstage/");
    let mcp = format!("{base}/mcp");
    let mcp_under = format!("{mcp}/");
    TooLarge::new(move |req, limit| {
        let path = req.path();
        let error = api::middleware::too_large(limit);
        if path.starts_with(&actions) {
            crate::mcp::actions::ActionError::from(error).respond(req)
        } else if path == mcp || path.starts_with(&mcp_under) {
            crate::mcp::sessions::too_large(limit)
        } else {
            actix_web::ResponseError::error_response(&error)
        }
    })
}

/// The mirror, the environments' clients, the sync engine and the caches every request shares.
async fn build_state(
    config: &Arc<Config>,
    shutdown: &CancellationToken,
) -> Result<web::Data<AppState>, StartupError> {
    let db = Db::open(&config.database).await?;
    let envs = Environments::new(config)?;
    let sync = SyncEngine::new(
        db.clone(),
        envs.clone(),
        config.sync.clone(),
        config.server.replica_id(),
        shutdown.clone(),
    )
    .await?;
    Ok(web::Data::new(AppState {
        config: config.clone(),
        db,
        envs,
        sync,
        auth: Authenticator::new(&config.auth, &config.permissions),
        tokens: TokenCache::new(config.auth.user_cache_capacity),
        scopes: ScopeCache::new(
            config.auth.user_scope_ttl_seconds,
            config.auth.user_cache_capacity,
        ),
        flights: Default::default(),
    }))
}

/// The HTTP server on `listener`: shared data, middleware, then every route family, mounted
/// in the order their paths need.
fn http_server(
    config: &Arc<Config>,
    state: &web::Data<AppState>,
    mcp_sessions: &CancellationToken,
    options: Options,
    listener: TcpListener,
) -> Result<Server, StartupError> {
    let limit = config.server.json_limit_bytes;
    let base_path = config.server.base_path.clone();
    let cors_origins = config.server.cors_allowed_origins.clone();
    let mcp_path = format!("{}/mcp", base_path.trim_end_matches('/'));
    let mcp_guard = crate::mcp::sessions::SessionGuard::new(&config.mcp);
    let mcp = crate::mcp::service(
        state.clone(),
        config,
        mcp_sessions.clone(),
        mcp_guard.manager.clone(),
    );
    let data = state.clone();
    let conf = config.clone();
    let responses = web::Data::new(
        api::cache::ResponseCache::new(config.server.response_cache_bytes).with_rebuild_interval(
            Duration::from_millis(config.server.no_cache_rebuild_interval_ms),
        ),
    );
    let hsts = api::middleware::Hsts::new(config.server.hsts_max_age_seconds);
    let mut http = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(responses.clone())
            .app_data(web::Data::new(hsts.clone()))
            .app_data(web::Data::new(mcp_guard.clone()))
            .app_data(web::Data::new(BodyLimit(limit)))
            .app_data(web::Data::new(too_large(&base_path)))
            // Any `Bytes` or `String` body: the same limit (actix's own is 256 KiB).
            .app_data(web::PayloadConfig::new(limit))
            .app_data(api::json_config(limit))
            .app_data(api::query_config())
            .app_data(api::path_config())
            .wrap(from_fn(api::metrics::count))
            .wrap(from_fn(api::middleware::body_limit))
            .wrap(from_fn(api::middleware::header_limits))
            .wrap(from_fn(api::middleware::request_id_header))
            .wrap(from_fn(api::middleware::head_as_get))
            .wrap(from_fn(api::middleware::security_headers))
            .wrap(TracingLogger::<api::middleware::RequestSpan>::new())
            .wrap(Condition::new(
                !cors_origins.is_empty(),
                api::cors::cors(&cors_origins),
            ))
            .route("/metrics", web::get().to(api::metrics::metrics))
            .configure(crate::mcp::oauth::configure(&conf))
            // Before the base path's scope, which would otherwise claim `/.backstage`.
            .configure(crate::mcp::actions::configure(&base_path))
            // Before the base path's scope, which would otherwise claim `/mcp`.
            .service(
                web::scope(&mcp_path)
                    .wrap(from_fn(crate::mcp::sessions::guard))
                    .wrap(from_fn(crate::mcp::authenticate))
                    .service(mcp.clone().scope()),
            )
            // Before the base path's scope too: the fleet page has its own sign-in.
            .configure(crate::ui::configure(base_path.clone()))
            .configure(api::configure(base_path.clone(), options.ceiling))
            .default_service(web::to(api::not_found))
    })
    .disable_signals()
    .shutdown_timeout(config.server.shutdown_timeout_seconds);
    if let Some(n) = config.server.workers {
        http = http.workers(n);
    }
    Ok(http.listen(listener).map_err(StartupError::Server)?.run())
}

/// The sync scheduler and the takeover watch (stopped when `shutdown` fires) and the start-up
/// sync.
async fn start_workers(
    config: &Config,
    sync: &Arc<SyncEngine>,
    shutdown: &CancellationToken,
) -> Result<Vec<JoinHandle<()>>, StartupError> {
    let mut workers = Vec::new();
    if config.environments.is_empty() {
        tracing::warn!("no environments configured: nothing to sync");
        return Ok(workers);
    }
    let mut scheduler = scheduler::start(sync.clone(), config).await?;
    let stop = shutdown.clone();
    workers.push(tokio::spawn(async move {
        stop.cancelled().await;
        if let Err(e) = scheduler.shutdown().await {
            tracing::warn!(error = %e, "sync scheduler did not shut down cleanly");
        }
    }));
    // Environments whose leader stopped mid-run (on this replica or another) are taken over.
    workers.push(tokio::spawn(leader::watch(sync.clone(), shutdown.clone())));
    // Freshness written by another process (a replica, a `sync --once` beside the server)
    // without a mirror write to announce it (a failed run) shows up here.
    let (engine, stop, envs) = (sync.clone(), shutdown.clone(), env_names(config));
    workers.push(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => reload_freshness(&engine, &envs).await,
            }
        }
    }));
    if config.sync.on_startup {
        for env in &config.environments {
            match sync.trigger(&env.name, Trigger::Startup).await {
                Err(e) => {
                    tracing::error!(env = %env.name, error = %e, "start-up sync could not start")
                }
                Ok(t) if t.leader.is_some() => tracing::info!(
                    env = %env.name, leader = t.leader.as_deref().unwrap_or_default(),
                    run_id = t.run_id,
                    "start-up sync skipped: another replica is syncing the environment"
                ),
                Ok(_) => {}
            }
        }
    }
    Ok(workers)
}

/// Re-reads every environment's freshness from the database, where another process may have
/// moved it on.
async fn reload_freshness(engine: &SyncEngine, envs: &[String]) {
    for env in envs {
        if let Err(err) = engine.reload(env).await {
            tracing::warn!(env = %env, error = %err, "cannot re-read sync state");
        }
    }
}

fn env_names(config: &Config) -> Arc<[String]> {
    config.environments.iter().map(|e| e.name.clone()).collect()
}

/// Follows the mirror writes of other processes on the same database (other replicas, a
/// `sync --once`): their commits move this process's generation at once, so its cached answers
/// and report counts are no longer served, and the freshness their runs recorded is re-read.
fn follow_other_processes(
    config: &Config,
    state: &web::Data<AppState>,
    shutdown: &CancellationToken,
) -> JoinHandle<()> {
    let (engine, envs) = (state.sync.clone(), env_names(config));
    tokio::spawn(crate::store::generation::follow(
        state.db.clone(),
        shutdown.clone(),
        move || {
            let (engine, envs) = (engine.clone(), envs.clone());
            async move { reload_freshness(&engine, &envs).await }
        },
    ))
}

/// `sync --once`: one pass over the chosen environments; the reports of every run.
pub async fn sync_once(
    config: Config,
    environment: Option<&str>,
) -> anyhow::Result<Vec<RunReport>> {
    let names: Vec<String> = match environment {
        Some(n) => {
            if config.environment(Some(n)).is_none() {
                anyhow::bail!("unknown environment `{n}`");
            }
            vec![n.to_string()]
        }
        None => config.environments.iter().map(|e| e.name.clone()).collect(),
    };
    if names.is_empty() {
        anyhow::bail!("no environments configured");
    }
    let db = Db::open(&config.database).await?;
    let envs = Environments::new(&config)?;
    // A process of its own beside any server on this configuration: its own lease holder even
    // where `server.replica_id` names the server, so it never takes the server's lease as its own.
    let replica = match &config.server.replica_id {
        Some(id) => format!("{id}-once-{}", std::process::id()),
        None => config.server.replica_id(),
    };
    let engine = SyncEngine::new(
        db.clone(),
        envs,
        config.sync.clone(),
        replica,
        CancellationToken::new(),
    )
    .await?;
    // Environments run side by side; one failing never holds up another.
    let stop = CancellationToken::new();
    let watcher = tokio::spawn(crate::sync::bar::watch(
        engine.clone(),
        names.clone(),
        stop.clone(),
    ));
    let runs = names.iter().map(|n| engine.run_now(n, Trigger::Cli));
    let results = futures::future::join_all(runs).await;
    stop.cancel();
    let _ = watcher.await;
    let mut reports = Vec::new();
    for (name, r) in names.iter().zip(results) {
        match r? {
            RunNow::Ran(report) => reports.push(report),
            RunNow::Busy {
                leader: Some(leader),
                ..
            } => anyhow::bail!(
                "a sync of `{name}` is already running: `{leader}` holds its lease (a holder that stopped loses it within sync.lease_seconds)"
            ),
            RunNow::Busy { .. } => anyhow::bail!("a sync of `{name}` is already running"),
        }
    }
    db.close().await;
    Ok(reports)
}

/// `backup PATH`: an online copy of the mirror, taken while a server may be running on it.
/// Returns the size of the copy in bytes.
pub async fn backup(config: Config, dest: &std::path::Path) -> anyhow::Result<u64> {
    use std::str::FromStr;
    if crate::store::BackendKind::of_url(&config.database.url)
        == crate::store::BackendKind::Postgres
    {
        anyhow::bail!(
            "`backup` copies the embedded SQLite mirror; this configuration uses PostgreSQL ({}): \
             back it up with `pg_dump --format=custom` (see docs/replicas-and-postgresql.md)",
            crate::config::redacted_url(&config.database.url)
        );
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&config.database.url)?;
    let source = opts.get_filename().to_path_buf();
    if !source.is_file() {
        anyhow::bail!("no database at {}: nothing to back up", source.display());
    }
    if dest.exists() {
        anyhow::bail!(
            "{} already exists; a backup never overwrites a file",
            dest.display()
        );
    }
    let db = Db::open(&config.database).await?;
    let done = crate::store::maintenance::backup(&db, dest).await;
    db.close().await;
    done?;
    Ok(std::fs::metadata(dest)?.len())
}

/// `serve`: runs until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let handle = app.handle();
    tokio::spawn(async move {
        crate::signal::wait_for_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    Ok(())
}

/// `demo`: a simulated Palette and the service in one process, on loopback, with a temporary
/// database and no caller authentication. Prints the URLs, the MCP client configuration and
/// example requests; the simulated users' session tokens only with `show_tokens`.
pub async fn demo(bind: &str, dataset: &str, show_tokens: bool) -> anyhow::Result<()> {
    if !crate::config::is_loopback_bind(bind) {
        anyhow::bail!(
            "demo serves without authentication, so it listens on loopback only: give --bind 127.0.0.1:<port> (or [::1]:<port>); to serve {bind}, run `serve` with a configuration whose auth.mode is \"static\" or \"backstage\""
        );
    }
    let sizes = palette_sim::sizes_for(dataset, None, None, None).map_err(anyhow::Error::msg)?;
    // The demo's Palette changes a little every minute, so the fleet page's changes and
    // trends have something to show.
    let knobs = palette_sim::Knobs {
        churn_every_seconds: 60,
        ..palette_sim::Knobs::default()
    };
    let sim = palette_sim::start(palette_sim::SimConfig {
        sizes,
        knobs,
        ..palette_sim::SimConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.server.bind = bind.to_string();
    config.database.url = format!("sqlite://{}", dir.path().join("demo.db").display());
    config.auth.mode = crate::config::AuthMode::None;
    config.permissions.enabled = false;
    config.sync.schedule = "*/30 * * * * *".into();
    config.environments.push(crate::config::EnvironmentConfig {
        name: "demo".into(),
        url: sim.url.clone(),
        tenant: "acme".into(),
        api_token: crate::config::Secret::new(sim.state.api_key.clone()),
        include_projects: vec![],
        exclude_projects: vec![],
        schedule: None,
        user_tokens: true,
        create_defaults: Default::default(),
        require_user_token: None,
        rate_limits: Default::default(),
    });
    config
        .validate()
        .map_err(crate::config::ConfigError::Invalid)?;
    let app = Application::build(config.clone()).await?;
    let base = format!("http://{}{}", app.addr(), config.server.base_path);
    println!("{}", palette_sim::describe(&sim, show_tokens));
    print!("{}", demo_banner(&base, show_tokens));
    println!("\nCtrl-C stops both.");
    let handle = app.handle();
    tokio::spawn(async move {
        crate::signal::wait_for_signal().await;
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    sim.stop().await;
    drop(dir);
    Ok(())
}

/// What the demo prints about the service at `base` (`http://host:port/api/spectrocloud`).
fn demo_banner(base: &str, show_tokens: bool) -> String {
    let mcp = format!("{base}/mcp");
    let mut out = format!(
        "spectrocloud-backend demo at {base}  (auth: none, database: temporary)\n\
         Fleet page: {base}/ui/  (the simulated fleet changes a little every minute)\n\
         MCP endpoint: {mcp}  (Streamable HTTP; no token needed in the demo)\n\n\
         MCP client configuration (.mcp.json, Cursor, and other clients that take a URL):\n\
         {}\n\
         Claude Code: claude mcp add --transport http spectrocloud {mcp}\n\n\
         Try:\n",
        mcp_client_config(&mcp)
    );
    for path in [
        "/health",
        "/sync/status",
        "/clusters",
        "/projects",
        "/reports/profile-usage",
        "/reports/fleet",
        "/events",
    ] {
        out.push_str(&format!("  curl -s {base}{path}\n"));
    }
    if !show_tokens {
        out.push_str(
            "\nPalette user session tokens (X-SpectroCloud-Token) are not printed; `demo --show-tokens` prints them.\n",
        );
    }
    out
}

/// An MCP client's configuration for the server at `url`, as JSON.
pub fn mcp_client_config(url: &str) -> String {
    let config = serde_json::json!({
        "mcpServers": { "spectrocloud": { "type": "http", "url": url } }
    });
    serde_json::to_string_pretty(&config).unwrap_or_default()
}
