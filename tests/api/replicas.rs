//! Several processes on one mirror (replicas on PostgreSQL; a server and a `sync --once` on
//! SQLite): what one commits, the others serve within a second, cached answers included; a
//! replica that missed an announcement (its listening connection was down) catches up when it
//! listens again.

use std::time::{Duration, Instant};

use palette_sim::SimConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// The state `/clusters` gives cluster `uid`.
fn state_of(list: &Value, uid: &str) -> Option<String> {
    list["clusters"]
        .as_array()?
        .iter()
        .find(|c| c["metadata"]["uid"] == uid)
        .and_then(|c| c["status"]["state"].as_str())
        .map(str::to_string)
}

/// `/clusters` and its `X-SpectroCloud-Synced-At`.
async fn clusters(app: &TestApp) -> (Value, String) {
    let resp = app.get("/clusters").await;
    assert_eq!(resp.status(), 200);
    let synced_at = resp
        .headers()
        .get("x-spectrocloud-synced-at")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (json(resp).await, synced_at)
}

/// Waits until `app`'s generation has stopped moving (its start-up writes are done).
async fn settled(app: &TestApp) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = app.db.generation();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = app.db.generation();
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "the generation keeps moving");
        last = now;
    }
}

#[tokio::test]
async fn a_sync_committed_by_one_replica_is_served_by_the_other_within_a_second() {
    let (sim, a) = synced(SimConfig::default(), |_| {}).await;
    let b = spawn_app_on(&a, |_| {}).await;
    let (before, b_synced_at) = clusters(&b).await;
    // Asked twice: B answers from its response cache now.
    assert_eq!(clusters(&b).await.0, before);
    let c = &before["clusters"][0];
    let uid = c["metadata"]["uid"].as_str().unwrap().to_string();
    let to = if c["status"]["state"] == "Error" {
        "Running"
    } else {
        "Error"
    };
    sim_control(
        &sim,
        Method::POST,
        &format!("/clusters/{uid}/state"),
        Some(json!({ "state": to })),
    )
    .await;

    assert_eq!(a.sync("env0").await["outcome"], "success");
    let committed = Instant::now();
    loop {
        let (now, synced_at) = clusters(&b).await;
        // The data, and the freshness B reports with it, are A's new sync's.
        if state_of(&now, &uid).as_deref() == Some(to) && synced_at > b_synced_at {
            break;
        }
        assert!(
            committed.elapsed() < Duration::from_secs(1),
            "replica B still answers {:?} (synced at {synced_at}, before: {b_synced_at}) a second after A's sync",
            state_of(&now, &uid)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "replica B served A's sync {} ms after its run ended",
        committed.elapsed().as_millis()
    );
    // Both report the same freshness: the run's end as recorded, to the millisecond.
    let (on_a, on_b) = (clusters(&a).await.1, clusters(&b).await.1);
    assert_eq!(on_a, on_b, "X-SpectroCloud-Synced-At on A and on B");
    b.stop().await;
    a.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_replica_that_missed_an_announcement_catches_up_when_it_listens_again() {
    let (sim, a) = synced(SimConfig::default(), |_| {}).await;
    let b = spawn_app_on(&a, |_| {}).await;
    let (before, _) = clusters(&b).await;
    let c = &before["clusters"][0];
    let (uid, name) = (
        c["metadata"]["uid"].as_str().unwrap().to_string(),
        c["metadata"]["name"].as_str().unwrap().to_string(),
    );
    let renamed = format!("{name}-renamed-elsewhere");
    let known = settled(&b).await;
    assert_eq!(clusters(&b).await.0, before);

    // A write committed with the generation raised but never announced: what a replica whose
    // listening connection was down at that moment would have missed.
    let db = a.mirror().await;
    sqlx::query(q(
        "UPDATE clusters SET list_json = replace(list_json, ?, ?) WHERE env = 'env0' AND uid = ?",
    ))
    .bind(format!("\"{name}\""))
    .bind(format!("\"{renamed}\""))
    .bind(&uid)
    .execute(&db)
    .await
    .unwrap();
    let raised: i64 = sqlx::query_scalar(q(
        "UPDATE mirror_generation SET generation = generation + 1 WHERE id = 1 RETURNING generation",
    ))
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(raised as u64 > known);

    let since = Instant::now();
    if on_postgres() {
        // Nothing announced it, so nothing changes...
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(b.db.generation(), known, "B cannot know of it yet");
        assert_eq!(
            clusters(&b).await.0,
            before,
            "B still serves its cached answer"
        );
        // ...until the listening connections drop: each replica listens again and re-reads.
        let dropped: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query ILIKE 'LISTEN%') AS t",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        assert!(dropped >= 2, "both replicas listen: {dropped}");
    }
    let since = if on_postgres() { Instant::now() } else { since };
    loop {
        let (now, _) = clusters(&b).await;
        let shown = now["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["metadata"]["name"] == renamed.as_str());
        if shown && b.db.generation() >= raised as u64 {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "B has not caught up a second later (generation {} of {raised})",
            b.db.generation()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "replica B caught up {} ms later",
        since.elapsed().as_millis()
    );
    if on_postgres() {
        let logs = captured_logs();
        assert!(logs.contains("lost the connection listening for other replicas' mirror changes"));
        assert!(logs.contains("listening for other replicas' mirror changes again"));
    }
    b.stop().await;
    a.stop().await;
    sim.stop().await;
}

/// The role the documentation has operators create owns the mirror's database and nothing
/// else: its syncs analyze the mirror's tables without a warning about the shared catalogs
/// it may not analyze (a bare `ANALYZE` logged one per catalog at every sync).
#[tokio::test]
async fn a_mirror_owned_by_an_ordinary_role_syncs_without_warnings() {
    use sqlx::ConnectOptions;
    let Some(server) = postgres_server() else {
        eprintln!("skipped: SPECTROCLOUD_TEST_POSTGRES_URL is not set");
        return;
    };
    let role = format!("sbt_owner_{}", std::process::id());
    let name = format!("{role}_{}", rand::random::<u32>());
    let mut admin = server
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .connect()
        .await
        .unwrap();
    for sql in [
        format!(
            "DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ),
        format!("CREATE DATABASE {name} OWNER {role}"),
    ] {
        sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(sql))
            .await
            .unwrap();
    }
    let mut url = url::Url::parse(&server).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(None).unwrap();
    url.set_path(&name);
    let sim = spawn_sim().await;
    let app = spawn_app_for(&[&sim], |c| c.database.url = url.to_string()).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let logs = captured_logs();
    assert!(
        !logs.contains("only superuser can analyze"),
        "{}",
        logs.lines()
            .filter(|l| l.contains("analyze"))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
    app.stop().await;
    sim.stop().await;
}
