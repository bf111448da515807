//! Cluster creation per cloud type: the wizard's body translated and completed from
//! `create_defaults`, problems listed before Palette, Palette-shaped bodies unchanged,
//! `Idempotency-Key` honoured. The simulator's `/__sim/creations` shows what Palette received.

use serde_json::{Value, json};
use spectrocloud_backend::sim::SimConfig;

use crate::helpers::*;

/// A tenant account of `kind` and a profile version of `cloud`, from the mirror.
async fn fixtures(app: &TestApp, kind: &str, cloud: &str) -> (String, String) {
    let db = app.mirror().await;
    let account: String = sqlx::query_scalar(
        "SELECT uid FROM cloud_accounts WHERE env = 'env0' AND cloud_type = ? AND project_uid IS NULL LIMIT 1",
    )
    .bind(kind)
    .fetch_one(&db)
    .await
    .unwrap();
    let version: String = sqlx::query_scalar(
        "SELECT uid FROM profile_versions WHERE env = 'env0' AND cloud_type = ? LIMIT 1",
    )
    .bind(cloud)
    .fetch_one(&db)
    .await
    .unwrap();
    (account, version)
}

fn wizard(cloud: &str, name: &str, account: &str, version: &str) -> Value {
    json!({"metadata": {"name": name, "labels": {"team": "spectro__tag"}, "annotations": {"description": "d"}},
        "spec": {"cloudType": cloud, "cloudAccountUid": account,
            "cloudConfig": {"controlPlane": {}, "workerPools": [{"name": "worker-pool-1", "size": 1, "instanceType": "", "minSize": 1, "maxSize": 10}]},
            "profiles": [{"uid": version, "packValues": []}], "clusterConfig": {}, "policies": {}}})
}

async fn creations(sim: &SimServer) -> Vec<Value> {
    sim_control(sim, reqwest::Method::GET, "/creations", None)
        .await
        .as_array()
        .cloned()
        .unwrap()
}

async fn post(app: &TestApp, path: &str, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut r = app.client.post(app.url(path)).json(body);
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    r.send().await.unwrap()
}

async fn problems(resp: reqwest::Response) -> Vec<String> {
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "invalid_cluster_spec", "{v}");
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_string())
        .collect()
}

fn defaults(c: &mut spectrocloud_backend::config::Config, cloud: &str, kv: Value) {
    let table = kv.as_object().unwrap().clone().into_iter().collect();
    c.environments[0]
        .create_defaults
        .insert(cloud.into(), table);
}

/// One cloud: wizard body + defaults → 201 with the expected Palette body; without defaults →
/// 400 naming `missing`, simulator not called.
async fn wizard_case(cloud: &str, kind: &str, dflt: Value, missing: &[&str], expected: Value) {
    let cfg = dflt.clone();
    let (sim, app) = synced(SimConfig::default(), |c| defaults(c, cloud, cfg)).await;
    let (account, version) = fixtures(&app, kind, cloud).await;
    let body = wizard(cloud, &format!("wiz-{cloud}"), &account, &version);
    let resp = post(&app, "/clusters", &body, None).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let got = creations(&sim).await;
    let sent = &got.last().unwrap()["body"];
    let mut want = json!({"metadata": body["metadata"], "spec": {"cloudType": cloud, "cloudAccountUid": account,
        "cloudConfig": dflt, "profiles": body["spec"]["profiles"], "clusterConfig": {}, "policies": {}, "machinepoolconfig": expected}});
    want["spec"]["cloudConfig"]
        .as_object_mut()
        .unwrap()
        .remove("instanceType");
    assert_eq!(sent, &want);
    app.stop().await;

    let app = spawn_app_for(&[&sim], |_| {}).await;
    app.sync("env0").await;
    let before = creations(&sim).await.len();
    let fields = problems(post(&app, "/clusters", &body, None).await).await;
    for m in missing {
        assert!(fields.iter().any(|f| f == m), "{m} not in {fields:?}");
    }
    assert_eq!(
        creations(&sim).await.len(),
        before,
        "a refused body reached Palette"
    );
    app.stop().await;
    sim.stop().await;
}

fn worker(cc: Value) -> Value {
    json!({"cloudConfig": cc, "poolConfig": {"name": "worker-pool-1", "size": 1, "labels": ["worker"],
        "isControlPlane": false, "minSize": 1, "maxSize": 10}})
}

fn control_plane(cc: Value) -> Value {
    json!({"cloudConfig": cc, "poolConfig": {"name": "control-plane-pool", "size": 1,
        "labels": ["control-plane"], "isControlPlane": true}})
}

#[tokio::test]
async fn eks_wizard_body_is_translated_and_completed() {
    wizard_case(
        "eks",
        "aws",
        json!({"region": "us-east-1", "instanceType": "m5.large"}),
        &[
            "spec.cloudConfig.region",
            "spec.machinepoolconfig[0].cloudConfig.instanceType",
        ],
        json!([worker(json!({"instanceType": "m5.large"}))]),
    )
    .await;
}

#[tokio::test]
async fn aws_wizard_body_gets_a_control_plane() {
    wizard_case(
        "aws",
        "aws",
        json!({"region": "eu-west-1", "sshKeyName": "ops", "instanceType": "m5.large"}),
        &[
            "spec.cloudConfig.region",
            "spec.machinepoolconfig[0].cloudConfig.instanceType",
        ],
        json!([
            control_plane(json!({"instanceType": "m5.large"})),
            worker(json!({"instanceType": "m5.large"}))
        ]),
    )
    .await;
}

#[tokio::test]
async fn azure_and_aks_wizard_bodies_are_completed() {
    let az = json!({"subscriptionId": "sub", "resourceGroup": "rg", "location": "westeurope",
        "sshKey": "ssh-ed25519 AAAA", "instanceType": "Standard_D4s_v3"});
    let missing = [
        "spec.cloudConfig.subscriptionId",
        "spec.cloudConfig.resourceGroup",
        "spec.cloudConfig.location",
        "spec.cloudConfig.sshKey",
    ];
    let it = json!({"instanceType": "Standard_D4s_v3"});
    wizard_case(
        "azure",
        "azure",
        az.clone(),
        &missing,
        json!([control_plane(it.clone()), worker(it.clone())]),
    )
    .await;
    let mut system = worker(it);
    system["managedPoolConfig"] = json!({"isSystemNodePool": true});
    wizard_case("aks", "azure", az, &missing, json!([system])).await;
}

fn vsphere_body(name: &str, account: &str, version: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"cloudType": "vsphere", "cloudAccountUid": account,
        "cloudConfig": {"placement": {"datacenter": "dc-1", "folder": "spectro", "imageTemplateFolder": "spectro-templates"},
                        "sshKeys": ["ssh-ed25519 AAAA"], "staticIp": false},
        "machinePoolConfig": [{"cloudConfig": {"instanceType": {"numCPUs": 4, "memoryMiB": 8192, "diskGiB": 60},
                "placements": [{"cluster": "c1", "datastore": "ds1", "resourcePool": "", "network": {"networkName": "VM Network", "staticIp": false}}]},
            "poolConfig": {"name": "control-plane-pool", "labels": ["control-plane"], "isControlPlane": true, "taints": [],
                "updateStrategy": {"type": "RollingUpdateScaleOut"}, "machinePoolProperties": {"archType": "amd64"}, "size": 1}}],
        "profiles": [{"uid": version, "packValues": []}]}})
}

#[tokio::test]
async fn vsphere_wizard_body_is_renamed_and_invalid_variants_are_named() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let (account, version) = fixtures(&app, "vsphere", "vsphere").await;
    let body = vsphere_body("wiz-vsphere", &account, &version);
    let resp = post(&app, "/clusters", &body, None).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let sent = creations(&sim).await.last().unwrap()["body"].clone();
    let mut want = body.clone();
    let pools = want["spec"]
        .as_object_mut()
        .unwrap()
        .remove("machinePoolConfig")
        .unwrap();
    want["spec"]["machinepoolconfig"] = pools;
    assert_eq!(
        sent, want,
        "vSphere: only the key is renamed; no cluster-level network needed"
    );

    let before = creations(&sim).await.len();
    let (aws_account, eks_version) = fixtures(&app, "aws", "eks").await;
    let mut bad = vsphere_body("bad", &aws_account, &eks_version);
    let pc = &mut bad["spec"]["machinePoolConfig"][0]["poolConfig"];
    pc["taints"] = json!([{"key": "k", "value": "v", "effect": "Sometimes"}]);
    pc["minSize"] = json!(5);
    pc["maxSize"] = json!(2);
    bad["spec"]["profiles"]
        .as_array_mut()
        .unwrap()
        .push(json!({"uid": "ffffffffffffffffffffffff"}));
    let fields = problems(post(&app, "/clusters", &bad, None).await).await;
    for f in [
        "spec.machinepoolconfig[0].poolConfig.taints[0].effect",
        "spec.machinepoolconfig[0].poolConfig.maxSize",
        "spec.cloudAccountUid",
        "spec.profiles[0].uid",
        "spec.profiles[1].uid",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
    }
    assert_eq!(creations(&sim).await.len(), before);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn palette_shaped_body_is_forwarded_unchanged_and_idempotent() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let (account, version) = fixtures(&app, "aws", "aws").await;
    let body = json!({"metadata": {"name": "tf-aws"}, "spec": {"cloudAccountUid": account, "cloudType": "aws",
        "cloudConfig": {"region": "us-west-2", "sshKeyName": "k"},
        "machinepoolconfig": [
            {"cloudConfig": {"instanceType": "m5.xlarge", "azs": ["us-west-2a"]},
             "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}},
            {"cloudConfig": {"instanceType": "m5.xlarge", "capacityType": "spot", "spotMarketOptions": {"maxPrice": "0.0"}},
             "poolConfig": {"name": "w", "size": 2, "labels": ["worker"]}}],
        "profiles": [{"uid": version}]}});
    let first = post(&app, "/clusters", &body, Some("submit-1")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["paletteBody"], body);
    let again = post(&app, "/clusters", &body, Some("submit-1")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["uid"], first["uid"]);
    let mut other = body.clone();
    other["metadata"]["name"] = json!("tf-aws-2");
    assert_error(
        post(&app, "/clusters", &other, Some("submit-1")).await,
        409,
        "conflict",
    )
    .await;
    let got = creations(&sim).await;
    let accepted: Vec<_> = got.iter().filter(|c| c["status"] == 201).collect();
    assert_eq!(accepted.len(), 1, "one creation for one key");
    assert_eq!(accepted[0]["body"], body);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn virtual_cluster_with_only_a_host_cluster_uid_is_accepted() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let host = {
        let d = sim.state.data.read().unwrap();
        d.cluster_groups
            .iter()
            .find_map(|g| g.host_cluster_uids.first().cloned())
            .unwrap()
    };
    let body = json!({"metadata": {"name": "v-host"}, "spec": {"cloudType": "nested",
        "clusterConfig": {"hostClusterConfig": {"hostCluster": {"uid": host}, "clusterEndpoint": {"type": "Ingress"}}},
        "machinePoolConfig": [{"cloudConfig": {"instanceType": {"minCPU": 4, "maxCPU": 4, "minMemInMiB": 8192, "maxMemInMiB": 8192, "minStorageGiB": 20, "maxStorageGiB": 20}}}]}});
    let resp = post(&app, "/clusters", &body, None).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let sent = creations(&sim).await.last().unwrap()["body"].clone();
    assert!(
        sent["spec"]["machinepoolconfig"].is_array() && sent["spec"].get("cloudConfig").is_none()
    );
    let mut bad = body.clone();
    bad["spec"]["clusterConfig"]["hostClusterConfig"]["clusterEndpoint"]["type"] =
        json!("NodePort");
    bad["spec"]["machinePoolConfig"][0]["cloudConfig"]["instanceType"]["minCPU"] = json!(8);
    let fields = problems(post(&app, "/clusters", &bad, None).await).await;
    assert!(
        fields.contains(&"spec.clusterConfig.hostClusterConfig.clusterEndpoint.type".to_string())
    );
    assert!(
        fields.contains(&"spec.machinepoolconfig[0].cloudConfig.instanceType.maxCPU".to_string())
    );
    app.stop().await;
    sim.stop().await;
}
