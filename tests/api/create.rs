//! Cluster creation per cloud type: the wizard's body translated and completed from
//! `create_defaults`, problems listed before Palette, Palette-shaped bodies unchanged,
//! `Idempotency-Key` honoured. The simulator's `/__sim/creations` shows what Palette received.

use palette_sim::SimConfig;
use serde_json::{Value, json};

use crate::helpers::*;

/// A tenant account of `kind` and a profile version of `cloud`, from the mirror.
async fn fixtures(app: &TestApp, kind: &str, cloud: &str) -> (String, String) {
    let db = app.mirror().await;
    let account: String = sqlx::query_scalar(q("SELECT uid FROM cloud_accounts WHERE env = 'env0' AND cloud_type = ? AND project_uid IS NULL LIMIT 1"))
    .bind(kind)
    .fetch_one(&db)
    .await
    .unwrap();
    let version: String = sqlx::query_scalar(q(
        "SELECT uid FROM profile_versions WHERE env = 'env0' AND cloud_type = ? LIMIT 1",
    ))
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

/// A POST straight to the simulator, as Palette would receive it.
async fn sim_post(sim: &SimServer, endpoint: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/spectroclusters/{endpoint}", sim.url))
        .header("ApiKey", "sim-api-key")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_required_profile_variable_without_default_must_be_given() {
    let sim = spawn_sim().await;
    {
        // Every version's required `cluster_owner` loses its default before the mirror syncs.
        let mut d = sim.state.data.write().unwrap();
        for v in d.profiles.iter_mut().flat_map(|p| p.versions.iter_mut()) {
            for var in v.variables.iter_mut().filter(|x| x.required) {
                var.default_value.clear();
            }
        }
    }
    let app = spawn_app_for(&[&sim], |_| {}).await;
    app.sync("env0").await;
    let (account, version) = fixtures(&app, "aws", "aws").await;
    let mut body = json!({"metadata": {"name": "vars-aws"}, "spec": {"cloudType": "aws", "cloudAccountUid": account,
        "cloudConfig": {"region": "us-west-2"},
        "machinepoolconfig": [
            {"cloudConfig": {"instanceType": "m5.xlarge"}, "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}},
            {"cloudConfig": {"instanceType": "m5.xlarge"}, "poolConfig": {"name": "w", "size": 1, "labels": ["worker"]}}],
        "profiles": [{"uid": version, "variables": [{"name": "pod_cidr", "value": "10.0.0.0/16"}]}]}});
    let before = creations(&sim).await.len();
    let resp = post(&app, "/clusters", &body, None).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["problems"][0]["field"], "spec.profiles[0].variables",
        "{v}"
    );
    assert!(
        v["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cluster_owner"),
        "{v}"
    );
    assert_eq!(
        creations(&sim).await.len(),
        before,
        "refused before Palette"
    );
    // The simulator, as Palette, refuses the same body on its own.
    assert_eq!(sim_post(&sim, "aws", &body).await.status(), 400);

    body["spec"]["profiles"][0]["variables"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "cluster_owner", "value": "team-a"}));
    body["metadata"]["name"] = json!("vars-aws-2");
    let resp = post(&app, "/clusters", &body, None).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    assert_eq!(creations(&sim).await.last().unwrap()["body"], body);
    app.stop().await;
    sim.stop().await;
}

/// A tenant vSphere account linked to a gateway, that gateway's pools and another gateway's.
fn gateway_pools(sim: &SimServer) -> (String, Vec<String>, Vec<String>) {
    let d = sim.state.data.read().unwrap();
    let acct = d
        .cloud_accounts
        .iter()
        .find(|a| a.cloud_type == "vsphere" && a.overlord_uid.is_some())
        .unwrap();
    let gw = acct.overlord_uid.clone().unwrap();
    let pools = |own: bool| -> Vec<String> {
        d.overlords
            .iter()
            .filter(|o| (o.meta.uid == gw) == own)
            .flat_map(|o| o.ip_pools.iter().map(|p| p.meta.uid.clone()))
            .collect()
    };
    (acct.meta.uid.clone(), pools(true), pools(false))
}

/// Terraform's vSphere shape: lower-case key, cluster-level placement without `network`.
fn vsphere_tf(name: &str, account: &str, version: &str, pool: Option<&str>) -> Value {
    let network = match pool {
        Some(p) => json!({"networkName": "VM Network", "staticIp": true, "parentPoolUid": p}),
        None => json!({"networkName": "VM Network", "staticIp": true}),
    };
    json!({"metadata": {"name": name}, "spec": {"cloudType": "vsphere", "cloudAccountUid": account,
        "cloudConfig": {"placement": {"datacenter": "dc-1", "folder": "spectro", "imageTemplateFolder": "spectro-templates"},
                        "sshKeys": ["ssh-ed25519 AAAA"], "staticIp": true,
                        "controlPlaneEndpoint": {"type": "VIP", "host": ""}},
        "machinepoolconfig": [{"cloudConfig": {"instanceType": {"numCPUs": 4, "memoryMiB": 8192, "diskGiB": 60},
                "placements": [{"cluster": "c1", "datastore": "ds1", "resourcePool": "rp", "network": network}]},
            "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}}],
        "profiles": [{"uid": version}]}})
}

#[tokio::test]
async fn vsphere_ip_pool_must_belong_to_the_accounts_gateway() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let (account, own, foreign) = gateway_pools(&sim);
    let (_, version) = fixtures(&app, "vsphere", "vsphere").await;
    let good = vsphere_tf("ip-own", &account, &version, Some(&own[0]));
    let resp = post(&app, "/clusters", &good, None).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    assert_eq!(
        creations(&sim).await.last().unwrap()["body"],
        good,
        "a Terraform-shaped vSphere body is forwarded unchanged"
    );

    let before = creations(&sim).await.len();
    let at = "spec.machinepoolconfig[0].cloudConfig.placements[0].network.parentPoolUid";
    let other = vsphere_tf("ip-foreign", &account, &version, Some(&foreign[0]));
    let resp = post(&app, "/clusters", &other, None).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["problems"][0]["field"], at, "{v}");
    assert!(
        v["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&foreign[0])
    );
    let none = vsphere_tf("ip-none", &account, &version, None);
    assert_eq!(
        problems(post(&app, "/clusters", &none, None).await).await,
        [at]
    );
    assert_eq!(
        creations(&sim).await.len(),
        before,
        "refused before Palette"
    );
    app.stop().await;
    sim.stop().await;
}

/// The vSphere wizard body with nothing for `create_defaults` to leave out.
fn vsphere_wizard_gaps(account: &str, version: &str) -> Value {
    let mut b = vsphere_body("wiz-vsphere-d", account, version);
    b["spec"]["cloudConfig"] =
        json!({"placement": {"imageTemplateFolder": "spectro-templates"}, "staticIp": false});
    b
}

#[tokio::test]
async fn vsphere_wizard_body_is_completed_from_defaults() {
    let dflt = json!({"datacenter": "dc-9", "folder": "teams", "sshKeys": ["ssh-ed25519 BBBB"]});
    let cfg = dflt.clone();
    let (sim, app) = synced(SimConfig::default(), |c| defaults(c, "vsphere", cfg)).await;
    let (account, version) = fixtures(&app, "vsphere", "vsphere").await;
    let body = vsphere_wizard_gaps(&account, &version);
    let resp = post(&app, "/clusters", &body, None).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let mut want = body.clone();
    let pools = want["spec"]
        .as_object_mut()
        .unwrap()
        .remove("machinePoolConfig")
        .unwrap();
    want["spec"]["machinepoolconfig"] = pools;
    want["spec"]["cloudConfig"] = json!({"placement": {"imageTemplateFolder": "spectro-templates",
        "datacenter": "dc-9", "folder": "teams"}, "staticIp": false, "sshKeys": ["ssh-ed25519 BBBB"]});
    assert_eq!(creations(&sim).await.last().unwrap()["body"], want);
    app.stop().await;

    let app = spawn_app_for(&[&sim], |_| {}).await;
    app.sync("env0").await;
    let before = creations(&sim).await.len();
    let mut fields = problems(post(&app, "/clusters", &body, None).await).await;
    fields.sort();
    assert_eq!(
        fields,
        [
            "spec.cloudConfig.placement.datacenter",
            "spec.cloudConfig.placement.folder",
            "spec.cloudConfig.sshKeys"
        ]
    );
    assert_eq!(creations(&sim).await.len(), before);
    app.stop().await;
    sim.stop().await;
}

/// The wizard's virtual body (`Summary.tsx`): cloudType nested, empty account and cloud config.
fn virtual_wizard(name: &str, group: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"cloudType": "nested", "cloudAccountUid": "", "cloudConfig": {},
        "clusterConfig": {"hostClusterConfig": {"clusterGroup": {"kind": "ClusterGroup", "name": "g", "uid": group},
            "clusterEndpoint": {"type": "LoadBalancer", "config": {}}}},
        "machinePoolConfig": [{"cloudConfig": {"instanceType": {"minCPU": 4, "maxCPU": 4, "minMemInMiB": 8192,
            "maxMemInMiB": 8192, "minStorageGiB": 20, "maxStorageGiB": 20}}}],
        "profiles": []}})
}

#[tokio::test]
async fn virtual_wizard_body_and_virtualclusters_route_reach_palette_renamed_only() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let group = {
        let d = sim.state.data.read().unwrap();
        d.cluster_groups
            .iter()
            .find(|g| !g.host_cluster_uids.is_empty())
            .unwrap()
            .meta
            .uid
            .clone()
    };
    let renamed = |b: &Value| {
        let mut want = b.clone();
        let pools = want["spec"]
            .as_object_mut()
            .unwrap()
            .remove("machinePoolConfig")
            .unwrap();
        want["spec"]["machinepoolconfig"] = pools;
        want
    };
    let body = virtual_wizard("wiz-virtual", &group);
    let resp = post(&app, "/clusters", &body, None).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let last = creations(&sim).await.last().unwrap().clone();
    assert_eq!(last["path"], "/v1/spectroclusters/virtual");
    assert_eq!(last["body"], renamed(&body));

    let config = virtual_wizard("wiz-virtual-2", &group);
    let resp = post(
        &app,
        "/virtualclusters",
        &json!({"clusterConfig": config}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let last = creations(&sim).await.last().unwrap().clone();
    assert_eq!(last["path"], "/v1/spectroclusters/virtual");
    assert_eq!(last["body"], renamed(&config));

    let before = creations(&sim).await.len();
    let mut no_group = virtual_wizard("wiz-virtual-3", &group);
    no_group["spec"]["clusterConfig"]["hostClusterConfig"]["clusterGroup"]["uid"] = json!("");
    let msg = assert_error(
        post(
            &app,
            "/virtualclusters",
            &json!({"clusterConfig": no_group.clone()}),
            None,
        )
        .await,
        400,
        "bad_request",
    )
    .await;
    assert!(msg.contains("Cluster group UID is required"), "{msg}");
    assert_eq!(
        problems(post(&app, "/clusters", &no_group, None).await).await,
        ["spec.clusterConfig.hostClusterConfig"]
    );
    assert_eq!(creations(&sim).await.len(), before);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn palette_shaped_bodies_of_every_cloud_are_forwarded_unchanged() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let (aws, eks_version) = fixtures(&app, "aws", "eks").await;
    let (azure, azure_version) = fixtures(&app, "azure", "azure").await;
    let (_, aks_version) = fixtures(&app, "azure", "aks").await;
    let az = json!({"subscriptionId": "sub", "resourceGroup": "rg", "location": "westeurope", "sshKey": "ssh-ed25519 AAAA"});
    let pool = |name: &str, cp: bool, cc: Value| {
        json!({"cloudConfig": cc, "poolConfig": {"name": name, "size": if cp { 3 } else { 2 },
            "labels": [if cp { "control-plane" } else { "worker" }], "isControlPlane": cp,
            "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
            "updateStrategy": {"type": "OverrideScaling", "maxSurge": "1", "maxUnavailable": "0"}}})
    };
    let bodies = [
        // Any non-empty name: SPEC has no name pattern.
        json!({"metadata": {"name": "Team_A.eks"}, "spec": {"cloudType": "eks", "cloudAccountUid": aws,
            "cloudConfig": {"region": "us-east-1", "endpointAccess": {"public": true, "private": false}},
            "machinepoolconfig": [pool("ng", false, json!({"instanceType": "m5.large", "capacityType": "on-demand", "rootDeviceSize": 100}))],
            "profiles": [{"uid": eks_version, "packValues": []}]}}),
        json!({"metadata": {"name": "tf-azure"}, "spec": {"cloudType": "azure", "cloudAccountUid": azure,
            "cloudConfig": az,
            "machinepoolconfig": [pool("cp", true, json!({"instanceType": "Standard_D4s_v3", "osDisk": {"diskSizeGB": 60}})),
                pool("w", false, json!({"instanceType": "Standard_D4s_v3"}))],
            "profiles": [{"uid": azure_version}]}}),
        json!({"metadata": {"name": "tf-aks"}, "spec": {"cloudType": "aks", "cloudAccountUid": azure,
            "cloudConfig": az,
            "machinepoolconfig": [{"cloudConfig": {"instanceType": "Standard_D4s_v3", "isSystemNodePool": true},
                "managedPoolConfig": {"isSystemNodePool": true, "osType": "Linux"},
                "poolConfig": {"name": "system", "size": 1, "labels": ["worker"]}}],
            "profiles": [{"uid": aks_version}]}}),
    ];
    for body in bodies {
        let resp = post(&app, "/clusters", &body, None).await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["paletteBody"], body);
        assert_eq!(creations(&sim).await.last().unwrap()["body"], body);
    }
    app.stop().await;
    sim.stop().await;
}
