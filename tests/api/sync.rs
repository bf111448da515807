//! The sync engine against the simulator: cold and warm runs, change detection, the reverse
//! index, failures that leave the mirror intact, and a process killed mid-sync.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Detail endpoints: a warm sync over an unchanged Palette must call none of them.
const DETAIL_CALLS: [&str; 5] = [
    "GET /v1/dashboard/spectroclusters/{uid}",
    "GET /v1/spectroclusters/{uid}/profiles",
    "GET /v1/clusterprofiles/{uid}",
    "GET /v1/clusterprofiles/{uid}/variables",
    "GET /v1/clustergroups/{uid}",
];

async fn summary(sim: &SimServer) -> Value {
    sim_control(sim, Method::GET, "/summary", None).await
}

pub(crate) async fn assert_mirrors(pool: &sqlx::AnyPool, env: &str, sim: &SimServer) {
    let s = summary(sim).await;
    let n = |k: &str| s[k].as_i64().unwrap();
    assert_eq!(
        count(pool, "SELECT count(*) FROM projects WHERE env = ?", env).await,
        n("projects")
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM clusters WHERE env = ?", env).await,
        n("clusters")
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM cluster_details WHERE env = ?",
            env
        )
        .await,
        n("clusters"),
        "every cluster has its details"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM virtual_clusters WHERE env = ?",
            env
        )
        .await,
        n("virtual_clusters")
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM cluster_profiles WHERE env = ?",
            env
        )
        .await,
        n("profiles")
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM profile_versions WHERE env = ?",
            env
        )
        .await,
        n("profile_versions")
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM profile_variables WHERE env = ?",
            env
        )
        .await,
        n("profile_versions")
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM cloud_accounts WHERE env = ?",
            env
        )
        .await,
        n("cloud_accounts")
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM overlords WHERE env = ?", env).await,
        n("overlords")
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM cluster_groups WHERE env = ? AND detail_json IS NOT NULL",
            env
        )
        .await,
        n("cluster_groups")
    );
}

/// Every (cluster, version uid) pair Palette reports, from the simulator's full cluster objects.
async fn palette_refs(sim: &SimServer) -> Vec<(String, String)> {
    let c = http_client();
    let meta: Vec<Value> = c
        .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
        .header("ApiKey", "sim-api-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for m in meta {
        let uid = m["metadata"]["uid"].as_str().unwrap().to_string();
        let full: Value = c
            .get(format!("{}/v1/spectroclusters/{uid}", sim.url))
            .header("ApiKey", "sim-api-key")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for t in full["spec"]["clusterProfileTemplates"].as_array().unwrap() {
            out.push((uid.clone(), t["uid"].as_str().unwrap().to_string()));
        }
    }
    out.sort();
    out
}

async fn mirror_refs(pool: &sqlx::AnyPool, env: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = sqlx::query_as(q(
        "SELECT cluster_uid, profile_version_uid FROM cluster_profile_refs WHERE env = ?",
    ))
    .bind(env)
    .fetch_all(pool)
    .await
    .unwrap();
    v.sort();
    v
}

#[tokio::test]
async fn cold_sync_of_two_environments_across_pages_and_scopes() {
    let a = spawn_sim_with(SimConfig {
        sizes: sizes(4, 80, 24),
        ..SimConfig::default()
    })
    .await;
    let b = spawn_sim_with(SimConfig {
        sizes: sizes(3, 40, 12),
        seed: 9,
        ..SimConfig::default()
    })
    .await;
    // Page size 10: 24 profiles take 3+ pages in tenant scope.
    let app = spawn_app_for(&[&a, &b], |c| c.sync.page_size = 10).await;
    let (ra, rb) = tokio::join!(app.sync("env0"), app.sync("env1"));
    assert_eq!(ra["outcome"], "success", "{ra}");
    assert_eq!(rb["outcome"], "success", "{rb}");
    assert_eq!(ra["counts"]["clusters"]["added"], 80);
    let pool = app.mirror().await;
    assert_mirrors(&pool, "env0", &a).await;
    assert_mirrors(&pool, "env1", &b).await;
    // Listings really paged: 3+ profile pages in tenant scope.
    let counters = sim_counters(&a).await;
    assert!(
        counters["POST /v1/dashboard/clusterprofiles"] >= 3 + 4,
        "{counters:?}"
    );
    // Every scope was listed: tenant + each project.
    assert_eq!(
        counters["GET /v1/dashboard/spectroclusters/meta"], 5,
        "{counters:?}"
    );
    // Both scopes are in the mirror.
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM clusters WHERE env = ? AND project_uid IS NULL",
            "env0"
        )
        .await
            > 0
    );
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM clusters WHERE env = ? AND project_uid IS NOT NULL",
            "env0"
        )
        .await
            > 0
    );
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM cluster_profiles WHERE env = ? AND scope = 'tenant'",
            "env0"
        )
        .await
            > 0
    );
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM cluster_profiles WHERE env = ? AND scope = 'project'",
            "env0"
        )
        .await
            > 0
    );
    // The reverse index is exactly what Palette reports, by version uid.
    assert_eq!(mirror_refs(&pool, "env0").await, palette_refs(&a).await);
    // Cloud accounts are stored without their secrets.
    let secrets = count(
        &pool,
        "SELECT count(*) FROM cloud_accounts WHERE env = ? AND (json LIKE '%secretKey%' OR json LIKE '%clientSecret%' OR json LIKE '%password%' OR json LIKE '%accessKey%')",
        "env0",
    )
    .await;
    assert_eq!(secrets, 0);
    // The run is recorded with its call count.
    assert!(ra["api_calls"].as_i64().unwrap() > 100);
    app.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn warm_sync_makes_only_list_calls() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 60, 15),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    sim_control(&sim, Method::DELETE, "/counters", None).await;
    let warm = app.sync("env0").await;
    assert_eq!(warm["outcome"], "success");
    let counters = sim_counters(&sim).await;
    for detail in DETAIL_CALLS {
        assert!(
            !counters.contains_key(detail),
            "warm sync called {detail}: {counters:?}"
        );
    }
    let total: u64 = counters.values().sum();
    assert_eq!(
        warm["api_calls"].as_u64().unwrap(),
        total,
        "recorded calls match what Palette saw"
    );
    for (kind, c) in warm["counts"].as_object().unwrap() {
        assert_eq!(c["added"], 0, "{kind}");
        assert_eq!(c["changed"], 0, "{kind}");
        assert_eq!(c["deleted"], 0, "{kind}");
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn changes_deletions_and_new_profile_versions_are_followed() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 40, 12),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let pool = app.mirror().await;
    let (changed_uid, deleted_uid): (String, String) = {
        let uids: Vec<String> = sqlx::query_scalar(q("SELECT uid FROM clusters WHERE env = 'env0' AND cloud_type != 'nested' AND state = 'Running' ORDER BY uid"))
        .fetch_all(&pool)
        .await
        .unwrap();
        (uids[0].clone(), uids[1].clone())
    };
    // A changed cluster, a deleted one.
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{changed_uid}/state"),
        Some(json!({"state": "Deleting", "health": "UnHealthy"})),
    )
    .await;
    sim_control(
        &sim,
        Method::DELETE,
        &format!("/clusters/{deleted_uid}"),
        None,
    )
    .await;
    // A new version of the profile a cluster runs, and that cluster moved onto it.
    let (mover, old_version): (String, String) = sqlx::query_as(q(
        "SELECT r.cluster_uid, r.profile_version_uid FROM cluster_profile_refs r
         WHERE r.env = 'env0' AND r.cluster_uid NOT IN (?, ?) ORDER BY r.cluster_uid LIMIT 1",
    ))
    .bind(&changed_uid)
    .bind(&deleted_uid)
    .fetch_one(&pool)
    .await
    .unwrap();
    let new = sim_control(
        &sim,
        Method::POST,
        &format!("/profiles/{old_version}/versions"),
        Some(json!({"version": "7.0.0"})),
    )
    .await;
    let new_uid = new["uid"].as_str().unwrap().to_string();
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{mover}/profiles"),
        Some(json!({"from": old_version, "to": new_uid})),
    )
    .await;
    sim_control(&sim, Method::DELETE, "/counters", None).await;

    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(run["counts"]["clusters"]["deleted"], 1);
    let counters = sim_counters(&sim).await;
    // Only the two changed clusters were fetched again.
    assert_eq!(
        counters["GET /v1/dashboard/spectroclusters/{uid}"], 2,
        "{counters:?}"
    );
    // The new version: the version itself plus nothing else.
    assert_eq!(counters["GET /v1/clusterprofiles/{uid}"], 1, "{counters:?}");

    let (state, health): (String, Option<String>) = sqlx::query_as(q(
        "SELECT state, health FROM clusters WHERE env = 'env0' AND uid = ?",
    ))
    .bind(&changed_uid)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(state, "Deleting");
    assert_eq!(health.as_deref(), Some("UnHealthy"));
    let gone = count(
        &pool,
        "SELECT count(*) FROM clusters WHERE env = 'env0' AND uid = ?",
        &deleted_uid,
    )
    .await;
    assert_eq!(gone, 0);
    let gone_refs = count(
        &pool,
        "SELECT count(*) FROM cluster_profile_refs WHERE env = 'env0' AND cluster_uid = ?",
        &deleted_uid,
    )
    .await;
    assert_eq!(gone_refs, 0);

    // The new version is mirrored; the profile is now listed under it and every older version
    // leads to it; the moved cluster's reverse-index row follows.
    let lineage: String = sqlx::query_scalar(q(
        "SELECT profile_uid FROM profile_versions WHERE env = 'env0' AND uid = ?",
    ))
    .bind(&old_version)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(lineage, new_uid);
    let listed = count(
        &pool,
        "SELECT count(*) FROM cluster_profiles WHERE env = 'env0' AND uid = ?",
        &new_uid,
    )
    .await;
    assert_eq!(listed, 1);
    let on_new: Vec<String> = sqlx::query_scalar(q("SELECT cluster_uid FROM cluster_profile_refs WHERE env = 'env0' AND profile_version_uid = ?"))
        .bind(&new_uid)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(on_new, vec![mover.clone()]);
    assert_eq!(mirror_refs(&pool, "env0").await, palette_refs(&sim).await);
    assert_mirrors(&pool, "env0", &sim).await;
    app.stop().await;
    sim.stop().await;
}

async fn snapshot_counts(pool: &sqlx::AnyPool) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT count(*) FROM clusters WHERE env = ?",
        "SELECT count(*) FROM profile_versions WHERE env = ?",
        "SELECT count(*) FROM cluster_profile_refs WHERE env = ?",
        "SELECT count(*) FROM cloud_accounts WHERE env = ?",
        "SELECT count(*) FROM projects WHERE env = ?",
    ] {
        out.push(count(pool, sql, "env0").await);
    }
    out
}

#[tokio::test]
async fn outage_and_throttling_leave_the_mirror_intact_then_recover() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 40, 12),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| {
        c.sync.max_retries = 2;
        c.sync.request_timeout_seconds = 2;
        // A 429 is back-pressure: a run waits under a storm until its time budget is spent.
        c.sync.run_timeout_seconds = 4;
    })
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let pool = app.mirror().await;
    let before = snapshot_counts(&pool).await;
    // Changes the failed runs must not half-apply.
    let uid: String = sqlx::query_scalar(q(
        "SELECT uid FROM clusters WHERE env = 'env0' ORDER BY uid LIMIT 1",
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    sim_control(&sim, Method::DELETE, &format!("/clusters/{uid}"), None).await;

    // An outage in the middle of a run: calls are slowed so the run is under way when it hits.
    set_knobs(&sim, json!({"latency_ms": 40})).await;
    let trigger: Value = app
        .client
        .post(app.url("/sync?instance=env0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = trigger["runs"][0]["run_id"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    set_knobs(&sim, json!({"outage": true})).await;
    let run = app.wait_run("env0", id).await;
    assert_eq!(run["outcome"], "failed", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("unreachable"),
        "{run}"
    );
    assert_eq!(
        snapshot_counts(&pool).await,
        before,
        "a failed run changed the mirror"
    );
    let status: Value = app.get("/sync/status").await.json().await.unwrap();
    assert_eq!(status["environments"][0]["stale"], true);

    // A 429 storm: every call throttled.
    set_knobs(
        &sim,
        json!({"outage": false, "latency_ms": 0, "rate_limit": 1}),
    )
    .await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("throttling") || error.contains("longer than 4 s"),
        "{run}"
    );
    assert_eq!(snapshot_counts(&pool).await, before);

    // Recovery: the next run applies the deletion.
    set_knobs(&sim, json!({"rate_limit": 0})).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(run["counts"]["clusters"]["deleted"], 1);
    let status: Value = app.get("/sync/status").await.json().await.unwrap();
    assert_eq!(status["environments"][0]["stale"], false);
    assert_mirrors(&pool, "env0", &sim).await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn transient_errors_are_retried() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 30, 10),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| c.sync.max_retries = 8).await;
    set_knobs(&sim, json!({"error_rate": 0.2})).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    let pool = app.mirror().await;
    assert_mirrors(&pool, "env0", &sim).await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_second_trigger_returns_the_running_run() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 30, 10),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    set_knobs(&sim, json!({"latency_ms": 30})).await;
    let first: Value = app
        .client
        .post(app.url("/sync?instance=env0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: Value = app
        .client
        .post(app.url("/sync?instance=env0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["runs"][0]["status"], "started");
    assert_eq!(second["runs"][0]["status"], "already_running");
    assert_eq!(first["runs"][0]["run_id"], second["runs"][0]["run_id"]);
    let status: Value = app.get("/sync/status").await.json().await.unwrap();
    assert_eq!(
        status["environments"][0]["running"]["id"],
        first["runs"][0]["run_id"]
    );
    let id = first["runs"][0]["run_id"].as_i64().unwrap();
    assert_eq!(app.wait_run("env0", id).await["outcome"], "success");
    // Unknown instance
    let resp = app
        .client
        .post(app.url("/sync?instance=nope"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "unknown_instance").await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn include_and_exclude_projects() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 40, 12),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| {
        c.environments[0].exclude_projects = vec!["payments".into()]
    })
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let pool = app.mirror().await;
    let names: Vec<String> = sqlx::query_scalar(q(
        "SELECT name FROM projects WHERE env = 'env0' ORDER BY name",
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        names,
        vec!["Default".to_string(), "data-platform".to_string()]
    );
    let stray = count(
        &pool,
        "SELECT count(*) FROM clusters WHERE env = ? AND project_uid IS NOT NULL AND project_uid NOT IN (SELECT uid FROM projects WHERE env = 'env0')",
        "env0",
    )
    .await;
    assert_eq!(stray, 0, "clusters of the excluded project were mirrored");
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM clusters WHERE env = ? AND project_uid IS NULL",
            "env0"
        )
        .await
            > 0
    );
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
            "[server]\nbind = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://{}\"\n[auth]\nmode = \"none\"\n[sync]\nretry_base_ms = 10\nmax_retries = 1\nlease_seconds = 2\n[[environments]]\nname = \"env0\"\nurl = \"{}\"\napi_token = \"sim-api-key\"\n",
            db.display(),
            sim.url
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn sync_once_cli_prints_a_summary_and_fails_when_palette_is_down() {
    let sim = spawn_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, &dir.path().join("m.db"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["sync", "--once", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("environment env0: success"), "{stdout}");
    assert!(
        stdout.contains("clusters") && stdout.contains("25"),
        "{stdout}"
    );
    set_knobs(&sim, json!({"outage": true})).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["sync", "--once", "--environment", "env0", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("failed"));
    sim.stop().await;
}

#[tokio::test]
async fn killed_mid_sync_the_database_stays_sound_and_the_next_sync_completes() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(6, 1500, 60),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let config = write_config(dir.path(), &sim, &db);
    // Kill the process while it fetches, and at several points while it writes the snapshot
    // (found from its own log line announcing the apply phase).
    let points: [(bool, u64); 4] = [(false, 300), (true, 0), (true, 150), (true, 600)];
    for (during_apply, delay_ms) in points {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
            .args(["sync", "--once", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if during_apply {
            let stderr = child.stderr.take().unwrap();
            let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("applying") {
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        }
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        let _ = child.start_kill(); // SIGKILL
        let _ = child.wait().await;
        if db.exists() {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            let check: String = sqlx::query_scalar(q("PRAGMA integrity_check"))
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(
                check, "ok",
                "after a kill at {delay_ms} ms (applying: {during_apply})"
            );
            // Whatever is there is whole batches: the listing (all clusters or none), and
            // details that came with their reverse index (progressive sync keeps them).
            let partial = count_sqlite(
                &pool,
                "SELECT count(*) FROM cluster_details d JOIN clusters c ON c.env = d.env AND c.uid = d.uid WHERE d.env = ? AND c.cloud_type != 'nested' AND NOT EXISTS (SELECT 1 FROM cluster_profile_refs r WHERE r.env = d.env AND r.cluster_uid = d.uid)",
                "env0",
            )
            .await;
            assert_eq!(partial, 0);
            let clusters =
                count_sqlite(&pool, "SELECT count(*) FROM clusters WHERE env = ?", "env0").await;
            assert!(
                clusters == 0 || clusters == 1500,
                "half a snapshot: {clusters} clusters"
            );
            pool.close().await;
        }
    }
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
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert_eq!(
        count_sqlite(&pool, "SELECT count(*) FROM clusters WHERE env = ?", "env0").await,
        1500
    );
    let interrupted = count_sqlite(
        &pool,
        "SELECT count(*) FROM sync_runs WHERE env = ? AND outcome = 'interrupted'",
        "env0",
    )
    .await;
    assert!(
        interrupted >= 1,
        "killed runs are marked interrupted on the next start"
    );
    pool.close().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_drifting_project_listing_deletes_nothing() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 30, 10),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let pool = app.mirror().await;
    let uid: String = sqlx::query_scalar(q(
        "SELECT uid FROM clusters WHERE env = 'env0' ORDER BY uid LIMIT 1",
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    sim_control(&sim, Method::DELETE, &format!("/clusters/{uid}"), None).await;
    // Palette's counts drift while listing: no listing is complete, nothing may be deleted.
    set_knobs(&sim, json!({"count_drift": 1})).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success");
    for (kind, c) in run["counts"].as_object().unwrap() {
        assert_eq!(c["deleted"], 0, "{kind} deleted on an incomplete listing");
    }
    let kept: i64 = sqlx::query_scalar(q(
        "SELECT count(*) FROM clusters WHERE env = 'env0' AND uid = ?",
    ))
    .bind(&uid)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kept, 1);
    set_knobs(&sim, json!({"count_drift": 0})).await;
    let run = app.sync("env0").await;
    assert_eq!(run["counts"]["clusters"]["deleted"], 1);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn old_details_are_refreshed_a_few_at_a_time() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 30, 10),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| {
        c.sync.detail_max_age_seconds = 0;
        c.sync.refresh_per_run = 4;
    })
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    sim_control(&sim, Method::DELETE, "/counters", None).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let counters = sim_counters(&sim).await;
    assert_eq!(
        counters["GET /v1/dashboard/spectroclusters/{uid}"], 4,
        "{counters:?}"
    );
    assert_eq!(counters["GET /v1/clusterprofiles/{uid}"], 4, "{counters:?}");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_second_process_cannot_sync_the_same_environment_at_once() {
    if skip_on_postgres("the CLI on a SQLite file; leases keep replicas apart on PostgreSQL") {
        return;
    }
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 30, 10),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    set_knobs(&sim, json!({"latency_ms": 40})).await;
    let trigger: Value = app
        .client
        .post(app.url("/sync?instance=env0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = trigger["runs"][0]["run_id"].as_i64().unwrap();
    // `sync --once` on the same database while the server's run is under way.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"sqlite://{}\"\n[auth]\nmode = \"none\"\n[[environments]]\nname = \"env0\"\nurl = \"{}\"\napi_token = \"sim-api-key\"\n", app.db_path.display(), sim.url),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["sync", "--once", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.wait_run("env0", id).await["outcome"],
        "success",
        "the server's run was left alone"
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn an_older_palette_without_the_meta_list_is_paged_through_search() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 60, 10),
        ..SimConfig::default()
    })
    .await;
    set_knobs(
        &sim,
        json!({"missing_endpoints": ["GET /v1/dashboard/spectroclusters/meta"]}),
    )
    .await;
    let app = spawn_app_for(&[&sim], |c| c.sync.page_size = 20).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    let pool = app.mirror().await;
    assert_mirrors(&pool, "env0", &sim).await;
    let counters = sim_counters(&sim).await;
    assert!(
        counters["POST /v1/dashboard/spectroclusters/search"] >= 4 + 3,
        "{counters:?}"
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn details_palette_refuses_keep_the_mirror_and_the_run_goes_on() {
    let sim = spawn_sim().await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let pool = app.mirror().await;
    let uids: Vec<String> = sqlx::query_scalar(q("SELECT uid FROM clusters WHERE env = 'env0' AND cloud_type != 'nested' AND state = 'Running' ORDER BY uid"))
    .fetch_all(&pool)
    .await
    .unwrap();
    let (changed, deleted) = (&uids[0], &uids[1]);
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{changed}/state"),
        Some(json!({"state": "Deleting", "health": "UnHealthy"})),
    )
    .await;
    sim_control(&sim, Method::DELETE, &format!("/clusters/{deleted}"), None).await;
    // The key may list clusters but not read their details.
    set_knobs(
        &sim,
        json!({"forbidden_endpoints": ["GET /v1/dashboard/spectroclusters/{uid}"]}),
    )
    .await;
    let run = app.sync("env0").await;
    assert_eq!(
        run["outcome"], "success",
        "one refused detail must not fail the run: {run}"
    );
    // The refused cluster shows what its listing says (the listing carries state and health)
    // and keeps the details the mirror had; with a cluster listing that could not be fully
    // used, nothing is deleted on its account.
    let (state, detail): (String, String) = sqlx::query_as(q(
        "SELECT c.state, d.detail_json FROM clusters c JOIN cluster_details d
           ON d.env = c.env AND d.uid = c.uid WHERE c.env = 'env0' AND c.uid = ?",
    ))
    .bind(changed)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(state, "Deleting");
    assert!(detail.contains("\"Running\""), "the old details stay");
    let still: i64 = sqlx::query_scalar(q(
        "SELECT count(*) FROM clusters WHERE env = 'env0' AND uid = ?",
    ))
    .bind(deleted)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(still, 1);
    // Allowed again: the next run catches up.
    set_knobs(&sim, json!({"forbidden_endpoints": []})).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(run["counts"]["clusters"]["deleted"], 1, "{run}");
    let state: String = sqlx::query_scalar(q(
        "SELECT state FROM clusters WHERE env = 'env0' AND uid = ?",
    ))
    .bind(changed)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(state, "Deleting");
    // Its details too: the refused run applied the new listing, not the details it was
    // listed with, so the next run fetches them (a run that died after its listings alike).
    let detail = json(app.get(&format!("/clusters/{changed}")).await).await;
    assert_eq!(detail["status"]["state"], "Deleting", "{detail}");
    let run = app.sync("env0").await;
    assert_eq!(
        run["counts"]["clusters"]["changed"], 0,
        "then it is current: {run}"
    );
    app.stop().await;
    sim.stop().await;
}
