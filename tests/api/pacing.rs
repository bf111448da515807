//! Pacing under Palette's per-prefix rate limits (issue 10): the simulator enforces them, the
//! client keeps under them, a 429 is back-pressure, and people's calls go first.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use spectrocloud_backend::config::RateLimitsConfig;
use spectrocloud_backend::palette::limits::Limit;

use crate::helpers::*;

/// 429s the simulator answered, per rate-limit prefix.
async fn throttled(sim: &SimServer) -> BTreeMap<String, u64> {
    serde_json::from_value(sim_control(sim, Method::GET, "/counters/throttled", None).await)
        .expect("throttled counters")
}

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

/// Client limits of `rate`/s (burst 5) on every prefix the service calls.
fn everywhere(rate: f64) -> RateLimitsConfig {
    let limit = Limit { rate, burst: 5.0 };
    let prefixes = [
        "/v1/spectroclusters",
        "/v1/spectroclusters/:uid/profiles",
        "/v1/clusterprofiles",
        "/v1/cloudconfigs",
        "/v1/events/components",
    ];
    RateLimitsConfig {
        scale: 1.0,
        default: Some(limit),
        prefixes: prefixes.iter().map(|p| (p.to_string(), limit)).collect(),
        ..Default::default()
    }
}

/// The uid of a running (not virtual) cluster of the simulator.
fn running_cluster(sim: &SimServer) -> String {
    let data = sim.state.data.read().unwrap();
    let c = data
        .clusters
        .iter()
        .find(|c| c.state == "Running" && c.host_cluster_uid.is_none())
        .expect("a running cluster");
    c.meta.uid.clone()
}

async fn small_sim(knobs: Value) -> SimServer {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(2, 16, 3),
        ..SimConfig::default()
    })
    .await;
    set_knobs(&sim, knobs).await;
    sim
}

/// The mirror holds what the simulator has, and readers get it without an error.
async fn readers_see_the_mirror(app: &TestApp, sim: &SimServer) {
    crate::sync::assert_mirrors(&app.mirror().await, "env0", sim).await;
    let resp = app.get("/clusters").await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert!(
        body["clusters"].as_array().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn documented_limits_scaled_a_cold_sync_keeps_under_them() {
    // Palette's table at a fifth: /v1/dashboard at 2/s, the high-traffic prefixes at 10/s.
    let sim = small_sim(json!({"palette_limits": true, "limits_scale": 0.2})).await;
    let app = spawn_app_for(&[&sim], |c| c.environments[0].rate_limits.scale = 0.2).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    // The client's bucket holds half of Palette's: keeping to it, nothing is refused.
    assert_eq!(
        throttled(&sim).await,
        BTreeMap::new(),
        "paced under the limits"
    );
    readers_see_the_mirror(&app, &sim).await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn two_per_second_everywhere_paced_sync_completes_without_a_429() {
    let sim = small_sim(json!({"palette_limits": true, "prefix_limits": {"*": {"rate": 2}}})).await;
    let app = spawn_app_for(&[&sim], |c| c.environments[0].rate_limits = everywhere(2.0)).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(throttled(&sim).await, BTreeMap::new(), "paced under 2/s");
    readers_see_the_mirror(&app, &sim).await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn two_per_second_everywhere_unpaced_client_is_throttled_but_the_sync_completes() {
    // The same limits with the client's pacing far above them: the limits do bind (so the
    // zero above is pacing's doing), and each 429 is back-pressure, not a failed run.
    let sim = small_sim(json!({"palette_limits": true, "prefix_limits": {"*": {"rate": 2}}})).await;
    let app = spawn_app_for(&[&sim], |c| {
        c.environments[0].rate_limits = everywhere(200.0)
    })
    .await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert!(total(&throttled(&sim).await) > 0, "the simulator throttled");
    readers_see_the_mirror(&app, &sim).await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_throttled_runs_status_shows_its_429s_per_prefix_and_the_time_left() {
    let sim = small_sim(json!({"palette_limits": true, "prefix_limits": {"*": {"rate": 2}}})).await;
    let app = spawn_app_for(&[&sim], |c| {
        c.environments[0].rate_limits = everywhere(200.0)
    })
    .await;
    let trigger = json(
        app.client
            .post(app.url("/sync?instance=env0"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = trigger["runs"][0]["run_id"].as_i64().expect("run id");
    let mut seen = None;
    for _ in 0..600 {
        let status = json(app.get("/sync/status?instance=env0").await).await;
        let progress = &status["environments"][0]["running"]["progress"];
        if progress["throttled"].as_u64().is_some_and(|n| n > 0) {
            seen = Some(progress.clone());
            break;
        }
        if status["environments"][0]["running"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let progress = seen.expect("a running run's status showed a 429");
    let by_prefix: BTreeMap<String, u64> =
        serde_json::from_value(progress["throttled_by_prefix"].clone()).expect("per prefix");
    assert_eq!(
        by_prefix.values().sum::<u64>(),
        progress["throttled"].as_u64().unwrap(),
        "{progress}"
    );
    assert!(
        by_prefix.keys().all(|p| p.starts_with("/v1/")),
        "{progress}"
    );
    assert!(
        progress.get("eta_seconds").is_some(),
        "the estimate is part of the view: {progress}"
    );
    let run = app.wait_run("env0", id).await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert!(total(&throttled(&sim).await) >= progress["throttled"].as_u64().unwrap());
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_kubeconfig_during_a_throttled_sync_answers_within_its_deadline() {
    let sim = small_sim(json!({
        "palette_limits": true,
        "prefix_limits": {"*": {"rate": 2}},
        "latency_ms": 50,
    }))
    .await;
    let uid = running_cluster(&sim);
    let app = spawn_app_for(&[&sim], |c| {
        c.environments[0].rate_limits = RateLimitsConfig {
            interactive_deadline_seconds: 10,
            ..everywhere(2.0)
        }
    })
    .await;
    let trigger = json(
        app.client
            .post(app.url("/sync?instance=env0"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = trigger["runs"][0]["run_id"].as_i64().expect("run id");
    // Let the sync fill the queues first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let resp = app.get(&format!("/clusters/{uid}/kubeconfig")).await;
    let took = started.elapsed();
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert!(took < Duration::from_secs(10), "answered in {took:?}");
    let status = json(app.get("/sync/status?instance=env0").await).await;
    assert!(
        !status["environments"][0]["running"].is_null(),
        "the kubeconfig was served while the sync still ran: {status}"
    );
    let run = app.wait_run("env0", id).await;
    assert_eq!(run["outcome"], "success", "{run}");
    app.stop().await;
    sim.stop().await;
}

/// Alice floods kubeconfig downloads (Palette's `/assets` budget) with 40 connections while
/// Bob asks for three: Bob is served within a couple of seconds each, and Alice's excess is
/// refused by the service itself (429, `Retry-After`, code `throttled`) without Palette being
/// asked, so Palette sees no more calls than the budget allows.
#[tokio::test]
async fn a_callers_flood_neither_delays_another_person_nor_reaches_palette() {
    use spectrocloud_backend::config::{AuthMode, Secret, StaticToken};
    const ALICE: &str = "alice-bearer-token-31b5e7d2";
    const BOB: &str = "bob-bearer-token-c84f09a6";
    let assets = "/v1/spectroclusters/:uid/assets";
    let sim = small_sim(json!({
        "palette_limits": true,
        "prefix_limits": {assets: {"rate": 4}},
        "latency_ms": 20,
    }))
    .await;
    let app = spawn_app_for(&[&sim], |c| {
        c.auth.mode = AuthMode::Static;
        c.auth.tokens = [("user:default/alice", ALICE), ("user:default/bob", BOB)]
            .into_iter()
            .map(|(subject, token)| StaticToken {
                token: Secret::new(token),
                subject: subject.into(),
                groups: vec![],
                palette_user: None,
            })
            .collect();
        let limit = Limit {
            rate: 4.0,
            burst: 5.0,
        };
        let limits = &mut c.environments[0].rate_limits;
        limits.scale = 1.0;
        limits.prefixes = [(assets.to_string(), limit)].into();
    })
    .await;
    app.sync("env0").await;
    let uid = running_cluster(&sim);
    let url = app.url(&format!("/clusters/{uid}/kubeconfig"));
    let plain = http_client();
    let flood_ends = Instant::now() + Duration::from_secs(6);
    let mut flood = Vec::new();
    for _ in 0..40 {
        let (client, url) = (plain.clone(), url.clone());
        flood.push(tokio::spawn(async move {
            let mut refused = Vec::new();
            while Instant::now() < flood_ends {
                let resp = client.get(&url).bearer_auth(ALICE).send().await.unwrap();
                if resp.status() == 429 {
                    let retry = resp.headers().get("retry-after").cloned();
                    refused.push((retry, json(resp).await));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            refused
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let resp = plain.get(&url).bearer_auth(BOB).send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        assert!(took < Duration::from_secs(2), "bob waited {took:?}");
    }
    let mut refused = Vec::new();
    for f in flood {
        refused.extend(f.await.unwrap());
    }
    assert!(!refused.is_empty(), "alice's excess was never refused");
    for (retry, body) in &refused {
        let retry: u64 = retry
            .as_ref()
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .expect("Retry-After in seconds");
        assert!((1..=5).contains(&retry), "Retry-After {retry}");
        assert_eq!(body["code"], "throttled", "{body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("retry after"), "{body}");
    }
    // The refusals never reached Palette: it throttled nothing.
    assert_eq!(total(&throttled(&sim).await), 0);
    app.stop().await;
    sim.stop().await;
}
