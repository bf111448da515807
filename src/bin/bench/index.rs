//! `bench sync-index`: how soon a cold sync's answers are right, and what it costs in memory.
//!
//! 1. A reference: the same simulated Palette synced whole without limits; its usage reports
//!    (built fresh, `Cache-Control: no-cache`) are the complete run's answers.
//! 2. A cold start against it at Palette's documented limits (times `--limits-scale`): the
//!    time until `/clusters` answers from the mirror, and until both usage reports equal the
//!    reference; the process's peak RSS over this pass (the peak is reset first, and the
//!    simulator's own resident size before the pass is given apart). The pass is stopped
//!    then: the cluster details it would still fetch are an enrichment the reports do not need.

use std::time::{Duration, Instant};

use palette_sim::{self as sim, Dataset, SimConfig};
use serde_json::Value;
use spectrocloud_backend::app;

use super::bench_config;

#[derive(clap::Args)]
pub struct Opts {
    #[arg(long, value_enum, default_value_t = Dataset::Large)]
    pub dataset: Dataset,
    /// Overrides the dataset's cluster count.
    #[arg(long)]
    pub clusters: Option<usize>,
    /// Overrides the dataset's project count.
    #[arg(long)]
    pub projects: Option<usize>,
    /// Round trip added to every simulator answer.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Palette's documented limits times this.
    #[arg(long, default_value_t = 1.0)]
    pub limits_scale: f64,
    /// Give up waiting for the reports after this long.
    #[arg(long, default_value_t = 600.0)]
    pub max_seconds: f64,
}

const REPORTS: [&str; 2] = ["/reports/profile-usage", "/reports/pack-usage"];

/// A report without what differs between two answers of the same data.
fn counts_of(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("progress");
    }
    v
}

async fn reports_now(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for r in REPORTS {
        let resp = client
            .get(format!("{base}{r}"))
            .header("Cache-Control", "no-cache")
            .send()
            .await?;
        out.push(counts_of(resp.json().await?));
    }
    Ok(out)
}

/// Resident and peak resident size of this process (MiB), from `/proc/self/status`.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak resident size (`VmHWM`) to the current one.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub async fn run(o: Opts) -> anyhow::Result<()> {
    let sizes = sim::sizes_for(o.dataset.name(), o.projects, o.clusters, None)
        .map_err(anyhow::Error::msg)?;
    println!(
        "sync-index: {} projects, {} clusters, {} profiles x {} versions; {} ms round trip, documented limits x {}",
        sizes.projects,
        sizes.clusters,
        sizes.profiles,
        sizes.versions_per_profile,
        o.latency_ms,
        o.limits_scale
    );
    let server = sim::start(SimConfig {
        sizes,
        ..SimConfig::default()
    })
    .await?;
    let reference = reference(&server).await?;
    println!("  reference (whole sync, no limits) taken");
    let mut knobs = server.state.knobs();
    knobs.latency_ms = o.latency_ms;
    knobs.palette_limits = true;
    knobs.limits_scale = o.limits_scale;
    server.state.set_knobs(knobs);
    spectrocloud_backend::memory::release_free_heap();
    reset_peak();
    let (sim_rss, _) = rss();
    cold_pass(&server, &o, &reference, sim_rss).await?;
    server.stop().await;
    Ok(())
}

/// The usage reports of a whole sync of `server`, without limits.
async fn reference(server: &sim::SimServer) -> anyhow::Result<Vec<Value>> {
    let dir = tempfile::tempdir()?;
    let mut config = bench_config(server, dir.path());
    // The simulator enforces no limits for the reference: pacing would only slow it down.
    config.environments[0].rate_limits.scale = 1000.0;
    app::sync_once(config.clone(), None).await?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let application = app::Application::build_with_listener(config.clone(), listener).await?;
    let base = format!("http://{}{}", application.addr(), config.server.base_path);
    let handle = application.handle();
    let running = tokio::spawn(application.run_until_stopped());
    let out = reports_now(&reqwest::Client::new(), &base).await;
    handle.stop(true).await;
    let _ = running.await;
    out
}

async fn cold_pass(
    server: &sim::SimServer,
    o: &Opts,
    reference: &[Value],
    sim_rss: f64,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = bench_config(server, dir.path());
    config.sync.on_startup = true;
    config.environments[0].rate_limits.scale = o.limits_scale;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let started = Instant::now();
    let application = app::Application::build_with_listener(config.clone(), listener).await?;
    let base = format!("http://{}{}", application.addr(), config.server.base_path);
    let state = application.state();
    let handle = application.handle();
    let running = tokio::spawn(application.run_until_stopped());
    let first = super::first_mirror_answer(&state, &base, started).await?;
    println!("  first mirror answer (/clusters): {first:.2} s after start");
    let client = reqwest::Client::new();
    let mut equal_at = None;
    while started.elapsed().as_secs_f64() < o.max_seconds {
        if reports_now(&client, &base).await? == reference {
            equal_at = Some(started.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (now_rss, peak) = rss();
    match equal_at {
        Some(t) => println!("  usage reports equal the complete run's: {t:.2} s after start"),
        None => println!("  usage reports still differ after {:.0} s", o.max_seconds),
    }
    let s = state.sync.env_state("bench");
    let details = s
        .running
        .as_ref()
        .and_then(|r| r.progress.view())
        .and_then(|v| v.kinds.get("clusters").copied());
    if let Some(d) = details {
        println!(
            "  cluster details then: {}/{} (the rest is enrichment)",
            d.done, d.total
        );
    }
    println!(
        "  peak RSS over the pass {peak:.0} MiB (simulator alone before it {sim_rss:.0} MiB: the service ~{:.0} MiB); RSS now {now_rss:.0} MiB",
        peak - sim_rss
    );
    handle.stop(true).await;
    let _ = running.await;
    Ok(())
}
