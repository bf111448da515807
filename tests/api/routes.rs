//! Every route of the API against a synced simulator: shapes, filters, paging, errors, headers,
//! per-user scoping, live pass-through and behaviour while Palette is down.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn get_json(app: &TestApp, path: &str) -> Value {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    json(resp).await
}

fn uids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|i| i["metadata"]["uid"].as_str().expect("uid").to_string())
        .collect()
}

fn assert_mirror_headers(resp: &reqwest::Response) {
    assert_eq!(resp.headers()["x-spectrocloud-source"], "mirror");
    let synced = resp.headers()["x-spectrocloud-synced-at"].to_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(synced).is_ok(),
        "{synced}"
    );
}

#[tokio::test]
async fn mirror_routes_answer_in_the_original_shapes() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let summary = sim_control(&sim, Method::GET, "/summary", None).await;

    let resp = app.get("/clusters").await;
    assert_eq!(resp.status(), 200);
    assert_mirror_headers(&resp);
    assert!(resp.headers().get("x-spectrocloud-stale").is_none());
    let clusters = json(resp).await;
    assert_eq!(
        clusters["clusters"].as_array().unwrap().len() as i64,
        summary["clusters"].as_i64().unwrap()
    );
    // The meta shape the original returned.
    let c = &clusters["clusters"][0];
    assert!(
        c["metadata"]["uid"].is_string()
            && c["spec"]["cloudType"].is_string()
            && c["status"]["state"].is_string()
    );

    let running = clusters["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"]["state"] == "Running" && c["spec"]["cloudType"] != "nested")
        .unwrap();
    let uid = running["metadata"]["uid"].as_str().unwrap();
    let detail = get_json(&app, &format!("/clusters/{uid}")).await;
    assert_eq!(
        detail,
        sim_get(&sim, &format!("/v1/dashboard/spectroclusters/{uid}")).await,
        "raw Palette object"
    );
    let profiles = get_json(&app, &format!("/clusters/{uid}/profiles")).await;
    let pack = &profiles["profiles"][0]["spec"]["packs"][0]["spec"];
    assert!(
        pack["values"].is_string() && pack["schema"].is_array() && pack["presets"].is_array(),
        "{pack}"
    );

    let projects = get_json(&app, "/projects").await;
    assert_eq!(projects["projects"].as_array().unwrap().len(), 3);
    assert!(projects["projects"][0]["specSummary"].is_object());
    let mine = get_json(&app, "/users/me/projects").await;
    assert_eq!(mine["projects"].as_array().unwrap().len(), 3);
    assert!(mine["projects"][0]["uid"].is_string() && mine["projects"][0]["name"].is_string());

    // Profiles: any version uid, packs of another version, variables.
    let version_uid = detail["spec"]["clusterProfileTemplates"][0]["uid"]
        .as_str()
        .unwrap();
    let profile = get_json(&app, &format!("/profiles/{version_uid}")).await;
    assert_eq!(profile["metadata"]["uid"], version_uid);
    let versions: Vec<String> = profile["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["uid"].as_str().unwrap().to_string())
        .collect();
    let other = versions.iter().find(|v| *v != version_uid).unwrap();
    let packs = get_json(
        &app,
        &format!("/profiles/{version_uid}/packs?versionUid={other}"),
    )
    .await;
    assert_eq!(packs["metadata"]["uid"], other.as_str());
    assert!(packs["spec"]["published"]["packs"][0]["values"].is_string());
    let vars = get_json(&app, &format!("/profiles/{version_uid}/variables")).await;
    assert!(
        vars["variables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "cluster_owner")
    );

    // Search: exact names, case-insensitive.
    let resp = app
        .client
        .post(app.url("/profiles/search"))
        .json(&json!({"names": ["EKS-INFRA", "nope"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let found = json(resp).await;
    let names: Vec<&str> = found["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["eks-infra"]);
    assert!(found["profiles"][0]["specSummary"]["versions"].is_array());

    // Project profiles: infra and cluster by default; filters.
    let alice = sim_user(&sim, "alice@acme.example").await;
    let project = alice["projects"][0].as_str().unwrap();
    let default = get_json(&app, &format!("/projects/{project}/profiles")).await;
    let types: BTreeSet<&str> = default["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["specSummary"]["published"]["type"].as_str().unwrap())
        .collect();
    assert!(
        !types.is_empty() && types.iter().all(|t| *t == "infra" || *t == "cluster"),
        "{types:?}"
    );
    let addons = get_json(
        &app,
        &format!("/projects/{project}/profiles?profileType=add-on"),
    )
    .await;
    let addon_names: Vec<&str> = addons["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(
        addon_names
            .iter()
            .filter(|n| **n == "shared-addons")
            .count()
            == 2,
        "tenant and project profile of the same name: {addon_names:?}"
    );
    let eks = get_json(&app, &format!("/projects/{project}/profiles?cloudType=eks")).await;
    assert!(
        eks["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["specSummary"]["published"]["cloudType"] == "eks")
    );

    // Cloud accounts without secrets.
    let aws = get_json(&app, "/cloudaccounts/aws").await;
    let accounts = aws["accounts"].as_array().unwrap();
    assert!(!accounts.is_empty());
    assert!(
        accounts
            .iter()
            .all(|a| a["spec"].get("secretKey").is_none() && a["spec"].get("accessKey").is_none())
    );
    let account_uid = accounts[0]["metadata"]["uid"].as_str().unwrap();
    let one = get_json(&app, &format!("/cloudaccounts/aws/{account_uid}")).await;
    assert_eq!(one["metadata"]["uid"], account_uid);
    assert!(one["spec"].get("secretKey").is_none());
    let azure = get_json(&app, "/cloudaccounts/azure").await;
    assert!(
        azure["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["spec"].get("clientSecret").is_none())
    );

    let overlords = get_json(&app, "/overlords").await;
    assert_eq!(overlords["items"].as_array().unwrap().len(), 2);

    // Virtual clusters and cluster groups.
    let virtuals = get_json(&app, "/virtualclusters").await;
    let vuid = virtuals["virtualClusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap();
    let vdetail = get_json(&app, &format!("/virtualclusters/{vuid}")).await;
    assert_eq!(vdetail["metadata"]["uid"], vuid);
    assert_error(
        app.get(&format!("/virtualclusters/{uid}")).await,
        404,
        "not_found",
    )
    .await;
    let groups = get_json(&app, "/clustergroups").await;
    let guid = groups["items"][0]["metadata"]["uid"].as_str().unwrap();
    let group = get_json(&app, &format!("/clustergroups/{guid}")).await;
    assert!(group["spec"]["clusterRefs"].is_array());
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn limit_and_offset_page_list_answers() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let all = uids(&get_json(&app, "/clusters").await["clusters"]);
    let page = uids(&get_json(&app, "/clusters?limit=5&offset=5").await["clusters"]);
    assert_eq!(page, all[5..10].to_vec());
    let tail = uids(&get_json(&app, "/clusters?offset=20").await["clusters"]);
    assert_eq!(tail, all[20..].to_vec());
    assert_error(app.get("/clusters?limit=-1").await, 400, "bad_request").await;
    assert_error(app.get("/clusters?limit=ten").await, 400, "bad_request").await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn reverse_lookup_follows_version_uids_not_names() {
    let (sim, app) = synced(
        SimConfig {
            sizes: sizes(3, 120, 12),
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    // Ground truth from Palette: cluster → version uids.
    let meta = sim_get(&sim, "/v1/dashboard/spectroclusters/meta").await;
    let mut on_version: Vec<(String, String)> = Vec::new();
    for m in meta.as_array().unwrap() {
        let uid = m["metadata"]["uid"].as_str().unwrap();
        let full = sim_get(&sim, &format!("/v1/spectroclusters/{uid}")).await;
        for t in full["spec"]["clusterProfileTemplates"].as_array().unwrap() {
            on_version.push((uid.to_string(), t["uid"].as_str().unwrap().to_string()));
        }
    }
    let found = app
        .client
        .post(app.url("/profiles/search"))
        .json(&json!({"names": ["shared-addons"]}))
        .send()
        .await
        .unwrap();
    let found = json(found).await;
    let profiles = found["profiles"].as_array().unwrap();
    assert_eq!(
        profiles.len(),
        2,
        "one tenant and one project profile share the name"
    );
    for p in profiles {
        let versions: BTreeSet<String> = p["specSummary"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["uid"].as_str().unwrap().to_string())
            .collect();
        let expected: BTreeSet<String> = on_version
            .iter()
            .filter(|(_, v)| versions.contains(v))
            .map(|(c, _)| c.clone())
            .collect();
        // Asked through the OLDEST version's uid: the whole profile answers.
        let oldest = p["specSummary"]["versions"][0]["uid"].as_str().unwrap();
        let answer = get_json(&app, &format!("/profiles/{oldest}/clusters")).await;
        let got: BTreeSet<String> = answer["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["uid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            got, expected,
            "profile {} ({})",
            p["metadata"]["uid"], p["metadata"]["annotations"]["scope"]
        );
        assert_eq!(answer["total"].as_u64().unwrap() as usize, expected.len());
        assert_eq!(answer["profile"]["uid"], p["metadata"]["uid"]);
        for c in answer["clusters"].as_array().unwrap() {
            assert!(versions.contains(c["profileVersionUid"].as_str().unwrap()));
            assert!(
                c["state"].is_string()
                    && c["cloudType"].is_string()
                    && c["profileVersion"].is_string()
            );
        }
    }
    // Reports agree with the ground truth.
    let usage = get_json(&app, "/reports/profile-usage").await;
    let total: i64 = usage["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["clusters"].as_i64().unwrap())
        .sum();
    assert_eq!(total as usize, on_version.len());
    let packs = get_json(&app, "/reports/pack-usage?name=kubernetes").await;
    for p in packs["packs"].as_array().unwrap() {
        // The name takes its family: kubernetes, kubernetes-eks, kubernetes-aks.
        let name = p["name"].as_str().unwrap();
        assert!(
            name == "kubernetes" || name.starts_with("kubernetes-"),
            "{name}"
        );
        assert_eq!(
            p["clusterUids"].as_array().unwrap().len() as i64,
            p["clusters"].as_i64().unwrap()
        );
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_before_palette() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    sim_control(&sim, Method::DELETE, "/counters", None).await;
    assert_error(
        app.get("/clusters?instance=nowhere").await,
        404,
        "unknown_instance",
    )
    .await;
    assert_error(
        app.get("/clusters/not%20a%20uid/kubeconfig").await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        app.get("/clusters/..%2F..%2Fetc/kubeconfig").await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        app.get("/clusters/aaaa/kubeconfig?projectUid=x%3By").await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        app.get("/cloudaccounts/vsphere/abc/computecluster/resources?datacenter=dc")
            .await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        app.get("/projects/aaaaaaaaaaaaaaaaaaaaaaaa/profiles?profileType=bogus")
            .await,
        400,
        "bad_request",
    )
    .await;
    let resp = app
        .client
        .post(app.url("/profiles/search"))
        .json(&json!({"names": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(resp, 400, "bad_request").await,
        "names array is required in request body"
    );
    let resp = app
        .client
        .post(app.url("/profiles/search"))
        .json(&json!({"other": 1}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "bad_request").await;
    let resp = app
        .client
        .post(app.url("/profiles/search"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "invalid_json").await;
    let resp = app
        .client
        .post(app.url("/clusters"))
        .json(&json!({"metadata": {"name": "x"}, "spec": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(resp, 400, "bad_request").await,
        "Invalid cluster configuration: cloudType is required"
    );
    let resp = app
        .client
        .post(app.url("/clusters"))
        .json(&json!({"metadata": {"name": "x"}, "spec": {"cloudType": "gcp"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(resp, 400, "bad_request").await,
        "Unsupported cloud type: gcp"
    );
    let resp = app
        .client
        .post(app.url("/virtualclusters"))
        .json(&json!({"clusterConfig": {"metadata": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(resp, 400, "bad_request").await,
        "Cluster name is required"
    );
    let resp = app
        .client
        .post(app.url("/virtualclusters"))
        .json(&json!({"clusterConfig": {"metadata": {"name": "v"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(resp, 400, "bad_request").await,
        "Cluster group UID is required"
    );
    assert!(
        sim_counters(&sim).await.is_empty(),
        "bad input reached Palette: {:?}",
        sim_counters(&sim).await
    );
    // Unknown objects: 404 from the mirror.
    for path in [
        "/clusters/ffffffffffffffffffffffff",
        "/profiles/ffffffffffffffffffffffff",
        "/cloudaccounts/aws/ffffffffffffffffffffffff",
        "/clustergroups/ffffffffffffffffffffffff",
    ] {
        assert_error(app.get(path).await, 404, "not_found").await;
    }
    // Wrong method on a known path.
    let resp = app
        .client
        .delete(app.url("/clusters"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "GET, POST");
    assert_error(resp, 405, "method_not_allowed").await;
    app.stop().await;
    sim.stop().await;
}

async fn first_running(app: &TestApp, nested: bool) -> String {
    let clusters = get_json(app, "/clusters").await;
    clusters["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["status"]["state"] == "Running" && (c["spec"]["cloudType"] == "nested") == nested
        })
        .unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn live_routes_pass_through() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let uid = first_running(&app, false).await;
    let resp = app.get(&format!("/clusters/{uid}/kubeconfig")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-yaml");
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"{uid}-kubeconfig.yaml\"").as_str()
    );
    assert_eq!(resp.headers()["x-spectrocloud-source"], "live");
    assert!(
        resp.text().await.unwrap().contains(".proxy.sim.example"),
        "frp defaults to true"
    );
    for (q, proxied) in [
        ("?frp=false", false),
        ("?frp=true", true),
        ("?frp=no", true),
    ] {
        let body = app
            .get(&format!("/clusters/{uid}/kubeconfig{q}"))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(body.contains(".proxy.sim.example"), proxied, "{q}");
    }
    let vuid = first_running(&app, true).await;
    let resp = app
        .get(&format!("/virtualclusters/{vuid}/kubeconfig"))
        .await;
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"{vuid}-vcluster-kubeconfig.yaml\"").as_str()
    );

    // A pack manifest of the cluster.
    let profiles = get_json(&app, &format!("/clusters/{uid}/profiles")).await;
    let manifest = profiles["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["spec"]["packs"].as_array().unwrap().iter())
        .flat_map(|p| p["spec"]["manifests"].as_array().unwrap().iter())
        .next()
        .map(|m| m["uid"].as_str().unwrap().to_string());
    if let Some(m) = manifest {
        let resp = app
            .get(&format!("/clusters/{uid}/pack/manifests/{m}"))
            .await;
        assert_eq!(resp.headers()["x-spectrocloud-source"], "live");
        assert!(json(resp).await["spec"]["published"]["content"].is_string());
    }
    assert_error(
        app.get(&format!(
            "/clusters/{uid}/pack/manifests/ffffffffffffffffffffffff"
        ))
        .await,
        404,
        "not_found",
    )
    .await;

    let vs = get_json(&app, "/cloudaccounts/vsphere").await["accounts"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let dcs = get_json(&app, &format!("/cloudaccounts/vsphere/{vs}/metadata")).await;
    assert!(dcs["items"][0]["computeclusters"].is_array());
    let res = get_json(&app, &format!("/cloudaccounts/vsphere/{vs}/computecluster/resources?datacenter=dc-1&computecluster=cluster-a")).await;
    assert_eq!(res["computecluster"]["name"], "cluster-a");
    let keys = get_json(&app, "/users/sshkeys").await;
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["spec"]["publicKey"].is_string())
    );
    let ov = get_json(&app, "/overlords").await["items"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let pools = get_json(&app, &format!("/overlords/vsphere/{ov}/pools")).await;
    assert!(pools["items"][0]["spec"]["pool"]["subnet"].is_string());
    // Clouds that are not mirrored are asked live.
    assert_error(app.get("/cloudaccounts/gcp").await, 404, "not_found").await;
    assert_error(
        app.get("/cloudaccounts/gcp/aaaaaaaaaaaaaaaaaaaaaaaa").await,
        404,
        "not_found",
    )
    .await;
    assert!(
        sim_counters(&sim)
            .await
            .contains_key("GET /v1/cloudaccounts/{cloud}/{uid}"),
        "asked live"
    );
    assert!(
        sim_counters(&sim)
            .await
            .contains_key("GET /v1/cloudaccounts/{cloud}")
    );

    // A cluster that is not running has no kubeconfig yet.
    let pending = get_json(&app, "/clusters").await["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"]["state"] == "Pending" || c["status"]["state"] == "Provisioning")
        .map(|c| c["metadata"]["uid"].as_str().unwrap().to_string());
    if let Some(p) = pending {
        assert_error(
            app.get(&format!("/clusters/{p}/kubeconfig")).await,
            404,
            "not_found",
        )
        .await;
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn creation_goes_to_palette_and_shows_at_once() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let aws = get_json(&app, "/cloudaccounts/aws").await["accounts"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let project = sim_user(&sim, "alice@acme.example").await["projects"][0]
        .as_str()
        .unwrap()
        .to_string();
    let version: String = sqlx::query_scalar(q(
        "SELECT uid FROM profile_versions WHERE env = 'env0' AND cloud_type = 'aws' LIMIT 1",
    ))
    .fetch_one(&app.mirror().await)
    .await
    .unwrap();
    let body = json!({
        "metadata": {"name": "created-by-test"},
        "spec": {"cloudType": "aws", "cloudAccountUid": aws, "cloudConfig": {"region": "us-east-1"},
                 "machinepoolconfig": [
                     {"cloudConfig": {"instanceType": "m5.large"}, "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}},
                     {"cloudConfig": {"instanceType": "m5.large"}, "poolConfig": {"name": "w", "size": 1, "labels": ["worker"]}}],
                 "profiles": [{"uid": version}]}
    });
    let resp = app
        .client
        .post(app.url(&format!("/clusters?projectUid={project}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let uid = json(resp).await["uid"].as_str().unwrap().to_string();
    let listed = get_json(&app, "/clusters").await;
    assert!(
        uids(&listed["clusters"]).contains(&uid),
        "write-through: visible before the next sync"
    );
    // Palette's own validation comes back as 400 with its message; a duplicate name as 409.
    let resp = app
        .client
        .post(app.url(&format!("/clusters?projectUid={project}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(resp, 409, "conflict").await;
    // A refusal only Palette makes (our checks do not look cluster groups up): its 400 and message.
    let bad = json!({"metadata": {"name": "no-such-group"}, "spec": {"cloudType": "nested",
        "clusterConfig": {"hostClusterConfig": {"clusterGroup": {"uid": "ffffffffffffffffffffffff"}}}}});
    let resp = app
        .client
        .post(app.url("/clusters"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert!(
        assert_error(resp, 400, "bad_request")
            .await
            .contains("cluster group ffffffffffffffffffffffff")
    );
    // Virtual cluster
    let group = get_json(&app, "/clustergroups").await["items"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let vbody = json!({"clusterConfig": {"metadata": {"name": "v-test"}, "spec": {"cloudType": "nested", "cloudAccountUid": "",
        "clusterConfig": {"hostClusterConfig": {"clusterGroup": {"kind": "ClusterGroup", "name": "g", "uid": group}}}, "cloudConfig": {}, "profiles": []}}});
    let resp = app
        .client
        .post(app.url(&format!("/virtualclusters?projectUid={project}")))
        .json(&vbody)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // nested through POST /clusters dispatches to the virtual endpoint too
    let mut nested = vbody["clusterConfig"].clone();
    nested["metadata"]["name"] = json!("v-test-2");
    let resp = app
        .client
        .post(app.url(&format!("/clusters?projectUid={project}")))
        .json(&nested)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let counters = sim_counters(&sim).await;
    let creations: u64 = counters
        .iter()
        .filter(|(k, _)| k.starts_with("POST /v1/spectroclusters/"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(creations, 5, "{counters:?}");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn each_palette_user_sees_only_their_projects() {
    let (sim, app) = synced(SimConfig::default(), |c| c.auth.user_scope_ttl_seconds = 0).await;
    let alice = sim_user(&sim, "alice@acme.example").await;
    let bob = sim_user(&sim, "bob@acme.example").await;
    let all = get_json(&app, "/clusters").await;
    let as_user = |u: &Value| {
        let token = u["token"].as_str().unwrap().to_string();
        let email = u["email"].as_str().unwrap().to_string();
        let app = &app;
        move |path: &'static str| {
            let token = token.clone();
            let email = email.clone();
            async move {
                let resp = app
                    .client
                    .get(app.url(path))
                    .header("X-SpectroCloud-Token", token)
                    .header("X-SpectroCloud-User-Email", email)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{path}");
                assert!(
                    resp.headers()
                        .get("x-spectrocloud-reauth-required")
                        .is_none()
                );
                json(resp).await
            }
        }
    };
    let alice_get = as_user(&alice);
    let bob_get = as_user(&bob);
    let alice_projects: BTreeSet<String> = alice["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let bob_projects: BTreeSet<String> = bob["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let project_of = |c: &Value| {
        c["metadata"]["annotations"]["projectUid"]
            .as_str()
            .map(str::to_string)
    };
    let expect = |projects: &BTreeSet<String>, tenant: bool| -> BTreeSet<String> {
        all["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| match project_of(c) {
                Some(p) => projects.contains(&p),
                None => tenant,
            })
            .map(|c| c["metadata"]["uid"].as_str().unwrap().to_string())
            .collect()
    };
    let a: BTreeSet<String> = uids(&alice_get("/clusters").await["clusters"])
        .into_iter()
        .collect();
    let b: BTreeSet<String> = uids(&bob_get("/clusters").await["clusters"])
        .into_iter()
        .collect();
    assert_eq!(
        a,
        expect(&alice_projects, false),
        "alice: her project, no tenant clusters"
    );
    assert_eq!(
        b,
        expect(&bob_projects, true),
        "bob: his projects and tenant clusters (cluster.list)"
    );
    assert!(!a.is_empty() && !b.is_empty() && a.is_disjoint(&b));
    let ap: Vec<String> = alice_get("/users/me/projects").await["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ap.into_iter().collect::<BTreeSet<_>>(), alice_projects);
    assert_eq!(uids(&alice_get("/projects").await["projects"]).len(), 1);
    // Tenant profiles are usable in every project: a project member reads them.
    let tenant_profile = json(
        app.client
            .post(app.url("/profiles/search"))
            .json(&json!({"names": ["eks-infra"]}))
            .send()
            .await
            .unwrap(),
    )
    .await["profiles"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = app
        .client
        .get(app.url(&format!("/profiles/{tenant_profile}/variables")))
        .header("X-SpectroCloud-Token", alice["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A cluster of bob's is not found for alice.
    let bobs = b.iter().next().unwrap();
    let resp = app
        .client
        .get(app.url(&format!("/clusters/{bobs}")))
        .header("X-SpectroCloud-Token", alice["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "not_found").await;
    // The scope is stored: it still applies while Palette is unreachable.
    set_knobs(&sim, json!({"outage": true})).await;
    let a2: BTreeSet<String> = uids(&alice_get("/clusters").await["clusters"])
        .into_iter()
        .collect();
    assert_eq!(a2, a);
    // A user never seen before cannot be scoped while Palette is down: refused, not widened.
    let carol = sim_user(&sim, "carol@acme.example").await;
    let resp = app
        .client
        .get(app.url("/clusters"))
        .header("X-SpectroCloud-Token", carol["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_error(resp, 503, "palette_unreachable").await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn palette_down_mirror_answers_stale_and_live_routes_fail_honestly() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        c.sync.max_retries = 0;
        c.sync.request_timeout_seconds = 1;
        // A throttled call waits its turn until this deadline, then answers 429.
        c.environments[0].rate_limits.interactive_deadline_seconds = 1;
    })
    .await;
    let uid = first_running(&app, false).await;
    set_knobs(&sim, json!({"outage": true})).await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "failed");
    for path in ["/clusters", "/projects", "/overlords", "/virtualclusters"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["x-spectrocloud-stale"], "true", "{path}");
        assert_mirror_headers(&resp);
    }
    let detail = app.get(&format!("/clusters/{uid}")).await;
    assert_eq!(detail.status(), 200);
    assert_error(
        app.get(&format!("/clusters/{uid}/kubeconfig")).await,
        503,
        "palette_unreachable",
    )
    .await;
    assert_error(app.get("/users/sshkeys").await, 503, "palette_unreachable").await;
    // Slow Palette: 504.
    set_knobs(&sim, json!({"outage": false, "latency_ms": 1500})).await;
    assert_error(
        app.get(&format!("/clusters/{uid}/kubeconfig")).await,
        504,
        "palette_timeout",
    )
    .await;
    // Throttled: 429 with Retry-After.
    set_knobs(&sim, json!({"latency_ms": 0, "rate_limit": 1})).await;
    let _ = app.get("/users/sshkeys").await;
    let resp = app.get("/users/sshkeys").await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_error(resp, 429, "throttled").await;
    // Palette errors: 502.
    set_knobs(&sim, json!({"rate_limit": 0, "error_rate": 1.0})).await;
    assert_error(app.get("/users/sshkeys").await, 502, "palette_error").await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn no_data_yet_and_palette_unreachable_is_503() {
    let sim = spawn_sim().await;
    set_knobs(&sim, json!({"outage": true})).await;
    let app = spawn_app_for(&[&sim], |c| c.sync.max_retries = 0).await;
    let resp = app.get("/clusters").await;
    assert!(resp.headers().contains_key("retry-after"));
    let msg = assert_error(resp, 503, "not_synced").await;
    assert!(msg.contains("env0") && msg.contains("unreachable"), "{msg}");
    // Palette back: after a sync, reads answer.
    set_knobs(&sim, json!({"outage": false})).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let resp = app.get("/clusters").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["clusters"].as_array().unwrap().len(), 25);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn two_environments_are_selected_by_instance() {
    let a = spawn_sim().await;
    let b = spawn_sim_with(SimConfig {
        sizes: sizes(2, 12, 8),
        seed: 5,
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&a, &b], |_| {}).await;
    app.sync("env0").await;
    app.sync("env1").await;
    assert_eq!(
        get_json(&app, "/clusters").await["clusters"]
            .as_array()
            .unwrap()
            .len(),
        25,
        "first is the default"
    );
    assert_eq!(
        get_json(&app, "/clusters?instance=env0").await["clusters"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    assert_eq!(
        get_json(&app, "/clusters?instance=env1").await["clusters"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
    app.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let app = spawn_app().await;
    let doc = get_json(&app, "/openapi.json").await;
    for r in spectrocloud_backend::api::routes::ROUTES {
        assert!(
            doc["paths"][r.path][r.method.to_ascii_lowercase()].is_object(),
            "{} {}",
            r.method,
            r.path
        );
    }
    app.stop().await;
}

#[test]
fn the_documented_route_table_matches_the_code() {
    use spectrocloud_backend::api::routes::{Access, ROUTES};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/http-api.md");
    let doc = std::fs::read_to_string(path).unwrap();
    for r in ROUTES {
        let access = match r.access {
            Access::Public => "none (unauthenticated)".to_string(),
            Access::Authenticated => "any authenticated caller".to_string(),
            Access::Permission(p) => format!("`{}`", p.id()),
        };
        let source = format!("{:?}", r.source).to_lowercase();
        let row = format!("| {} | `{}` | {} | {} |", r.method, r.path, access, source);
        assert!(doc.contains(&row), "docs/http-api.md lacks the row:\n{row}");
    }
}

#[tokio::test]
async fn demo_serves_data_within_ten_seconds() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["demo", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut base = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.strip_prefix("spectrocloud-backend demo at ") {
            base = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let base = base.expect("demo prints its URL");
    let client = http_client();
    loop {
        if let Ok(resp) = client.get(format!("{base}/clusters")).send().await
            && resp.status() == StatusCode::OK
        {
            let v: Value = resp.json().await.unwrap();
            if !v["clusters"].as_array().unwrap().is_empty() {
                break;
            }
        }
        assert!(started.elapsed().as_secs() < 10, "no data within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.start_kill();
}

#[tokio::test]
async fn a_burst_of_reads_while_palette_is_down_starts_one_sync() {
    let sim = spawn_sim().await;
    set_knobs(&sim, json!({"outage": true})).await;
    let app = spawn_app_for(&[&sim], |c| c.sync.max_retries = 0).await;
    for _ in 0..6 {
        assert_error(app.get("/clusters").await, 503, "not_synced").await;
    }
    let pool = app.mirror().await;
    let runs = count(
        &pool,
        "SELECT count(*) FROM sync_runs WHERE env = ?",
        "env0",
    )
    .await;
    assert_eq!(runs, 1, "reads must not start a run each");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn cors_lets_a_backstage_origin_in() {
    let app = spawn_app_with(|c| {
        c.server.cors_allowed_origins = vec!["https://backstage.example.com".into()]
    })
    .await;
    let client = http_client();
    let resp = client
        .request(Method::OPTIONS, app.url("/clusters"))
        .header("Origin", "https://backstage.example.com")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "authorization, x-spectrocloud-token",
        )
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "preflight answered before authentication: {}",
        resp.status()
    );
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://backstage.example.com"
    );
    let resp = client
        .get(app.url("/health"))
        .header("Origin", "https://backstage.example.com")
        .send()
        .await
        .unwrap();
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("x-spectrocloud-reauth-required"),
        "{exposed}"
    );
    let resp = client
        .get(app.url("/health"))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

#[tokio::test]
async fn metrics_describe_sync_mirror_and_requests() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    app.get("/clusters").await;
    let resp = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    for line in [
        "spectrocloud_sync_stale{environment=\"env0\"} 0",
        "spectrocloud_mirror_objects{environment=\"env0\",kind=\"clusters\"} 25",
        "spectrocloud_sync_runs_total{environment=\"env0\",outcome=\"success\"} 1",
        "spectrocloud_http_requests_total{method=\"GET\",route=\"/api/spectrocloud/clusters\",status=\"200\"} 1",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.contains("spectrocloud_palette_requests_total{environment=\"env0\"}"));
    app.stop().await;
    sim.stop().await;
}

/// A list answer's items keyed by uid (order aside, the mirror and Palette must agree).
fn by_uid(answer: &Value, key: &str) -> std::collections::BTreeMap<String, Value> {
    answer[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` list in {answer}"))
        .iter()
        .map(|i| {
            let uid = i["metadata"]["uid"]
                .as_str()
                .or_else(|| i["uid"].as_str())
                .expect("uid");
            (uid.to_string(), i.clone())
        })
        .collect()
}

#[tokio::test]
async fn before_the_first_sync_reads_go_through_to_palette() {
    // `synced`: the same Palette, mirrored, gives the expected answers.
    let (sim, synced) = synced(SimConfig::default(), |_| {}).await;
    let clusters = get_json(&synced, "/clusters").await;
    let uid = clusters["clusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let vuid = get_json(&synced, "/virtualclusters").await["virtualClusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let project = get_json(&synced, "/projects").await["projects"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let group = get_json(&synced, "/clustergroups").await["items"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let account = get_json(&synced, "/cloudaccounts/aws").await["accounts"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let profiles = get_json(&synced, &format!("/projects/{project}/profiles")).await;
    let profile = profiles["profiles"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let profile_name = profiles["profiles"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_uppercase();

    // `cold`: its first sync cannot finish (each call slow, the run cut at 1 s), so it has no
    // mirror; Palette answers, so it reads through rather than failing.
    set_knobs(&sim, json!({"latency_ms": 300})).await;
    let cold = spawn_app_for(&[&sim], |c| {
        c.sync.run_timeout_seconds = 1;
        c.sync.max_retries = 0;
    })
    .await;
    let lists = [
        ("/clusters".to_string(), "clusters"),
        ("/virtualclusters".to_string(), "virtualClusters"),
        ("/projects".to_string(), "projects"),
        ("/users/me/projects".to_string(), "projects"),
        ("/clustergroups".to_string(), "items"),
        ("/overlords".to_string(), "items"),
        ("/cloudaccounts/aws".to_string(), "accounts"),
        (format!("/projects/{project}/profiles"), "profiles"),
        (
            format!("/projects/{project}/profiles?profileType=add-on"),
            "profiles",
        ),
    ];
    for (path, key) in &lists {
        let resp = cold.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        assert_eq!(resp.headers()["x-spectrocloud-source"], "live", "{path}");
        assert!(!resp.headers().contains_key("x-spectrocloud-synced-at"));
        let live = json(resp).await;
        let mirror = get_json(&synced, path).await;
        assert!(!by_uid(&mirror, key).is_empty(), "{path}: {mirror}");
        assert_eq!(by_uid(&live, key), by_uid(&mirror, key), "{path}");
    }
    let objects = [
        format!("/clusters/{uid}"),
        format!("/clusters/{uid}/profiles"),
        format!("/virtualclusters/{vuid}"),
        format!("/clustergroups/{group}"),
        format!("/cloudaccounts/aws/{account}"),
        format!("/profiles/{profile}"),
        format!("/profiles/{profile}/packs"),
        format!("/profiles/{profile}/variables"),
    ];
    for path in &objects {
        let resp = cold.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        assert_eq!(resp.headers()["x-spectrocloud-source"], "live", "{path}");
        assert_eq!(json(resp).await, get_json(&synced, path).await, "{path}");
    }
    // Search, paging and 404s behave as on the mirror.
    let search = |app: &TestApp| {
        app.client
            .post(app.url("/profiles/search"))
            .json(&json!({"names": [profile_name.clone()]}))
            .send()
    };
    let live = json(search(&cold).await.unwrap()).await;
    assert!(!by_uid(&live, "profiles").is_empty(), "{live}");
    assert_eq!(
        by_uid(&live, "profiles"),
        by_uid(&json(search(&synced).await.unwrap()).await, "profiles")
    );
    let page = get_json(&cold, "/clusters?limit=2&offset=1").await;
    assert_eq!(page["clusters"].as_array().unwrap().len(), 2);
    let missing = "0123456789abcdef01234567";
    assert_error(
        cold.get(&format!("/clusters/{missing}")).await,
        404,
        "not_found",
    )
    .await;
    // Not a virtual cluster: 404, as on the mirror.
    assert_error(
        cold.get(&format!("/virtualclusters/{uid}")).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        cold.get(&format!("/projects/{missing}/profiles")).await,
        404,
        "not_found",
    )
    .await;
    // Only the mirror can answer these.
    for path in [
        format!("/profiles/{profile}/clusters"),
        "/reports/profile-usage".to_string(),
    ] {
        assert_error(cold.get(&path).await, 503, "not_synced").await;
    }
    // Palette gone before any sync succeeded: 503 `not_synced`, not an empty answer.
    set_knobs(&sim, json!({"latency_ms": 0, "outage": true})).await;
    assert_error(cold.get("/clusters").await, 503, "not_synced").await;
    assert_error(
        cold.get(&format!("/clusters/{uid}")).await,
        503,
        "not_synced",
    )
    .await;
    cold.stop().await;
    synced.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn read_through_is_scoped_to_the_palette_user() {
    let sim = spawn_sim().await;
    let alice = sim_user(&sim, "alice@acme.example").await;
    let all_clusters = sim_get(&sim, "/v1/dashboard/spectroclusters/meta").await;
    set_knobs(&sim, json!({"latency_ms": 300})).await;
    let cold = spawn_app_for(&[&sim], |c| {
        c.sync.run_timeout_seconds = 1;
        c.sync.max_retries = 0;
    })
    .await;
    let resp = cold
        .client
        .get(cold.url("/clusters"))
        .header("X-SpectroCloud-Token", alice["token"].as_str().unwrap())
        .header("X-SpectroCloud-User-Email", "alice@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-spectrocloud-source"], "live");
    let seen = json(resp).await;
    let projects: BTreeSet<&str> = alice["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let list = seen["clusters"].as_array().unwrap();
    assert!(!list.is_empty());
    for c in list {
        let p = c["metadata"]["annotations"]["projectUid"].as_str();
        assert!(
            p.is_some_and(|p| projects.contains(p)),
            "alice sees a cluster outside her projects: {c}"
        );
    }
    let total = all_clusters
        .as_array()
        .or_else(|| all_clusters["items"].as_array())
        .map(Vec::len)
        .unwrap_or(0);
    assert!(list.len() < total, "alice must not see every cluster");
    let mine = get_json(&cold, "/users/me/projects").await;
    assert!(!mine["projects"].as_array().unwrap().is_empty());
    cold.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn project_uid_scopes_mirror_details_as_palette_would() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let projects = get_json(&app, "/projects").await;
    let ps = uids(&projects["projects"]);
    let (mine, other) = (&ps[0], &ps[1]);
    let listed = get_json(
        &app,
        &format!("/projects/{mine}/profiles?profileType=add-on"),
    )
    .await;
    let owned = listed["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            get_json(&app, &format!("/projects/{mine}/profiles")).await["profiles"]
                .as_array()
                .unwrap()
                .iter(),
        )
        .find(|p| p["metadata"]["annotations"]["projectUid"].as_str() == Some(mine.as_str()))
        .cloned()
        .expect("a profile owned by the project");
    let uid = owned["metadata"]["uid"].as_str().unwrap();
    for route in ["", "/packs", "/variables"] {
        let path = format!("/profiles/{uid}{route}");
        assert_eq!(app.get(&path).await.status(), 200, "{path}");
        assert_eq!(
            app.get(&format!("{path}?projectUid={mine}")).await.status(),
            200,
            "{path}"
        );
        assert_error(
            app.get(&format!("{path}?projectUid={other}")).await,
            404,
            "not_found",
        )
        .await;
        assert_error(
            app.get(&format!("{path}?projectUid=no!")).await,
            400,
            "bad_request",
        )
        .await;
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn late_reads_during_a_long_first_sync_do_not_wait_again() {
    let sim = spawn_sim().await;
    let meta = sim_get(&sim, "/v1/dashboard/spectroclusters/meta").await;
    let uid = meta
        .as_array()
        .or_else(|| meta["items"].as_array())
        .and_then(|a| a.first())
        .and_then(|c| c["metadata"]["uid"].as_str())
        .unwrap()
        .to_string();
    // Every Palette call takes 1.5 s: the first sync runs far longer than the 10 s a read
    // waits for it.
    set_knobs(&sim, json!({"latency_ms": 1500})).await;
    let app = spawn_app_for(&[&sim], |c| c.sync.max_retries = 0).await;
    let path = format!("/clusters/{uid}");
    let resp = app.get(&path).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-spectrocloud-source"], "live");
    // The run is now older than the wait: the next read goes straight through (one 1.5 s call),
    // not through another 10 s wait.
    let started = std::time::Instant::now();
    let resp = app.get(&path).await;
    assert_eq!(resp.status(), 200);
    // Under load the progressive sync may have applied this cluster's details by now: a mirror
    // answer is as good, as long as it did not wait again.
    let source = resp.headers()["x-spectrocloud-source"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(source == "live" || source == "mirror", "{source}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(7),
        "waited {:?}",
        started.elapsed()
    );
    app.stop().await;
    sim.stop().await;
}

/// An unknown `?instance=` names the configured environments.
#[tokio::test]
async fn an_unknown_instance_lists_the_configured_ones() {
    let (a, b) = (spawn_sim().await, spawn_sim().await);
    let app = spawn_app_for(&[&a, &b], |_| {}).await;
    let body = json(app.get("/clusters?instance=prod").await).await;
    assert_eq!(body["code"], "unknown_instance", "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("`prod`") && message.contains("env0, env1"),
        "{body}"
    );
    app.stop().await;
    a.stop().await;
    b.stop().await;
}
