//! Progressive, resumable, recoverable sync: listings first and details in batches, a killed
//! run resumed without refetching, a failed commit (disk full) recovered from, progress shown.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const DETAIL: &str = "GET /v1/dashboard/spectroclusters/{uid}";

async fn status(app: &TestApp) -> Value {
    app.get("/sync/status?instance=env0")
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_slow_cold_sync_serves_listed_clusters_from_the_mirror_and_never_404s() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 200, 10),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| c.sync.concurrency = 4).await;
    set_knobs(&sim, json!({"latency_ms": 15})).await;
    let id = app.start_sync("env0").await;
    app.wait_listed("env0").await;
    let pool = app.mirror().await;
    let total = sim_control(&sim, Method::GET, "/summary", None).await["clusters"]
        .as_i64()
        .unwrap();

    let resp = app.get("/clusters").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-spectrocloud-source"], "mirror");
    let listed = json(resp).await["clusters"].as_array().unwrap().clone();
    assert_eq!(listed.len() as i64, total, "the whole listing is served");
    // The run is still filling in details: some listed clusters have none yet.
    let detailed = count(
        &pool,
        "SELECT count(*) FROM cluster_details WHERE env = ?",
        "env0",
    )
    .await;
    assert!(
        detailed < total,
        "details were all there already ({detailed})"
    );
    // Every listed cluster answers, from the mirror or live, never 404.
    for c in listed.iter().rev().take(40) {
        let uid = c["metadata"]["uid"].as_str().unwrap();
        let resp = app.get(&format!("/clusters/{uid}")).await;
        assert_eq!(resp.status(), 200, "cluster {uid} during the cold sync");
        let body = json(resp).await;
        assert_eq!(body["metadata"]["uid"], uid);
        let resp = app.get(&format!("/clusters/{uid}/profiles")).await;
        assert_eq!(resp.status(), 200, "profiles of {uid} during the cold sync");
    }
    // Readers never see half a batch: a cluster's details and its reverse index come together.
    let torn = count(
        &pool,
        "SELECT count(*) FROM cluster_details d JOIN clusters c ON c.env = d.env AND c.uid = d.uid
         WHERE d.env = ? AND c.cloud_type != 'nested' AND NOT EXISTS
           (SELECT 1 FROM cluster_profile_refs r WHERE r.env = d.env AND r.cluster_uid = d.uid)",
        "env0",
    )
    .await;
    assert_eq!(torn, 0);
    assert_eq!(app.wait_run("env0", id).await["outcome"], "success");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM cluster_details WHERE env = ?",
            "env0"
        )
        .await,
        total
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_running_run_shows_its_phase_counts_calls_and_time_left() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 150, 10),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| c.sync.concurrency = 2).await;
    set_knobs(&sim, json!({"latency_ms": 15})).await;
    let id = app.start_sync("env0").await;
    app.wait_listed("env0").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let p = loop {
        let s = status(&app).await;
        let p = s["environments"][0]["running"]["progress"].clone();
        if p["kinds"]["clusters"]["done"].as_u64().unwrap_or(0) > 0 && p["eta_seconds"].is_number()
        {
            break p;
        }
        assert!(Instant::now() < deadline, "no progress in 30 s: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(p["phase"], "details", "{p}");
    assert_eq!(p["kinds"]["clusters"]["total"], 150, "{p}");
    assert!(
        p["kinds"]["clusters"]["done"].as_u64().unwrap() < 150,
        "{p}"
    );
    assert!(p["palette_calls"].as_u64().unwrap() > 0, "{p}");
    assert!(p["eta_seconds"].as_f64().unwrap() > 0.0, "{p}");
    assert_eq!(app.wait_run("env0", id).await["outcome"], "success");
    app.stop().await;
    sim.stop().await;
}

/// A `sync --once` configuration on `db`. Its lease is short: a killed run holds the
/// environment until its lease expires, and the next `sync --once` outlasts it.
fn write_config(
    dir: &std::path::Path,
    sim: &SimServer,
    db: &std::path::Path,
) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[auth]\nmode = \"none\"\n[sync]\nconcurrency = 4\nlease_seconds = 2\n[[environments]]\nname = \"env0\"\nurl = \"{}\"\napi_token = \"sim-api-key\"\n",
            db.display(),
            sim.url
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn a_run_killed_at_about_half_is_resumed_fetching_only_the_rest() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 400, 10),
        ..SimConfig::default()
    })
    .await;
    set_knobs(&sim, json!({"latency_ms": 5})).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let config = write_config(dir.path(), &sim, &db);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["sync", "--once", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once about half the details are in the mirror.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut done = 0;
    while done < 200 {
        assert!(Instant::now() < deadline, "the run never got half way");
        tokio::time::sleep(Duration::from_millis(20)).await;
        if !db.exists() {
            continue;
        }
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .read_only(true);
        if let Ok(pool) = sqlx::SqlitePool::connect_with(opts).await {
            done = sqlx::query_scalar(q("SELECT count(*) FROM cluster_details"))
                .fetch_one(&pool)
                .await
                .unwrap_or(0);
            pool.close().await;
        }
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let kept: i64 = sqlx::query_scalar(q("SELECT count(*) FROM cluster_details"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!((200..400).contains(&kept), "killed with {kept} details");
    assert_eq!(
        count_sqlite(&pool, "SELECT count(*) FROM clusters WHERE env = ?", "env0").await,
        400
    );
    pool.close().await;

    sim_control(&sim, Method::DELETE, "/counters", None).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["sync", "--once", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counters = sim_counters(&sim).await;
    assert_eq!(
        counters.get(DETAIL).copied().unwrap_or(0),
        400 - kept as u64,
        "the resumed run fetched only the missing details: {counters:?}"
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert_eq!(
        count_sqlite(
            &pool,
            "SELECT count(*) FROM cluster_details WHERE env = ?",
            "env0"
        )
        .await,
        400
    );
    let error: String = sqlx::query_scalar(q(
        "SELECT error FROM sync_runs WHERE outcome = 'interrupted' ORDER BY id LIMIT 1",
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(error.contains("were applied and kept"), "{error}");
    pool.close().await;
    sim.stop().await;
}

#[tokio::test]
async fn after_a_disk_full_failure_the_next_run_and_write_through_succeed() {
    if skip_on_postgres("SQLite's page limit on its writer connection") {
        return;
    }
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 120, 20),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    // No room to grow: the writer connection may not add a page to the file.
    let pages: i64 = sqlx::query_scalar(q("PRAGMA page_count"))
        .fetch_one(app.sqlite_writer())
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {}",
        pages + 1
    )))
    .execute(app.sqlite_writer())
    .await
    .unwrap();
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("full"), "{run}");
    // Space is back (the failed connection was replaced by one without the limit).
    let run = app.sync("env0").await;
    assert_eq!(
        run["outcome"], "success",
        "the run after a failed commit: {run}"
    );
    let pool = app.mirror().await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM clusters WHERE env = ?", "env0").await,
        120
    );
    // A plain write on the writer works too (creation's write-through uses the same path).
    let mut tx = spectrocloud_backend::store::writer::begin(&app.db)
        .await
        .unwrap();
    let touch = "UPDATE clusters SET synced_at = synced_at WHERE env = 'env0'";
    match tx.conn() {
        spectrocloud_backend::store::writer::ConnRef::Sqlite(c) => {
            sqlx::query(touch).execute(&mut *c).await.unwrap();
        }
        spectrocloud_backend::store::writer::ConnRef::Postgres(c) => {
            sqlx::query(touch).execute(&mut *c).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    app.stop().await;
    sim.stop().await;
}
