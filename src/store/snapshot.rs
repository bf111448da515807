//! Applying a sync run to the mirror, as [`Snapshot`]s: the run's listings first, then batches
//! of details as they arrive, then the rest with the deletions — each in one `BEGIN IMMEDIATE`
//! transaction, so readers never see half of one. Rows are deleted only for kinds whose listing
//! was complete.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use sqlx::QueryBuilder;

use super::Db;
use super::dialect::Dialect;
use super::writer::WriteTx;

/// Columns shared by every mirrored object.
#[derive(Debug, Clone)]
pub struct ObjectRow {
    pub uid: String,
    pub name: String,
    pub scope: String,
    pub project_uid: Option<String>,
    pub last_modified: String,
    /// Palette's JSON for this object, as text.
    pub json: String,
}

#[derive(Debug, Clone)]
pub struct ClusterRow {
    pub row: ObjectRow,
    pub cloud_type: String,
    pub state: String,
    /// The reverse index as the cluster search listed it; `None` when the listing left the
    /// cluster's packs out (its details then bring the index).
    pub index: Option<ClusterIndex>,
    /// `None`: unchanged since the last run; keep the stored details.
    pub detail: Option<ClusterDetail>,
}

#[derive(Debug, Clone)]
pub struct ClusterDetail {
    pub detail_json: String,
    pub profiles_json: String,
    pub index: ClusterIndex,
}

/// What the reverse index and the reports need of one cluster: its health, kubernetes version
/// and the profile versions it runs with their packs.
#[derive(Debug, Clone, Default)]
pub struct ClusterIndex {
    pub health: Option<String>,
    pub kubernetes_version: Option<String>,
    /// Shared between the clusters on the same profile version (a 100,000-cluster listing
    /// holds a few thousand distinct templates, not 100,000 copies).
    pub templates: Vec<Arc<Template>>,
}

/// One profile version a cluster runs, with that version's packs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub reference: ProfileRef,
    pub packs: Vec<ClusterPack>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRef {
    pub version_uid: String,
    pub name: String,
    pub version: String,
    pub profile_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPack {
    pub version_uid: String,
    pub name: String,
    pub tag: String,
    pub version: String,
    pub layer: String,
}

#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub row: ObjectRow,
    pub profile_type: String,
    pub cloud_type: String,
    pub version: String,
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub uid: String,
    /// The uid the profile is listed under now.
    pub profile_uid: String,
    /// What the profile listing says of this version: written when the mirror has no row
    /// for it yet, so a listed profile answers before its versions' details arrive.
    pub listed: Option<VersionListed>,
    /// `None`: unchanged; keep the stored detail, packs and variables.
    pub detail: Option<VersionDetail>,
}

/// A profile version's columns (the profile listing gives them too, without the JSON).
#[derive(Debug, Clone)]
pub struct VersionListed {
    pub name: String,
    pub version: String,
    pub scope: String,
    pub project_uid: Option<String>,
    pub profile_type: String,
    pub cloud_type: String,
    pub last_modified: String,
}

#[derive(Debug, Clone)]
pub struct VersionDetail {
    /// Its columns, as its details give them.
    pub columns: VersionListed,
    pub json: String,
    pub packs: Vec<PackRow>,
    pub variables_json: String,
}

#[derive(Debug, Clone)]
pub struct PackRow {
    pub name: String,
    pub tag: String,
    pub version: String,
    pub layer: String,
    pub pack_type: String,
    pub pack_uid: String,
}

#[derive(Debug, Clone)]
pub struct VirtualRow {
    pub row: ObjectRow,
    pub state: String,
    pub host_cluster_uid: Option<String>,
    pub cluster_group_uid: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AccountRow {
    pub cloud_type: String,
    pub row: ObjectRow,
}

#[derive(Debug, Clone)]
pub struct OverlordRow {
    pub row: ObjectRow,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub row: ObjectRow,
    /// `None`: unchanged; keep the stored detail.
    pub detail_json: Option<String>,
}

/// Rows of one kind and whether the listing behind them was complete.
#[derive(Debug, Clone)]
pub struct Part<T> {
    pub rows: Vec<T>,
    pub complete: bool,
    /// Listed objects written by earlier batches of the same run: present, not rewritten.
    pub applied: Vec<String>,
}

impl<T> Part<T> {
    pub fn new(rows: Vec<T>, complete: bool) -> Self {
        Part {
            rows,
            complete,
            applied: Vec::new(),
        }
    }
}

impl<T> Default for Part<T> {
    fn default() -> Self {
        Part::new(Vec::new(), true)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub projects: Part<ObjectRow>,
    pub clusters: Part<ClusterRow>,
    pub profiles: Part<ProfileRow>,
    pub versions: Part<VersionRow>,
    pub virtual_clusters: Part<VirtualRow>,
    pub cloud_accounts: Part<AccountRow>,
    pub overlords: Part<OverlordRow>,
    pub cluster_groups: Part<GroupRow>,
}

impl Snapshot {
    /// No rows of any kind, every listing incomplete: a batch adds the rows of one kind.
    pub fn nothing() -> Snapshot {
        Snapshot {
            projects: Part::new(Vec::new(), false),
            clusters: Part::new(Vec::new(), false),
            profiles: Part::new(Vec::new(), false),
            versions: Part::new(Vec::new(), false),
            virtual_clusters: Part::new(Vec::new(), false),
            cloud_accounts: Part::new(Vec::new(), false),
            overlords: Part::new(Vec::new(), false),
            cluster_groups: Part::new(Vec::new(), false),
        }
    }
}

impl Snapshot {
    /// Whether each kind's listing was complete, in a fixed order.
    pub fn completeness(&self) -> [bool; 8] {
        [
            self.projects.complete,
            self.clusters.complete,
            self.profiles.complete,
            self.versions.complete,
            self.virtual_clusters.complete,
            self.cloud_accounts.complete,
            self.overlords.complete,
            self.cluster_groups.complete,
        ]
    }

    pub fn set_completeness(&mut self, c: [bool; 8]) {
        self.projects.complete = c[0];
        self.clusters.complete = c[1];
        self.profiles.complete = c[2];
        self.versions.complete = c[3];
        self.virtual_clusters.complete = c[4];
        self.cloud_accounts.complete = c[5];
        self.overlords.complete = c[6];
        self.cluster_groups.complete = c[7];
    }
}

/// Clusters of `env` whose reverse index is not in yet (their listing left packs out and their
/// details have not arrived).
pub async fn unindexed_in(tx: &mut WriteTx, env: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = on!(tx, |conn, dl| {
        sqlx::query_scalar(sql!(dl, UNINDEXED_SQL))
            .bind(env)
            .fetch_one(&mut *conn)
            .await
    })?;
    Ok(n.max(0) as u64)
}

const UNINDEXED_SQL: &str = "SELECT count(*) FROM clusters WHERE env = ? AND indexed = 0";

/// [`unindexed_in`] outside a transaction.
pub async fn unindexed(db: &Db, env: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, UNINDEXED_SQL))
            .bind(env)
            .fetch_one(p)
            .await
    })?;
    Ok(n.max(0) as u64)
}

#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct KindCounts {
    pub seen: u64,
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
}

/// Per kind ("clusters", "profiles", ...) what a run saw and changed.
pub type Counts = BTreeMap<String, KindCounts>;

#[derive(Debug, Clone)]
pub struct KnownCluster {
    /// As the mirror lists it now.
    pub last_modified: String,
    pub state: String,
    /// The listing its stored details were fetched for: behind `last_modified`/`state` when
    /// a run applied a newer listing without the details (it died, or they were refused).
    pub detail_modified: String,
    pub detail_state: String,
    /// When its details were last written; `None` = no details yet.
    pub detail_at: Option<String>,
    /// Its reverse index is in (from a listing or its details).
    pub indexed: bool,
}

#[derive(Debug, Clone)]
pub struct KnownVersion {
    pub profile_uid: String,
    pub last_modified: String,
    pub synced_at: String,
    /// Its details are in (a row written from the listing alone has none).
    pub detailed: bool,
}

/// What the mirror holds now, for change detection.
#[derive(Debug, Default)]
pub struct Known {
    pub clusters: HashMap<String, KnownCluster>,
    pub versions: HashMap<String, KnownVersion>,
    pub profiles: HashMap<String, String>,
    /// uid → (last modified, has detail)
    pub groups: HashMap<String, (String, bool)>,
    /// uid → (last modified, state)
    pub virtual_clusters: HashMap<String, (String, String)>,
    pub projects: HashMap<String, String>,
    /// "cloud/uid" → last modified
    pub accounts: HashMap<String, String>,
    pub overlords: HashMap<String, String>,
}

/// One stored object's uid and last-modified time.
#[derive(sqlx::FromRow)]
struct Stamp {
    uid: String,
    last_modified: String,
}

#[derive(sqlx::FromRow)]
struct KnownClusterRow {
    uid: String,
    last_modified: String,
    state: String,
    detail_modified: String,
    detail_state: String,
    detail_at: Option<String>,
    indexed: bool,
}

#[derive(sqlx::FromRow)]
struct KnownVersionRow {
    uid: String,
    profile_uid: String,
    last_modified: String,
    synced_at: String,
    detailed: bool,
}

#[derive(sqlx::FromRow)]
struct KnownGroupRow {
    uid: String,
    last_modified: String,
    detailed: bool,
}

#[derive(sqlx::FromRow)]
struct KnownVirtualRow {
    uid: String,
    last_modified: String,
    state: String,
}

/// uid → last modified.
fn stamps(rows: Vec<Stamp>) -> HashMap<String, String> {
    rows.into_iter().map(|s| (s.uid, s.last_modified)).collect()
}

pub async fn known(db: &Db, env: &str) -> Result<Known, sqlx::Error> {
    read!(db, |p, d| {
        // Every row of a query with one `env` parameter, read into a row type.
        macro_rules! rows {
            ($t:ty, $sql:expr) => {
                sqlx::query_as::<_, $t>(sql!(d, $sql))
                    .bind(env)
                    .fetch_all(p)
                    .await?
            };
        }
        let clusters = rows!(
            KnownClusterRow,
            "SELECT c.uid, c.last_modified, c.state,
                COALESCE(d.listed_modified, c.last_modified) AS detail_modified,
                COALESCE(d.listed_state, c.state) AS detail_state, d.synced_at AS detail_at,
                c.indexed <> 0 AS indexed
         FROM clusters c LEFT JOIN cluster_details d ON d.env = c.env AND d.uid = c.uid
         WHERE c.env = ?"
        )
        .into_iter()
        .map(|c| {
            let k = KnownCluster {
                last_modified: c.last_modified,
                state: c.state,
                detail_modified: c.detail_modified,
                detail_state: c.detail_state,
                detail_at: c.detail_at,
                indexed: c.indexed,
            };
            (c.uid, k)
        })
        .collect();
        let versions = rows!(
            KnownVersionRow,
            "SELECT uid, profile_uid, last_modified, synced_at, json <> '' AS detailed
         FROM profile_versions WHERE env = ?"
        )
        .into_iter()
        .map(|v| {
            let k = KnownVersion {
                profile_uid: v.profile_uid,
                last_modified: v.last_modified,
                synced_at: v.synced_at,
                detailed: v.detailed,
            };
            (v.uid, k)
        })
        .collect();
        let groups = rows!(
            KnownGroupRow,
            "SELECT uid, last_modified, detail_json IS NOT NULL AS detailed
         FROM cluster_groups WHERE env = ?"
        )
        .into_iter()
        .map(|g| (g.uid, (g.last_modified, g.detailed)))
        .collect();
        let virtual_clusters = rows!(
            KnownVirtualRow,
            "SELECT uid, last_modified, state FROM virtual_clusters WHERE env = ?"
        )
        .into_iter()
        .map(|v| (v.uid, (v.last_modified, v.state)))
        .collect();
        Ok(Known {
            clusters,
            versions,
            groups,
            virtual_clusters,
            profiles: stamps(rows!(
                Stamp,
                "SELECT uid, last_modified FROM cluster_profiles WHERE env = ?"
            )),
            projects: stamps(rows!(
                Stamp,
                "SELECT uid, last_modified FROM projects WHERE env = ?"
            )),
            accounts: stamps(rows!(
                Stamp,
                "SELECT cloud_type || '/' || uid AS uid, last_modified FROM cloud_accounts WHERE env = ?"
            )),
            overlords: stamps(rows!(
                Stamp,
                "SELECT uid, last_modified FROM overlords WHERE env = ?"
            )),
        })
    })
}

/// Counts added/changed for one object against what was known.
fn tally(c: &mut KindCounts, known: Option<bool>) {
    c.seen += 1;
    match known {
        None => c.added += 1,
        Some(true) => c.changed += 1,
        Some(false) => {}
    }
}

/// Deletes the objects of `table` known before this run that a complete listing no longer
/// has (neither in this part nor applied by an earlier batch of the same run).
async fn delete_unlisted<'p, T>(
    tx: &mut WriteTx,
    table: &'static str,
    env: &str,
    known: impl Iterator<Item = &String>,
    part: &'p Part<T>,
    uid_of: impl Fn(&'p T) -> &'p str,
) -> Result<u64, sqlx::Error> {
    if !part.complete {
        return Ok(0);
    }
    let applied = part.applied.iter().map(String::as_str);
    let present: HashSet<&str> = part.rows.iter().map(uid_of).chain(applied).collect();
    let sql = format!("DELETE FROM {table} WHERE env = ? AND uid = ?");
    let mut n = 0;
    for uid in known.filter(|u| !present.contains(u.as_str())) {
        n += on!(tx, |conn, dl| {
            sqlx::query(sqlx::AssertSqlSafe(dl.text(&sql)))
                .bind(env)
                .bind(uid)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(n)
}

/// Rows bound per multi-row statement: per-statement overhead dominates a cold sync otherwise.
const ROWS_PER_STATEMENT: usize = 100;

/// `DELETE FROM {table} WHERE env = ? AND {column} IN (...)`, in chunks.
async fn delete_in(
    tx: &mut WriteTx,
    table: &'static str,
    column: &'static str,
    env: &str,
    keys: &[&str],
) -> Result<(), sqlx::Error> {
    for chunk in keys.chunks(500) {
        on!(tx, |conn, dl| {
            let mut qb = QueryBuilder::new(format!("DELETE FROM {table} WHERE env = "));
            qb.push_bind(env);
            qb.push(format!(" AND {column} IN ("));
            let mut list = qb.separated(", ");
            for k in chunk {
                list.push_bind(*k);
            }
            list.push_unseparated(")");
            qb.build().execute(&mut *conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// Adds `counts` into `total`, kind by kind.
pub fn add_counts(total: &mut Counts, counts: &Counts) {
    for (kind, c) in counts {
        let t = total.entry(kind.clone()).or_default();
        t.seen += c.seen;
        t.added += c.added;
        t.changed += c.changed;
        t.deleted += c.deleted;
    }
}

/// Applies a snapshot (or one batch of a run) inside the caller's write transaction (a run's
/// fenced one, see `leases::begin_fenced`); returns what changed per kind.
pub async fn apply_in(
    tx: &mut WriteTx,
    env: &str,
    snap: &Snapshot,
    known: &Known,
    now: &str,
) -> Result<Counts, sqlx::Error> {
    let mut counts = Counts::new();
    counts.insert(
        "projects".into(),
        apply_projects(tx, env, &snap.projects, known, now).await?,
    );
    counts.insert(
        "profiles".into(),
        apply_profiles(tx, env, &snap.profiles, known, now).await?,
    );
    counts.insert(
        "profile_versions".into(),
        apply_versions(tx, env, &snap.versions, known, now).await?,
    );
    counts.insert(
        "clusters".into(),
        apply_clusters(tx, env, &snap.clusters, known, now).await?,
    );
    counts.insert(
        "virtual_clusters".into(),
        apply_virtual_clusters(tx, env, &snap.virtual_clusters, known, now).await?,
    );
    counts.insert(
        "cloud_accounts".into(),
        apply_cloud_accounts(tx, env, &snap.cloud_accounts, known, now).await?,
    );
    counts.insert(
        "overlords".into(),
        apply_overlords(tx, env, &snap.overlords, known, now).await?,
    );
    counts.insert(
        "cluster_groups".into(),
        apply_cluster_groups(tx, env, &snap.cluster_groups, known, now).await?,
    );
    Ok(counts)
}

/// Projects (few: always rewritten).
async fn apply_projects(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<ObjectRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    for p in &part.rows {
        tally(
            &mut c,
            known.projects.get(&p.uid).map(|lm| *lm != p.last_modified),
        );
        on!(tx, |conn, dl| {
            sqlx::query(sql!(dl, "INSERT INTO projects (env, uid, name, last_modified, json, synced_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, uid) DO UPDATE SET name = excluded.name, last_modified = excluded.last_modified,
                json = excluded.json, synced_at = excluded.synced_at"))
        .bind(env).bind(&p.uid).bind(&p.name).bind(&p.last_modified).bind(&p.json).bind(now)
        .execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
    }
    c.deleted = delete_unlisted(tx, "projects", env, known.projects.keys(), part, |p| {
        p.uid.as_str()
    })
    .await?;
    Ok(c)
}

/// Profiles as listed.
async fn apply_profiles(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<ProfileRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    for p in &part.rows {
        let k = known.profiles.get(&p.row.uid);
        let changed = k.map(|lm| *lm != p.row.last_modified);
        tally(&mut c, changed);
        if changed == Some(false) {
            continue;
        }
        on!(tx, |conn, dl| {
            sqlx::query(sql!(dl, "INSERT INTO cluster_profiles (env, uid, name, scope, project_uid, profile_type, cloud_type, version,
                last_modified, list_json, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, uid) DO UPDATE SET name = excluded.name, scope = excluded.scope,
                project_uid = excluded.project_uid, profile_type = excluded.profile_type,
                cloud_type = excluded.cloud_type, version = excluded.version,
                last_modified = excluded.last_modified, list_json = excluded.list_json,
                synced_at = excluded.synced_at"))
        .bind(env).bind(&p.row.uid).bind(&p.row.name).bind(&p.row.scope).bind(&p.row.project_uid)
        .bind(&p.profile_type).bind(&p.cloud_type).bind(&p.version).bind(&p.row.last_modified)
        .bind(&p.row.json).bind(now)
        .execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
    }
    c.deleted = delete_unlisted(
        tx,
        "cluster_profiles",
        env,
        known.profiles.keys(),
        part,
        |p| p.row.uid.as_str(),
    )
    .await?;
    Ok(c)
}

/// Every profile version (batched: a cold sync writes thousands).
async fn apply_versions(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<VersionRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    let mut detailed: Vec<(&VersionRow, &VersionDetail)> = Vec::new();
    let mut listed: Vec<(&VersionRow, &VersionListed)> = Vec::new();
    for v in &part.rows {
        let k = known.versions.get(&v.uid);
        match (&v.detail, &v.listed) {
            (Some(d), _) => {
                tally(&mut c, k.map(|_| true));
                detailed.push((v, d));
            }
            (None, Some(l)) if k.is_none() => {
                tally(&mut c, None);
                listed.push((v, l));
            }
            (None, _) => {
                tally(&mut c, Some(false));
                // The profile may now be listed under a newer uid.
                if k.is_some_and(|k| k.profile_uid != v.profile_uid) {
                    on!(tx, |conn, dl| {
                        sqlx::query(sql!(
                            dl,
                            "UPDATE profile_versions SET profile_uid = ? WHERE env = ? AND uid = ?"
                        ))
                        .bind(&v.profile_uid)
                        .bind(env)
                        .bind(&v.uid)
                        .execute(&mut *conn)
                        .await
                        .map(|r| r.rows_affected())
                    })?;
                }
            }
        }
    }
    let refetched: Vec<&str> = detailed
        .iter()
        .filter(|(v, _)| known.versions.contains_key(&v.uid))
        .map(|(v, _)| v.uid.as_str())
        .collect();
    write_listed_versions(tx, env, &listed, now).await?;
    write_versions(tx, env, &detailed, now).await?;
    write_version_contents(tx, env, &detailed, &refetched).await?;
    c.deleted = delete_unlisted(
        tx,
        "profile_versions",
        env,
        known.versions.keys(),
        part,
        |v| v.uid.as_str(),
    )
    .await?;
    Ok(c)
}

/// Clusters, their details and the reverse index (batched: a cold sync writes 10k+).
async fn apply_clusters(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<ClusterRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    let mut writes: Vec<&ClusterRow> = Vec::new();
    for cl in &part.rows {
        let k = known.clusters.get(&cl.row.uid);
        let list_changed =
            k.map(|k| k.last_modified != cl.row.last_modified || k.state != cl.state);
        tally(&mut c, list_changed.map(|ch| ch || cl.detail.is_some()));
        let index_missing = cl.index.is_some() && k.is_some_and(|k| !k.indexed);
        if list_changed != Some(false) || cl.detail.is_some() || index_missing {
            writes.push(cl);
        }
    }
    write_clusters(tx, env, &writes, now).await?;
    let with_detail: Vec<DetailWrite> = writes
        .iter()
        .filter_map(|cl| {
            cl.detail.as_ref().map(|detail| DetailWrite {
                uid: &cl.row.uid,
                listed_modified: &cl.row.last_modified,
                listed_state: &cl.state,
                detail,
            })
        })
        .collect();
    write_cluster_details(tx, env, &with_detail, now).await?;
    // The index of each written cluster: its details', else its listing's.
    let indexed: Vec<(&str, &ClusterIndex)> = writes
        .iter()
        .filter_map(|cl| {
            let index = cl.detail.as_ref().map(|d| &d.index).or(cl.index.as_ref());
            index.map(|i| (cl.row.uid.as_str(), i))
        })
        .collect();
    let replaced: Vec<&str> = indexed
        .iter()
        .filter(|(uid, _)| known.clusters.contains_key(*uid))
        .map(|(uid, _)| *uid)
        .collect();
    write_cluster_index(tx, env, &indexed, &replaced).await?;
    c.deleted = delete_unlisted(tx, "clusters", env, known.clusters.keys(), part, |c| {
        c.row.uid.as_str()
    })
    .await?;
    Ok(c)
}

/// Virtual clusters as listed.
async fn apply_virtual_clusters(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<VirtualRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    for v in &part.rows {
        let changed = known
            .virtual_clusters
            .get(&v.row.uid)
            .map(|(lm, st)| *lm != v.row.last_modified || *st != v.state);
        tally(&mut c, changed);
        if changed == Some(false) {
            continue;
        }
        on!(tx, |conn, dl| {
            sqlx::query(sql!(dl, "INSERT INTO virtual_clusters (env, uid, name, scope, project_uid, state, host_cluster_uid,
                cluster_group_uid, last_modified, list_json, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, uid) DO UPDATE SET name = excluded.name, scope = excluded.scope,
                project_uid = excluded.project_uid, state = excluded.state,
                host_cluster_uid = excluded.host_cluster_uid, cluster_group_uid = excluded.cluster_group_uid,
                last_modified = excluded.last_modified, list_json = excluded.list_json, synced_at = excluded.synced_at"))
        .bind(env).bind(&v.row.uid).bind(&v.row.name).bind(&v.row.scope).bind(&v.row.project_uid)
        .bind(&v.state).bind(&v.host_cluster_uid).bind(&v.cluster_group_uid).bind(&v.row.last_modified)
        .bind(&v.row.json).bind(now)
        .execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
    }
    c.deleted = delete_unlisted(
        tx,
        "virtual_clusters",
        env,
        known.virtual_clusters.keys(),
        part,
        |v| v.row.uid.as_str(),
    )
    .await?;
    Ok(c)
}

/// Cloud accounts (few: always rewritten; secrets were stripped by the run).
async fn apply_cloud_accounts(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<AccountRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    for a in &part.rows {
        let key = format!("{}/{}", a.cloud_type, a.row.uid);
        tally(
            &mut c,
            known
                .accounts
                .get(&key)
                .map(|lm| *lm != a.row.last_modified),
        );
        on!(tx, |conn, dl| {
            sqlx::query(sql!(dl, "INSERT INTO cloud_accounts (env, cloud_type, uid, name, scope, project_uid, last_modified, json, synced_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, cloud_type, uid) DO UPDATE SET name = excluded.name, scope = excluded.scope,
                project_uid = excluded.project_uid, last_modified = excluded.last_modified,
                json = excluded.json, synced_at = excluded.synced_at"))
        .bind(env).bind(&a.cloud_type).bind(&a.row.uid).bind(&a.row.name).bind(&a.row.scope)
        .bind(&a.row.project_uid).bind(&a.row.last_modified).bind(&a.row.json).bind(now)
        .execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
    }
    if part.complete {
        let present: HashSet<String> = part
            .rows
            .iter()
            .map(|a| format!("{}/{}", a.cloud_type, a.row.uid))
            .collect();
        for key in known.accounts.keys().filter(|k| !present.contains(*k)) {
            if let Some((cloud, uid)) = key.split_once('/') {
                c.deleted += on!(tx, |conn, dl| {
                    sqlx::query(sql!(
                        dl,
                        "DELETE FROM cloud_accounts WHERE env = ? AND cloud_type = ? AND uid = ?"
                    ))
                    .bind(env)
                    .bind(cloud)
                    .bind(uid)
                    .execute(&mut *conn)
                    .await
                    .map(|r| r.rows_affected())
                })?;
            }
        }
    }
    Ok(c)
}

/// Overlords (few: always rewritten).
async fn apply_overlords(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<OverlordRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    for o in &part.rows {
        tally(
            &mut c,
            known
                .overlords
                .get(&o.row.uid)
                .map(|lm| *lm != o.row.last_modified),
        );
        on!(tx, |conn, dl| {
            sqlx::query(sql!(dl, "INSERT INTO overlords (env, uid, name, kind, scope, project_uid, last_modified, json, synced_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, uid) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                scope = excluded.scope, project_uid = excluded.project_uid,
                last_modified = excluded.last_modified, json = excluded.json, synced_at = excluded.synced_at"))
        .bind(env).bind(&o.row.uid).bind(&o.row.name).bind(&o.kind).bind(&o.row.scope)
        .bind(&o.row.project_uid).bind(&o.row.last_modified).bind(&o.row.json).bind(now)
        .execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
    }
    c.deleted = delete_unlisted(tx, "overlords", env, known.overlords.keys(), part, |o| {
        o.row.uid.as_str()
    })
    .await?;
    Ok(c)
}

/// Cluster groups.
async fn apply_cluster_groups(
    tx: &mut WriteTx,
    env: &str,
    part: &Part<GroupRow>,
    known: &Known,
    now: &str,
) -> Result<KindCounts, sqlx::Error> {
    let mut c = KindCounts::default();
    for g in &part.rows {
        let changed = known
            .groups
            .get(&g.row.uid)
            .map(|(lm, _)| *lm != g.row.last_modified);
        tally(&mut c, changed.map(|ch| ch || g.detail_json.is_some()));
        if changed == Some(false) && g.detail_json.is_none() {
            continue;
        }
        on!(tx, |conn, dl| {
            sqlx::query(sql!(dl, "INSERT INTO cluster_groups (env, uid, name, scope, project_uid, last_modified, list_json, synced_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, uid) DO UPDATE SET name = excluded.name, scope = excluded.scope,
                project_uid = excluded.project_uid, last_modified = excluded.last_modified,
                list_json = excluded.list_json, synced_at = excluded.synced_at"))
        .bind(env).bind(&g.row.uid).bind(&g.row.name).bind(&g.row.scope).bind(&g.row.project_uid)
        .bind(&g.row.last_modified).bind(&g.row.json).bind(now)
        .execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
        if let Some(d) = &g.detail_json {
            on!(tx, |conn, dl| {
                sqlx::query(sql!(
                    dl,
                    "UPDATE cluster_groups SET detail_json = ? WHERE env = ? AND uid = ?"
                ))
                .bind(d)
                .bind(env)
                .bind(&g.row.uid)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
            })?;
        }
    }
    c.deleted = delete_unlisted(tx, "cluster_groups", env, known.groups.keys(), part, |g| {
        g.row.uid.as_str()
    })
    .await?;
    Ok(c)
}

/// Profile version rows from the profile listing alone (`json` '' until details arrive); a row
/// that appeared meanwhile (a batch of details) is left as it is.
async fn write_listed_versions(
    tx: &mut WriteTx,
    env: &str,
    listed: &[(&VersionRow, &VersionListed)],
    now: &str,
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = listed.iter().map(|(v, l)| (*v, *l, "")).collect();
    insert_versions(tx, env, &rows, now, " ON CONFLICT (env, uid) DO NOTHING").await
}

/// Profile version rows with their new details.
async fn write_versions(
    tx: &mut WriteTx,
    env: &str,
    detailed: &[(&VersionRow, &VersionDetail)],
    now: &str,
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = detailed
        .iter()
        .map(|(v, d)| (*v, &d.columns, d.json.as_str()))
        .collect();
    insert_versions(
        tx,
        env,
        &rows,
        now,
        " ON CONFLICT (env, uid) DO UPDATE SET profile_uid = excluded.profile_uid,
            name = excluded.name, version = excluded.version, scope = excluded.scope,
            project_uid = excluded.project_uid, profile_type = excluded.profile_type,
            cloud_type = excluded.cloud_type, last_modified = excluded.last_modified,
            json = excluded.json, synced_at = excluded.synced_at",
    )
    .await
}

/// Profile version rows (columns and JSON text), `on_conflict` deciding what a row already
/// there keeps.
async fn insert_versions(
    tx: &mut WriteTx,
    env: &str,
    rows: &[(&VersionRow, &VersionListed, &str)],
    now: &str,
    on_conflict: &'static str,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        on!(tx, |conn, dl| {
            let mut qb = QueryBuilder::new(
            "INSERT INTO profile_versions (env, uid, profile_uid, name, version, scope, project_uid,
                profile_type, cloud_type, last_modified, json, synced_at) ",
        );
            qb.push_values(chunk, |mut b, (v, c, json)| {
                b.push_bind(env)
                    .push_bind(&v.uid)
                    .push_bind(&v.profile_uid)
                    .push_bind(&c.name)
                    .push_bind(&c.version)
                    .push_bind(&c.scope)
                    .push_bind(&c.project_uid)
                    .push_bind(&c.profile_type)
                    .push_bind(&c.cloud_type)
                    .push_bind(&c.last_modified)
                    .push_bind(*json)
                    .push_bind(now);
            });
            qb.push(on_conflict);
            qb.build().execute(&mut *conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// Packs and variables of versions with new details (`refetched`: those the mirror had).
async fn write_version_contents(
    tx: &mut WriteTx,
    env: &str,
    detailed: &[(&VersionRow, &VersionDetail)],
    refetched: &[&str],
) -> Result<(), sqlx::Error> {
    delete_in(&mut *tx, "profile_packs", "version_uid", env, refetched).await?;
    let packs: Vec<(&str, usize, &PackRow)> = detailed
        .iter()
        .flat_map(|(v, d)| {
            d.packs
                .iter()
                .enumerate()
                .map(move |(i, p)| (v.uid.as_str(), i, p))
        })
        .collect();
    for chunk in packs.chunks(ROWS_PER_STATEMENT) {
        on!(tx, |conn, dl| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO profile_packs (env, version_uid, position, name, tag, version, layer, pack_type, pack_uid) ",
            );
            qb.push_values(chunk, |mut b, (uid, i, p)| {
                b.push_bind(env)
                    .push_bind(*uid)
                    .push_bind(*i as i64)
                    .push_bind(&p.name)
                    .push_bind(&p.tag)
                    .push_bind(&p.version)
                    .push_bind(&p.layer)
                    .push_bind(&p.pack_type)
                    .push_bind(&p.pack_uid);
            });
            qb.build().execute(&mut *conn).await.map(drop)
        })?;
    }
    for chunk in detailed.chunks(ROWS_PER_STATEMENT) {
        on!(tx, |conn, dl| {
            let mut qb =
                QueryBuilder::new("INSERT INTO profile_variables (env, version_uid, json) ");
            qb.push_values(chunk, |mut b, (v, d)| {
                b.push_bind(env)
                    .push_bind(&v.uid)
                    .push_bind(&d.variables_json);
            });
            qb.push(" ON CONFLICT (env, version_uid) DO UPDATE SET json = excluded.json");
            qb.build().execute(&mut *conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// How a written cluster row sets its health, kubernetes version and `indexed`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IndexFrom {
    /// Its new details: health, version and index from them.
    Detail,
    /// Its listing: health from it; the version only while the mirror has no details (they
    /// know the running version, the listing only the pack's).
    Listing,
    /// Neither (its listing left packs out): the stored values stay; a changed or new cluster
    /// waits for its details to be indexed.
    Nothing,
}

impl IndexFrom {
    fn of(cl: &ClusterRow) -> IndexFrom {
        match (&cl.detail, &cl.index) {
            (Some(_), _) => IndexFrom::Detail,
            (None, Some(_)) => IndexFrom::Listing,
            (None, None) => IndexFrom::Nothing,
        }
    }

    fn on_conflict(self) -> &'static str {
        match self {
            IndexFrom::Detail => {
                ", health = excluded.health, kubernetes_version = excluded.kubernetes_version, indexed = 1"
            }
            IndexFrom::Listing => {
                ", health = excluded.health, indexed = 1,
                   kubernetes_version = CASE WHEN EXISTS (SELECT 1 FROM cluster_details d
                       WHERE d.env = excluded.env AND d.uid = excluded.uid)
                     THEN clusters.kubernetes_version ELSE excluded.kubernetes_version END"
            }
            // A changed cluster's stored index may be out of date: it waits for its details.
            IndexFrom::Nothing => {
                ", indexed = CASE WHEN clusters.last_modified = excluded.last_modified
                     AND clusters.state = excluded.state THEN clusters.indexed ELSE 0 END"
            }
        }
    }
}

/// Cluster rows, listing columns; health, version and `indexed` as [`IndexFrom`] says.
async fn write_clusters(
    tx: &mut WriteTx,
    env: &str,
    writes: &[&ClusterRow],
    now: &str,
) -> Result<(), sqlx::Error> {
    for from in [IndexFrom::Detail, IndexFrom::Listing, IndexFrom::Nothing] {
        let rows: Vec<&ClusterRow> = writes
            .iter()
            .copied()
            .filter(|c| IndexFrom::of(c) == from)
            .collect();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            on!(tx, |conn, dl| {
                let mut qb = QueryBuilder::new(
                "INSERT INTO clusters (env, uid, name, scope, project_uid, cloud_type, state, last_modified,
                    list_json, synced_at, health, kubernetes_version, indexed) ",
            );
                qb.push_values(chunk, |mut b, cl| {
                    let index = cl.detail.as_ref().map(|d| &d.index).or(cl.index.as_ref());
                    b.push_bind(env)
                        .push_bind(&cl.row.uid)
                        .push_bind(&cl.row.name)
                        .push_bind(&cl.row.scope)
                        .push_bind(&cl.row.project_uid)
                        .push_bind(&cl.cloud_type)
                        .push_bind(&cl.state)
                        .push_bind(&cl.row.last_modified)
                        .push_bind(&cl.row.json)
                        .push_bind(now)
                        .push_bind(index.and_then(|i| i.health.as_ref()))
                        .push_bind(index.and_then(|i| i.kubernetes_version.as_ref()))
                        .push_bind(i64::from(index.is_some()));
                });
                qb.push(
                " ON CONFLICT (env, uid) DO UPDATE SET name = excluded.name, scope = excluded.scope,
                    project_uid = excluded.project_uid, cloud_type = excluded.cloud_type, state = excluded.state,
                    last_modified = excluded.last_modified, list_json = excluded.list_json, synced_at = excluded.synced_at",
            );
                qb.push(from.on_conflict());
                qb.build().execute(&mut *conn).await.map(drop)
            })?;
        }
    }
    Ok(())
}

/// A cluster's new details, and the listing they were fetched for.
pub(crate) struct DetailWrite<'a> {
    pub uid: &'a str,
    /// The listing's `lastModifiedTimestamp` and state when the details were fetched.
    pub listed_modified: &'a str,
    pub listed_state: &'a str,
    pub detail: &'a ClusterDetail,
}

/// The stored details of clusters with new ones.
pub(crate) async fn write_cluster_details(
    tx: &mut WriteTx,
    env: &str,
    with_detail: &[DetailWrite<'_>],
    now: &str,
) -> Result<(), sqlx::Error> {
    for chunk in with_detail.chunks(ROWS_PER_STATEMENT) {
        on!(tx, |conn, dl| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO cluster_details (env, uid, detail_json, profiles_json, synced_at, \
                 listed_modified, listed_state) ",
            );
            qb.push_values(chunk, |mut b, w| {
                b.push_bind(env)
                    .push_bind(w.uid)
                    .push_bind(&w.detail.detail_json)
                    .push_bind(&w.detail.profiles_json)
                    .push_bind(now)
                    .push_bind(w.listed_modified)
                    .push_bind(w.listed_state);
            });
            qb.push(
                " ON CONFLICT (env, uid) DO UPDATE SET detail_json = excluded.detail_json,
                profiles_json = excluded.profiles_json, synced_at = excluded.synced_at,
                listed_modified = excluded.listed_modified, listed_state = excluded.listed_state",
            );
            qb.build().execute(&mut *conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// The reverse index (profile refs, packs) of clusters; `replaced` are those the mirror had,
/// whose old entries go first.
pub(crate) async fn write_cluster_index(
    tx: &mut WriteTx,
    env: &str,
    indexed: &[(&str, &ClusterIndex)],
    replaced: &[&str],
) -> Result<(), sqlx::Error> {
    delete_in(
        &mut *tx,
        "cluster_profile_refs",
        "cluster_uid",
        env,
        replaced,
    )
    .await?;
    delete_in(&mut *tx, "cluster_packs", "cluster_uid", env, replaced).await?;
    let templates = || {
        indexed.iter().flat_map(|(uid, i)| {
            i.templates
                .iter()
                .enumerate()
                .map(move |(n, t)| (*uid, n, t.as_ref()))
        })
    };
    let refs: Vec<(&str, usize, &Template)> = templates().collect();
    for chunk in refs.chunks(ROWS_PER_STATEMENT) {
        on!(tx, |conn, dl| {
            let mut qb = QueryBuilder::new(ignore_into(
                dl,
                "cluster_profile_refs (env, cluster_uid, profile_version_uid, position,
                profile_name, profile_version, profile_type) ",
            ));
            qb.push_values(chunk, |mut b, (uid, i, t)| {
                let r = &t.reference;
                b.push_bind(env)
                    .push_bind(*uid)
                    .push_bind(&r.version_uid)
                    .push_bind(*i as i64)
                    .push_bind(&r.name)
                    .push_bind(&r.version)
                    .push_bind(&r.profile_type);
            });
            qb.push(ignore_tail(dl));
            qb.build().execute(&mut *conn).await.map(drop)
        })?;
    }
    let packs: Vec<(&str, &ClusterPack)> = templates()
        .flat_map(|(uid, _, t)| t.packs.iter().map(move |p| (uid, p)))
        .collect();
    for chunk in packs.chunks(ROWS_PER_STATEMENT) {
        on!(tx, |conn, dl| {
            let mut qb = QueryBuilder::new(ignore_into(
                dl,
                "cluster_packs (env, cluster_uid, profile_version_uid, name, tag, version, layer) ",
            ));
            qb.push_values(chunk, |mut b, (uid, p)| {
                b.push_bind(env)
                    .push_bind(*uid)
                    .push_bind(&p.version_uid)
                    .push_bind(&p.name)
                    .push_bind(&p.tag)
                    .push_bind(&p.version)
                    .push_bind(&p.layer);
            });
            qb.push(ignore_tail(dl));
            qb.build().execute(&mut *conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// `INSERT` that skips rows already there: the statement's head (`table (columns) `), its
/// tail pushed by [`ignore_tail`].
fn ignore_into(d: Dialect, table_and_columns: &str) -> String {
    match d {
        Dialect::Sqlite => format!("INSERT OR IGNORE INTO {table_and_columns}"),
        Dialect::Postgres => format!("INSERT INTO {table_and_columns}"),
    }
}

fn ignore_tail(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "",
        Dialect::Postgres => " ON CONFLICT DO NOTHING",
    }
}
