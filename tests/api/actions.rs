//! The Backstage actions registry (`<base>/.backstage/actions/...`) over the MCP tools,
//! Backstage plugin-to-plugin tokens on behalf of a user, and the MCP protocol edges: plain
//! JSON answers, OAuth protected-resource metadata.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use spectrocloud_backend::config::{
    AuthMode, BackstageAuthConfig, Config, Grant, Secret, StaticToken,
};

use crate::auth::{ISSUER, SigningKey, backstage_token, es256_key};
use crate::helpers::*;

const ADMIN: &str = "actions-admin-token-6d1f";
const VIEWER: &str = "actions-viewer-token-a09c";

fn static_auth(c: &mut Config) {
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

/// One MCP request in the 2026-07-28 stateless way (no session, per-request `_meta`):
/// the answer's content type and its JSON-RPC message.
async fn mcp(app: &TestApp, token: &str, method: &str, mut params: Value) -> (String, Value) {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "actions-test", "version": "1"},
    });
    let mut req = reqwest::Client::new()
        .post(app.url("/mcp"))
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", method);
    if let Some(name) = params["name"].as_str() {
        req = req.header("Mcp-Name", name);
    }
    let resp = req
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{method}");
    let kind = content_type(&resp);
    let text = resp.text().await.unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method}: not a plain JSON answer ({e}): {text}"));
    assert!(v.get("error").is_none(), "{method}: {v}");
    (kind, v["result"].clone())
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn mcp_tools(app: &TestApp, token: &str) -> Vec<Value> {
    let (_, r) = mcp(app, token, "tools/list", json!({})).await;
    r["tools"].as_array().unwrap().clone()
}

async fn list_actions(app: &TestApp, token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(app.url("/.backstage/actions/v1/actions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), json(resp).await)
}

async fn invoke(app: &TestApp, token: &str, version: &str, id: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(app.url(&format!(
            "/.backstage/actions/{version}/actions/{id}/invoke"
        )))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), json(resp).await)
}

/// Asserts Backstage's `ErrorResponseBody` with this status and error name.
fn assert_backstage_error(status: u16, body: &Value, want: u16, name: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["name"], name, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(body["response"]["statusCode"], want, "{body}");
    assert!(body["request"]["method"].is_string(), "{body}");
    assert!(
        body["request"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/.backstage/actions/")),
        "{body}"
    );
}

fn names(items: &[Value], key: &str) -> BTreeSet<String> {
    items
        .iter()
        .map(|t| t[key].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn actions_are_the_callers_tools_in_backstage_shape() {
    let app = spawn_app_with(static_auth).await;
    let tools = mcp_tools(&app, ADMIN).await;
    let (status, listed) = list_actions(&app, ADMIN).await;
    assert_eq!(status, 200, "{listed}");
    let actions = listed["actions"].as_array().unwrap();
    assert_eq!(names(actions, "name"), names(&tools, "name"));
    assert_eq!(actions.len(), tools.len());
    for a in actions {
        let name = a["name"].as_str().unwrap();
        let tool = tools.iter().find(|t| t["name"] == name).unwrap();
        assert_eq!(a["id"], format!("spectrocloud:{name}"));
        assert_eq!(a["pluginId"], "spectrocloud");
        assert_eq!(a["description"], tool["description"], "{name}");
        let title = tool["title"]
            .as_str()
            .or(tool["annotations"]["title"].as_str())
            .unwrap_or(name);
        assert_eq!(a["title"], title, "{name}");
        assert_eq!(a["schema"]["input"], tool["inputSchema"], "{name}");
        assert!(a["schema"]["output"].is_object(), "{name}");
        let read_only = tool["annotations"]["readOnlyHint"]
            .as_bool()
            .unwrap_or(false);
        assert_eq!(a["attributes"]["readOnly"], read_only, "{name}");
        for k in ["destructive", "idempotent"] {
            assert!(a["attributes"][k].is_boolean(), "{name}: {k}");
        }
    }

    // The viewer sees only its tools, the same ones MCP lists for it.
    let viewer_tools = mcp_tools(&app, VIEWER).await;
    let (status, viewer) = list_actions(&app, VIEWER).await;
    assert_eq!(status, 200);
    let seen = names(viewer["actions"].as_array().unwrap(), "name");
    assert_eq!(seen, names(&viewer_tools, "name"));
    assert!(!seen.is_empty() && seen.len() < actions.len(), "{seen:?}");
    assert!(!seen.contains("get_spectrocloud_kubeconfig_for_cluster"));

    // No token: Backstage's AuthenticationError.
    let resp = reqwest::Client::new()
        .get(app.url("/.backstage/actions/v1/actions"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_backstage_error(status, &json(resp).await, 401, "AuthenticationError");
    // Backstage checks that a plugin speaks the new auth system by reading its keys.
    let keys = json(app.get("/.backstage/auth/v1/jwks.json").await).await;
    assert_eq!(keys, json!({"keys": []}));
    app.stop().await;
}

/// Every `uid` (and `metadata.uid`) anywhere in `v`.
fn uids(v: &Value, into: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("uid", Value::String(s)) => {
                        into.insert(s.clone());
                    }
                    _ => uids(x, into),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| uids(x, into)),
        _ => {}
    }
}

#[tokio::test]
async fn invoke_answers_what_the_tool_and_the_route_answer() {
    let (sim, app) = synced(SimConfig::default(), static_auth).await;
    let id = "spectrocloud:list_spectrocloud_projects";
    let (_, tool) = mcp(
        &app,
        ADMIN,
        "tools/call",
        json!({"name": "list_spectrocloud_projects", "arguments": {}}),
    )
    .await;
    assert_ne!(tool["isError"], true, "{tool}");
    let (status, v2) = invoke(&app, ADMIN, "v2", id, json!({"input": {}})).await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["output"], tool["structuredContent"]);
    let (status, v1) = invoke(&app, ADMIN, "v1", id, json!({})).await;
    assert_eq!(status, 200, "{v1}");
    assert_eq!(v1["output"], v2["output"]);
    // Backstage's ActionsService sends the id URL-encoded.
    let (status, encoded) = invoke(
        &app,
        ADMIN,
        "v2",
        "spectrocloud%3Alist_spectrocloud_projects",
        json!({"input": {}}),
    )
    .await;
    assert_eq!(status, 200, "{encoded}");
    assert_eq!(encoded["output"], v2["output"]);
    // ...and the HTTP route has the same projects.
    let route = json(app.get("/projects").await).await;
    let (mut from_route, mut from_action) = (BTreeSet::new(), BTreeSet::new());
    uids(&route, &mut from_route);
    uids(&v2["output"], &mut from_action);
    assert!(!from_route.is_empty());
    assert_eq!(from_action, from_route);

    // Unknown actions, our own or another plugin's.
    for unknown in ["spectrocloud:no_such_tool", "catalog:get-entity"] {
        let (status, body) = invoke(&app, ADMIN, "v2", unknown, json!({"input": {}})).await;
        assert_backstage_error(status, &body, 404, "NotFoundError");
        assert_eq!(
            body["error"]["message"],
            format!("Action \"{unknown}\" not found")
        );
        assert_eq!(body["request"]["method"], "POST");
    }
    // A tool the caller may not call: refused, with the permission named.
    let (status, body) = invoke(
        &app,
        VIEWER,
        "v2",
        "spectrocloud:get_spectrocloud_kubeconfig_for_cluster",
        json!({"input": {"clusterName": "whatever"}}),
    )
    .await;
    assert_backstage_error(status, &body, 403, "NotAllowedError");
    assert_eq!(body["error"]["code"], "permission_denied");
    assert_eq!(
        body["error"]["permission"],
        "spectrocloud.cluster.download-kubeconfig"
    );
    // Input that does not fit the tool's schema, or is no object, or brings secrets.
    let profiles = "spectrocloud:list_spectrocloud_profiles_for_project";
    for bad in [
        json!({"input": {"projectUid": 42}}),
        json!({"input": [1, 2]}),
        json!({"input": {}, "secrets": {"token": "x"}}),
    ] {
        let (status, body) = invoke(&app, ADMIN, "v2", profiles, bad.clone()).await;
        assert_backstage_error(status, &body, 400, "InputError");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(profiles),
            "{bad}: {body}"
        );
    }
    // A tool's own error keeps its status and code.
    let (status, body) = invoke(
        &app,
        ADMIN,
        "v1",
        "spectrocloud:list_spectrocloud_clusters",
        json!({"instanceName": "nowhere"}),
    )
    .await;
    assert_backstage_error(status, &body, 404, "NotFoundError");
    assert_eq!(body["error"]["code"], "unknown_instance");
    app.stop().await;
    sim.stop().await;
}

/// The original plugin's four actions, invoked through the registry as Backstage's
/// `ActionsService` invokes them: the original's output fields, the same output as the tool.
#[tokio::test]
async fn the_original_actions_answer_the_original_fields_through_the_registry() {
    let (sim, app) = synced(SimConfig::default(), static_auth).await;
    let (profile, cluster) = crate::mcp::used_profile_and_cluster(&app).await;
    let (puid, cuid) = (
        profile["uid"].as_str().unwrap(),
        cluster["uid"].as_str().unwrap(),
    );
    for (tool, args) in crate::mcp::original_calls(cuid, puid) {
        let id = format!("spectrocloud:{tool}");
        let (status, v2) = invoke(&app, ADMIN, "v2", &id, json!({"input": args.clone()})).await;
        assert_eq!(status, 200, "{tool}: {v2}");
        crate::mcp::assert_original_fields(tool, &v2["output"]);
        let (status, v1) = invoke(&app, ADMIN, "v1", &id, args.clone()).await;
        assert_eq!(status, 200, "{tool}: {v1}");
        crate::mcp::assert_original_fields(tool, &v1["output"]);
        let (_, direct) = mcp(
            &app,
            ADMIN,
            "tools/call",
            json!({"name": tool, "arguments": args}),
        )
        .await;
        let (mut a, mut b) = (v2["output"].clone(), direct["structuredContent"].clone());
        // Kubeconfigs are minted per call; everything else is the same answer.
        for v in [&mut a, &mut b] {
            if let Some(o) = v.as_object_mut() {
                o.remove("kubeconfig");
            }
        }
        assert_eq!(a, b, "{tool}");
    }
    app.stop().await;
    sim.stop().await;
}

// ---------------------------------------------------------------- Backstage plugin tokens

/// A Backstage backend serving JWKS documents by path, counting reads per path.
struct Backend {
    base: String,
    keys: Arc<Mutex<HashMap<String, Value>>>,
    reads: Arc<Mutex<HashMap<String, usize>>>,
    handle: actix_web::dev::ServerHandle,
}

async fn backend(keys: HashMap<String, Value>) -> Backend {
    let keys = Arc::new(Mutex::new(keys));
    let reads = Arc::new(Mutex::new(HashMap::new()));
    let (k, r) = (keys.clone(), reads.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let (k, r) = (k.clone(), r.clone());
        App::new().default_service(web::to(move |req: HttpRequest| {
            let (k, r) = (k.clone(), r.clone());
            async move {
                let path = req.path().to_string();
                *r.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                match k.lock().unwrap().get(&path) {
                    Some(v) => HttpResponse::Ok().json(v),
                    None => HttpResponse::NotFound().finish(),
                }
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Backend {
        base: format!("http://127.0.0.1:{port}"),
        keys,
        reads,
        handle,
    }
}

const AUTH_KEYS: &str = "/api/auth/.well-known/jwks.json";
const MCP_ACTIONS_KEYS: &str = "/api/mcp-actions/.backstage/auth/v1/jwks.json";

fn sign(key: &SigningKey, typ: &str, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    header.typ = Some(typ.into());
    let t = jsonwebtoken::encode(&header, &claims, &key.key).unwrap();
    remember_secret(&t);
    t
}

/// A limited user token as Backstage's auth backend makes it: `sub`, `iat`, `exp` only.
fn limited_user(auth: &SigningKey, user: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    sign(
        auth,
        "vnd.backstage.limited-user",
        json!({"sub": user, "iat": now, "exp": now + 600}),
    )
}

/// A plugin token as Backstage's `auth.getPluginRequestToken` makes it.
fn plugin_token(key: &SigningKey, sub: &str, aud: &str, obo: Option<String>) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"sub": sub, "aud": aud, "iat": now, "exp": now + 600});
    if let Some(o) = obo {
        claims["obo"] = json!(o);
    }
    sign(key, "vnd.backstage.plugin", claims)
}

async fn debug_caller(app: &TestApp, token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(app.url("/auth/debug"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, json(resp).await["caller"].clone())
}

#[tokio::test]
async fn plugin_tokens_on_behalf_of_a_user_are_verified_against_the_plugins_keys() {
    let auth_key = es256_key("auth-1");
    let plugin_key = es256_key("plugin-1");
    // Same kid as the plugin's real key: only the signature tells them apart.
    let forged_key = es256_key("plugin-1");
    let bs = backend(HashMap::from([
        (AUTH_KEYS.to_string(), json!({"keys": [auth_key.jwk]})),
        (
            MCP_ACTIONS_KEYS.to_string(),
            json!({"keys": [plugin_key.jwk]}),
        ),
    ]))
    .await;
    let jwks_url = format!("{}{AUTH_KEYS}", bs.base);
    let sim = spawn_sim().await;
    let app = spawn_app_for(&[&sim], |c| {
        c.auth.mode = AuthMode::Backstage;
        c.auth.backstage = Some(BackstageAuthConfig {
            jwks_url,
            issuer: Some(ISSUER.into()),
            audience: None,
        });
        // The harness's own token (syncs, reads) beside Backstage's.
        c.auth.tokens = vec![StaticToken {
            token: Secret::new(ADMIN),
            subject: "user:default/agent".into(),
            groups: vec![],
            palette_user: None,
        }];
        c.permissions.enabled = true;
        c.permissions.grants = vec![Grant {
            principals: vec!["user:default/ada".into(), "user:default/agent".into()],
            allow: vec!["spectrocloud.*".into()],
        }];
    })
    .await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success");

    // mcp-actions calling on behalf of ada: ada is the caller, the plugin her actor.
    let for_ada = plugin_token(
        &plugin_key,
        "mcp-actions",
        "spectrocloud",
        Some(limited_user(&auth_key, "user:default/ada")),
    );
    let (status, caller) = debug_caller(&app, &for_ada).await;
    assert_eq!(status, 200, "{caller}");
    assert_eq!(caller["subject"], "user:default/ada");
    assert_eq!(caller["actor"], "plugin:mcp-actions");
    assert_eq!(caller["method"], "backstage");
    let (status, listed) = list_actions(&app, &for_ada).await;
    assert_eq!(status, 200);
    let ada_user_token = backstage_token(&auth_key, "user:default/ada", &[], 300, ISSUER);
    assert_eq!(
        names(listed["actions"].as_array().unwrap(), "name"),
        names(&mcp_tools(&app, &ada_user_token).await, "name")
    );

    // Her kubeconfig through the registry is audited as hers.
    let clusters = json(app.get("/clusters").await).await;
    let running = clusters["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"]["state"] == "Running")
        .expect("a running cluster");
    let uid = running["metadata"]["uid"].as_str().unwrap().to_string();
    let (status, out) = invoke(
        &app,
        &for_ada,
        "v2",
        "spectrocloud:get_spectrocloud_kubeconfig_for_cluster",
        json!({"input": {"clusterUid": uid}}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert!(
        out["output"]["kubeconfig"]
            .as_str()
            .unwrap()
            .contains("apiVersion")
    );
    let audit = json(app.get("/audit").await).await;
    assert_eq!(
        audit["entries"][0]["action"], "kubeconfig.download",
        "{audit}"
    );
    assert_eq!(audit["entries"][0]["subject"], "user:default/ada");

    // The plugin on its own is a service principal with no grant: it sees no action.
    let alone = plugin_token(&plugin_key, "mcp-actions", "spectrocloud", None);
    let (status, caller) = debug_caller(&app, &alone).await;
    assert_eq!(status, 200);
    assert_eq!(caller["subject"], "plugin:mcp-actions");
    let (status, listed) = list_actions(&app, &alone).await;
    assert_eq!((status, listed), (200, json!({"actions": []})));

    // Refused: a wrong plugin key, a user token not from the auth backend, a token for
    // another plugin, a plugin we do not trust (whose keys are then never read).
    let ada = || Some(limited_user(&auth_key, "user:default/ada"));
    let refused = [
        plugin_token(&forged_key, "mcp-actions", "spectrocloud", ada()),
        plugin_token(
            &plugin_key,
            "mcp-actions",
            "spectrocloud",
            Some(limited_user(&forged_key, "user:default/ada")),
        ),
        plugin_token(&plugin_key, "mcp-actions", "catalog", ada()),
        plugin_token(&plugin_key, "scaffolder", "spectrocloud", ada()),
    ];
    for token in &refused {
        let (status, body) = list_actions(&app, token).await;
        assert_backstage_error(status, &body, 401, "AuthenticationError");
        assert_eq!(debug_caller(&app, token).await.0, 401);
    }
    let reads = bs.reads.lock().unwrap().clone();
    assert!(
        !reads.keys().any(|p| p.contains("scaffolder")),
        "an untrusted plugin's keys were read: {reads:?}"
    );
    assert!(reads[MCP_ACTIONS_KEYS] >= 1);
    // A rotated plugin key is picked up (a new kid re-reads that plugin's keys).
    let rotated = es256_key("plugin-2");
    bs.keys
        .lock()
        .unwrap()
        .insert(MCP_ACTIONS_KEYS.into(), json!({"keys": [rotated.jwk]}));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let token = plugin_token(&rotated, "mcp-actions", "spectrocloud", ada());
    assert_eq!(debug_caller(&app, &token).await.0, 200);
    app.stop().await;
    sim.stop().await;
    bs.handle.stop(false).await;
}

// ---------------------------------------------------------------- protocol

#[tokio::test]
async fn mcp_answers_plain_json_and_names_its_protected_resource_metadata() {
    let app = spawn_app_with(|c| {
        static_auth(c);
        c.mcp.authorization_servers = vec!["https://backstage.example/api/auth".into()];
    })
    .await;
    // A 2026-07-28 request/response: application/json, no session.
    let (kind, listed) = mcp(&app, ADMIN, "tools/list", json!({})).await;
    assert!(kind.starts_with("application/json"), "{kind}");
    assert!(!listed["tools"].as_array().unwrap().is_empty());

    // A 401 points at the metadata (RFC 9728), which names the resource and its servers.
    let resp = reqwest::Client::new()
        .post(app.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/api/spectrocloud/mcp",
        app.address
    );
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );
    for url in [
        metadata_url.clone(),
        format!("{}/.well-known/oauth-protected-resource", app.address),
    ] {
        let doc = json(reqwest::get(&url).await.unwrap()).await;
        assert_eq!(doc["resource"], app.url("/mcp"), "{url}");
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(
            doc["authorization_servers"],
            json!(["https://backstage.example/api/auth"])
        );
    }
    app.stop().await;

    // With legacy sessions off, an older client's request is answered as plain JSON too.
    let app = spawn_app_with(|c| {
        static_auth(c);
        c.mcp.legacy_sessions = false;
    })
    .await;
    let resp = reqwest::Client::new()
        .post(app.url("/mcp"))
        .bearer_auth(ADMIN)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(content_type(&resp).starts_with("application/json"));
    assert!(resp.headers().get("mcp-session-id").is_none());
    let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(!v["result"]["tools"].as_array().unwrap().is_empty());
    app.stop().await;

    // No token needed (auth none): no metadata either.
    let app = spawn_app().await;
    let resp = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource",
        app.address
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 404);
    app.stop().await;
}

/// The registry forwards the request's Palette user headers to the tool, as `/mcp` does: a
/// person's agent sees through an action what that person may see.
#[tokio::test]
async fn an_action_sees_what_the_callers_palette_user_sees() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        static_auth(c);
        c.auth.tokens[0].palette_user = Some("alice@acme.example".into());
    })
    .await;
    let id = "spectrocloud:list_spectrocloud_projects";
    let (status, keys_view) = invoke(&app, ADMIN, "v2", id, json!({"input": {}})).await;
    assert_eq!(status, 200, "{keys_view}");
    let alice = sim_token(&sim, "alice@acme.example").await;
    let resp = reqwest::Client::new()
        .post(app.url(&format!("/.backstage/actions/v2/actions/{id}/invoke")))
        .bearer_auth(ADMIN)
        .header("X-SpectroCloud-User-Email", "alice@acme.example")
        .header("X-SpectroCloud-Token", &alice)
        .json(&json!({"input": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let hers = json(resp).await["output"].clone();
    let route = app
        .client
        .get(app.url("/users/me/projects"))
        .header("X-SpectroCloud-User-Email", "alice@acme.example")
        .header("X-SpectroCloud-Token", &alice)
        .send()
        .await
        .unwrap();
    let (mut want, mut got, mut all) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    uids(&json(route).await["projects"], &mut want);
    uids(&hers, &mut got);
    uids(&keys_view["output"], &mut all);
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert!(
        all.len() > want.len(),
        "the key sees more: {all:?} vs {want:?}"
    );
    app.stop().await;
    sim.stop().await;
}
