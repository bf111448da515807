//! The in-repo load generator: N connections for a fixed time, each a tokio task with its own
//! keep-alive HTTP/1.1 client (one connection), sending its next request as soon as the last
//! answer's body has been read (closed loop, like `wrk`).

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub requests: usize,
    /// Answers whose status was not the expected one, or that failed.
    pub errors: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Bytes of the last body read (as sent: compressed when asked).
    pub body_bytes: usize,
}

pub struct Load<'a> {
    pub url: &'a str,
    pub headers: HeaderMap,
    pub connections: usize,
    pub duration: Duration,
    pub expect: u16,
}

/// Runs the load; the first 10% of the time warms up (connections, caches) and is not counted.
pub async fn run(load: Load<'_>) -> anyhow::Result<Figures> {
    let warmup = load.duration / 10;
    let start = Instant::now() + warmup;
    let end = start + load.duration;
    let mut tasks = Vec::new();
    for _ in 0..load.connections {
        let client = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(1)
            .default_headers(load.headers.clone())
            .build()?;
        let (url, expect) = (load.url.to_string(), load.expect);
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let (mut errors, mut body_bytes) = (0usize, 0usize);
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let ok = match client.get(&url).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match r.bytes().await {
                            Ok(b) => {
                                body_bytes = b.len();
                                status == expect
                            }
                            Err(_) => false,
                        }
                    }
                    Err(_) => false,
                };
                if t >= start {
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    errors += usize::from(!ok);
                }
            }
            (ms, errors, body_bytes)
        }));
    }
    let mut all = Vec::new();
    let mut figures = Figures::default();
    for t in tasks {
        let (ms, errors, bytes) = t.await?;
        all.extend(ms);
        figures.errors += errors;
        figures.body_bytes = figures.body_bytes.max(bytes);
    }
    all.sort_by(f64::total_cmp);
    figures.requests = all.len();
    figures.rps = all.len() as f64 / load.duration.as_secs_f64();
    figures.p50_ms = percentile(&all, 0.50);
    figures.p99_ms = percentile(&all, 0.99);
    Ok(figures)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
