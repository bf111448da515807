//! `/events`: the change history the sync records, its filters and paging, scoping, the
//! Prometheus counter, the MCP tool, webhooks, and the report numbers moving with a change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

async fn events(app: &TestApp, query: &str) -> Value {
    let resp = app.get(&format!("/events{query}")).await;
    assert_eq!(resp.status(), 200, "/events{query}");
    json(resp).await
}

fn list(v: &Value) -> Vec<Value> {
    v["events"].as_array().unwrap().clone()
}

/// A cluster of the profile-usage report on a version that is not the latest, with that
/// profile's backlog, the version it runs and the latest version.
async fn behind(app: &TestApp) -> (String, Value, String, String) {
    let usage: Value = json(app.get("/reports/profile-usage?include=clusters").await).await;
    for p in usage["profiles"].as_array().unwrap() {
        let versions = p["versions"].as_array().unwrap();
        let Some(latest) = versions.iter().find(|v| v["latest"] == true) else {
            continue;
        };
        for v in versions.iter().filter(|v| v["latest"] == false) {
            if let Some(c) = v["clusterList"].as_array().unwrap().first() {
                return (
                    c["uid"].as_str().unwrap().to_string(),
                    p.clone(),
                    v["uid"].as_str().unwrap().to_string(),
                    latest["uid"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    panic!("the dataset has a cluster behind its profile's latest version");
}

fn profile_of<'a>(usage: &'a Value, uid: &str) -> &'a Value {
    usage["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uid"] == uid)
        .unwrap()
}

#[tokio::test]
async fn sync_changes_become_events_and_move_the_backlog() {
    let (sim, app) = synced(
        SimConfig {
            sizes: sizes(3, 60, 10),
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    // The cold sync is no list of changes.
    assert!(list(&events(&app, "").await).is_empty());
    let clusters: Value = json(app.get("/clusters").await).await;
    let clusters = clusters["clusters"].as_array().unwrap().clone();
    let (moved, profile, from, to) = behind(&app).await;
    // The other changes stay off the moved profile, whose numbers are checked below.
    let on_profile: Vec<Value> = profile["versions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["clusterList"].as_array().unwrap().clone())
        .map(|c| c["uid"].clone())
        .collect();
    let others: Vec<&Value> = clusters
        .iter()
        .filter(|c| !on_profile.contains(&c["metadata"]["uid"]))
        .collect();
    let (restate, gone) = (others[0], others[1]);
    let restate_uid = restate["metadata"]["uid"].as_str().unwrap();
    let gone_uid = gone["metadata"]["uid"].as_str().unwrap();
    let old_state = restate["status"]["state"].as_str().unwrap().to_string();
    let new_state = if old_state == "Error" {
        "Running"
    } else {
        "Error"
    };
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{moved}/profiles"),
        Some(json!({"from": from, "to": to})),
    )
    .await;
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{restate_uid}/state"),
        Some(json!({"state": new_state})),
    )
    .await;
    sim_control(&sim, Method::DELETE, &format!("/clusters/{gone_uid}"), None).await;
    // A new version of another profile than the moved one (its latest must stay).
    let usage: Value = json(app.get("/reports/profile-usage").await).await;
    let other = usage["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uid"] != profile["uid"])
        .unwrap();
    let published = sim_control(
        &sim,
        Method::POST,
        &format!("/profiles/{}/versions", other["uid"].as_str().unwrap()),
        Some(json!({"version": "9.9.9"})),
    )
    .await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(app.sync("env0").await["outcome"], "success");

    let all = list(&events(&app, "").await);
    let find = |t: &str, uid: &str| {
        all.iter()
            .find(|e| e["type"] == t && e["object"]["uid"] == uid)
            .cloned()
            .unwrap_or_else(|| panic!("no {t} of {uid} in {all:?}"))
    };
    let e = find("cluster.profile_version_changed", &moved);
    let pname = profile["name"].as_str().unwrap();
    let from_v = profile["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["uid"] == from.as_str())
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(e["from"], format!("{pname}@{from_v}"));
    assert_eq!(
        e["to"],
        format!("{pname}@{}", profile["latestVersion"].as_str().unwrap())
    );
    assert_eq!(e["object"]["kind"], "cluster");
    assert_eq!(e["environment"], "env0");
    let e = find("cluster.state_changed", restate_uid);
    assert_eq!(
        (e["from"].as_str(), e["to"].as_str()),
        (Some(old_state.as_str()), Some(new_state))
    );
    assert_eq!(e["object"]["name"], restate["metadata"]["name"]);
    assert_eq!(
        e["object"]["projectUid"],
        restate["metadata"]["annotations"]["projectUid"]
    );
    find("cluster.deleted", gone_uid);
    let e = find(
        "profile.version_published",
        published["uid"].as_str().unwrap(),
    );
    assert_eq!(e["to"], "9.9.9");
    assert_eq!(e["object"]["kind"], "profile");
    for e in &all {
        let at = chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
        assert!(at >= before, "{e}");
    }
    // Newest first.
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));

    // The backlog moved: one cluster fewer behind on the moved profile.
    let after: Value = json(app.get("/reports/profile-usage").await).await;
    let p = profile_of(&after, profile["uid"].as_str().unwrap());
    assert_eq!(
        p["upgradeBacklog"].as_i64().unwrap(),
        profile["upgradeBacklog"].as_i64().unwrap() - 1
    );
    assert_eq!(p["clusters"], profile["clusters"]);

    // Filters and paging.
    let typed = list(&events(&app, "?type=cluster.state_changed").await);
    assert!(!typed.is_empty() && typed.iter().all(|e| e["type"] == "cluster.state_changed"));
    let two = list(&events(&app, "?type=cluster.state_changed,cluster.deleted").await);
    assert_eq!(
        two.len(),
        all.iter()
            .filter(|e| e["type"] == "cluster.state_changed" || e["type"] == "cluster.deleted")
            .count()
    );
    let one = list(&events(&app, &format!("?clusterUid={moved}")).await);
    assert!(!one.is_empty() && one.iter().all(|e| e["object"]["uid"] == moved.as_str()));
    let project = restate["metadata"]["annotations"]["projectUid"]
        .as_str()
        .unwrap();
    let mine = list(&events(&app, &format!("?projectUid={project}")).await);
    assert_eq!(
        mine.len(),
        all.iter()
            .filter(|e| e["object"]["projectUid"] == project)
            .count()
    );
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let later = list(&events(&app, &format!("?since={}", urlencode(&future))).await);
    assert!(later.is_empty());
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = events(&app, &format!("?limit=1{cursor}")).await;
        paged.extend(list(&page));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
        assert!(paged.len() <= all.len());
    }
    assert_eq!(paged, all);
    for bad in [
        "?type=cluster.exploded",
        "?since=yesterday",
        "?limit=0",
        "?cursor=abc",
        "?clusterUid=a%20b",
    ] {
        assert_eq!(
            app.get(&format!("/events{bad}")).await.status(),
            400,
            "{bad}"
        );
    }

    // A Prometheus counter per type (the notifier tails the history about every second).
    let mut counted = false;
    for _ in 0..50 {
        let m = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap();
        let text = m.text().await.unwrap();
        if text.lines().any(|l| {
            l.starts_with("spectrocloud_events_total")
                && l.contains("type=\"cluster.state_changed\"")
                && l.contains("env=\"env0\"")
        }) {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        counted,
        "spectrocloud_events_total counts cluster.state_changed"
    );

    // The same history over MCP.
    let tool = mcp_tool(
        &app,
        "list_spectrocloud_fleet_changes",
        json!({"type": "cluster.deleted"}),
    )
    .await;
    let items = tool["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["object"]["uid"], gone_uid);

    // Retention: pruning drops what is older than the cutoff.
    let cutoff = (chrono::Utc::now() + chrono::Duration::seconds(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let n = spectrocloud_backend::store::events::prune(&app.db, &cutoff, "2000-01-01")
        .await
        .unwrap();
    assert_eq!(n as usize, all.len());
    assert!(list(&events(&app, "").await).is_empty());
    app.stop().await;
    sim.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One MCP tool call through rmcp's client (auth mode `none`: no token).
async fn mcp_tool(app: &TestApp, name: &str, args: Value) -> Value {
    let mcp = crate::mcp::Client::anonymous(app).await;
    let (err, v) = mcp.tool(name, args).await;
    assert!(!err, "{name}: {v}");
    mcp.close().await;
    v
}

#[tokio::test]
async fn a_scoped_user_sees_only_their_projects_events() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let alice = sim_user(&sim, "alice@acme.example").await;
    let hers: Vec<String> = alice["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let clusters: Value = json(app.get("/clusters").await).await;
    let clusters = clusters["clusters"].as_array().unwrap();
    let project = |c: &Value| {
        c["metadata"]["annotations"]["projectUid"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let inside = clusters
        .iter()
        .find(|c| hers.contains(&project(c)))
        .unwrap();
    let outside = clusters
        .iter()
        .find(|c| !project(c).is_empty() && !hers.contains(&project(c)))
        .unwrap();
    for c in [inside, outside] {
        let uid = c["metadata"]["uid"].as_str().unwrap();
        let state = if c["status"]["state"] == "Error" {
            "Running"
        } else {
            "Error"
        };
        sim_control(
            &sim,
            Method::POST,
            &format!("/clusters/{uid}/state"),
            Some(json!({"state": state})),
        )
        .await;
    }
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let everyone = list(&events(&app, "").await);
    assert_eq!(everyone.len(), 2, "{everyone:?}");
    let resp = app
        .client
        .get(app.url("/events"))
        .header("X-SpectroCloud-Token", alice["token"].as_str().unwrap())
        .header("X-SpectroCloud-User-Email", "alice@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = list(&json(resp).await);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["object"]["uid"], inside["metadata"]["uid"]);
    app.stop().await;
    sim.stop().await;
}

type Received = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// A local webhook receiver: answers 500 to the first `fail_first` requests, then 204; or
/// always 500 with `fail_first = usize::MAX`.
async fn receiver(fail_first: usize) -> (String, Received, actix_web::dev::ServerHandle) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let got: Received = Arc::default();
    let data = web::Data::new(got.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            move |req: HttpRequest, body: web::Bytes, got: web::Data<Received>| async move {
                let sig = req
                    .headers()
                    .get("x-spectrocloud-signature")
                    .map(|v| v.to_str().unwrap().to_string());
                let mut g = got.lock().unwrap();
                g.push((sig, body.to_vec()));
                if g.len() <= fail_first {
                    HttpResponse::InternalServerError().finish()
                } else {
                    HttpResponse::NoContent().finish()
                }
            },
        ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}/hook"), got, handle)
}

#[tokio::test]
async fn webhooks_get_signed_events_with_retries_and_a_dead_one_is_given_up() {
    let (good_url, good, good_srv) = receiver(1).await;
    let (dead_url, dead, dead_srv) = receiver(usize::MAX).await;
    let secret = "webhook-signing-secret-0123";
    remember_secret(secret);
    let sim = spawn_sim().await;
    let app = spawn_app_for(&[&sim], |c| {
        c.notifications.retry_base_ms = 50;
        c.notifications.max_attempts = 3;
        c.notifications.webhooks = vec![
            spectrocloud_backend::config::WebhookConfig {
                url: good_url,
                types: vec!["cluster.state_changed".into()],
                secret: Some(spectrocloud_backend::config::Secret::new(secret)),
            },
            spectrocloud_backend::config::WebhookConfig {
                url: dead_url,
                types: vec![],
                secret: None,
            },
        ];
    })
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let clusters: Value = json(app.get("/clusters").await).await;
    let c = &clusters["clusters"][0];
    let uid = c["metadata"]["uid"].as_str().unwrap();
    let state = if c["status"]["state"] == "Error" {
        "Running"
    } else {
        "Error"
    };
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{uid}/state"),
        Some(json!({"state": state})),
    )
    .await;
    let other = clusters["clusters"][1]["metadata"]["uid"].as_str().unwrap();
    sim_control(&sim, Method::DELETE, &format!("/clusters/{other}"), None).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");

    // The good endpoint: refused once, then delivered; the same signed body both times.
    for _ in 0..100 {
        if good.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = good.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one failed attempt, one retry");
    assert_eq!(got[0], got[1]);
    let (sig, body) = &got[1];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(sig.as_deref(), Some(want.as_str()));
    let sent: Value = serde_json::from_slice(body).unwrap();
    let sent = sent["events"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "only the types asked for: {sent:?}");
    assert_eq!(sent[0]["type"], "cluster.state_changed");
    assert_eq!(sent[0]["object"]["uid"], uid);
    assert_eq!(sent[0]["to"], state);

    // The dead endpoint: every type, unsigned, exactly max_attempts tries, then counted.
    let mut failed = false;
    for _ in 0..100 {
        let m = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap();
        let text = m.text().await.unwrap();
        failed = text.lines().any(|l| {
            l.starts_with("spectrocloud_webhook_deliveries_total")
                && l.contains("outcome=\"failed\"")
                && l.contains("webhook=\"1\"")
        });
        if failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "a given-up delivery is counted");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tries = dead.lock().unwrap().clone();
    assert_eq!(tries.len(), 3, "bounded retries");
    assert!(tries[0].0.is_none());
    let sent: Value = serde_json::from_slice(&tries[0].1).unwrap();
    assert_eq!(sent["events"].as_array().unwrap().len(), 2);
    app.stop().await;
    sim.stop().await;
    good_srv.stop(false).await;
    dead_srv.stop(false).await;
}

#[tokio::test]
async fn daily_aggregates_give_a_trend_and_today_is_live() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let db = &app.db;
    let today = chrono::Utc::now().date_naive();
    let yesterday = (today - chrono::Days::new(1)).to_string();
    spectrocloud_backend::store::events::record_day(db, "env0", &yesterday)
        .await
        .unwrap();
    let fleet: Value = json(app.get("/reports/fleet").await).await;
    let n = fleet["environments"][0]["clusters"].as_i64().unwrap();
    let c: Value = json(app.get("/clusters").await).await;
    let uid = c["clusters"][0]["metadata"]["uid"].as_str().unwrap();
    sim_control(&sim, Method::DELETE, &format!("/clusters/{uid}"), None).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let all = spectrocloud_backend::auth::scope::Visibility::All
        .filter(spectrocloud_backend::auth::scope::Kind::Cluster);
    let rows = spectrocloud_backend::store::events::trend(
        db,
        "env0",
        &yesterday,
        &today.to_string(),
        &all,
    )
    .await
    .unwrap();
    let total = |day: &str| -> i64 {
        rows.iter()
            .filter(|r| r.day == day && r.dimension == "state")
            .map(|r| r.clusters)
            .sum()
    };
    assert_eq!(total(&yesterday), n);
    assert_eq!(total(&today.to_string()), n - 1);
    app.stop().await;
    sim.stop().await;
}
