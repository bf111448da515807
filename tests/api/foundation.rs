//! Health, error shapes, body limits, migrations and shutdown.

use crate::helpers::{assert_error, json, q, skip_on_postgres, spawn_app};

#[tokio::test]
async fn health_is_ok_without_credentials() {
    let app = spawn_app().await;
    let resp = app.get("/health").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    // `replica`: the answering replica (default: host name and process id).
    let replica = app.config.server.replica_id();
    assert_eq!(
        json(resp).await,
        serde_json::json!({"status": "ok", "replica": replica, "sync": "ok", "environments": []})
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_route_is_json_404() {
    let app = spawn_app().await;
    let resp = app.get("/definitely/not/a/route").await;
    let msg = assert_error(resp, 404, "not_found").await;
    assert!(msg.contains("/definitely/not/a/route"), "{msg}");
    // Outside the base path too.
    let resp = app
        .client
        .get(format!("{}/elsewhere", app.address))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn oversize_body_is_413() {
    let app = spawn_app().await;
    let body = vec![b'a'; 1024 * 1024 + 1];
    let resp = app
        .client
        .post(app.url("/profiles/search"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "payload_too_large").await;
    // Exactly at the limit is not refused for size.
    let resp = app
        .client
        .post(app.url("/nothing-here"))
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 413);
    app.stop().await;
}

#[tokio::test]
async fn migrations_create_the_mirror_schema() {
    if skip_on_postgres(
        "SQLite's catalogue (sqlite_master); PostgreSQL's schema is the same migrations' twin",
    ) {
        return;
    }
    let app = spawn_app().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(q(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    for t in [
        "environments",
        "projects",
        "clusters",
        "cluster_details",
        "cluster_profiles",
        "profile_versions",
        "profile_packs",
        "profile_variables",
        "cluster_profile_refs",
        "cluster_packs",
        "cloud_accounts",
        "overlords",
        "cluster_groups",
        "virtual_clusters",
        "user_scopes",
        "sync_runs",
        "audit_log",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t} in {tables:?}"
        );
    }
    let applied: i64 = sqlx::query_scalar(q("SELECT count(*) FROM _sqlx_migrations WHERE success"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(applied >= 1);
    let mode: String = sqlx::query_scalar(q("PRAGMA journal_mode"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    pool.close().await;
    app.stop().await;
}

#[tokio::test]
async fn stop_finishes_and_refuses_new_connections() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health").await.status(), 200);
    let url = app.url("/health");
    let client = app.client.clone();
    app.handle.stop(true).await;
    let joined = tokio::time::timeout(std::time::Duration::from_secs(10), app.join).await;
    assert!(joined.is_ok(), "server did not stop within 10 s");
    assert!(
        client.get(&url).send().await.is_err(),
        "server still answers after stop"
    );
}

#[tokio::test]
async fn graceful_stop_lets_in_flight_requests_finish() {
    use crate::helpers::{SimConfig, set_knobs, synced};
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let clusters = json(app.get("/clusters").await).await;
    let uid = clusters["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"]["state"] == "Running")
        .unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    // A live call that takes a while.
    set_knobs(&sim, serde_json::json!({"latency_ms": 1200})).await;
    let client = app.client.clone();
    let url = app.url(&format!("/clusters/{uid}/kubeconfig"));
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let handle = app.handle.clone();
    let stopping = tokio::spawn(async move { handle.stop(true).await });
    let resp = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(resp.status(), 200, "answered, not cut off");
    assert!(resp.text().await.unwrap().contains("apiVersion: v1"));
    stopping.await.unwrap();
    let _ = app.join.await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "stop waited for it"
    );
    sim.stop().await;
}
