//! MCP over Streamable HTTP: the same bearer tokens and permissions as the HTTP API, tools
//! answered from the mirror, permission checked before any tool runs.

use serde_json::{Value, json};
use spectrocloud_backend::auth::permissions::Permission;
use spectrocloud_backend::config::{AuthMode, Grant, Secret, StaticToken};
use spectrocloud_backend::mcp::TOOLS;

use crate::helpers::*;

const ADMIN: &str = "mcp-admin-token-31c9";
const VIEWER: &str = "mcp-viewer-token-8e02";
const WRITE_TOOLS: [&str; 2] = ["create_spectrocloud_cluster", "trigger_spectrocloud_sync"];

struct Client {
    url: String,
    token: &'static str,
    session: String,
    next_id: u64,
    http: reqwest::Client,
    /// Sent with every request (e.g. a Palette user token).
    headers: Vec<(&'static str, String)>,
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
            headers: Vec::new(),
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
        for (k, v) in &self.headers {
            req = req.header(*k, v);
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
    assert_eq!(names.len() + WRITE_TOOLS.len(), TOOLS.len(), "{names:?}");
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

    // Answers from the mirror, paged.
    let (err, list) = admin
        .tool("list_spectrocloud_clusters", json!({"limit": 500}))
        .await;
    assert!(!err);
    let all = list["items"].as_array().unwrap();
    assert_eq!(all.len() + 1, 25, "virtual clusters are listed apart");
    assert_eq!(list["total"], 24);
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
    assert!(found["total"].as_u64().unwrap() as usize >= found["items"].as_array().unwrap().len());
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
    // ...and lists the candidates, told apart by scope and project.
    let candidates = ambiguous["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2, "{ambiguous}");
    let scopes: Vec<&str> = candidates
        .iter()
        .map(|c| c["scope"].as_str().unwrap())
        .collect();
    assert!(
        scopes.contains(&"tenant") && scopes.contains(&"project"),
        "{scopes:?}"
    );
    assert!(
        candidates.iter().any(|c| c["projectName"] == "Default"),
        "{ambiguous}"
    );
    assert!(candidates.iter().all(|c| c["environment"] == "env0"));
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
    let listed = tool("list_spectrocloud_clusters", json!({"limit": 500})).await;
    let plain_uids = uid_set(&Value::Array(plain.into_iter().cloned().collect()));
    assert_eq!(uid_set(&listed["items"]), plain_uids);
    assert!(!nested.is_empty() || listed["items"].as_array().unwrap().len() < all.len());
    let vhttp = get_json(&app, "/virtualclusters").await;
    let vlisted = tool("list_spectrocloud_virtual_clusters", json!({"limit": 500})).await;
    assert_eq!(
        uid_set(&vlisted["items"]),
        uid_set(&vhttp["virtualClusters"])
    );
    let running = listed["items"]
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
    let diag = tool("diagnose_spectrocloud_cluster", json!({"clusterUid": uid})).await;
    assert_eq!(diag["name"], detail["metadata"]["name"]);
    assert_eq!(
        diag["kubernetesVersion"],
        detail["status"]["kubeMeta"]["kubernetesVersion"]
    );
    assert_eq!(
        diag["machinePools"].as_array().unwrap().len(),
        detail["spec"]["cloudConfig"]["machinePools"]
            .as_array()
            .unwrap()
            .len()
    );
    assert_eq!(
        diag["agentVersion"],
        detail["status"]["health"]["agentVersion"]
    );

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

    // The manifest uid comes from the tool itself: it is usable on its own.
    let manifest = cp["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["packs"].as_array().unwrap().iter())
        .flat_map(|p| p["manifests"].as_array().unwrap().iter())
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
    let p = tool("list_spectrocloud_projects", json!({"limit": 500})).await;
    assert_eq!(p["items"], projects["projects"]);
    let groups = get_json(&app, "/clustergroups").await;
    let g = tool("list_spectrocloud_cluster_groups", json!({"limit": 500})).await;
    assert_eq!(uid_set(&g["items"]), uid_set(&groups["items"]));
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
    assert_eq!(uid_set(&a["items"]), uid_set(&accounts["accounts"]));

    // Profiles.
    let project = projects["projects"][0]["uid"].as_str().unwrap();
    let pp = get_json(&app, &format!("/projects/{project}/profiles")).await;
    let t = tool(
        "list_spectrocloud_profiles_for_project",
        json!({"projectUid": project, "limit": 500}),
    )
    .await;
    assert_eq!(uid_set(&t["items"]), uid_set(&pp["profiles"]));
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
    assert_eq!(uid_set(&s["items"]), uid_set(&search["profiles"]));
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
        json!({"profileUid": puid, "limit": 500}),
    )
    .await;
    assert_eq!(f["items"], on["clusters"]);
    assert_eq!(f["total"], on["total"]);
    let usage = get_json(&app, "/reports/profile-usage").await;
    let u = tool("get_spectrocloud_profile_usage", json!({"limit": 500})).await;
    assert_eq!(uid_set(&u["items"]), uid_set(&usage["profiles"]));
    for (tool, route) in u["items"]
        .as_array()
        .unwrap()
        .iter()
        .zip(usage["profiles"].as_array().unwrap())
    {
        assert_eq!(tool["uid"], route["uid"], "same order");
        assert_eq!(tool["clusters"], route["clusters"]);
        for v in route["versions"].as_array().unwrap() {
            assert_eq!(
                tool["versions"][v["version"].as_str().unwrap()],
                v["clusters"]
            );
        }
    }

    // Packs: the pack-usage report, by pack and over all packs.
    let packs_http = get_json(&app, "/reports/pack-usage").await;
    let top = &packs_http["packs"][0];
    let pack_name = top["name"].as_str().unwrap();
    let by_pack = get_json(&app, &format!("/reports/pack-usage?name={pack_name}")).await;
    let mut on_pack: Vec<String> = by_pack["packs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["clusterUids"].as_array().unwrap().iter())
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    on_pack.sort();
    on_pack.dedup();
    let fp = tool(
        "find_spectrocloud_clusters_by_pack",
        json!({"packName": pack_name, "limit": 500}),
    )
    .await;
    assert_eq!(uid_set(&fp["items"]), on_pack);
    let sp = tool(
        "search_spectrocloud_packs",
        json!({"name": pack_name, "limit": 500}),
    )
    .await;
    let hit = sp["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == pack_name)
        .expect("the pack");
    let versions: Vec<&Value> = by_pack["packs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["tag"])
        .collect();
    assert_eq!(hit["versions"].as_array().unwrap().len(), versions.len());

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

    let all_tools: std::collections::BTreeSet<&str> = TOOLS
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !WRITE_TOOLS.contains(t))
        .collect();
    assert_eq!(called, all_tools, "every read tool is compared");
    app.stop().await;
    sim.stop().await;
}

/// Every page of a list tool, following `nextCursor` to the end.
async fn all_pages(c: &mut Client, tool: &str, args: Value) -> (Vec<Value>, u64) {
    let mut args = args;
    let (mut items, mut pages) = (Vec::new(), 0);
    loop {
        let (err, page) = c.tool(tool, args.clone()).await;
        assert!(!err, "{tool}: {page}");
        pages += 1;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(page["truncated"], true);
                args["cursor"] = json!(next);
            }
            None => {
                assert!(page.get("truncated").is_none());
                assert_eq!(page["total"].as_u64().unwrap() as usize, items.len());
                return (items, pages);
            }
        }
    }
}

#[tokio::test]
async fn tools_carry_titles_annotations_and_output_schemas() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let mut admin = Client::connect(&app, ADMIN).await;
    let tools = admin.call("tools/list", json!({})).await;
    for t in tools["tools"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        assert!(t["title"].as_str().is_some_and(|s| !s.is_empty()), "{name}");
        let a = &t["annotations"];
        assert_eq!(
            a["readOnlyHint"], true,
            "{name}: read tools only by default"
        );
        assert_eq!(a["destructiveHint"], false, "{name}");
        assert_eq!(a["idempotentHint"], true, "{name}");
        let live = name.contains("kubeconfig") || name.contains("manifest");
        assert_eq!(a["openWorldHint"], live, "{name}");
        assert_eq!(t["outputSchema"]["type"], "object", "{name}");
        let text = t["inputSchema"].to_string();
        assert!(!text.contains("\"null\""), "{name}: {text}");
        assert!(!text.contains("$ref"), "{name}: {text}");
    }
    // The answer is structured (and the same as the text copy).
    let r = admin
        .call(
            "tools/call",
            json!({"name": "list_spectrocloud_projects", "arguments": {}}),
        )
        .await;
    let text: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, r["structuredContent"]);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn lists_page_to_the_end_filter_and_summarise() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let mut c = Client::connect(&app, ADMIN).await;
    let (items, pages) = all_pages(&mut c, "list_spectrocloud_clusters", json!({"limit": 5})).await;
    assert_eq!(pages, 5, "24 clusters in pages of 5");
    let http = get_json(&app, "/clusters").await;
    let plain: Vec<Value> = http["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["spec"]["cloudType"] != "nested")
        .cloned()
        .collect();
    assert_eq!(
        uid_set(&Value::Array(items.clone())),
        uid_set(&Value::Array(plain))
    );
    // Names and uids, project names beside project uids.
    let projects = get_json(&app, "/users/me/projects").await;
    for i in &items {
        assert!(i["name"].is_string() && i["uid"].is_string());
        if let Some(p) = i["projectUid"].as_str() {
            let named = projects["projects"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["uid"] == p)
                .unwrap();
            assert_eq!(i["projectName"], named["name"]);
        }
    }
    // Default page: 25 at most, with a total.
    let (_, first) = c
        .tool(
            "list_spectrocloud_profiles_for_project",
            json!({"projectName": "default"}),
        )
        .await;
    assert!(first["items"].as_array().unwrap().len() <= 25);
    assert!(first["total"].as_u64().unwrap() > 0, "{first}");

    // Filters: each kept item matches, the others are left out.
    let state = items[0]["state"].as_str().unwrap();
    let (_, f) = c
        .tool(
            "list_spectrocloud_clusters",
            json!({"state": state.to_uppercase(), "limit": 500}),
        )
        .await;
    let want = items.iter().filter(|i| i["state"] == state).count();
    assert_eq!(f["total"].as_u64().unwrap() as usize, want);
    let stem: String = items[0]["name"].as_str().unwrap().chars().take(4).collect();
    let (_, f) = c
        .tool(
            "list_spectrocloud_clusters",
            json!({"name": stem, "limit": 500}),
        )
        .await;
    assert!(
        f["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["name"].as_str().unwrap().contains(&stem))
    );
    let (_, f) = c
        .tool(
            "list_spectrocloud_clusters",
            json!({"projectName": "DEFAULT", "limit": 500}),
        )
        .await;
    assert!(
        f["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["projectName"] == "Default"),
        "{f}"
    );
    let tagged = items
        .iter()
        .find_map(|i| i["tags"][0].as_str())
        .expect("a tagged cluster");
    let (_, f) = c
        .tool(
            "list_spectrocloud_clusters",
            json!({"tag": tagged, "limit": 500}),
        )
        .await;
    assert!(f["total"].as_u64().unwrap() >= 1);
    assert!(
        f["items"].as_array().unwrap().iter().all(|i| i["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == tagged))
    );
    let k8s = items
        .iter()
        .find_map(|i| i["kubernetesVersion"].as_str())
        .expect("a version");
    let prefix: String = k8s.split('.').take(2).collect::<Vec<_>>().join(".");
    let (_, f) = c
        .tool(
            "list_spectrocloud_clusters",
            json!({"kubernetesVersion": prefix, "limit": 500}),
        )
        .await;
    assert!(f["items"].as_array().unwrap().iter().all(|i| {
        i["kubernetesVersion"]
            .as_str()
            .unwrap()
            .starts_with(&prefix)
    }));

    // Summary: counts only, adding up to the total.
    let (_, s) = c
        .tool("list_spectrocloud_clusters", json!({"summary": true}))
        .await;
    assert_eq!(s["items"], json!([]));
    assert_eq!(s["total"], 24);
    let by_state: u64 = s["summary"]["state"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_state, 24);

    // Bad paging inputs are errors the model can read.
    for bad in [
        json!({"limit": 0}),
        json!({"limit": 501}),
        json!({"cursor": "not-ours"}),
    ] {
        let (err, e) = c.tool("list_spectrocloud_clusters", bad.clone()).await;
        assert!(err, "{bad}");
        assert_eq!(e["code"], "bad_request", "{e}");
    }
    // Another list pages to the end too.
    let (groups, _) = all_pages(
        &mut c,
        "list_spectrocloud_cluster_groups",
        json!({"limit": 1}),
    )
    .await;
    assert_eq!(
        groups.len(),
        get_json(&app, "/clustergroups").await["items"]
            .as_array()
            .unwrap()
            .len()
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn names_are_case_insensitive_and_misses_help() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let mut c = Client::connect(&app, ADMIN).await;
    let (_, list) = c
        .tool("list_spectrocloud_clusters", json!({"limit": 1}))
        .await;
    let one = &list["items"][0];
    let name = one["name"].as_str().unwrap();
    let (err, h) = c
        .tool(
            "get_spectrocloud_health_for_cluster",
            json!({"clusterName": name.to_uppercase()}),
        )
        .await;
    assert!(!err, "{h}");
    assert_eq!(h["cluster"]["uid"], one["uid"]);

    // A typo: not found, with the closest names.
    let typo = format!("{}x", &name[..name.len() - 1]);
    let (err, miss) = c
        .tool(
            "diagnose_spectrocloud_cluster",
            json!({"clusterName": typo}),
        )
        .await;
    assert!(err);
    assert_eq!(miss["code"], "not_found");
    let close = miss["didYouMean"].as_array().unwrap();
    assert!(!close.is_empty() && close.len() <= 5, "{miss}");
    assert!(close.iter().any(|n| n == name), "{miss}");
    let (err, miss) = c
        .tool(
            "get_spectrocloud_profile_variables",
            json!({"profileName": "eks-infr"}),
        )
        .await;
    assert!(err);
    assert!(
        miss["didYouMean"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "eks-infra"),
        "{miss}"
    );

    // An unknown project is an error, never an empty answer.
    for tool in [
        "list_spectrocloud_clusters",
        "get_spectrocloud_profile_usage",
        "list_spectrocloud_projects",
    ] {
        let (err, e) = c
            .tool(tool, json!({"projectName": "no-such-project"}))
            .await;
        assert!(err, "{tool}");
        assert_eq!(e["code"], "not_found", "{tool}: {e}");
        let (err, e) = c
            .tool(tool, json!({"projectUid": "ffffffffffffffffffffffff"}))
            .await;
        assert!(err, "{tool}");
        assert_eq!(e["code"], "not_found", "{tool}: {e}");
    }
    // projectUid is honoured: projects, profile usage.
    let projects = get_json(&app, "/users/me/projects").await;
    let p = &projects["projects"][1];
    let (_, only) = c
        .tool(
            "list_spectrocloud_projects",
            json!({"projectUid": p["uid"]}),
        )
        .await;
    assert_eq!(only["items"], json!([p]));
    let (_, usage) = c
        .tool(
            "get_spectrocloud_profile_usage",
            json!({"projectUid": p["uid"], "limit": 500}),
        )
        .await;
    assert!(
        usage["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["projectUid"].is_null() || u["projectUid"] == p["uid"])
    );
    let (_, all) = c
        .tool("get_spectrocloud_profile_usage", json!({"limit": 500}))
        .await;
    assert!(
        usage["total"].as_u64() < all["total"].as_u64(),
        "narrowed: {} of {}",
        usage["total"],
        all["total"]
    );
    // instanceName is honoured by sync status.
    let (err, st) = c
        .tool(
            "get_spectrocloud_sync_status",
            json!({"instanceName": "env0"}),
        )
        .await;
    assert!(!err);
    assert_eq!(st["environments"].as_array().unwrap().len(), 1);
    let (err, st) = c
        .tool(
            "get_spectrocloud_sync_status",
            json!({"instanceName": "nowhere"}),
        )
        .await;
    assert!(err);
    assert_eq!(st["code"], "unknown_instance");

    // Virtual clusters and cluster groups by name, too.
    let (_, v) = c
        .tool("list_spectrocloud_virtual_clusters", json!({}))
        .await;
    let vname = v["items"][0]["name"].as_str().unwrap();
    let (err, vd) = c
        .tool(
            "get_spectrocloud_virtual_cluster_details",
            json!({"virtualClusterName": vname.to_uppercase()}),
        )
        .await;
    assert!(!err, "{vd}");
    assert_eq!(vd["cluster"]["uid"], v["items"][0]["uid"]);
    let (_, g) = c.tool("list_spectrocloud_cluster_groups", json!({})).await;
    let gname = g["items"][0]["name"].as_str().unwrap();
    let (err, gd) = c
        .tool(
            "get_spectrocloud_cluster_group",
            json!({"clusterGroupName": gname}),
        )
        .await;
    assert!(!err, "{gd}");
    assert_eq!(gd["clusterGroup"]["metadata"]["uid"], g["items"][0]["uid"]);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn an_old_profile_version_shows_its_own_packs() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let mut c = Client::connect(&app, ADMIN).await;
    let (_, newest) = c
        .tool(
            "get_spectrocloud_pack_details_for_profile",
            json!({"profileName": "eks-infra"}),
        )
        .await;
    let lineage = get_json(
        &app,
        &format!(
            "/profiles/{}/clusters",
            newest["profile"]["uid"].as_str().unwrap()
        ),
    )
    .await;
    let versions = lineage["profile"]["versions"].as_array().unwrap();
    let old = versions
        .iter()
        .find(|v| v["version"] == "1.0.0")
        .expect("version 1.0.0");
    let old_uid = old["uid"].as_str().unwrap();
    assert_ne!(newest["profile"]["uid"], old_uid);
    let http = get_json(&app, &format!("/profiles/{old_uid}/packs")).await;
    let k8s = |packs: &Value| {
        packs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["layer"] == "k8s")
            .map(|p| {
                p["version"]
                    .clone()
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_default()
            })
    };
    let http_k8s = http["spec"]["published"]["packs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["layer"] == "k8s")
        .map(|p| p["tag"].as_str().unwrap().to_string());
    for args in [
        json!({"profileUid": old_uid}),
        json!({"profileName": "EKS-infra", "version": "1.0.0"}),
    ] {
        let (err, got) = c
            .tool("get_spectrocloud_pack_details_for_profile", args.clone())
            .await;
        assert!(!err, "{got}");
        assert_eq!(
            got["profile"]["uid"], old_uid,
            "{args}: no switch to another version"
        );
        assert_eq!(got["profile"]["version"], "1.0.0");
        assert_eq!(k8s(&got["packs"]), http_k8s, "{args}");
        assert!(
            got["packs"][0].get("values").is_none(),
            "values left out by default"
        );
    }
    assert_ne!(
        k8s(&newest["packs"]),
        http_k8s,
        "the newest version runs another Kubernetes"
    );
    let (_, with) = c
        .tool(
            "get_spectrocloud_pack_details_for_profile",
            json!({"profileUid": old_uid, "includeValues": true}),
        )
        .await;
    assert!(with["packs"][0]["values"].is_string(), "{with}");
    let (err, none) = c
        .tool(
            "get_spectrocloud_pack_details_for_profile",
            json!({"profileName": "eks-infra", "version": "9.9.9"}),
        )
        .await;
    assert!(err);
    assert_eq!(none["code"], "not_found");
    assert!(none["error"].as_str().unwrap().contains("1.0.0"), "{none}");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_caller_without_the_permission_is_refused_by_every_tool() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        auth(c);
        c.mcp.write_tools = true;
    })
    .await;
    let mut viewer = Client::connect(&app, VIEWER).await;
    let listed = viewer.call("tools/list", json!({})).await;
    let shown: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (tool, permission) in TOOLS {
        if *permission == Permission::ClusterViewInfo {
            assert!(shown.contains(tool), "{tool}");
            continue;
        }
        assert!(!shown.contains(tool), "{tool}");
        let (err, e) = viewer.tool(tool, json!({})).await;
        assert!(err, "{tool}");
        assert_eq!(e["code"], "permission_denied", "{tool}: {e}");
        assert_eq!(e["permission"], permission.id(), "{tool}");
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn write_tools_exist_only_when_enabled_and_are_audited() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let mut c = Client::connect(&app, ADMIN).await;
    let listed = c.call("tools/list", json!({})).await;
    assert!(!listed.to_string().contains("trigger_spectrocloud_sync"));
    let (err, e) = c.tool("trigger_spectrocloud_sync", json!({})).await;
    assert!(err);
    assert_eq!(e["code"], "not_found");
    app.stop().await;
    sim.stop().await;

    let (sim, app) = synced(SimConfig::default(), |c| {
        auth(c);
        c.mcp.write_tools = true;
    })
    .await;
    let mut c = Client::connect(&app, ADMIN).await;
    let listed = c.call("tools/list", json!({})).await;
    for name in WRITE_TOOLS {
        let t = listed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .expect(name);
        assert_eq!(t["annotations"]["destructiveHint"], true, "{name}");
        assert_eq!(t["annotations"]["readOnlyHint"], false, "{name}");
    }
    let (err, runs) = c
        .tool("trigger_spectrocloud_sync", json!({"instanceName": "env0"}))
        .await;
    assert!(!err, "{runs}");
    assert_eq!(runs["runs"][0]["environment"], "env0");
    let audit = json(app.client.get(app.url("/audit")).send().await.unwrap()).await;
    assert_eq!(audit["entries"][0]["action"], "sync.trigger");
    assert_eq!(audit["entries"][0]["subject"], "user:default/agent");
    // A creation is validated by the same rules as POST /clusters: every problem at once.
    let (err, bad) = c
        .tool(
            "create_spectrocloud_cluster",
            json!({"cluster": {"metadata": {"name": "x"}, "spec": {"cloudType": "eks"}}}),
        )
        .await;
    assert!(err);
    assert_eq!(bad["code"], "invalid_cluster_spec", "{bad}");
    assert!(!bad["problems"].as_array().unwrap().is_empty());
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn the_diagnose_prompt_names_the_tool() {
    let app = spawn_app_with(auth).await;
    let mut c = Client::connect(&app, ADMIN).await;
    let prompts = c.call("prompts/list", json!({})).await;
    assert_eq!(prompts["prompts"][0]["name"], "diagnose-cluster");
    assert_eq!(prompts["prompts"][0]["arguments"][0]["name"], "clusterName");
    let p = c
        .call(
            "prompts/get",
            json!({"name": "diagnose-cluster", "arguments": {"clusterName": "web-1"}}),
        )
        .await;
    let text = p["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(
        text.contains("diagnose_spectrocloud_cluster") && text.contains("web-1"),
        "{text}"
    );
    app.stop().await;
}

/// The size of each read tool's largest answer at the `medium` dataset with default arguments
/// (name-taking tools over a sample of objects): the README's table. Slow, so on demand:
/// `cargo test --test api mcp::answer_sizes_at_medium -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn answer_sizes_at_medium() {
    let config = SimConfig {
        sizes: spectrocloud_backend::sim::Sizes::preset("medium").unwrap(),
        ..SimConfig::default()
    };
    let (sim, app) = synced(config, auth).await;
    let mut c = Client::connect(&app, ADMIN).await;
    let (_, clusters) = c.tool("list_spectrocloud_clusters", json!({})).await;
    let (_, vclusters) = c
        .tool("list_spectrocloud_virtual_clusters", json!({}))
        .await;
    let (_, groups) = c.tool("list_spectrocloud_cluster_groups", json!({})).await;
    let (_, projects) = c.tool("list_spectrocloud_projects", json!({})).await;
    let (_, usage) = c.tool("get_spectrocloud_profile_usage", json!({})).await;
    let (_, packs) = c.tool("search_spectrocloud_packs", json!({})).await;
    let uids = |v: &Value| -> Vec<Value> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["uid"].clone())
            .collect()
    };
    let cl = uids(&clusters);
    let profiles = uids(&usage);
    let first_manifest = {
        let (_, cp) = c
            .tool(
                "get_spectrocloud_cluster_profiles",
                json!({"clusterUid": cl[0]}),
            )
            .await;
        cp["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["packs"].as_array().unwrap().iter())
            .find_map(|k| k["manifests"][0]["uid"].as_str().map(|u| json!(u)))
            .expect("a manifest")
    };
    let mut calls: Vec<(&str, Vec<Value>)> = vec![
        ("list_spectrocloud_clusters", vec![json!({})]),
        ("list_spectrocloud_virtual_clusters", vec![json!({})]),
        ("list_spectrocloud_projects", vec![json!({})]),
        ("list_spectrocloud_cluster_groups", vec![json!({})]),
        (
            "list_spectrocloud_cloud_accounts",
            ["aws", "azure", "vsphere"]
                .iter()
                .map(|k| json!({"cloudType": k}))
                .collect(),
        ),
        ("get_spectrocloud_profile_usage", vec![json!({})]),
        ("search_spectrocloud_packs", vec![json!({})]),
        ("get_spectrocloud_sync_status", vec![json!({})]),
        (
            "search_spectrocloud_profiles_by_names",
            vec![json!({"names": ["eks-infra", "aws-infra", "shared-addons"]})],
        ),
        (
            "list_spectrocloud_profiles_for_project",
            uids(&projects)
                .into_iter()
                .map(|p| json!({"projectUid": p}))
                .collect(),
        ),
        (
            "find_spectrocloud_clusters_by_pack",
            packs["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| json!({"packName": p["name"]}))
                .collect(),
        ),
        (
            "get_spectrocloud_cluster_group",
            uids(&groups)
                .into_iter()
                .map(|g| json!({"clusterGroupUid": g}))
                .collect(),
        ),
        (
            "get_spectrocloud_virtual_cluster_details",
            uids(&vclusters)
                .into_iter()
                .map(|v| json!({"virtualClusterUid": v}))
                .collect(),
        ),
        (
            "get_spectrocloud_kubeconfig_for_virtual_cluster",
            vec![json!({"virtualClusterUid": uids(&vclusters)[0]})],
        ),
        (
            "get_spectrocloud_kubeconfig_for_cluster",
            vec![json!({"clusterUid": cl[0]})],
        ),
        (
            "get_spectrocloud_pack_manifest_for_cluster",
            vec![json!({"clusterUid": cl[0], "manifestUid": first_manifest})],
        ),
    ];
    for tool in [
        "get_spectrocloud_health_for_cluster",
        "diagnose_spectrocloud_cluster",
        "get_spectrocloud_cluster_profiles",
    ] {
        calls.push((tool, cl.iter().map(|u| json!({"clusterUid": u})).collect()));
    }
    for tool in [
        "get_spectrocloud_pack_details_for_profile",
        "get_spectrocloud_profile_variables",
        "find_spectrocloud_clusters_for_profile",
    ] {
        calls.push((
            tool,
            profiles.iter().map(|u| json!({"profileUid": u})).collect(),
        ));
    }
    println!("| tool | largest answer (bytes) |\n|---|---|");
    let mut over = Vec::new();
    for (tool, args) in calls {
        let mut largest = 0;
        for a in args {
            let (err, v) = c.tool(tool, a.clone()).await;
            assert!(!err, "{tool} {a}: {v}");
            largest = largest.max(v.to_string().len());
        }
        println!("| `{tool}` | {largest} |");
        let live = tool.contains("kubeconfig") || tool.contains("manifest");
        if largest > 8 * 1024 && !live {
            over.push(format!("{tool}: {largest}"));
        }
    }
    assert!(over.is_empty(), "answers over 8 KB: {over:?}");
    app.stop().await;
    sim.stop().await;
}

/// An agent whose token is one person's (a static token with `palette_user`) sees what that
/// person may see in Palette, as the HTTP routes do: with the token it carries, then cached.
#[tokio::test]
async fn an_agent_mapped_to_a_palette_user_sees_what_that_user_sees() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        auth(c);
        c.auth.tokens[0].palette_user = Some("alice@acme.example".into());
    })
    .await;
    let alice = sim_token(&sim, "alice@acme.example").await;
    let http = app
        .client
        .get(app.url("/users/me/projects"))
        .bearer_auth(ADMIN)
        .header("X-SpectroCloud-User-Email", "alice@acme.example")
        .header("X-SpectroCloud-Token", &alice)
        .send()
        .await
        .unwrap();
    let theirs = json(http).await["projects"].clone();
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");

    let mut agent = Client::connect(&app, ADMIN).await;
    agent.headers = vec![
        ("X-SpectroCloud-User-Email", "alice@acme.example".into()),
        ("X-SpectroCloud-Token", alice.clone()),
    ];
    let (err, carried) = agent.tool("list_spectrocloud_projects", json!({})).await;
    assert!(!err, "{carried}");
    assert_eq!(carried["items"], theirs);
    let (_, clusters) = agent
        .tool("list_spectrocloud_clusters", json!({"summary": true}))
        .await;
    let (_, all) = Client::connect(&app, VIEWER)
        .await
        .tool("list_spectrocloud_clusters", json!({"summary": true}))
        .await;
    assert!(
        clusters["total"].as_u64() < all["total"].as_u64(),
        "{clusters} vs {all}"
    );
    // The token is now cached for this caller: a later call without it still sees alice's view.
    agent.headers = vec![("X-SpectroCloud-User-Email", "alice@acme.example".into())];
    let (_, cached) = agent.tool("list_spectrocloud_projects", json!({})).await;
    assert_eq!(cached["items"], theirs);
    // A shared caller (no palette_user) keeps the environment key's view.
    let (_, shared) = Client::connect(&app, VIEWER)
        .await
        .tool("list_spectrocloud_projects", json!({"limit": 500}))
        .await;
    assert!(shared["total"].as_u64().unwrap() > 1);
    app.stop().await;
    sim.stop().await;
}
