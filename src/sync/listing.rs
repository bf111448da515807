//! The cluster listing of a run, kept compact so that memory stays flat whatever the fleet's
//! size: every scope's `GET /v1/dashboard/spectroclusters/meta` (what `/clusters` answers
//! with), and the paged cluster search (`POST /v1/dashboard/spectroclusters/search`), whose
//! items carry each cluster's profile versions, packs, state and health — the reverse index,
//! complete the moment the listings apply. Each item is parsed on its own and reduced to its
//! columns, its JSON text and its interned index; no whole listing is held as a JSON tree.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use futures::{StreamExt, stream};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::index::{self, Interner};
use super::plan::Scopes;
use crate::palette::client::list_items;
use crate::palette::models;
use crate::palette::{PaletteClient, PaletteError};
use crate::store::snapshot::ClusterIndex;

const META: &str = "/v1/dashboard/spectroclusters/meta";
const SEARCH: &str = "/v1/dashboard/spectroclusters/search";

/// One listed cluster: the columns a run needs, and its JSON as the mirror stores it.
#[derive(Debug, Clone)]
pub struct ListedCluster {
    pub uid: String,
    pub name: String,
    /// `metadata.annotations.scope` as Palette says it (or inferred).
    pub item_scope: String,
    /// The annotations say `tenant` outright.
    pub explicit_tenant: bool,
    /// `metadata.annotations.projectUid`.
    pub item_project: Option<String>,
    pub last_modified: String,
    pub state: String,
    pub cloud_type: String,
    pub json: String,
    /// The project scope it was (also) listed in.
    pub listed_in: Option<String>,
    /// Listed in more than one project.
    pub ambiguous: bool,
}

impl ListedCluster {
    pub fn of(item: &Value, listed_in: Option<&str>) -> Option<ListedCluster> {
        Some(ListedCluster {
            uid: models::uid(item)?.to_string(),
            name: models::name(item).to_string(),
            item_scope: models::scope(item).to_string(),
            explicit_tenant: item["metadata"]["annotations"]["scope"].as_str() == Some("tenant"),
            item_project: models::project_uid(item).map(str::to_string),
            last_modified: models::last_modified(item).to_string(),
            state: models::state(item).to_string(),
            cloud_type: models::cloud_type(item).to_string(),
            json: item.to_string(),
            listed_in: listed_in.map(str::to_string),
            ambiguous: false,
        })
    }
}

/// Every scope's clusters, deduplicated, with the index the search listed for each.
#[derive(Debug, Default)]
pub struct ClusterListing {
    pub found: Vec<ListedCluster>,
    /// By uid: the search listing's index; `None` where it left the packs out. A cluster
    /// missing here was not in the search at all (its details bring its index).
    pub index: HashMap<String, Option<ClusterIndex>>,
    /// Every scope answered, and every listing was complete (deletions allowed).
    pub complete: bool,
    pub pages: usize,
}

impl ClusterListing {
    /// Adds one scope's clusters: a cluster listed again keeps its first listing, and is
    /// ambiguous when two different projects listed it.
    fn merge(&mut self, at: &mut HashMap<String, usize>, items: Vec<ListedCluster>) {
        for c in items {
            match at.get(&c.uid) {
                Some(&i) => {
                    let f = &mut self.found[i];
                    match (&f.listed_in, &c.listed_in) {
                        (None, Some(p)) => f.listed_in = Some(p.clone()),
                        (Some(q), Some(p)) if q != p => f.ambiguous = true,
                        _ => {}
                    }
                }
                None => {
                    at.insert(c.uid.clone(), self.found.len());
                    self.found.push(c);
                }
            }
        }
    }

    fn add_index(&mut self, uid: String, i: Option<ClusterIndex>) {
        match self.index.get(&uid) {
            Some(Some(_)) => {}
            _ => {
                self.index.insert(uid, i);
            }
        }
    }

    /// Clusters listed but without an index yet.
    pub fn unindexed(&self) -> usize {
        self.found
            .iter()
            .filter(|c| !matches!(self.index.get(&c.uid), Some(Some(_))))
            .count()
    }
}

/// What listing one scope's clusters found.
struct ScopeList {
    items: Vec<ListedCluster>,
    /// The meta listing was missing (an older Palette): these came from the search, which
    /// also gave their index.
    searched: Vec<(String, Option<ClusterIndex>)>,
    pages: usize,
    complete: bool,
}

/// The search body: every cluster, by name (offset paging needs a stable order).
fn search_body() -> Value {
    json!({"filter": {}, "sort": [{"field": "clusterName", "order": "asc"}]})
}

/// The items of the `meta` answer (a bare array, or `{items}`), each reduced as it is read;
/// any other shape is refused as the client refuses it ([`list_items`]).
fn meta_items(body: &[u8], listed_in: Option<&str>) -> Result<Vec<ListedCluster>, PaletteError> {
    #[derive(serde::Deserialize)]
    struct Wrapped<'a> {
        #[serde(borrow)]
        items: Vec<&'a RawValue>,
    }
    let decode = |message: String| PaletteError::Decode {
        path: META.to_string(),
        message,
    };
    let raw: Vec<&RawValue> = match serde_json::from_slice::<Vec<&RawValue>>(body) {
        Ok(a) => a,
        Err(_) => match serde_json::from_slice::<Wrapped>(body) {
            Ok(w) => w.items,
            Err(_) => {
                let v: Value = serde_json::from_slice(body).map_err(|e| decode(e.to_string()))?;
                let items = list_items(&format!("GET {META}"), v)?;
                return Ok(items
                    .iter()
                    .filter_map(|i| ListedCluster::of(i, listed_in))
                    .collect());
            }
        },
    };
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let item: Value = serde_json::from_str(r.get()).map_err(|e| decode(e.to_string()))?;
        out.extend(ListedCluster::of(&item, listed_in));
    }
    Ok(out)
}

/// One scope's `meta` listing; a Palette without it (404) is paged through the search,
/// which then also gives the index.
async fn list_scope(
    client: &PaletteClient,
    project: Option<&str>,
    calls: &AtomicU64,
    interner: &Mutex<Interner>,
) -> Result<ScopeList, PaletteError> {
    let answer = client
        .get(META)
        .project(project)
        .counted(calls)
        .listing()
        .send()
        .await;
    match answer {
        Ok(a) => Ok(ScopeList {
            items: meta_items(&a.body, project)?,
            searched: Vec::new(),
            pages: 1,
            complete: true,
        }),
        Err(PaletteError::NotFound { .. }) => {
            let (mut items, mut searched) = (Vec::new(), Vec::new());
            let call = client.post(SEARCH).json_body(search_body());
            let (pages, complete) = call
                .project(project)
                .counted(calls)
                .each_page(|page| {
                    let mut interner = interner.lock().unwrap_or_else(|e| e.into_inner());
                    for item in page {
                        if let Some(c) = ListedCluster::of(&item, project) {
                            searched
                                .push((c.uid.clone(), index::from_listing(&item, &mut interner)));
                            items.push(c);
                        }
                    }
                })
                .await?;
            Ok(ScopeList {
                items,
                searched,
                pages,
                complete,
            })
        }
        Err(e) => Err(e),
    }
}

/// The search listing's index of the clusters in one scope, page by page; only clusters in
/// `wanted` are kept.
async fn search_index(
    client: &PaletteClient,
    project: Option<&str>,
    calls: &AtomicU64,
    interner: &Mutex<Interner>,
    wanted: &HashSet<String>,
) -> Result<(Vec<(String, Option<ClusterIndex>)>, usize), PaletteError> {
    let mut out = Vec::new();
    let call = client.post(SEARCH).json_body(search_body());
    let (pages, _) = call
        .project(project)
        .counted(calls)
        .each_page(|page| {
            let mut interner = interner.lock().unwrap_or_else(|e| e.into_inner());
            for item in page {
                let Some(uid) = models::uid(&item).filter(|u| wanted.contains(*u)) else {
                    continue;
                };
                out.push((uid.to_string(), index::from_listing(&item, &mut interner)));
            }
        })
        .await?;
    Ok((out, pages))
}

/// Clusters in every scope: the `meta` listings side by side, then the search in tenant
/// scope (which sees every project the key may see), then in the projects whose clusters the
/// tenant search did not return. A scope Palette refuses (403) or does not know (404)
/// contributes nothing and makes the listing incomplete, so nothing is deleted on its account.
pub async fn list_clusters(
    env: &str,
    client: &PaletteClient,
    scopes: &Scopes,
    concurrency: usize,
    calls: &AtomicU64,
) -> Result<ClusterListing, PaletteError> {
    let interner = Mutex::new(Interner::default());
    let mut listing = ClusterListing {
        complete: true,
        ..ClusterListing::default()
    };
    let mut at = HashMap::new();
    // Built eagerly, then driven with bounded concurrency: a closure inside a stream adapter
    // would make the spawned run future not `Send` (higher-ranked lifetimes).
    let futures: Vec<_> = scopes
        .list
        .iter()
        .map(|s| {
            let scope = s.as_deref();
            let fut = list_scope(client, scope, calls, &interner);
            async move { (scope, fut.await) }
        })
        .collect();
    let results: Vec<_> = stream::iter(futures)
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (scope, result) in results {
        match result {
            Ok(s) => {
                listing.complete &= s.complete;
                listing.pages += s.pages;
                for (uid, i) in s.searched {
                    listing.add_index(uid, i);
                }
                listing.merge(&mut at, s.items);
            }
            Err(e @ (PaletteError::Forbidden { .. } | PaletteError::NotFound { .. })) => {
                tracing::warn!(env, kind = "clusters", project = scope.unwrap_or("tenant"), error = %e,
                    "listing refused in this scope; keeping what the mirror has");
                listing.complete = false;
            }
            Err(e) => return Err(e),
        }
    }
    index_from_search(env, client, &mut listing, calls, &interner).await?;
    Ok(listing)
}

/// Fills in the index of the listed clusters from the search: tenant scope first, then each
/// project that still has clusters without one.
async fn index_from_search(
    env: &str,
    client: &PaletteClient,
    listing: &mut ClusterListing,
    calls: &AtomicU64,
    interner: &Mutex<Interner>,
) -> Result<(), PaletteError> {
    let missing = |l: &ClusterListing| -> HashSet<String> {
        l.found
            .iter()
            .filter(|c| !l.index.contains_key(&c.uid))
            .map(|c| c.uid.clone())
            .collect()
    };
    let wanted = missing(listing);
    if wanted.is_empty() {
        return Ok(());
    }
    let mut scopes: Vec<Option<String>> = vec![None];
    let mut asked = HashSet::new();
    while let Some(scope) = scopes.pop() {
        let wanted = missing(listing);
        if wanted.is_empty() {
            break;
        }
        match search_index(client, scope.as_deref(), calls, interner, &wanted).await {
            Ok((found, pages)) => {
                listing.pages += pages;
                for (uid, i) in found {
                    listing.add_index(uid, i);
                }
            }
            // Without the search the index waits for each cluster's details.
            Err(e @ (PaletteError::Forbidden { .. } | PaletteError::NotFound { .. })) => {
                tracing::warn!(env, project = scope.as_deref().unwrap_or("tenant"), error = %e,
                    "cluster search refused in this scope; those clusters are indexed from their details");
            }
            Err(e) => return Err(e),
        }
        asked.insert(scope);
        if asked.len() == 1 {
            // The projects whose clusters the tenant search did not return.
            let still = missing(listing);
            let projects: HashSet<Option<String>> = listing
                .found
                .iter()
                .filter(|c| still.contains(&c.uid))
                .filter_map(|c| c.listed_in.clone().or(c.item_project.clone()))
                .map(Some)
                .collect();
            scopes.extend(projects.into_iter().filter(|p| !asked.contains(p)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(uid: &str, listed_in: Option<&str>) -> ListedCluster {
        ListedCluster {
            uid: uid.into(),
            name: uid.into(),
            item_scope: "project".into(),
            explicit_tenant: false,
            item_project: None,
            last_modified: String::new(),
            state: "Running".into(),
            cloud_type: "aws".into(),
            json: "{}".into(),
            listed_in: listed_in.map(str::to_string),
            ambiguous: false,
        }
    }

    #[test]
    fn merging_scopes_keeps_one_row_per_cluster() {
        let mut l = ClusterListing::default();
        let mut at = HashMap::new();
        l.merge(&mut at, vec![listed("a", None), listed("b", None)]);
        l.merge(&mut at, vec![listed("a", Some("p1"))]);
        l.merge(
            &mut at,
            vec![listed("a", Some("p2")), listed("c", Some("p2"))],
        );
        assert_eq!(l.found.len(), 3);
        assert_eq!(l.found[0].listed_in.as_deref(), Some("p1"));
        assert!(l.found[0].ambiguous, "listed in two projects");
        assert!(!l.found[1].ambiguous);
    }

    #[test]
    fn an_index_is_not_replaced_by_a_listing_without_one() {
        let mut l = ClusterListing::default();
        l.add_index("a".into(), None);
        l.add_index("a".into(), Some(ClusterIndex::default()));
        l.add_index("a".into(), None);
        assert!(matches!(l.index.get("a"), Some(Some(_))));
    }

    #[test]
    fn meta_answers_of_the_wrong_shape_are_refused() {
        assert!(meta_items(b"42", None).is_err());
        assert!(meta_items(b"{}", None).is_err());
        assert!(meta_items(b"null", None).is_err());
        assert!(meta_items(b"{\"error\":\"maintenance\"}", None).is_err());
        assert_eq!(meta_items(b"[]", None).map(|v| v.len()).ok(), Some(0));
        assert_eq!(
            meta_items(b"{\"items\":[]}", None).map(|v| v.len()).ok(),
            Some(0)
        );
    }
}
