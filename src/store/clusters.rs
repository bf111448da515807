//! Clusters and virtual clusters, read from the mirror.

use sqlx::Row;

use super::Db;

pub struct ClusterRecord {
    pub uid: String,
    pub name: String,
    pub project_uid: Option<String>,
    pub cloud_type: String,
    pub state: String,
    pub detail_json: Option<String>,
    pub profiles_json: Option<String>,
}

pub async fn get(db: &Db, env: &str, uid: &str) -> Result<Option<ClusterRecord>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.uid, c.name, c.project_uid, c.cloud_type, c.state, d.detail_json, d.profiles_json
         FROM clusters c LEFT JOIN cluster_details d ON d.env = c.env AND d.uid = c.uid
         WHERE c.env = ? AND c.uid = ?",
    )
    .bind(env)
    .bind(uid)
    .fetch_optional(&db.reader)
    .await?;
    Ok(row.map(|r| ClusterRecord {
        uid: r.get(0),
        name: r.get(1),
        project_uid: r.get(2),
        cloud_type: r.get(3),
        state: r.get(4),
        detail_json: r.get(5),
        profiles_json: r.get(6),
    }))
}

/// A cluster just created through the service.
pub struct NewCluster<'a> {
    pub uid: &'a str,
    pub name: &'a str,
    pub project_uid: Option<&'a str>,
    pub cloud_type: &'a str,
    pub state: &'a str,
    pub list_json: &'a str,
    pub detail_json: Option<&'a str>,
}

/// Writes a new cluster so it shows at once (the next sync replaces the row with Palette's own
/// list item and details); an existing row is left alone.
pub async fn write_through(db: &Db, env: &str, c: &NewCluster<'_>) -> Result<(), sqlx::Error> {
    let now = super::now_text();
    let mut tx = super::writer::begin(db).await?;
    let inserted = sqlx::query(
        "INSERT INTO clusters (env, uid, name, scope, project_uid, cloud_type, state, last_modified,
            list_json, synced_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)
         ON CONFLICT (env, uid) DO NOTHING",
    )
    .bind(env)
    .bind(c.uid)
    .bind(c.name)
    .bind(if c.project_uid.is_some() { "project" } else { "tenant" })
    .bind(c.project_uid)
    .bind(c.cloud_type)
    .bind(c.state)
    .bind(c.list_json)
    .bind(&now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted > 0
        && let Some(detail) = c.detail_json
    {
        sqlx::query(
            "INSERT INTO cluster_details (env, uid, detail_json, profiles_json, synced_at)
             VALUES (?, ?, ?, '{\"profiles\":[]}', ?) ON CONFLICT (env, uid) DO NOTHING",
        )
        .bind(env)
        .bind(c.uid)
        .bind(detail)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Compact facts about a cluster, for answers that do not need Palette's whole object.
#[derive(Debug, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    pub uid: String,
    pub name: String,
    pub state: String,
    pub health: Option<String>,
    pub cloud_type: String,
    pub project_uid: Option<String>,
    pub kubernetes_version: Option<String>,
}

/// Summaries ordered by name; `project` narrows to one project; `nested` to virtual clusters.
pub async fn summaries(
    db: &Db,
    env: &str,
    project: Option<&str>,
    nested: bool,
) -> Result<Vec<ClusterSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT uid, name, state, health, cloud_type, project_uid, kubernetes_version FROM clusters
         WHERE env = ? AND (? IS NULL OR project_uid = ?) AND ((cloud_type = 'nested') = ?)
         ORDER BY name, uid",
    )
    .bind(env)
    .bind(project)
    .bind(project)
    .bind(nested)
    .fetch_all(&db.reader)
    .await
}

/// Uids of the clusters named `name` (names are unique per scope only).
pub async fn uids_named(
    db: &Db,
    env: &str,
    name: &str,
    project: Option<&str>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT uid FROM clusters WHERE env = ? AND name = ? AND (? IS NULL OR project_uid = ?) ORDER BY uid")
        .bind(env)
        .bind(name)
        .bind(project)
        .bind(project)
        .fetch_all(&db.reader)
        .await
}
