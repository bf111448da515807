//! MCP over Streamable HTTP: the same bearer tokens and permissions as the HTTP API, tools
//! answered from the mirror, permission checked before any tool runs.

use serde_json::{Value, json};
use spectrocloud_backend::auth::permissions::Permission;
use spectrocloud_backend::config::{AuthMode, Grant, Secret, StaticToken};
use spectrocloud_backend::mcp::TOOLS;

use crate::helpers::*;

const ADMIN: &str = "mcp-admin-token-31c9";
const VIEWER: &str = "mcp-viewer-token-8e02";

struct Client {
    url: String,
    token: &'static str,
    session: String,
    next_id: u64,
    http: reqwest::Client,
}

/// The JSON-RPC message of an answer, whether it came as plain JSON or as SSE `data:` lines.
fn message(body: &str) -> Value {
    if let Ok(v) = serde_json::from_str(body) {
        return v;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC answer in {body}"))
}

impl Client {
    async fn connect(app: &TestApp, token: &'static str) -> Client {
        remember_secret(token);
        let http = reqwest::Client::new();
        let url = app.url("/mcp");
        let resp = http
            .post(&url)
            .bearer_auth(token)
            .header("Accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                          "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let session = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let init = message(&resp.text().await.unwrap());
        assert_eq!(init["result"]["serverInfo"]["name"], "spectrocloud-backend");
        let c = Client {
            url,
            token,
            session,
            next_id: 1,
            http,
        };
        let _ = c
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        c
    }

    async fn post(&self, body: Value) -> reqwest::Response {
        let mut req = self
            .http
            .post(&self.url)
            .bearer_auth(self.token)
            .header("Accept", "application/json, text/event-stream")
            .json(&body);
        if !self.session.is_empty() {
            req = req.header("Mcp-Session-Id", &self.session);
        }
        req.send().await.unwrap()
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let resp = self
            .post(json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
            .await;
        assert_eq!(resp.status(), 200);
        let v = message(&resp.text().await.unwrap());
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    async fn tool(&mut self, name: &str, args: Value) -> (bool, Value) {
        let r = self
            .call("tools/call", json!({"name": name, "arguments": args}))
            .await;
        (r["isError"] == true, r["structuredContent"].clone())
    }
}

fn auth(c: &mut spectrocloud_backend::config::Config) {
    c.auth.mode = AuthMode::Static;
    c.auth.tokens = vec![
        StaticToken {
            token: Secret::new(ADMIN),
            subject: "user:default/agent".into(),
            groups: vec!["group:default/platform".into()],
            palette_user: None,
        },
        StaticToken {
            token: Secret::new(VIEWER),
            subject: "user:default/peek".into(),
            groups: vec![],
            palette_user: None,
        },
    ];
    c.permissions.enabled = true;
    c.permissions.grants = vec![
        Grant {
            principals: vec!["group:default/platform".into()],
            allow: vec!["spectrocloud.*".into()],
        },
        Grant {
            principals: vec!["user:default/peek".into()],
            allow: vec!["spectrocloud.cluster.view-info".into()],
        },
    ];
}

#[tokio::test]
async fn mcp_needs_a_bearer_token() {
    let app = spawn_app_with(auth).await;
    let resp = reqwest::Client::new()
        .post(app.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "unauthenticated").await;
    app.stop().await;
}

#[tokio::test]
async fn tools_are_listed_and_called_per_permission() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let mut admin = Client::connect(&app, ADMIN).await;
    let tools = admin.call("tools/list", json!({})).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), TOOLS.len(), "{names:?}");
    for original in [
        "get_spectrocloud_health_for_cluster",
        "get_spectrocloud_kubeconfig_for_cluster",
        "get_spectrocloud_pack_details_for_profile",
        "find_spectrocloud_clusters_for_profile",
    ] {
        assert!(names.contains(&original), "{original}");
    }
    let mut viewer = Client::connect(&app, VIEWER).await;
    let tools = viewer.call("tools/list", json!({})).await;
    for t in tools["tools"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        assert_eq!(
            spectrocloud_backend::mcp::permission_of(name),
            Some(Permission::ClusterViewInfo),
            "{name}"
        );
    }

    // Answers from the mirror.
    let (err, list) = admin.tool("list_spectrocloud_clusters", json!({})).await;
    assert!(!err);
    let all = list["clusters"].as_array().unwrap();
    assert_eq!(all.len() + 1, 25, "virtual clusters are listed apart");
    let running = all.iter().find(|c| c["state"] == "Running").unwrap();
    let (err, health) = admin
        .tool(
            "get_spectrocloud_health_for_cluster",
            json!({"clusterName": running["name"]}),
        )
        .await;
    assert!(!err, "{health}");
    assert_eq!(health["cluster"]["uid"], running["uid"]);
    assert!(health["health"]["overallStatus"].is_string());

    // A kubeconfig, live and audited under the agent's identity.
    let (err, kube) = admin
        .tool(
            "get_spectrocloud_kubeconfig_for_cluster",
            json!({"clusterUid": running["uid"]}),
        )
        .await;
    assert!(!err, "{kube}");
    assert!(
        kube["kubeconfig"]
            .as_str()
            .unwrap()
            .contains("apiVersion: v1")
    );
    let audit = json(app.client.get(app.url("/audit")).send().await.unwrap()).await;
    assert_eq!(audit["entries"][0]["action"], "kubeconfig.download");
    assert_eq!(audit["entries"][0]["subject"], "user:default/agent");

    // The viewer is refused before the tool runs, with a readable error.
    let (err, denied) = viewer
        .tool(
            "get_spectrocloud_kubeconfig_for_cluster",
            json!({"clusterUid": running["uid"]}),
        )
        .await;
    assert!(err);
    assert_eq!(denied["code"], "permission_denied");
    assert_eq!(
        denied["permission"],
        "spectrocloud.cluster.download-kubeconfig"
    );
    // ...and the refusal is on record.
    let audit = json(app.client.get(app.url("/audit")).send().await.unwrap()).await;
    let last = &audit["entries"][0];
    assert_eq!(last["outcome"], "denied", "{last}");
    assert_eq!(last["subject"], "user:default/peek");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("get_spectrocloud_kubeconfig_for_cluster")
    );

    // The reverse lookup, by name; an ambiguous name asks for a uid.
    let (err, found) = admin
        .tool(
            "find_spectrocloud_clusters_for_profile",
            json!({"profileName": "eks-infra"}),
        )
        .await;
    assert!(!err, "{found}");
    assert_eq!(
        found["total"].as_u64().unwrap() as usize,
        found["clusters"].as_array().unwrap().len()
    );
    let (err, ambiguous) = admin
        .tool(
            "find_spectrocloud_clusters_for_profile",
            json!({"profileName": "shared-addons"}),
        )
        .await;
    assert!(err);
    assert!(
        ambiguous["error"].as_str().unwrap().contains("profileUid"),
        "{ambiguous}"
    );
    let (err, packs) = admin
        .tool(
            "get_spectrocloud_pack_details_for_profile",
            json!({"profileName": "eks-infra"}),
        )
        .await;
    assert!(!err);
    assert!(
        packs["packs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["layer"] == "k8s")
    );
    // Bad input is an error result, not a crash.
    let (err, bad) = admin
        .tool("get_spectrocloud_health_for_cluster", json!({}))
        .await;
    assert!(err);
    assert_eq!(bad["code"], "bad_request");
    let (err, unknown) = admin
        .tool(
            "list_spectrocloud_clusters",
            json!({"instanceName": "nowhere"}),
        )
        .await;
    assert!(err);
    assert_eq!(unknown["code"], "unknown_instance");
    app.stop().await;
    sim.stop().await;
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    json(resp).await
}

/// Uids (`metadata.uid`, else `uid`) of a list, sorted.
fn uid_set(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|i| {
            i["metadata"]["uid"]
                .as_str()
                .or(i["uid"].as_str())
                .unwrap_or_else(|| panic!("no uid: {i}"))
                .to_string()
        })
        .collect();
    v.sort();
    v
}

/// Every one of the 20 tools answers what its HTTP route answers for the same data: both go
/// through the same service function.
#[tokio::test]
async fn every_tool_agrees_with_its_http_route() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let mut mcp = Client::connect(&app, ADMIN).await;
    let mut called = std::collections::BTreeSet::new();
    let mut tool = async |name: &'static str, args: Value| {
        called.insert(name);
        let (err, v) = mcp.tool(name, args).await;
        assert!(!err, "{name}: {v}");
        v
    };

    // Clusters and virtual clusters.
    let http = get_json(&app, "/clusters").await;
    let all = http["clusters"].as_array().unwrap();
    let (nested, plain): (Vec<&Value>, Vec<&Value>) = all.iter().partition(|c| {
        c["status"]["cloudType"] == "nested"
            || c["spec"]["cloudType"] == "nested"
            || c["specSummary"]["cloudConfig"]["cloudType"] == "nested"
    });
    let listed = tool("list_spectrocloud_clusters", json!({})).await;
    let plain_uids = uid_set(&Value::Array(plain.into_iter().cloned().collect()));
    assert_eq!(uid_set(&listed["clusters"]), plain_uids);
    assert!(!nested.is_empty() || listed["clusters"].as_array().unwrap().len() < all.len());
    let vhttp = get_json(&app, "/virtualclusters").await;
    let vlisted = tool("list_spectrocloud_virtual_clusters", json!({})).await;
    assert_eq!(
        uid_set(&vlisted["virtualClusters"]),
        uid_set(&vhttp["virtualClusters"])
    );
    let running = listed["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "Running")
        .unwrap()
        .clone();
    let uid = running["uid"].as_str().unwrap().to_string();
    let detail = get_json(&app, &format!("/clusters/{uid}")).await;
    let health = tool(
        "get_spectrocloud_health_for_cluster",
        json!({"clusterUid": uid}),
    )
    .await;
    assert_eq!(health["cluster"]["name"], detail["metadata"]["name"]);
    assert_eq!(health["cluster"]["state"], detail["status"]["state"]);
    assert_eq!(health["mirror"]["source"], "mirror");

    let profiles = get_json(&app, &format!("/clusters/{uid}/profiles")).await;
    let cp = tool(
        "get_spectrocloud_cluster_profiles",
        json!({"clusterUid": uid}),
    )
    .await;
    assert_eq!(uid_set(&cp["profiles"]), uid_set(&profiles["profiles"]));

    let kube_http = app
        .get(&format!("/clusters/{uid}/kubeconfig"))
        .await
        .text()
        .await
        .unwrap();
    let kube = tool(
        "get_spectrocloud_kubeconfig_for_cluster",
        json!({"clusterUid": uid}),
    )
    .await;
    assert_eq!(kube["kubeconfig"], kube_http.as_str());

    let manifest = profiles["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["spec"]["packs"].as_array().unwrap().iter())
        .flat_map(|p| p["spec"]["manifests"].as_array().unwrap().iter())
        .next()
        .map(|m| m["uid"].as_str().unwrap().to_string())
        .expect("a pack manifest");
    let m_http = get_json(&app, &format!("/clusters/{uid}/pack/manifests/{manifest}")).await;
    let m = tool(
        "get_spectrocloud_pack_manifest_for_cluster",
        json!({"clusterUid": uid, "manifestUid": manifest}),
    )
    .await;
    assert_eq!(m["manifest"], m_http);

    let vuid = vhttp["virtualClusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let vdetail = get_json(&app, &format!("/virtualclusters/{vuid}")).await;
    let vd = tool(
        "get_spectrocloud_virtual_cluster_details",
        json!({"virtualClusterUid": vuid}),
    )
    .await;
    assert_eq!(vd["cluster"]["name"], vdetail["metadata"]["name"]);
    assert_eq!(vd["cluster"]["state"], vdetail["status"]["state"]);
    let vk_http = app
        .get(&format!("/virtualclusters/{vuid}/kubeconfig"))
        .await
        .text()
        .await
        .unwrap();
    let vk = tool(
        "get_spectrocloud_kubeconfig_for_virtual_cluster",
        json!({"virtualClusterUid": vuid}),
    )
    .await;
    assert_eq!(vk["kubeconfig"], vk_http.as_str());

    // Projects, cluster groups, cloud accounts.
    let projects = get_json(&app, "/users/me/projects").await;
    let p = tool("list_spectrocloud_projects", json!({})).await;
    assert_eq!(p["projects"], projects["projects"]);
    let groups = get_json(&app, "/clustergroups").await;
    let g = tool("list_spectrocloud_cluster_groups", json!({})).await;
    assert_eq!(uid_set(&g["clusterGroups"]), uid_set(&groups["items"]));
    let guid = groups["items"][0]["metadata"]["uid"].as_str().unwrap();
    let group = get_json(&app, &format!("/clustergroups/{guid}")).await;
    let g1 = tool(
        "get_spectrocloud_cluster_group",
        json!({"clusterGroupUid": guid}),
    )
    .await;
    assert_eq!(g1["clusterGroup"], group);
    let accounts = get_json(&app, "/cloudaccounts/aws").await;
    let a = tool(
        "list_spectrocloud_cloud_accounts",
        json!({"cloudType": "AWS"}),
    )
    .await;
    assert_eq!(uid_set(&a["accounts"]), uid_set(&accounts["accounts"]));

    // Profiles.
    let project = projects["projects"][0]["uid"].as_str().unwrap();
    let pp = get_json(&app, &format!("/projects/{project}/profiles")).await;
    let t = tool(
        "list_spectrocloud_profiles_for_project",
        json!({"projectUid": project}),
    )
    .await;
    assert_eq!(uid_set(&t["profiles"]), uid_set(&pp["profiles"]));
    let pick = &pp["profiles"][0];
    let (puid, pname) = (
        pick["metadata"]["uid"].as_str().unwrap(),
        pick["metadata"]["name"].as_str().unwrap(),
    );
    let search = app
        .client
        .post(app.url("/profiles/search"))
        .json(&json!({"names": [pname.to_uppercase()]}))
        .send()
        .await
        .unwrap();
    let search = json(search).await;
    let s = tool(
        "search_spectrocloud_profiles_by_names",
        json!({"names": [pname.to_uppercase()], "projectUid": ""}),
    )
    .await;
    assert_eq!(uid_set(&s["profiles"]), uid_set(&search["profiles"]));
    let packs = get_json(&app, &format!("/profiles/{puid}/packs")).await;
    let pd = tool(
        "get_spectrocloud_pack_details_for_profile",
        json!({"profileUid": puid}),
    )
    .await;
    assert_eq!(pd["profile"]["name"], packs["metadata"]["name"]);
    assert_eq!(
        pd["packs"].as_array().unwrap().len(),
        packs["spec"]["published"]["packs"]
            .as_array()
            .unwrap()
            .len()
    );
    let vars = get_json(&app, &format!("/profiles/{puid}/variables")).await;
    let pv = tool(
        "get_spectrocloud_profile_variables",
        json!({"profileUid": puid}),
    )
    .await;
    assert_eq!(pv["variables"], vars["variables"]);
    let on = get_json(&app, &format!("/profiles/{puid}/clusters")).await;
    let f = tool(
        "find_spectrocloud_clusters_for_profile",
        json!({"profileUid": puid}),
    )
    .await;
    assert_eq!(f["clusters"], on["clusters"]);
    assert_eq!(f["total"], on["total"]);
    let usage = get_json(&app, "/reports/profile-usage").await;
    let u = tool("get_spectrocloud_profile_usage", json!({})).await;
    assert_eq!(u["profiles"], usage["profiles"]);

    let changes = get_json(&app, "/events").await;
    let c = tool("list_spectrocloud_fleet_changes", json!({})).await;
    assert_eq!(c["items"], changes["events"]);

    let status = get_json(&app, "/sync/status").await;
    let st = tool("get_spectrocloud_sync_status", json!({})).await;
    assert_eq!(
        st["environments"][0]["name"],
        status["environments"][0]["name"]
    );
    assert_eq!(
        st["environments"][0]["last_success_at"],
        status["environments"][0]["last_success_at"]
    );

    // The rules are the route's: an unknown profileType is refused, an unknown project is 404.
    let (err, bad) = mcp
        .tool(
            "list_spectrocloud_profiles_for_project",
            json!({"projectUid": project, "profileType": "bogus"}),
        )
        .await;
    assert!(err);
    assert_eq!(bad["code"], "bad_request");
    let (err, missing) = mcp
        .tool(
            "list_spectrocloud_profiles_for_project",
            json!({"projectUid": "ffffffffffffffffffffffff"}),
        )
        .await;
    assert!(err);
    assert_eq!(missing["code"], "not_found");

    let all_tools: std::collections::BTreeSet<&str> = TOOLS.iter().map(|(t, _)| *t).collect();
    assert_eq!(called, all_tools, "every tool is compared");
    app.stop().await;
    sim.stop().await;
}
