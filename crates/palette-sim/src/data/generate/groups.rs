//! Cluster groups over a few running host clusters.

use super::Gen;
use crate::data::{Cluster, ClusterGroup, Scope};

pub fn cluster_groups(g: &mut Gen, clusters: &[Cluster]) -> Vec<ClusterGroup> {
    let running: Vec<usize> = clusters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.state == "Running")
        .map(|(i, _)| i)
        .collect();
    if running.is_empty() {
        return Vec::new();
    }
    ["default-cg", "shared-cg"]
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let when = g.when();
            let mut hosts = (0..3)
                .map(|k| {
                    clusters[running[(n * 3 + k) % running.len()]]
                        .meta
                        .uid
                        .clone()
                })
                .collect::<Vec<_>>();
            hosts.dedup();
            ClusterGroup {
                meta: g.meta(name.to_string(), Scope::Tenant, when),
                host_cluster_uids: hosts,
                endpoint_type: if n == 0 { "LoadBalancer" } else { "Ingress" }.into(),
            }
        })
        .collect()
}
