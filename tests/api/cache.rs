//! The response cache: a cached answer is the uncached one (body, tag, encoding, headers); a
//! sync that changes data invalidates it; scoped Palette users never share another caller's
//! answer; the byte cap holds. And the per-route latency histograms in `/metrics`.

use std::io::Read;

use palette_sim::SimConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

async fn get_as(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = app.client.get(app.url(path));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.expect("request sent")
}

/// Status, the headers that must agree, and the decoded body.
async fn seen(resp: reqwest::Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = resp.status().as_u16();
    let mut headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        // Framing, not content: a cached body has a known length, a compressed stream is chunked.
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "date" | "x-request-id" | "content-length" | "transfer-encoding"
            )
        })
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_string()))
        .collect();
    headers.sort();
    let encoding = resp
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    let raw = resp.bytes().await.expect("body").to_vec();
    let mut body = Vec::new();
    match encoding.as_deref() {
        Some("gzip") => {
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut body)
                .expect("gzip body");
        }
        Some("br") => {
            brotli::Decompressor::new(&raw[..], 4096)
                .read_to_end(&mut body)
                .expect("br body");
        }
        Some(other) => panic!("unexpected encoding {other}"),
        None => body = raw,
    }
    (status, headers, body)
}

fn sum_of(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_cached_answer_is_the_uncached_one() {
    let sim = spawn_sim().await;
    let cached = spawn_app_for(&[&sim], |_| {}).await;
    let uncached = spawn_app_for(&[&sim], |c| c.server.response_cache_bytes = 0).await;
    for app in [&cached, &uncached] {
        assert_eq!(app.sync("env0").await["outcome"], "success");
    }
    let uid = json(cached.get("/clusters?limit=1").await).await["clusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let paths = [
        "/clusters".to_string(),
        "/clusters?limit=5&offset=2".to_string(),
        format!("/clusters/{uid}"),
        "/projects".to_string(),
        "/reports/profile-usage".to_string(),
    ];
    for path in &paths {
        for enc in [None, Some("gzip"), Some("br"), Some("gzip, br;q=0.5")] {
            let h: Vec<(&str, &str)> = enc.iter().map(|e| ("Accept-Encoding", *e)).collect();
            let miss = seen(get_as(&cached, path, &h).await).await;
            let hit = seen(get_as(&cached, path, &h).await).await;
            let plain = seen(get_as(&uncached, path, &h).await).await;
            assert_eq!(miss.0, 200, "{path} {enc:?}");
            assert_eq!(hit, miss, "{path} {enc:?}: hit differs from miss");
            // The two servers synced at different moments; everything else agrees.
            let without_time = |h: &[(String, String)]| -> Vec<(String, String)> {
                h.iter()
                    .filter(|(k, _)| k != "x-spectrocloud-synced-at")
                    .cloned()
                    .collect()
            };
            assert_eq!(
                without_time(&hit.1),
                without_time(&plain.1),
                "{path} {enc:?}"
            );
            assert_eq!(hit.2, plain.2, "{path} {enc:?}: bodies differ");
        }
        // Revalidation from the cache: 304 with the same headers as without it.
        let tag = get_as(&cached, path, &[]).await.headers()["etag"]
            .to_str()
            .unwrap()
            .to_string();
        let h = [("If-None-Match", tag.as_str()), ("Accept-Encoding", "gzip")];
        let a = seen(get_as(&cached, path, &h).await).await;
        let b = seen(get_as(&uncached, path, &h).await).await;
        assert_eq!(a.0, 304, "{path}");
        assert_eq!(b.0, 304, "{path}");
        assert!(a.2.is_empty());
        assert!(
            a.1.iter().any(|(k, v)| k == "etag" && *v == tag),
            "{path}: {:?}",
            a.1
        );
        assert!(
            !a.1.iter().any(|(k, _)| k == "content-encoding"),
            "{path}: {:?}",
            a.1
        );
    }
    let text = cached.metrics_text().await;
    assert!(
        sum_of(&text, "spectrocloud_response_cache_total{outcome=\"hit\"") > 0.0,
        "hits counted:\n{text}"
    );
    let text = uncached.metrics_text().await;
    assert_eq!(sum_of(&text, "spectrocloud_response_cache_total"), 0.0);
    cached.stop().await;
    uncached.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_sync_that_changes_data_invalidates_cached_answers() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let uid = json(app.get("/clusters?limit=1").await).await["clusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/clusters/{uid}");
    let before = json(app.get(&path).await).await;
    let list_before = json(app.get("/clusters").await).await;
    assert_eq!(json(app.get(&path).await).await, before, "served again");
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{uid}/state"),
        Some(json!({"state": "Deleting", "health": "UnHealthy"})),
    )
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let after = json(app.get(&path).await).await;
    assert_ne!(after, before, "the detail after a sync that changed it");
    assert_eq!(after["status"]["state"], "Deleting", "{after}");
    let list_after = json(app.get("/clusters").await).await;
    let state_in = |list: &Value| {
        list["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["metadata"]["uid"] == uid.as_str())
            .map(|c| c["status"]["state"].clone())
    };
    assert_ne!(state_in(&list_before), state_in(&list_after));
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn scoped_users_never_see_another_callers_cached_answer() {
    let (sim, app) = synced(SimConfig::default(), |c| c.auth.user_scope_ttl_seconds = 0).await;
    let alice = sim_user(&sim, "alice@acme.example").await;
    let bob = sim_user(&sim, "bob@acme.example").await;
    let as_user = |u: &Value| {
        vec![
            (
                "X-SpectroCloud-Token",
                u["token"].as_str().unwrap().to_string(),
            ),
            (
                "X-SpectroCloud-User-Email",
                u["email"].as_str().unwrap().to_string(),
            ),
        ]
    };
    let uids = |v: &Value| -> Vec<String> {
        v["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["metadata"]["uid"].as_str().unwrap().to_string())
            .collect()
    };
    let fetch = |h: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let resp = get_as(app, "/clusters", &h).await;
            assert_eq!(resp.status(), 200);
            json(resp).await
        }
    };
    // Everyone's answer is cached before the next caller asks.
    let all = uids(&fetch(vec![]).await);
    let a1 = uids(&fetch(as_user(&alice)).await);
    let b1 = uids(&fetch(as_user(&bob)).await);
    let a2 = uids(&fetch(as_user(&alice)).await);
    let b2 = uids(&fetch(as_user(&bob)).await);
    let all2 = uids(&fetch(vec![]).await);
    assert!(!a1.is_empty() && !b1.is_empty());
    assert!(a1.len() < all.len() && b1.len() < all.len());
    assert_ne!(a1, b1);
    assert_eq!(a1, a2);
    assert_eq!(b1, b2);
    assert_eq!(all, all2);
    // A user whose token Palette refuses is not served Alice's answer either.
    let forged = [
        ("X-SpectroCloud-Token", "not-a-token".to_string()),
        (
            "X-SpectroCloud-User-Email",
            "alice@acme.example".to_string(),
        ),
    ];
    let h: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = get_as(&app, "/clusters", &h).await;
    if resp.status() == 200 {
        assert_ne!(uids(&json(resp).await), a1);
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn the_cache_stays_within_its_byte_cap() {
    const CAP: usize = 8_000;
    let (sim, app) = synced(SimConfig::default(), |c| {
        c.server.response_cache_bytes = CAP
    })
    .await;
    let whole = app.get("/clusters").await.bytes().await.unwrap().len();
    assert!(
        whole > CAP,
        "the whole list ({whole} bytes) is larger than the cap"
    );
    for n in 1..20 {
        for enc in ["identity", "gzip", "br"] {
            let resp = get_as(
                &app,
                &format!("/clusters?limit={n}"),
                &[("Accept-Encoding", enc)],
            )
            .await;
            assert_eq!(resp.status(), 200);
        }
        let text = app.metrics_text().await;
        let held = sum_of(&text, "spectrocloud_response_cache_bytes");
        assert!(held <= CAP as f64, "{held} bytes held, cap {CAP}");
    }
    // The most recent small answer is held (the cap evicts, it does not turn the cache off).
    assert_eq!(app.get("/clusters?limit=1").await.status(), 200);
    let text = app.metrics_text().await;
    assert!(
        sum_of(&text, "spectrocloud_response_cache_bytes") > 0.0,
        "{text}"
    );
    assert!(
        sum_of(&text, "spectrocloud_response_cache_entries") >= 1.0,
        "{text}"
    );
    // Larger than the cap: still answered, whole, every time.
    for _ in 0..2 {
        assert_eq!(
            app.get("/clusters").await.bytes().await.unwrap().len(),
            whole
        );
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn http_latency_histograms_are_per_route_pattern() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let uid = json(app.get("/clusters?limit=1").await).await["clusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get(&format!("/clusters/{uid}")).await.status(), 200);
    assert!(
        app.get("/clusters/not-a-uid-at-all")
            .await
            .status()
            .is_client_error()
    );
    let text = app.metrics_text().await;
    let series = |class: &str| {
        text.lines()
            .filter(|l| l.starts_with("spectrocloud_http_request_duration_seconds_bucket{"))
            .filter(|l| l.contains("route=\"/api/spectrocloud/clusters/{clusterUid}\""))
            .filter(|l| l.contains(&format!("status_class=\"{class}\"")))
            .count()
    };
    assert!(series("2xx") > 5, "2xx buckets:\n{text}");
    assert!(series("4xx") > 5, "4xx buckets:\n{text}");
    assert!(!text.contains(&uid), "a raw path in a label:\n{text}");
    let count = sum_of(
        &text,
        "spectrocloud_http_request_duration_seconds_count{method=\"GET\",route=\"/api/spectrocloud/clusters/{clusterUid}\"",
    );
    assert!(count >= 2.0, "{text}");
    assert!(text.contains("# TYPE spectrocloud_http_request_duration_seconds histogram"));
    app.stop().await;
    sim.stop().await;
}

/// After a sync every answer misses at once: callers asking together for the same answer get
/// one build between them (one miss, the rest hits), and the same bytes. `no-cache` builds
/// anew, and agrees.
#[tokio::test]
async fn callers_missing_together_share_one_build_and_no_cache_rebuilds() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let misses = |text: &str| sum_of(text, "spectrocloud_response_cache_total{outcome=\"miss\"");
    let hits = |text: &str| sum_of(text, "spectrocloud_response_cache_total{outcome=\"hit\"");
    let before = app.metrics_text().await;
    // The first report after the sync: its counts are made now too, the slowest answer.
    let bodies = futures::future::join_all(
        (0..16).map(|_| async { seen(get_as(&app, "/reports/profile-usage", &[]).await).await }),
    )
    .await;
    let after = app.metrics_text().await;
    assert!(bodies.iter().all(|b| b.0 == 200 && b.2 == bodies[0].2));
    assert_eq!(
        misses(&after) - misses(&before),
        1.0,
        "one build for 16 callers"
    );
    assert_eq!(hits(&after) - hits(&before), 15.0);

    let rebuilt = seen(
        get_as(
            &app,
            "/reports/profile-usage",
            &[("Cache-Control", "no-cache")],
        )
        .await,
    )
    .await;
    let again = app.metrics_text().await;
    assert_eq!(rebuilt.0, 200);
    assert_eq!(rebuilt.2, bodies[0].2, "built anew, the same answer");
    assert_eq!(
        misses(&again) - misses(&after),
        1.0,
        "no-cache is not served from the cache"
    );
    app.stop().await;
    sim.stop().await;
}
