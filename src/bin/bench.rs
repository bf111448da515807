//! Benchmark driver: prints figures, measured side by side in one run (never a timed test).
//!
//!   cargo run --release --bin bench -- sim-list [--dataset large]
//!   cargo run --release --bin bench -- sync [--dataset large]
//!   cargo run --release --bin bench -- reads [--dataset medium] [--latency-ms 50]
//!   cargo run --release --bin bench -- reports [--dataset large] [--requests 200]
//!
//! Each scenario starts its own simulator (and service) on loopback.

use std::time::Instant;

use serde_json::{Value, json};
use spectrocloud_backend::app;
use spectrocloud_backend::config::{Config, EnvironmentConfig, Secret};
use spectrocloud_backend::sim::{self, SimConfig};

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
            let latency = arg(&args, "--latency-ms", "50").parse().unwrap_or(50);
            reads(&arg(&args, "--dataset", "medium"), latency).await
        }
        "reports" => {
            let n = arg(&args, "--requests", "200").parse().unwrap_or(200);
            reports(&dataset, n).await
        }
        "all" => {
            sim_list(&dataset).await?;
            sync(&dataset).await?;
            reads("medium", 50).await
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
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".into();
    config.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    config.auth.mode = spectrocloud_backend::config::AuthMode::None;
    config.permissions.enabled = false;
    config.sync.on_startup = false;
    config.sync.schedule = "0 0 0 1 1 *".into();
    config.environments.push(EnvironmentConfig {
        name: "bench".into(),
        url: sim.url.clone(),
        tenant: "acme".into(),
        api_token: Secret::new(sim.state.api_key.clone()),
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(label: &str, mut ms: Vec<f64>) -> f64 {
    ms.sort_by(|a, b| a.total_cmp(b));
    let p50 = percentile(&ms, 0.5);
    println!(
        "  {label:<58} n={:<4} p50 {:>8.2} ms  p95 {:>8.2} ms",
        ms.len(),
        p50,
        percentile(&ms, 0.95)
    );
    p50
}

/// Dashboard reads: this service's mirror side by side with what the original plugin does per
/// request (users/me, then the cluster list of every project and of the tenant, live), against
/// a simulator whose every call costs `latency_ms` like a real Palette round trip.
async fn reads(dataset: &str, latency_ms: u64) -> anyhow::Result<()> {
    let sizes = sim::sizes_for(dataset, None, None, None).map_err(anyhow::Error::msg)?;
    let server = sim::start(SimConfig {
        sizes,
        ..SimConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let mut config = bench_config(&server, dir.path());
    config.server.workers = Some(2);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let application = app::Application::build_with_listener(config.clone(), listener).await?;
    let base = format!("http://{}{}", application.addr(), config.server.base_path);
    let handle = application.handle();
    let running = tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::new();
    client
        .post(format!("{base}/sync"))
        .send()
        .await?
        .error_for_status()?;
    // Wait for the first sync.
    loop {
        let s: Value = client
            .get(format!("{base}/sync/status"))
            .send()
            .await?
            .json()
            .await?;
        if s["environments"][0]["last_success_at"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.state.set_knobs(sim::Knobs {
        latency_ms,
        ..sim::Knobs::default()
    });
    println!(
        "reads of `{dataset}` ({} clusters, {} projects), Palette round trip {latency_ms} ms:",
        sizes.clusters, sizes.projects
    );

    let key = server.state.api_key.clone();
    let projects: Vec<String> = {
        let v: Value = client
            .post(format!("{}/v1/dashboard/projects", server.url))
            .header("ApiKey", &key)
            .json(&json!({"filter": {}}))
            .send()
            .await?
            .json()
            .await?;
        v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["metadata"]["uid"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    // The original: users/me, then every project's meta and the tenant's, in parallel.
    let mut original = Vec::new();
    let mut clusters_seen = 0;
    for _ in 0..20 {
        let t = Instant::now();
        client
            .get(format!("{}/v1/users/me", server.url))
            .header("ApiKey", &key)
            .send()
            .await?
            .error_for_status()?;
        let mut calls = Vec::new();
        for p in projects.iter().map(Some).chain(std::iter::once(None)) {
            let mut r = client
                .get(format!("{}/v1/dashboard/spectroclusters/meta", server.url))
                .header("ApiKey", &key);
            if let Some(p) = p {
                r = r.header("ProjectUid", p);
            }
            calls.push(async move { r.send().await?.json::<Value>().await });
        }
        let lists = futures::future::try_join_all(calls).await?;
        let mut uids = std::collections::HashSet::new();
        for l in &lists {
            for c in l.as_array().into_iter().flatten() {
                if let Some(u) = c["metadata"]["uid"].as_str() {
                    uids.insert(u.to_string());
                }
            }
        }
        clusters_seen = uids.len();
        original.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    let mut mirror = Vec::new();
    let mut mirror_count = 0;
    for _ in 0..200 {
        let t = Instant::now();
        let v: Value = client
            .get(format!("{base}/clusters"))
            .send()
            .await?
            .json()
            .await?;
        mirror_count = v["clusters"].as_array().map(Vec::len).unwrap_or(0);
        mirror.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("  GET /clusters ({mirror_count} clusters; the original's way saw {clusters_seen}):");
    let o = summary(
        "original plugin's way: users/me + per-project meta, live",
        original,
    );
    let m = summary("this service: from the mirror", mirror);
    println!(
        "  => the mirror answers {:.0}x faster at the median",
        o / m.max(0.001)
    );

    // One cluster's details.
    let uid = {
        let v: Value = client
            .get(format!("{base}/clusters?limit=1"))
            .send()
            .await?
            .json()
            .await?;
        v["clusters"][0]["metadata"]["uid"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let mut live = Vec::new();
    let mut from_mirror = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        client
            .get(format!("{}/v1/dashboard/spectroclusters/{uid}", server.url))
            .header("ApiKey", &key)
            .send()
            .await?
            .error_for_status()?;
        live.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        client
            .get(format!("{base}/clusters/{uid}"))
            .send()
            .await?
            .error_for_status()?;
        from_mirror.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("  GET /clusters/{{uid}}:");
    let o = summary("original plugin's way: one live Palette call", live);
    let m = summary("this service: from the mirror", from_mirror);
    println!("  => {:.0}x faster at the median", o / m.max(0.001));

    // Throughput with 8 concurrent callers, and availability while Palette is down.
    let t = Instant::now();
    let total = 400;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url) = (client.clone(), format!("{base}/clusters/{uid}"));
        tasks.push(tokio::spawn(async move {
            for _ in 0..total / 8 {
                let _ = client
                    .get(&url)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    println!(
        "  {total} cluster reads by 8 concurrent callers: {:.0} requests/s",
        total as f64 / t.elapsed().as_secs_f64()
    );
    server.state.set_knobs(sim::Knobs {
        outage: true,
        ..sim::Knobs::default()
    });
    let ok = client
        .get(format!("{base}/clusters"))
        .send()
        .await?
        .status()
        .is_success();
    println!("  Palette unreachable: GET /clusters still answers: {ok}");

    handle.stop(true).await;
    let _ = running.await;
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
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            percentile(&ms, 0.99)
        );
    }
    handle.stop(true).await;
    let _ = running.await;
    server.stop().await;
    Ok(())
}
