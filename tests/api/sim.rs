//! The Palette simulator, driven over HTTP as a Palette client would.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str = "sim-api-key";

fn client() -> Client {
    Client::new()
}

async fn list_all(
    sim: &SimServer,
    path: &str,
    body: Value,
    limit: u32,
    project: Option<&str>,
) -> (Vec<Value>, usize) {
    let c = client();
    let mut items = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let mut url = format!("{}{path}?limit={limit}", sim.url);
        if !token.is_empty() {
            url.push_str(&format!("&continue={token}"));
        }
        let mut req = c.post(url).header("ApiKey", KEY).json(&body);
        if let Some(p) = project {
            req = req.header("ProjectUid", p);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        pages += 1;
        items.extend(v["items"].as_array().unwrap().iter().cloned());
        let next = v["listmeta"]["continue"].as_str().unwrap().to_string();
        assert!(v["listmeta"]["count"].is_number());
        if next.is_empty() {
            break;
        }
        assert_ne!(next, token, "continue token repeated");
        token = next;
        assert!(pages < 1000);
    }
    (items, pages)
}

#[tokio::test]
async fn pagination_spans_pages_and_covers_everything() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 130, 12),
        ..SimConfig::default()
    })
    .await;
    let (items, pages) = list_all(
        &sim,
        "/v1/dashboard/spectroclusters/search",
        json!({"filter": {}}),
        50,
        None,
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(items.len(), 130);
    let mut uids: Vec<&str> = items
        .iter()
        .map(|i| i["metadata"]["uid"].as_str().unwrap())
        .collect();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), 130, "pages overlap or skip");
    // limit above 50 is capped at 50
    let v: Value = client()
        .post(format!(
            "{}/v1/dashboard/spectroclusters/search?limit=500",
            sim.url
        ))
        .header("ApiKey", KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 50);
    assert_eq!(v["listmeta"]["limit"], 50);
    // profiles page too
    let (profiles, pages) = list_all(
        &sim,
        "/v1/dashboard/clusterprofiles",
        json!({"filter": {}}),
        5,
        None,
    )
    .await;
    assert_eq!(profiles.len(), 12);
    assert_eq!(pages, 3);
    sim.stop().await;
}

#[tokio::test]
async fn continue_in_body_is_ignored() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 80, 10),
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let first: Value = c
        .post(format!(
            "{}/v1/dashboard/spectroclusters/search?limit=50",
            sim.url
        ))
        .header("ApiKey", KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = first["listmeta"]["continue"].as_str().unwrap();
    assert!(!token.is_empty());
    // The token in the body: Palette ignores it and answers page 1 again.
    let again: Value = c
        .post(format!(
            "{}/v1/dashboard/spectroclusters/search?limit=50",
            sim.url
        ))
        .header("ApiKey", KEY)
        .json(&json!({"filter": {}, "continue": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["items"][0]["metadata"]["uid"],
        first["items"][0]["metadata"]["uid"]
    );
    // In the query: page 2.
    let second: Value = c
        .post(format!(
            "{}/v1/dashboard/spectroclusters/search?limit=50&continue={token}",
            sim.url
        ))
        .header("ApiKey", KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 30);
    assert_ne!(
        second["items"][0]["metadata"]["uid"],
        first["items"][0]["metadata"]["uid"]
    );
    assert_eq!(second["listmeta"]["continue"], "");
    sim.stop().await;
}

async fn project_uids(sim: &SimServer) -> Vec<String> {
    let v: Value = client()
        .post(format!("{}/v1/dashboard/projects", sim.url))
        .header("ApiKey", KEY)
        .json(&json!({"filter": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["uid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn project_scope_by_header_and_by_query() {
    let sim = spawn_sim().await;
    let projects = project_uids(&sim).await;
    assert_eq!(projects.len(), 3);
    let c = client();
    let all: Vec<Value> = c
        .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
        .header("ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = &projects[0];
    let by_header: Vec<Value> = c
        .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
        .header("ApiKey", KEY)
        .header("ProjectUid", p)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_query: Vec<Value> = c
        .get(format!(
            "{}/v1/dashboard/spectroclusters/meta?ProjectUid={p}",
            sim.url
        ))
        .header("ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_header, by_query);
    assert!(!by_header.is_empty() && by_header.len() < all.len());
    assert!(
        by_header
            .iter()
            .all(|c| c["metadata"]["annotations"]["projectUid"] == p.as_str()
                && c["metadata"]["annotations"]["scope"] == "project")
    );
    // Tenant scope sees tenant clusters too.
    assert!(
        all.iter()
            .any(|c| c["metadata"]["annotations"]["scope"] == "tenant")
    );
    // Unknown project → 404 ResourceNotFound.
    let resp = c
        .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
        .header("ApiKey", KEY)
        .header("ProjectUid", "000000000000000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "ResourceNotFound"
    );
    sim.stop().await;
}

#[tokio::test]
async fn authentication_failures() {
    let sim = spawn_sim().await;
    let c = client();
    let url = format!("{}/v1/users/me", sim.url);
    // No credentials
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "Unauthorized");
    assert!(body["message"].is_string() && body["ref"].is_string());
    // Wrong key
    assert_eq!(
        c.get(&url)
            .header("ApiKey", "nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Header name in any case
    assert_eq!(
        c.get(&url)
            .header("APIKEY", KEY)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&url)
            .header("apikey", KEY)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A user session token, bare in Authorization
    let alice = sim_token(&sim, "alice@acme.example").await;
    let me: Value = c
        .get(&url)
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["spec"]["emailId"], "alice@acme.example");
    assert_eq!(
        me["status"]["projectPermissions"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    assert!(
        me["status"]["tenantPermissions"]["tenant"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // With a Bearer prefix Palette does not accept it
    assert_eq!(
        c.get(&url)
            .header("Authorization", format!("Bearer {alice}"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Expired
    let expired = sim_control(
        &sim,
        Method::POST,
        "/tokens",
        Some(json!({"email": "alice@acme.example", "ttl_seconds": -5})),
    )
    .await;
    let resp = c
        .get(&url)
        .header("Authorization", expired["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Forbidden: alice is not a member of another project
    let projects = project_uids(&sim).await;
    let resp = c
        .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
        .header("Authorization", &alice)
        .header("ProjectUid", &projects[1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Login and refresh
    let login: Value = c
        .post(format!("{}/v1/auth/authenticate", sim.url))
        .json(&json!({"emailId": "bob@acme.example", "password": "sim-password", "org": "acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["Authorization"].as_str().unwrap();
    assert_eq!(login["isMfa"], false);
    let refreshed = c
        .get(format!("{}/v1/auth/refresh/{token}", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    sim.stop().await;
}

#[tokio::test]
async fn throttling_errors_and_outage_knobs() {
    let sim = spawn_sim().await;
    let c = client();
    let url = format!("{}/v1/overlords", sim.url);
    // 1 per fixed one-second window: ten quick calls span at most a few windows even on a
    // loaded machine, so most of them are refused.
    set_knobs(&sim, json!({"rate_limit": 1})).await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(
            c.get(&url)
                .header("ApiKey", KEY)
                .send()
                .await
                .unwrap()
                .status(),
        );
    }
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(throttled >= 5, "{statuses:?}");
    let resp = loop {
        let r = c.get(&url).header("ApiKey", KEY).send().await.unwrap();
        if r.status() == 429 {
            break r;
        }
    };
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "TooManyRequests"
    );

    set_knobs(&sim, json!({"rate_limit": 0, "error_rate": 1.0})).await;
    let resp = c.get(&url).header("ApiKey", KEY).send().await.unwrap();
    assert_eq!(resp.status(), 500);

    set_knobs(&sim, json!({"error_rate": 0.0, "outage": true})).await;
    let err = c.get(&url).header("ApiKey", KEY).send().await;
    assert!(
        err.is_err(),
        "outage must look like an unreachable Palette, got {err:?}"
    );
    // The control API stays reachable during an outage.
    set_knobs(&sim, json!({"outage": false})).await;
    assert_eq!(
        c.get(&url)
            .header("ApiKey", KEY)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    set_knobs(&sim, json!({"latency_ms": 300})).await;
    let started = std::time::Instant::now();
    c.get(&url).header("ApiKey", KEY).send().await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));

    let counters = sim_counters(&sim).await;
    assert!(counters["GET /v1/overlords"] >= 13, "{counters:?}");
    sim_control(&sim, Method::DELETE, "/counters", None).await;
    assert!(sim_counters(&sim).await.is_empty());
    sim.stop().await;
}

async fn first_of(sim: &SimServer, cloud: &str) -> String {
    let v: Value = client()
        .get(format!("{}/v1/cloudaccounts/{cloud}", sim.url))
        .header("ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["items"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn creation_is_validated_and_progresses_to_running() {
    let sim = spawn_sim().await;
    set_knobs(&sim, json!({"provision_seconds": 1})).await;
    let c = client();
    let project = project_uids(&sim).await.remove(0);
    let aws = first_of(&sim, "aws").await;
    let post = |cloud: &'static str, body: Value| {
        let c = c.clone();
        let url = format!("{}/v1/spectroclusters/{cloud}", sim.url);
        let project = project.clone();
        async move {
            c.post(url)
                .header("ApiKey", KEY)
                .header("ProjectUid", project)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // The original frontend's EKS body has no region: Palette rejects it.
    let resp = post("eks", json!({
        "metadata": {"name": "my-eks"},
        "spec": {"cloudType": "eks", "cloudAccountUid": aws, "cloudConfig": {"controlPlane": {}}, "profiles": []}
    })).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("region"));
    // Bad name
    let resp = post("aws", json!({"metadata": {"name": "Not_Valid"}, "spec": {"cloudConfig": {"region": "us-east-1"}}})).await;
    assert_eq!(resp.status(), 400);
    // An azure account for an aws cluster
    let azure = first_of(&sim, "azure").await;
    let pools = json!([{ "cloudConfig": {"instanceType": "m5.large"}, "poolConfig": {"name": "worker", "size": 2, "labels": ["worker"]} }]);
    let resp = post("aws", json!({"metadata": {"name": "x1"}, "spec": {"cloudAccountUid": azure, "cloudConfig": {"region": "us-east-1"}, "machinepoolconfig": pools}})).await;
    assert_eq!(resp.status(), 400);
    // Unknown profile version
    let resp = post("aws", json!({"metadata": {"name": "x2"}, "spec": {"cloudAccountUid": aws, "cloudConfig": {"region": "us-east-1"}, "machinepoolconfig": pools, "profiles": [{"uid": "ffffffffffffffffffffffff"}]}})).await;
    assert_eq!(resp.status(), 400);
    // Valid (machinePoolConfig in camel case is accepted, as Palette's Go decoder does)
    let body = json!({"metadata": {"name": "new-aws"}, "spec": {"cloudAccountUid": aws, "cloudConfig": {"region": "us-east-1"}, "machinePoolConfig": pools}});
    let resp = post("aws", body.clone()).await;
    assert_eq!(resp.status(), 201);
    assert!(resp.headers().contains_key("AuditUid"));
    let uid = resp.json::<Value>().await.unwrap()["uid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(uid.len(), 24);
    // Same name again → conflict
    assert_eq!(post("aws", body).await.status(), 409);
    let state = |uid: String| {
        let c = c.clone();
        let url = format!("{}/v1/dashboard/spectroclusters/{uid}", sim.url);
        async move {
            let v: Value = c
                .get(url)
                .header("ApiKey", KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["status"]["state"].as_str().unwrap().to_string()
        }
    };
    let mut seen = vec![state(uid.clone()).await];
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let s = state(uid.clone()).await;
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        if seen.last().map(String::as_str) == Some("Running") {
            break;
        }
    }
    assert_eq!(
        seen.first().map(String::as_str),
        Some("Pending"),
        "{seen:?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("Running"), "{seen:?}");
    assert!(seen.iter().any(|s| s == "Provisioning"), "{seen:?}");
    sim.stop().await;
}

#[tokio::test]
async fn same_seed_same_data_other_seed_other_data() {
    let a = spawn_sim().await;
    let b = spawn_sim().await;
    let d = spawn_sim_with(SimConfig {
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    let meta = |sim: &SimServer| {
        let url = format!("{}/v1/dashboard/spectroclusters/meta", sim.url);
        async move {
            client()
                .get(url)
                .header("ApiKey", KEY)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let (ma, mb, md) = (meta(&a).await, meta(&b).await, meta(&d).await);
    assert_eq!(ma, mb);
    assert_ne!(ma, md);
    let (pa, _) = list_all(&a, "/v1/dashboard/clusterprofiles", json!({}), 50, None).await;
    let (pb, _) = list_all(&b, "/v1/dashboard/clusterprofiles", json!({}), 50, None).await;
    assert_eq!(pa, pb);
    for s in [a, b, d] {
        s.stop().await;
    }
}

#[tokio::test]
async fn shapes_the_original_plugin_relies_on() {
    let sim = spawn_sim().await;
    let c = client();
    let get = |path: String| {
        let c = c.clone();
        let url = format!("{}{path}", sim.url);
        async move { c.get(url).header("ApiKey", KEY).send().await.unwrap() }
    };
    let meta: Value = get("/v1/dashboard/spectroclusters/meta".into())
        .await
        .json()
        .await
        .unwrap();
    assert!(meta.is_array(), "meta is a bare array");
    let cluster = meta
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"]["state"] == "Running" && c["spec"]["cloudType"] != "nested")
        .unwrap();
    let uid = cluster["metadata"]["uid"].as_str().unwrap();
    let detail: Value = get(format!("/v1/dashboard/spectroclusters/{uid}"))
        .await
        .json()
        .await
        .unwrap();
    let templates = detail["spec"]["clusterProfileTemplates"]
        .as_array()
        .unwrap();
    assert!(!templates.is_empty());
    // Template uids are profile VERSION uids, fetchable as cluster profiles.
    let version_uid = templates[0]["uid"].as_str().unwrap();
    let profile: Value = get(format!(
        "/v1/clusterprofiles/{version_uid}?includePackMeta=schema,presets"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(profile["metadata"]["uid"], version_uid);
    assert!(
        profile["spec"]["versions"].as_array().unwrap().len() >= 3,
        "every version is listed"
    );
    assert!(profile["spec"]["published"]["packs"][0]["schema"].is_array());
    let profiles: Value = get(format!(
        "/v1/spectroclusters/{uid}/profiles?includePackMeta=schema,presets"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert!(profiles["profiles"][0]["spec"]["packs"][0]["spec"]["values"].is_string());
    // Kubeconfig honours frp
    let frp = get(format!("/v1/spectroclusters/{uid}/assets/kubeconfig")).await;
    assert_eq!(frp.headers()["content-type"], "application/octet-stream");
    assert!(frp.text().await.unwrap().contains(".proxy.sim.example"));
    let direct = get(format!(
        "/v1/spectroclusters/{uid}/assets/kubeconfig?frp=false"
    ))
    .await
    .text()
    .await
    .unwrap();
    assert!(direct.contains(":6443") && !direct.contains("proxy"));
    // Lists without listmeta
    for path in ["/v1/overlords", "/v1/users/assets/sshkeys"] {
        let v: Value = get(path.into()).await.json().await.unwrap();
        assert!(
            v["items"].is_array() && v.get("listmeta").is_none(),
            "{path}"
        );
    }
    let groups: Value = get("/v1/clustergroups/hostCluster".into())
        .await
        .json()
        .await
        .unwrap();
    assert!(groups["summaries"].is_array());
    // Cloud accounts: secrets masked
    let accounts: Value = get("/v1/cloudaccounts/aws".into())
        .await
        .json()
        .await
        .unwrap();
    assert!(
        accounts["items"][0]["spec"]["secretKey"]
            .as_str()
            .unwrap()
            .starts_with("***")
    );
    // vSphere compute resources need both parameters
    let vs = first_of(&sim, "vsphere").await;
    assert_eq!(
        get(format!(
            "/v1/cloudaccounts/vsphere/{vs}/properties/computecluster/resources"
        ))
        .await
        .status(),
        400
    );
    assert_eq!(get(format!("/v1/cloudaccounts/vsphere/{vs}/properties/computecluster/resources?datacenter=dc&computecluster=cc")).await.status(), 200);
    // Unknown resource
    let resp = get("/v1/spectroclusters/ffffffffffffffffffffffff".into()).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "ResourceNotFound"
    );
    sim.stop().await;
}

#[tokio::test]
async fn mutations_change_what_palette_answers() {
    let sim = spawn_sim().await;
    let c = client();
    let meta: Vec<Value> = c
        .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
        .header("ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uid = meta[0]["metadata"]["uid"].as_str().unwrap().to_string();
    let before = meta[0]["metadata"]["lastModifiedTimestamp"].clone();
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{uid}/state"),
        Some(json!({"state": "Deleting"})),
    )
    .await;
    let meta: Vec<Value> = c
        .get(format!("{}/v1/dashboard/spectroclusters/meta", sim.url))
        .header("ApiKey", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let changed = meta
        .iter()
        .find(|m| m["metadata"]["uid"] == uid.as_str())
        .unwrap();
    assert_eq!(changed["status"]["state"], "Deleting");
    assert_ne!(changed["metadata"]["lastModifiedTimestamp"], before);
    sim_control(&sim, Method::DELETE, &format!("/clusters/{uid}"), None).await;
    let resp = c
        .get(format!("{}/v1/dashboard/spectroclusters/{uid}", sim.url))
        .header("ApiKey", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Publishing a new version: the profile is then listed under the new uid.
    let (profiles, _) = list_all(&sim, "/v1/dashboard/clusterprofiles", json!({}), 50, None).await;
    let old = profiles[0]["metadata"]["uid"].as_str().unwrap().to_string();
    let name = profiles[0]["metadata"]["name"].clone();
    let new = sim_control(
        &sim,
        Method::POST,
        &format!("/profiles/{old}/versions"),
        Some(json!({"version": "9.9.9"})),
    )
    .await;
    let (profiles, _) = list_all(&sim, "/v1/dashboard/clusterprofiles", json!({}), 50, None).await;
    let listed = profiles
        .iter()
        .find(|p| {
            p["metadata"]["name"] == name
                && p["specSummary"]["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["uid"] == old.as_str())
        })
        .unwrap();
    assert_eq!(listed["metadata"]["uid"], new["uid"]);
    assert_eq!(listed["specSummary"]["version"], "9.9.9");
    sim.stop().await;
}
