//! Usage reports Palette cannot answer cheaply: clusters per profile version, clusters per pack.

use serde::Serialize;
use sqlx::Row;

use super::{Db, bind_visible};
use crate::auth::scope::Filter;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionUsage {
    pub uid: String,
    pub version: String,
    pub clusters: i64,
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
    pub versions: Vec<VersionUsage>,
}

/// Every visible profile with its cluster count (clusters visible to the caller) per version,
/// most used first.
pub async fn profile_usage(
    db: &Db,
    env: &str,
    profiles: &Filter,
    clusters: &Filter,
) -> Result<Vec<ProfileUsage>, sqlx::Error> {
    let q = sqlx::query(concat!(
        "SELECT p.uid, p.name, p.scope, p.project_uid, p.profile_type, p.cloud_type, p.version,
                pv.uid, pv.version,
                (SELECT count(*) FROM cluster_profile_refs r JOIN clusters c ON c.env = r.env AND c.uid = r.cluster_uid
                  WHERE r.env = pv.env AND r.profile_version_uid = pv.uid
                    AND (? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?)))
         FROM cluster_profiles p JOIN profile_versions pv ON pv.env = p.env AND pv.profile_uid = p.uid
         WHERE p.env = ? AND ",
        "(? OR p.project_uid IN (SELECT value FROM json_each(?)) OR (p.project_uid IS NULL AND ?))",
        " ORDER BY p.name, p.uid, pv.last_modified, pv.uid"
    ));
    let q = bind_visible(q, clusters).bind(env);
    let rows = bind_visible(q, profiles).fetch_all(&db.reader).await?;
    let mut out: Vec<ProfileUsage> = Vec::new();
    for r in rows {
        let uid: String = r.get(0);
        let count: i64 = r.get(9);
        let version = VersionUsage {
            uid: r.get(7),
            version: r.get(8),
            clusters: count,
        };
        match out.last_mut() {
            Some(p) if p.uid == uid => {
                p.clusters += count;
                p.versions.push(version);
            }
            _ => out.push(ProfileUsage {
                uid,
                name: r.get(1),
                scope: r.get(2),
                project_uid: r.get(3),
                profile_type: r.get(4),
                cloud_type: r.get(5),
                latest_version: r.get(6),
                clusters: count,
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

/// Clusters per (pack, tag), most used first; `name`/`tag` narrow it (then with cluster uids).
pub async fn pack_usage(
    db: &Db,
    env: &str,
    name: Option<&str>,
    tag: Option<&str>,
    clusters: &Filter,
) -> Result<Vec<PackUsage>, sqlx::Error> {
    let q = sqlx::query(concat!(
        "SELECT k.name, k.tag, max(k.layer), count(DISTINCT k.cluster_uid), group_concat(DISTINCT k.cluster_uid)
         FROM cluster_packs k JOIN clusters c ON c.env = k.env AND c.uid = k.cluster_uid
         WHERE k.env = ? AND (? IS NULL OR k.name = ?) AND (? IS NULL OR k.tag = ?) AND ",
        "(? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))",
        " GROUP BY k.name, k.tag ORDER BY count(DISTINCT k.cluster_uid) DESC, k.name, k.tag"
    ))
    .bind(env)
    .bind(name)
    .bind(name)
    .bind(tag)
    .bind(tag);
    let rows = bind_visible(q, clusters).fetch_all(&db.reader).await?;
    Ok(rows
        .iter()
        .map(|r| PackUsage {
            name: r.get(0),
            tag: r.get(1),
            layer: r.get(2),
            clusters: r.get(3),
            cluster_uids: name.map(|_| {
                let mut v: Vec<String> = r
                    .get::<Option<String>, _>(4)
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
