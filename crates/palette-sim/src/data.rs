//! The simulator's typed model of a Palette tenant and its deterministic generator: the same
//! seed and sizes always give the same data (uids, names, timestamps, references).

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

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
    pub fn generate(seed: u64, sizes: Sizes) -> SimData {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let base = Utc
            .with_ymd_and_hms(2026, 1, 5, 8, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let when = |rng: &mut ChaCha8Rng| {
            let created = base + Duration::seconds(rng.random_range(0..200 * 86_400));
            let modified = created + Duration::seconds(rng.random_range(0..10 * 86_400));
            (created, modified)
        };
        let tenant_uid = new_uid(&mut rng);
        let registry_uid = new_uid(&mut rng);
        let project_count = sizes.projects.max(1);

        let project_names = ["Default", "payments", "data-platform", "edge", "ml", "web"];
        let projects: Vec<Project> = (0..project_count)
            .map(|i| {
                let (created, modified) = when(&mut rng);
                let name = if i < project_names.len() {
                    project_names[i].to_string()
                } else {
                    format!("team-{i:02}")
                };
                Project {
                    meta: Meta {
                        uid: new_uid(&mut rng),
                        name,
                        scope: Scope::Tenant,
                        created,
                        modified,
                    },
                    description: format!("Simulated project {i}"),
                }
            })
            .collect();
        let project_scope =
            |rng: &mut ChaCha8Rng| Scope::Project(pick(rng, &projects).meta.uid.clone());

        // Profiles: the first five are tenant infra profiles, one per cloud, so every cluster
        // can find one; two add-on profiles share a name across tenant and project scope.
        let mut profiles = Vec::with_capacity(sizes.profiles);
        let mut name_counts: HashMap<(String, Scope), usize> = HashMap::new();
        for p in 0..sizes.profiles.max(CLOUDS.len() + 2) {
            let (profile_type, cloud, scope, base_name) = if let Some(c) = CLOUDS.get(p).copied() {
                ("infra", c.to_string(), Scope::Tenant, format!("{c}-infra"))
            } else if p == CLOUDS.len() {
                (
                    "add-on",
                    "all".into(),
                    Scope::Tenant,
                    "shared-addons".into(),
                )
            } else if p == CLOUDS.len() + 1 {
                (
                    "add-on",
                    "all".into(),
                    Scope::Project(projects[0].meta.uid.clone()),
                    "shared-addons".into(),
                )
            } else {
                let roll: f64 = rng.random();
                let scope = if rng.random_bool(0.35) {
                    Scope::Tenant
                } else {
                    project_scope(&mut rng)
                };
                if roll < 0.4 {
                    let c = *pick(&mut rng, &CLOUDS);
                    ("infra", c.to_string(), scope, format!("{c}-infra"))
                } else if roll < 0.6 {
                    let c = *pick(&mut rng, &CLOUDS);
                    ("cluster", c.to_string(), scope, format!("{c}-full-stack"))
                } else {
                    let n = *pick(&mut rng, ADDON_PROFILE_NAMES);
                    ("add-on", "all".into(), scope, format!("{n}-addons"))
                }
            };
            let count = name_counts
                .entry((base_name.clone(), scope.clone()))
                .or_insert(0);
            *count += 1;
            let name = if *count == 1 {
                base_name
            } else {
                format!("{base_name}-{count}")
            };
            let addons: Vec<usize> = match profile_type {
                "infra" => vec![],
                "cluster" => vec![rng.random_range(0..ADDONS.len())],
                _ => {
                    let n = rng.random_range(1..=3);
                    (0..n).map(|_| rng.random_range(0..ADDONS.len())).collect()
                }
            };
            let mut addons = addons;
            addons.sort_unstable();
            addons.dedup();
            let (mut created, _) = when(&mut rng);
            let versions = (0..sizes.versions_per_profile.max(1))
                .map(|v| {
                    let modified = created + Duration::hours(rng.random_range(1..48));
                    let pv = ProfileVersion {
                        uid: new_uid(&mut rng),
                        version: version_string(v),
                        packs: packs_for(&mut rng, profile_type, &cloud, &addons, v, &registry_uid),
                        variables: profile_variables(profile_type),
                        created,
                        modified,
                    };
                    created = modified + Duration::days(rng.random_range(1..20));
                    pv
                })
                .collect();
            profiles.push(Profile {
                name,
                scope,
                profile_type: profile_type.to_string(),
                cloud_type: cloud,
                addons,
                versions,
            });
        }

        // Cloud accounts: per cloud, two tenant-scoped and some project-scoped ones.
        let per_cloud = 2 + project_count / 2;
        let mut cloud_accounts = Vec::new();
        let mut overlords = Vec::new();
        for i in 0..2 {
            let (created, modified) = when(&mut rng);
            let uid = new_uid(&mut rng);
            let pools = (0..2)
                .map(|j| {
                    let (created, modified) = when(&mut rng);
                    IpPool {
                        meta: Meta {
                            uid: new_uid(&mut rng),
                            name: format!("pool-{i}-{j}"),
                            scope: Scope::Tenant,
                            created,
                            modified,
                        },
                        start: format!("10.{i}.{j}.10"),
                        end: format!("10.{i}.{j}.200"),
                        subnet: format!("10.{i}.{j}.0/24"),
                        prefix: 24,
                        gateway: format!("10.{i}.{j}.1"),
                    }
                })
                .collect();
            overlords.push(Overlord {
                meta: Meta {
                    uid,
                    name: format!("pcg-vsphere-{i}"),
                    scope: Scope::Tenant,
                    created,
                    modified,
                },
                kind: "vsphere".into(),
                cloud_account_uid: String::new(),
                ip_address: format!("10.200.0.{}", 10 + i),
                ip_pools: pools,
            });
        }
        for cloud in ["aws", "azure", "vsphere"] {
            for i in 0..per_cloud {
                let (created, modified) = when(&mut rng);
                let scope = if i < 2 {
                    Scope::Tenant
                } else {
                    Scope::Project(projects[(i - 2) % project_count].meta.uid.clone())
                };
                let overlord_uid =
                    (cloud == "vsphere").then(|| overlords[i % overlords.len()].meta.uid.clone());
                let acct = CloudAccount {
                    meta: Meta {
                        uid: new_uid(&mut rng),
                        name: format!("{cloud}-{}-{i}", scope.name()),
                        scope,
                        created,
                        modified,
                    },
                    cloud_type: cloud.to_string(),
                    overlord_uid,
                };
                if cloud == "vsphere" && i < overlords.len() {
                    overlords[i].cloud_account_uid = acct.meta.uid.clone();
                }
                cloud_accounts.push(acct);
            }
        }

        let ssh_keys = (0..3 + project_count)
            .map(|i| {
                let (created, modified) = when(&mut rng);
                let scope = if i < 3 {
                    Scope::Tenant
                } else {
                    Scope::Project(projects[i - 3].meta.uid.clone())
                };
                let key: [u8; 24] = rng.random();
                SshKey {
                    meta: Meta {
                        uid: new_uid(&mut rng),
                        name: format!("ssh-key-{i}"),
                        scope,
                        created,
                        modified,
                    },
                    public_key: format!(
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{} sim-{i}",
                        hex::encode(key)
                    ),
                }
            })
            .collect();

        // Clusters: ~5% virtual (nested), the rest across the five clouds.
        let mut clusters: Vec<Cluster> = Vec::with_capacity(sizes.clusters);
        let virtual_count = if sizes.clusters >= 10 {
            (sizes.clusters / 20).max(1)
        } else {
            0
        };
        let host_count = sizes.clusters - virtual_count;
        for c in 0..host_count {
            let cloud = CLOUDS[rng.random_range(0..CLOUDS.len())];
            // Every tenth cluster is tenant-scoped, so even the smallest tenant has some.
            let scope = if c % 10 == 0 {
                Scope::Tenant
            } else {
                project_scope(&mut rng)
            };
            let visible = |p: &Profile| p.scope == Scope::Tenant || p.scope == scope;
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
            let mut refs = Vec::new();
            let version_of = |rng: &mut ChaCha8Rng, p: &Profile| {
                if rng.random_bool(0.6) {
                    p.latest().uid.clone()
                } else {
                    pick(rng, &p.versions).uid.clone()
                }
            };
            let infra_profile = &profiles[*pick(&mut rng, &infra)];
            refs.push(version_of(&mut rng, infra_profile));
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
                    let i = *pick(&mut rng, &addon);
                    if used.contains(&i) {
                        continue;
                    }
                    used.push(i);
                    refs.push(version_of(&mut rng, &profiles[i]));
                }
            }
            let accounts: Vec<&CloudAccount> = cloud_accounts
                .iter()
                .filter(|a| {
                    a.cloud_type == account_cloud(cloud)
                        && (a.meta.scope == Scope::Tenant || a.meta.scope == scope)
                })
                .collect();
            let account = pick(&mut rng, &accounts).meta.uid.clone();
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
            let health = if state == "Running" {
                if rng.random_bool(0.9) {
                    "Healthy"
                } else {
                    "UnHealthy"
                }
            } else {
                ""
            };
            let region = match account_cloud(cloud) {
                "aws" => *pick(&mut rng, &["us-east-1", "us-west-2", "eu-west-1"]),
                "azure" => *pick(&mut rng, &["eastus", "westeurope", "northeurope"]),
                _ => *pick(&mut rng, &["dc-1", "dc-2"]),
            };
            let (created, modified) = when(&mut rng);
            let stage = *pick(&mut rng, STAGES);
            clusters.push(Cluster {
                meta: Meta {
                    uid: new_uid(&mut rng),
                    name: format!("{stage}-{cloud}-{c:04}"),
                    scope,
                    created,
                    modified,
                },
                cloud_type: cloud.to_string(),
                state: state.to_string(),
                health: health.to_string(),
                kubernetes_version: k8s,
                cloud_account_uid: account,
                region: region.to_string(),
                profile_refs: refs,
                host_cluster_uid: None,
                cluster_group_uid: None,
                worker_count: rng.random_range(1..=10),
                tags: vec![format!("stage:{stage}")],
                provisioning_since: None,
                deleting_since: None,
            });
        }

        // Cluster groups over a few running host clusters.
        let running: Vec<usize> = clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.state == "Running")
            .map(|(i, _)| i)
            .collect();
        let cluster_groups: Vec<ClusterGroup> = if running.is_empty() {
            Vec::new()
        } else {
            ["default-cg", "shared-cg"]
                .iter()
                .enumerate()
                .map(|(g, name)| {
                    let (created, modified) = when(&mut rng);
                    let hosts = (0..3)
                        .map(|k| {
                            clusters[running[(g * 3 + k) % running.len()]]
                                .meta
                                .uid
                                .clone()
                        })
                        .collect::<Vec<_>>();
                    let mut hosts = hosts;
                    hosts.dedup();
                    ClusterGroup {
                        meta: Meta {
                            uid: new_uid(&mut rng),
                            name: name.to_string(),
                            scope: Scope::Tenant,
                            created,
                            modified,
                        },
                        host_cluster_uids: hosts,
                        endpoint_type: if g == 0 { "LoadBalancer" } else { "Ingress" }.into(),
                    }
                })
                .collect()
        };
        if !cluster_groups.is_empty() {
            for v in 0..virtual_count {
                let group = pick(&mut rng, &cluster_groups);
                let host = pick(&mut rng, &group.host_cluster_uids).clone();
                let scope = project_scope(&mut rng);
                let addon: Vec<&Profile> = profiles
                    .iter()
                    .filter(|p| {
                        p.profile_type == "add-on" && (p.scope == Scope::Tenant || p.scope == scope)
                    })
                    .collect();
                let refs = if addon.is_empty() || rng.random_bool(0.3) {
                    Vec::new()
                } else {
                    vec![pick(&mut rng, &addon).latest().uid.clone()]
                };
                let (created, modified) = when(&mut rng);
                let group_uid = group.meta.uid.clone();
                clusters.push(Cluster {
                    meta: Meta {
                        uid: new_uid(&mut rng),
                        name: format!("vcluster-{v:03}"),
                        scope,
                        created,
                        modified,
                    },
                    cloud_type: "nested".into(),
                    state: "Running".into(),
                    health: "Healthy".into(),
                    kubernetes_version: "1.31.2".into(),
                    cloud_account_uid: String::new(),
                    region: String::new(),
                    profile_refs: refs,
                    host_cluster_uid: Some(host),
                    cluster_group_uid: Some(group_uid),
                    worker_count: 0,
                    tags: vec![],
                    provisioning_since: None,
                    deleting_since: None,
                });
            }
        }

        let tenant_perms: Vec<String> = [
            "cluster.list",
            "cluster.get",
            "cluster.create",
            "clusterProfile.list",
            "clusterProfile.get",
            "cloudaccount.list",
            "cloudaccount.get",
            "virtualCluster.list",
            "virtualCluster.get",
            "clusterGroup.list",
            "clusterGroup.get",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let project_perms: Vec<String> = [
            "cluster.list",
            "cluster.get",
            "cluster.create",
            "clusterProfile.list",
            "clusterProfile.get",
            "cloudaccount.list",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let all_projects: Vec<String> = projects.iter().map(|p| p.meta.uid.clone()).collect();
        let tenant = "acme";
        let mut user =
            |email: &str, first: &str, admin: bool, projects: Vec<String>, tenant: Vec<String>| {
                SimUser {
                    uid: new_uid(&mut rng),
                    email: email.to_string(),
                    first_name: first.to_string(),
                    last_name: "Sim".to_string(),
                    admin,
                    project_uids: projects,
                    project_permissions: project_perms.clone(),
                    tenant_permissions: tenant,
                }
            };
        let users = vec![
            user(
                &format!("admin@{tenant}.example"),
                "Ada",
                true,
                all_projects.clone(),
                tenant_perms.clone(),
            ),
            user(
                &format!("alice@{tenant}.example"),
                "Alice",
                false,
                vec![all_projects[0].clone()],
                vec![],
            ),
            user(
                &format!("bob@{tenant}.example"),
                "Bob",
                false,
                all_projects.iter().skip(1).cloned().collect(),
                vec!["cluster.list".into(), "cluster.get".into()],
            ),
            user(
                &format!("carol@{tenant}.example"),
                "Carol",
                false,
                vec![],
                vec![],
            ),
        ];

        let mut data = SimData {
            seed,
            tenant_uid,
            tenant_name: tenant.to_string(),
            projects,
            clusters,
            profiles,
            cloud_accounts,
            overlords,
            ssh_keys,
            cluster_groups,
            users,
            rng,
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
