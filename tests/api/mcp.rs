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
