//! Clusters: host clusters across the five clouds, then virtual (nested) clusters on the
//! cluster groups' hosts.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Gen;
use crate::data::{
    CLOUDS, CloudAccount, Cluster, ClusterGroup, Meta, Profile, Project, STAGES, Scope,
    account_cloud, pick,
};

/// ~5% of the clusters are virtual (none in a tenant of fewer than ten).
pub fn virtual_count(clusters: usize) -> usize {
    if clusters >= 10 {
        (clusters / 20).max(1)
    } else {
        0
    }
}

pub fn hosts(
    g: &mut Gen,
    count: usize,
    projects: &[Project],
    profiles: &[Profile],
    accounts: &[CloudAccount],
) -> Vec<Cluster> {
    (0..count)
        .map(|c| host(g, c, projects, profiles, accounts))
        .collect()
}

fn host(
    g: &mut Gen,
    c: usize,
    projects: &[Project],
    profiles: &[Profile],
    accounts: &[CloudAccount],
) -> Cluster {
    let cloud = CLOUDS[g.rng.random_range(0..CLOUDS.len())];
    // Every tenth cluster is tenant-scoped, so even the smallest tenant has some.
    let scope = if c.is_multiple_of(10) {
        Scope::Tenant
    } else {
        g.project_scope(projects)
    };
    let (refs, k8s) = profile_refs(&mut g.rng, cloud, &scope, profiles);
    let usable: Vec<&CloudAccount> = accounts
        .iter()
        .filter(|a| {
            a.cloud_type == account_cloud(cloud)
                && (a.meta.scope == Scope::Tenant || a.meta.scope == scope)
        })
        .collect();
    let account = pick(&mut g.rng, &usable).meta.uid.clone();
    let (state, health) = state_and_health(&mut g.rng);
    let region = region(&mut g.rng, cloud);
    let when = g.when();
    let stage = *pick(&mut g.rng, STAGES);
    Cluster {
        meta: g.meta(format!("{stage}-{cloud}-{c:04}"), scope, when),
        cloud_type: cloud.to_string(),
        state: state.to_string(),
        health: health.to_string(),
        kubernetes_version: k8s,
        cloud_account_uid: account,
        region: region.to_string(),
        profile_refs: refs,
        host_cluster_uid: None,
        cluster_group_uid: None,
        worker_count: g.rng.random_range(1..=10),
        tags: vec![format!("stage:{stage}")],
        provisioning_since: None,
        deleting_since: None,
    }
}

/// One infra (or full) profile of the cloud and up to two add-ons, each at its latest version
/// or another; and the Kubernetes version the infra profile's version sets.
fn profile_refs(
    rng: &mut ChaCha8Rng,
    cloud: &str,
    scope: &Scope,
    profiles: &[Profile],
) -> (Vec<String>, String) {
    let visible = |p: &Profile| p.scope == Scope::Tenant || p.scope == *scope;
    let infra: Vec<usize> = profiles
        .iter()
        .enumerate()
        .filter(|(_, p)| p.profile_type != "add-on" && p.cloud_type == cloud && visible(p))
        .map(|(i, _)| i)
        .collect();
    let addon: Vec<usize> = profiles
        .iter()
        .enumerate()
        .filter(|(_, p)| p.profile_type == "add-on" && visible(p))
        .map(|(i, _)| i)
        .collect();
    let version_of = |rng: &mut ChaCha8Rng, p: &Profile| {
        if rng.random_bool(0.6) {
            p.latest().uid.clone()
        } else {
            pick(rng, &p.versions).uid.clone()
        }
    };
    let infra_profile = &profiles[*pick(rng, &infra)];
    let mut refs = vec![version_of(rng, infra_profile)];
    let k8s = infra_profile
        .versions
        .iter()
        .find(|v| refs.contains(&v.uid))
        .and_then(|v| v.packs.iter().find(|p| p.layer == "k8s"))
        .map(|p| p.tag.clone())
        .unwrap_or_default();
    if !addon.is_empty() {
        // At most one version of any profile, as Palette allows.
        let mut used = Vec::new();
        for _ in 0..rng.random_range(0..=2) {
            let i = *pick(rng, &addon);
            if used.contains(&i) {
                continue;
            }
            used.push(i);
            refs.push(version_of(rng, &profiles[i]));
        }
    }
    (refs, k8s)
}

fn state_and_health(rng: &mut ChaCha8Rng) -> (&'static str, &'static str) {
    let roll: f64 = rng.random();
    let state = if roll < 0.85 {
        "Running"
    } else if roll < 0.9 {
        "Provisioning"
    } else if roll < 0.95 {
        "Pending"
    } else {
        "Deleting"
    };
    let health = match state {
        "Running" if rng.random_bool(0.9) => "Healthy",
        "Running" => "UnHealthy",
        _ => "",
    };
    (state, health)
}

fn region(rng: &mut ChaCha8Rng, cloud: &str) -> &'static str {
    let regions: &[&'static str] = match account_cloud(cloud) {
        "aws" => &["us-east-1", "us-west-2", "eu-west-1"],
        "azure" => &["eastus", "westeurope", "northeurope"],
        _ => &["dc-1", "dc-2"],
    };
    let region: &&'static str = pick(rng, regions);
    region
}

/// Virtual clusters on the groups' hosts, in projects, most with one add-on profile.
pub fn virtuals(
    g: &mut Gen,
    count: usize,
    groups: &[ClusterGroup],
    projects: &[Project],
    profiles: &[Profile],
) -> Vec<Cluster> {
    if groups.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|v| {
            let group = pick(&mut g.rng, groups);
            let host = pick(&mut g.rng, &group.host_cluster_uids).clone();
            let scope = g.project_scope(projects);
            let addon: Vec<&Profile> = profiles
                .iter()
                .filter(|p| {
                    p.profile_type == "add-on" && (p.scope == Scope::Tenant || p.scope == scope)
                })
                .collect();
            let refs = if addon.is_empty() || g.rng.random_bool(0.3) {
                Vec::new()
            } else {
                vec![pick(&mut g.rng, &addon).latest().uid.clone()]
            };
            let when = g.when();
            virtual_cluster(
                g.meta(format!("vcluster-{v:03}"), scope, when),
                refs,
                host,
                group,
            )
        })
        .collect()
}

fn virtual_cluster(meta: Meta, refs: Vec<String>, host: String, group: &ClusterGroup) -> Cluster {
    Cluster {
        meta,
        cloud_type: "nested".into(),
        state: "Running".into(),
        health: "Healthy".into(),
        kubernetes_version: "1.31.2".into(),
        cloud_account_uid: String::new(),
        region: String::new(),
        profile_refs: refs,
        host_cluster_uid: Some(host),
        cluster_group_uid: Some(group.meta.uid.clone()),
        worker_count: 0,
        tags: vec![],
        provisioning_since: None,
        deleting_since: None,
    }
}
