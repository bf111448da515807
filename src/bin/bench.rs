//! Benchmark driver: prints figures, measured side by side in one run (never a timed test).
//!
//!   cargo run --release --bin bench -- sim-list [--dataset large]
//!
//! Each scenario starts its own simulator (and service) on loopback.

use std::time::Instant;

use serde_json::{Value, json};
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
        other => anyhow::bail!("unknown scenario `{other}`; scenarios: sim-list"),
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
