//! What a person or an agent reads: a pack search takes a name's family in any case and says
//! what it matched (or what comes close), and one cluster reads the same — its state, health
//! and the counts it adds to — on the HTTP reports, the MCP tools, the fleet page and CSV.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::mcp::Client;

/// The `data-k="<key>"` value on a page.
fn shown(html: &str, key: &str) -> Option<String> {
    let marker = format!("data-k=\"{key}\">");
    let at = html.find(&marker)? + marker.len();
    let rest = &html[at..];
    Some(rest[..rest.find('<')?].trim().to_string())
}

async fn page(app: &TestApp, query: &str) -> String {
    let resp = app.get(&format!("/ui/?instance=env0&{query}")).await;
    assert_eq!(resp.status(), 200, "{query}");
    resp.text().await.unwrap()
}

fn names_of(items: &Value, field: &str) -> BTreeSet<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[field].as_str().unwrap().to_string())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn pack_search_takes_a_family_in_any_case_and_says_what_comes_close() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    // The truth: every pack in use, unnarrowed.
    let all = json(app.get("/reports/pack-usage").await).await;
    let family: BTreeSet<String> = names_of(&all["packs"], "name")
        .into_iter()
        .filter(|n| n == "kubernetes" || n.starts_with("kubernetes-"))
        .collect();
    assert!(
        family.len() >= 2 && family.contains("kubernetes"),
        "the dataset runs kubernetes and a managed flavour: {family:?}"
    );
    // A cluster runs one Kubernetes pack at one version.
    let on_family: i64 = all["packs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| family.contains(p["name"].as_str().unwrap()))
        .map(|p| p["clusters"].as_i64().unwrap())
        .sum();
    assert!(on_family > 0);

    // HTTP: any case takes the family, each pack under its own name.
    let r = json(app.get("/reports/pack-usage?name=Kubernetes").await).await;
    assert_eq!(names_of(&r["packs"], "name"), family, "{r}");
    let matched: BTreeSet<String> = strings(&r["search"]["matchedNames"]).into_iter().collect();
    assert_eq!(matched, family);
    assert_eq!(r["search"]["clusters"], on_family);
    // A typo: nothing, said plainly, with the close name.
    let r = json(app.get("/reports/pack-usage?name=kubernets").await).await;
    assert!(r["packs"].as_array().unwrap().is_empty());
    assert!(strings(&r["search"]["didYouMean"]).contains(&"kubernetes".to_string()));
    let message = r["search"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("No pack is named kubernets"),
        "{message}"
    );
    // A word that names no family: the names containing it.
    let aws: Vec<String> = names_of(&all["packs"], "name")
        .into_iter()
        .filter(|n| n.contains("aws"))
        .collect();
    assert!(!aws.is_empty());
    let r = json(app.get("/reports/pack-usage?name=AWS").await).await;
    assert_eq!(strings(&r["search"]["containing"]), aws, "{r}");
    // The version rule in words; the versions in use when none matched.
    let r = json(
        app.get("/reports/pack-usage?name=kubernetes&version=1.3")
            .await,
    )
    .await;
    assert_eq!(
        r["search"]["versionRule"],
        "1.3 takes 1.3, 1.3.x, 1.3-… and 1.3+…, not 1.30"
    );
    assert!(!strings(&r["search"]["versionsInUse"]).is_empty(), "{r}");
    assert!(!r["search"]["message"].as_str().unwrap().contains('*'));

    // MCP: the same search.
    let c = Client::anonymous(&app).await;
    let (err, fp) = c
        .tool(
            "find_spectrocloud_clusters_by_pack",
            json!({"packName": "KUBERNETES", "limit": 500}),
        )
        .await;
    assert!(!err, "{fp}");
    assert_eq!(fp["total"], on_family, "{fp}");
    let matched: BTreeSet<String> = strings(&fp["pack"]["matchedNames"]).into_iter().collect();
    assert_eq!(matched, family);
    let run: BTreeSet<String> = fp["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| names_of(&c["packs"], "name"))
        .collect();
    assert_eq!(run, family, "each cluster's pack by its own name");
    let (_, typo) = c
        .tool(
            "find_spectrocloud_clusters_by_pack",
            json!({"packName": "kubernets"}),
        )
        .await;
    assert_eq!(typo["total"], 0);
    assert!(strings(&typo["pack"]["didYouMean"]).contains(&"kubernetes".to_string()));
    let (_, sp) = c
        .tool(
            "search_spectrocloud_packs",
            json!({"name": "Kubernetes", "limit": 500}),
        )
        .await;
    assert_eq!(names_of(&sp["items"], "name"), family, "{sp}");
    let (_, sp) = c
        .tool("search_spectrocloud_packs", json!({"name": "kubernets"}))
        .await;
    assert_eq!(sp["total"], 0);
    assert!(strings(&sp["search"]["didYouMean"]).contains(&"kubernetes".to_string()));

    // The fleet page: the same numbers and words.
    let html = page(&app, "pack=Kubernetes").await;
    assert_eq!(shown(&html, "pack-total"), Some(on_family.to_string()));
    for name in &family {
        assert!(html.contains(&format!("data-pack=\"{name}:")), "{name}");
    }
    let html = page(&app, "pack=kubernets").await;
    assert!(html.contains("data-suggest=\"kubernetes\""), "{html}");
    assert!(html.contains("No pack is named kubernets"));
    let html = page(&app, "pack=kubernetes&version=1.3").await;
    assert!(html.contains("1.3 takes 1.3, 1.3.x, 1.3-… and 1.3+…, not 1.30"));
    assert!(!html.contains("1.3*"));
    app.stop().await;
    sim.stop().await;
}

/// A cluster Palette reports in state `Unknown` without a health: every surface says
/// `unknown` for both, and every count of clusters is the same (virtual clusters included).
#[tokio::test]
async fn one_cluster_reads_the_same_on_every_surface() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let listed = json(app.get("/clusters").await).await;
    let cluster = listed["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["spec"]["cloudType"] != "nested" && c["status"]["state"] == "Running")
        .expect("a running cluster")
        .clone();
    let uid = cluster["metadata"]["uid"].as_str().unwrap().to_string();
    let name = cluster["metadata"]["name"].as_str().unwrap().to_string();
    let path = format!("/clusters/{uid}/state");
    let change = json!({"state": "Unknown", "health": ""});
    sim_control(&sim, reqwest::Method::POST, &path, Some(change)).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");

    // The fleet report: one word, and the count of every cluster.
    let fleet = json(app.get("/reports/fleet?instance=env0").await).await;
    let f = &fleet["environments"][0];
    assert!(f["byState"]["unknown"].as_i64() >= Some(1), "{f}");
    assert!(f["byState"].get("Unknown").is_none(), "{f}");
    assert!(f["byHealth"]["unknown"].as_i64() >= Some(1), "{f}");
    let virtual_clusters = f["byCloudType"]["nested"].as_i64().unwrap_or(0);
    assert!(virtual_clusters > 0, "the dataset has a virtual cluster");

    // MCP: the same counts and words.
    let c = Client::anonymous(&app).await;
    let (_, s) = c
        .tool("list_spectrocloud_clusters", json!({"summary": true}))
        .await;
    assert_eq!(s["total"], f["clusters"], "virtual clusters count: {s}");
    for (field, counts) in [
        ("state", "byState"),
        ("health", "byHealth"),
        ("cloudType", "byCloudType"),
    ] {
        assert_eq!(s["summary"][field], f[counts], "{field}");
    }
    let (_, one) = c
        .tool("list_spectrocloud_clusters", json!({"name": name}))
        .await;
    let item = one["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["uid"] == uid.as_str())
        .expect("the cluster");
    assert_eq!(item["state"], "unknown");
    assert!(item.get("health").is_none(), "a data field is left out");
    let (_, d) = c
        .tool("diagnose_spectrocloud_cluster", json!({"clusterUid": uid}))
        .await;
    assert_eq!(
        (&d["state"], &d["health"]),
        (&json!("unknown"), &json!("unknown"))
    );

    // The profile lookup's summary counts its clusters the same way.
    let usage = json(app.get("/reports/profile-usage?include=clusters").await).await;
    let profile = usage["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["versions"].as_array().unwrap().iter().any(|v| {
                v["clusterList"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["uid"] == uid.as_str())
            })
        })
        .expect("a profile the cluster runs");
    let (_, ps) = c
        .tool(
            "find_spectrocloud_clusters_for_profile",
            json!({"profileUid": profile["uid"], "summary": true}),
        )
        .await;
    assert_eq!(ps["total"], profile["clusters"], "{ps}");
    assert!(
        ps["summary"]["state"]["unknown"].as_i64() >= Some(1),
        "{ps}"
    );
    assert!(
        ps["summary"]["health"]["unknown"].as_i64() >= Some(1),
        "{ps}"
    );

    // CSV: the cluster's state in the pack-usage rows.
    let csv = app
        .get("/reports/pack-usage?name=kubernetes&format=csv")
        .await
        .text()
        .await
        .unwrap();
    let row = csv.lines().find(|l| l.contains(&uid)).expect("its row");
    assert!(row.ends_with(",unknown"), "{row}");

    // The fleet page: the same total, the same words, colours by state.
    let html = page(&app, "").await;
    assert_eq!(shown(&html, "total"), Some(f["clusters"].to_string()));
    assert_eq!(shown(&html, "virtual"), Some(virtual_clusters.to_string()));
    assert_eq!(
        shown(&html, "state:unknown"),
        Some(f["byState"]["unknown"].to_string())
    );
    assert_eq!(
        shown(&html, "health:unknown"),
        Some(f["byHealth"]["unknown"].to_string())
    );
    assert!(!html.contains("state:Unknown"));
    let change =
        format!("<td>cluster.state_changed</td><td>{name}</td><td>Running</td><td>unknown</td>");
    assert!(html.contains(&change), "the latest changes say it alike");
    // One day of history: bars, a note, and the legend in the bars' colours.
    assert!(shown(&html, "trend-note").is_some_and(|n| n.starts_with("Not enough history yet")));
    assert!(html.contains("class=\"tbar c-running\""), "bars by state");
    assert!(html.contains("<li data-series=\"Running\"><span class=\"swatch c-running\">"));
    assert!(html.contains("<li data-series=\"unknown\"><span class=\"swatch c-unknown\">"));
    app.stop().await;
    sim.stop().await;
}
