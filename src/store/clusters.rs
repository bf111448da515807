//! Clusters and virtual clusters, read from the mirror.

use super::{Db, bind_visible_scalar};
use crate::auth::scope::Filter;

#[derive(Debug, sqlx::FromRow)]
pub struct ClusterRecord {
    pub uid: String,
    pub name: String,
    pub project_uid: Option<String>,
    pub cloud_type: String,
    pub state: String,
    pub detail_json: Option<String>,
    pub profiles_json: Option<String>,
}

pub const GET_SQL: &str =
    "SELECT c.uid, c.name, c.project_uid, c.cloud_type, c.state, d.detail_json, d.profiles_json
         FROM clusters c LEFT JOIN cluster_details d ON d.env = c.env AND d.uid = c.uid
         WHERE c.env = ? AND c.uid = ?";

pub async fn get(db: &Db, env: &str, uid: &str) -> Result<Option<ClusterRecord>, sqlx::Error> {
    sqlx::query_as(GET_SQL)
        .bind(env)
        .bind(uid)
        .fetch_optional(&db.reader)
        .await
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

pub const UIDS_NAMED_SQL: &str = concat!(
    "SELECT uid FROM clusters WHERE env = ? AND name = ? AND (? IS NULL OR project_uid = ?) AND ",
    visible!(),
    " ORDER BY uid"
);

/// Uids of the visible clusters named `name` (names are unique per scope only).
pub async fn uids_named(
    db: &Db,
    env: &str,
    name: &str,
    project: Option<&str>,
    vis: &Filter,
) -> Result<Vec<String>, sqlx::Error> {
    let q = sqlx::query_scalar(UIDS_NAMED_SQL)
        .bind(env)
        .bind(name)
        .bind(project)
        .bind(project);
    bind_visible_scalar(q, vis).fetch_all(&db.reader).await
}
