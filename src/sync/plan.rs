//! The pure half of a run: from the listings and what the mirror holds, per kind, the rows the
//! run applies and the details it fetches — for one listed object, fetch its details now,
//! refresh them when the run has budget left, or keep them. No I/O here; unit tests cover
//! every rule.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::listing::ClusterListing;
use crate::palette::models;
use crate::store::snapshot::{
    AccountRow, ClusterRow, GroupRow, Known, KnownCluster, KnownVersion, ObjectRow, OverlordRow,
    Part, ProfileRow, Snapshot, VersionListed, VersionRow, VirtualRow,
};

/// What one listed object needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// New, changed, or without details: fetch in this run.
    Fetch,
    /// Unchanged, but its details (written at this time) are old: refresh if budget allows.
    Refresh(String),
    /// Unchanged and fresh enough.
    Keep,
}

/// Whether stored details (written at `at`) are older than `max_age` at `now`.
pub fn aged(at: Option<&str>, max_age: Duration, now: DateTime<Utc>) -> bool {
    match at.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => now - t.with_timezone(&Utc) > max_age,
        None => true,
    }
}

fn keep_or_refresh(at: Option<&str>, max_age: Duration, now: DateTime<Utc>) -> Need {
    if aged(at, max_age, now) {
        Need::Refresh(at.unwrap_or_default().to_string())
    } else {
        Need::Keep
    }
}

/// A listed cluster: changed when its `lastModifiedTimestamp` or state moved since the listing
/// its stored details were fetched for (or Palette sent none), or when the mirror has no
/// details of it (new, or left by a run that died).
pub fn cluster(
    last_modified: &str,
    state: &str,
    known: Option<&KnownCluster>,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Need {
    match known {
        Some(k)
            if !last_modified.is_empty()
                && k.detail_modified == last_modified
                && k.detail_state == state
                && k.detail_at.is_some() =>
        {
            keep_or_refresh(k.detail_at.as_deref(), max_age, now)
        }
        _ => Need::Fetch,
    }
}

/// One version of a listed profile: new versions are fetched; the listed (newest) version
/// also when the profile's `lastModifiedTimestamp` moved; older versions do not change.
pub fn version(
    version_uid: &str,
    listed_uid: &str,
    profile_last_modified: &str,
    known: Option<&KnownVersion>,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Need {
    match known {
        None => Need::Fetch,
        // Written from the listing by a run that ended before its details came.
        Some(k) if !k.detailed => Need::Fetch,
        Some(k)
            if version_uid == listed_uid
                && (profile_last_modified.is_empty()
                    || k.last_modified != profile_last_modified) =>
        {
            Need::Fetch
        }
        Some(k) => keep_or_refresh(Some(&k.synced_at), max_age, now),
    }
}

/// A listed cluster group (few: no refresh budget): fetched unless unchanged with details.
/// `known` is (last modified, has details).
pub fn group(last_modified: &str, known: Option<&(String, bool)>) -> Need {
    match known {
        Some((lm, true)) if !last_modified.is_empty() && lm == last_modified => Need::Keep,
        _ => Need::Fetch,
    }
}

/// What a run does, worked out from the listings and the mirror alone: every kind's rows (the
/// snapshot the run applies) and, per kind, the details to fetch.
#[derive(Debug, Default)]
pub struct Plan {
    pub snap: Snapshot,
    pub clusters: Vec<Target>,
    pub versions: Vec<Target>,
    pub groups: Vec<Target>,
}

/// How much refreshing of unchanged objects a run does.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_age: Duration,
    pub now: DateTime<Utc>,
    /// Refreshes per kind and run, oldest first.
    pub budget: usize,
}

/// Project scopes to list every kind in, and which project uids the include/exclude keep.
pub struct Scopes {
    /// `None` = tenant scope, then every kept project.
    pub list: Vec<Option<String>>,
    /// Project uids kept by include/exclude; `None` when no filter is configured.
    pub kept: Option<HashSet<String>>,
}

impl Scopes {
    pub fn keeps(&self, project: Option<&str>) -> bool {
        match (project, &self.kept) {
            (None, _) | (_, None) => true,
            (Some(p), Some(kept)) => kept.contains(p),
        }
    }
}

/// One listed object, and the project scope it was (also) listed in: the fallback when Palette
/// left out its `projectUid` annotation, so such an object never passes for a tenant one.
#[derive(Debug, Clone)]
pub struct Found {
    pub item: Value,
    pub listed_in: Option<String>,
    /// Listed in more than one project: no single project can be assumed.
    pub ambiguous: bool,
}

/// One kind listed in every scope.
#[derive(Debug, Default)]
pub struct Gathered {
    pub found: Vec<Found>,
    /// Every scope answered, and every listing was complete.
    pub complete: bool,
    /// Pages fetched, over all scopes.
    pub pages: usize,
}

/// Every kind as listed.
#[derive(Debug, Default)]
pub struct Listed {
    pub clusters: ClusterListing,
    pub profiles: Gathered,
    pub virtual_clusters: Gathered,
    pub overlords: Gathered,
    pub cluster_groups: Gathered,
    /// Per cloud type (`ACCOUNT_CLOUDS`).
    pub accounts: Vec<(&'static str, Gathered)>,
}

/// A detail to fetch: the row it belongs to, the uid, the project scope to ask in.
pub type Target = (usize, String, Option<String>);

/// The listed projects kept by include/exclude, and the scopes to list everything else in.
pub fn projects(
    items: Vec<Value>,
    complete: bool,
    include: &[String],
    exclude: &[String],
) -> (Part<ObjectRow>, Scopes) {
    let mut part = Part::new(Vec::new(), complete);
    for item in items {
        let name = models::name(&item);
        if (!include.is_empty() && !include.iter().any(|p| p == name))
            || exclude.iter().any(|p| p == name)
        {
            continue;
        }
        let found = Found {
            item,
            listed_in: None,
            ambiguous: false,
        };
        part.rows.extend(row_of(&found, true));
    }
    let kept: HashSet<String> = part.rows.iter().map(|p| p.uid.clone()).collect();
    let scopes = Scopes {
        list: std::iter::once(None)
            .chain(kept.iter().cloned().map(Some))
            .collect(),
        kept: (!include.is_empty() || !exclude.is_empty()).then_some(kept),
    };
    (part, scopes)
}

/// The whole plan of a run. `all_scopes`: the project listing was complete (a project missing
/// from an incomplete one was never asked, so nothing of any kind may be deleted then).
pub fn plan(
    projects: Part<ObjectRow>,
    scopes: &Scopes,
    listed: Listed,
    known: &Known,
    policy: &Policy,
) -> Plan {
    let all = projects.complete;
    let (clusters, cluster_targets) = plan_clusters(listed.clusters, scopes, all, known, policy);
    let (profiles, versions, version_targets) =
        plan_profiles(&listed.profiles, scopes, all, known, policy);
    let (cluster_groups, group_targets) = plan_groups(&listed.cluster_groups, scopes, all, known);
    let snap = Snapshot {
        projects,
        clusters,
        profiles,
        versions,
        virtual_clusters: plan_virtual_clusters(&listed.virtual_clusters, scopes, all, known),
        cloud_accounts: plan_accounts(listed.accounts, scopes, all),
        overlords: plan_overlords(&listed.overlords, scopes, all),
        cluster_groups,
    };
    Plan {
        snap,
        clusters: cluster_targets,
        versions: version_targets,
        groups: group_targets,
    }
}

/// The scope and project of a listed object: its annotations, else the project scope it was
/// listed in — unless it says `tenant` outright or more than one project listed it.
pub fn owner(
    item_scope: &str,
    explicit_tenant: bool,
    item_project: Option<&str>,
    listed_in: Option<&str>,
    ambiguous: bool,
) -> (String, Option<String>) {
    let fallback = (!explicit_tenant && !ambiguous)
        .then_some(listed_in)
        .flatten();
    let project = item_project.or(fallback).map(str::to_string);
    let scope = match (project.is_some(), item_scope) {
        (true, "tenant") => "project",
        (_, s) => s,
    };
    (scope.to_string(), project)
}

/// The row's columns; the JSON text only `with_json` (unchanged objects — most of them, in a
/// warm run — are never written, so their JSON is never needed).
pub fn row_of(f: &Found, with_json: bool) -> Option<ObjectRow> {
    let item = &f.item;
    let (scope, project) = owner(
        models::scope(item),
        item["metadata"]["annotations"]["scope"].as_str() == Some("tenant"),
        models::project_uid(item),
        f.listed_in.as_deref(),
        f.ambiguous,
    );
    Some(ObjectRow {
        uid: models::uid(item)?.to_string(),
        name: models::name(item).to_string(),
        scope,
        project_uid: project,
        last_modified: models::last_modified(item).to_string(),
        json: if with_json {
            item.to_string()
        } else {
            String::new()
        },
    })
}

/// The rows of one kind the include/exclude keep, with their JSON.
fn kept_rows<'a>(
    g: &'a Gathered,
    scopes: &'a Scopes,
    with_json: bool,
) -> impl Iterator<Item = (&'a Found, ObjectRow)> + 'a {
    g.found.iter().filter_map(move |f| {
        row_of(f, with_json)
            .filter(|r| scopes.keeps(r.project_uid.as_deref()))
            .map(|r| (f, r))
    })
}

/// Picks, among objects whose details are merely old, the `budget` oldest: every object gets
/// refreshed now and then (Palette does not always move `lastModifiedTimestamp`), spread over
/// runs instead of all at once.
pub fn with_refreshes(
    mut due: Vec<Target>,
    mut old: Vec<(String, Target)>,
    budget: usize,
) -> Vec<Target> {
    old.sort_by(|a, b| a.0.cmp(&b.0));
    due.extend(old.into_iter().take(budget).map(|(_, t)| t));
    due
}

/// Clusters: rows with the index their listing carries; details for new or changed ones and
/// the oldest few for a refresh — those whose listing left the index out first, then the most
/// recently modified. Only written clusters keep their list JSON.
pub fn plan_clusters(
    listing: ClusterListing,
    scopes: &Scopes,
    all_scopes: bool,
    known: &Known,
    policy: &Policy,
) -> (Part<ClusterRow>, Vec<Target>) {
    let ClusterListing {
        found,
        mut index,
        complete,
        ..
    } = listing;
    let mut part = Part::new(Vec::new(), complete && all_scopes);
    let (mut due, mut old) = (Vec::new(), Vec::new());
    let mut candidates = Vec::new();
    for c in found {
        let (scope, project) = owner(
            &c.item_scope,
            c.explicit_tenant,
            c.item_project.as_deref(),
            c.listed_in.as_deref(),
            c.ambiguous,
        );
        if !scopes.keeps(project.as_deref()) {
            continue;
        }
        let target = (part.rows.len(), c.uid.clone(), project.clone());
        let k = known.clusters.get(&c.uid);
        let need = cluster(&c.last_modified, &c.state, k, policy.max_age, policy.now);
        let listed_index = index.remove(&c.uid).flatten();
        let index_missing = listed_index.is_some() && k.is_some_and(|k| !k.indexed);
        let write = need != Need::Keep || index_missing;
        let refresh_only = matches!(need, Need::Refresh(_)) && !index_missing;
        match need {
            Need::Fetch => due.push(target),
            Need::Refresh(at) => old.push((at, target)),
            Need::Keep => {}
        }
        if refresh_only {
            candidates.push(part.rows.len());
        }
        part.rows.push(ClusterRow {
            row: ObjectRow {
                uid: c.uid,
                name: c.name,
                scope,
                project_uid: project,
                last_modified: c.last_modified,
                json: if write { c.json } else { String::new() },
            },
            cloud_type: c.cloud_type,
            state: c.state,
            index: listed_index,
            detail: None,
        });
    }
    let mut targets = with_refreshes(due, old, policy.budget);
    // A refresh candidate the budget left out is not written: its JSON goes.
    let chosen: HashSet<usize> = targets.iter().map(|t| t.0).collect();
    for i in candidates.into_iter().filter(|i| !chosen.contains(i)) {
        part.rows[i].row.json = String::new();
    }
    order_clusters(&mut targets, &part.rows);
    (part, targets)
}

/// The order details are fetched in: clusters whose index only their details can bring
/// first, then the most recently modified (what people are likeliest to open).
pub fn order_clusters(targets: &mut [Target], rows: &[ClusterRow]) {
    targets.sort_by(|a, b| {
        let (ra, rb) = (&rows[a.0], &rows[b.0]);
        rb.index
            .is_none()
            .cmp(&ra.index.is_none())
            .then_with(|| rb.row.last_modified.cmp(&ra.row.last_modified))
    });
}

/// Profiles and every version: details for new versions, the newest one when its profile
/// changed, and the oldest few for a refresh. A profile's JSON only when it changed.
pub fn plan_profiles(
    g: &Gathered,
    scopes: &Scopes,
    all_scopes: bool,
    known: &Known,
    policy: &Policy,
) -> (Part<ProfileRow>, Part<VersionRow>, Vec<Target>) {
    let complete = g.complete && all_scopes;
    let (mut profiles, mut versions) = (
        Part::new(Vec::new(), complete),
        Part::new(Vec::new(), complete),
    );
    let mut seen = HashSet::new();
    let (mut due, mut old) = (Vec::new(), Vec::new());
    for (f, mut row) in kept_rows(g, scopes, false) {
        if row.last_modified.is_empty() || known.profiles.get(&row.uid) != Some(&row.last_modified)
        {
            row.json = f.item.to_string();
        }
        let labels = models::profile_version_labels(&f.item);
        for v in models::profile_version_uids(&f.item) {
            if !seen.insert(v.clone()) {
                continue;
            }
            let listed = (!known.versions.contains_key(&v)).then(|| VersionListed {
                name: row.name.clone(),
                version: labels.get(v.as_str()).cloned().unwrap_or_default(),
                scope: row.scope.clone(),
                project_uid: row.project_uid.clone(),
                profile_type: models::profile_type(&f.item).to_string(),
                cloud_type: models::profile_cloud_type(&f.item).to_string(),
                // Only the newest version's time is listed (the profile's).
                last_modified: if v == row.uid {
                    row.last_modified.clone()
                } else {
                    String::new()
                },
            });
            let target = (versions.rows.len(), v.clone(), row.project_uid.clone());
            let k = known.versions.get(&v);
            match version(
                &v,
                &row.uid,
                &row.last_modified,
                k,
                policy.max_age,
                policy.now,
            ) {
                Need::Fetch => due.push(target),
                Need::Refresh(at) => old.push((at, target)),
                Need::Keep => {}
            }
            versions.rows.push(VersionRow {
                uid: v,
                profile_uid: row.uid.clone(),
                listed,
                detail: None,
            });
        }
        profiles.rows.push(ProfileRow {
            profile_type: models::profile_type(&f.item).to_string(),
            cloud_type: models::profile_cloud_type(&f.item).to_string(),
            version: models::profile_version(&f.item).to_string(),
            row,
        });
    }
    (profiles, versions, with_refreshes(due, old, policy.budget))
}

/// Virtual clusters, as listed; JSON only for new or changed ones.
pub fn plan_virtual_clusters(
    g: &Gathered,
    scopes: &Scopes,
    all_scopes: bool,
    known: &Known,
) -> Part<VirtualRow> {
    let mut part = Part::new(Vec::new(), g.complete && all_scopes);
    for (f, mut row) in kept_rows(g, scopes, false) {
        let item = &f.item;
        let state = models::state(item).to_string();
        let unchanged = !row.last_modified.is_empty()
            && known.virtual_clusters.get(&row.uid)
                == Some(&(row.last_modified.clone(), state.clone()));
        if !unchanged {
            row.json = item.to_string();
        }
        let virt = &item["status"]["virtual"];
        let group = virt["clusterGroup"]["uid"].as_str().or_else(|| {
            item["specSummary"]["clusterConfig"]["hostClusterConfig"]["clusterGroup"]["uid"]
                .as_str()
        });
        part.rows.push(VirtualRow {
            state,
            host_cluster_uid: virt["hostCluster"]["uid"].as_str().map(str::to_string),
            cluster_group_uid: group.map(str::to_string),
            row,
        });
    }
    part
}

/// Cloud accounts, secrets stripped before they go anywhere near the mirror.
pub fn plan_accounts(
    accounts: Vec<(&'static str, Gathered)>,
    scopes: &Scopes,
    all_scopes: bool,
) -> Part<AccountRow> {
    let complete = all_scopes && accounts.iter().all(|(_, g)| g.complete);
    let mut part = Part::new(Vec::new(), complete);
    for (cloud, mut g) in accounts {
        for f in &mut g.found {
            models::strip_secrets(&mut f.item);
        }
        part.rows
            .extend(kept_rows(&g, scopes, true).map(|(_, row)| AccountRow {
                cloud_type: cloud.to_string(),
                row,
            }));
    }
    part
}

pub fn plan_overlords(g: &Gathered, scopes: &Scopes, all_scopes: bool) -> Part<OverlordRow> {
    let rows = kept_rows(g, scopes, true)
        .map(|(f, row)| OverlordRow {
            kind: f.item["kind"].as_str().unwrap_or("").to_string(),
            row,
        })
        .collect();
    Part::new(rows, g.complete && all_scopes)
}

/// Cluster groups: details for new or changed ones (few: no refresh budget needed).
pub fn plan_groups(
    g: &Gathered,
    scopes: &Scopes,
    all_scopes: bool,
    known: &Known,
) -> (Part<GroupRow>, Vec<Target>) {
    let mut part = Part::new(Vec::new(), g.complete && all_scopes);
    let mut targets = Vec::new();
    for (_, row) in kept_rows(g, scopes, true) {
        if group(&row.last_modified, known.groups.get(&row.uid)) == Need::Fetch {
            targets.push((part.rows.len(), row.uid.clone(), row.project_uid.clone()));
        }
        part.rows.push(GroupRow {
            row,
            detail_json: None,
        });
    }
    (part, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn known(lm: &str, state: &str, at: Option<&str>) -> KnownCluster {
        KnownCluster {
            last_modified: lm.into(),
            state: state.into(),
            detail_modified: lm.into(),
            detail_state: state.into(),
            detail_at: at.map(str::to_string),
            indexed: true,
        }
    }

    #[test]
    fn details_older_than_the_mirrors_listing_are_fetched_again() {
        let now = Utc::now();
        let at = now.to_rfc3339();
        let max_age = Duration::hours(1);
        // A run applied the listing t2 but died before the details: the row says t2, the
        // details are t1's.
        let mut k = known("t2", "Running", Some(&at));
        k.detail_modified = "t1".into();
        assert_eq!(
            cluster("t2", "Running", Some(&k), max_age, now),
            Need::Fetch
        );
        // Fetched for t2: kept.
        k.detail_modified = "t2".into();
        assert_eq!(cluster("t2", "Running", Some(&k), max_age, now), Need::Keep);
        // Details fetched while the cluster was Pending, listed Running since.
        k.detail_state = "Pending".into();
        assert_eq!(
            cluster("t2", "Running", Some(&k), max_age, now),
            Need::Fetch
        );
    }

    const DAY: i64 = 86_400;

    #[test]
    fn clusters_new_changed_or_without_details_are_fetched() {
        let age = Duration::seconds(DAY);
        let at = Some("2026-12-01T11:00:00Z");
        assert_eq!(cluster("t1", "Running", None, age, now()), Need::Fetch);
        let k = known("t1", "Running", at);
        assert_eq!(cluster("t2", "Running", Some(&k), age, now()), Need::Fetch);
        assert_eq!(cluster("t1", "Deleting", Some(&k), age, now()), Need::Fetch);
        assert_eq!(cluster("", "Running", Some(&k), age, now()), Need::Fetch);
        // Listed by a run that died before its details came: resumed.
        let listed_only = known("t1", "Running", None);
        assert_eq!(
            cluster("t1", "Running", Some(&listed_only), age, now()),
            Need::Fetch
        );
        assert_eq!(cluster("t1", "Running", Some(&k), age, now()), Need::Keep);
    }

    #[test]
    fn unchanged_clusters_with_old_details_are_refresh_candidates() {
        let k = known("t1", "Running", Some("2026-11-01T00:00:00Z"));
        assert_eq!(
            cluster("t1", "Running", Some(&k), Duration::seconds(DAY), now()),
            Need::Refresh("2026-11-01T00:00:00Z".into())
        );
    }

    #[test]
    fn versions_new_or_the_changed_newest_are_fetched() {
        let age = Duration::seconds(DAY);
        let k = KnownVersion {
            profile_uid: "p".into(),
            last_modified: "t1".into(),
            synced_at: "2026-12-01T11:00:00Z".into(),
            detailed: true,
        };
        assert_eq!(version("v1", "v1", "t1", None, age, now()), Need::Fetch);
        assert_eq!(version("v1", "v1", "t2", Some(&k), age, now()), Need::Fetch);
        assert_eq!(version("v1", "v1", "", Some(&k), age, now()), Need::Fetch);
        // An older version does not change when the profile does.
        assert_eq!(version("v0", "v1", "t2", Some(&k), age, now()), Need::Keep);
        assert_eq!(version("v1", "v1", "t1", Some(&k), age, now()), Need::Keep);
    }

    #[test]
    fn groups_are_kept_only_unchanged_with_details() {
        assert_eq!(group("t1", None), Need::Fetch);
        assert_eq!(group("t1", Some(&("t1".into(), false))), Need::Fetch);
        assert_eq!(group("t2", Some(&("t1".into(), true))), Need::Fetch);
        assert_eq!(group("t1", Some(&("t1".into(), true))), Need::Keep);
    }

    fn item(uid: &str, lm: &str, project: Option<&str>) -> Value {
        let mut v = serde_json::json!({
            "metadata": {"uid": uid, "name": uid, "lastModifiedTimestamp": lm, "annotations": {}},
            "status": {"state": "Running"},
        });
        if let Some(p) = project {
            v["metadata"]["annotations"]["projectUid"] = p.into();
        }
        v
    }

    fn gathered(items: Vec<Value>, complete: bool) -> Gathered {
        Gathered {
            found: items
                .into_iter()
                .map(|item| Found {
                    item,
                    listed_in: None,
                    ambiguous: false,
                })
                .collect(),
            complete,
            pages: 1,
        }
    }

    fn clusters(items: Vec<Value>, complete: bool) -> ClusterListing {
        ClusterListing {
            found: items
                .iter()
                .filter_map(|i| super::super::listing::ListedCluster::of(i, None))
                .collect(),
            complete,
            ..ClusterListing::default()
        }
    }

    fn policy(budget: usize) -> Policy {
        Policy {
            max_age: Duration::seconds(DAY),
            now: now(),
            budget,
        }
    }

    fn all_scopes() -> Scopes {
        Scopes {
            list: vec![None],
            kept: None,
        }
    }

    #[test]
    fn projects_follow_include_and_exclude_and_give_the_scopes_to_list() {
        let items = vec![item("p1", "t", None), item("p2", "t", None)];
        let (part, scopes) = projects(items.clone(), true, &[], &["p2".into()]);
        assert_eq!(part.rows.len(), 1);
        assert_eq!(scopes.list, vec![None, Some("p1".to_string())]);
        assert!(scopes.keeps(Some("p1")) && !scopes.keeps(Some("p2")) && scopes.keeps(None));
        let (part, scopes) = projects(items, false, &[], &[]);
        assert_eq!(part.rows.len(), 2);
        assert!(!part.complete);
        assert!(
            scopes.keeps(Some("elsewhere")),
            "no filter keeps everything"
        );
    }

    #[test]
    fn cluster_plan_fetches_new_and_changed_keeps_the_rest_and_refreshes_the_oldest() {
        let mut known = Known::default();
        let fresh = Some("2026-12-01T11:00:00Z");
        known
            .clusters
            .insert("same".into(), self::known("t1", "Running", fresh));
        known
            .clusters
            .insert("moved".into(), self::known("t1", "Running", fresh));
        let older = Some("2026-10-01T00:00:00Z");
        known
            .clusters
            .insert("old1".into(), self::known("t1", "Running", older));
        let oldest = Some("2026-09-01T00:00:00Z");
        known
            .clusters
            .insert("old2".into(), self::known("t1", "Running", oldest));
        let items = vec![
            item("new", "t1", None),
            item("same", "t1", None),
            item("moved", "t2", None),
            item("old1", "t1", None),
            item("old2", "t1", None),
        ];
        let (part, targets) = plan_clusters(
            clusters(items.clone(), true),
            &all_scopes(),
            true,
            &known,
            &policy(1),
        );
        assert!(part.complete);
        assert_eq!(part.rows.len(), 5);
        let uids: Vec<&str> = targets.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            uids,
            ["moved", "new", "old2"],
            "budget 1: the oldest refresh; most recently modified first"
        );
        // Only fetched rows carry their JSON (only they are written).
        for r in &part.rows {
            assert_eq!(r.row.json.is_empty(), !uids.contains(&r.row.uid.as_str()));
        }
        // Incomplete project listing: nothing may be deleted on this run's strength.
        let (part, _) = plan_clusters(
            clusters(items, true),
            &all_scopes(),
            false,
            &known,
            &policy(1),
        );
        assert!(!part.complete);
    }

    #[test]
    fn clusters_the_listing_left_unindexed_are_fetched_first() {
        let mut listing = clusters(
            vec![
                item("a", "t3", None),
                item("b", "t1", None),
                item("c", "t2", None),
            ],
            true,
        );
        for uid in ["a", "c"] {
            listing.index.insert(uid.into(), Some(Default::default()));
        }
        listing.index.insert("b".into(), None);
        let (part, targets) =
            plan_clusters(listing, &all_scopes(), true, &Known::default(), &policy(0));
        let uids: Vec<&str> = targets.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(uids, ["b", "a", "c"]);
        assert!(part.rows[0].index.is_some() && part.rows[1].index.is_none());
    }

    #[test]
    fn plans_leave_out_what_include_and_exclude_drop() {
        let scopes = Scopes {
            list: vec![None, Some("p1".into())],
            kept: Some(["p1".to_string()].into()),
        };
        let g = gathered(
            vec![
                item("a", "t", Some("p1")),
                item("b", "t", Some("p2")),
                item("c", "t", None),
            ],
            true,
        );
        let items = g.found.iter().map(|f| f.item.clone()).collect();
        let (part, targets) = plan_clusters(
            clusters(items, true),
            &scopes,
            true,
            &Known::default(),
            &policy(0),
        );
        let uids: Vec<&str> = part.rows.iter().map(|r| r.row.uid.as_str()).collect();
        assert_eq!(uids, ["a", "c"]);
        assert_eq!(targets.len(), 2);
        assert_eq!(plan_overlords(&g, &scopes, true).rows.len(), 2);
    }

    #[test]
    fn profile_plan_fetches_new_versions_and_the_changed_newest_only() {
        let mut p = item("v2", "t2", None);
        p["specSummary"]["versions"] = serde_json::json!([{"uid": "v1"}, {"uid": "v2"}]);
        let mut known = Known::default();
        known.profiles.insert("v2".into(), "t1".into());
        for v in ["v1", "v2"] {
            known.versions.insert(
                v.into(),
                KnownVersion {
                    profile_uid: "v2".into(),
                    last_modified: "t1".into(),
                    synced_at: "2026-12-01T11:00:00Z".into(),
                    detailed: true,
                },
            );
        }
        let g = gathered(vec![p.clone()], true);
        let (profiles, versions, targets) =
            plan_profiles(&g, &all_scopes(), true, &known, &policy(10));
        assert_eq!(versions.rows.len(), 2);
        assert_eq!(
            targets.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["v2"]
        );
        assert!(!profiles.rows[0].row.json.is_empty(), "changed: rewritten");
        // Unchanged: no version fetched, the profile's JSON not needed.
        known.profiles.insert("v2".into(), "t2".into());
        known.versions.get_mut("v2").unwrap().last_modified = "t2".into();
        let (profiles, _, targets) = plan_profiles(&g, &all_scopes(), true, &known, &policy(10));
        assert!(targets.is_empty());
        assert!(profiles.rows[0].row.json.is_empty());
    }

    #[test]
    fn group_plan_fetches_details_only_for_new_or_changed_groups() {
        let mut known = Known::default();
        known.groups.insert("g1".into(), ("t1".into(), true));
        known.groups.insert("g2".into(), ("t1".into(), true));
        let g = gathered(vec![item("g1", "t1", None), item("g2", "t2", None)], false);
        let (part, targets) = plan_groups(&g, &all_scopes(), true, &known);
        assert!(!part.complete, "an incomplete listing stays incomplete");
        assert_eq!(targets, vec![(1, "g2".to_string(), None)]);
    }
}
