//! A cluster's reverse index (the profile versions it runs, their packs, its health and
//! kubernetes version) from Palette's JSON: the cluster search listing
//! (`specSummary.clusterProfileTemplates[].packs`) or the cluster's own details. Templates are
//! interned, so a listing of 100,000 clusters holds each distinct template once.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::palette::models;
use crate::store::snapshot::{ClusterIndex, ClusterPack, ProfileRef, Template};

/// Shares equal templates between clusters.
#[derive(Debug, Default)]
pub struct Interner {
    by_version: HashMap<String, Vec<Arc<Template>>>,
}

impl Interner {
    fn intern(&mut self, t: Template) -> Arc<Template> {
        let same = self
            .by_version
            .entry(t.reference.version_uid.clone())
            .or_default();
        if let Some(found) = same.iter().find(|x| ***x == t) {
            return found.clone();
        }
        let t = Arc::new(t);
        same.push(t.clone());
        t
    }
}

/// The templates array of a listed cluster or a cluster detail.
fn templates_of(item: &Value) -> Option<&Vec<Value>> {
    [
        &item["spec"]["clusterProfileTemplates"],
        &item["specSummary"]["clusterProfileTemplates"],
    ]
    .into_iter()
    .find_map(Value::as_array)
}

/// Whether a listed cluster carries its whole index: a templates array, and a packs array in
/// every template. A Palette that leaves them out of the search listing leaves the index to
/// the cluster's details.
pub fn listing_has_index(item: &Value) -> bool {
    templates_of(item).is_some_and(|ts| ts.iter().all(|t| t["packs"].is_array()))
}

/// The index of a cluster from the search listing; `None` when the listing leaves it out.
pub fn from_listing(item: &Value, interner: &mut Interner) -> Option<ClusterIndex> {
    if !listing_has_index(item) {
        return None;
    }
    let templates = templates(item, interner);
    Some(ClusterIndex {
        health: models::health(item).map(str::to_string),
        kubernetes_version: kubernetes_pack_tag(&templates),
        templates,
    })
}

/// The index of a cluster from its details (authoritative: a missing list is no profile).
pub fn from_detail(detail: &Value, interner: &mut Interner) -> ClusterIndex {
    ClusterIndex {
        health: models::health(detail).map(str::to_string),
        kubernetes_version: models::kubernetes_version(detail).map(str::to_string),
        templates: templates(detail, interner),
    }
}

fn templates(item: &Value, interner: &mut Interner) -> Vec<Arc<Template>> {
    models::cluster_templates(item)
        .into_iter()
        .map(|t| {
            let version_uid = t.version_uid.to_string();
            let packs = t
                .packs
                .iter()
                .map(|p| ClusterPack {
                    version_uid: version_uid.clone(),
                    name: p.name.to_string(),
                    tag: p.tag.to_string(),
                    version: p.version.to_string(),
                    layer: p.layer.to_string(),
                })
                .collect();
            interner.intern(Template {
                reference: ProfileRef {
                    version_uid,
                    name: t.name.to_string(),
                    version: t.version,
                    profile_type: t.profile_type.to_string(),
                },
                packs,
            })
        })
        .collect()
}

/// The kubernetes version a listed cluster asks for: the tag of its `k8s` layer pack (the
/// listing does not carry the running version its details report).
fn kubernetes_pack_tag(templates: &[Arc<Template>]) -> Option<String> {
    templates
        .iter()
        .flat_map(|t| t.packs.iter())
        .find(|p| p.layer == "k8s")
        .map(|p| if p.tag.is_empty() { &p.version } else { &p.tag })
        .filter(|v| !v.is_empty())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed(packs: Option<Value>) -> Value {
        let mut t = json!({"uid": "6732677ce46389af646d517a", "name": "base", "type": "cluster",
                           "profileVersion": "1.0.0"});
        if let Some(p) = packs {
            t["packs"] = p;
        }
        json!({"metadata": {"uid": "c1"}, "specSummary": {"clusterProfileTemplates": [t]},
               "status": {"state": "Running", "health": {"state": "Healthy"}}})
    }

    #[test]
    fn a_listing_with_packs_is_the_index() {
        let mut i = Interner::default();
        let item = listed(Some(json!([
            {"name": "kubernetes", "layer": "k8s", "tag": "1.30.4"},
            {"name": "cilium", "layer": "cni", "tag": "1.15.0"}
        ])));
        let index = from_listing(&item, &mut i).expect("index");
        assert_eq!(index.health.as_deref(), Some("Healthy"));
        assert_eq!(index.kubernetes_version.as_deref(), Some("1.30.4"));
        assert_eq!(index.templates.len(), 1);
        assert_eq!(index.templates[0].reference.version, "1.0.0");
        assert_eq!(index.templates[0].packs.len(), 2);
    }

    #[test]
    fn a_listing_without_packs_or_templates_is_no_index() {
        let mut i = Interner::default();
        assert!(from_listing(&listed(None), &mut i).is_none());
        let bare = json!({"metadata": {"uid": "c1"}, "specSummary": {}});
        assert!(from_listing(&bare, &mut i).is_none());
        // An empty packs list is a template without packs, not a missing index.
        assert!(from_listing(&listed(Some(json!([]))), &mut i).is_some());
    }

    #[test]
    fn equal_templates_are_shared() {
        let mut i = Interner::default();
        let item = listed(Some(
            json!([{"name": "kubernetes", "layer": "k8s", "tag": "1.30"}]),
        ));
        let a = from_listing(&item, &mut i).expect("index");
        let b = from_listing(&item, &mut i).expect("index");
        assert!(Arc::ptr_eq(&a.templates[0], &b.templates[0]));
        let other = listed(Some(
            json!([{"name": "kubernetes", "layer": "k8s", "tag": "1.31"}]),
        ));
        let c = from_listing(&other, &mut i).expect("index");
        assert!(!Arc::ptr_eq(&a.templates[0], &c.templates[0]));
    }
}
