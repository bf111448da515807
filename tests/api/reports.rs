//! `/reports`: the numbers equal counts computed from the simulator's own API, not our store.

use std::collections::HashMap;

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn profile_usage_backlog_and_unused_match_the_simulator() {
    let (sim, app) = synced(
        SimConfig {
            sizes: sizes(3, 120, 12),
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    // Ground truth from Palette: clusters per profile version uid.
    let meta = sim_get(&sim, "/v1/dashboard/spectroclusters/meta").await;
    let mut on_version: HashMap<String, i64> = HashMap::new();
    for m in meta.as_array().unwrap() {
        let uid = m["metadata"]["uid"].as_str().unwrap();
        let full = sim_get(&sim, &format!("/v1/spectroclusters/{uid}")).await;
        for t in full["spec"]["clusterProfileTemplates"].as_array().unwrap() {
            *on_version
                .entry(t["uid"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let resp = app.get("/reports/profile-usage").await;
    assert_eq!(resp.status(), 200);
    let usage: Value = json(resp).await;
    let profiles = usage["profiles"].as_array().unwrap();
    assert!(!profiles.is_empty());
    let (mut some_backlog, mut some_latest) = (false, false);
    for p in profiles {
        let uid = p["uid"].as_str().unwrap();
        let detail = sim_get(&sim, &format!("/v1/clusterprofiles/{uid}")).await;
        // The simulator lists versions oldest first; the last is the latest.
        let versions = detail["spec"]["versions"].as_array().unwrap();
        let latest_uid = versions.last().unwrap()["uid"].as_str().unwrap();
        let count = |v: &Value| on_version.get(v["uid"].as_str().unwrap()).copied();
        let backlog: i64 = versions[..versions.len() - 1]
            .iter()
            .filter_map(count)
            .sum();
        let total: i64 = versions.iter().filter_map(count).sum();
        assert_eq!(p["upgradeBacklog"].as_i64(), Some(backlog), "profile {uid}");
        assert_eq!(p["clusters"].as_i64(), Some(total), "profile {uid}");
        assert_eq!(p["unused"].as_bool(), Some(total == 0), "profile {uid}");
        for v in p["versions"].as_array().unwrap() {
            let is_latest = v["uid"] == latest_uid;
            assert_eq!(
                v["latest"].as_bool(),
                Some(is_latest),
                "version {}",
                v["uid"]
            );
            assert_eq!(v["clusters"].as_i64(), Some(count(v).unwrap_or(0)));
        }
        some_backlog |= backlog > 0;
        some_latest |= total > backlog;
    }
    assert!(
        some_backlog && some_latest,
        "the dataset has clusters both behind and on the latest version"
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn profile_usage_filters_by_name_and_unused() {
    let (sim, app) = synced(
        SimConfig {
            sizes: sizes(3, 60, 12),
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    let all: Value = json(app.get("/reports/profile-usage").await).await;
    let all = all["profiles"].as_array().unwrap().clone();
    // Ground truth for names: the simulator's own profile listing.
    let listed = reqwest::Client::new()
        .post(format!("{}/v1/dashboard/clusterprofiles", sim.url))
        .header("ApiKey", "sim-api-key")
        .json(&serde_json::json!({"filter": {}}))
        .send()
        .await
        .unwrap();
    let listed: Value = listed.json().await.unwrap();
    let needle = "ADDONS";
    let mut expected: Vec<String> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("addons")
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert!(!expected.is_empty(), "the dataset has an addons profile");
    let named: Value = json(
        app.get(&format!("/reports/profile-usage?name={needle}"))
            .await,
    )
    .await;
    let mut got: Vec<String> = named["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, expected);
    let unused: Value = json(app.get("/reports/profile-usage?unusedOnly=true").await).await;
    let unused = unused["profiles"].as_array().unwrap();
    let expected_unused = all.iter().filter(|p| p["clusters"] == 0).count();
    assert_eq!(unused.len(), expected_unused);
    assert!(
        unused
            .iter()
            .all(|p| p["unused"] == true && p["clusters"] == 0)
    );
    let bad = app.get("/reports/profile-usage?unusedOnly=yes").await;
    assert_eq!(bad.status(), 400);
    app.stop().await;
    sim.stop().await;
}
