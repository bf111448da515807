//! MCP over Streamable HTTP, driven by rmcp's own client against the real server and
//! simulator: the same bearer tokens and permissions as the HTTP API, tools answered from the
//! mirror, permission checked before any tool runs. What lies below an MCP client (a 401, its
//! challenge) is checked with plain HTTP.

use std::collections::HashMap;

use http::{HeaderName, HeaderValue};
use rmcp::model::{CallToolRequestParams, GetPromptRequestParams};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use spectrocloud_backend::config::{AuthMode, Grant, Secret, StaticToken};
use spectrocloud_backend::domain::Permission;
use spectrocloud_backend::mcp::TOOLS;

use crate::helpers::*;

const ADMIN: &str = "mcp-admin-token-31c9";
const VIEWER: &str = "mcp-viewer-token-8e02";
/// A known caller granted nothing.
const NOBODY: &str = "mcp-nobody-token-5b7a";
const WRITE_TOOLS: [&str; 2] = ["create_spectrocloud_cluster", "trigger_spectrocloud_sync"];

/// An MCP session of rmcp's client (Streamable HTTP, bearer token, optional extra headers),
/// with helpers that hand the typed answers back as JSON for the assertions.
pub(crate) struct Client {
    service: RunningService<RoleClient, ()>,
}

impl Client {
    pub(crate) async fn connect(app: &TestApp, token: &'static str) -> Client {
        Client::open(app, Some(token), &[]).await
    }

    /// A session whose every request also carries `headers` (e.g. a Palette user token).
    pub(crate) async fn connect_with(
        app: &TestApp,
        token: &'static str,
        headers: &[(&str, &str)],
    ) -> Client {
        Client::open(app, Some(token), headers).await
    }

    /// A session without a token (for `auth.mode = "none"`).
    pub(crate) async fn anonymous(app: &TestApp) -> Client {
        Client::open(app, None, &[]).await
    }

    async fn open(app: &TestApp, token: Option<&'static str>, headers: &[(&str, &str)]) -> Client {
        let custom: HashMap<HeaderName, HeaderValue> = headers
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect();
        let mut config =
            StreamableHttpClientTransportConfig::with_uri(app.url("/mcp")).custom_headers(custom);
        if let Some(token) = token {
            remember_secret(token);
            config = config.auth_header(token);
        }
        let service =
            ().serve(StreamableHttpClientTransport::from_config(config))
                .await
                .expect("MCP handshake");
        let server = service.peer_info().expect("server info after initialize");
        let name = server.server_info.as_ref().map(|i| i.name.as_str());
        assert_eq!(name, Some("spectrocloud-backend"));
        assert!(server.capabilities.tools.is_some() && server.capabilities.prompts.is_some());
        Client { service }
    }

    /// `tools/call`: whether the result is an error, and its `structuredContent`.
    pub(crate) async fn tool(&self, name: &str, args: Value) -> (bool, Value) {
        let r = self.call_tool(name, args).await;
        let content = r["structuredContent"].clone();
        assert!(content.is_object(), "{name}: no structuredContent: {r}");
        (r["isError"] == true, content)
    }

    /// `tools/call`: the whole result as JSON (`content`, `structuredContent`, `isError`).
    async fn call_tool(&self, name: &str, args: Value) -> Value {
        let Value::Object(args) = args else {
            panic!("{name}: arguments must be an object: {args}");
        };
        let params = CallToolRequestParams::new(name.to_string()).with_arguments(args);
        let r = self
            .service
            .call_tool(params)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        serde_json::to_value(r).unwrap()
    }

    /// `tools/list` (every page), as JSON.
    pub(crate) async fn tools(&self) -> Vec<Value> {
        let tools = self.service.list_all_tools().await.expect("tools/list");
        tools
            .into_iter()
            .map(|t| serde_json::to_value(t).unwrap())
            .collect()
    }

    /// Each listed tool's `outputSchema`, by name.
    pub(crate) async fn output_schemas(&self) -> HashMap<String, Value> {
        self.tools()
            .await
            .into_iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["outputSchema"].clone(),
                )
            })
            .collect()
    }

    /// The names of the listed tools.
    async fn tool_names(&self) -> Vec<String> {
        let tools = self.service.list_all_tools().await.expect("tools/list");
        tools.into_iter().map(|t| t.name.to_string()).collect()
    }

    /// `prompts/list` (every page), as JSON.
    async fn prompts(&self) -> Vec<Value> {
        let prompts = self.service.list_all_prompts().await.expect("prompts/list");
        prompts
            .into_iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect()
    }

    /// `prompts/get`, as JSON, or the JSON-RPC error rmcp reports.
    async fn prompt(&self, name: &str, args: Value) -> Result<Value, rmcp::ServiceError> {
        let Value::Object(args) = args else {
            panic!("{name}: arguments must be an object: {args}");
        };
        let params = GetPromptRequestParams::new(name).with_arguments(args);
        let p = self.service.get_prompt(params).await?;
        Ok(serde_json::to_value(p).unwrap())
    }

    /// Ends the session (rmcp deletes it on the server).
    pub(crate) async fn close(mut self) {
        self.service.close().await.expect("MCP session closes");
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
        StaticToken {
            token: Secret::new(NOBODY),
            subject: "user:default/nobody".into(),
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

/// Below the MCP client, in plain HTTP: a 401 in the API's error shape whose challenge points
/// at the protected-resource metadata; rmcp's client, given no token, stops at that challenge.
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
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let metadata = format!(
        "{}/.well-known/oauth-protected-resource/api/spectrocloud/mcp",
        app.address
    );
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata}\"")
    );
    assert_error(resp, 401, "unauthenticated").await;
    let doc = json(reqwest::get(&metadata).await.unwrap()).await;
    assert_eq!(doc["resource"], app.url("/mcp"));

    let anonymous = StreamableHttpClientTransport::from_uri(app.url("/mcp"));
    let refused = ().serve(anonymous).await.expect_err("no token, no session");
    assert!(refused.is_authorization_required(), "{refused}");
    assert_eq!(refused.auth_challenge(), Some(challenge.as_str()));
    // A wrong token is refused the same way.
    let config = StreamableHttpClientTransportConfig::with_uri(app.url("/mcp"))
        .auth_header("not-a-token-of-ours");
    let refused =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect_err("a wrong token, no session");
    assert!(refused.is_authorization_required(), "{refused}");
    app.stop().await;
}

#[tokio::test]
async fn tools_are_listed_and_called_per_permission() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let admin = Client::connect(&app, ADMIN).await;
    let names = admin.tool_names().await;
    assert_eq!(names.len() + WRITE_TOOLS.len(), TOOLS.len(), "{names:?}");
    for original in [
        "get_spectrocloud_health_for_cluster",
        "get_spectrocloud_kubeconfig_for_cluster",
        "get_spectrocloud_pack_details_for_profile",
        "find_spectrocloud_clusters_for_profile",
    ] {
        assert!(names.iter().any(|n| n == original), "{original}");
    }
    let viewer = Client::connect(&app, VIEWER).await;
    let shown = viewer.tool_names().await;
    let want: Vec<&str> = TOOLS
        .iter()
        .filter(|(_, p)| *p == Permission::ClusterViewInfo)
        .map(|(t, _)| *t)
        .filter(|t| !WRITE_TOOLS.contains(t))
        .collect();
    assert_eq!(shown, want, "the viewer sees exactly the view-info tools");

    // Answers from the mirror, paged.
    let (err, list) = admin
        .tool("list_spectrocloud_clusters", json!({"limit": 500}))
        .await;
    assert!(!err);
    let all = list["items"].as_array().unwrap();
    assert_eq!(
        all.len(),
        25,
        "virtual clusters count among clusters, as in the fleet report"
    );
    assert_eq!(list["total"], 25);
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

pub(crate) async fn get_json(app: &TestApp, path: &str) -> Value {
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

/// Asserts that `v` has the shape `schema` promises (a tool's `outputSchema`): required
/// properties present, every property of its declared type (no `null` for a string),
/// nested objects and array items too.
pub(crate) fn assert_conforms(at: &str, schema: &Value, v: &Value) {
    let ok = match schema["type"].as_str() {
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some("array") => v.is_array(),
        Some("object") => v.is_object(),
        Some("null") => v.is_null(),
        _ => true,
    };
    assert!(ok, "{at}: {v} is not of the schema's type {schema}");
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap();
        assert!(v.get(r).is_some(), "{at}: required {r} missing in {v}");
    }
    for (k, s) in schema["properties"].as_object().into_iter().flatten() {
        if let Some(x) = v.get(k) {
            assert_conforms(&format!("{at}.{k}"), s, x);
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
        for (i, x) in list.iter().enumerate() {
            assert_conforms(&format!("{at}[{i}]"), items, x);
        }
    }
}

/// The four actions of the original plugin, called on `cluster` and `profile` (uids) as a
/// client written against it calls them: (tool, arguments).
pub(crate) fn original_calls(cluster: &str, profile: &str) -> [(&'static str, Value); 4] {
    [
        (
            "get_spectrocloud_health_for_cluster",
            json!({"clusterUid": cluster}),
        ),
        (
            "get_spectrocloud_kubeconfig_for_cluster",
            json!({"clusterUid": cluster}),
        ),
        (
            "get_spectrocloud_pack_details_for_profile",
            json!({"profileUid": profile}),
        ),
        (
            "find_spectrocloud_clusters_for_profile",
            json!({"profileUid": profile}),
        ),
    ]
}

/// The catalog entity the original's ingestor named for a cluster or profile.
pub(crate) fn entity_ref(project: Option<&str>, name: &str) -> String {
    let local = format!("env0-{}-{name}", project.unwrap_or("tenant")).to_lowercase();
    let mut out = String::new();
    for c in local.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    format!("resource:default/{}", out.trim_matches('-'))
}

/// Asserts the output fields the original plugin's action `tool` answered (names and shapes,
/// reference §6), as its clients read them.
pub(crate) fn assert_original_fields(tool: &str, v: &Value) {
    let text = |at: &Value, keys: &[&str]| {
        for k in keys {
            assert!(at[*k].is_string(), "{tool}: {k} is no string in {at}");
        }
    };
    let entity = |at: &Value| {
        let r = at["entityRef"].as_str().unwrap_or_default();
        assert!(r.starts_with("resource:default/env0-"), "{tool}: {at}");
    };
    match tool {
        "get_spectrocloud_health_for_cluster" => {
            text(&v["cluster"], &["name", "uid", "state", "entityRef"]);
            entity(&v["cluster"]);
            text(&v["health"], &["overallStatus"]);
            for c in v["health"]["conditions"].as_array().expect("conditions") {
                assert!(c.is_object(), "{tool}: condition {c}");
            }
        }
        "get_spectrocloud_kubeconfig_for_cluster" => {
            text(&v["cluster"], &["name", "uid", "entityRef"]);
            entity(&v["cluster"]);
            text(v, &["kubeconfig"]);
            assert_eq!(v["accessType"], "client-oidc");
        }
        "get_spectrocloud_pack_details_for_profile" => {
            text(&v["profile"], &["name", "uid", "entityRef"]);
            entity(&v["profile"]);
            let packs = v["packs"].as_array().expect("packs");
            assert!(!packs.is_empty(), "{tool}: {v}");
            for p in packs {
                text(p, &["name", "version", "layer"]);
            }
        }
        "find_spectrocloud_clusters_for_profile" => {
            text(&v["profile"], &["name", "uid", "entityRef"]);
            entity(&v["profile"]);
            let clusters = v["clusters"].as_array().expect("clusters");
            assert!(!clusters.is_empty(), "{tool}: {v}");
            for c in clusters {
                text(c, &["name", "uid", "entityRef"]);
                entity(c);
                for optional in ["state", "projectId"] {
                    assert!(c.get(optional).is_none_or(Value::is_string), "{tool}: {c}");
                }
            }
            // Our paging fields beside the original's.
            assert!(v["total"].is_u64() && v["items"].is_array(), "{tool}: {v}");
        }
        other => panic!("{other} is not one of the original actions"),
    }
}

/// The most used profile and a running cluster on it, both as the mirror lists them.
pub(crate) async fn used_profile_and_cluster(app: &TestApp) -> (Value, Value) {
    let usage = get_json(app, "/reports/profile-usage").await;
    let profile = usage["profiles"][0].clone();
    let uid = profile["uid"].as_str().unwrap();
    let on = get_json(app, &format!("/profiles/{uid}/clusters")).await;
    let cluster = on["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["projectName"].is_string() && c["state"] == "Running")
        .expect("a running project cluster on the profile")
        .clone();
    (profile, cluster)
}

/// The original plugin's four actions answer its output fields (a client written against it
/// finds `clusters`, `entityRef`, `overallStatus`, ...), with our paging fields beside, and
/// in the shape each `outputSchema` promises.
#[tokio::test]
async fn the_original_actions_answer_the_original_fields() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let (profile, cluster) = used_profile_and_cluster(&app).await;
    let (puid, cuid) = (
        profile["uid"].as_str().unwrap(),
        cluster["uid"].as_str().unwrap(),
    );
    let mcp = Client::connect(&app, ADMIN).await;
    let schemas = mcp.output_schemas().await;
    for (tool, args) in original_calls(cuid, puid) {
        let (err, v) = mcp.tool(tool, args).await;
        assert!(!err, "{tool}: {v}");
        assert_conforms(tool, &schemas[tool], &v);
        assert_original_fields(tool, &v);
    }
    // Values, not only shapes: the cluster's entity as the ingestor named it.
    let (project, name) = (
        cluster["projectName"].as_str(),
        cluster["name"].as_str().unwrap(),
    );
    let (_, health) = mcp
        .tool(
            "get_spectrocloud_health_for_cluster",
            json!({"clusterUid": cuid}),
        )
        .await;
    assert_eq!(health["cluster"]["entityRef"], entity_ref(project, name));
    let (_, found) = mcp
        .tool(
            "find_spectrocloud_clusters_for_profile",
            json!({"profileUid": puid, "limit": 500}),
        )
        .await;
    let mine = found["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["uid"] == cuid)
        .expect("the cluster among the profile's clusters");
    assert_eq!(mine["entityRef"], entity_ref(project, name));
    assert_eq!(mine["projectId"], cluster["projectUid"]);
    assert_eq!(
        found["clusters"].as_array().unwrap().len(),
        found["items"].as_array().unwrap().len()
    );
    assert!(
        schemas["find_spectrocloud_clusters_for_profile"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("clusters"))
    );
    mcp.close().await;
    app.stop().await;
    sim.stop().await;
}

/// Every read tool answers what its HTTP route answers for the same data (both go through the
/// same service function), in the shape its `outputSchema` promises.
#[tokio::test]
async fn every_tool_agrees_with_its_http_route() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    // A change on record, so the change history has something to compare.
    let changed = get_json(&app, "/clusters").await["clusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    sim_control(
        &sim,
        reqwest::Method::POST,
        &format!("/clusters/{changed}/state"),
        Some(json!({"state": "Error"})),
    )
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let mcp = Client::connect(&app, ADMIN).await;
    let schemas = mcp.output_schemas().await;
    let mut called = std::collections::BTreeSet::new();
    let mut tool = async |name: &'static str, args: Value| {
        called.insert(name);
        let (err, v) = mcp.tool(name, args).await;
        assert!(!err, "{name}: {v}");
        assert_conforms(name, &schemas[name], &v);
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
    // Every cluster, virtual ones included (as the route and the fleet report); the virtual
    // ones also on their own.
    assert_eq!(uid_set(&listed["items"]), uid_set(&http["clusters"]));
    assert!(!nested.is_empty() && !plain.is_empty());
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
    // The reverse lookup of the most used profile (not one no cluster runs).
    let usage = get_json(&app, "/reports/profile-usage").await;
    let used = usage["profiles"][0]["uid"].as_str().unwrap();
    let on = get_json(&app, &format!("/profiles/{used}/clusters")).await;
    let f = tool(
        "find_spectrocloud_clusters_for_profile",
        json!({"profileUid": used, "limit": 500}),
    )
    .await;
    assert!(f["total"].as_u64().unwrap() > 0, "{f}");
    assert_eq!(f["items"], on["clusters"]);
    assert_eq!(f["total"], on["total"]);
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
    assert!(
        c["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["object"]["uid"] == changed.as_str()),
        "{c}"
    );

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
async fn all_pages(c: &Client, tool: &str, args: Value) -> (Vec<Value>, u64) {
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
                assert!(page.get("truncated").is_none(), "{tool}: {page}");
                assert!(page.get("nextCursor").is_none(), "{tool}: absent, not null");
                assert_eq!(page["total"].as_u64().unwrap() as usize, items.len());
                return (items, pages);
            }
        }
    }
}

#[tokio::test]
async fn tools_carry_titles_annotations_and_output_schemas() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let admin = Client::connect(&app, ADMIN).await;
    let tools = admin.tools().await;
    assert_eq!(tools.len() + WRITE_TOOLS.len(), TOOLS.len());
    for t in &tools {
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
        .call_tool("list_spectrocloud_projects", json!({}))
        .await;
    assert!(r["structuredContent"]["total"].as_u64().unwrap() > 0, "{r}");
    let text: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, r["structuredContent"]);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn lists_page_to_the_end_filter_and_summarise() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let c = Client::connect(&app, ADMIN).await;
    let (items, pages) = all_pages(&c, "list_spectrocloud_clusters", json!({"limit": 5})).await;
    assert_eq!(pages, 5, "25 clusters (one virtual) in pages of 5");
    let http = get_json(&app, "/clusters").await;
    assert_eq!(
        uid_set(&Value::Array(items.clone())),
        uid_set(&http["clusters"])
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
    assert_eq!(
        s["total"], 25,
        "the fleet report's count: virtual clusters included"
    );
    let by_state: u64 = s["summary"]["state"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_state, 25);

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
    let (groups, _) = all_pages(&c, "list_spectrocloud_cluster_groups", json!({"limit": 1})).await;
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
    let c = Client::connect(&app, ADMIN).await;
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
    let c = Client::connect(&app, ADMIN).await;
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

/// Every tool (write tools on) refuses a caller without its permission before it runs, names
/// the permission, and puts the refusal on record; `tools/list` leaves such tools out.
#[tokio::test]
async fn a_caller_without_the_permission_is_refused_by_every_tool() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        auth(c);
        c.mcp.write_tools = true;
    })
    .await;
    // The viewer may view clusters only: the other tools are hidden and refused.
    let viewer = Client::connect(&app, VIEWER).await;
    let shown = viewer.tool_names().await;
    let mut refused = 0;
    for (tool, permission) in TOOLS {
        let listed = shown.iter().any(|s| s == tool);
        if *permission == Permission::ClusterViewInfo {
            assert!(listed, "{tool}");
            continue;
        }
        assert!(!listed, "{tool}");
        let (err, e) = viewer.tool(tool, json!({})).await;
        assert!(err, "{tool}");
        assert_eq!(e["code"], "permission_denied", "{tool}: {e}");
        assert_eq!(e["permission"], permission.id(), "{tool}");
        refused += 1;
    }
    assert!(refused >= 8, "{refused}");
    // A caller granted nothing sees no tool and is refused by every one, view-info tools too,
    // even with arguments that would otherwise work.
    let nobody = Client::connect(&app, NOBODY).await;
    assert_eq!(nobody.tool_names().await, Vec::<String>::new());
    let (_, list) = Client::connect(&app, ADMIN)
        .await
        .tool("list_spectrocloud_clusters", json!({"limit": 1}))
        .await;
    let cluster = list["items"][0]["uid"].clone();
    for (tool, permission) in TOOLS {
        let (err, e) = nobody.tool(tool, json!({"clusterUid": cluster})).await;
        assert!(err, "{tool}: {e}");
        assert_eq!(e["code"], "permission_denied", "{tool}: {e}");
        assert_eq!(e["permission"], permission.id(), "{tool}");
    }
    let audit = json(app.get("/audit?limit=200").await).await;
    let mut on_record: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == "user:default/nobody")
        .map(|e| {
            assert_eq!(e["outcome"], "denied", "{e}");
            let detail = e["detail"].as_str().unwrap();
            TOOLS
                .iter()
                .map(|(t, _)| *t)
                .find(|t| detail.contains(&format!("MCP tool {t}:")))
                .unwrap_or_else(|| panic!("{detail}"))
        })
        .collect();
    on_record.sort_unstable();
    let mut all: Vec<&str> = TOOLS.iter().map(|(t, _)| *t).collect();
    all.sort_unstable();
    assert_eq!(on_record, all, "one refusal on record per tool");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn write_tools_exist_only_when_enabled_and_are_audited() {
    let (sim, app) = synced(SimConfig::default(), auth).await;
    let c = Client::connect(&app, ADMIN).await;
    let listed = c.tool_names().await;
    assert!(listed.iter().all(|t| !WRITE_TOOLS.contains(&t.as_str())));
    let (err, e) = c.tool("trigger_spectrocloud_sync", json!({})).await;
    assert!(err);
    assert_eq!(e["code"], "not_found");
    app.stop().await;
    sim.stop().await;

    let (sim, app) = synced(SimConfig::default(), |c| {
        auth(c);
        c.mcp.write_tools = true;
        let eks = [
            ("region", json!("us-east-1")),
            ("instanceType", json!("m5.large")),
        ];
        let eks = eks.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        c.environments[0].create_defaults.insert("eks".into(), eks);
    })
    .await;
    let c = Client::connect(&app, ADMIN).await;
    let listed = c.tools().await;
    assert_eq!(listed.len(), TOOLS.len());
    for name in WRITE_TOOLS {
        let t = listed.iter().find(|t| t["name"] == name).expect(name);
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
    let http = app
        .client
        .post(app.url("/clusters"))
        .json(&json!({"metadata": {"name": "x"}, "spec": {"cloudType": "eks"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(http.status(), 400);
    let http = json(http).await;
    assert_eq!(bad["problems"], http["problems"], "the route's problems");
    assert!(!bad["problems"].as_array().unwrap().is_empty());

    // A good creation: what the route sends Palette, and its answer, audited.
    let (_, accounts) = c
        .tool(
            "list_spectrocloud_cloud_accounts",
            json!({"cloudType": "aws"}),
        )
        .await;
    let account = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["scope"] == "tenant")
        .expect("a tenant AWS account")["uid"]
        .clone();
    let (_, profiles) = c
        .tool(
            "search_spectrocloud_profiles_by_names",
            json!({"names": ["eks-infra"]}),
        )
        .await;
    let version = profiles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["scope"] == "tenant")
        .expect("the tenant eks-infra")["uid"]
        .clone();
    let wizard = |name: &str| {
        json!({"metadata": {"name": name},
            "spec": {"cloudType": "eks", "cloudAccountUid": account,
                "cloudConfig": {"controlPlane": {}, "workerPools": [{"name": "worker-pool-1", "size": 1, "minSize": 1, "maxSize": 3}]},
                "profiles": [{"uid": version, "packValues": []}], "clusterConfig": {}, "policies": {}}})
    };
    let (err, made) = c
        .tool(
            "create_spectrocloud_cluster",
            json!({"cluster": wizard("mcp-made")}),
        )
        .await;
    assert!(!err, "{made}");
    assert_eq!(made["status"], 201, "{made}");
    assert!(made["cluster"]["uid"].is_string(), "{made}");
    let audit = json(app.client.get(app.url("/audit")).send().await.unwrap()).await;
    assert_eq!(audit["entries"][0]["action"], "cluster.create");
    assert_eq!(audit["entries"][0]["subject"], "user:default/agent");
    let http = app
        .client
        .post(app.url("/clusters"))
        .json(&wizard("http-made"))
        .send()
        .await
        .unwrap();
    assert_eq!(http.status(), 201);
    let http = json(http).await;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&made["cluster"]), keys(&http), "the route's answer");
    let sent = sim_control(&sim, reqwest::Method::GET, "/creations", None).await;
    let sent = sent.as_array().unwrap();
    let (mut by_tool, by_route) = (
        sent[sent.len() - 2]["body"].clone(),
        &sent[sent.len() - 1]["body"],
    );
    assert_eq!(by_tool["metadata"]["name"], "mcp-made");
    by_tool["metadata"]["name"] = json!("http-made");
    assert_eq!(&by_tool, by_route, "Palette got the same body");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn the_diagnose_prompt_names_the_tool() {
    let app = spawn_app_with(auth).await;
    let c = Client::connect(&app, ADMIN).await;
    let prompts = c.prompts().await;
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    assert_eq!(prompts[0]["name"], "diagnose-cluster");
    assert_eq!(prompts[0]["title"], "Diagnose a cluster");
    assert_eq!(prompts[0]["arguments"][0]["name"], "clusterName");
    assert_eq!(prompts[0]["arguments"][0]["required"], true);
    let p = c
        .prompt("diagnose-cluster", json!({"clusterName": "web-1"}))
        .await
        .expect("prompts/get");
    assert_eq!(p["messages"][0]["role"], "user");
    let text = p["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(
        text.contains("diagnose_spectrocloud_cluster") && text.contains("web-1"),
        "{text}"
    );
    // A wrong prompt or a missing argument is a JSON-RPC error rmcp reads as one.
    for (name, args) in [
        ("no-such-prompt", json!({})),
        ("diagnose-cluster", json!({})),
    ] {
        match c.prompt(name, args).await {
            Err(rmcp::ServiceError::McpError(e)) => {
                assert_eq!(
                    e.code,
                    rmcp::model::ErrorCode::INVALID_PARAMS,
                    "{name}: {e:?}"
                )
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    c.close().await;
    app.stop().await;
}

/// The size of each read tool's largest answer at the `medium` dataset with default arguments
/// (name-taking tools over a sample of objects): the table in docs/mcp-and-actions.md. Slow, so on demand:
/// `cargo test --test api mcp::answer_sizes_at_medium -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn answer_sizes_at_medium() {
    let config = SimConfig {
        sizes: palette_sim::Sizes::preset("medium").unwrap(),
        ..SimConfig::default()
    };
    let (sim, app) = synced(config, auth).await;
    let c = Client::connect(&app, ADMIN).await;
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
        // The original's `clusters` come beside the page's `items`: each cluster twice.
        let budget = match tool {
            "find_spectrocloud_clusters_for_profile" => 12 * 1024,
            _ => 8 * 1024,
        };
        if largest > budget && !live {
            over.push(format!("{tool}: {largest}"));
        }
    }
    assert!(over.is_empty(), "answers over their budget: {over:?}");
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

    let email = ("X-SpectroCloud-User-Email", "alice@acme.example");
    let agent = Client::connect_with(&app, ADMIN, &[email, ("X-SpectroCloud-Token", &alice)]).await;
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
    // The token is now cached for this caller: a later session without it still sees alice's
    // view.
    agent.close().await;
    let agent = Client::connect_with(&app, ADMIN, &[email]).await;
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

/// The objects given a twin of the same name in the simulator before the first sync: a
/// tenant cluster, the virtual cluster and a cluster group, each twin in a project.
struct Twins {
    cluster: String,
    virtual_cluster: String,
    cluster_group: String,
    /// The project of the twins (id, name).
    project: (String, String),
}

/// A simulator whose data has [`Twins`] (and the dataset's two `shared-addons` profiles),
/// and the server synced from it.
async fn with_twins() -> (SimServer, TestApp, Twins) {
    use palette_sim::data::{Scope, new_uid};
    let sim = spawn_sim().await;
    let twins = {
        let mut guard = sim.state.data.write().unwrap();
        let d = &mut *guard;
        let project = (
            d.projects[1].meta.uid.clone(),
            d.projects[1].meta.name.clone(),
        );
        let in_project = Scope::Project(project.0.clone());
        // A tenant cluster runs only tenant profiles, which its twin in a project sees too.
        let c = d
            .clusters
            .iter()
            .find(|c| c.meta.scope == Scope::Tenant && c.state == "Running")
            .expect("a running tenant cluster")
            .clone();
        let mut twin = c.clone();
        twin.meta.uid = new_uid(&mut d.rng);
        twin.meta.scope = in_project.clone();
        d.clusters.push(twin);
        let v = d
            .clusters
            .iter()
            .find(|c| c.cloud_type == "nested")
            .expect("a virtual cluster")
            .clone();
        let mut vtwin = v.clone();
        vtwin.meta.uid = new_uid(&mut d.rng);
        vtwin.meta.scope = if v.meta.scope == in_project {
            Scope::Project(d.projects[2].meta.uid.clone())
        } else {
            in_project.clone()
        };
        vtwin.profile_refs.clear();
        d.clusters.push(vtwin);
        let mut gtwin = d.cluster_groups[0].clone();
        gtwin.meta.uid = new_uid(&mut d.rng);
        gtwin.meta.scope = in_project;
        let group = gtwin.meta.name.clone();
        d.cluster_groups.push(gtwin);
        d.reindex();
        Twins {
            cluster: c.meta.name,
            virtual_cluster: v.meta.name,
            cluster_group: group,
            project,
        }
    };
    let app = spawn_app_for(&[&sim], auth).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    (sim, app, twins)
}

/// Every tool that takes an object's name, the argument of the name and of the uid.
const BY_NAME: &[(&str, &str, &str)] = &[
    (
        "get_spectrocloud_health_for_cluster",
        "clusterName",
        "clusterUid",
    ),
    ("diagnose_spectrocloud_cluster", "clusterName", "clusterUid"),
    (
        "get_spectrocloud_kubeconfig_for_cluster",
        "clusterName",
        "clusterUid",
    ),
    (
        "get_spectrocloud_cluster_profiles",
        "clusterName",
        "clusterUid",
    ),
    (
        "get_spectrocloud_pack_manifest_for_cluster",
        "clusterName",
        "clusterUid",
    ),
    (
        "get_spectrocloud_virtual_cluster_details",
        "virtualClusterName",
        "virtualClusterUid",
    ),
    (
        "get_spectrocloud_kubeconfig_for_virtual_cluster",
        "virtualClusterName",
        "virtualClusterUid",
    ),
    (
        "get_spectrocloud_cluster_group",
        "clusterGroupName",
        "clusterGroupUid",
    ),
    (
        "get_spectrocloud_pack_details_for_profile",
        "profileName",
        "profileUid",
    ),
    (
        "get_spectrocloud_profile_variables",
        "profileName",
        "profileUid",
    ),
    (
        "find_spectrocloud_clusters_for_profile",
        "profileName",
        "profileUid",
    ),
];

/// A name with its last character changed: a typo.
fn typo(name: &str) -> String {
    let last = if name.ends_with('x') { 'y' } else { 'x' };
    format!("{}{last}", &name[..name.len() - 1])
}

/// Every name-taking tool: an ambiguous name (any case) is an error listing the candidates,
/// a candidate's uid then answers; a typo is not found with the closest names; an unknown
/// project is not found too, with its closest names.
#[tokio::test]
async fn every_name_taking_tool_lists_candidates_or_closest_names() {
    let (sim, app, twins) = with_twins().await;
    let c = Client::connect(&app, ADMIN).await;
    let offered: Vec<&str> = TOOLS
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !WRITE_TOOLS.contains(t))
        .collect();
    for (tool, _, _) in BY_NAME {
        assert!(offered.contains(tool), "{tool}");
    }
    // A manifest of the cluster (the same for both twins: same profiles).
    let (_, one) = c
        .tool(
            "list_spectrocloud_clusters",
            json!({"name": twins.cluster, "limit": 500}),
        )
        .await;
    assert_eq!(one["total"], 2, "{one}");
    let (_, cp) = c
        .tool(
            "get_spectrocloud_cluster_profiles",
            json!({"clusterUid": one["items"][0]["uid"]}),
        )
        .await;
    let manifest = cp["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["packs"].as_array().unwrap().iter())
        .find_map(|k| k["manifests"][0]["uid"].as_str())
        .expect("a manifest")
        .to_string();

    for (tool, name_key, uid_key) in BY_NAME {
        let name = match *name_key {
            "clusterName" => twins.cluster.as_str(),
            "virtualClusterName" => twins.virtual_cluster.as_str(),
            "clusterGroupName" => twins.cluster_group.as_str(),
            _ => "shared-addons",
        };
        let args = |key: &str, value: &str| {
            let mut a = json!({ key: value });
            if *tool == "get_spectrocloud_pack_manifest_for_cluster" {
                a["manifestUid"] = json!(manifest);
            }
            a
        };
        // Ambiguous: the candidates, told apart by scope and project, in this environment.
        let (err, e) = c.tool(tool, args(name_key, &name.to_uppercase())).await;
        assert!(err, "{tool}: {e}");
        assert_eq!(e["code"], "bad_request", "{tool}: {e}");
        let message = e["error"].as_str().unwrap();
        assert!(message.contains(uid_key), "{tool}: {message}");
        let candidates = e["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 2, "{tool}: {e}");
        let mut scopes: Vec<&str> = candidates
            .iter()
            .map(|x| x["scope"].as_str().unwrap())
            .collect();
        scopes.sort_unstable();
        // Virtual clusters live in projects only: their twins are told apart by project.
        let expected = match *name_key {
            "virtualClusterName" => ["project", "project"],
            _ => ["project", "tenant"],
        };
        assert_eq!(scopes, expected, "{tool}: {e}");
        assert_ne!(
            (&candidates[0]["scope"], &candidates[0]["projectUid"]),
            (&candidates[1]["scope"], &candidates[1]["projectUid"]),
            "{tool}: {e}"
        );
        for x in candidates {
            assert_eq!(x["name"].as_str().unwrap().to_lowercase(), name, "{tool}");
            assert_eq!(x["environment"], "env0", "{tool}");
            if x["scope"] == "project" {
                assert!(x["projectName"].is_string(), "{tool}: {x}");
            }
        }
        assert_ne!(candidates[0]["uid"], candidates[1]["uid"]);
        // Each candidate's uid answers, about that very object.
        for x in candidates {
            let uid = x["uid"].as_str().unwrap();
            let (err, v) = c.tool(tool, args(uid_key, uid)).await;
            assert!(!err, "{tool} {uid}: {v}");
            assert!(v.to_string().contains(uid), "{tool}: {uid} not in {v}");
        }
        // A project narrows the name: its own object wins over a tenant one of that name.
        for x in candidates.iter().filter(|x| x["scope"] == "project") {
            let uid = x["uid"].as_str().unwrap();
            for (key, value) in [
                ("projectUid", &x["projectUid"]),
                ("projectName", &x["projectName"]),
            ] {
                let mut a = args(name_key, name);
                a[key] = value.clone();
                let (err, v) = c.tool(tool, a).await;
                assert!(!err, "{tool} {key}={value}: {v}");
                assert!(
                    v.to_string().contains(uid),
                    "{tool} {key}: {uid} not in {v}"
                );
            }
        }
        // A typo: not found, and the real name among at most five closest names.
        let (err, e) = c.tool(tool, args(name_key, &typo(name))).await;
        assert!(err, "{tool}: {e}");
        assert_eq!(e["code"], "not_found", "{tool}: {e}");
        let close = e["didYouMean"].as_array().unwrap();
        assert!(close.len() <= 5, "{tool}: {e}");
        assert!(
            close
                .iter()
                .any(|n| n.as_str().unwrap().eq_ignore_ascii_case(name)),
            "{tool}: {e}"
        );
        // An unknown project: not found, with the project's closest names.
        let mut a = args(name_key, name);
        a["projectName"] = json!(typo(&twins.project.1));
        let (err, e) = c.tool(tool, a).await;
        assert!(err, "{tool}: {e}");
        assert_eq!(e["code"], "not_found", "{tool}: {e}");
        assert!(
            e["didYouMean"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n == twins.project.1.as_str()),
            "{tool}: {e}"
        );
    }
    // A cluster's twin is also told apart by its project.
    for (tool, name_key, _) in BY_NAME.iter().filter(|(_, k, _)| *k == "clusterName") {
        let mut a = json!({ *name_key: twins.cluster, "projectName": twins.project.1 });
        if *tool == "get_spectrocloud_pack_manifest_for_cluster" {
            a["manifestUid"] = json!(manifest);
        }
        let (err, v) = c.tool(tool, a).await;
        assert!(!err, "{tool}: {v}");
    }
    let (err, v) = c
        .tool(
            "get_spectrocloud_health_for_cluster",
            json!({"clusterName": twins.cluster, "projectUid": twins.project.0}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(v["cluster"]["projectUid"], twins.project.0.as_str());

    // Profiles by names: both of a shared name come back, told apart; unknown names none.
    let (err, found) = c
        .tool(
            "search_spectrocloud_profiles_by_names",
            json!({"names": ["SHARED-addons", "no-such-profile"]}),
        )
        .await;
    assert!(!err, "{found}");
    assert_eq!(found["total"], 2, "{found}");
    let scopes: Vec<&Value> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["scope"])
        .collect();
    assert!(scopes.contains(&&json!("tenant")) && scopes.contains(&&json!("project")));
    app.stop().await;
    sim.stop().await;
}

/// An item's identity in a list: its uid, else its name (packs), else its id (changes).
fn key_of(item: &Value) -> String {
    ["uid", "name", "id"]
        .iter()
        .find_map(|k| {
            item[*k]
                .as_str()
                .map(str::to_string)
                .or(item[*k].as_i64().map(|n| n.to_string()))
        })
        .unwrap_or_else(|| panic!("no uid, name or id: {item}"))
}

/// Every list tool, paged in about three pages to the end: the pages add up to the one big
/// page (same items, same order, `total` each time), `nextCursor` is absent on the last.
#[tokio::test]
async fn every_list_tool_pages_to_the_end() {
    let (sim, app) = synced(
        SimConfig {
            sizes: sizes(4, 60, 12),
            ..SimConfig::default()
        },
        auth,
    )
    .await;
    let c = Client::connect(&app, ADMIN).await;
    let (_, packs) = c.tool("search_spectrocloud_packs", json!({})).await;
    let (_, usage) = c.tool("get_spectrocloud_profile_usage", json!({})).await;
    let lists: Vec<(&str, Value)> = vec![
        ("list_spectrocloud_clusters", json!({})),
        ("list_spectrocloud_virtual_clusters", json!({})),
        ("list_spectrocloud_projects", json!({})),
        ("list_spectrocloud_cluster_groups", json!({})),
        (
            "list_spectrocloud_cloud_accounts",
            json!({"cloudType": "aws"}),
        ),
        (
            "search_spectrocloud_profiles_by_names",
            json!({"names": ["eks-infra", "aws-infra", "azure-infra", "shared-addons"]}),
        ),
        (
            "list_spectrocloud_profiles_for_project",
            json!({"projectName": "Default"}),
        ),
        (
            "find_spectrocloud_clusters_for_profile",
            json!({"profileUid": usage["items"][0]["uid"]}),
        ),
        ("get_spectrocloud_profile_usage", json!({})),
        (
            "find_spectrocloud_clusters_by_pack",
            json!({"packName": packs["items"][0]["name"]}),
        ),
        ("search_spectrocloud_packs", json!({})),
    ];
    let paged: Vec<&str> = lists.iter().map(|(t, _)| *t).collect();
    let specs = c.tools().await;
    for (tool, _) in TOOLS {
        let spec = specs.iter().find(|t| t["name"] == *tool);
        let takes_cursor =
            spec.is_some_and(|s| s["inputSchema"]["properties"]["cursor"].is_object());
        let listed = paged.contains(tool) || *tool == "list_spectrocloud_fleet_changes";
        assert_eq!(
            takes_cursor, listed,
            "{tool}: every paged tool is paged here"
        );
    }
    for (tool, args) in lists {
        let mut all = args.clone();
        all["limit"] = json!(500);
        let (err, whole) = c.tool(tool, all).await;
        assert!(!err, "{tool}: {whole}");
        let total = whole["total"].as_u64().unwrap() as usize;
        let items = whole["items"].as_array().unwrap();
        assert_eq!(items.len(), total, "{tool}");
        assert!(whole.get("nextCursor").is_none(), "{tool}: {whole}");
        assert!(total >= 2, "{tool}: {total} items are too few to page");
        let limit = total.div_ceil(3);
        let mut first = args.clone();
        first["limit"] = json!(limit);
        let (got, pages) = all_pages(&c, tool, first).await;
        assert_eq!(pages as usize, total.div_ceil(limit), "{tool}");
        let keys = |v: &[Value]| v.iter().map(key_of).collect::<Vec<_>>();
        assert_eq!(
            keys(&got),
            keys(items),
            "{tool}: the pages are the whole list"
        );
        // The default page is 25 at most.
        let (_, default) = c.tool(tool, args.clone()).await;
        let n = default["items"].as_array().unwrap().len();
        assert_eq!(n, total.min(25), "{tool}");
        assert_eq!(
            default["truncated"].as_bool().unwrap_or(false),
            total > 25,
            "{tool}"
        );
    }

    // The change history pages by cursor too (newest first, no total): make some changes.
    let http = get_json(&app, "/clusters").await;
    let running: Vec<&str> = http["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"]["state"] == "Running")
        .take(4)
        .map(|c| c["metadata"]["uid"].as_str().unwrap())
        .collect();
    for uid in &running {
        sim_control(
            &sim,
            reqwest::Method::POST,
            &format!("/clusters/{uid}/state"),
            Some(json!({"state": "Error"})),
        )
        .await;
    }
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let events = get_json(&app, "/events").await;
    let want: Vec<String> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(key_of)
        .collect();
    assert!(want.len() >= 4, "{events}");
    let (mut got, mut args) = (Vec::new(), json!({"limit": 1}));
    loop {
        let (err, page) = c
            .tool("list_spectrocloud_fleet_changes", args.clone())
            .await;
        assert!(!err, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 1);
        got.extend(items.iter().map(key_of));
        match page["nextCursor"].as_str() {
            Some(next) => args["cursor"] = json!(next),
            None => {
                assert!(page.get("nextCursor").is_none(), "absent, not null: {page}");
                break;
            }
        }
        assert!(got.len() <= want.len(), "paging does not end");
    }
    assert_eq!(got, want);
    app.stop().await;
    sim.stop().await;
}

/// What `demo` prints up to its last line.
async fn demo_output(args: &[&str]) -> (String, tokio::process::Child) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .arg("demo")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut out = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        out.push_str(&line);
        out.push('\n');
        if line.contains("Ctrl-C stops both") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (out, child)
}

#[tokio::test]
async fn demo_prints_a_working_mcp_client_configuration_and_no_session_tokens() {
    let (out, mut child) = demo_output(&["--bind", "127.0.0.1:0"]).await;
    // Palette session tokens are JWTs (`eyJ…`): not printed unless asked.
    assert!(!out.contains("eyJ"), "{out}");
    assert!(out.contains("--show-tokens"), "{out}");
    let endpoint = out
        .lines()
        .find_map(|l| l.strip_prefix("MCP endpoint: "))
        .and_then(|r| r.split_whitespace().next())
        .expect("the MCP endpoint is printed")
        .to_string();
    assert!(endpoint.ends_with("/api/spectrocloud/mcp"), "{endpoint}");
    // The printed JSON is a client configuration naming that endpoint.
    let start = out.find("{\n").expect("a JSON block");
    let end = start + out[start..].find("\n}\n").expect("its end") + 2;
    let config: Value = serde_json::from_str(&out[start..end]).expect("valid JSON");
    let url = config["mcpServers"]["spectrocloud"]["url"]
        .as_str()
        .expect("mcpServers.spectrocloud.url");
    assert_eq!(url, endpoint);
    // An MCP client given only that URL lists the tools.
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_string()),
    );
    let client = ().serve(transport).await.expect("MCP handshake");
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(
        tools
            .iter()
            .any(|t| t.name == "find_spectrocloud_clusters_for_profile"),
        "{:?}",
        tools.iter().map(|t| t.name.to_string()).collect::<Vec<_>>()
    );
    let _ = client.cancel().await;
    let _ = child.start_kill();

    let (out, mut child) = demo_output(&["--bind", "127.0.0.1:0", "--show-tokens"]).await;
    assert!(out.contains("Authorization: eyJ"), "{out}");
    let _ = child.start_kill();
}
