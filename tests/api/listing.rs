//! The listing is the index: the reverse lookup and the usage reports are right from the first
//! mirror answer of a cold sync (the cluster search carries every cluster's profiles and
//! packs), and say they are partial where a Palette's listing leaves the packs out.

use serde_json::{Value, json};

use crate::helpers::*;

const DETAIL: &str = "GET /v1/dashboard/spectroclusters/{uid}";

/// A report body without what differs between two answers of the same data (freshness, the
/// sync's progress).
fn counts_of(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["progress", "syncedAt", "synced_at", "stale"] {
            o.remove(k);
        }
    }
    v
}

/// Every report and reverse lookup the test compares, as answered now: over HTTP, and the
/// reverse lookup also through the MCP find tool.
async fn answers(app: &TestApp, profiles: &[String]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mcp = crate::mcp::Client::anonymous(app).await;
    for p in profiles {
        let args = json!({"profileUid": p, "limit": 100});
        let (err, mut found) = mcp
            .tool("find_spectrocloud_clusters_for_profile", args)
            .await;
        assert!(!err, "{found}");
        assert_eq!(found["mirror"]["partial"], false, "{found}");
        if let Some(o) = found.as_object_mut() {
            o.remove("mirror");
        }
        out.push((format!("mcp find {p}"), found));
    }
    let mut paths = vec![
        "/reports/profile-usage".to_string(),
        "/reports/pack-usage".to_string(),
        "/reports/pack-usage?name=kubernetes".to_string(),
    ];
    paths.extend(
        profiles
            .iter()
            .map(|p| format!("/profiles/{p}/clusters?limit=1000")),
    );
    for path in paths {
        let resp = app.get(&path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["x-spectrocloud-source"], "mirror", "{path}");
        out.push((path, counts_of(json(resp).await)));
    }
    out
}

#[tokio::test]
async fn the_first_mirror_answer_of_a_cold_sync_is_complete() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 64, 20),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| c.sync.concurrency = 4).await;
    // Palette's documented limits, half of them: the details trail far behind the listings.
    set_knobs(
        &sim,
        json!({"palette_limits": true, "limits_scale": 0.5, "latency_ms": 10}),
    )
    .await;
    let id = app.start_sync("env0").await;
    app.wait_listed("env0").await;

    let usage = json(app.get("/reports/profile-usage").await).await;
    let profiles: Vec<String> = usage["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uid"].as_str().unwrap().to_string())
        .collect();
    assert!(
        profiles.len() >= 20,
        "every listed profile is in the report: {usage}"
    );
    let pool = app.mirror().await;
    let first = answers(&app, &profiles).await;
    let s = app.env_status("env0").await;
    assert!(s["last_success_at"].is_null(), "no run has completed: {s}");
    assert!(s["listed_at"].is_string(), "{s}");
    assert_eq!(s["partial"], false, "the search listed every index: {s}");
    let detailed = count(
        &pool,
        "SELECT count(*) FROM cluster_details WHERE env = ?",
        "env0",
    )
    .await;
    assert!(
        detailed < 64,
        "the details were all in already ({detailed})"
    );
    for (path, body) in &first {
        if path.starts_with("/reports") {
            assert_eq!(body["complete"], true, "{path}: {body}");
        }
    }
    // A listed profile answers before its versions' details are in: never 404.
    for p in &profiles {
        let resp = app.get(&format!("/profiles/{p}")).await;
        assert_eq!(resp.status(), 200, "profile {p} during the cold sync");
    }

    assert_eq!(app.wait_run("env0", id).await["outcome"], "success");
    let s = app.env_status("env0").await;
    assert!(s["last_success_at"].is_string(), "{s}");
    let last = answers(&app, &profiles).await;
    for ((path, a), (_, b)) in first.iter().zip(&last) {
        assert_eq!(
            a, b,
            "{path}: the first answer differs from the complete run's"
        );
    }
    let resp = app.get("/reports/pack-usage").await;
    assert!(resp.headers().get("x-spectrocloud-partial").is_none());
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_listing_without_packs_is_partial_until_the_details_are_in() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 80, 12),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |c| c.sync.concurrency = 2).await;
    set_knobs(&sim, json!({"listing_packs": false, "latency_ms": 25})).await;
    let id = app.start_sync("env0").await;
    app.wait_listed("env0").await;

    let resp = app.get("/reports/pack-usage").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-spectrocloud-partial"], "true");
    let partial = json(resp).await;
    assert_eq!(partial["complete"], false, "{partial}");
    let waiting = partial["progress"]["clustersWithoutIndex"]
        .as_u64()
        .unwrap();
    assert!(waiting > 0, "{partial}");
    let s = app.env_status("env0").await;
    assert_eq!(s["partial"], true, "{s}");
    assert!(s["last_success_at"].is_null(), "{s}");

    assert_eq!(app.wait_run("env0", id).await["outcome"], "success");
    let resp = app.get("/reports/pack-usage").await;
    assert!(resp.headers().get("x-spectrocloud-partial").is_none());
    let done = counts_of(json(resp).await);
    assert_eq!(done["complete"], true, "{done}");

    // Right afterwards: the same counts as a run whose listing carried the packs.
    set_knobs(&sim, json!({"listing_packs": true})).await;
    let again = app.sync("env0").await;
    assert_eq!(again["outcome"], "success");
    let with_packs = counts_of(json(app.get("/reports/pack-usage").await).await);
    assert_eq!(done, with_packs);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_warm_run_over_an_unchanged_palette_fetches_no_details() {
    let (sim, app) = synced(
        SimConfig {
            sizes: sizes(2, 40, 6),
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    let before = sim_counters(&sim).await.get(DETAIL).copied().unwrap_or(0);
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let after = sim_counters(&sim).await.get(DETAIL).copied().unwrap_or(0);
    assert_eq!(
        before, after,
        "an unchanged cluster's details are not fetched again"
    );
    app.stop().await;
    sim.stop().await;
}
