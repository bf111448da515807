//! Usage reports Palette cannot answer cheaply: clusters per profile version, clusters per pack.

use serde::Serialize;

use super::Db;
use crate::auth::scope::Filter;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionUsage {
    pub uid: String,
    pub version: String,
    pub clusters: i64,
    /// This version is the profile's latest.
    pub latest: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUsage {
    pub uid: String,
    pub name: String,
    pub scope: String,
    pub project_uid: Option<String>,
    #[serde(rename = "type")]
    pub profile_type: String,
    pub cloud_type: String,
    pub latest_version: String,
    pub clusters: i64,
    /// Clusters on a version other than the latest: the ones an upgrade would move.
    pub upgrade_backlog: i64,
    /// No cluster uses any version of this profile.
    pub unused: bool,
    pub versions: Vec<VersionUsage>,
}

/// One row per profile version with its cluster count.
#[derive(sqlx::FromRow)]
struct UsageRow {
    uid: String,
    name: String,
    scope: String,
    project_uid: Option<String>,
    profile_type: String,
    cloud_type: String,
    latest_version: String,
    version_uid: String,
    version: String,
    clusters: i64,
}

pub const PROFILE_USAGE_SQL: &str = concat!(
        "SELECT p.uid, p.name, p.scope, p.project_uid, p.profile_type, p.cloud_type, p.version AS latest_version,
                pv.uid AS version_uid, pv.version,
                (SELECT count(*) FROM cluster_profile_refs r JOIN clusters c ON c.env = r.env AND c.uid = r.cluster_uid
                  WHERE r.env = pv.env AND r.profile_version_uid = pv.uid
                    AND (? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))) AS clusters
         FROM cluster_profiles p JOIN profile_versions pv ON pv.env = p.env AND pv.profile_uid = p.uid
         WHERE p.env = ? AND ",
        "(? OR p.project_uid IN (SELECT value FROM json_each(?)) OR (p.project_uid IS NULL AND ?))",
        " ORDER BY p.name, p.uid, pv.last_modified, pv.uid"
    );

/// Every visible profile with its cluster count (clusters visible to the caller) per version,
/// most used first.
pub async fn profile_usage(
    db: &Db,
    env: &str,
    profiles: &Filter,
    clusters: &Filter,
) -> Result<Vec<ProfileUsage>, sqlx::Error> {
    let q = sqlx::query_as(PROFILE_USAGE_SQL);
    let rows: Vec<UsageRow> = q
        .bind(clusters.all)
        .bind(clusters.projects_json.clone())
        .bind(clusters.tenant)
        .bind(env)
        .bind(profiles.all)
        .bind(profiles.projects_json.clone())
        .bind(profiles.tenant)
        .fetch_all(&db.reader)
        .await?;
    let mut out: Vec<ProfileUsage> = Vec::new();
    for r in rows {
        let latest = r.version == r.latest_version;
        let behind = if latest { 0 } else { r.clusters };
        let version = VersionUsage {
            uid: r.version_uid,
            version: r.version,
            clusters: r.clusters,
            latest,
        };
        match out.last_mut() {
            Some(p) if p.uid == r.uid => {
                p.clusters += r.clusters;
                p.upgrade_backlog += behind;
                p.unused = p.clusters == 0;
                p.versions.push(version);
            }
            _ => out.push(ProfileUsage {
                uid: r.uid,
                name: r.name,
                scope: r.scope,
                project_uid: r.project_uid,
                profile_type: r.profile_type,
                cloud_type: r.cloud_type,
                latest_version: r.latest_version,
                clusters: r.clusters,
                upgrade_backlog: behind,
                unused: r.clusters == 0,
                versions: vec![version],
            }),
        }
    }
    out.sort_by(|a, b| {
        b.clusters
            .cmp(&a.clusters)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(out)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackUsage {
    pub name: String,
    pub tag: String,
    pub layer: String,
    pub clusters: i64,
    /// Listed when the report is narrowed to one pack (`name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_uids: Option<Vec<String>>,
}

#[derive(sqlx::FromRow)]
struct PackRow {
    name: String,
    tag: String,
    layer: String,
    clusters: i64,
    uids: Option<String>,
}

pub const PACK_USAGE_SQL: &str = concat!(
    "SELECT k.name, k.tag, max(k.layer) AS layer, count(DISTINCT k.cluster_uid) AS clusters,
                group_concat(DISTINCT k.cluster_uid) AS uids
         FROM cluster_packs k JOIN clusters c ON c.env = k.env AND c.uid = k.cluster_uid
         WHERE k.env = ? AND (? IS NULL OR k.name = ?) AND (? IS NULL OR k.tag = ?) AND ",
    "(? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))",
    " GROUP BY k.name, k.tag ORDER BY count(DISTINCT k.cluster_uid) DESC, k.name, k.tag"
);

/// Clusters per (pack, tag), most used first; `name`/`tag` narrow it (then with cluster uids).
pub async fn pack_usage(
    db: &Db,
    env: &str,
    name: Option<&str>,
    tag: Option<&str>,
    clusters: &Filter,
) -> Result<Vec<PackUsage>, sqlx::Error> {
    let q = sqlx::query_as(PACK_USAGE_SQL)
        .bind(env)
        .bind(name)
        .bind(name)
        .bind(tag)
        .bind(tag);
    let rows: Vec<PackRow> = q
        .bind(clusters.all)
        .bind(clusters.projects_json.clone())
        .bind(clusters.tenant)
        .fetch_all(&db.reader)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| PackUsage {
            name: r.name,
            tag: r.tag,
            layer: r.layer,
            clusters: r.clusters,
            cluster_uids: name.map(|_| {
                let mut v: Vec<String> = r
                    .uids
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                v.sort();
                v
            }),
        })
        .collect())
}
