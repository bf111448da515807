//! Read answers: compression, strong ETags and 304, planner statistics after a sync.

use spectrocloud_backend::sim::SimConfig;

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
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let pool = app.mirror().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_stat1 WHERE tbl IN ('cluster_profile_refs', 'clusters')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(n >= 2, "statistics for refs and clusters: {n}");
    app.stop().await;
    sim.stop().await;
}
