//! Benchmark driver: prints figures, measured side by side in one run (never a timed test).
//! `bench --help` and `bench <scenario> --help` list the scenarios and their options:
//!
//!   cargo run --release --bin bench -- sim-list [--dataset large]
//!   cargo run --release --bin bench -- sync [--dataset large] [--latency-ms 50]
//!       [--limits-scale 1 | --no-limits] [--clusters N] [--runs 1]
//!   cargo run --release --bin bench -- sync-index [--dataset large] [--clusters N] [--projects N]
//!       [--latency-ms 50] [--limits-scale 1] [--max-seconds 600]
//!       (how soon a cold sync's usage reports are right, and its peak RSS)
//!   cargo run --release --bin bench -- sync-matrix [--runs 2]
//!       (large at 50 ms, medium at 100 ms, medium at 100 ms with the limits at a fifth)
//!   cargo run --release --bin bench -- reads [--dataset large] [--seconds 5] [--latency-ms 100]
//!       [--postgres postgres://user@host:port/db [--keep-database]]
//!       (with --postgres: SQLite, then a fresh database on that server, side by side)
//!   cargo run --release --bin bench -- reports [--dataset large] [--requests 200]
//!
//! Each scenario starts its own simulator (and service) on loopback. `reads` runs the server
//! as a child process (this binary, `serve-child`) so its RSS is the server's alone.

use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use palette_sim::{self as sim, Dataset, SimConfig};
use serde_json::{Value, json};
use spectrocloud_backend::app;
use spectrocloud_backend::config::{Config, EnvironmentConfig, Secret};
use spectrocloud_backend::domain::RunOutcome;
use spectrocloud_backend::palette::limits;
use spectrocloud_backend::store::sync_runs;
use spectrocloud_backend::sync::{RunNow, Trigger};

#[path = "bench/compare.rs"]
mod compare;
#[path = "bench/index.rs"]
mod index;
#[path = "bench/load.rs"]
mod load;
#[path = "bench/reads.rs"]
mod reads;
#[path = "bench/scratch.rs"]
mod scratch;

/// Benchmarks of the service against its Palette simulator, on loopback: figures measured side
/// by side in one run. Each scenario starts its own simulator (and service).
#[derive(Parser)]
#[command(name = "bench", arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// List every cluster of the simulator through the paginated dashboard search.
    SimList {
        #[arg(long, value_enum, default_value_t = Dataset::Large)]
        dataset: Dataset,
    },
    /// One cold sync into a new database: time, calls, 429s and the bound Palette's limits set.
    Sync {
        #[command(flatten)]
        case: SyncArgs,
        /// How many cold runs.
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// large at 50 ms, medium at 100 ms, medium at 100 ms with the limits at a fifth.
    SyncMatrix {
        #[arg(long, default_value_t = 2)]
        runs: usize,
    },
    /// How soon a cold sync's usage reports are right, and its peak RSS.
    SyncIndex(index::Opts),
    /// Read throughput and latency per route against a synced mirror.
    Reads {
        #[arg(long, value_enum, default_value_t = Dataset::Large)]
        dataset: Dataset,
        /// Round trip added to every simulator answer.
        #[arg(long, default_value_t = 100)]
        latency_ms: u64,
        /// Seconds per measured route.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// The server's response cache size (default: the configuration's default).
        #[arg(long)]
        cache_bytes: Option<usize>,
        /// A PostgreSQL server URL: after SQLite, measure the same routes with the mirror on a
        /// fresh database created there (dropped at the end), and compare the two.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
        /// Leave the PostgreSQL database in place after the run (to look at its plans).
        #[arg(long, requires = "postgres")]
        keep_database: bool,
    },
    /// Report latency after a sync.
    Reports {
        #[arg(long, value_enum, default_value_t = Dataset::Large)]
        dataset: Dataset,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// sim-list, one sync and the reads at the dataset given (over 15 minutes at large).
    All {
        #[arg(long, value_enum, default_value_t = Dataset::Large)]
        dataset: Dataset,
    },
    /// The server process of `reads` (started by it; not for people).
    #[command(hide = true)]
    ServeChild,
}

/// What `sync` measures.
#[derive(Args, Clone)]
struct SyncArgs {
    #[arg(long, value_enum, default_value_t = Dataset::Large)]
    dataset: Dataset,
    /// Round trip added to every simulator answer.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Palette's documented limits times this.
    #[arg(long, default_value_t = 1.0, conflicts_with = "no_limits")]
    limits_scale: f64,
    /// No rate limits at all (the simulator answers as fast as it can).
    #[arg(long)]
    no_limits: bool,
    /// Overrides the dataset's cluster count (quicker runs of the same shape).
    #[arg(long)]
    clusters: Option<usize>,
}

impl From<SyncArgs> for SyncCase {
    fn from(a: SyncArgs) -> SyncCase {
        SyncCase {
            dataset: a.dataset.name().to_string(),
            latency_ms: a.latency_ms,
            limits_scale: (!a.no_limits).then_some(a.limits_scale),
            clusters: a.clusters,
        }
    }
}

fn main() -> anyhow::Result<()> {
    // Help, a version or a wrong word: clap prints it and exits before any work starts.
    let cli = Cli::parse();
    spectrocloud_backend::memory::limit_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.scenario))
}

async fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::SimList { dataset } => sim_list(dataset.name()).await,
        Scenario::Sync { case, runs } => sync_case(&case.into(), runs).await,
        Scenario::SyncMatrix { runs } => sync_matrix(runs).await,
        Scenario::SyncIndex(opts) => index::run(opts).await,
        Scenario::Reads {
            dataset,
            latency_ms,
            seconds,
            cache_bytes,
            postgres,
            keep_database,
        } => {
            let dataset = dataset.name().to_string();
            reads::run(reads::Opts {
                dataset,
                latency_ms,
                seconds,
                cache_bytes,
                postgres,
                keep_database,
            })
            .await
        }
        Scenario::Reports { dataset, requests } => reports(dataset.name(), requests).await,
        Scenario::ServeChild => reads::serve_child().await,
        Scenario::All { dataset } => {
            sim_list(dataset.name()).await?;
            let case = SyncCase {
                dataset: dataset.name().to_string(),
                latency_ms: 50,
                limits_scale: Some(1.0),
                clusters: None,
            };
            sync_case(&case, 1).await?;
            reads::run(reads::Opts {
                dataset: dataset.name().to_string(),
                latency_ms: 100,
                seconds: 5.0,
                cache_bytes: None,
                postgres: None,
                keep_database: false,
            })
            .await
        }
    }
}

/// Lists every cluster of the simulator through the paginated dashboard search, as a client.
async fn sim_list(dataset: &str) -> anyhow::Result<()> {
    let sizes = sim::sizes_for(dataset, None, None, None).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let server = sim::start(SimConfig {
        sizes,
        ..SimConfig::default()
    })
    .await?;
    println!(
        "simulator ({dataset}: {} clusters) ready in {:.2} s",
        sizes.clusters,
        started.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut token = String::new();
    let (mut items, mut pages) = (0usize, 0usize);
    loop {
        let base = std::env::var("BENCH_DIRECT")
            .map(|_| server.control_url.clone())
            .unwrap_or(server.url.clone());
        let mut url = format!("{base}/v1/dashboard/spectroclusters/search?limit=50");
        if !token.is_empty() {
            url.push_str(&format!("&continue={token}"));
        }
        let page: Value = client
            .post(url)
            .header("ApiKey", &server.state.api_key)
            .json(&json!({"filter": {}}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        pages += 1;
        items += page["items"].as_array().map(Vec::len).unwrap_or(0);
        token = page["listmeta"]["continue"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if token.is_empty() {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "listed {items} clusters in {pages} pages of 50 through POST /v1/dashboard/spectroclusters/search: {secs:.2} s ({:.1} ms/page)",
        secs * 1000.0 / pages as f64
    );
    server.stop().await;
    Ok(())
}

/// A service config with one environment pointing at `sim` and a temporary database.
fn bench_config(sim: &sim::SimServer, dir: &std::path::Path) -> Config {
    bench_config_for(&sim.url, &sim.state.api_key, dir)
}

/// A service config with one environment at `url` (key `api_key`) and a database in `dir`.
pub fn bench_config_for(url: &str, api_key: &str, dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".into();
    config.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    config.auth.mode = spectrocloud_backend::config::AuthMode::None;
    config.permissions.enabled = false;
    config.sync.on_startup = false;
    config.sync.schedule = "0 0 0 1 1 *".into();
    // The bench's `no-cache` rows measure a build per request.
    config.server.no_cache_rebuild_interval_ms = 0;
    config.environments.push(EnvironmentConfig {
        name: "bench".into(),
        url: url.to_string(),
        tenant: "acme".into(),
        api_token: Secret::new(api_key.to_string()),
        include_projects: vec![],
        exclude_projects: vec![],
        schedule: None,
        user_tokens: true,
        create_defaults: Default::default(),
        require_user_token: None,
        rate_limits: Default::default(),
    });
    config
}

/// One line of the sync benchmark: dataset, Palette round trip, limits scale.
#[derive(Debug, Clone)]
struct SyncCase {
    dataset: String,
    latency_ms: u64,
    /// Palette's documented limits times this; `None` = no limits (the old benchmark).
    limits_scale: Option<f64>,
    /// Overrides the dataset's cluster count (quicker runs of the same shape).
    clusters: Option<usize>,
}

impl SyncCase {
    fn label(&self) -> String {
        let limits = match self.limits_scale {
            Some(s) if (s - 1.0).abs() < 1e-9 => "Palette's documented limits".to_string(),
            Some(s) => format!("Palette's documented limits x {s}"),
            None => "no limits".to_string(),
        };
        format!(
            "`{}`, {} ms round trip, {limits}",
            self.dataset, self.latency_ms
        )
    }
}

/// The lower bound Palette's limits put on a run: per prefix, the calls it accepted ÷ its rate;
/// the slowest prefix is the bound. Returns (seconds, prefix, calls, rate).
fn limits_bound(
    counted: &std::collections::BTreeMap<String, u64>,
    throttled: &std::collections::BTreeMap<String, u64>,
    knobs: &sim::Knobs,
) -> (f64, String, u64, f64) {
    let mut per_prefix: std::collections::BTreeMap<String, u64> = Default::default();
    for (key, n) in counted {
        let path = key.split_once(' ').map(|(_, p)| p).unwrap_or(key);
        *per_prefix.entry(limits::prefix(path)).or_default() += n;
    }
    let mut worst = (0.0, String::new(), 0, 0.0);
    for (prefix, n) in per_prefix {
        let accepted = n.saturating_sub(throttled.get(&prefix).copied().unwrap_or(0));
        let rate = sim::SimState::limit_for(knobs, &prefix).rate;
        let secs = accepted as f64 / rate;
        if secs > worst.0 {
            worst = (secs, prefix, accepted, rate);
        }
    }
    worst
}

/// What one measured run gave.
struct Measured {
    secs: f64,
    outcome: String,
    bound: (f64, String, u64, f64),
    throttled: u64,
    calls: u64,
}

impl Measured {
    fn ratio(&self) -> f64 {
        if self.bound.0 > 0.0 {
            self.secs / self.bound.0
        } else {
            f64::NAN
        }
    }

    fn print(&self, label: &str) {
        let (bound, prefix, calls, rate) = &self.bound;
        println!(
            "  {label:<5} {:>8.2} s  bound {bound:>8.2} s ({prefix}: {calls} calls / {rate}/s)  ratio {:.3}x  {} Palette calls  {} 429s  outcome {}",
            self.secs,
            self.ratio(),
            self.calls,
            self.throttled,
            self.outcome
        );
    }
}

fn measure(server: &sim::SimServer, secs: f64, outcome: &str) -> Measured {
    let counted = server.state.counters();
    let throttled = server.state.throttled_counts();
    Measured {
        secs,
        outcome: outcome.to_string(),
        bound: limits_bound(&counted, &throttled, &server.state.knobs()),
        throttled: throttled.values().sum(),
        calls: counted.values().sum(),
    }
}

/// Seconds between two RFC 3339 times.
fn between(from: &str, to: &str) -> Option<f64> {
    let p = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    Some((p(to)? - p(from)?).num_milliseconds() as f64 / 1000.0)
}

/// One measured pass of a case: the real server starts on an empty database with a sync on
/// start-up (time until `/clusters` answers from the mirror, cold time), then a warm run.
/// Returns (first answer s, cold, warm).
async fn sync_pass(case: &SyncCase) -> anyhow::Result<(f64, Measured, Measured)> {
    let sizes =
        sim::sizes_for(&case.dataset, None, case.clusters, None).map_err(anyhow::Error::msg)?;
    let knobs = sim::Knobs {
        latency_ms: case.latency_ms,
        palette_limits: case.limits_scale.is_some(),
        limits_scale: case.limits_scale.unwrap_or(1.0),
        ..sim::Knobs::default()
    };
    let server = sim::start(SimConfig {
        sizes,
        knobs,
        ..SimConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let mut config = bench_config(&server, dir.path());
    config.sync.on_startup = true;
    config.environments[0].rate_limits.scale = case.limits_scale.unwrap_or(1.0);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let started = Instant::now();
    let application = app::Application::build_with_listener(config.clone(), listener).await?;
    let base = format!("http://{}{}", application.addr(), config.server.base_path);
    let state = application.state();
    let handle = application.handle();
    let running = tokio::spawn(application.run_until_stopped());
    let first = first_mirror_answer(&state, &base, started).await?;
    // Wait for the start-up run to end.
    while state.sync.env_state("bench").running.is_some() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (last, _) = sync_runs::latest(&state.db, "bench").await?;
    let last = last.ok_or_else(|| anyhow::anyhow!("the start-up run left no record"))?;
    let secs = last
        .finished_at
        .as_deref()
        .and_then(|f| between(&last.started_at, f))
        .unwrap_or(f64::NAN);
    let cold = measure(&server, secs, last.outcome.as_str());
    server.state.reset_counters();
    let warm = match state.sync.run_now("bench", Trigger::Manual).await? {
        RunNow::Ran(r) => measure(&server, r.duration_ms as f64 / 1000.0, r.outcome.as_str()),
        RunNow::Busy { .. } => anyhow::bail!("a run was still under way"),
    };
    handle.stop(true).await;
    let _ = running.await;
    server.stop().await;
    Ok((first, cold, warm))
}

/// Polls `/sync/status`'s state (in process, no Palette call) until the start-up run applied
/// its listings, then `/clusters` until it answers from the mirror: seconds since `started`.
/// Polling `/clusters` earlier would read through to Palette and steal the sync's tokens.
async fn first_mirror_answer(
    state: &actix_web::web::Data<spectrocloud_backend::service::AppState>,
    base: &str,
    started: Instant,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    loop {
        let s = state.sync.env_state("bench");
        let listed = s.listed_at.is_some()
            || s.running
                .as_ref()
                .and_then(|r| r.progress.listed_at())
                .is_some();
        if listed || (s.running.is_none() && s.last_attempt_ended.is_some()) {
            let resp = client
                .get(format!("{base}/clusters?limit=1"))
                .send()
                .await?;
            let source = resp
                .headers()
                .get("x-spectrocloud-source")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            if resp.status().is_success() && source == "mirror" {
                return Ok(started.elapsed().as_secs_f64());
            }
            if s.running.is_none() {
                anyhow::bail!(
                    "the start-up run ended and /clusters answers {}",
                    resp.status()
                );
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The three cases of issue 10, side by side.
async fn sync_matrix(runs: usize) -> anyhow::Result<()> {
    let cases = [
        ("large", 50, 1.0),
        ("medium", 100, 1.0),
        ("medium", 100, 0.2),
    ];
    for (dataset, latency_ms, scale) in cases {
        let case = SyncCase {
            dataset: dataset.into(),
            latency_ms,
            limits_scale: Some(scale),
            clusters: None,
        };
        sync_case(&case, runs).await?;
    }
    Ok(())
}

fn range(xs: &[f64]) -> String {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if (hi - lo).abs() < 0.005 {
        format!("{lo:.2}")
    } else {
        format!("{lo:.2}–{hi:.2}")
    }
}

/// `runs` passes of one case, and the ranges over them.
async fn sync_case(case: &SyncCase, runs: usize) -> anyhow::Result<()> {
    let sizes =
        sim::sizes_for(&case.dataset, None, case.clusters, None).map_err(anyhow::Error::msg)?;
    println!(
        "sync of {} ({} projects, {} clusters, {} profiles x {} versions), concurrency {}:",
        case.label(),
        sizes.projects,
        sizes.clusters,
        sizes.profiles,
        sizes.versions_per_profile,
        spectrocloud_backend::config::SyncConfig::default().concurrency
    );
    let (mut firsts, mut cold_r, mut warm_r) = (Vec::new(), Vec::new(), Vec::new());
    let mut failed = 0;
    for run in 1..=runs {
        let (first, cold, warm) = sync_pass(case).await?;
        println!("  run {run}: /clusters answered from the mirror {first:.2} s after start");
        cold.print("cold");
        warm.print("warm");
        failed += [&cold, &warm]
            .iter()
            .filter(|m| m.outcome != RunOutcome::Success.as_str())
            .count();
        firsts.push(first);
        cold_r.push(cold.ratio());
        warm_r.push(warm.ratio());
    }
    println!(
        "  => over {runs} runs: first mirror answer {} s (target < 15), cold {}x its bound, warm {}x (targets <= 1.15), {failed} failed runs",
        range(&firsts),
        range(&cold_r),
        range(&warm_r)
    );
    Ok(())
}
/// The reports and the change history over a synced mirror: p50/p95/p99 per route, one caller
/// at a time (the service's own time, no Palette involved).
async fn reports(dataset: &str, requests: usize) -> anyhow::Result<()> {
    let sizes = sim::sizes_for(dataset, None, None, None).map_err(anyhow::Error::msg)?;
    let server = sim::start(SimConfig {
        sizes,
        ..SimConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let mut config = bench_config(&server, dir.path());
    config.server.workers = Some(2);
    // The simulator enforces no limits here: pacing would only make the sync slower.
    config.environments[0].rate_limits.scale = 100.0;
    app::sync_once(config.clone(), None).await?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let application = app::Application::build_with_listener(config.clone(), listener).await?;
    let base = format!("http://{}{}", application.addr(), config.server.base_path);
    let handle = application.handle();
    let running = tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::new();
    println!(
        "reports over `{dataset}` ({} clusters, {} profiles x {} versions), {requests} sequential requests each:",
        sizes.clusters, sizes.profiles, sizes.versions_per_profile
    );
    let paths = [
        "/reports/profile-usage",
        "/reports/profile-usage?format=csv",
        "/reports/profile-usage?include=clusters",
        "/reports/pack-usage",
        "/reports/pack-usage?name=kubernetes",
        "/reports/fleet",
        "/events",
    ];
    // Each twice: repeated (served by the response cache) and `no-cache` (built each time).
    for (path, rebuild) in paths.iter().flat_map(|p| [(*p, false), (*p, true)]) {
        let mut ms = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let mut get = client.get(format!("{base}{path}"));
            if rebuild {
                get = get.header("cache-control", "no-cache");
            }
            let body = get.send().await?.error_for_status()?.bytes().await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            bytes = body.len();
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        let how = if rebuild { "built" } else { "cached" };
        println!(
            "  {path:<42} {how:<6} {:>8} bytes  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms",
            bytes,
            load::percentile(&ms, 0.5),
            load::percentile(&ms, 0.95),
            load::percentile(&ms, 0.99)
        );
    }
    handle.stop(true).await;
    let _ = running.await;
    server.stop().await;
    Ok(())
}
