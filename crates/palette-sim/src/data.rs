//! The simulator's typed model of a Palette tenant and its deterministic generator: the same
//! seed and sizes always give the same data (uids, names, timestamps, references).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

mod generate;

/// The named sizes of a simulated tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dataset {
    /// 3 projects, 25 clusters, 10 profiles (the demo).
    Small,
    /// 8 projects, 1,000 clusters, 120 profiles.
    Medium,
    /// 20 projects, 10,000 clusters, 500 profiles with 4 versions each.
    Large,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Small => "small",
            Dataset::Medium => "medium",
            Dataset::Large => "large",
        }
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How big a simulated tenant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    pub projects: usize,
    pub clusters: usize,
    pub profiles: usize,
    pub versions_per_profile: usize,
}

impl Sizes {
    /// `small` (demo), `medium` (~1k clusters) or `large` (10k clusters, 2k profile versions).
    pub fn preset(name: &str) -> Option<Sizes> {
        match name {
            "small" => Some(Sizes {
                projects: 3,
                clusters: 25,
                profiles: 10,
                versions_per_profile: 3,
            }),
            "medium" => Some(Sizes {
                projects: 8,
                clusters: 1000,
                profiles: 120,
                versions_per_profile: 3,
            }),
            "large" => Some(Sizes {
                projects: 20,
                clusters: 10_000,
                profiles: 500,
                versions_per_profile: 4,
            }),
            _ => None,
        }
    }
}

/// Where an object lives: the tenant, or one project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Tenant,
    Project(String),
}

impl Scope {
    pub fn name(&self) -> &'static str {
        match self {
            Scope::Tenant => "tenant",
            Scope::Project(_) => "project",
        }
    }
    pub fn project_uid(&self) -> Option<&str> {
        match self {
            Scope::Tenant => None,
            Scope::Project(p) => Some(p),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Meta {
    pub uid: String,
    pub name: String,
    pub scope: Scope,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub meta: Meta,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub uid: String,
    pub name: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct Pack {
    pub name: String,
    pub display_name: String,
    pub layer: String,
    pub tag: String,
    pub pack_type: String,
    pub pack_uid: String,
    pub registry_uid: String,
    pub values: String,
    pub manifests: Vec<Manifest>,
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub default_value: String,
    pub format: String,
    pub required: bool,
    pub is_sensitive: bool,
}

#[derive(Debug, Clone)]
pub struct ProfileVersion {
    pub uid: String,
    pub version: String,
    pub packs: Vec<Pack>,
    pub variables: Vec<Variable>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// A profile lineage: one name in one scope, with every version (oldest first). Palette lists
/// it under the uid of its newest version.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub scope: Scope,
    pub profile_type: String,
    pub cloud_type: String,
    /// Indexes into the add-on pack catalogue; new versions carry the same add-ons.
    pub addons: Vec<usize>,
    pub versions: Vec<ProfileVersion>,
}

impl Profile {
    pub fn latest(&self) -> &ProfileVersion {
        // A profile always has at least one version (generator and mutations guarantee it).
        &self.versions[self.versions.len() - 1]
    }
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub meta: Meta,
    pub cloud_type: String,
    pub state: String,
    pub health: String,
    pub kubernetes_version: String,
    pub cloud_account_uid: String,
    pub region: String,
    /// Profile VERSION uids, infra first.
    pub profile_refs: Vec<String>,
    pub host_cluster_uid: Option<String>,
    pub cluster_group_uid: Option<String>,
    pub worker_count: u32,
    pub tags: Vec<String>,
    /// Set for clusters created through the API: the progression Pending → Running follows it.
    pub provisioning_since: Option<DateTime<Utc>>,
    /// Set by DELETE: the cluster reports Deleting, then disappears.
    pub deleting_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct CloudAccount {
    pub meta: Meta,
    pub cloud_type: String,
    pub overlord_uid: Option<String>,
}

#[derive(Debug, Clone)]
pub struct IpPool {
    pub meta: Meta,
    pub start: String,
    pub end: String,
    pub subnet: String,
    pub prefix: u8,
    pub gateway: String,
}

#[derive(Debug, Clone)]
pub struct Overlord {
    pub meta: Meta,
    pub kind: String,
    pub cloud_account_uid: String,
    pub ip_address: String,
    pub ip_pools: Vec<IpPool>,
}

#[derive(Debug, Clone)]
pub struct SshKey {
    pub meta: Meta,
    pub public_key: String,
}

#[derive(Debug, Clone)]
pub struct ClusterGroup {
    pub meta: Meta,
    pub host_cluster_uids: Vec<String>,
    pub endpoint_type: String,
}

/// A Palette user; the API key acts as the first (the tenant admin).
#[derive(Debug, Clone, Serialize)]
pub struct SimUser {
    pub uid: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Every project with every permission, plus all tenant permissions.
    pub admin: bool,
    pub project_uids: Vec<String>,
    pub project_permissions: Vec<String>,
    pub tenant_permissions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SimData {
    pub seed: u64,
    pub tenant_uid: String,
    pub tenant_name: String,
    pub projects: Vec<Project>,
    pub clusters: Vec<Cluster>,
    pub profiles: Vec<Profile>,
    pub cloud_accounts: Vec<CloudAccount>,
    pub overlords: Vec<Overlord>,
    pub ssh_keys: Vec<SshKey>,
    pub cluster_groups: Vec<ClusterGroup>,
    pub users: Vec<SimUser>,
    /// Random source for uids of objects created after start-up (deterministic per seed).
    pub rng: ChaCha8Rng,
    /// The newest creation requests received (`{path, body, status}`), for tests.
    pub creations: Vec<serde_json::Value>,
    /// uid → index in `clusters`; rebuilt by [`SimData::reindex`] after clusters come or go.
    cluster_index: HashMap<String, usize>,
    /// version uid → (profile index, version index).
    version_index: HashMap<String, (usize, usize)>,
    /// Cluster indexes ordered by (name, uid): the default listing order, kept so a page of a
    /// 10k-cluster listing need not sort.
    by_name: Vec<usize>,
    /// version uid → indexes of the clusters running it.
    version_users: HashMap<String, Vec<usize>>,
}

pub const CLOUDS: [&str; 5] = ["eks", "aws", "aks", "azure", "vsphere"];

/// Which account kind a cluster of this cloud type uses.
pub fn account_cloud(cloud_type: &str) -> &str {
    match cloud_type {
        "eks" | "aws" => "aws",
        "aks" | "azure" => "azure",
        "vsphere" => "vsphere",
        other => other,
    }
}

pub fn new_uid(rng: &mut impl Rng) -> String {
    let bytes: [u8; 12] = rng.random();
    hex::encode(bytes)
}

pub fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct InfraPacks {
    os: (&'static str, &'static [&'static str]),
    k8s: (&'static str, &'static [&'static str]),
    cni: (&'static str, &'static [&'static str]),
    csi: (&'static str, &'static [&'static str]),
}

fn infra_packs(cloud: &str) -> InfraPacks {
    const K8S: &[&str] = &["1.29.8", "1.30.4", "1.31.2", "1.32.1", "1.33.0"];
    const MANAGED: &[&str] = &["1.29", "1.30", "1.31", "1.32", "1.33"];
    match cloud {
        "eks" => InfraPacks {
            os: ("amazon-linux-eks", &["1.0.0"]),
            k8s: ("kubernetes-eks", MANAGED),
            cni: ("cni-aws-vpc-eks", &["1.15.1", "1.17.1", "1.18.3"]),
            csi: ("csi-aws-ebs", &["1.26.1", "1.30.0", "1.35.0"]),
        },
        "aws" => InfraPacks {
            os: ("ubuntu-aws", &["22.04", "24.04"]),
            k8s: ("kubernetes", K8S),
            cni: ("cni-calico", &["3.27.3", "3.28.0", "3.29.1"]),
            csi: ("csi-aws-ebs", &["1.26.1", "1.30.0", "1.35.0"]),
        },
        "aks" => InfraPacks {
            os: ("none-aks", &["1.0.0"]),
            k8s: ("kubernetes-aks", MANAGED),
            cni: ("cni-kubenet", &["1.0.0"]),
            csi: ("csi-azure", &["1.29.1", "1.30.3"]),
        },
        "azure" => InfraPacks {
            os: ("ubuntu-azure", &["22.04", "24.04"]),
            k8s: ("kubernetes", K8S),
            cni: ("cni-cilium-oss", &["1.15.3", "1.16.1", "1.17.0"]),
            csi: ("csi-azure", &["1.29.1", "1.30.3"]),
        },
        _ => InfraPacks {
            os: ("ubuntu-vsphere", &["22.04", "24.04"]),
            k8s: ("kubernetes", K8S),
            cni: ("cni-cilium-oss", &["1.15.3", "1.16.1", "1.17.0"]),
            csi: ("csi-vsphere-csi", &["3.1.2", "3.3.0"]),
        },
    }
}

const ADDONS: &[(&str, &str, &[&str])] = &[
    (
        "prometheus-operator",
        "Prometheus Operator",
        &["55.8.1", "57.0.1", "58.2.2", "61.1.0"],
    ),
    ("fluent-bit", "Fluent Bit", &["0.46.2", "0.47.0", "0.48.1"]),
    ("nginx", "Nginx Ingress", &["1.10.0", "1.11.2", "1.12.0"]),
    (
        "cert-manager",
        "cert-manager",
        &["1.14.4", "1.15.1", "1.16.0"],
    ),
    ("argo-cd", "Argo CD", &["6.7.3", "7.3.4", "7.6.8"]),
    ("external-dns", "ExternalDNS", &["1.14.3", "1.15.0"]),
    (
        "kube-state-metrics",
        "kube-state-metrics",
        &["5.18.0", "5.21.0"],
    ),
];

const ADDON_PROFILE_NAMES: &[&str] = &[
    "monitoring",
    "logging",
    "ingress",
    "security",
    "gitops",
    "dns",
    "observability",
];

const STAGES: &[&str] = &["dev", "qa", "staging", "prod", "demo"];

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn tag_at(tags: &[&str], index: usize) -> String {
    tags[index.min(tags.len() - 1)].to_string()
}

fn values_yaml(pack: &str, tag: &str) -> String {
    format!(
        "pack:\n  namespace: \"{pack}\"\n  releaseNameOverride: {{}}\n  content:\n    images:\n      - image: registry.sim.example/{pack}:{tag}\n{pack}:\n  replicas: 2\n  resources:\n    requests:\n      cpu: 100m\n      memory: 128Mi\n  logLevel: info\n"
    )
}

fn make_pack(
    rng: &mut impl Rng,
    name: &str,
    display: &str,
    layer: &str,
    tag: String,
    pack_type: &str,
    registry_uid: &str,
) -> Pack {
    let manifests = if layer == "addon" {
        vec![Manifest {
            uid: new_uid(rng),
            name: format!("{name}-config"),
            content: format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\n  namespace: {name}\ndata:\n  version: \"{tag}\"\n"
            ),
        }]
    } else {
        Vec::new()
    };
    Pack {
        name: name.to_string(),
        display_name: display.to_string(),
        layer: layer.to_string(),
        values: values_yaml(name, &tag),
        tag,
        pack_type: pack_type.to_string(),
        pack_uid: new_uid(rng),
        registry_uid: registry_uid.to_string(),
        manifests,
    }
}

fn profile_variables(profile_type: &str) -> Vec<Variable> {
    let mut vars = vec![Variable {
        name: "cluster_owner".into(),
        display_name: "Cluster owner".into(),
        description: "Team that owns the cluster".into(),
        default_value: "platform".into(),
        format: "string".into(),
        required: true,
        is_sensitive: false,
    }];
    if profile_type != "add-on" {
        vars.push(Variable {
            name: "pod_cidr".into(),
            display_name: "Pod CIDR".into(),
            description: "Pod network range".into(),
            default_value: "192.168.0.0/16".into(),
            format: "ipv4cidr".into(),
            required: false,
            is_sensitive: false,
        });
    } else {
        vars.push(Variable {
            name: "alert_webhook".into(),
            display_name: "Alert webhook".into(),
            description: "Where alerts are sent".into(),
            default_value: String::new(),
            format: "string".into(),
            required: false,
            is_sensitive: true,
        });
    }
    vars
}

/// Packs of version `index` of a profile; later versions carry later tags.
pub fn packs_for(
    rng: &mut impl Rng,
    profile_type: &str,
    cloud: &str,
    addons: &[usize],
    index: usize,
    registry_uid: &str,
) -> Vec<Pack> {
    let mut packs = Vec::new();
    if profile_type != "add-on" {
        let p = infra_packs(cloud);
        for (layer, (name, tags)) in [("os", p.os), ("k8s", p.k8s), ("cni", p.cni), ("csi", p.csi)]
        {
            packs.push(make_pack(
                rng,
                name,
                name,
                layer,
                tag_at(tags, index),
                "spectro",
                registry_uid,
            ));
        }
    }
    for &a in addons {
        let (name, display, tags) = ADDONS[a % ADDONS.len()];
        packs.push(make_pack(
            rng,
            name,
            display,
            "addon",
            tag_at(tags, index),
            "helm",
            registry_uid,
        ));
    }
    packs
}

fn version_string(index: usize) -> String {
    format!("{}.{}.0", 1 + index / 3, index % 3)
}

impl SimData {
    /// The tenant for `seed` and `sizes`, one entity after another: the steps' order is part
    /// of the data (every draw shifts the uids after it).
    pub fn generate(seed: u64, sizes: Sizes) -> SimData {
        use generate::{accounts, clusters, groups, profiles, projects, users};
        let mut g = generate::Gen::new(seed);
        let tenant_uid = new_uid(&mut g.rng);
        let registry_uid = new_uid(&mut g.rng);
        let projects = projects::projects(&mut g, sizes.projects.max(1));
        let profiles = profiles::profiles(&mut g, &sizes, &projects, &registry_uid);
        let mut overlords = accounts::overlords(&mut g);
        let cloud_accounts = accounts::cloud_accounts(&mut g, &projects, &mut overlords);
        let ssh_keys = accounts::ssh_keys(&mut g, &projects);
        let virtual_count = clusters::virtual_count(sizes.clusters);
        let host_count = sizes.clusters - virtual_count;
        let mut clusters =
            clusters::hosts(&mut g, host_count, &projects, &profiles, &cloud_accounts);
        let cluster_groups = groups::cluster_groups(&mut g, &clusters);
        let nested =
            clusters::virtuals(&mut g, virtual_count, &cluster_groups, &projects, &profiles);
        clusters.extend(nested);
        let users = users::users(&mut g, &projects);
        let mut data = SimData {
            seed,
            tenant_uid,
            tenant_name: users::TENANT.to_string(),
            projects,
            clusters,
            profiles,
            cloud_accounts,
            overlords,
            ssh_keys,
            cluster_groups,
            users,
            rng: g.rng,
            creations: Vec::new(),
            cluster_index: HashMap::new(),
            version_index: HashMap::new(),
            by_name: Vec::new(),
            version_users: HashMap::new(),
        };
        data.reindex();
        data
    }

    /// Rebuilds the lookup indexes; call after adding or removing clusters or versions.
    pub fn reindex(&mut self) {
        self.cluster_index = self
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (c.meta.uid.clone(), i))
            .collect();
        self.version_index = self
            .profiles
            .iter()
            .enumerate()
            .flat_map(|(p, prof)| {
                prof.versions
                    .iter()
                    .enumerate()
                    .map(move |(v, ver)| (ver.uid.clone(), (p, v)))
            })
            .collect();
        let mut order: Vec<usize> = (0..self.clusters.len()).collect();
        order.sort_by(|a, b| {
            let (a, b) = (&self.clusters[*a].meta, &self.clusters[*b].meta);
            a.name.cmp(&b.name).then_with(|| a.uid.cmp(&b.uid))
        });
        self.by_name = order;
        let mut users: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in self.clusters.iter().enumerate() {
            for r in &c.profile_refs {
                users.entry(r.clone()).or_default().push(i);
            }
        }
        self.version_users = users;
    }

    /// Clusters in (name, uid) order.
    pub fn clusters_by_name(&self) -> impl DoubleEndedIterator<Item = &Cluster> {
        self.by_name.iter().filter_map(|i| self.clusters.get(*i))
    }

    pub fn cluster(&self, uid: &str) -> Option<&Cluster> {
        self.cluster_index
            .get(uid)
            .and_then(|i| self.clusters.get(*i))
    }

    pub fn cluster_mut(&mut self, uid: &str) -> Option<&mut Cluster> {
        let i = *self.cluster_index.get(uid)?;
        self.clusters.get_mut(i)
    }

    /// The profile and version owning a version uid.
    pub fn version(&self, uid: &str) -> Option<(&Profile, &ProfileVersion)> {
        let (p, v) = *self.version_index.get(uid)?;
        let profile = self.profiles.get(p)?;
        Some((profile, profile.versions.get(v)?))
    }

    pub fn project(&self, uid: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.meta.uid == uid)
    }

    pub fn user_by_email(&self, email: &str) -> Option<&SimUser> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub fn user_by_uid(&self, uid: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| u.uid == uid)
    }

    /// Clusters running a profile version.
    pub fn clusters_on(&self, version_uid: &str) -> Vec<&Cluster> {
        self.version_users
            .get(version_uid)
            .map(|ix| ix.iter().filter_map(|i| self.clusters.get(*i)).collect())
            .unwrap_or_default()
    }

    pub fn profile_version_count(&self) -> usize {
        self.profiles.iter().map(|p| p.versions.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;
    use sha2::{Digest, Sha256};

    /// A digest of everything `generate` produces, including where it leaves the random source
    /// (the uids of objects created later come from it).
    fn digest(seed: u64, sizes: Sizes) -> String {
        let d = SimData::generate(seed, sizes);
        let mut rng = d.rng.clone();
        let text = format!(
            "{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            d.seed,
            d.tenant_uid,
            d.tenant_name,
            d.projects,
            d.clusters,
            d.profiles,
            d.cloud_accounts,
            d.overlords,
            d.ssh_keys,
            d.cluster_groups,
            d.users,
            rng.next_u64(),
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// The tests compare the mirror with the simulator, and the benchmarks' figures assume the
    /// same tenant: the same seed and sizes must keep giving the very same data.
    #[test]
    fn generated_data_is_pinned_per_seed_and_sizes() {
        let small = Sizes::preset("small").expect("small preset");
        let odd = Sizes {
            projects: 9,
            clusters: 140,
            profiles: 31,
            versions_per_profile: 4,
        };
        assert_eq!(
            digest(42, small),
            "ed37749f87d69e8034270864f6f38905f794c017ce20b8f35f6c428d59f46c32"
        );
        assert_eq!(
            digest(7, odd),
            "5cba6a54a067e4d015684f0c1e6f9134ac1e45664be1646bf6f4742440b97f37"
        );
    }
}
