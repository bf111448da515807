//! One sync run of one environment: list every kind in tenant scope and in each project
//! (deduplicated), compare with the mirror by `lastModifiedTimestamp` (and state), fetch details
//! only for new or changed objects with bounded concurrency, then apply everything at once.
//! A warm run over an unchanged Palette costs only the list calls.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;

use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

use super::apply::{Writes, phase};
use super::plan::{self, Need};
use super::progress::{Phase, Progress};
use crate::config::SyncConfig;
use crate::palette::client::virtual_cluster_filter;
use crate::palette::models::{self, is_valid_uid};
use crate::palette::{Environment, Listing, PaletteClient, PaletteError};
use crate::store::Db;
use crate::store::snapshot::{
    self, AccountRow, ClusterDetail, ClusterPack, ClusterRow, Counts, GroupRow, ObjectRow,
    OverlordRow, PackRow, Part, ProfileRef, ProfileRow, Snapshot, VersionDetail, VersionRow,
    VirtualRow,
};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Palette(#[from] PaletteError),
    #[error("mirror write failed: {0}")]
    Store(#[from] sqlx::Error),
    #[error("the run took longer than {0} s and was abandoned; the batches it applied were kept")]
    TimedOut(u64),
    #[error("the service is shutting down; the batches applied so far were kept")]
    Cancelled,
}

/// Cloud types whose accounts are mirrored.
pub const ACCOUNT_CLOUDS: [&str; 3] = ["aws", "azure", "vsphere"];

struct Scopes {
    /// `None` = tenant scope, then every kept project.
    list: Vec<Option<String>>,
    /// Project uids kept by include/exclude; `None` when no filter is configured.
    kept: Option<HashSet<String>>,
}

impl Scopes {
    fn keeps(&self, project: Option<&str>) -> bool {
        match (project, &self.kept) {
            (None, _) | (_, None) => true,
            (Some(p), Some(kept)) => kept.contains(p),
        }
    }
}

/// One listed object, and the project scope it was (also) listed in: the fallback when Palette
/// left out its `projectUid` annotation, so such an object never passes for a tenant one.
struct Found {
    item: Value,
    listed_in: Option<String>,
    /// Listed in more than one project: no single project can be assumed.
    ambiguous: bool,
}

/// One kind listed in every scope.
struct Gathered {
    found: Vec<Found>,
    /// Every scope answered, and every listing was complete.
    complete: bool,
    /// Pages fetched, over all scopes.
    pages: usize,
}

/// Lists one kind in every scope concurrently and deduplicates by uid. A scope Palette refuses
/// (403) or does not know (404) contributes nothing and makes the listing incomplete, so
/// nothing is deleted on its account.
async fn gather<'a, F, Fut>(
    env: &str,
    kind: &str,
    scopes: &'a Scopes,
    concurrency: usize,
    fetch: F,
) -> Result<Gathered, PaletteError>
where
    F: Fn(Option<&'a str>) -> Fut,
    Fut: Future<Output = Result<Listing, PaletteError>>,
{
    // Futures are built eagerly and then driven with bounded concurrency: a closure inside a
    // stream adapter would make the spawned run future not `Send` (higher-ranked lifetimes).
    let futures: Vec<_> = scopes
        .list
        .iter()
        .map(|s| {
            let scope = s.as_deref();
            let fut = fetch(scope);
            async move { (scope, fut.await) }
        })
        .collect();
    let results: Vec<(Option<&str>, Result<Listing, PaletteError>)> = stream::iter(futures)
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut found: Vec<Found> = Vec::new();
    let mut complete = true;
    let mut pages = 0;
    for (scope, result) in results {
        match result {
            Ok(listing) => {
                complete &= listing.complete;
                pages += listing.pages;
                for item in listing.items {
                    let Some(uid) = models::uid(&item).map(str::to_string) else {
                        continue;
                    };
                    match index.get(&uid) {
                        Some(&i) => match (&found[i].listed_in, scope) {
                            (None, Some(p)) => found[i].listed_in = Some(p.to_string()),
                            (Some(q), Some(p)) if q != p => found[i].ambiguous = true,
                            _ => {}
                        },
                        None => {
                            index.insert(uid, found.len());
                            found.push(Found {
                                item,
                                listed_in: scope.map(str::to_string),
                                ambiguous: false,
                            });
                        }
                    }
                }
            }
            Err(e @ (PaletteError::Forbidden { .. } | PaletteError::NotFound { .. })) => {
                tracing::warn!(env, kind, project = scope.unwrap_or("tenant"), error = %e,
                    "listing refused in this scope; keeping what the mirror has");
                complete = false;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Gathered {
        found,
        complete,
        pages,
    })
}

/// A non-paginated list call (`{items}`, `{summaries}` or a bare array) as a listing.
async fn list_once(
    client: &PaletteClient,
    path: &str,
    project: Option<&str>,
    calls: &AtomicU64,
) -> Result<Listing, PaletteError> {
    let v = client
        .get(path)
        .project(project)
        .counted(calls)
        .json()
        .await?;
    let items = match v {
        Value::Array(a) => a,
        mut v => {
            let key = ["items", "summaries"]
                .into_iter()
                .find(|k| v[*k].is_array())
                .unwrap_or("items");
            match v[key].take() {
                Value::Array(a) => a,
                _ => Vec::new(),
            }
        }
    };
    Ok(Listing {
        items,
        pages: 1,
        complete: true,
    })
}

/// Clusters in one scope: `GET /v1/dashboard/spectroclusters/meta` (one call, the shape the
/// original answered `/clusters` with); a Palette older than that endpoint (404) is paged
/// through the dashboard search instead.
async fn list_clusters(
    client: &PaletteClient,
    project: Option<&str>,
    calls: &AtomicU64,
) -> Result<Listing, PaletteError> {
    match list_once(client, "/v1/dashboard/spectroclusters/meta", project, calls).await {
        Err(PaletteError::NotFound { .. }) => {
            let body = json!({"filter": {}, "sort": [{"field": "clusterName", "order": "asc"}]});
            client
                .list_all(
                    "/v1/dashboard/spectroclusters/search",
                    Some(body),
                    project,
                    Some(calls),
                )
                .await
        }
        other => other,
    }
}

/// The row's columns; the JSON text only `with_json` (unchanged objects — most of them, in a
/// warm run — are never written, so their JSON is never needed).
fn row_of(f: &Found, with_json: bool) -> Option<ObjectRow> {
    let item = &f.item;
    let explicit_tenant = item["metadata"]["annotations"]["scope"].as_str() == Some("tenant");
    let fallback = (!explicit_tenant && !f.ambiguous)
        .then(|| f.listed_in.clone())
        .flatten();
    let project = models::project_uid(item).map(str::to_string).or(fallback);
    let scope = match (project.is_some(), models::scope(item)) {
        (true, "tenant") => "project",
        (_, s) => s,
    };
    Some(ObjectRow {
        uid: models::uid(item)?.to_string(),
        name: models::name(item).to_string(),
        scope: scope.to_string(),
        project_uid: project,
        last_modified: models::last_modified(item).to_string(),
        json: if with_json {
            item.to_string()
        } else {
            String::new()
        },
    })
}

/// A detail to fetch: the row it belongs to, the uid, the project scope to ask in.
pub(super) type Target = (usize, String, Option<String>);

/// Picks, among objects whose details are merely old, the `budget` oldest: every object gets
/// refreshed now and then (Palette does not always move `lastModifiedTimestamp`), spread over
/// runs instead of all at once.
fn with_refreshes(
    mut due: Vec<Target>,
    mut old: Vec<(String, Target)>,
    budget: usize,
) -> Vec<Target> {
    old.sort_by(|a, b| a.0.cmp(&b.0));
    due.extend(old.into_iter().take(budget).map(|(_, t)| t));
    due
}

/// What a detail fetch found.
pub(super) enum Fetched<T> {
    Got(T),
    /// Gone since it was listed (404).
    Gone,
    /// Listed, but Palette refuses its details to this key (403).
    Refused,
}

/// Fetches details with bounded concurrency. A refused detail does not fail the run: RBAC may
/// grant `list` without `get` on some objects, and one such object must not keep a whole
/// environment from syncing.
async fn fetch_details<T, F, Fut>(
    targets: Vec<Target>,
    concurrency: usize,
    fetch: F,
) -> Result<Vec<(usize, Fetched<T>)>, PaletteError>
where
    F: Fn(String, Option<String>) -> Fut,
    Fut: Future<Output = Result<Option<T>, PaletteError>>,
{
    let futures: Vec<_> = targets
        .into_iter()
        .map(|(i, uid, project)| {
            let fut = fetch(uid, project);
            async move {
                Ok::<_, PaletteError>(match fut.await {
                    Ok(Some(d)) => (i, Fetched::Got(d)),
                    Ok(None) => (i, Fetched::Gone),
                    Err(PaletteError::Forbidden { .. }) => (i, Fetched::Refused),
                    Err(e) => return Err(e),
                })
            }
        })
        .collect();
    stream::iter(futures)
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

/// Sets fetched details on their rows and drops rows whose object vanished meanwhile, or whose
/// details were refused: those keep what the mirror has, so the kind's listing is then marked
/// incomplete (nothing deleted on its account). Returns whether the listing is still complete.
#[must_use]
fn place<R, T>(
    env: &str,
    kind: &str,
    rows: &mut Vec<R>,
    details: Vec<(usize, Fetched<T>)>,
    set: impl Fn(&mut R, T),
) -> bool {
    let mut gone = HashSet::new();
    let mut refused = 0;
    for (i, d) in details {
        match d {
            Fetched::Got(d) => set(&mut rows[i], d),
            Fetched::Gone => {
                gone.insert(i);
            }
            Fetched::Refused => {
                refused += 1;
                gone.insert(i);
            }
        }
    }
    if refused > 0 {
        tracing::warn!(
            env,
            kind,
            refused,
            "details refused (403); keeping what the mirror has"
        );
    }
    if !gone.is_empty() {
        let mut i = 0;
        rows.retain(|_| {
            let keep = !gone.contains(&i);
            i += 1;
            keep
        });
    }
    refused == 0
}

/// Runs one sync of `env` as run `run_id`: listings (applied at once), details in batches as
/// they arrive, then the rest with the deletions and the run's record in one transaction.
pub async fn run(
    env: &Environment,
    db: &Db,
    config: &SyncConfig,
    run_id: i64,
    progress: &Progress,
) -> Result<Counts, SyncError> {
    let calls = &progress.calls;
    let name = env.name();
    let client = &env.client;
    let known = snapshot::known(db, name).await?;
    let max_age = chrono::Duration::seconds(config.detail_max_age_seconds as i64);
    let now = chrono::Utc::now();
    let budget = config.refresh_per_run;

    // Projects, then the scopes to list everything else in.
    let projects = client
        .list_all(
            "/v1/dashboard/projects",
            Some(json!({"filter": {}, "sort": [{"field": "name", "order": "asc"}]})),
            None,
            Some(calls),
        )
        .await?;
    let include = &env.config.include_projects;
    let exclude = &env.config.exclude_projects;
    let mut snap = Snapshot {
        projects: Part::new(Vec::new(), projects.complete),
        ..Snapshot::default()
    };
    for item in projects.items {
        let pname = models::name(&item);
        if (!include.is_empty() && !include.iter().any(|p| p == pname))
            || exclude.iter().any(|p| p == pname)
        {
            continue;
        }
        let found = Found {
            item,
            listed_in: None,
            ambiguous: false,
        };
        if let Some(row) = row_of(&found, true) {
            snap.projects.rows.push(row);
        }
    }
    let kept: HashSet<String> = snap.projects.rows.iter().map(|p| p.uid.clone()).collect();
    let scopes = Scopes {
        list: std::iter::once(None)
            .chain(kept.iter().cloned().map(Some))
            .collect(),
        kept: (!include.is_empty() || !exclude.is_empty()).then_some(kept),
    };
    tracing::info!(
        env = name,
        projects = snap.projects.rows.len(),
        pages = projects.pages,
        "projects listed"
    );

    // Every kind in every scope.
    let c = config.concurrency;
    let profile_body = json!({"filter": {}, "sort": [{"field": "profileName", "order": "asc"}]});
    let (clusters, profiles, virtuals, overlords, groups, aws, azure, vsphere) = tokio::try_join!(
        gather(name, "clusters", &scopes, c, |s| list_clusters(
            client, s, calls
        )),
        gather(name, "profiles", &scopes, c, |s| client.list_all(
            "/v1/dashboard/clusterprofiles",
            Some(profile_body.clone()),
            s,
            Some(calls)
        )),
        gather(name, "virtual clusters", &scopes, c, |s| client.list_all(
            "/v1/dashboard/spectroclusters/search",
            Some(virtual_cluster_filter()),
            s,
            Some(calls)
        )),
        gather(name, "overlords", &scopes, c, |s| list_once(
            client,
            "/v1/overlords",
            s,
            calls
        )),
        gather(name, "cluster groups", &scopes, c, |s| list_once(
            client,
            "/v1/clustergroups/hostCluster",
            s,
            calls
        )),
        gather(name, "aws accounts", &scopes, c, |s| client.list_all(
            "/v1/cloudaccounts/aws",
            None,
            s,
            Some(calls)
        )),
        gather(name, "azure accounts", &scopes, c, |s| client.list_all(
            "/v1/cloudaccounts/azure",
            None,
            s,
            Some(calls)
        )),
        gather(name, "vsphere accounts", &scopes, c, |s| client.list_all(
            "/v1/cloudaccounts/vsphere",
            None,
            s,
            Some(calls)
        )),
    )?;
    // A project missing from an incomplete project listing was never asked: nothing of any
    // kind may be deleted on the strength of such a run.
    let all_scopes = projects.complete;
    tracing::info!(
        env = name,
        clusters = clusters.found.len(),
        profiles = profiles.found.len(),
        virtual_clusters = virtuals.found.len(),
        pages = clusters.pages
            + profiles.pages
            + virtuals.pages
            + overlords.pages
            + groups.pages
            + aws.pages
            + azure.pages
            + vsphere.pages,
        api_calls = calls.load(std::sync::atomic::Ordering::Relaxed),
        "listings fetched"
    );

    // Clusters: details for new or changed ones, and the oldest few for a refresh.
    snap.clusters.complete = clusters.complete && all_scopes;
    let (mut due, mut old) = (Vec::new(), Vec::new());
    let mut listed: Vec<&Value> = Vec::new();
    for f in &clusters.found {
        let Some(row) = row_of(f, false) else {
            continue;
        };
        if !scopes.keeps(row.project_uid.as_deref()) {
            continue;
        }
        let state = models::state(&f.item).to_string();
        let target = (
            snap.clusters.rows.len(),
            row.uid.clone(),
            row.project_uid.clone(),
        );
        let k = known.clusters.get(&row.uid);
        match plan::cluster(&row.last_modified, &state, k, max_age, now) {
            Need::Fetch => due.push(target),
            Need::Refresh(at) => old.push((at, target)),
            Need::Keep => {}
        }
        listed.push(&f.item);
        snap.clusters.rows.push(ClusterRow {
            cloud_type: models::cloud_type(&f.item).to_string(),
            state,
            row,
            detail: None,
        });
    }
    let targets = with_refreshes(due, old, budget);
    let cluster_fetches = targets.len();
    // Exactly the fetched clusters are written, so only they need their list JSON.
    for (i, _, _) in &targets {
        snap.clusters.rows[*i].row.json = listed[*i].to_string();
    }
    let cluster_targets = targets;

    // Profiles and every version: details for new versions, the newest one when it changed,
    // and the oldest few for a refresh.
    snap.profiles.complete = profiles.complete && all_scopes;
    snap.versions.complete = profiles.complete && all_scopes;
    let mut seen_versions = HashSet::new();
    let (mut due, mut old) = (Vec::new(), Vec::new());
    for f in &profiles.found {
        let Some(mut row) = row_of(f, false) else {
            continue;
        };
        if !scopes.keeps(row.project_uid.as_deref()) {
            continue;
        }
        if row.last_modified.is_empty() || known.profiles.get(&row.uid) != Some(&row.last_modified)
        {
            row.json = f.item.to_string();
        }
        for v in models::profile_version_uids(&f.item) {
            if !seen_versions.insert(v.clone()) {
                continue;
            }
            let target = (snap.versions.rows.len(), v.clone(), row.project_uid.clone());
            let k = known.versions.get(&v);
            match plan::version(&v, &row.uid, &row.last_modified, k, max_age, now) {
                Need::Fetch => due.push(target),
                Need::Refresh(at) => old.push((at, target)),
                Need::Keep => {}
            }
            snap.versions.rows.push(VersionRow {
                uid: v,
                profile_uid: row.uid.clone(),
                detail: None,
            });
        }
        snap.profiles.rows.push(ProfileRow {
            profile_type: models::profile_type(&f.item).to_string(),
            cloud_type: models::profile_cloud_type(&f.item).to_string(),
            version: models::profile_version(&f.item).to_string(),
            row,
        });
    }
    let version_targets = with_refreshes(due, old, budget);
    let version_fetches = version_targets.len();

    // Virtual clusters, as listed.
    snap.virtual_clusters.complete = virtuals.complete && all_scopes;
    for f in &virtuals.found {
        let Some(mut row) = row_of(f, false) else {
            continue;
        };
        if !scopes.keeps(row.project_uid.as_deref()) {
            continue;
        }
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
        snap.virtual_clusters.rows.push(VirtualRow {
            state,
            host_cluster_uid: virt["hostCluster"]["uid"].as_str().map(str::to_string),
            cluster_group_uid: group.map(str::to_string),
            row,
        });
    }

    // Cloud accounts, secrets stripped before they go anywhere near the mirror.
    snap.cloud_accounts.complete = aws.complete && azure.complete && vsphere.complete && all_scopes;
    for (cloud, found) in [
        ("aws", aws.found),
        ("azure", azure.found),
        ("vsphere", vsphere.found),
    ] {
        for mut f in found {
            models::strip_secrets(&mut f.item);
            if let Some(row) = row_of(&f, true).filter(|r| scopes.keeps(r.project_uid.as_deref())) {
                snap.cloud_accounts.rows.push(AccountRow {
                    cloud_type: cloud.to_string(),
                    row,
                });
            }
        }
    }

    snap.overlords.complete = overlords.complete && all_scopes;
    for f in &overlords.found {
        if let Some(row) = row_of(f, true).filter(|r| scopes.keeps(r.project_uid.as_deref())) {
            snap.overlords.rows.push(OverlordRow {
                kind: f.item["kind"].as_str().unwrap_or("").to_string(),
                row,
            });
        }
    }

    // Cluster groups: details for new or changed ones (few: no refresh budget needed).
    snap.cluster_groups.complete = groups.complete && all_scopes;
    let mut targets = Vec::new();
    for f in &groups.found {
        let Some(row) = row_of(f, true).filter(|r| scopes.keeps(r.project_uid.as_deref())) else {
            continue;
        };
        if plan::group(&row.last_modified, known.groups.get(&row.uid)) == Need::Fetch {
            targets.push((
                snap.cluster_groups.rows.len(),
                row.uid.clone(),
                row.project_uid.clone(),
            ));
        }
        snap.cluster_groups.rows.push(GroupRow {
            row,
            detail_json: None,
        });
    }
    let group_targets = targets;
    let group_count = group_targets.len() as u64;

    // The listings, at once: new objects show from now on, details follow in batches.
    let w = Writes {
        db,
        env: name,
        known: &known,
        run_id,
        progress,
    };
    progress.set_total("clusters", cluster_targets.len() as u64);
    progress.set_total("profile_versions", version_targets.len() as u64);
    progress.set_total("cluster_groups", group_targets.len() as u64);
    w.apply_listings(&snap).await?;
    phase(name, progress, Phase::Details);
    // Every kind's details at once: each waits on its own prefix (cluster details on
    // `/v1/dashboard`, versions on `/v1/clusterprofiles`, groups on `/v1/clustergroups`), so
    // the slowest prefix is busy from the first detail to the last instead of idling while
    // another kind's turn comes.
    let (mut cluster_total, mut version_total) = (Counts::new(), Counts::new());
    let clusters_done = w.batches(
        "clusters",
        &snap.clusters.rows,
        cluster_targets,
        c,
        |uid, project| async move { cluster_detail(client, &uid, project.as_deref(), calls).await },
        |r, d| ClusterRow {
            detail: Some(d),
            ..r.clone()
        },
        |rows| Snapshot {
            clusters: Part::new(rows, false),
            ..Snapshot::nothing()
        },
        &mut cluster_total,
    );
    let versions_done = w.batches(
        "profile_versions",
        &snap.versions.rows,
        version_targets,
        c,
        |uid, project| async move { version_detail(client, &uid, project.as_deref(), calls).await },
        |r, d| VersionRow {
            detail: Some(d),
            ..r.clone()
        },
        |rows| Snapshot {
            versions: Part::new(rows, false),
            ..Snapshot::nothing()
        },
        &mut version_total,
    );
    let groups_done = async {
        fetch_details(group_targets, c, |uid, project| async move {
            let detail = client
                .get(format!("/v1/clustergroups/{uid}"))
                .project(project.as_deref())
                .counted(calls)
                .json_if_found()
                .await?;
            Ok(detail.map(|v| v.to_string()))
        })
        .await
        .map_err(SyncError::from)
    };
    let (clusters_done, versions_done, group_details) =
        tokio::try_join!(clusters_done, versions_done, groups_done)?;
    let mut total = cluster_total;
    snapshot::add_counts(&mut total, &version_total);
    snap.clusters.complete &=
        clusters_done.finish(name, "clusters", &mut snap.clusters, |r| &r.row.uid);
    snap.versions.complete &=
        versions_done.finish(name, "profile versions", &mut snap.versions, |r| &r.uid);
    snap.cluster_groups.complete &= place(
        name,
        "cluster groups",
        &mut snap.cluster_groups.rows,
        group_details,
        |r, d| r.detail_json = Some(d),
    );

    tracing::info!(
        env = name,
        cluster_details = cluster_fetches,
        version_details = version_fetches,
        api_calls = calls.load(std::sync::atomic::Ordering::Relaxed),
        "details fetched; applying"
    );
    progress.add_done("cluster_groups", group_count);
    phase(name, progress, Phase::Finishing);
    w.finish(&snap, total).await
}

/// Dashboard details and pack-level profiles of one cluster; `None` if it no longer exists.
async fn cluster_detail(
    client: &PaletteClient,
    uid: &str,
    project: Option<&str>,
    calls: &AtomicU64,
) -> Result<Option<ClusterDetail>, PaletteError> {
    let Some(detail) = client
        .get(format!("/v1/dashboard/spectroclusters/{uid}"))
        .project(project)
        .counted(calls)
        .json_if_found()
        .await?
    else {
        return Ok(None);
    };
    let profiles = client
        .get(format!("/v1/spectroclusters/{uid}/profiles"))
        .query("includePackMeta", "schema,presets")
        .project(project)
        .counted(calls)
        .json_if_found()
        .await?
        .unwrap_or_else(|| json!({ "profiles": [] }));
    let templates = models::cluster_templates(&detail);
    let mut refs = Vec::new();
    let mut packs = Vec::new();
    for t in &templates {
        refs.push(ProfileRef {
            version_uid: t.version_uid.to_string(),
            name: t.name.to_string(),
            version: t.version.clone(),
            profile_type: t.profile_type.to_string(),
        });
        for p in &t.packs {
            packs.push(ClusterPack {
                version_uid: t.version_uid.to_string(),
                name: p.name.to_string(),
                tag: p.tag.to_string(),
                version: p.version.to_string(),
                layer: p.layer.to_string(),
            });
        }
    }
    Ok(Some(ClusterDetail {
        health: models::health(&detail).map(str::to_string),
        kubernetes_version: models::kubernetes_version(&detail).map(str::to_string),
        detail_json: detail.to_string(),
        profiles_json: profiles.to_string(),
        refs,
        packs,
    }))
}

/// One profile version with packs (values, schema, presets) and variables; `None` if gone.
async fn version_detail(
    client: &PaletteClient,
    uid: &str,
    project: Option<&str>,
    calls: &AtomicU64,
) -> Result<Option<VersionDetail>, PaletteError> {
    if !is_valid_uid(uid) {
        return Ok(None);
    }
    let Some(detail) = client
        .get(format!("/v1/clusterprofiles/{uid}"))
        .query("includePackMeta", "schema,presets")
        .project(project)
        .counted(calls)
        .json_if_found()
        .await?
    else {
        return Ok(None);
    };
    let variables = client
        .get(format!("/v1/clusterprofiles/{uid}/variables"))
        .project(project)
        .counted(calls)
        .json_if_found()
        .await?
        .unwrap_or_else(|| json!({ "variables": [] }));
    let published = &detail["spec"]["published"];
    let packs = models::profile_packs(&detail)
        .into_iter()
        .map(|p| PackRow {
            name: p.name.to_string(),
            tag: p.tag.to_string(),
            version: p.version.to_string(),
            layer: p.layer.to_string(),
            pack_type: p.pack_type.to_string(),
            pack_uid: p.pack_uid.to_string(),
        })
        .collect();
    Ok(Some(VersionDetail {
        name: models::name(&detail).to_string(),
        version: detail["spec"]["version"]
            .as_str()
            .or_else(|| published["profileVersion"].as_str())
            .unwrap_or("")
            .to_string(),
        scope: models::scope(&detail).to_string(),
        project_uid: models::project_uid(&detail).map(str::to_string),
        profile_type: published["type"].as_str().unwrap_or("").to_string(),
        cloud_type: published["cloudType"].as_str().unwrap_or("").to_string(),
        last_modified: models::last_modified(&detail).to_string(),
        json: detail.to_string(),
        packs,
        variables_json: variables.to_string(),
    }))
}
