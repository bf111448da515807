//! Cluster profiles, their versions and variables, and the reverse lookup profile → clusters.

use serde::Serialize;

use super::visibility::{Filter, Visible};
use super::{ByName, Db, NamedRow, Page};

pub const SEARCH_BY_NAMES_SQL: &str = concat!(
    "SELECT list_json FROM cluster_profiles WHERE env = ?
           AND lower(name) IN (SELECT value FROM json_each(?))
           AND (? IS NULL OR project_uid = ? OR project_uid IS NULL) AND ",
    visible!(),
    " ORDER BY name, uid"
);

/// Listed profiles whose name is one of `names` (case-insensitive, exact). With `project`,
/// only that project's and tenant profiles (what Palette lists in that project's scope).
pub async fn search_by_names(
    db: &Db,
    env: &str,
    names: &[String],
    project: Option<&str>,
    vis: &Filter,
) -> Result<Vec<String>, sqlx::Error> {
    read!(db, |p, d| {
        let lowered: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
        let q = sqlx::query_scalar(sql!(d, SEARCH_BY_NAMES_SQL))
            .bind(env)
            .bind(serde_json::to_string(&lowered).unwrap_or_else(|_| "[]".into()))
            .bind(project)
            .bind(project);
        q.visible_to(vis).fetch_all(p).await
    })
}

/// Which profiles of a project: its own and tenant ones, of these types and cloud type.
pub struct ForProject<'a> {
    pub project: &'a str,
    pub cloud_type: Option<&'a str>,
    pub profile_types: &'a [String],
}

pub const FOR_PROJECT_SQL: &str = concat!(
    "SELECT list_json FROM cluster_profiles WHERE env = ?
           AND (project_uid = ? OR project_uid IS NULL)
           AND (? IS NULL OR cloud_type = ?)
           AND profile_type IN (SELECT value FROM json_each(?)) AND ",
    visible!(),
    " ORDER BY last_modified DESC, uid LIMIT ? OFFSET ?"
);

/// Profiles usable in a project, newest first.
pub async fn for_project(
    db: &Db,
    env: &str,
    of: &ForProject<'_>,
    vis: &Filter,
    page: Page,
) -> Result<Vec<String>, sqlx::Error> {
    read!(db, |p, d| {
        let q = sqlx::query_scalar(sql!(d, FOR_PROJECT_SQL))
            .bind(env)
            .bind(of.project)
            .bind(of.cloud_type)
            .bind(of.cloud_type)
            .bind(serde_json::to_string(of.profile_types).unwrap_or_else(|_| "[]".into()));
        q.visible_to(vis)
            .bind(d.limit(page.limit))
            .bind(page.offset)
            .fetch_all(p)
            .await
    })
}

#[derive(Debug, sqlx::FromRow)]
pub struct VersionRecord {
    pub uid: String,
    /// The uid the profile is listed under (its newest version).
    pub profile_uid: String,
    pub project_uid: Option<String>,
    /// Palette's JSON of the version; `None` while only its listing is in.
    pub json: Option<String>,
}

pub const VERSION_SQL: &str = "SELECT uid, profile_uid, project_uid, NULLIF(json, '') AS json
     FROM profile_versions WHERE env = ? AND uid = ?";

/// One profile version by uid (any version of any profile).
pub async fn version(db: &Db, env: &str, uid: &str) -> Result<Option<VersionRecord>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, VERSION_SQL))
            .bind(env)
            .bind(uid)
            .fetch_optional(p)
            .await
    })
}

pub const VARIABLES_SQL: &str =
    "SELECT json FROM profile_variables WHERE env = ? AND version_uid = ?";

pub async fn variables(
    db: &Db,
    env: &str,
    version_uid: &str,
) -> Result<Option<String>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, VARIABLES_SQL))
            .bind(env)
            .bind(version_uid)
            .fetch_optional(p)
            .await
    })
}

#[derive(Debug, Serialize)]
pub struct VersionInfo {
    pub uid: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileInfo {
    pub uid: String,
    pub name: String,
    pub scope: String,
    pub project_uid: Option<String>,
    #[serde(rename = "type")]
    pub profile_type: String,
    pub cloud_type: String,
    pub versions: Vec<VersionInfo>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    uid: String,
    version: String,
    name: String,
    scope: String,
    project_uid: Option<String>,
    profile_type: String,
    cloud_type: String,
}

pub const LINEAGE_SQL: &str =
    "SELECT uid, version, name, scope, project_uid, profile_type, cloud_type FROM profile_versions
         WHERE env = ? AND profile_uid = ? ORDER BY last_modified, version, uid";

/// The profile any version uid belongs to, with all its versions.
pub async fn lineage(
    db: &Db,
    env: &str,
    any_uid: &str,
) -> Result<Option<ProfileInfo>, sqlx::Error> {
    read!(db, |p, d| {
        let Some(v) = version(db, env, any_uid).await? else {
            return Ok(None);
        };
        let mut rows: Vec<VersionRow> = sqlx::query_as(sql!(d, LINEAGE_SQL))
            .bind(env)
            .bind(&v.profile_uid)
            .fetch_all(p)
            .await?;
        rows.sort_by(|a, b| {
            crate::domain::compare_versions(&a.version, &b.version).then_with(|| a.uid.cmp(&b.uid))
        });
        let Some(head) = rows.iter().find(|r| r.uid == v.profile_uid).or(rows.last()) else {
            return Ok(None);
        };
        Ok(Some(ProfileInfo {
            uid: v.profile_uid.clone(),
            name: head.name.clone(),
            scope: head.scope.clone(),
            project_uid: head.project_uid.clone(),
            profile_type: head.profile_type.clone(),
            cloud_type: head.cloud_type.clone(),
            versions: rows
                .into_iter()
                .map(|r| VersionInfo {
                    uid: r.uid,
                    version: r.version,
                })
                .collect(),
        }))
    })
}

#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct ClusterOnProfile {
    pub uid: String,
    pub name: String,
    pub state: String,
    pub health: Option<String>,
    pub cloud_type: String,
    pub project_uid: Option<String>,
    pub project_name: Option<String>,
    pub profile_version_uid: String,
    pub profile_version: String,
}

/// The reverse lookup's joins, in the one order that is fast whatever the planner's
/// statistics say: the profile's versions, their refs, the clusters. SQLite never reorders
/// around a CROSS JOIN, and without fresh statistics (a cold mirror) it chose a scan of every
/// ref; PostgreSQL plans CROSS JOINs with their conditions as inner joins.
macro_rules! clusters_on_joins {
    () => {
        "FROM profile_versions pv
         CROSS JOIN cluster_profile_refs r
         CROSS JOIN clusters c
         LEFT JOIN projects p ON p.env = c.env AND p.uid = c.project_uid
         WHERE r.env = pv.env AND r.profile_version_uid = pv.uid
           AND c.env = r.env AND c.uid = r.cluster_uid
           AND pv.env = ? AND pv.profile_uid = ? AND "
    };
}

pub const CLUSTERS_ON_COUNT_SQL: &str = concat!(
    "SELECT count(*) ",
    clusters_on_joins!(),
    "(? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))"
);

pub const CLUSTERS_ON_SQL: &str = concat!(
    "SELECT c.uid, c.name, c.state, c.health, c.cloud_type, c.project_uid, p.name AS project_name,
                r.profile_version_uid, pv.version AS profile_version ",
    clusters_on_joins!(),
    "(? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))",
    " ORDER BY c.name, c.uid LIMIT ? OFFSET ?"
);

/// The reverse lookup: every cluster on ANY version of the profile `profile_uid` is listed
/// under, with the version it runs.
pub async fn clusters_on(
    db: &Db,
    env: &str,
    profile_uid: &str,
    vis: &Filter,
    page: Page,
) -> Result<(Vec<ClusterOnProfile>, i64), sqlx::Error> {
    read!(db, |p, d| {
        let q = sqlx::query_as(sql!(d, CLUSTERS_ON_SQL))
            .bind(env)
            .bind(profile_uid);
        let q = q.visible_to(vis);
        let rows: Vec<ClusterOnProfile> = q
            .bind(d.limit(page.limit))
            .bind(page.offset)
            .fetch_all(p)
            .await?;
        let total = sqlx::query_scalar(sql!(d, CLUSTERS_ON_COUNT_SQL))
            .bind(env)
            .bind(profile_uid);
        let total: i64 = total.visible_to(vis).fetch_one(p).await?;
        Ok((rows, total))
    })
}

pub const NAMED_SQL: &str = concat!(
    "SELECT c.uid, c.name, c.scope, c.project_uid, p.name AS project_name
         FROM cluster_profiles c LEFT JOIN projects p ON p.env = c.env AND p.uid = c.project_uid
         WHERE c.env = ? AND lower(c.name) = lower(?) AND (? IS NULL OR c.project_uid = ? OR c.project_uid IS NULL) AND ",
    visible!(),
    " ORDER BY c.scope, c.uid"
);

/// The visible profiles named `name`, case-insensitive (as listed: uid of the newest
/// version); with `project`, that project's and the tenant's.
pub async fn named(db: &Db, by: ByName<'_>, vis: &Filter) -> Result<Vec<NamedRow>, sqlx::Error> {
    read!(db, |p, d| {
        let q = sqlx::query_as(sql!(d, NAMED_SQL))
            .bind(by.env)
            .bind(by.name);
        q.bind(by.project)
            .bind(by.project)
            .visible_to(vis)
            .fetch_all(p)
            .await
    })
}

pub const NAMES_SQL: &str = concat!(
    "SELECT DISTINCT name FROM cluster_profiles WHERE env = ? AND ",
    visible!(),
    " ORDER BY name"
);

/// Names of the visible profiles (for "did you mean").
pub async fn names(db: &Db, env: &str, vis: &Filter) -> Result<Vec<String>, sqlx::Error> {
    read!(db, |p, d| {
        let q = sqlx::query_scalar(sql!(d, NAMES_SQL)).bind(env);
        q.visible_to(vis).fetch_all(p).await
    })
}

pub const VERSION_KIND_SQL: &str =
    "SELECT cloud_type, profile_type FROM profile_versions WHERE env = ? AND uid = ?";

/// A profile version's (cloud type, profile type), when the mirror has that version.
pub async fn version_kind(
    db: &Db,
    env: &str,
    uid: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, VERSION_KIND_SQL))
            .bind(env)
            .bind(uid)
            .fetch_optional(p)
            .await
    })
}

pub const HAS_VERSIONS_SQL: &str = "SELECT EXISTS (SELECT 1 FROM profile_versions WHERE env = ?)";

/// Whether the mirror holds any profile version of `env` (false before its first sync).
pub async fn has_versions(db: &Db, env: &str) -> Result<bool, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, HAS_VERSIONS_SQL))
            .bind(env)
            .fetch_one(p)
            .await
    })
}
