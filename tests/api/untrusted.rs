//! A Palette that answers badly: a scalar, `{}`/`null`/an error object where a list belongs, an
//! oversized or endless body, pages that never end, an error echoing the API key. Each fails
//! its run by name and leaves the mirror, the events and the run slot as they were; a listing
//! that would delete most of a kind waits for a second one to confirm it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Listing cap of these tests: far above any page of the small dataset.
const LISTING_CAP: u64 = 1024 * 1024;

/// What the mirror holds that a bad answer must not touch.
#[derive(Debug, PartialEq)]
struct Held {
    clusters: i64,
    profiles: i64,
    overlords: i64,
    accounts: i64,
    events: i64,
}

async fn held(app: &TestApp) -> Held {
    let pool = app.mirror().await;
    let n = |sql| count(&pool, sql, "env0");
    let h = Held {
        clusters: n("SELECT count(*) FROM clusters WHERE env = ?").await,
        profiles: n("SELECT count(*) FROM cluster_profiles WHERE env = ?").await,
        overlords: n("SELECT count(*) FROM overlords WHERE env = ?").await,
        accounts: n("SELECT count(*) FROM cloud_accounts WHERE env = ?").await,
        events: n("SELECT count(*) FROM events WHERE env = ?").await,
    };
    pool.close().await;
    h
}

/// A simulator with its own API key (registered as a secret) and the server synced once.
async fn setup() -> (SimServer, TestApp) {
    let key = format!("untrusted-key-{}", rand_suffix());
    remember_secret(&key);
    let config = SimConfig {
        sizes: sizes(3, 30, 10),
        api_key: key,
        ..SimConfig::default()
    };
    synced(config, |c| c.sync.max_listing_bytes = LISTING_CAP).await
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos:09}")
}

/// `POST /sync`: the trigger must start a new run (no slot left taken); the run's record.
async fn sync_started(app: &TestApp) -> Value {
    let resp = app
        .client
        .post(app.url("/sync?instance=env0"))
        .send()
        .await
        .expect("trigger");
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.expect("trigger JSON");
    assert_eq!(body["runs"][0]["status"], "started", "{body}");
    let id = body["runs"][0]["run_id"].as_i64().expect("run id");
    app.wait_run("env0", id).await
}

async fn status(app: &TestApp) -> Value {
    json(app.get("/sync/status?instance=env0").await).await["environments"][0].clone()
}

/// With `bad` answered on `endpoint`: the run fails naming `says`, nothing changes, the
/// status shows the error without the key and the health says failing; switched off, the next
/// run (a new one, not `already_running`) succeeds.
async fn refused(sim: &SimServer, app: &TestApp, endpoint: &str, bad: Value, says: &str) {
    let before = held(app).await;
    set_knobs(sim, json!({ "bad_answers": { endpoint: bad } })).await;
    let run = sync_started(app).await;
    assert_eq!(run["outcome"], "failed", "{endpoint} {bad}: {run}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains(says), "{endpoint} {bad}: {error}");
    assert_eq!(
        held(app).await,
        before,
        "{endpoint} {bad}: the mirror changed"
    );
    let s = status(app).await;
    assert_eq!(s["stale"], true, "{s}");
    let shown = s["last_run"]["error"].as_str().unwrap_or_default();
    assert!(shown.contains(says), "{shown}");
    assert!(
        !shown.contains(&sim.state.api_key),
        "the key is shown: {shown}"
    );
    let health = json(app.get("/health").await).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["sync"], "failing", "{health}");
    assert_eq!(health["environments"][0]["sync"], "failing", "{health}");
    set_knobs(sim, json!({ "bad_answers": {} })).await;
    let run = sync_started(app).await;
    assert_eq!(run["outcome"], "success", "after {endpoint} {bad}: {run}");
    assert_eq!(json(app.get("/health").await).await["sync"], "ok");
}

async fn stop(sim: SimServer, app: TestApp) {
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_number_where_a_list_belongs_fails_the_run_by_name() {
    let (sim, app) = setup().await;
    let says = "GET /v1/overlords answered a number where a list was expected";
    refused(&sim, &app, "GET /v1/overlords", json!({"body": 42}), says).await;
    let says = "GET /v1/clustergroups/hostCluster answered a string where a list";
    let endpoint = "GET /v1/clustergroups/hostCluster";
    refused(&sim, &app, endpoint, json!({"body": "maintenance"}), says).await;
    stop(sim, app).await;
}

#[tokio::test]
async fn an_empty_object_null_or_error_object_is_not_an_empty_listing() {
    let (sim, app) = setup().await;
    let meta = "GET /v1/dashboard/spectroclusters/meta";
    let profiles = "POST /v1/dashboard/clusterprofiles";
    for (endpoint, body, says) in [
        (meta, json!({}), "an empty object where a list was expected"),
        (meta, json!(null), "null where a list was expected"),
        (
            meta,
            json!({"error": "maintenance"}),
            "an object without `items` (keys: error)",
        ),
        (
            profiles,
            json!({"message": "x"}),
            "an object without `items` (keys: message)",
        ),
    ] {
        let says = format!("{endpoint} answered {says}");
        refused(&sim, &app, endpoint, json!({ "body": body }), &says).await;
    }
    stop(sim, app).await;
}

#[tokio::test]
async fn an_oversized_listing_fails_the_run() {
    let (sim, app) = setup().await;
    let padding = 2 * LISTING_CAP;
    let says = format!("POST /v1/dashboard/clusterprofiles answered more than {LISTING_CAP} bytes");
    let endpoint = "POST /v1/dashboard/clusterprofiles";
    refused(&sim, &app, endpoint, json!({ "padding": padding }), &says).await;
    stop(sim, app).await;
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_cap() {
    let (sim, app) = setup().await;
    let says = format!("GET /v1/overlords answered more than {LISTING_CAP} bytes");
    refused(&sim, &app, "GET /v1/overlords", json!("endless"), &says).await;
    stop(sim, app).await;
}

#[tokio::test]
async fn pages_that_never_end_fail_the_run() {
    let (sim, app) = setup().await;
    let endpoint = "POST /v1/dashboard/clusterprofiles";
    let says = "POST /v1/dashboard/clusterprofiles answered pages that do not end";
    refused(&sim, &app, endpoint, json!("endless_continue"), says).await;
    stop(sim, app).await;
}

#[tokio::test]
async fn an_error_echoing_the_api_key_is_shown_without_it() {
    let (sim, app) = setup().await;
    let says = "invalid credential '[redacted]' for /v1/overlords";
    refused(
        &sim,
        &app,
        "GET /v1/overlords",
        json!("echo_credentials"),
        says,
    )
    .await;
    // `stop` checks every log line for the key.
    stop(sim, app).await;
}

#[tokio::test]
async fn a_listing_that_deletes_most_clusters_waits_for_a_second_one() {
    let (sim, app) = setup().await;
    let pool = app.mirror().await;
    let uids: Vec<String> = sqlx::query_scalar(q(
        "SELECT uid FROM clusters WHERE env = 'env0' ORDER BY uid LIMIT 20",
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    for uid in &uids {
        sim_control(&sim, Method::DELETE, &format!("/clusters/{uid}"), None).await;
    }
    let before = held(&app).await;
    let run = sync_started(&app).await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(run["counts"]["clusters"]["deleted"], 0, "{run}");
    assert_eq!(
        held(&app).await,
        before,
        "held deletions changed the mirror"
    );
    let s = status(&app).await;
    let holds = s["held_deletions"].as_array().cloned().unwrap_or_default();
    assert_eq!(holds.len(), 1, "{s}");
    assert_eq!(holds[0]["kind"], "clusters");
    assert_eq!(holds[0]["absent"], 20);
    assert_eq!(holds[0]["known"], 30);
    // The next listing misses the same clusters: they go, with their events.
    let run = sync_started(&app).await;
    assert_eq!(run["counts"]["clusters"]["deleted"], 20, "{run}");
    let after = held(&app).await;
    assert_eq!(after.clusters, 10);
    assert_eq!(after.events, before.events + 20);
    assert_eq!(status(&app).await["held_deletions"], json!([]));
    stop(sim, app).await;
}

#[tokio::test]
async fn read_through_refuses_what_is_not_a_list() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(2, 4, 2),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    // Never synced, and the first sync fails on the bad answer: `/overlords` is asked of
    // Palette directly, which answers the same.
    set_knobs(
        &sim,
        json!({"bad_answers": {"GET /v1/overlords": {"body": {}}}}),
    )
    .await;
    let msg = assert_error(app.get("/overlords").await, 502, "palette_error").await;
    assert!(
        msg.contains("GET /v1/overlords answered an empty object where a list was expected"),
        "{msg}"
    );
    stop(sim, app).await;
}

#[tokio::test]
async fn an_oversized_object_is_refused_live() {
    let (sim, app) = setup().await;
    let pool = app.mirror().await;
    let uid: String = sqlx::query_scalar(q(
        "SELECT uid FROM clusters WHERE env = 'env0' AND state = 'Running' LIMIT 1",
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    let path = format!("/clusters/{uid}/kubeconfig");
    assert_eq!(app.get(&path).await.status(), 200);
    let endpoint = "GET /v1/spectroclusters/{uid}/assets/kubeconfig";
    let padding = 64 * 1024 * 1024;
    set_knobs(
        &sim,
        json!({"bad_answers": {endpoint: {"padding": padding}}}),
    )
    .await;
    let msg = assert_error(app.get(&path).await, 502, "palette_error").await;
    assert!(msg.contains("more than 33554432 bytes"), "{msg}");
    assert!(msg.contains("sync.max_object_bytes"), "{msg}");
    stop(sim, app).await;
}

#[tokio::test]
async fn a_detail_that_is_not_an_object_fails_the_run_by_name() {
    let (sim, app) = setup().await;
    let pool = app.mirror().await;
    let uid: String = sqlx::query_scalar(q("SELECT uid FROM clusters WHERE env = 'env0' AND cloud_type != 'nested' ORDER BY uid LIMIT 1"))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    // A changed cluster: the next run fetches its details.
    let state = json!({"state": "Deleting"});
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{uid}/state"),
        Some(state),
    )
    .await;
    let endpoint = "GET /v1/dashboard/spectroclusters/{uid}";
    let says = format!("GET /v1/dashboard/spectroclusters/{uid} answered a number where an object");
    refused(&sim, &app, endpoint, json!({"body": 42}), &says).await;
    stop(sim, app).await;
}

#[tokio::test]
async fn an_error_echoing_a_user_token_is_answered_without_it() {
    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(2, 4, 2),
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim], |_| {}).await;
    let token = sim_token(&sim, "alice@acme.example").await;
    // Never synced (the first sync fails on the same answer): read through as alice.
    set_knobs(
        &sim,
        json!({"bad_answers": {"GET /v1/overlords": "echo_credentials"}}),
    )
    .await;
    let resp = app
        .client
        .get(app.url("/overlords"))
        .header("X-SpectroCloud-Token", &token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{status} {body}"
    );
    assert!(body.contains("invalid credential '[redacted]'"), "{body}");
    assert!(!body.contains(&token), "the token is in the answer: {body}");
    stop(sim, app).await;
}

#[tokio::test]
async fn a_held_deletion_is_dropped_when_the_objects_are_listed_again() {
    let (sim, app) = setup().await;
    let before = held(&app).await;
    // A well-formed but empty cluster listing (a gateway serving a stale cache, say).
    let empty =
        json!({"bad_answers": {"GET /v1/dashboard/spectroclusters/meta": {"body": {"items": []}}}});
    set_knobs(&sim, empty).await;
    let run = sync_started(&app).await;
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(run["counts"]["clusters"]["deleted"], 0, "{run}");
    assert_eq!(held(&app).await, before);
    let holds = status(&app).await["held_deletions"].clone();
    assert_eq!(holds[0]["kind"], "clusters", "{holds}");
    assert_eq!(holds[0]["absent"], 30, "{holds}");
    // Listed again: nothing is deleted and the hold is forgotten.
    set_knobs(&sim, json!({"bad_answers": {}})).await;
    let run = sync_started(&app).await;
    assert_eq!(run["counts"]["clusters"]["deleted"], 0, "{run}");
    assert_eq!(held(&app).await, before);
    assert_eq!(status(&app).await["held_deletions"], json!([]));
    stop(sim, app).await;
}
