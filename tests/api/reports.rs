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

// ------------------------------------------------------------------ ground truth from Palette

/// A cluster as the simulator's API describes it.
#[derive(Debug, Clone)]
struct TCluster {
    uid: String,
    state: String,
    health: String,
    cloud: String,
    kubernetes: String,
    project: Option<String>,
    /// Profile version uids it runs.
    versions: Vec<String>,
    /// (pack name, tag)
    packs: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct TProfile {
    uid: String,
    name: String,
    project: Option<String>,
    profile_type: String,
    cloud: String,
    /// Version uids, oldest first (the last is the latest).
    versions: Vec<String>,
}

fn project_of(item: &Value) -> Option<String> {
    let a = &item["metadata"]["annotations"];
    if a["scope"] == "tenant" {
        return None;
    }
    a["projectUid"]
        .as_str()
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

async fn truth(sim: &SimServer) -> (Vec<TCluster>, Vec<TProfile>) {
    let meta = sim_get(sim, "/v1/dashboard/spectroclusters/meta").await;
    let mut clusters = Vec::new();
    for m in meta.as_array().unwrap() {
        let uid = m["metadata"]["uid"].as_str().unwrap();
        let d = sim_get(sim, &format!("/v1/dashboard/spectroclusters/{uid}")).await;
        let templates = d["spec"]["clusterProfileTemplates"].as_array().unwrap();
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        clusters.push(TCluster {
            uid: uid.to_string(),
            state: text(&d["status"]["state"]),
            health: text(&d["status"]["health"]["state"]),
            cloud: text(&d["spec"]["cloudConfig"]["cloudType"]),
            kubernetes: text(&d["status"]["kubeMeta"]["kubernetesVersion"]),
            project: project_of(&d),
            versions: templates.iter().map(|t| text(&t["uid"])).collect(),
            packs: templates
                .iter()
                .flat_map(|t| t["packs"].as_array().unwrap().clone())
                .map(|p| (text(&p["name"]), text(&p["tag"])))
                .collect(),
        });
    }
    let listed = reqwest::Client::new()
        .post(format!("{}/v1/dashboard/clusterprofiles", sim.url))
        .header("ApiKey", "sim-api-key")
        .json(&serde_json::json!({"filter": {}}))
        .send()
        .await
        .unwrap();
    let listed: Value = listed.json().await.unwrap();
    let profiles = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| TProfile {
            uid: p["metadata"]["uid"].as_str().unwrap().to_string(),
            name: p["metadata"]["name"].as_str().unwrap().to_string(),
            project: project_of(p),
            profile_type: p["specSummary"]["published"]["type"]
                .as_str()
                .unwrap()
                .to_string(),
            cloud: p["specSummary"]["published"]["cloudType"]
                .as_str()
                .unwrap()
                .to_string(),
            versions: p["specSummary"]["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["uid"].as_str().unwrap().to_string())
                .collect(),
        })
        .collect();
    (clusters, profiles)
}

/// The report's expected numbers for one profile version: clusters by state.
fn expected_states(
    clusters: &[TCluster],
    version: &str,
    project: Option<&str>,
) -> std::collections::BTreeMap<String, i64> {
    let mut m = std::collections::BTreeMap::new();
    for c in clusters {
        if c.versions.iter().any(|v| v == version)
            && project.is_none_or(|p| c.project.as_deref() == Some(p))
        {
            *m.entry(c.state.clone()).or_insert(0) += 1;
        }
    }
    m
}

/// Checks a profile-usage answer against the ground truth for the filters it was asked with.
fn check_usage(
    usage: &Value,
    clusters: &[TCluster],
    profiles: &[TProfile],
    selected: impl Fn(&TProfile) -> bool,
    project: Option<&str>,
    label: &str,
) -> usize {
    let got = usage["profiles"].as_array().unwrap();
    let mut want: Vec<&str> = profiles
        .iter()
        .filter(|p| selected(p))
        .map(|p| p.uid.as_str())
        .collect();
    want.sort();
    let mut seen: Vec<&str> = got.iter().map(|p| p["uid"].as_str().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, want, "{label}: profiles");
    let mut rows = 0;
    for p in got {
        let t = profiles.iter().find(|t| t.uid == p["uid"]).unwrap();
        let mut backlog = 0;
        let mut total = 0;
        let versions = p["versions"].as_array().unwrap();
        assert_eq!(
            versions.len(),
            t.versions.len(),
            "{label}: versions of {}",
            t.uid
        );
        for v in versions {
            rows += 1;
            let vuid = v["uid"].as_str().unwrap();
            let states = expected_states(clusters, vuid, project);
            let n: i64 = states.values().sum();
            let latest = t.versions.last().map(String::as_str) == Some(vuid);
            assert_eq!(v["clusters"].as_i64(), Some(n), "{label}: version {vuid}");
            assert_eq!(
                v["latest"].as_bool(),
                Some(latest),
                "{label}: latest {vuid}"
            );
            assert_eq!(
                v["byState"],
                serde_json::to_value(&states).unwrap(),
                "{label}: byState {vuid}"
            );
            let by_project: i64 = v["byProject"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["clusters"].as_i64().unwrap())
                .sum();
            assert_eq!(by_project, n, "{label}: byProject {vuid}");
            total += n;
            if !latest {
                backlog += n;
            }
        }
        assert_eq!(p["clusters"].as_i64(), Some(total), "{label}: {}", t.uid);
        assert_eq!(
            p["upgradeBacklog"].as_i64(),
            Some(backlog),
            "{label}: {}",
            t.uid
        );
        assert_eq!(
            p["unused"].as_bool(),
            Some(total == 0),
            "{label}: {}",
            t.uid
        );
        assert_eq!(p["type"], t.profile_type.as_str());
        assert_eq!(p["cloudType"], t.cloud.as_str());
        assert_eq!(p["projectUid"].as_str(), t.project.as_deref());
    }
    rows
}

fn parse_csv(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

async fn two_environments() -> (SimServer, SimServer, TestApp) {
    let a = spawn_sim_with(SimConfig {
        sizes: sizes(3, 60, 10),
        ..SimConfig::default()
    })
    .await;
    let b = spawn_sim_with(SimConfig {
        sizes: sizes(2, 40, 8),
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&a, &b], |_| {}).await;
    for env in ["env0", "env1"] {
        assert_eq!(app.sync(env).await["outcome"], "success");
    }
    (a, b, app)
}

#[tokio::test]
async fn profile_usage_equals_the_simulator_in_two_environments_with_every_filter() {
    let (a, b, app) = two_environments().await;
    for (env, sim) in [("env0", &a), ("env1", &b)] {
        let (clusters, profiles) = truth(sim).await;
        let get = |q: String| {
            let app = &app;
            async move {
                let resp = app
                    .get(&format!("/reports/profile-usage?instance={env}{q}"))
                    .await;
                assert_eq!(resp.status(), 200, "{q}");
                json(resp).await
            }
        };
        let all = get(String::new()).await;
        assert_eq!(all["environment"], env);
        check_usage(&all, &clusters, &profiles, |_| true, None, "all");
        // Every filter, each against its own ground truth.
        let project = clusters.iter().find_map(|c| c.project.clone()).unwrap();
        let by_project = get(format!("&projectUid={project}")).await;
        check_usage(
            &by_project,
            &clusters,
            &profiles,
            |p| p.project.is_none() || p.project.as_deref() == Some(project.as_str()),
            Some(&project),
            "projectUid",
        );
        let ptype = profiles[0].profile_type.clone();
        let typed = get(format!("&profileType={ptype}")).await;
        check_usage(
            &typed,
            &clusters,
            &profiles,
            |p| p.profile_type == ptype,
            None,
            "profileType",
        );
        let cloud = profiles
            .iter()
            .map(|p| p.cloud.clone())
            .find(|c| c != "all")
            .unwrap_or(profiles[0].cloud.clone());
        let clouded = get(format!("&cloudType={cloud}")).await;
        check_usage(
            &clouded,
            &clusters,
            &profiles,
            |p| p.cloud == cloud,
            None,
            "cloudType",
        );
        let needle = profiles[0].name[1..4].to_uppercase();
        let named = get(format!("&name={needle}")).await;
        check_usage(
            &named,
            &clusters,
            &profiles,
            |p| p.name.to_lowercase().contains(&needle.to_lowercase()),
            None,
            "name",
        );
        let unused = get("&unusedOnly=true".into()).await;
        let is_unused = |p: &TProfile| {
            !clusters
                .iter()
                .any(|c| c.versions.iter().any(|v| p.versions.contains(v)))
        };
        check_usage(&unused, &clusters, &profiles, is_unused, None, "unusedOnly");
        // include=clusters lists exactly the clusters counted.
        let listed = get("&include=clusters".into()).await;
        for p in listed["profiles"].as_array().unwrap() {
            for v in p["versions"].as_array().unwrap() {
                let list = v["clusterList"].as_array().unwrap();
                assert_eq!(list.len() as i64, v["clusters"].as_i64().unwrap());
                for c in list {
                    let t = clusters.iter().find(|t| t.uid == c["uid"]).unwrap();
                    assert!(t.versions.iter().any(|x| x == &v["uid"]));
                    assert_eq!(c["state"], t.state.as_str());
                    assert_eq!(c["projectUid"].as_str(), t.project.as_deref());
                }
            }
        }
        // CSV: one row per version, the same numbers, parsed back.
        let resp = app
            .get(&format!("/reports/profile-usage?instance={env}&format=csv"))
            .await;
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert!(
            resp.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        assert!(resp.headers().contains_key("x-spectrocloud-synced-at"));
        let rows = parse_csv(&resp.text().await.unwrap());
        let versions: usize = all["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["versions"].as_array().unwrap().len())
            .sum();
        assert_eq!(rows.len(), versions);
        for r in &rows {
            assert_eq!(r["environment"], env);
            let states = expected_states(&clusters, &r["version_uid"], None);
            assert_eq!(r["clusters"], states.values().sum::<i64>().to_string());
            let cell: Vec<String> = states.iter().map(|(k, v)| format!("{k}={v}")).collect();
            assert_eq!(r["by_state"], cell.join(";"));
            let t = profiles.iter().find(|p| p.uid == r["profile_uid"]).unwrap();
            assert_eq!(r["profile_name"], t.name);
            assert_eq!(
                r["latest"],
                (t.versions.last() == Some(&r["version_uid"])).to_string()
            );
        }
    }
    for bad in [
        "format=xml",
        "include=everything",
        "profileType=bogus",
        "projectUid=bad%20uid",
    ] {
        assert_eq!(
            app.get(&format!("/reports/profile-usage?{bad}"))
                .await
                .status(),
            400,
            "{bad}"
        );
    }
    app.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn pack_usage_by_version_prefix_equals_the_simulator() {
    let (a, b, app) = two_environments().await;
    for (env, sim) in [("env0", &a), ("env1", &b)] {
        let (clusters, _) = truth(sim).await;
        // Clusters per (pack, tag), a cluster counted once per tag.
        let mut want: std::collections::BTreeMap<
            (String, String),
            std::collections::BTreeSet<String>,
        > = Default::default();
        for c in &clusters {
            for (name, tag) in &c.packs {
                want.entry((name.clone(), tag.clone()))
                    .or_default()
                    .insert(c.uid.clone());
            }
        }
        let all: Value = json(
            app.get(&format!("/reports/pack-usage?instance={env}"))
                .await,
        )
        .await;
        let packs = all["packs"].as_array().unwrap();
        assert_eq!(packs.len(), want.len());
        for p in packs {
            let key = (
                p["name"].as_str().unwrap().to_string(),
                p["tag"].as_str().unwrap().to_string(),
            );
            assert_eq!(
                p["clusters"].as_i64(),
                Some(want[&key].len() as i64),
                "{key:?}"
            );
            assert!(p.get("clusterList").is_none());
        }
        // The spread sums every version of a pack.
        for s in all["spread"].as_array().unwrap() {
            let sum: usize = want
                .iter()
                .filter(|((n, _), _)| n == s["name"].as_str().unwrap())
                .map(|(_, u)| u.len())
                .sum();
            assert_eq!(s["clusters"].as_i64(), Some(sum as i64));
        }
        // "Who still runs kubernetes 1.x?": a prefix at a dot boundary.
        let tag = want
            .keys()
            .find(|(n, _)| n == "kubernetes")
            .unwrap()
            .1
            .clone();
        let prefix: String = tag.split('.').take(2).collect::<Vec<_>>().join(".");
        // The name takes its family: kubernetes, kubernetes-eks, kubernetes-aks.
        let in_family = |n: &str| n == "kubernetes" || n.starts_with("kubernetes-");
        let matching: Vec<(&(String, String), &std::collections::BTreeSet<String>)> = want
            .iter()
            .filter(|((n, t), _)| {
                in_family(n) && (*t == prefix || t.starts_with(&format!("{prefix}.")))
            })
            .collect();
        let got: Value = json(
            app.get(&format!(
                "/reports/pack-usage?instance={env}&name=kubernetes&version={prefix}"
            ))
            .await,
        )
        .await;
        let got = got["packs"].as_array().unwrap();
        assert_eq!(got.len(), matching.len(), "prefix {prefix}");
        for p in got {
            let (_, uids) = matching
                .iter()
                .find(|((n, t), _)| *n == p["name"] && *t == p["tag"])
                .unwrap();
            let listed: std::collections::BTreeSet<String> = p["clusterList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["uid"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(&listed, *uids);
        }
        let none: Value = json(
            app.get(&format!(
                "/reports/pack-usage?instance={env}&name=kubernetes&version={prefix}9"
            ))
            .await,
        )
        .await;
        assert!(
            none["packs"].as_array().unwrap().is_empty(),
            "a prefix matches at a dot only"
        );
        // CSV: one row per cluster when narrowed to a pack.
        let resp = app
            .get(&format!(
                "/reports/pack-usage?instance={env}&name=kubernetes&version={prefix}&format=csv"
            ))
            .await;
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let rows = parse_csv(&resp.text().await.unwrap());
        let expected: usize = matching.iter().map(|(_, u)| u.len()).sum();
        assert_eq!(rows.len(), expected);
        for r in rows {
            let (_, uids) = matching
                .iter()
                .find(|((n, t), _)| *n == r["pack"] && *t == r["version"])
                .unwrap();
            assert!(uids.contains(&r["cluster_uid"]));
            assert!(in_family(&r["pack"]), "{}", r["pack"]);
        }
    }
    app.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn fleet_report_equals_the_simulator_per_environment() {
    let (a, b, app) = two_environments().await;
    let fleet: Value = json(app.get("/reports/fleet").await).await;
    let envs = fleet["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    for (env, sim) in [("env0", &a), ("env1", &b)] {
        let (clusters, _) = truth(sim).await;
        let e = envs.iter().find(|e| e["environment"] == env).unwrap();
        assert_eq!(e["ready"], true);
        assert!(e["syncedAt"].is_string());
        assert_eq!(e["clusters"].as_u64(), Some(clusters.len() as u64));
        let count = |f: &dyn Fn(&TCluster) -> String| {
            let mut m = std::collections::BTreeMap::<String, i64>::new();
            for c in &clusters {
                let k = f(c);
                *m.entry(if k.is_empty() { "unknown".into() } else { k })
                    .or_default() += 1;
            }
            serde_json::to_value(m).unwrap()
        };
        assert_eq!(e["byState"], count(&|c| c.state.clone()), "{env}");
        assert_eq!(e["byHealth"], count(&|c| c.health.clone()), "{env}");
        assert_eq!(e["byCloudType"], count(&|c| c.cloud.clone()), "{env}");
        assert_eq!(
            e["byKubernetesVersion"],
            count(&|c| c.kubernetes.clone()),
            "{env}"
        );
        let mut per_project = std::collections::BTreeMap::<Option<String>, i64>::new();
        for c in &clusters {
            *per_project.entry(c.project.clone()).or_default() += 1;
        }
        for p in e["byProject"].as_array().unwrap() {
            let key = p["projectUid"].as_str().map(str::to_string);
            assert_eq!(
                p["clusters"].as_i64(),
                per_project.remove(&key),
                "{env} {key:?}"
            );
            assert!(key.is_none() || p["projectName"].is_string());
        }
        assert!(per_project.is_empty());
    }
    let one: Value = json(app.get("/reports/fleet?instance=env1").await).await;
    assert_eq!(one["environments"].as_array().unwrap().len(), 1);
    assert_eq!(one["environments"][0]["environment"], "env1");
    app.stop().await;
    a.stop().await;
    b.stop().await;
}

/// A scoped Palette user's reports count their projects' clusters only (and the tenant's
/// profiles, which every project member sees), each report against the simulator's truth;
/// the administrator's answer, asked in between, is not theirs.
#[tokio::test]
async fn a_scoped_users_reports_count_only_their_projects() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let alice = sim_user(&sim, "alice@acme.example").await;
    let mine: Vec<String> = alice["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(!mine.is_empty(), "alice has a project");
    let (all_clusters, profiles) = truth(&sim).await;
    let clusters: Vec<TCluster> = all_clusters
        .iter()
        .filter(|c| c.project.as_ref().is_some_and(|p| mine.contains(p)))
        .cloned()
        .collect();
    assert!(!clusters.is_empty() && clusters.len() < all_clusters.len());
    let as_alice = |path: &str| {
        let req = app
            .client
            .get(app.url(path))
            .header("X-SpectroCloud-Token", alice["token"].as_str().unwrap())
            .header("X-SpectroCloud-User-Email", "alice@acme.example");
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            json(resp).await
        }
    };
    let everyone = json(app.get("/reports/profile-usage").await).await;
    check_usage(&everyone, &all_clusters, &profiles, |_| true, None, "admin");
    let usage = as_alice("/reports/profile-usage").await;
    let visible = |p: &TProfile| p.project.as_ref().is_none_or(|p| mine.contains(p));
    check_usage(&usage, &clusters, &profiles, visible, None, "alice");
    assert_ne!(usage, everyone);

    let packs = as_alice("/reports/pack-usage").await;
    let mut want: std::collections::BTreeMap<(String, String), std::collections::BTreeSet<&str>> =
        Default::default();
    for c in &clusters {
        for (name, tag) in &c.packs {
            want.entry((name.clone(), tag.clone()))
                .or_default()
                .insert(&c.uid);
        }
    }
    let got: std::collections::BTreeMap<(String, String), i64> = packs["packs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let key = (
                p["name"].as_str().unwrap().into(),
                p["tag"].as_str().unwrap().into(),
            );
            (key, p["clusters"].as_i64().unwrap())
        })
        .collect();
    let want: std::collections::BTreeMap<(String, String), i64> =
        want.into_iter().map(|(k, v)| (k, v.len() as i64)).collect();
    assert_eq!(got, want, "alice's packs");

    let fleet = as_alice("/reports/fleet").await;
    let e = &fleet["environments"][0];
    assert_eq!(e["clusters"].as_u64(), Some(clusters.len() as u64));
    let mut states = std::collections::BTreeMap::<String, i64>::new();
    for c in &clusters {
        *states.entry(c.state.clone()).or_default() += 1;
    }
    assert_eq!(e["byState"], serde_json::to_value(states).unwrap());
    for p in e["byProject"].as_array().unwrap() {
        assert!(mine.iter().any(|m| p["projectUid"] == m.as_str()), "{p}");
    }
    app.stop().await;
    sim.stop().await;
}
