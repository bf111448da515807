//! One sync run of one environment, in steps: list every kind in tenant scope and in each
//! project (deduplicated); plan (pure, `plan.rs`: compare with the mirror by
//! `lastModifiedTimestamp` and state → rows to apply, details to fetch); apply the listings;
//! fetch details of every kind side by side, applied in batches (`apply.rs`); apply the rest
//! with the deletions. A warm run over an unchanged Palette costs only the list calls.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use serde_json::{Value, json};

use super::apply::{Writes, phase};
use super::index::Interner;
use super::plan::{self, Found, Gathered, Listed, Plan, Policy, Scopes, Target};
use super::progress::{Phase, Progress};
use crate::config::SyncConfig;
use crate::palette::client::virtual_cluster_filter;
use crate::palette::models::{self, is_valid_uid};
use crate::palette::{Environment, Listing, PaletteClient, PaletteError};
use crate::store::Db;
use crate::store::leases::{FenceError, Lease, Lost};
use crate::store::snapshot::{
    self, ClusterDetail, ClusterRow, Counts, ObjectRow, PackRow, Part, Snapshot, VersionDetail,
    VersionListed, VersionRow,
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
    #[error(
        "the run stopped on an internal error ({0}); nothing more was applied and the previous mirror stays — please report this"
    )]
    Panicked(String),
    /// Another replica claimed the environment (this one was paused or cut off past its
    /// lease): its writes are refused from then on.
    #[error("{0}; this run stopped there and nothing more of it was applied")]
    LeaseLost(Lost),
}

impl From<FenceError> for SyncError {
    fn from(e: FenceError) -> Self {
        match e {
            FenceError::Lost(lost) => SyncError::LeaseLost(lost),
            FenceError::Store(e) => SyncError::Store(e),
        }
    }
}

/// One kind's listings of every scope, deduplicated as their pages arrive: a kind listed
/// again in every project (tenant profiles are, with every cluster using them) is held once,
/// and only the pages in flight besides.
#[derive(Default)]
struct Fold {
    index: HashMap<String, usize>,
    found: Vec<Found>,
}

impl Fold {
    fn add(&mut self, scope: Option<&str>, items: Vec<Value>) {
        for item in items {
            let Some(uid) = models::uid(&item).map(str::to_string) else {
                continue;
            };
            match self.index.get(&uid) {
                Some(&i) => match (&self.found[i].listed_in, scope) {
                    (None, Some(p)) => self.found[i].listed_in = Some(p.to_string()),
                    (Some(q), Some(p)) if q != p => self.found[i].ambiguous = true,
                    _ => {}
                },
                None => {
                    self.index.insert(uid, self.found.len());
                    self.found.push(Found {
                        item,
                        listed_in: scope.map(str::to_string),
                        ambiguous: false,
                    });
                }
            }
        }
    }
}

fn folded<'f>(fold: &'f Mutex<Fold>) -> std::sync::MutexGuard<'f, Fold> {
    fold.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lists one kind in every scope concurrently, each scope's pages going into `fold` as they
/// arrive (`fetch` answers the pages it fetched and whether its listing was complete). A
/// scope Palette refuses (403) or does not know (404) contributes nothing and makes the
/// listing incomplete, so nothing is deleted on its account.
async fn gather<'a, F, Fut>(
    env: &str,
    kind: &str,
    scopes: &'a Scopes,
    concurrency: usize,
    fold: &Mutex<Fold>,
    fetch: F,
) -> Result<Gathered, PaletteError>
where
    F: Fn(Option<&'a str>) -> Fut,
    Fut: Future<Output = Result<(usize, bool), PaletteError>>,
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
    let mut arriving = stream::iter(futures).buffer_unordered(concurrency);
    let (mut complete, mut pages) = (true, 0);
    while let Some((scope, result)) = arriving.next().await {
        match result {
            Ok((p, c)) => {
                pages += p;
                complete &= c;
            }
            Err(e @ (PaletteError::Forbidden { .. } | PaletteError::NotFound { .. })) => {
                tracing::warn!(env, kind, project = scope.unwrap_or("tenant"), error = %e,
                    "listing refused in this scope; keeping what the mirror has");
                complete = false;
            }
            Err(e) => return Err(e),
        }
    }
    let Fold { found, .. } = std::mem::take(&mut *folded(fold));
    Ok(Gathered {
        found,
        complete,
        pages,
    })
}

/// A non-paginated list call (`{items}`, `{summaries}` or a bare array) as a listing; any
/// other answer fails the run (`PaletteClient`'s `list_items`).
async fn list_once(
    client: &PaletteClient,
    path: &str,
    project: Option<&str>,
    calls: &AtomicU64,
) -> Result<Listing, PaletteError> {
    let call = client.get(path).project(project).counted(calls);
    Ok(Listing {
        items: call.items().await?,
        pages: 1,
        complete: true,
    })
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
/// Every write is fenced by `lease`.
pub async fn run(
    env: &Environment,
    db: &Db,
    config: &SyncConfig,
    run_id: i64,
    lease: &Lease,
    progress: &Progress,
) -> Result<Counts, SyncError> {
    let name = env.name();
    let known = snapshot::known(db, name).await?;
    let (projects, scopes) = list_projects(env, &progress.calls).await?;
    let folds: [Mutex<Fold>; 7] = Default::default();
    let listed = list_kinds(env, &scopes, config.concurrency, &progress.calls, &folds).await?;
    let policy = Policy {
        max_age: chrono::Duration::seconds(config.detail_max_age_seconds as i64),
        now: chrono::Utc::now(),
        budget: config.refresh_per_run,
    };
    let mut plan = plan::plan(projects, &scopes, listed, &known, &policy);
    let w = Writes {
        db,
        env: name,
        known: &known,
        run_id,
        lease,
        progress,
    };
    super::guard::hold_mass_deletions(&w, &mut plan.snap, config).await?;
    // The listings, at once: new objects show from now on, details follow in batches.
    progress.set_total("clusters", plan.clusters.len() as u64);
    progress.set_total("profile_versions", plan.versions.len() as u64);
    progress.set_total("cluster_groups", plan.groups.len() as u64);
    w.apply_listings(&mut plan.snap).await?;
    phase(name, progress, Phase::Details);
    let (snap, total) = details(env, &w, plan, config.concurrency).await?;
    phase(name, progress, Phase::Finishing);
    w.finish(&snap, total).await
}

/// The projects (include/exclude applied) and the scopes to list everything else in.
async fn list_projects(
    env: &Environment,
    calls: &AtomicU64,
) -> Result<(Part<ObjectRow>, Scopes), SyncError> {
    let projects = env
        .client
        .list_all(
            "/v1/dashboard/projects",
            Some(json!({"filter": {}, "sort": [{"field": "name", "order": "asc"}]})),
            None,
            Some(calls),
        )
        .await?;
    let pages = projects.pages;
    let c = &env.config;
    let (part, scopes) = plan::projects(
        projects.items,
        projects.complete,
        &c.include_projects,
        &c.exclude_projects,
    );
    tracing::info!(
        env = env.name(),
        projects = part.rows.len(),
        pages,
        "projects listed"
    );
    Ok((part, scopes))
}

/// Every kind in every scope, side by side.
async fn list_kinds<'a>(
    env: &'a Environment,
    scopes: &'a Scopes,
    c: usize,
    calls: &'a AtomicU64,
    folds: &'a [Mutex<Fold>; 7],
) -> Result<Listed, SyncError> {
    let (name, client) = (env.name(), &env.client);
    let paged = |path: &'static str, body: Option<Value>, fold: &'a Mutex<Fold>| {
        move |s: Option<&'a str>| {
            let method = if body.is_some() {
                Method::POST
            } else {
                Method::GET
            };
            let mut call = client.request(method, path).project(s).counted(calls);
            if let Some(b) = body.clone() {
                call = call.json_body(b);
            }
            call.each_page(move |items| folded(fold).add(s, items))
        }
    };
    let once = |path: &'static str, fold: &'a Mutex<Fold>| {
        move |s: Option<&'a str>| async move {
            let listing = list_once(client, path, s, calls).await?;
            folded(fold).add(s, listing.items);
            Ok((1, true))
        }
    };
    let profile_body = json!({"filter": {}, "sort": [{"field": "profileName", "order": "asc"}]});
    let (clusters, profiles, virtual_clusters, overlords, cluster_groups, aws, azure, vsphere) = tokio::try_join!(
        super::listing::list_clusters(name, client, scopes, c, calls),
        gather(
            name,
            "profiles",
            scopes,
            c,
            &folds[0],
            paged(
                "/v1/dashboard/clusterprofiles",
                Some(profile_body),
                &folds[0]
            )
        ),
        gather(
            name,
            "virtual clusters",
            scopes,
            c,
            &folds[1],
            paged(
                "/v1/dashboard/spectroclusters/search",
                Some(virtual_cluster_filter()),
                &folds[1]
            )
        ),
        gather(
            name,
            "overlords",
            scopes,
            c,
            &folds[2],
            once("/v1/overlords", &folds[2])
        ),
        gather(
            name,
            "cluster groups",
            scopes,
            c,
            &folds[3],
            once("/v1/clustergroups/hostCluster", &folds[3])
        ),
        gather(
            name,
            "aws accounts",
            scopes,
            c,
            &folds[4],
            paged("/v1/cloudaccounts/aws", None, &folds[4])
        ),
        gather(
            name,
            "azure accounts",
            scopes,
            c,
            &folds[5],
            paged("/v1/cloudaccounts/azure", None, &folds[5])
        ),
        gather(
            name,
            "vsphere accounts",
            scopes,
            c,
            &folds[6],
            paged("/v1/cloudaccounts/vsphere", None, &folds[6])
        ),
    )?;
    let listed = Listed {
        clusters,
        profiles,
        virtual_clusters,
        overlords,
        cluster_groups,
        accounts: crate::domain::ACCOUNT_CLOUDS
            .into_iter()
            .zip([aws, azure, vsphere])
            .collect(),
    };
    tracing::info!(
        env = name,
        clusters = listed.clusters.found.len(),
        clusters_without_index = listed.clusters.unindexed(),
        profiles = listed.profiles.found.len(),
        virtual_clusters = listed.virtual_clusters.found.len(),
        api_calls = calls.load(std::sync::atomic::Ordering::Relaxed),
        "listings fetched"
    );
    Ok(listed)
}

/// Every kind's details at once: each waits on its own prefix (cluster details on
/// `/v1/dashboard`, versions on `/v1/clusterprofiles`, groups on `/v1/clustergroups`), so the
/// slowest prefix is busy from the first detail to the last instead of idling while another
/// kind's turn comes. Returns what is left for the last transaction, and the batches' counts.
async fn details(
    env: &Environment,
    w: &Writes<'_>,
    plan: Plan,
    c: usize,
) -> Result<(Snapshot, Counts), SyncError> {
    let (name, client, calls) = (env.name(), &env.client, &w.progress.calls);
    let Plan {
        mut snap,
        clusters,
        versions,
        groups,
    } = plan;
    let (cluster_fetches, version_fetches) = (clusters.len(), versions.len());
    let interner = &Mutex::new(Interner::default());
    let group_count = groups.len() as u64;
    let (mut cluster_total, mut version_total) = (Counts::new(), Counts::new());
    let clusters_done = w.batches(
        "clusters",
        &snap.clusters.rows,
        clusters,
        c,
        |uid, project| async move {
            // A person's read may have fetched it meanwhile.
            let known = w.known.clusters.get(&uid);
            if let Some(d) = super::detail::written_meanwhile(w.db, name, &uid, known).await {
                return Ok(Some(d));
            }
            cluster_detail(client, &uid, project.as_deref(), calls, interner).await
        },
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
        versions,
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
        fetch_details(groups, c, |uid, project| async move {
            group_detail(client, &uid, project.as_deref(), calls).await
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
    w.progress.add_done("cluster_groups", group_count);
    tracing::info!(
        env = name,
        cluster_details = cluster_fetches,
        version_details = version_fetches,
        api_calls = calls.load(std::sync::atomic::Ordering::Relaxed),
        "details fetched; applying"
    );
    Ok((snap, total))
}

/// One cluster group's details as text; `None` if it no longer exists.
async fn group_detail(
    client: &PaletteClient,
    uid: &str,
    project: Option<&str>,
    calls: &AtomicU64,
) -> Result<Option<String>, PaletteError> {
    let detail = client
        .get(format!("/v1/clustergroups/{uid}"))
        .project(project)
        .counted(calls)
        .object_if_found()
        .await?;
    Ok(detail.map(|v| v.to_string()))
}

/// Dashboard details and pack-level profiles of one cluster; `None` if it no longer exists.
async fn cluster_detail(
    client: &PaletteClient,
    uid: &str,
    project: Option<&str>,
    calls: &AtomicU64,
    interner: &Mutex<Interner>,
) -> Result<Option<ClusterDetail>, PaletteError> {
    let Some(detail) = client
        .get(format!("/v1/dashboard/spectroclusters/{uid}"))
        .project(project)
        .counted(calls)
        .object_if_found()
        .await?
    else {
        return Ok(None);
    };
    let profiles = client
        .get(format!("/v1/spectroclusters/{uid}/profiles"))
        .query("includePackMeta", "schema,presets")
        .project(project)
        .counted(calls)
        .object_if_found()
        .await?
        .unwrap_or_else(|| json!({ "profiles": [] }));
    let mut interner = interner.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Some(super::detail::cluster_detail(
        &detail,
        profiles.to_string(),
        &mut interner,
    )))
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
        .object_if_found()
        .await?
    else {
        return Ok(None);
    };
    let variables = client
        .get(format!("/v1/clusterprofiles/{uid}/variables"))
        .project(project)
        .counted(calls)
        .object_if_found()
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
        columns: VersionListed {
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
        },
        json: detail.to_string(),
        packs,
        variables_json: variables.to_string(),
    }))
}
