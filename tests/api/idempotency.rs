//! `Idempotency-Key` behind one shared bearer: a replay only for the same Palette user, project
//! and body; keyed requests leave the response cache alone; a claim left by a process that
//! died is recovered against Palette instead of answering "under way" for a day.

use palette_sim::SimConfig;
use serde_json::{Value, json};
use spectrocloud_backend::create::idempotency::body_hash;

use crate::helpers::*;

/// A Palette-shaped aws body (forwarded unchanged, so its hash is the one the service keys on).
async fn aws_body(app: &TestApp, name: &str) -> Value {
    let db = app.mirror().await;
    let account: String = sqlx::query_scalar(q("SELECT uid FROM cloud_accounts WHERE env = 'env0' AND cloud_type = 'aws' AND project_uid IS NULL LIMIT 1"))
    .fetch_one(&db)
    .await
    .unwrap();
    let version: String = sqlx::query_scalar(q(
        "SELECT uid FROM profile_versions WHERE env = 'env0' AND cloud_type = 'aws' LIMIT 1",
    ))
    .fetch_one(&db)
    .await
    .unwrap();
    json!({"metadata": {"name": name}, "spec": {"cloudAccountUid": account, "cloudType": "aws",
        "cloudConfig": {"region": "us-west-2", "sshKeyName": "k"},
        "machinepoolconfig": [
            {"cloudConfig": {"instanceType": "m5.xlarge"},
             "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}},
            {"cloudConfig": {"instanceType": "m5.xlarge"},
             "poolConfig": {"name": "w", "size": 1, "labels": ["worker"]}}],
        "profiles": [{"uid": version}]}})
}

/// POST /clusters with a key, in `project`, as the Palette user of `token` (None: the key).
async fn create(
    app: &TestApp,
    body: &Value,
    project: Option<&str>,
    token: Option<&str>,
    key: &str,
) -> reqwest::Response {
    let path = match project {
        Some(p) => format!("/clusters?projectUid={p}"),
        None => "/clusters".into(),
    };
    let mut r = app
        .client
        .post(app.url(&path))
        .header("Idempotency-Key", key)
        .json(body);
    if let Some(t) = token {
        r = r.header("X-SpectroCloud-Token", t);
    }
    r.send().await.unwrap()
}

fn replayed(r: &reqwest::Response) -> bool {
    r.headers().get("idempotent-replayed").is_some()
}

/// Creations Palette accepted, by cluster name.
async fn accepted(sim: &SimServer, name: &str) -> usize {
    sim_control(sim, reqwest::Method::GET, "/creations", None)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == 201 && c["body"]["metadata"]["name"] == name)
        .count()
}

fn project_uids(sim: &SimServer) -> (String, String) {
    let d = sim.state.data.read().unwrap();
    (
        d.projects[0].meta.uid.clone(),
        d.projects[1].meta.uid.clone(),
    )
}

#[tokio::test]
async fn a_key_replays_only_for_the_same_palette_user_project_and_body() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let body = aws_body(&app, "idem-shared").await;
    let (a, b) = project_uids(&sim);
    // Behind the one shared bearer: the admin may create anywhere, bob is no member of `a`.
    let admin = sim_user(&sim, "admin@acme.example").await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = sim_user(&sim, "bob@acme.example").await["token"]
        .as_str()
        .unwrap()
        .to_string();

    let first = create(&app, &body, Some(&a), Some(&admin), "submit-1").await;
    assert_eq!(first.status(), 201);
    let uid = first.json::<Value>().await.unwrap()["uid"].clone();

    // Bob repeats the key and body: his own request, which Palette refuses, not her answer.
    let bobs = create(&app, &body, Some(&a), Some(&bob), "submit-1").await;
    assert!(!replayed(&bobs));
    assert!(bobs.status().is_client_error(), "{}", bobs.status());
    let text = bobs.text().await.unwrap();
    assert!(!text.contains(uid.as_str().unwrap()), "{text}");

    // The same person and key for another project: a new creation there.
    let other = create(&app, &body, Some(&b), Some(&admin), "submit-1").await;
    assert_eq!(other.status(), 201);
    assert!(!replayed(&other));
    assert_ne!(other.json::<Value>().await.unwrap()["uid"], uid);

    // The environment's key is someone else again.
    let keyed = create(&app, &body, Some(&a), None, "submit-1").await;
    assert!(!replayed(&keyed));

    // The same person, project and body: the replay.
    let again = create(&app, &body, Some(&a), Some(&admin), "submit-1").await;
    assert_eq!(again.status(), 201);
    assert!(replayed(&again));
    assert_eq!(again.json::<Value>().await.unwrap()["uid"], uid);
    // ... and another body under that key stays a conflict.
    let mut changed = body.clone();
    changed["metadata"]["name"] = json!("idem-shared-2");
    let conflict = create(&app, &changed, Some(&a), Some(&admin), "submit-1").await;
    assert_error(conflict, 409, "conflict").await;

    assert_eq!(accepted(&sim, "idem-shared").await, 2, "one per project");
    app.stop().await;
    sim.stop().await;
}

fn cache_total(text: &str, outcome: &str) -> f64 {
    let prefix = format!("spectrocloud_response_cache_total{{outcome=\"{outcome}\"");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn replays_and_conflicts_leave_the_response_cache_alone() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let body = aws_body(&app, "idem-cache").await;
    assert_eq!(create(&app, &body, None, None, "k").await.status(), 201);
    // The creation's write-through moved the mirror: the next read builds, the one after hits.
    assert_eq!(app.get("/clusters").await.status(), 200);
    assert_eq!(app.get("/clusters").await.status(), 200);

    let before = app.metrics_text().await;
    let replay = create(&app, &body, None, None, "k").await;
    assert!(replayed(&replay));
    let mut changed = body.clone();
    changed["metadata"]["name"] = json!("idem-cache-2");
    assert_error(
        create(&app, &changed, None, None, "k").await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(app.get("/clusters").await.status(), 200);
    let after = app.metrics_text().await;

    assert_eq!(
        cache_total(&after, "miss") - cache_total(&before, "miss"),
        0.0,
        "a replay and a conflict must not empty the cache"
    );
    assert_eq!(
        cache_total(&after, "hit") - cache_total(&before, "hit"),
        1.0
    );
    app.stop().await;
    sim.stop().await;
}

/// Writes an unanswered claim as a process that then died would have left it.
async fn dead_claim(app: &TestApp, key: &str, body: &Value, age_seconds: i64) {
    sqlx::query(q(
        "INSERT INTO idempotency_keys
           (env, subject, identity, project, key, body_hash, name, owner, created_at)
         VALUES ('env0', 'anonymous', 'api_key', '', ?, ?, ?, 'gone-instance', ?)",
    ))
    .bind(key)
    .bind(body_hash(body))
    .bind(body["metadata"]["name"].as_str().unwrap())
    .bind(chrono::Utc::now().timestamp() - age_seconds)
    .execute(&app.mirror().await)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_claim_left_by_a_dead_process_is_recovered_against_palette() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;

    // It died before Palette was called: the retry creates.
    let never = aws_body(&app, "idem-never-sent").await;
    dead_claim(&app, "dead-1", &never, 600).await;
    let r = create(&app, &never, None, None, "dead-1").await;
    assert!(!replayed(&r));
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(accepted(&sim, "idem-never-sent").await, 1);

    // It died after Palette created the cluster: the retry answers with that cluster.
    let sent = aws_body(&app, "idem-sent").await;
    dead_claim(&app, "dead-2", &sent, 600).await;
    let direct = reqwest::Client::new()
        .post(format!("{}/v1/spectroclusters/aws", sim.url))
        .header("ApiKey", "sim-api-key")
        .json(&sent)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 201);
    let uid = direct.json::<Value>().await.unwrap()["uid"].clone();
    let r = create(&app, &sent, None, None, "dead-2").await;
    assert_eq!(r.status(), 201);
    assert!(replayed(&r));
    assert_eq!(r.json::<Value>().await.unwrap()["uid"], uid);
    assert_eq!(accepted(&sim, "idem-sent").await, 1, "never created twice");
    // ... and from now on it is an ordinary answered key.
    let again = create(&app, &sent, None, None, "dead-2").await;
    assert!(replayed(&again));

    // A claim younger than the creation deadlines may still be under way: 409.
    let live = aws_body(&app, "idem-live").await;
    dead_claim(&app, "live-1", &live, 5).await;
    let r = create(&app, &live, None, None, "live-1").await;
    assert_error(r, 409, "conflict").await;
    assert_eq!(accepted(&sim, "idem-live").await, 0);
    app.stop().await;
    sim.stop().await;
}

/// Two replicas on one database: the same keyed creation sent to both at once is created once
/// (the other is told it is under way, as on one replica: 409), and a retry on either replica
/// afterwards is the replay.
#[tokio::test]
async fn a_retry_on_another_replica_is_replayed_never_created_twice() {
    let (sim, a) = synced(SimConfig::default(), |_| {}).await;
    let b = spawn_app_on(&a, |_| {}).await;
    let body = aws_body(&a, "idem-replicas").await;
    // Palette takes its time: the first creation is still under way when the other arrives.
    set_knobs(&sim, json!({ "latency_ms": 1500 })).await;
    let (on_a, on_b) = tokio::join!(
        create(&a, &body, None, None, "both-replicas"),
        create(&b, &body, None, None, "both-replicas")
    );
    let (created, other) = match (on_a.status().as_u16(), on_b.status().as_u16()) {
        (201, _) => (on_a, on_b),
        (_, 201) => (on_b, on_a),
        (x, y) => panic!("neither replica created it: {x}, {y}"),
    };
    assert!(!replayed(&created));
    let uid = created.json::<Value>().await.unwrap()["uid"].clone();
    let message = assert_error(other, 409, "conflict").await;
    assert!(message.contains("still under way"), "{message}");

    set_knobs(&sim, json!({ "latency_ms": 0 })).await;
    for app in [&a, &b] {
        let again = create(app, &body, None, None, "both-replicas").await;
        assert_eq!(again.status(), 201);
        assert!(replayed(&again));
        assert_eq!(again.json::<Value>().await.unwrap()["uid"], uid);
    }
    assert_eq!(accepted(&sim, "idem-replicas").await, 1, "created once");
    b.stop().await;
    a.stop().await;
    sim.stop().await;
}

/// Two replicas hammer one key whose creations keep failing: each claim is either won or finds
/// the other's claim, never an error, even when the claim that blocked it is released in
/// between (on PostgreSQL every statement sees the latest commits).
#[tokio::test]
async fn claims_racing_releases_of_one_key_never_fail() {
    use spectrocloud_backend::store::idempotency::{Claim, Claiming, KeyRef, claim, release};
    let a = spawn_app().await;
    let b = spawn_app_on(&a, |_| {}).await;
    let hammer = |db: spectrocloud_backend::store::Db, owner: &'static str| async move {
        let k = KeyRef {
            env: "env0",
            subject: "user:default/someone",
            identity: "api-key",
            project: "",
            key: "released-over-and-over",
        };
        let c = Claiming {
            body_hash: "same-body",
            name: "c1",
            owner,
        };
        let (mut won, mut busy) = (0, 0);
        for _ in 0..300 {
            match claim(&db, &k, &c, 3600).await {
                Ok(Claim::Claimed(held)) => {
                    won += 1;
                    assert!(release(&db, &k, &held).await.unwrap(), "own claim released");
                }
                Ok(Claim::InFlight { .. }) => busy += 1,
                Ok(other) => panic!("{owner}: {other:?}"),
                Err(e) => panic!("{owner}: a claim failed: {e}"),
            }
        }
        (won, busy)
    };
    let (on_a, on_b) = tokio::join!(
        tokio::spawn(hammer(a.db.clone(), "replica-a")),
        tokio::spawn(hammer(b.db.clone(), "replica-b"))
    );
    let ((won_a, busy_a), (won_b, busy_b)) = (on_a.unwrap(), on_b.unwrap());
    assert_eq!(won_a + busy_a + won_b + busy_b, 600);
    // The key changed hands and the replicas met each other's claims (which one wins how
    // often is the database's scheduling: SQLite's busy writer may lose every round).
    assert!(won_a + won_b > 0, "claimed: {won_a}, {won_b}");
    assert!(busy_a + busy_b > 0, "never met: {busy_a}, {busy_b}");
    b.stop().await;
    a.stop().await;
}
