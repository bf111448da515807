//! Usage reports Palette cannot answer cheaply: clusters per profile version, clusters per pack,
//! the fleet by state, health, cloud, kubernetes version and project. Each is one or two
//! queries that group in SQLite; the rows are folded into the report's shape here, by key,
//! never by a query per profile or cluster.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Db;
use super::visibility::{Filter, Visible};

/// Clusters of one project.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectCount {
    pub project_uid: Option<String>,
    pub project_name: Option<String>,
    pub clusters: i64,
}

/// One cluster under a version or pack (`include=clusters`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterBrief {
    pub uid: String,
    pub name: String,
    pub project_uid: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionUsage {
    pub uid: String,
    pub version: String,
    pub clusters: i64,
    /// This version is the profile's latest.
    pub latest: bool,
    pub by_state: BTreeMap<String, i64>,
    pub by_project: Vec<ProjectCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_list: Option<Vec<ClusterBrief>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUsage {
    pub environment: String,
    pub uid: String,
    pub name: String,
    pub scope: String,
    pub project_uid: Option<String>,
    pub project_name: Option<String>,
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

/// Narrowing of the profile-usage queries (validated by the caller).
#[derive(Debug, Default, Clone)]
pub struct UsageQuery {
    /// Profiles of this project and the tenant; clusters of this project only.
    pub project_uid: Option<String>,
    pub profile_type: Option<String>,
    pub cloud_type: Option<String>,
    /// List the clusters under each version.
    pub clusters: bool,
}

/// One row per profile version.
#[derive(sqlx::FromRow)]
struct VersionRow {
    uid: String,
    name: String,
    scope: String,
    project_uid: Option<String>,
    project_name: Option<String>,
    profile_type: String,
    cloud_type: String,
    latest_version: String,
    version_uid: String,
    version: String,
}

pub const PROFILE_VERSIONS_SQL: &str =
    "SELECT p.uid, p.name, p.scope, p.project_uid, pr.name AS project_name, p.profile_type,
            p.cloud_type, p.version AS latest_version, pv.uid AS version_uid, pv.version
     FROM cluster_profiles p JOIN profile_versions pv ON pv.env = p.env AND pv.profile_uid = p.uid
     LEFT JOIN projects pr ON pr.env = p.env AND pr.uid = p.project_uid
     WHERE p.env = ?
       AND (? OR p.project_uid IN (SELECT value FROM json_each(?)) OR (p.project_uid IS NULL AND ?))
       AND (? IS NULL OR p.project_uid = ? OR p.project_uid IS NULL)
       AND (? IS NULL OR p.profile_type = ?) AND (? IS NULL OR p.cloud_type = ?)
     ORDER BY p.name, p.uid, pv.last_modified, pv.uid";

/// Clusters per version, state and project (with the project's name), grouped in SQLite.
#[derive(sqlx::FromRow)]
struct CountRow {
    version_uid: String,
    state: String,
    project_uid: Option<String>,
    project_name: Option<String>,
    clusters: i64,
}

pub const VERSION_COUNTS_SQL: &str = "SELECT r.profile_version_uid AS version_uid, c.state, c.project_uid,
            (SELECT pr.name FROM projects pr WHERE pr.env = c.env AND pr.uid = c.project_uid) AS project_name,
            count(*) AS clusters
     FROM cluster_profile_refs r JOIN clusters c ON c.env = r.env AND c.uid = r.cluster_uid
     WHERE r.env = ?
       AND (? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))
       AND (? IS NULL OR c.project_uid = ?)
     GROUP BY r.profile_version_uid, c.state, c.project_uid";

/// With `include=clusters`: every (version, cluster) pair instead of the groups.
#[derive(sqlx::FromRow)]
struct MemberRow {
    version_uid: String,
    uid: String,
    name: String,
    state: String,
    project_uid: Option<String>,
    project_name: Option<String>,
}

pub const VERSION_MEMBERS_SQL: &str =
    "SELECT r.profile_version_uid AS version_uid, c.uid, c.name, c.state, c.project_uid,
            pr.name AS project_name
     FROM cluster_profile_refs r JOIN clusters c ON c.env = r.env AND c.uid = r.cluster_uid
     LEFT JOIN projects pr ON pr.env = c.env AND pr.uid = c.project_uid
     WHERE r.env = ?
       AND (? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))
       AND (? IS NULL OR c.project_uid = ?)
     ORDER BY c.name, c.uid";

/// What the clusters on one version add up to.
#[derive(Default)]
struct Tally {
    clusters: i64,
    by_state: BTreeMap<String, i64>,
    by_project: BTreeMap<Option<String>, (Option<String>, i64)>,
    members: Vec<ClusterBrief>,
}

impl Tally {
    fn add(&mut self, state: &str, project: &Option<String>, name: &Option<String>, n: i64) {
        self.clusters += n;
        *self.by_state.entry(state.to_string()).or_default() += n;
        let e = self
            .by_project
            .entry(project.clone())
            .or_insert_with(|| (name.clone(), 0));
        e.1 += n;
    }

    fn projects(&self) -> Vec<ProjectCount> {
        let mut v: Vec<ProjectCount> = self
            .by_project
            .iter()
            .map(|(uid, (name, n))| ProjectCount {
                project_uid: uid.clone(),
                project_name: name.clone(),
                clusters: *n,
            })
            .collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.clusters));
        v
    }
}

/// Every visible profile with its clusters (those visible to the caller) per version, most
/// used first.
pub async fn profile_usage(
    db: &Db,
    env: &str,
    q: &UsageQuery,
    profiles: &Filter,
    clusters: &Filter,
) -> Result<Vec<ProfileUsage>, sqlx::Error> {
    let rows: Vec<VersionRow> = sqlx::query_as(PROFILE_VERSIONS_SQL)
        .bind(env)
        .visible_to(profiles)
        .bind(&q.project_uid)
        .bind(&q.project_uid)
        .bind(&q.profile_type)
        .bind(&q.profile_type)
        .bind(&q.cloud_type)
        .bind(&q.cloud_type)
        .fetch_all(&db.reader)
        .await?;
    let tallies = version_tallies(db, env, q, clusters).await?;
    Ok(assemble(env, rows, tallies, q.clusters))
}

/// Rows of `sql` (members or counts per version) for the clusters `f` lets the caller see.
async fn version_rows<R>(
    db: &Db,
    sql: &'static str,
    env: &str,
    q: &UsageQuery,
    f: &Filter,
) -> Result<Vec<R>, sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    sqlx::query_as(sql)
        .bind(env)
        .visible_to(f)
        .bind(&q.project_uid)
        .bind(&q.project_uid)
        .fetch_all(&db.reader)
        .await
}

async fn version_tallies(
    db: &Db,
    env: &str,
    q: &UsageQuery,
    f: &Filter,
) -> Result<HashMap<String, Tally>, sqlx::Error> {
    let mut tallies: HashMap<String, Tally> = HashMap::new();
    if q.clusters {
        let rows: Vec<MemberRow> = version_rows(db, VERSION_MEMBERS_SQL, env, q, f).await?;
        for r in rows {
            let t = tallies.entry(r.version_uid).or_default();
            t.add(&r.state, &r.project_uid, &r.project_name, 1);
            t.members.push(ClusterBrief {
                uid: r.uid,
                name: r.name,
                project_uid: r.project_uid,
                state: r.state,
            });
        }
    } else {
        let rows: Vec<CountRow> = version_rows(db, VERSION_COUNTS_SQL, env, q, f).await?;
        for r in rows {
            let t = tallies.entry(r.version_uid).or_default();
            t.add(&r.state, &r.project_uid, &r.project_name, r.clusters);
        }
    }
    Ok(tallies)
}

/// Folds version rows (ordered by profile) and per-version tallies into profiles.
fn assemble(
    env: &str,
    rows: Vec<VersionRow>,
    mut tallies: HashMap<String, Tally>,
    with_members: bool,
) -> Vec<ProfileUsage> {
    let mut out: Vec<ProfileUsage> = Vec::new();
    for r in rows {
        let latest = r.version == r.latest_version;
        let t = tallies.remove(&r.version_uid).unwrap_or_default();
        let version = VersionUsage {
            by_project: t.projects(),
            uid: r.version_uid,
            version: r.version,
            clusters: t.clusters,
            latest,
            by_state: t.by_state,
            cluster_list: with_members.then_some(t.members),
        };
        let behind = if latest { 0 } else { version.clusters };
        match out.last_mut() {
            Some(p) if p.uid == r.uid => {
                p.clusters += version.clusters;
                p.upgrade_backlog += behind;
                p.unused = p.clusters == 0;
                p.versions.push(version);
            }
            _ => out.push(ProfileUsage {
                environment: env.to_string(),
                uid: r.uid,
                name: r.name,
                scope: r.scope,
                project_uid: r.project_uid,
                project_name: r.project_name,
                profile_type: r.profile_type,
                cloud_type: r.cloud_type,
                latest_version: r.latest_version,
                clusters: version.clusters,
                upgrade_backlog: behind,
                unused: version.clusters == 0,
                versions: vec![version],
            }),
        }
    }
    out.sort_by(|a, b| {
        b.clusters
            .cmp(&a.clusters)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// Clusters on one version of one pack.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackUsage {
    pub name: String,
    /// The pack's tag (its version as profiles name it).
    pub tag: String,
    pub version: String,
    pub layer: String,
    pub clusters: i64,
    /// Listed when the report is narrowed to one pack (`name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_uids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_list: Option<Vec<ClusterBrief>>,
}

/// Narrowing of the pack-usage report.
#[derive(Debug, Default, Clone)]
pub struct PackQuery {
    pub name: Option<String>,
    /// Exact tag.
    pub tag: Option<String>,
    /// Version prefix at a dot boundary: `1.29` takes `1.29` and `1.29.4`, not `1.290`.
    pub version: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PackRow {
    name: String,
    tag: String,
    layer: String,
    uid: String,
    cluster_name: String,
    state: String,
    project_uid: Option<String>,
}

/// The packs, tags and clusters the pack-usage report reads: `name`, `tag`, `version` prefix
/// filters and the caller's visibility. Binds: env, name ×2, tag ×2, version ×6, visibility.
macro_rules! pack_usage_from {
    () => {
        concat!(
            " FROM cluster_packs k JOIN clusters c ON c.env = k.env AND c.uid = k.cluster_uid
     WHERE k.env = ? AND (? IS NULL OR k.name = ?)
       AND (? IS NULL OR coalesce(nullif(k.tag, ''), k.version) = ?)
       AND (? IS NULL OR coalesce(nullif(k.tag, ''), k.version) = ?
            OR substr(coalesce(nullif(k.tag, ''), k.version), 1, length(?) + 1) IN (? || '.', ? || '-', ? || '+'))
       AND ",
            "(? OR c.project_uid IN (SELECT value FROM json_each(?)) OR (c.project_uid IS NULL AND ?))"
        )
    };
}

/// With `name`: one row per (pack, tag, cluster), so the cluster lists come from the same
/// query as the counts.
pub const PACK_USAGE_SQL: &str = concat!(
    "SELECT k.name, coalesce(nullif(k.tag, ''), k.version) AS tag, max(k.layer) AS layer,
            c.uid, c.name AS cluster_name, c.state, c.project_uid",
    pack_usage_from!(),
    " GROUP BY k.name, coalesce(nullif(k.tag, ''), k.version), c.uid
     ORDER BY k.name, 2, c.name, c.uid"
);

/// Without `name`: the counts per (pack, tag) alone, grouped in SQLite (every pack of every
/// cluster is ~60,000 rows at 10,000 clusters; the answer is a few dozen).
pub const PACK_COUNTS_SQL: &str = concat!(
    "SELECT k.name, coalesce(nullif(k.tag, ''), k.version) AS tag, max(k.layer) AS layer,
            count(DISTINCT c.uid) AS clusters",
    pack_usage_from!(),
    " GROUP BY k.name, coalesce(nullif(k.tag, ''), k.version)"
);

#[derive(sqlx::FromRow)]
struct PackCountRow {
    name: String,
    tag: String,
    layer: String,
    clusters: i64,
}

/// Clusters per (pack, tag), most used first; with `name` also the clusters themselves.
pub async fn pack_usage(
    db: &Db,
    env: &str,
    q: &PackQuery,
    clusters: &Filter,
) -> Result<Vec<PackUsage>, sqlx::Error> {
    let mut out = match q.name {
        Some(_) => pack_members(db, env, q, clusters).await?,
        None => pack_counts(db, env, q, clusters).await?,
    };
    out.sort_by(|a, b| {
        b.clusters
            .cmp(&a.clusters)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    Ok(out)
}

/// Rows of `sql` with the pack-usage filters bound.
async fn pack_rows<R>(
    db: &Db,
    sql: &'static str,
    env: &str,
    q: &PackQuery,
    f: &Filter,
) -> Result<Vec<R>, sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let v = &q.version;
    let query = sqlx::query_as(sql).bind(env).bind(&q.name).bind(&q.name);
    let query = query.bind(&q.tag).bind(&q.tag);
    let query = query.bind(v).bind(v).bind(v).bind(v).bind(v).bind(v);
    query.visible_to(f).fetch_all(&db.reader).await
}

async fn pack_counts(
    db: &Db,
    env: &str,
    q: &PackQuery,
    f: &Filter,
) -> Result<Vec<PackUsage>, sqlx::Error> {
    let rows: Vec<PackCountRow> = pack_rows(db, PACK_COUNTS_SQL, env, q, f).await?;
    Ok(rows
        .into_iter()
        .map(|r| PackUsage {
            name: r.name,
            version: r.tag.clone(),
            tag: r.tag,
            layer: r.layer,
            clusters: r.clusters,
            cluster_uids: None,
            cluster_list: None,
        })
        .collect())
}

/// One pack's tags with their clusters (rows ordered by pack, tag, cluster name).
async fn pack_members(
    db: &Db,
    env: &str,
    q: &PackQuery,
    f: &Filter,
) -> Result<Vec<PackUsage>, sqlx::Error> {
    let rows: Vec<PackRow> = pack_rows(db, PACK_USAGE_SQL, env, q, f).await?;
    let mut out: Vec<PackUsage> = Vec::new();
    for r in rows {
        let brief = ClusterBrief {
            uid: r.uid,
            name: r.cluster_name,
            project_uid: r.project_uid,
            state: r.state,
        };
        match out.last_mut() {
            Some(p) if p.name == r.name && p.tag == r.tag => {
                p.clusters += 1;
                push_member(p, brief);
            }
            _ => {
                let mut p = PackUsage {
                    name: r.name,
                    version: r.tag.clone(),
                    tag: r.tag,
                    layer: r.layer,
                    clusters: 1,
                    cluster_uids: Some(Vec::new()),
                    cluster_list: Some(Vec::new()),
                };
                push_member(&mut p, brief);
                out.push(p);
            }
        }
    }
    for p in &mut out {
        if let Some(u) = &mut p.cluster_uids {
            u.sort();
        }
    }
    Ok(out)
}

fn push_member(p: &mut PackUsage, c: ClusterBrief) {
    if let Some(u) = &mut p.cluster_uids {
        u.push(c.uid.clone());
    }
    if let Some(l) = &mut p.cluster_list {
        l.push(c);
    }
}

/// Clusters of one environment per state, health, cloud type, kubernetes version, project.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetCounts {
    pub clusters: i64,
    pub by_state: BTreeMap<String, i64>,
    pub by_health: BTreeMap<String, i64>,
    pub by_cloud_type: BTreeMap<String, i64>,
    pub by_kubernetes_version: BTreeMap<String, i64>,
    pub by_project: Vec<ProjectCount>,
}

#[derive(sqlx::FromRow)]
struct FleetRow {
    state: String,
    health: Option<String>,
    cloud_type: String,
    kubernetes_version: Option<String>,
    project_uid: Option<String>,
    project_name: Option<String>,
    clusters: i64,
}

pub const FLEET_SQL: &str = "SELECT state, health, cloud_type, kubernetes_version, project_uid,
            (SELECT pr.name FROM projects pr WHERE pr.env = c.env AND pr.uid = c.project_uid) AS project_name,
            count(*) AS clusters
     FROM clusters c WHERE env = ?
       AND (? OR project_uid IN (SELECT value FROM json_each(?)) OR (project_uid IS NULL AND ?))
     GROUP BY state, health, cloud_type, kubernetes_version, project_uid";

/// Values a cluster has not reported (no details yet) count under this key.
pub const UNKNOWN: &str = "unknown";

/// The fleet of one environment as the caller may see it: one grouped query.
pub async fn fleet(db: &Db, env: &str, f: &Filter) -> Result<FleetCounts, sqlx::Error> {
    let rows: Vec<FleetRow> = sqlx::query_as(FLEET_SQL)
        .bind(env)
        .visible_to(f)
        .fetch_all(&db.reader)
        .await?;
    let mut out = FleetCounts::default();
    let mut projects = Tally::default();
    let key = |v: Option<String>| v.filter(|s| !s.is_empty()).unwrap_or(UNKNOWN.into());
    for r in rows {
        let n = r.clusters;
        out.clusters += n;
        *out.by_state.entry(key(Some(r.state.clone()))).or_default() += n;
        *out.by_health.entry(key(r.health)).or_default() += n;
        *out.by_cloud_type
            .entry(key(Some(r.cloud_type)))
            .or_default() += n;
        *out.by_kubernetes_version
            .entry(key(r.kubernetes_version))
            .or_default() += n;
        projects.add(&r.state, &r.project_uid, &r.project_name, n);
    }
    out.by_project = projects.projects();
    Ok(out)
}
