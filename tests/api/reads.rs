//! Read answers: compression, strong ETags and 304, planner statistics after a sync.

use palette_sim::SimConfig;

use crate::helpers::*;

async fn get_with(app: &TestApp, path: &str, header: (&str, &str)) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn mirror_answers_are_compressed_and_tagged() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let plain = get_with(&app, "/clusters", ("Accept-Encoding", "identity")).await;
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let tag = plain.headers()["etag"].to_str().unwrap().to_string();
    assert!(tag.starts_with('"'), "strong tag: {tag}");
    let plain_len = plain.bytes().await.unwrap().len();

    for enc in ["gzip", "br"] {
        let resp = get_with(&app, "/clusters", ("Accept-Encoding", enc)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-encoding"], enc);
        assert_eq!(resp.headers()["etag"].to_str().unwrap(), tag);
        let len = resp.bytes().await.unwrap().len();
        assert!(len * 3 < plain_len, "{enc}: {len} of {plain_len} bytes");
    }

    // The same answer again: 304 without a body, still saying where it came from.
    let again = get_with(&app, "/clusters", ("If-None-Match", &tag)).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["x-spectrocloud-source"], "mirror");
    assert!(again.bytes().await.unwrap().is_empty());
    // Another route's tag does not match.
    let other = get_with(&app, "/projects", ("If-None-Match", &tag)).await;
    assert_eq!(other.status(), 200);

    // A change in Palette and a sync: a new tag, the old one gets the whole answer.
    let uid = json(app.get("/clusters").await).await["clusters"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    sim_control(
        &sim,
        reqwest::Method::DELETE,
        &format!("/clusters/{uid}"),
        None,
    )
    .await;
    let run = app.sync("env0").await;
    assert_eq!(run["outcome"], "success");
    let changed = get_with(&app, "/clusters", ("If-None-Match", &tag)).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);

    // Live answers carry no mirror tag.
    let live = app.get(&format!("/clusters/{uid}/kubeconfig")).await;
    assert!(live.headers().get("etag").is_none());
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn an_applied_sync_leaves_planner_statistics() {
    if skip_on_postgres("SQLite's sqlite_stat1 (PostgreSQL's autovacuum analyzes)") {
        return;
    }
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let pool = app.mirror().await;
    let n: i64 = sqlx::query_scalar(q(
        "SELECT count(*) FROM sqlite_stat1 WHERE tbl IN ('cluster_profile_refs', 'clusters')",
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(n >= 2, "statistics for refs and clusters: {n}");
    app.stop().await;
    sim.stop().await;
}

/// Whether `conn` is the reader marked before the sync.
async fn marked(conn: &mut sqlx::SqliteConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM temp.sqlite_master WHERE name = 'opened_before_the_sync'",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

/// SQLite loads the planner's statistics as a connection opens: the readers opened when the
/// mirror was empty are replaced once a sync refreshed them, or every answer would keep
/// planning for empty tables until the process restarts.
#[tokio::test]
async fn readers_opened_before_a_sync_plan_with_its_statistics() {
    if skip_on_postgres("SQLite's per-connection statistics") {
        return;
    }
    let sim = spawn_sim_with(SimConfig::default()).await;
    let app = spawn_app_for(&[&sim], |c| c.database.max_readers = 1).await;
    // Marks the one reader (a temporary table lives as long as its connection).
    let reader = app.sqlite_reader();
    let mut conn = reader.acquire().await.unwrap();
    sqlx::query("CREATE TEMP TABLE opened_before_the_sync (x)")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let mut conn = reader.acquire().await.unwrap();
    assert_eq!(marked(&mut conn).await, 1, "the same reader, kept");
    drop(conn);

    app.sync("env0").await;
    let mut conn = reader.acquire().await.unwrap();
    assert_eq!(
        marked(&mut conn).await,
        0,
        "the reader opened before the statistics was replaced"
    );
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'cluster_profile_refs'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(n >= 1, "its statistics are the sync's");
    drop(conn);
    app.stop().await;
    sim.stop().await;
}

/// The reverse lookup starts from the profile's versions even with no statistics at all (a
/// cold mirror, or a process that never analyzed): the planner's own guess scanned every
/// profile ref of the environment.
#[tokio::test]
async fn the_reverse_lookup_plans_from_the_profile_without_statistics() {
    if skip_on_postgres("SQLite's query plans") {
        return;
    }
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    sqlx::query("DROP TABLE IF EXISTS sqlite_stat1")
        .execute(app.sqlite_writer())
        .await
        .unwrap();
    let mirror = app.mirror().await; // a new connection: it loads no statistics
    for sql in [
        spectrocloud_backend::store::profiles::CLUSTERS_ON_SQL,
        spectrocloud_backend::store::profiles::CLUSTERS_ON_COUNT_SQL,
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(&mirror)
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert_eq!(
            steps.first().copied(),
            Some("SEARCH pv USING INDEX profile_versions_by_profile (env=? AND profile_uid=?)"),
            "{steps:#?}"
        );
        assert!(
            steps
                .iter()
                .any(|s| s.contains("cluster_profile_refs_by_version")),
            "{steps:#?}"
        );
    }
    mirror.close().await;
    app.stop().await;
    sim.stop().await;
}

/// What a store read may `SCAN` (read every row of): SQLite's own helpers (`json_each` over a
/// bound list, a constant row, a subquery's rows) and the tables that stay small whatever the
/// fleet (projects, cloud accounts, overlords, cluster groups). Everything else grows with the
/// fleet (clusters, refs, packs, profiles and versions) and must be a `SEARCH` through an index,
/// or a `SCAN ... USING COVERING INDEX` (reads the index only). The plan names a table by its
/// alias, so the rule allows what it knows and refuses the rest.
const MAY_SCAN: &[&str] = &[
    "json_each",
    "CONSTANT",
    "(subquery-",
    // A list's page: the rows its index-ordered subquery already limited.
    "page",
    "projects",
    "cloud_accounts",
    "overlords",
    "cluster_groups",
];

/// Whether an `EXPLAIN QUERY PLAN` line reads every row of a table that grows with the fleet.
fn full_scan_of_large(detail: &str) -> bool {
    let Some(rest) = detail.strip_prefix("SCAN ") else {
        return false;
    };
    !rest.contains("COVERING INDEX") && !MAY_SCAN.iter().any(|t| rest.starts_with(t))
}

#[test]
fn the_scan_rule_refuses_aliased_and_plain_scans() {
    assert!(full_scan_of_large("SCAN p"));
    assert!(full_scan_of_large(
        "SCAN clusters USING INDEX clusters_by_name"
    ));
    assert!(!full_scan_of_large(
        "SCAN c USING COVERING INDEX clusters_by_name"
    ));
    assert!(!full_scan_of_large("SCAN json_each VIRTUAL TABLE INDEX 1:"));
    assert!(!full_scan_of_large(
        "SEARCH c USING INDEX sqlite_autoindex_clusters_1 (env=?)"
    ));
}

#[tokio::test]
async fn every_store_read_has_an_index_plan() {
    if skip_on_postgres("SQLite's query plans") {
        return;
    }
    let config = SimConfig {
        sizes: sizes(6, 800, 60),
        ..SimConfig::default()
    };
    let (sim, app) = synced(config, |_| {}).await;
    let mirror = app.mirror().await;
    let mut bad = Vec::new();
    for (name, sql) in spectrocloud_backend::store::read_queries() {
        // Unbound parameters are NULL: the plan does not depend on values.
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(&mirror)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (_, _, _, detail) in &rows {
            if full_scan_of_large(detail) {
                bad.push(format!("{name}: {detail}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "full scans of large tables:\n{}",
        bad.join("\n")
    );
    app.stop().await;
    sim.stop().await;
}
