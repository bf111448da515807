//! Read-through during a cold sync: a cluster the mirror lists without its details yet is
//! fetched from Palette for the person who opens it, ahead of the sync, once (identical reads
//! share the call), and the answer lands in the mirror, so the next read is local and the sync
//! does not fetch it again; a flood of such reads cannot stall the sync.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use spectrocloud_backend::palette::limits::Limit;

use crate::helpers::*;

/// The calls the sync makes while it fetches details; any other call during that phase is
/// the reader's.
const SYNC_DETAIL_CALLS: [&str; 5] = [
    "GET /v1/dashboard/spectroclusters/{uid}",
    "GET /v1/spectroclusters/{uid}/profiles",
    "GET /v1/clusterprofiles/{uid}",
    "GET /v1/clusterprofiles/{uid}/variables",
    "GET /v1/clustergroups/{uid}",
];

/// `/v1/dashboard` (listings and every cluster's details) at this rate, in the simulator and
/// the client alike: a cold sync of the clusters below takes seconds, not milliseconds.
const DASHBOARD_RATE: f64 = 5.0;

/// A simulator with `clusters` clusters, 50 ms per call and Palette's limits (the dashboard
/// slowed down), and the server on it paced to the same limits; no sync yet.
async fn throttled(clusters: usize) -> (SimServer, TestApp) {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(2, clusters, 5),
        ..SimConfig::default()
    })
    .await;
    let dashboard = Limit {
        rate: DASHBOARD_RATE,
        burst: 5.0,
    };
    set_knobs(
        &sim,
        json!({"latency_ms": 50, "palette_limits": true,
               "prefix_limits": {"/v1/dashboard": dashboard}}),
    )
    .await;
    let app = spawn_app_for(&[&sim], |c| {
        let limits = &mut c.environments[0].rate_limits;
        limits.scale = 1.0;
        limits.prefixes.insert("/v1/dashboard".into(), dashboard);
        c.sync.concurrency = 4;
    })
    .await;
    (sim, app)
}

/// Listed clusters (not virtual) without details yet, those the sync reaches last first.
async fn undetailed(app: &TestApp) -> Vec<String> {
    let pool = app.mirror().await;
    // Insertion order, newest first: SQLite's rowid, PostgreSQL's physical row order.
    let order = if on_postgres() { "c.ctid" } else { "c.rowid" };
    sqlx::query_scalar(q(&format!("SELECT c.uid FROM clusters c LEFT JOIN cluster_details d ON d.env = c.env AND d.uid = c.uid
         WHERE c.env = 'env0' AND d.uid IS NULL AND c.cloud_type != 'nested'
         ORDER BY {order} DESC")))
    .fetch_all(&pool)
    .await
    .unwrap()
}

/// Watches `uids` (the simulator counts their calls one by one) from zero.
async fn watch(sim: &SimServer, uids: &[&str]) {
    set_knobs(sim, json!({ "watch": uids })).await;
    sim_control(sim, Method::DELETE, "/counters", None).await;
}

/// The reader's Palette calls about `uid` since the counters were reset, and its calls to
/// anything the sync does not call now (users/me, projects, listings...).
fn reader_calls(counters: &BTreeMap<String, u64>, uid: &str) -> (u64, BTreeMap<String, u64>) {
    let about: u64 = counters
        .iter()
        .filter(|(k, _)| k.contains(uid))
        .map(|(_, n)| n)
        .sum();
    let other = counters
        .iter()
        .filter(|(k, _)| !k.contains(uid) && !SYNC_DETAIL_CALLS.contains(&k.as_str()))
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    (about, other)
}

async fn get(app: &TestApp, path: &str) -> (String, Value) {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    let source = resp.headers()["x-spectrocloud-source"]
        .to_str()
        .unwrap()
        .to_string();
    (source, json(resp).await)
}

/// A throttled cold sync of 40 clusters with its listings applied, its run id, and a listed
/// cluster without details whose Palette calls the simulator counts one by one.
async fn listed_without_details() -> (SimServer, TestApp, i64, String) {
    let (sim, app) = throttled(40).await;
    let id = app.start_sync("env0").await;
    app.wait_listed("env0").await;
    let uid = undetailed(&app)
        .await
        .first()
        .cloned()
        .expect("a cluster without details");
    watch(&sim, &[&uid]).await;
    (sim, app, id, uid)
}

#[tokio::test]
async fn a_listed_cluster_is_read_through_once_then_answered_from_the_mirror() {
    let (sim, app, id, uid) = listed_without_details().await;

    let (source, body) = get(&app, &format!("/clusters/{uid}")).await;
    assert_eq!(source, "live", "listed without details: read through");
    assert_eq!(body["metadata"]["uid"], uid.as_str());
    let want = sim_get(&sim, &format!("/v1/dashboard/spectroclusters/{uid}")).await;
    assert_eq!(body["metadata"]["name"], want["metadata"]["name"]);
    let counters = sim_counters(&sim).await;
    let (about, other) = reader_calls(&counters, &uid);
    // The simulator's own GET above is one of them.
    let about = about - 1;
    println!("one read through: {about} Palette calls: {counters:?}");
    assert!(
        (1..=2).contains(&about),
        "{about} Palette calls for one read: {counters:?}"
    );
    assert_eq!(other, BTreeMap::new(), "calls beside the cluster's own");

    // What was read is in the mirror: the next reads are local.
    sim_control(&sim, Method::DELETE, "/counters", None).await;
    let (source, again) = get(&app, &format!("/clusters/{uid}")).await;
    assert_eq!(source, "mirror");
    assert_eq!(again, body);
    let (source, profiles) = get(&app, &format!("/clusters/{uid}/profiles")).await;
    assert_eq!(source, "mirror");
    assert!(profiles["profiles"].is_array(), "{profiles}");
    let (about, _) = reader_calls(&sim_counters(&sim).await, &uid);
    assert_eq!(about, 0, "answered from the mirror");

    // ...and the sync does not fetch it again; the run ends with every cluster detailed.
    let run = app.wait_run("env0", id).await;
    assert_eq!(run["outcome"], "success", "{run}");
    let (about, _) = reader_calls(&sim_counters(&sim).await, &uid);
    assert_eq!(about, 0, "the sync fetched a cluster already read through");
    let pool = app.mirror().await;
    let total = sim_control(&sim, Method::GET, "/summary", None).await["clusters"]
        .as_i64()
        .unwrap();
    let detailed = count(
        &pool,
        "SELECT count(*) FROM cluster_details WHERE env = ?",
        "env0",
    )
    .await;
    assert_eq!(detailed, total);
    let clusters = &run["counts"]["clusters"];
    assert_eq!(clusters["added"], total, "counted once: {run}");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn identical_reads_at_once_share_one_palette_call() {
    let (sim, app, id, uid) = listed_without_details().await;
    let path = format!("/clusters/{uid}");
    let reads = (0..20).map(|_| get(&app, &path));
    let answers = futures::future::join_all(reads).await;
    for (_, body) in &answers {
        assert_eq!(body["metadata"]["uid"], uid.as_str());
    }
    let counters = sim_counters(&sim).await;
    let (about, other) = reader_calls(&counters, &uid);
    println!("20 identical reads: {about} Palette calls");
    assert!(
        (1..=2).contains(&about),
        "{about} Palette calls for 20 identical reads: {counters:?}"
    );
    assert_eq!(other, BTreeMap::new());
    assert_eq!(app.wait_run("env0", id).await["outcome"], "success");
    app.stop().await;
    sim.stop().await;
}

/// Seconds a cold sync takes; with `flood` readers opening listed clusters without details
/// over and over (each read waits 50 ms before the next) until the run ends.
async fn cold_sync_seconds(flood: usize) -> f64 {
    let (sim, app) = throttled(40).await;
    let started = Instant::now();
    let id = app.start_sync("env0").await;
    app.wait_listed("env0").await;
    let uids = undetailed(&app).await;
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers = (0..flood).map(|r| {
        let (client, uids, ended) = (app.client.clone(), uids.clone(), ended.clone());
        let base = app.url("/clusters/");
        async move {
            let mut i = r;
            while !ended.load(std::sync::atomic::Ordering::Relaxed) && !uids.is_empty() {
                let uid = &uids[i % uids.len()];
                let _ = client.get(format!("{base}{uid}")).send().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                i += flood;
            }
        }
    });
    let run = async {
        let run = app.wait_run("env0", id).await;
        let secs = started.elapsed().as_secs_f64();
        ended.store(true, std::sync::atomic::Ordering::Relaxed);
        (run, secs)
    };
    let ((run, secs), _) = tokio::join!(run, futures::future::join_all(readers));
    assert_eq!(run["outcome"], "success", "{run}");
    app.stop().await;
    sim.stop().await;
    secs
}

#[tokio::test]
async fn a_flood_of_reads_during_a_cold_sync_does_not_stall_it() {
    let alone = cold_sync_seconds(0).await;
    let flooded = cold_sync_seconds(20).await;
    println!("cold sync: {alone:.1} s alone, {flooded:.1} s under a flood of reads");
    assert!(
        flooded <= alone * 1.5 + 2.0,
        "the cold sync took {flooded:.1} s under a flood of reads, {alone:.1} s alone"
    );
}
