//! One sync leader per environment across replicas: two servers on one database (the same
//! SQLite file, or the same PostgreSQL database) and one simulator. The lease is claimed by
//! one replica per scheduled tick, fences every write of a run (a stale ticket writes
//! nothing), is taken over when its holder dies mid-run, and keeps shared upkeep to one replica.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use spectrocloud_backend::store::leases::{self, FenceError, Lease};

use crate::helpers::*;

const DETAIL: &str = "GET /v1/dashboard/spectroclusters/{uid}";

/// Two replicas (`<tag>-a`, `<tag>-b`) of one environment on one database, leases of `lease`
/// seconds, `adjust` applied to both.
async fn replicas(
    sim: &SimServer,
    tag: &str,
    lease: u64,
    adjust: impl Fn(&mut spectrocloud_backend::config::Config),
) -> (TestApp, TestApp) {
    let a = spawn_app_for(&[sim], |c| {
        c.server.replica_id = Some(format!("{tag}-a"));
        c.sync.lease_seconds = lease;
        adjust(c);
    })
    .await;
    let b = spawn_app_on(&a, |c| c.server.replica_id = Some(format!("{tag}-b"))).await;
    (a, b)
}

/// `started_at` of every run of env0 with `trigger`, oldest first.
async fn run_starts(app: &TestApp, trigger: &str) -> Vec<chrono::DateTime<chrono::Utc>> {
    let pool = app.mirror().await;
    let starts: Vec<String> = sqlx::query_scalar(q(
        "SELECT started_at FROM sync_runs WHERE env = 'env0' AND trigger = ? ORDER BY started_at",
    ))
    .bind(trigger)
    .fetch_all(&pool)
    .await
    .expect("runs");
    pool.close().await;
    starts
        .iter()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .expect("RFC 3339")
                .with_timezone(&chrono::Utc)
        })
        .collect()
}

async fn cluster_details(app: &TestApp) -> i64 {
    let pool = app.mirror().await;
    let n = count(
        &pool,
        "SELECT count(*) FROM cluster_details WHERE env = ?",
        "env0",
    )
    .await;
    pool.close().await;
    n
}

#[tokio::test]
async fn two_replicas_run_each_scheduled_tick_once() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(2, 10, 4),
        ..SimConfig::default()
    })
    .await;
    let (a, b) = replicas(&sim, "tick", 2, |c| {
        c.sync.schedule = "*/2 * * * * *".into()
    })
    .await;
    // Four ticks or so: every replica tries each one.
    tokio::time::sleep(Duration::from_millis(8_500)).await;
    let starts = run_starts(&a, "schedule").await;
    assert!(starts.len() >= 3, "scheduled runs: {starts:?}");
    // Ticks are 2 s apart; a second run for one tick would start within the first's second.
    for pair in starts.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(
            gap >= 1_000,
            "two runs for one tick, {gap} ms apart: {starts:?}"
        );
    }
    let logs = captured_logs();
    let skipped = logs
        .lines()
        .filter(|l| l.contains("scheduled sync skipped: another replica"))
        .filter(|l| l.contains("tick-a") || l.contains("tick-b"))
        .count();
    assert!(
        skipped >= starts.len() - 1,
        "the losing replica skips each tick quietly: {skipped} skips for {} runs",
        starts.len()
    );
    a.stop().await;
    b.stop().await;
    sim.stop().await;
}

/// `b` does not lead env0: a manual trigger answers with `leader`'s run `id` and names it, as
/// do its status and health (which name `b` as the replica answering).
async fn assert_led_by(b: &TestApp, id: i64, leader: &str) {
    let t: Value = b
        .client
        .post(b.url("/sync?instance=env0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["runs"][0]["status"], "already_running", "{t}");
    assert_eq!(t["runs"][0]["run_id"], id, "{t}");
    assert_eq!(t["runs"][0]["leader"], leader, "{t}");
    let me = b.config.server.replica_id();
    let status = json(b.get("/sync/status?instance=env0").await).await;
    assert_eq!(status["replica"], me.as_str(), "{status}");
    let env = &status["environments"][0];
    assert_eq!(env["leader"]["replica"], leader, "{status}");
    assert!(env["leader"]["expires_at"].is_string(), "{status}");
    // The leader's run shows here too: behind a load balancer every replica tells the same.
    assert_eq!(env["running"]["id"], id, "{status}");
    assert_eq!(env["running"]["replica"], leader, "{status}");
    assert!(env["running"]["progress"].is_null(), "{status}");
    // Its health says so once its leader watch has looked (every third of a lease).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let health = json(b.get("/health").await).await;
        assert_eq!(health["replica"], me.as_str());
        if health["environments"][0]["running"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_leader_that_lost_its_lease_writes_nothing_more_and_fails_saying_so() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 300, 10),
        ..SimConfig::default()
    })
    .await;
    let (a, b) = replicas(&sim, "fence", 2, |c| c.sync.concurrency = 2).await;
    set_knobs(&sim, json!({"latency_ms": 40})).await;
    let id = a.start_sync("env0").await;
    a.wait_listed("env0").await;
    assert_led_by(&b, id, "fence-a").await;

    // A stalls past its lease and another replica claims the environment (ticket + 1), in
    // one statement so no renewal of A's falls between.
    let pool = a.mirror().await;
    let old: i64 = sqlx::query_scalar(q("SELECT ticket FROM sync_leases WHERE env = 'env0'"))
        .fetch_one(&pool)
        .await
        .unwrap();
    let until = chrono::Utc::now().timestamp_millis() + 60_000;
    sqlx::query(q(
        "UPDATE sync_leases SET holder = 'fence-thief', ticket = ticket + 1, expires_at_ms = ? WHERE env = 'env0'",
    ))
    .bind(until)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let kept = cluster_details(&a).await;
    assert!(kept < 300, "the run was still fetching details: {kept}");

    let run = a.wait_run("env0", id).await;
    assert_eq!(run["outcome"], "failed", "{run}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains("lease lost to `fence-thief`"), "{error}");
    assert_eq!(
        cluster_details(&a).await,
        kept,
        "no batch was written after the lease was lost"
    );

    // The store itself refuses a write under the old ticket, and names who holds it now.
    let stale = Lease {
        key: "env0".into(),
        holder: "fence-a".into(),
        ticket: old,
        ttl_ms: 2_000,
    };
    match leases::begin_fenced(&a.db, &stale).await {
        Err(FenceError::Lost(lost)) => assert_eq!(lost.to.as_deref(), Some("fence-thief")),
        Err(e) => panic!("a store error instead of a refusal: {e}"),
        Ok(_) => panic!("a stale ticket's write was let through"),
    }
    let current = Lease {
        ticket: old + 1,
        holder: "fence-thief".into(),
        ..stale
    };
    let tx = leases::begin_fenced(&a.db, &current)
        .await
        .expect("the current ticket writes");
    leases::commit_fenced(tx, &current)
        .await
        .expect("and commits");
    a.stop().await;
    b.stop().await;
    sim.stop().await;
}

/// A `sync --once` process on `app`'s database (its replica id `replica`), leases of 2 s.
fn sync_once_on(
    app: &TestApp,
    sim: &SimServer,
    dir: &std::path::Path,
    replica: &str,
) -> tokio::process::Child {
    let config = dir.join("leader.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nreplica_id = \"{replica}\"\n[database]\nurl = \"{}\"\n[auth]\nmode = \"none\"\n[sync]\nconcurrency = 4\nlease_seconds = 2\n[[environments]]\nname = \"env0\"\nurl = \"{}\"\napi_token = \"sim-api-key\"\n[environments.rate_limits]\nscale = 100.0\n",
            app.config.database.url, sim.url
        ),
    )
    .unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["sync", "--once", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_leader_that_dies_mid_run_is_taken_over_and_its_run_resumed() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 300, 10),
        ..SimConfig::default()
    })
    .await;
    let b = spawn_app_for(&[&sim], |c| {
        c.server.replica_id = Some("dies-b".into());
        c.sync.lease_seconds = 2;
    })
    .await;
    set_knobs(&sim, json!({"latency_ms": 5})).await;
    // The leader: a `sync --once` process on B's database, killed half-way.
    let dir = tempfile::tempdir().unwrap();
    let mut leader = sync_once_on(&b, &sim, dir.path(), "dies-a");
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster_details(&b).await < 100 {
        assert!(
            Instant::now() < deadline,
            "the leader never got a third of the way"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    leader.start_kill().unwrap(); // SIGKILL: no release, no more renewals
    leader.wait().await.unwrap();
    let killed = Instant::now();
    let kept = cluster_details(&b).await;
    assert!((100..300).contains(&kept), "killed with {kept} details");
    sim_control(&sim, Method::DELETE, "/counters", None).await;

    // B takes over within one lease plus one check (2 s + 0.67 s), with some slack.
    let limit = Duration::from_millis(2_000 + 667 + 1_500);
    let id = loop {
        let s = b.env_status("env0").await;
        if s["running"]["trigger"] == "takeover" {
            break s["running"]["id"].as_i64().expect("run id");
        }
        assert!(killed.elapsed() < limit, "not taken over in {limit:?}: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let taken_after = killed.elapsed();
    let run = b.wait_run("env0", id).await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(run["replica"], "dies-b", "the run names who ran it: {run}");
    assert_eq!(cluster_details(&b).await, 300);
    let counters = sim_counters(&sim).await;
    assert_eq!(
        counters.get(DETAIL).copied().unwrap_or(0),
        300 - kept as u64,
        "the takeover fetched only the details the dead run had not applied: {counters:?}"
    );
    // The dead run is recorded as interrupted, naming its leader.
    let pool = b.mirror().await;
    let (outcome, error, replica): (String, String, String) = sqlx::query_as(q(
        "SELECT outcome, error, replica FROM sync_runs WHERE env = 'env0' AND trigger = 'cli'",
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(outcome, "interrupted");
    assert!(replica.starts_with("dies-a-once-"), "{replica}");
    assert!(
        error.contains("replica `dies-a-once-") && error.contains("applied and kept"),
        "{error}"
    );
    eprintln!("taken over {} ms after the kill", taken_after.as_millis());
    b.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn one_replica_runs_the_upkeep_per_period() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(2, 5, 2),
        ..SimConfig::default()
    })
    .await;
    // Each replica's upkeep ticks as it starts: A's claims the period, B's finds it held.
    let (a, b) = replicas(&sim, "upkeep", 2, |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (done, skipped) = loop {
        let logs = captured_logs();
        let lines = |what: &str| -> Vec<String> {
            logs.lines()
                .filter(|l| l.contains(what) && l.contains("upkeep-"))
                .map(str::to_string)
                .collect()
        };
        let (done, skipped) = (
            lines("upkeep done"),
            lines("upkeep skipped: another replica holds the maintenance lease"),
        );
        if !done.is_empty() && !skipped.is_empty() {
            break (done, skipped);
        }
        assert!(
            Instant::now() < deadline,
            "both replicas' first upkeep: {done:?} {skipped:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(done[0].contains("upkeep-a"), "{done:?}");
    assert!(
        skipped[0].contains("upkeep-b") && skipped[0].contains("leader=upkeep-a"),
        "{skipped:?}"
    );
    let pool = a.mirror().await;
    let holder: String = sqlx::query_scalar(q(
        "SELECT holder FROM sync_leases WHERE env = '#maintenance'",
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(holder, "upkeep-a");
    a.stop().await;
    b.stop().await;
    sim.stop().await;
}
