//! The Palette simulator: a faithful fake of the Palette v1 API over deterministic synthetic
//! data, with knobs for latency, errors, throttling and outages, a control API under `/__sim/`
//! and per-endpoint request counters. It powers the demo, every integration test and every
//! benchmark.
//!
//! It depends on nothing of the service: only on `palette-limits`, the rate-limit table it
//! shares with the service's client.

pub mod bad;
pub mod churn;
pub mod control;
pub mod create;
pub mod data;
mod gate;
pub mod render;
pub mod routes;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use data::{Dataset, SimData, Sizes};

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub sizes: Sizes,
    pub seed: u64,
    pub api_key: String,
    pub knobs: Knobs,
    /// HTTP worker threads of the simulator.
    pub workers: usize,
    /// Where the gate-free address (the control API during an outage) listens; a free
    /// loopback port when unset.
    pub control_bind: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            sizes: Sizes::preset("small").unwrap_or(Sizes {
                projects: 3,
                clusters: 25,
                profiles: 10,
                versions_per_profile: 3,
            }),
            seed: 42,
            api_key: "sim-api-key".into(),
            knobs: Knobs::default(),
            workers: 2,
            control_bind: None,
        }
    }
}

/// Behaviour that can be changed while running (CLI flags, `PUT /__sim/knobs`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Added to every `/v1` request.
    pub latency_ms: u64,
    /// Fraction (0–1) of `/v1` requests answered 500.
    pub error_rate: f64,
    /// `/v1` requests per second before 429 `TooManyRequests` (0 = unlimited).
    pub rate_limit: u32,
    /// Sent as `Retry-After` on 429 when set (real Palette documents none).
    pub retry_after_seconds: Option<u64>,
    /// Palette unreachable: every connection is reset.
    pub outage: bool,
    /// Lifetime of user session tokens minted from now on.
    pub token_ttl_seconds: u64,
    /// How long a created cluster takes from Pending to Running.
    pub provision_seconds: u64,
    /// Added to `listmeta.count` of paginated listings, as when objects come or go while a
    /// client pages (Palette's count drifts then).
    pub count_drift: i64,
    /// Endpoints (`"METHOD /pattern"`, as in the counters) answered 404, like an older Palette
    /// without them.
    pub missing_endpoints: Vec<String>,
    /// Endpoints answered 403 `Forbidden`, like a role granting `list` but not `get`.
    pub forbidden_endpoints: Vec<String>,
    /// Palette's documented limits per client address and rate-limit prefix
    /// (`palette_limits`): 429 `TooManyRequests`, no `Retry-After`.
    pub palette_limits: bool,
    /// Multiplies every rate of `palette_limits` (0.2 = a fifth).
    pub limits_scale: f64,
    /// Per prefix, replacing the documented limit (`"*"`: every prefix), before the scale.
    pub prefix_limits: BTreeMap<String, palette_limits::Limit>,
    /// Demo churn (`sim::churn`): every this many seconds a few clusters change state or
    /// health or move to a newer profile version (0 = never; the demo sets 60).
    pub churn_every_seconds: u64,
    /// How many clusters one churn step touches.
    pub churn_clusters: usize,
    /// The cluster search lists each profile template's `packs` (Palette does); off, like a
    /// Palette that leaves them out, the packs are only in each cluster's details.
    pub listing_packs: bool,
    /// Bad answers per endpoint (`"METHOD /pattern"`, as in the counters): what a broken
    /// Palette or a gateway in front of it may send (`sim::bad`). None by default.
    pub bad_answers: BTreeMap<String, bad::BadAnswer>,
    /// Path fragments (a uid): requests whose path contains one are also counted one by one,
    /// as `"METHOD /exact/path"`, so a test can count the calls about one object while a sync
    /// calls the same endpoints for others.
    pub watch: Vec<String>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            latency_ms: 0,
            error_rate: 0.0,
            rate_limit: 0,
            retry_after_seconds: None,
            outage: false,
            token_ttl_seconds: 15 * 60,
            provision_seconds: 3,
            count_drift: 0,
            missing_endpoints: Vec::new(),
            forbidden_endpoints: Vec::new(),
            palette_limits: false,
            limits_scale: 1.0,
            prefix_limits: BTreeMap::new(),
            churn_every_seconds: 0,
            watch: Vec::new(),
            churn_clusters: 3,
            listing_packs: true,
            bad_answers: BTreeMap::new(),
        }
    }
}

/// Shared simulator state.
pub struct SimState {
    pub data: RwLock<SimData>,
    pub knobs: RwLock<Knobs>,
    /// "METHOD /pattern" → requests received.
    pub counters: Mutex<BTreeMap<String, u64>>,
    pub api_key: String,
    pub encoding_key: EncodingKey,
    pub decoding_key: DecodingKey,
    rate_window: Mutex<(i64, u32)>,
    /// (client address, prefix) → (tokens, last refill), for `palette_limits`.
    limit_buckets: Mutex<HashMap<(IpAddr, String), (f64, Instant)>>,
    /// Rate-limit prefix → 429s answered (every cause).
    throttled_by_prefix: Mutex<BTreeMap<String, u64>>,
    outage: watch::Sender<bool>,
    /// When the last churn step ran (`churn_every_seconds`).
    last_churn: Mutex<Option<Instant>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionClaims {
    pub sub: String,
    pub email: String,
    #[serde(rename = "tenantUid")]
    pub tenant_uid: String,
    pub iat: i64,
    pub exp: i64,
}

impl SimState {
    pub fn knobs(&self) -> Knobs {
        self.knobs.read().map(|k| k.clone()).unwrap_or_default()
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        let _ = self.outage.send(knobs.outage);
        if let Ok(mut k) = self.knobs.write() {
            *k = knobs;
        }
    }

    pub fn count(&self, key: String) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry(key).or_insert(0) += 1;
        }
    }

    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.counters.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn reset_counters(&self) {
        if let Ok(mut c) = self.counters.lock() {
            c.clear();
        }
        if let Ok(mut c) = self.throttled_by_prefix.lock() {
            c.clear();
        }
    }

    /// 429s answered per rate-limit prefix.
    pub fn throttled_counts(&self) -> BTreeMap<String, u64> {
        self.throttled_by_prefix
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    fn count_throttled(&self, prefix: String) {
        if let Ok(mut c) = self.throttled_by_prefix.lock() {
            *c.entry(prefix).or_insert(0) += 1;
        }
    }

    /// The limit the simulator applies to `prefix` under `knobs`.
    pub fn limit_for(knobs: &Knobs, prefix: &str) -> palette_limits::Limit {
        let limit = knobs
            .prefix_limits
            .get(prefix)
            .or_else(|| knobs.prefix_limits.get("*"))
            .copied()
            .unwrap_or_else(|| palette_limits::documented(prefix));
        limit.scaled(knobs.limits_scale)
    }

    /// True when this request from `client` is over its prefix's limit: a token bucket of
    /// `rate × burst` requests refilled at `rate`, per client address and prefix.
    fn over_prefix_limit(&self, knobs: &Knobs, client: IpAddr, prefix: &str) -> bool {
        let limit = Self::limit_for(knobs, prefix);
        let now = Instant::now();
        let Ok(mut buckets) = self.limit_buckets.lock() else {
            return false;
        };
        let (tokens, last) = buckets
            .entry((client, prefix.to_string()))
            .or_insert((limit.max(), now));
        *tokens = (*tokens + limit.rate * (now - *last).as_secs_f64()).min(limit.max());
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            false
        } else {
            true
        }
    }

    /// Whether a `/v1` request is refused with 429 (the global `rate_limit` knob, or
    /// Palette's per-prefix limits); counts the refusal under the path's prefix.
    pub fn refuses(&self, knobs: &Knobs, client: Option<IpAddr>, path: &str) -> bool {
        let prefix = palette_limits::prefix(path);
        let refused = self.throttled(knobs.rate_limit)
            || (knobs.palette_limits
                && self.over_prefix_limit(
                    knobs,
                    client.unwrap_or(IpAddr::from([127, 0, 0, 1])),
                    &prefix,
                ));
        if refused {
            self.count_throttled(prefix);
        }
        refused
    }

    /// True when this request is over the per-second limit.
    fn throttled(&self, limit: u32) -> bool {
        if limit == 0 {
            return false;
        }
        let now = Utc::now().timestamp();
        let Ok(mut w) = self.rate_window.lock() else {
            return false;
        };
        if w.0 != now {
            *w = (now, 0);
        }
        w.1 += 1;
        w.1 > limit
    }

    /// A Palette session token (HS256 JWT) for a user.
    pub fn mint_token(&self, user_uid: &str, email: &str, ttl_seconds: i64) -> String {
        let now = Utc::now().timestamp();
        let tenant = self
            .data
            .read()
            .map(|d| d.tenant_uid.clone())
            .unwrap_or_default();
        let claims = SessionClaims {
            sub: user_uid.to_string(),
            email: email.to_string(),
            tenant_uid: tenant,
            iat: now,
            exp: now + ttl_seconds,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding_key)
            .unwrap_or_default()
    }

    /// One churn step now: the changes made.
    pub fn churn(&self) -> Vec<churn::Change> {
        let count = self.knobs().churn_clusters;
        let Ok(mut d) = self.data.write() else {
            return Vec::new();
        };
        let changes = churn::plan(&mut d, count);
        churn::apply(&mut d, &changes, Utc::now());
        tracing::info!(changes = changes.len(), "simulator churn");
        changes
    }

    /// A churn step when `churn_every_seconds` has passed since the last (the first one
    /// waits a whole period, so a fresh demo starts from its generated data).
    fn churn_when_due(&self) {
        let every = self.knobs().churn_every_seconds;
        let Ok(mut last) = self.last_churn.lock() else {
            return;
        };
        if every == 0 {
            *last = None;
            return;
        }
        let due = match *last {
            None => {
                *last = Some(Instant::now());
                false
            }
            Some(t) => t.elapsed() >= Duration::from_secs(every),
        };
        if due {
            *last = Some(Instant::now());
            drop(last);
            self.churn();
        }
    }

    /// Advances created clusters Pending → Provisioning → Running and removes deleted ones.
    pub fn tick(&self) {
        let provision = self.knobs().provision_seconds as f64;
        let now = Utc::now();
        let Ok(mut d) = self.data.write() else {
            return;
        };
        let before = d.clusters.len();
        d.clusters.retain(|c| match c.deleting_since {
            Some(t) => ((now - t).num_milliseconds() as f64) < provision * 1000.0,
            None => true,
        });
        if d.clusters.len() != before {
            d.reindex();
        }
        for c in d.clusters.iter_mut() {
            let Some(since) = c.provisioning_since else {
                continue;
            };
            let elapsed = (now - since).num_milliseconds() as f64 / 1000.0;
            let (state, health) = if elapsed >= provision {
                ("Running", "Healthy")
            } else if elapsed >= provision / 3.0 {
                ("Provisioning", "")
            } else {
                ("Pending", "")
            };
            if c.state != state {
                c.state = state.to_string();
                c.health = health.to_string();
                c.meta.modified = now;
            }
            if state == "Running" {
                c.provisioning_since = None;
            }
        }
    }
}

/// A running simulator.
pub struct SimServer {
    /// Base URL clients use (through the outage gate), e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// Direct URL that bypasses the gate: the control API stays reachable during an outage.
    pub control_url: String,
    pub state: Arc<SimState>,
    handle: ServerHandle,
    shutdown: CancellationToken,
}

impl SimServer {
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.stop(false).await;
    }
}

/// Starts a simulator on 127.0.0.1 with an ephemeral port.
pub async fn start(config: SimConfig) -> std::io::Result<SimServer> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    start_on(config, listener).await
}

/// Starts a simulator whose public address is `listener`.
pub async fn start_on(config: SimConfig, listener: TcpListener) -> std::io::Result<SimServer> {
    let data = SimData::generate(config.seed, config.sizes);
    let (outage_tx, outage_rx) = watch::channel(config.knobs.outage);
    let secret = format!("palette-sim-session-secret-{}", config.seed).into_bytes();
    let state = Arc::new(SimState {
        data: RwLock::new(data),
        knobs: RwLock::new(config.knobs.clone()),
        counters: Mutex::new(BTreeMap::new()),
        api_key: config.api_key.clone(),
        encoding_key: EncodingKey::from_secret(&secret).map_err(std::io::Error::other)?,
        decoding_key: DecodingKey::from_secret(&secret).map_err(std::io::Error::other)?,
        rate_window: Mutex::new((0, 0)),
        limit_buckets: Mutex::new(HashMap::new()),
        throttled_by_prefix: Mutex::new(BTreeMap::new()),
        outage: outage_tx,
        last_churn: Mutex::new(None),
    });

    let backend = TcpListener::bind(config.control_bind.as_deref().unwrap_or("127.0.0.1:0"))?;
    let backend_addr = backend.local_addr()?;
    let shared = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(4 * 1024 * 1024)
                    .error_handler(|err, _| {
                        routes::PaletteErr::bad_request(format!("invalid JSON body: {err}")).into()
                    }),
            )
            .wrap(from_fn(routes::palette_behaviour))
            .configure(control::configure)
            .configure(routes::configure)
            .default_service(web::to(routes::no_route))
    })
    .workers(config.workers.max(1))
    .disable_signals()
    .shutdown_timeout(1)
    .listen(backend)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);

    let shutdown = CancellationToken::new();
    listener.set_nonblocking(true)?;
    let public = tokio::net::TcpListener::from_std(listener)?;
    let public_addr: SocketAddr = public.local_addr()?;
    tokio::spawn(gate::run(public, backend_addr, outage_rx, shutdown.clone()));

    let ticker_state = state.clone();
    let ticker_stop = shutdown.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = ticker_stop.cancelled() => return,
                _ = every.tick() => {
                    ticker_state.tick();
                    ticker_state.churn_when_due();
                }
            }
        }
    });

    Ok(SimServer {
        url: format!("http://{public_addr}"),
        control_url: format!("http://{backend_addr}"),
        state,
        handle,
        shutdown,
    })
}

/// Resolves `small|medium|large` plus optional count overrides into sizes.
pub fn sizes_for(
    dataset: &str,
    projects: Option<usize>,
    clusters: Option<usize>,
    profiles: Option<usize>,
) -> Result<Sizes, String> {
    let mut s = Sizes::preset(dataset)
        .ok_or_else(|| format!("unknown dataset `{dataset}`: use small, medium or large"))?;
    if let Some(p) = projects {
        s.projects = p.max(1);
    }
    if let Some(c) = clusters {
        s.clusters = c;
    }
    if let Some(p) = profiles {
        s.profiles = p;
    }
    Ok(s)
}

/// The simulator's URLs and one line per simulated user, for humans starting it; with
/// `show_tokens`, a fresh session token per user (the demo prints them only when asked).
pub fn describe(server: &SimServer, show_tokens: bool) -> String {
    let mut out = String::new();
    let (users, summary) = match server.state.data.read() {
        Ok(d) => (d.users.clone(), control::summary(&d)),
        Err(_) => return out,
    };
    out.push_str(&format!(
        "Palette simulator at {}\n  control API: {}/__sim/\n  API key:     {} (header `ApiKey`)\n  data:        {}\n  users (session tokens valid {} s; fresh ones at {}/__sim/users):\n",
        server.url,
        server.control_url,
        server.state.api_key,
        summary,
        server.state.knobs().token_ttl_seconds,
        server.control_url,
    ));
    let ttl = server.state.knobs().token_ttl_seconds as i64;
    for u in users {
        out.push_str(&format!(
            "    {:<24} projects={} tenant_perms={}\n",
            u.email,
            u.project_uids.len(),
            u.tenant_permissions.len(),
        ));
        if show_tokens {
            let token = server.state.mint_token(&u.uid, &u.email, ttl);
            out.push_str(&format!("      Authorization: {token}\n"));
        }
    }
    out
}

/// `palette-sim`: serves until `shutdown` resolves (the binary passes its Ctrl-C/SIGTERM
/// future, so the simulator keeps no signal handling of its own).
pub async fn run_standalone(
    config: SimConfig,
    bind: &str,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(bind).map_err(|e| anyhow::anyhow!("cannot bind {bind}: {e}"))?;
    let started = std::time::Instant::now();
    let server = start_on(config, listener).await?;
    println!("{}", describe(&server, true));
    println!(
        "ready in {:.2} s; try: curl -H 'ApiKey: {}' {}/v1/dashboard/spectroclusters/meta",
        started.elapsed().as_secs_f64(),
        server.state.api_key,
        server.url
    );
    shutdown.await;
    server.stop().await;
    Ok(())
}
