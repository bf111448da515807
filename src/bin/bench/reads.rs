//! `bench reads`: the read paths at scale. The simulator runs here; the server runs as a child
//! process (`serve-child`, with the ceiling route) so its RSS is its own; the load generator
//! drives each route, then the ceiling route serving the same bytes through the same
//! middleware, and prints a table of figures against the targets. With `--postgres` the same
//! routes run again on a server child whose mirror is a fresh PostgreSQL database, and the two
//! backends are compared side by side.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palette_sim::{self as sim, SimConfig};
use reqwest::header::{ACCEPT_ENCODING, HeaderMap, HeaderValue, IF_NONE_MATCH};
use serde_json::{Value, json};
use spectrocloud_backend::app::{self, Options};

use crate::load::{self, Figures, Load};

pub struct Opts {
    pub dataset: String,
    pub latency_ms: u64,
    pub seconds: f64,
    /// `server.response_cache_bytes` of the child (default: the config's default).
    pub cache_bytes: Option<usize>,
    /// A PostgreSQL server: measure a second time with the mirror on a fresh database there.
    pub postgres: Option<String>,
    /// Leave that database in place after the run (to look at its plans).
    pub keep_database: bool,
}

/// The mirror database a server child runs on.
pub enum Backend {
    /// A SQLite file in the run's temporary directory.
    Sqlite,
    /// A PostgreSQL database, by URL.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// What one backend's run measured.
pub struct Run {
    pub backend: &'static str,
    pub rows: Vec<Row>,
    /// The cold sync into the empty mirror, seconds.
    pub sync_secs: f64,
    pub rss_synced_mib: f64,
    pub rss_after_mib: f64,
}

/// The server of the benchmark, as a child process: its base URL and process.
struct Server {
    base: String,
    child: Child,
}

impl Server {
    fn start(
        sim: &sim::SimServer,
        db: &std::path::Path,
        backend: &Backend,
        cache: Option<usize>,
    ) -> anyhow::Result<Server> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("serve-child")
            .env("BENCH_SIM_URL", &sim.url)
            .env("BENCH_API_KEY", &sim.state.api_key)
            .env("BENCH_DB_DIR", db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Backend::Postgres(url) = backend {
            cmd.env("BENCH_DB_URL", url);
        }
        if let Some(c) = cache {
            cmd.env("BENCH_CACHE_BYTES", c.to_string());
        }
        let mut child = cmd.spawn()?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let base = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| anyhow::anyhow!("the server child said `{line}`"))?
            .to_string();
        Ok(Server { base, child })
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// Closing its stdin stops the child gracefully.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// `serve-child`: the service with the ceiling route, on a free loopback port; prints
/// `listening <base url>` and serves until its stdin closes. Its mirror is `BENCH_DB_URL`
/// when set, else a SQLite file in `BENCH_DB_DIR`.
pub async fn serve_child() -> anyhow::Result<()> {
    let var = |k: &str| std::env::var(k).map_err(|_| anyhow::anyhow!("{k} is not set"));
    let dir = std::path::PathBuf::from(var("BENCH_DB_DIR")?);
    let mut config = crate::bench_config_for(&var("BENCH_SIM_URL")?, &var("BENCH_API_KEY")?, &dir);
    if let Ok(url) = var("BENCH_DB_URL") {
        config.database.url = url;
    }
    config.server.workers = Some(2);
    // The simulator enforces no limits here: pacing would only make the sync slower.
    config.environments[0].rate_limits.scale = 100.0;
    config.server.json_limit_bytes = spectrocloud_backend::api::ceiling::MAX_BYTES;
    if let Ok(c) = var("BENCH_CACHE_BYTES") {
        config.server.response_cache_bytes = c.parse()?;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let options = Options { ceiling: true };
    let application =
        app::Application::build_with_options(config.clone(), listener, options).await?;
    println!(
        "listening http://{}{}",
        application.addr(),
        config.server.base_path
    );
    let handle = application.handle();
    let running = tokio::spawn(application.run_until_stopped());
    tokio::task::spawn_blocking(move || {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await?;
    handle.stop(true).await;
    running.await??;
    Ok(())
}

/// What a row reads, for the targets of the comparison of backends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An answer the response cache keeps (every request after the first is served from it).
    Cached,
    /// A report built from the mirror on every request (`no-cache`).
    Built,
    /// One cluster, or the clusters of one profile version.
    Detail,
}

/// One line of the table.
pub struct Row {
    pub label: String,
    pub kind: Kind,
    connections: usize,
    pub figures: Figures,
    ceiling: Option<Figures>,
    target: String,
    pass: bool,
}

/// One route to drive, and its ceiling (the same bytes from a static buffer) unless `None`.
struct Case<'a> {
    label: &'a str,
    path: String,
    headers: HeaderMap,
    connections: usize,
    expect: u16,
}

struct Bench {
    base: String,
    client: reqwest::Client,
    duration: Duration,
}

impl Bench {
    async fn drive(&self, c: &Case<'_>, path: &str) -> anyhow::Result<Figures> {
        let url = format!("{}{path}", self.base);
        load::run(Load {
            url: &url,
            headers: c.headers.clone(),
            connections: c.connections,
            duration: self.duration,
            expect: c.expect,
        })
        .await
    }

    /// The route, then the ceiling serving its plain bytes with the same request headers.
    async fn with_ceiling(&self, c: &Case<'_>) -> anyhow::Result<(Figures, Figures)> {
        let plain_headers: HeaderMap = c
            .headers
            .iter()
            .filter(|(k, _)| *k != ACCEPT_ENCODING && *k != IF_NONE_MATCH)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let body = self
            .client
            .get(format!("{}{}", self.base, c.path))
            .headers(plain_headers)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        self.client
            .put(format!("{}/__bench/ceiling", self.base))
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        let route = self.drive(c, &c.path).await?;
        let ceiling = self.drive(c, "/__bench/ceiling").await?;
        Ok((route, ceiling))
    }

    async fn get_json(&self, path: &str, headers: &HeaderMap) -> anyhow::Result<Value> {
        Ok(self
            .client
            .get(format!("{}{path}", self.base))
            .headers(headers.clone())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }
}

fn header(pairs: &[(&'static str, &str)]) -> anyhow::Result<HeaderMap> {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v)?);
    }
    Ok(h)
}

/// The server after its first sync has ended, with the sync's seconds and the RSS then.
struct Prepared {
    server: Server,
    sync_secs: f64,
    rss_mib: f64,
}

/// Starts the server on `backend`, syncs the simulator into it, and waits for the sync's end.
async fn prepare(
    opts: &Opts,
    sim: &sim::SimServer,
    backend: &Backend,
    dir: &std::path::Path,
) -> anyhow::Result<Prepared> {
    let sizes = sim::sizes_for(&opts.dataset, None, None, None).map_err(anyhow::Error::msg)?;
    let server = Server::start(sim, dir, backend, opts.cache_bytes)?;
    println!(
        "{}: server at {}; syncing `{}` ...",
        backend.name(),
        server.base,
        opts.dataset
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    client
        .post(format!("{}/sync", server.base))
        .send()
        .await?
        .error_for_status()?;
    loop {
        let s: Value = client
            .get(format!("{}/sync/status", server.base))
            .send()
            .await?
            .json()
            .await?;
        // Listed is not enough: details are fetched after, and each batch written moves the
        // generation (and so empties the response cache). Measure a mirror at rest.
        let env = &s["environments"][0];
        if env["running"].is_null() && env["last_success"].is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sync_secs = started.elapsed().as_secs_f64();
    let rss_mib = server.rss_mib();
    println!(
        "reads of `{}` on {} ({} clusters, {} projects); synced in {sync_secs:.1} s; server RSS {rss_mib:.0} MiB; {:.1} s per route",
        opts.dataset,
        backend.name(),
        sizes.clusters,
        sizes.projects,
        opts.seconds
    );
    Ok(Prepared {
        server,
        sync_secs,
        rss_mib,
    })
}

/// A scoped Palette user of the simulator (not an admin, with some projects) and a fresh token.
fn scoped_user(sim: &sim::SimServer) -> anyhow::Result<(String, String, usize)> {
    let d = sim
        .state
        .data
        .read()
        .map_err(|_| anyhow::anyhow!("simulator data poisoned"))?;
    let u = d
        .users
        .iter()
        .filter(|u| !u.admin && !u.project_uids.is_empty())
        .max_by_key(|u| u.project_uids.len())
        .ok_or_else(|| anyhow::anyhow!("no scoped user in the dataset"))?;
    let token = sim.state.mint_token(&u.uid, &u.email, 3600);
    Ok((u.email.clone(), token, u.project_uids.len()))
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let sizes = sim::sizes_for(&opts.dataset, None, None, None).map_err(anyhow::Error::msg)?;
    let sim = sim::start(SimConfig {
        sizes,
        ..SimConfig::default()
    })
    .await?;
    let result = run_backends(&opts, &sim).await;
    sim.stop().await;
    result
}

/// SQLite, then (with `--postgres`) a fresh PostgreSQL database, on the same simulator; then
/// the two side by side. The database is dropped whether its run succeeded or not.
async fn run_backends(opts: &Opts, sim: &sim::SimServer) -> anyhow::Result<()> {
    let sqlite = measure(opts, sim, &Backend::Sqlite).await?;
    let Some(server) = &opts.postgres else {
        return Ok(());
    };
    let scratch = crate::scratch::Scratch::create(server).await?;
    println!();
    println!("PostgreSQL database `{}`", scratch.name);
    let postgres = measure(opts, sim, &Backend::Postgres(scratch.url.clone())).await;
    if opts.keep_database {
        let url = spectrocloud_backend::config::redacted_url(&scratch.url);
        println!("kept the database: {url}");
    } else if let Err(e) = scratch.drop().await {
        println!("could not drop the database: {e}");
    }
    crate::compare::print(&sqlite, &postgres?);
    if opts.cache_bytes == Some(0) {
        println!(
            "  (the response cache was off: every answer was built; `cached` names the rows it would serve)"
        );
    }
    Ok(())
}

/// One backend's run: a fresh server child on it, its sync, every route, and its table.
async fn measure(opts: &Opts, sim: &sim::SimServer, backend: &Backend) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let Prepared {
        server,
        sync_secs,
        rss_mib,
    } = prepare(opts, sim, backend, dir.path()).await?;
    let bench = Bench {
        base: server.base.clone(),
        client: reqwest::Client::new(),
        duration: Duration::from_secs_f64(opts.seconds),
    };
    let rows = measure_rows(&bench, sim).await;
    let rss = server.rss_mib();
    server.stop();
    let rows = rows?;
    print_table(&rows);
    println!(
        "  {:<52} {:>8.0} MiB   target <150 MiB  {}",
        "server RSS after the run",
        rss,
        verdict(rss < 150.0)
    );
    original_vs_mirror(&bench, sim, opts.latency_ms, &rows).await?;
    // The next backend's sync runs against the simulator without the round trip.
    sim.state.set_knobs(sim::Knobs::default());
    Ok(Run {
        backend: backend.name(),
        rows,
        sync_secs,
        rss_synced_mib: rss_mib,
        rss_after_mib: rss,
    })
}

/// Every route of the table, in order.
async fn measure_rows(bench: &Bench, sim: &sim::SimServer) -> anyhow::Result<Vec<Row>> {
    let subjects = Subjects::find(bench).await?;
    let (email, token, projects) = scoped_user(sim)?;
    let scoped = header(&[
        ("x-spectrocloud-user-email", &email),
        ("x-spectrocloud-token", &token),
    ])?;
    let gzip = header(&[("accept-encoding", "gzip")])?;
    let mut rows = listing_rows(bench, &subjects.cluster, &gzip).await?;
    rows.push(revalidation(bench, &gzip).await?);
    rows.extend(timed_rows(bench, &subjects).await?);
    rows.extend(scoped_rows(bench, &scoped, projects, &rows).await?);
    Ok(rows)
}

/// What the run measures on: a cluster, and the most used profile version with its count.
struct Subjects {
    cluster: String,
    profile: String,
    profile_clusters: i64,
}

impl Subjects {
    async fn find(bench: &Bench) -> anyhow::Result<Subjects> {
        let none = HeaderMap::new();
        let first = bench.get_json("/clusters?limit=1", &none).await?;
        let cluster = first["clusters"][0]["metadata"]["uid"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let usage = bench.get_json("/reports/profile-usage", &none).await?;
        let detail = bench
            .get_json(&format!("/clusters/{cluster}"), &none)
            .await?;
        // The most used profile version: the reverse lookup's largest answer.
        let busiest = usage["profiles"][0]["versions"]
            .as_array()
            .and_then(|v| v.iter().max_by_key(|v| v["clusters"].as_i64().unwrap_or(0)));
        let profile = busiest
            .and_then(|v| v["uid"].as_str())
            .or(detail["spec"]["clusterProfileTemplates"][0]["uid"].as_str())
            .unwrap_or("")
            .to_string();
        let profile_clusters = busiest.map_or(0, |v| v["clusters"].as_i64().unwrap_or(0));
        Ok(Subjects {
            cluster,
            profile,
            profile_clusters,
        })
    }
}

fn case(label: &str, path: String, headers: HeaderMap, connections: usize) -> Case<'_> {
    Case {
        label,
        path,
        headers,
        connections,
        expect: 200,
    }
}

/// Pages, one cluster and the whole list, each against its ceiling.
async fn listing_rows(bench: &Bench, cluster: &str, gzip: &HeaderMap) -> anyhow::Result<Vec<Row>> {
    let none = HeaderMap::new();
    let mut rows = Vec::new();
    let ratio_target = |f: &Figures, c: &Figures| f.rps >= 0.5 * c.rps && f.p99_ms < 10.0;
    for (kind, c) in [
        (
            Kind::Cached,
            case(
                "GET /clusters?limit=50",
                "/clusters?limit=50".into(),
                none.clone(),
                64,
            ),
        ),
        (
            Kind::Detail,
            case(
                "GET /clusters/{uid}",
                format!("/clusters/{cluster}"),
                none.clone(),
                64,
            ),
        ),
    ] {
        let (f, ceil) = bench.with_ceiling(&c).await?;
        rows.push(Row {
            label: c.label.into(),
            kind,
            connections: c.connections,
            pass: ratio_target(&f, &ceil) && f.errors == 0,
            figures: f,
            ceiling: Some(ceil),
            target: "≥0.5 of ceiling, p99 <10 ms".into(),
        });
    }
    let all = case(
        "GET /clusters (all) gzip",
        "/clusters".into(),
        gzip.clone(),
        8,
    );
    let (f, ceil) = bench.with_ceiling(&all).await?;
    rows.push(Row {
        label: format!("{} ({} KB sent)", all.label, f.body_bytes / 1024),
        kind: Kind::Cached,
        connections: 8,
        pass: f.p99_ms < 50.0 && f.errors == 0,
        figures: f,
        ceiling: Some(ceil),
        target: "p99 <50 ms".into(),
    });
    Ok(rows)
}

/// The reverse lookup and the reports, from the response cache and rebuilt each time.
async fn timed_rows(bench: &Bench, subjects: &Subjects) -> anyhow::Result<Vec<Row>> {
    let none = HeaderMap::new();
    let (profile, profile_clusters) = (&subjects.profile, subjects.profile_clusters);
    let mut rows = Vec::new();
    // `no-cache`: every answer built from the mirror's tallies, none from the response cache.
    let rebuild = header(&[("cache-control", "no-cache")])?;
    let timed = [
        (
            Kind::Detail,
            format!("GET /profiles/{{uid}}/clusters ({profile_clusters} clusters)"),
            format!("/profiles/{profile}/clusters"),
            none.clone(),
            16,
            2.0,
        ),
        (
            Kind::Cached,
            "GET /reports/profile-usage".into(),
            "/reports/profile-usage".into(),
            none.clone(),
            8,
            50.0,
        ),
        (
            Kind::Built,
            "GET /reports/profile-usage, no-cache (built each time)".into(),
            "/reports/profile-usage".into(),
            rebuild.clone(),
            8,
            50.0,
        ),
        (
            Kind::Cached,
            "GET /reports/pack-usage".into(),
            "/reports/pack-usage".into(),
            none.clone(),
            8,
            50.0,
        ),
        (
            Kind::Built,
            "GET /reports/pack-usage, no-cache (built each time)".into(),
            "/reports/pack-usage".into(),
            rebuild.clone(),
            8,
            50.0,
        ),
        (
            Kind::Built,
            "GET /reports/fleet, no-cache (built each time)".into(),
            "/reports/fleet".into(),
            rebuild,
            8,
            50.0,
        ),
    ];
    for (kind, label, path, headers, connections, p99) in timed {
        let c = case("", path, headers, connections);
        let (f, ceil) = match bench.with_ceiling(&c).await {
            Ok(figures) => figures,
            Err(e) => {
                println!("  {label}: not measured: {e}");
                continue;
            }
        };
        rows.push(Row {
            label,
            kind,
            connections,
            pass: f.p99_ms < p99 && f.errors == 0,
            figures: f,
            ceiling: Some(ceil),
            target: format!("p99 <{p99} ms"),
        });
    }
    Ok(rows)
}

/// The whole list again with the tag the caller holds: 304, no body.
async fn revalidation(bench: &Bench, gzip: &HeaderMap) -> anyhow::Result<Row> {
    let r = bench
        .client
        .get(format!("{}/clusters", bench.base))
        .headers(gzip.clone())
        .send()
        .await?;
    let tag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut headers = gzip.clone();
    headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&tag)?);
    let c = Case {
        label: "",
        path: "/clusters".into(),
        headers,
        connections: 8,
        expect: 304,
    };
    let f = bench.drive(&c, &c.path).await?;
    Ok(Row {
        label: "GET /clusters (all) If-None-Match → 304".into(),
        kind: Kind::Cached,
        connections: 8,
        pass: f.errors == 0 && f.requests > 0,
        figures: f,
        ceiling: None,
        target: "every answer 304".into(),
    })
}

/// The list and one cluster as a scoped Palette user, against the unscoped figures above.
async fn scoped_rows(
    bench: &Bench,
    scoped: &HeaderMap,
    projects: usize,
    unscoped: &[Row],
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (i, path) in ["/clusters?limit=50".to_string()].into_iter().enumerate() {
        let c = Case {
            label: "",
            path,
            headers: scoped.clone(),
            connections: 64,
            expect: 200,
        };
        let f = bench.drive(&c, &c.path).await?;
        let base = &unscoped[i].figures;
        rows.push(Row {
            label: format!(
                "{} as a scoped user ({projects} projects)",
                unscoped[i].label
            ),
            kind: Kind::Cached,
            connections: 64,
            pass: f.rps * 1.5 >= base.rps
                && f.p50_ms <= 1.5 * base.p50_ms.max(0.01)
                && f.errors == 0,
            target: format!("within 1.5x of unscoped ({:.0} req/s)", base.rps),
            figures: f,
            ceiling: None,
        });
    }
    Ok(rows)
}

fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "MISS" }
}

fn print_table(rows: &[Row]) {
    println!(
        "  {:<52} {:>5} {:>9} {:>8} {:>8} {:>10} {:>6}  {:<30}",
        "read", "conns", "req/s", "p50 ms", "p99 ms", "ceiling/s", "ratio", "target"
    );
    for r in rows {
        let f = &r.figures;
        let (ceil, ratio) = match &r.ceiling {
            Some(c) => (
                format!("{:.0}", c.rps),
                format!("{:.2}", f.rps / c.rps.max(0.001)),
            ),
            None => ("-".into(), "-".into()),
        };
        let errors = if f.errors > 0 {
            format!(" ({} errors)", f.errors)
        } else {
            String::new()
        };
        println!(
            "  {:<52} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>10} {:>6}  {:<30} {}{errors}",
            r.label,
            r.connections,
            f.rps,
            f.p50_ms,
            f.p99_ms,
            ceil,
            ratio,
            r.target,
            verdict(r.pass)
        );
    }
}

/// The original plugin's way for the list (users/me, then every project's clusters and the
/// tenant's, live, in parallel) with a Palette round trip of `latency_ms`, against the
/// mirror's list measured above.
async fn original_vs_mirror(
    bench: &Bench,
    sim: &sim::SimServer,
    latency_ms: u64,
    rows: &[Row],
) -> anyhow::Result<()> {
    sim.state.set_knobs(sim::Knobs {
        latency_ms,
        ..sim::Knobs::default()
    });
    let client = &bench.client;
    let key = sim.state.api_key.clone();
    let v: Value = client
        .post(format!("{}/v1/dashboard/projects", sim.url))
        .header("ApiKey", &key)
        .json(&json!({"filter": {}}))
        .send()
        .await?
        .json()
        .await?;
    let projects: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["metadata"]["uid"].as_str().map(str::to_string))
        .collect();
    let mut ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        client
            .get(format!("{}/v1/users/me", sim.url))
            .header("ApiKey", &key)
            .send()
            .await?
            .error_for_status()?;
        let calls = projects
            .iter()
            .map(Some)
            .chain(std::iter::once(None))
            .map(|p| {
                let mut r = client
                    .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
                    .header("ApiKey", &key);
                if let Some(p) = p {
                    r = r.header("ProjectUid", p);
                }
                async move { r.send().await?.bytes().await }
            });
        futures::future::try_join_all(calls).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let original = load::percentile(&ms, 0.5);
    let mirror = rows
        .iter()
        .find(|r| r.label.starts_with("GET /clusters (all) gzip"))
        .map_or(f64::MAX, |r| r.figures.p50_ms);
    let x = original / mirror.max(0.001);
    println!(
        "  the whole list, the original's way (users/me + {} project lists, live, {latency_ms} ms round trip): p50 {original:.0} ms; the mirror: p50 {mirror:.2} ms => {x:.0}x  target ≥100x  {}",
        projects.len() + 1,
        verdict(x >= 100.0)
    );
    Ok(())
}
