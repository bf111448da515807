//! Clusters and virtual clusters, read from the mirror.

use super::visibility::{Filter, Visible};
use super::{ByName, Db, NamedRow};
use crate::domain::CloudType;

#[derive(Debug, sqlx::FromRow)]
pub struct ClusterRecord {
    pub uid: String,
    pub name: String,
    pub project_uid: Option<String>,
    #[sqlx(try_from = "String")]
    pub cloud_type: CloudType,
    pub state: String,
    pub detail_json: Option<String>,
    pub profiles_json: Option<String>,
}

pub const GET_SQL: &str =
    "SELECT c.uid, c.name, c.project_uid, c.cloud_type, c.state, d.detail_json, d.profiles_json
         FROM clusters c LEFT JOIN cluster_details d ON d.env = c.env AND d.uid = c.uid
         WHERE c.env = ? AND c.uid = ?";

pub async fn get(db: &Db, env: &str, uid: &str) -> Result<Option<ClusterRecord>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, GET_SQL))
            .bind(env)
            .bind(uid)
            .fetch_optional(p)
            .await
    })
}

/// A cluster's name, project uid and project name, for naming it in answers.
#[derive(Debug, sqlx::FromRow)]
pub struct Naming {
    pub name: String,
    pub project_uid: Option<String>,
    pub project_name: Option<String>,
}

pub async fn naming(db: &Db, env: &str, uid: &str) -> Result<Option<Naming>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(
            d,
            "SELECT c.name, c.project_uid, p.name AS project_name
             FROM clusters c LEFT JOIN projects p ON p.env = c.env AND p.uid = c.project_uid
             WHERE c.env = ? AND c.uid = ?"
        ))
        .bind(env)
        .bind(uid)
        .fetch_optional(p)
        .await
    })
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
    let inserted = on!(&mut tx, |c_, d| {
        sqlx::query(sql!(d,
        "INSERT INTO clusters (env, uid, name, scope, project_uid, cloud_type, state, last_modified,
            list_json, synced_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)
         ON CONFLICT (env, uid) DO NOTHING"))
        .bind(env)
        .bind(c.uid)
        .bind(c.name)
        .bind(if c.project_uid.is_some() {
            "project"
        } else {
            "tenant"
        })
        .bind(c.project_uid)
        .bind(c.cloud_type)
        .bind(c.state)
        .bind(c.list_json)
        .bind(&now)
        .execute(&mut *c_)
        .await
        .map(|r| r.rows_affected())
    })?;
    if inserted > 0
        && let Some(detail) = c.detail_json
    {
        on!(&mut tx, |c_, d| {
            sqlx::query(sql!(
                d,
                "INSERT INTO cluster_details (env, uid, detail_json, profiles_json, synced_at)
                 VALUES (?, ?, ?, '{\"profiles\":[]}', ?) ON CONFLICT (env, uid) DO NOTHING"
            ))
            .bind(env)
            .bind(c.uid)
            .bind(detail)
            .bind(&now)
            .execute(&mut *c_)
            .await
            .map(drop)
        })?;
    }
    tx.commit().await
}

pub const NAMED_SQL: &str = concat!(
    "SELECT c.uid, c.name, c.scope, c.project_uid, p.name AS project_name
         FROM clusters c LEFT JOIN projects p ON p.env = c.env AND p.uid = c.project_uid
         WHERE c.env = ? AND lower(c.name) = lower(?) AND (c.cloud_type = 'nested') = ?
           AND (? IS NULL OR c.project_uid = ?) AND ",
    visible!(),
    " ORDER BY c.uid"
);

/// The visible clusters (`virtual_clusters`: virtual ones) named `name`, case-insensitive;
/// names are unique per project only.
pub async fn named(
    db: &Db,
    by: ByName<'_>,
    virtual_clusters: bool,
    vis: &Filter,
) -> Result<Vec<NamedRow>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, NAMED_SQL))
            .bind(by.env)
            .bind(by.name)
            .bind(virtual_clusters)
            .bind(by.project)
            .bind(by.project)
            .visible_to(vis)
            .fetch_all(p)
            .await
    })
}

/// A listed cluster as an agent sees it: the mirror's columns, the project's name beside its
/// uid, and the cluster's tags (from Palette's list item).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BriefRow {
    pub uid: String,
    pub name: String,
    pub scope: String,
    pub state: String,
    pub health: Option<String>,
    pub cloud_type: String,
    pub project_uid: Option<String>,
    pub project_name: Option<String>,
    pub kubernetes_version: Option<String>,
    /// JSON array text of `spec.tags`, when the list item has one.
    pub tags: Option<String>,
    pub last_modified: String,
}

/// The brief rows after their `tags` column (which each dialect extracts its own way).
macro_rules! briefs_from {
    () => {
        concat!(
            " AS tags, c.last_modified
             FROM clusters c LEFT JOIN projects p ON p.env = c.env AND p.uid = c.project_uid
             WHERE c.env = ? AND (? IS NULL OR (c.cloud_type = 'nested') = ?) AND ",
            visible!(),
            " ORDER BY c.name, c.uid"
        )
    };
}

pub const BRIEFS_SQL: &str = concat!(
    "SELECT c.uid, c.name, c.scope, c.state, c.health, c.cloud_type, c.project_uid,
            p.name AS project_name, c.kubernetes_version,
            json_extract(c.list_json, '$.spec.tags')",
    briefs_from!()
);

/// `json` (not `jsonb`) keeps the item's text as stored: no re-encoding of every row.
const BRIEFS_POSTGRES_SQL: &str = concat!(
    "SELECT c.uid, c.name, c.scope, c.state, c.health, c.cloud_type, c.project_uid,
            p.name AS project_name, c.kubernetes_version,
            CAST(CAST(c.list_json AS json) #> '{spec,tags}' AS TEXT)",
    briefs_from!()
);

/// Every visible cluster, by name: `virtual_clusters` `Some(true)` the virtual ones only,
/// `Some(false)` the others only, `None` both. Agents filter and page this small row set in
/// the service.
pub async fn briefs(
    db: &Db,
    env: &str,
    virtual_clusters: Option<bool>,
    vis: &Filter,
) -> Result<Vec<BriefRow>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, sqlite: BRIEFS_SQL, postgres: BRIEFS_POSTGRES_SQL))
            .bind(env)
            .bind(virtual_clusters)
            .bind(virtual_clusters)
            .visible_to(vis)
            .fetch_all(p)
            .await
    })
}
