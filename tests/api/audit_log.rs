//! The audit log stays bounded: a flood of refused requests is one row a minute with a count,
//! and entries past `audit.retention_days` are pruned.

use futures::StreamExt;
use serde_json::Value;
use spectrocloud_backend::config::{AuthMode, Grant, Secret, StaticToken};

use crate::helpers::*;

const ADMIN: &str = "audit-admin-token-3f9c1e7a";
const VIEWER: &str = "audit-viewer-token-8d2b6c40";

fn tokens(c: &mut spectrocloud_backend::config::Config) {
    c.auth.mode = AuthMode::Static;
    c.auth.tokens = vec![
        StaticToken {
            token: Secret::new(ADMIN),
            subject: "user:default/ada".into(),
            groups: vec![],
            palette_user: None,
        },
        StaticToken {
            token: Secret::new(VIEWER),
            subject: "user:default/vic".into(),
            groups: vec![],
            palette_user: None,
        },
    ];
    c.permissions.enabled = true;
    c.permissions.grants = vec![Grant {
        principals: vec!["user:default/ada".into()],
        allow: vec!["spectrocloud.*".into()],
    }];
}

#[tokio::test]
async fn a_flood_of_denials_is_one_row_with_a_count() {
    let app = spawn_app_with(tokens).await;
    let viewer = http_client();
    const FLOOD: usize = 200;
    // Varying what a caller controls (claimed email, unknown instance) must not split rows.
    let statuses: Vec<u16> = futures::stream::iter(0..FLOOD)
        .map(|i| {
            let req = viewer
                .get(app.url(&format!("/clusters?instance=junk-{i}")))
                .bearer_auth(VIEWER)
                .header("X-SpectroCloud-User-Email", format!("u{i}@acme.example"));
            async move { req.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 403), "{statuses:?}");

    let log = json(app.get("/audit?limit=500").await).await;
    let rows: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == "user:default/vic")
        .collect();
    // One row per minute: two if the flood straddled a minute's end.
    assert!(
        !rows.is_empty() && rows.len() <= 2,
        "{} rows: {rows:?}",
        rows.len()
    );
    let total: i64 = rows.iter().map(|e| e["count"].as_i64().unwrap()).sum();
    assert_eq!(total, FLOOD as i64, "every denial counted");
    assert!(rows.iter().all(|e| e["outcome"] == "denied"));
    assert!(rows.iter().all(|e| e["last_at"].is_string()));
    app.stop().await;
}

#[tokio::test]
async fn audit_entries_past_retention_are_pruned() {
    let first = spawn_app().await;
    let days_ago = |d: i64| {
        (chrono::Utc::now() - chrono::Duration::days(d))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    for (subject, at) in [("old", days_ago(200)), ("recent", days_ago(1))] {
        sqlx::query(q(
            "INSERT INTO audit_log (at, subject, action, env, outcome)
             VALUES (?, ?, 'access', '', 'denied')",
        ))
        .bind(at)
        .bind(subject)
        .execute(&first.mirror().await)
        .await
        .unwrap();
    }
    // Another process on the same database: its upkeep runs as it starts.
    let url = first.config.database.url.clone();
    let second = spawn_app_with(|c| {
        c.database.url = url;
        c.audit.retention_days = 30;
    })
    .await;
    let subjects = || async {
        sqlx::query_scalar::<_, String>(q("SELECT subject FROM audit_log ORDER BY id"))
            .fetch_all(&second.mirror().await)
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while subjects().await.len() > 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(subjects().await, vec!["recent".to_string()]);
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn reading_the_audit_needs_its_own_permission_not_cluster_create() {
    const AUDITOR: &str = "audit-auditor-token-6a0e93d1";
    const CREATOR: &str = "audit-creator-token-2c7f58b4";
    let app = spawn_app_with(|c| {
        tokens(c);
        for (token, subject) in [(AUDITOR, "user:default/aud"), (CREATOR, "user:default/cre")] {
            c.auth.tokens.push(StaticToken {
                token: Secret::new(token),
                subject: subject.into(),
                groups: vec![],
                palette_user: None,
            });
        }
        c.permissions.grants.push(Grant {
            principals: vec!["user:default/aud".into()],
            allow: vec!["spectrocloud.audit.view".into()],
        });
        c.permissions.grants.push(Grant {
            principals: vec!["user:default/cre".into()],
            allow: vec!["spectrocloud.cluster.create".into()],
        });
    })
    .await;
    let as_ = |token: &'static str| {
        reqwest::Client::new()
            .get(app.url("/audit"))
            .bearer_auth(token)
            .send()
    };
    let read = as_(AUDITOR).await.unwrap();
    assert_eq!(read.status(), 200, "an auditor reads the audit");
    assert!(json(read).await["entries"].is_array());
    let refused = as_(CREATOR).await.unwrap();
    let body = json(refused).await;
    assert_eq!(body["code"], "permission_denied", "{body}");
    assert_eq!(body["permission"], "spectrocloud.audit.view", "{body}");
    assert_eq!(
        as_(ADMIN).await.unwrap().status(),
        200,
        "spectrocloud.* covers it"
    );
    app.stop().await;
}
