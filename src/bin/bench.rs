//! Benchmark driver: prints figures, measured side by side in one run (never a timed test).
//!
//!   cargo run --release --bin bench -- sim-list [--dataset large]
//!   cargo run --release --bin bench -- sync [--dataset large]
//!   cargo run --release --bin bench -- reads [--dataset large] [--seconds 5] [--latency-ms 100]
//!   cargo run --release --bin bench -- reports [--dataset large] [--requests 200]
//!
//! Each scenario starts its own simulator (and service) on loopback. `reads` runs the server
//! as a child process (this binary, `serve-child`) so its RSS is the server's alone.

use std::time::Instant;

use serde_json::{Value, json};
use spectrocloud_backend::app;
use spectrocloud_backend::config::{Config, EnvironmentConfig, Secret};
use spectrocloud_backend::sim::{self, SimConfig};

#[path = "bench/load.rs"]
mod load;
#[path = "bench/reads.rs"]
mod reads;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = args.first().cloned().unwrap_or_else(|| "all".into());
    let dataset = arg(&args, "--dataset", "large");
    match scenario.as_str() {
        "sim-list" => sim_list(&dataset).await,
        "sync" => sync(&dataset).await,
        "reads" => {
            let opts = reads::Opts {
                dataset,
                latency_ms: arg(&args, "--latency-ms", "100").parse().unwrap_or(100),
                seconds: arg(&args, "--seconds", "5").parse().unwrap_or(5.0),
                cache_bytes: arg(&args, "--cache-bytes", "").parse().ok(),
            };
            reads::run(opts).await
        }
        "reports" => {
            let n = arg(&args, "--requests", "200").parse().unwrap_or(200);
            reports(&dataset, n).await
        }
        "serve-child" => reads::serve_child().await,
        "all" => {
            sim_list(&dataset).await?;
            sync(&dataset).await?;
            reads::run(reads::Opts {
                dataset,
                latency_ms: 100,
                seconds: 5.0,
                cache_bytes: None,
            })
            .await
        }
        other => anyhow::bail!(
            "unknown scenario `{other}`; scenarios: sim-list, sync, reads, reports, all"
        ),
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

/// Cold then warm sync of a whole simulated tenant (simulator at 0 ms latency).
async fn sync(dataset: &str) -> anyhow::Result<()> {
    let sizes = sim::sizes_for(dataset, None, None, None).map_err(anyhow::Error::msg)?;
    let server = sim::start(SimConfig {
        sizes,
        ..SimConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let config = bench_config(&server, dir.path());
    println!(
        "sync of `{dataset}` ({} projects, {} clusters, {} profiles x {} versions), concurrency {}:",
        sizes.projects,
        sizes.clusters,
        sizes.profiles,
        sizes.versions_per_profile,
        config.sync.concurrency
    );
    for (label, _) in [("cold", ()), ("warm", ()), ("warm", ())] {
        server.state.reset_counters();
        let reports = app::sync_once(config.clone(), None).await?;
        let r = &reports[0];
        let palette_seen: u64 = server.state.counters().values().sum();
        let changed: u64 = r
            .counts
            .values()
            .map(|c| c.added + c.changed + c.deleted)
            .sum();
        println!(
            "  {label:<5} {:>7.2} s  {:>6} Palette calls (simulator counted {palette_seen})  {changed} rows changed  outcome {}",
            r.duration_ms as f64 / 1000.0,
            r.api_calls,
            r.outcome
        );
    }
    let size = std::fs::metadata(dir.path().join("bench.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("  mirror file: {:.1} MiB", size as f64 / 1024.0 / 1024.0);
    server.stop().await;
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
    for path in [
        "/reports/profile-usage",
        "/reports/profile-usage?format=csv",
        "/reports/profile-usage?include=clusters",
        "/reports/pack-usage",
        "/reports/pack-usage?name=kubernetes",
        "/reports/fleet",
        "/events",
    ] {
        let mut ms = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let body = client
                .get(format!("{base}{path}"))
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            bytes = body.len();
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "  {path:<42} {:>8} bytes  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms",
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
