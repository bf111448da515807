//! One sync run of one environment: list every kind in tenant scope and in each project
//! (deduplicated), compare with the mirror by `lastModifiedTimestamp` (and state), fetch details
//! only for new or changed objects with bounded concurrency, then apply everything at once.
//! A warm run over an unchanged Palette costs only the list calls.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;

use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

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
    #[error("the run took longer than {0} s and was abandoned; nothing was applied")]
    TimedOut(u64),
    #[error("the service is shutting down; nothing was applied")]
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

/// Lists one kind in every scope concurrently and deduplicates by uid. A scope Palette refuses
/// (403) or does not know (404) contributes nothing and makes the listing incomplete, so
/// nothing is deleted on its account.
async fn gather<'a, F, Fut>(
    env: &str,
    kind: &str,
    scopes: &'a Scopes,
    concurrency: usize,
    fetch: F,
) -> Result<(Vec<Value>, bool), PaletteError>
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
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    let mut complete = true;
    for (scope, result) in results {
        match result {
            Ok(listing) => {
                complete &= listing.complete;
                for item in listing.items {
                    if let Some(uid) = models::uid(&item)
                        && seen.insert(uid.to_string())
                    {
                        items.push(item);
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
    Ok((items, complete))
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

fn object_row(item: &Value) -> Option<ObjectRow> {
    let mut row = row_without_json(item)?;
    row.json = item.to_string();
    Some(row)
}

/// The row's columns without serialising its JSON: unchanged objects (most of them, in a warm
/// run) are never written, so their JSON is never needed.
fn row_without_json(item: &Value) -> Option<ObjectRow> {
    Some(ObjectRow {
        uid: models::uid(item)?.to_string(),
        name: models::name(item).to_string(),
        scope: models::scope(item).to_string(),
        project_uid: models::project_uid(item).map(str::to_string),
        last_modified: models::last_modified(item).to_string(),
        json: String::new(),
    })
}

/// Runs one sync of `env`; `calls` counts every Palette request made.
pub async fn run(
    env: &Environment,
    db: &Db,
    concurrency: usize,
    calls: &AtomicU64,
) -> Result<Counts, SyncError> {
    let name = env.name();
    let client = &env.client;
    let known = snapshot::known(db, name).await?;

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
        projects: Part {
            rows: Vec::new(),
            complete: projects.complete,
        },
        ..Snapshot::default()
    };
    for item in &projects.items {
        let pname = models::name(item);
        if (!include.is_empty() && !include.iter().any(|p| p == pname))
            || exclude.iter().any(|p| p == pname)
        {
            continue;
        }
        if let Some(row) = object_row(item) {
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
    let c = concurrency;
    let profile_body = json!({"filter": {}, "sort": [{"field": "profileName", "order": "asc"}]});
    let (clusters, profiles, virtuals, overlords, groups, aws, azure, vsphere) = tokio::try_join!(
        gather(name, "clusters", &scopes, c, |s| list_once(
            client,
            "/v1/dashboard/spectroclusters/meta",
            s,
            calls
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
    let keep = |item: &Value| scopes.keeps(models::project_uid(item));
    tracing::info!(
        env = name,
        clusters = clusters.0.len(),
        profiles = profiles.0.len(),
        virtual_clusters = virtuals.0.len(),
        api_calls = calls.load(std::sync::atomic::Ordering::Relaxed),
        "listings fetched"
    );

    // Clusters: details only for new or changed ones.
    snap.clusters.complete = clusters.1;
    let mut need = Vec::new();
    for item in clusters.0.iter().filter(|i| keep(i)) {
        let Some(mut row) = row_without_json(item) else {
            continue;
        };
        let state = models::state(item).to_string();
        let fetch = match known.clusters.get(&row.uid) {
            None => true,
            Some((lm, st, has_detail)) => *lm != row.last_modified || *st != state || !has_detail,
        };
        if fetch {
            row.json = item.to_string();
            need.push(snap.clusters.rows.len());
        }
        snap.clusters.rows.push(ClusterRow {
            cloud_type: models::cloud_type(item).to_string(),
            state,
            row,
            detail: None,
        });
    }
    let targets: Vec<(usize, String, Option<String>)> = need
        .iter()
        .map(|i| {
            let r = &snap.clusters.rows[*i].row;
            (*i, r.uid.clone(), r.project_uid.clone())
        })
        .collect();
    let futures: Vec<_> = targets
        .into_iter()
        .map(|(i, uid, project)| async move {
            Ok::<_, PaletteError>((
                i,
                cluster_detail(client, &uid, project.as_deref(), calls).await?,
            ))
        })
        .collect();
    let details: Vec<(usize, Option<ClusterDetail>)> = stream::iter(futures)
        .buffer_unordered(c)
        .try_collect()
        .await?;
    let mut gone = HashSet::new();
    for (i, d) in details {
        match d {
            Some(d) => snap.clusters.rows[i].detail = Some(d),
            None => {
                gone.insert(i);
            }
        }
    }
    if !gone.is_empty() {
        // Deleted between the listing and the detail call.
        let mut i = 0;
        snap.clusters.rows.retain(|_| {
            let keep = !gone.contains(&i);
            i += 1;
            keep
        });
    }

    // Profiles and every version: details only for new versions, or the newest one changed.
    snap.profiles.complete = profiles.1;
    snap.versions.complete = profiles.1;
    let mut seen_versions = HashSet::new();
    let mut version_targets = Vec::new();
    for item in profiles.0.iter().filter(|i| keep(i)) {
        let Some(mut row) = row_without_json(item) else {
            continue;
        };
        if known.profiles.get(&row.uid) != Some(&row.last_modified) {
            row.json = item.to_string();
        }
        for v in models::profile_version_uids(item) {
            if !seen_versions.insert(v.clone()) {
                continue;
            }
            let fetch = match known.versions.get(&v) {
                None => true,
                Some((_, lm, _)) => v == row.uid && *lm != row.last_modified,
            };
            if fetch {
                version_targets.push((
                    snap.versions.rows.len(),
                    v.clone(),
                    row.project_uid.clone(),
                ));
            }
            snap.versions.rows.push(VersionRow {
                uid: v,
                profile_uid: row.uid.clone(),
                detail: None,
            });
        }
        snap.profiles.rows.push(ProfileRow {
            profile_type: models::profile_type(item).to_string(),
            cloud_type: models::profile_cloud_type(item).to_string(),
            version: models::profile_version(item).to_string(),
            row,
        });
    }
    let fetched_versions = version_targets.len();
    let futures: Vec<_> = version_targets
        .into_iter()
        .map(|(i, uid, project)| async move {
            Ok::<_, PaletteError>((
                i,
                version_detail(client, &uid, project.as_deref(), calls).await?,
            ))
        })
        .collect();
    let version_details: Vec<(usize, Option<VersionDetail>)> = stream::iter(futures)
        .buffer_unordered(c)
        .try_collect()
        .await?;
    let mut gone = HashSet::new();
    for (i, d) in version_details {
        match d {
            Some(d) => snap.versions.rows[i].detail = Some(d),
            None => {
                gone.insert(i);
            }
        }
    }
    if !gone.is_empty() {
        let mut i = 0;
        snap.versions.rows.retain(|_| {
            let keep = !gone.contains(&i);
            i += 1;
            keep
        });
    }

    // Virtual clusters, as listed.
    snap.virtual_clusters.complete = virtuals.1;
    for item in virtuals.0.iter().filter(|i| keep(i)) {
        let Some(mut row) = row_without_json(item) else {
            continue;
        };
        let unchanged = known.virtual_clusters.get(&row.uid)
            == Some(&(row.last_modified.clone(), models::state(item).to_string()));
        if !unchanged {
            row.json = item.to_string();
        }
        let virt = &item["status"]["virtual"];
        let group = virt["clusterGroup"]["uid"].as_str().or_else(|| {
            item["specSummary"]["clusterConfig"]["hostClusterConfig"]["clusterGroup"]["uid"]
                .as_str()
        });
        snap.virtual_clusters.rows.push(VirtualRow {
            state: models::state(item).to_string(),
            host_cluster_uid: virt["hostCluster"]["uid"].as_str().map(str::to_string),
            cluster_group_uid: group.map(str::to_string),
            row,
        });
    }

    // Cloud accounts, secrets stripped before they go anywhere near the mirror.
    snap.cloud_accounts.complete = aws.1 && azure.1 && vsphere.1;
    for (cloud, items) in [("aws", aws.0), ("azure", azure.0), ("vsphere", vsphere.0)] {
        for mut item in items {
            if !keep(&item) {
                continue;
            }
            models::strip_secrets(&mut item);
            if let Some(row) = object_row(&item) {
                snap.cloud_accounts.rows.push(AccountRow {
                    cloud_type: cloud.to_string(),
                    row,
                });
            }
        }
    }

    snap.overlords.complete = overlords.1;
    for item in overlords.0.iter().filter(|i| keep(i)) {
        if let Some(row) = object_row(item) {
            snap.overlords.rows.push(OverlordRow {
                kind: item["kind"].as_str().unwrap_or("").to_string(),
                row,
            });
        }
    }

    // Cluster groups: details for new or changed ones.
    snap.cluster_groups.complete = groups.1;
    let mut group_targets = Vec::new();
    for item in groups.0.iter().filter(|i| keep(i)) {
        let Some(row) = object_row(item) else {
            continue;
        };
        let fetch = match known.groups.get(&row.uid) {
            None => true,
            Some((lm, has)) => *lm != row.last_modified || !has,
        };
        if fetch {
            group_targets.push((
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
    let futures: Vec<_> = group_targets
        .into_iter()
        .map(|(i, uid, project)| async move {
            let d = match client
                .get(format!("/v1/clustergroups/{uid}"))
                .project(project.as_deref())
                .counted(calls)
                .json()
                .await
            {
                Ok(v) => Some(v.to_string()),
                Err(PaletteError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            Ok::<_, PaletteError>((i, d))
        })
        .collect();
    let group_details: Vec<(usize, Option<String>)> = stream::iter(futures)
        .buffer_unordered(c)
        .try_collect()
        .await?;
    for (i, d) in group_details {
        snap.cluster_groups.rows[i].detail_json = d;
    }

    tracing::info!(
        env = name,
        cluster_details = need.len(),
        version_details = fetched_versions,
        api_calls = calls.load(std::sync::atomic::Ordering::Relaxed),
        "details fetched; applying"
    );
    let counts = snapshot::apply(db, name, &snap, &known, &crate::store::now_text()).await?;
    Ok(counts)
}

/// Dashboard details and pack-level profiles of one cluster; `None` if it no longer exists.
async fn cluster_detail(
    client: &PaletteClient,
    uid: &str,
    project: Option<&str>,
    calls: &AtomicU64,
) -> Result<Option<ClusterDetail>, PaletteError> {
    let detail = match client
        .get(format!("/v1/dashboard/spectroclusters/{uid}"))
        .project(project)
        .counted(calls)
        .json()
        .await
    {
        Ok(v) => v,
        Err(PaletteError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let profiles = match client
        .get(format!("/v1/spectroclusters/{uid}/profiles"))
        .query("includePackMeta", "schema,presets")
        .project(project)
        .counted(calls)
        .json()
        .await
    {
        Ok(v) => v,
        Err(PaletteError::NotFound { .. }) => json!({ "profiles": [] }),
        Err(e) => return Err(e),
    };
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
    let detail = match client
        .get(format!("/v1/clusterprofiles/{uid}"))
        .query("includePackMeta", "schema,presets")
        .project(project)
        .counted(calls)
        .json()
        .await
    {
        Ok(v) => v,
        Err(PaletteError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let variables = match client
        .get(format!("/v1/clusterprofiles/{uid}/variables"))
        .project(project)
        .counted(calls)
        .json()
        .await
    {
        Ok(v) => v,
        Err(PaletteError::NotFound { .. }) => json!({ "variables": [] }),
        Err(e) => return Err(e),
    };
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
