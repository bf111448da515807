//! Tool inputs: small shared pieces (environment, project, paging, object references) that
//! each tool's arguments flatten, so every name-taking tool takes the same `projectName` /
//! `projectUid` and every list the same `limit` / `cursor` / `summary`.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Env {
    /// Palette environment (instance) name as configured; the first one when absent.
    pub instance_name: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRef {
    /// Project name (any case): narrows to that project (and tenant objects); unknown is an error.
    pub project_name: Option<String>,
    /// Or the project's uid.
    pub project_uid: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    /// Items per page, 1 to 500 (default 25).
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Counts only (total and per-value counts), no items.
    pub summary: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    /// The cluster's name (any case); several clusters may share it across projects.
    pub cluster_name: Option<String>,
    /// Or its uid (wins over the name).
    pub cluster_uid: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualClusterRef {
    /// The virtual cluster's name (any case).
    pub virtual_cluster_name: Option<String>,
    /// Or its uid (wins over the name).
    pub virtual_cluster_uid: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRef {
    /// The profile's name (any case).
    pub profile_name: Option<String>,
    /// Or a version uid: that very version is used (wins over the name).
    pub profile_uid: Option<String>,
    /// A version label such as `1.0.0`: that version of the profile (default: the newest).
    pub version: Option<String>,
}

/// A tool's own arguments `T` with the project and environment every tool takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Scoped<T> {
    #[serde(flatten)]
    pub of: T,
    #[serde(flatten)]
    pub project: ProjectRef,
    #[serde(flatten)]
    pub env: Env,
}

/// A list tool's own arguments `T` with project, paging and environment.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Listed<T> {
    #[serde(flatten)]
    pub of: T,
    #[serde(flatten)]
    pub project: ProjectRef,
    #[serde(flatten)]
    pub paging: Paging,
    #[serde(flatten)]
    pub env: Env,
}

/// A list over what has no project (packs): paging and environment.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Pages<T> {
    #[serde(flatten)]
    pub of: T,
    #[serde(flatten)]
    pub paging: Paging,
    #[serde(flatten)]
    pub env: Env,
}

/// `T` and whether kubeconfig downloads go through Palette's reverse proxy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithFrp<T> {
    #[serde(flatten)]
    pub of: T,
    /// Through Palette's reverse proxy (default true).
    pub frp: Option<bool>,
}

/// `T` and whether pack values are included.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithValues<T> {
    #[serde(flatten)]
    pub of: T,
    /// Include each pack's `values` YAML (large; default false).
    pub include_values: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(flatten)]
    pub cluster: ClusterRef,
    /// The manifest's uid (listed by get_spectrocloud_cluster_profiles under each pack).
    pub manifest_uid: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterFilters {
    /// Case-insensitive substring of the cluster name.
    pub name: Option<String>,
    /// Exact state, any case: Running, Provisioning, Pending, Deleting, Importing, …
    pub state: Option<String>,
    /// Exact health, any case: Healthy, UnHealthy, Unknown.
    pub health: Option<String>,
    /// Cloud type: eks, aws, aks, azure, vsphere, gcp, edge-native, … (any case).
    pub cloud_type: Option<String>,
    /// Kubernetes version prefix up to a dot, dash or plus (`1.29` matches 1.29.x, not 1.290).
    pub kubernetes_version: Option<String>,
    /// A tag the cluster carries, exactly (e.g. `stage:prod`).
    pub tag: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NameFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProfileNamesArg {
    /// Exact profile names, any case (at least one).
    pub names: Vec<String>,
}

/// A profile's type (closed set).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum ProfileKind {
    #[serde(rename = "infra")]
    Infra,
    #[serde(rename = "cluster")]
    Cluster,
    #[serde(rename = "add-on")]
    AddOn,
    #[serde(rename = "system")]
    System,
}

impl ProfileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::Infra => "infra",
            ProfileKind::Cluster => "cluster",
            ProfileKind::AddOn => "add-on",
            ProfileKind::System => "system",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileFilters {
    /// Cloud type: eks, aws, aks, azure, vsphere, … (any case).
    pub cloud_type: Option<String>,
    /// Profile type (default: infra and cluster).
    pub profile_type: Option<ProfileKind>,
    /// Case-insensitive substring of the profile name.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGroupRef {
    /// The cluster group's name (any case).
    pub cluster_group_name: Option<String>,
    /// Or its uid (wins over the name).
    pub cluster_group_uid: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountFilters {
    /// Cloud type: aws, azure, vsphere, gcp, … (any case).
    pub cloud_type: String,
    /// Case-insensitive substring of the account name.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageFilters {
    /// Case-insensitive substring of the profile name.
    pub name: Option<String>,
    /// Only profiles no cluster uses.
    pub unused_only: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackRef {
    /// A pack name, any case: it takes its family (`kubernetes` also takes `kubernetes-eks`
    /// and `kubernetes-aks`); see search_spectrocloud_packs.
    pub pack_name: String,
    /// Only clusters on this version or version prefix (`1.3` takes `1.3`, `1.3.x`, `1.3-…`
    /// and `1.3+…`, not `1.30`).
    pub version: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PackFilters {
    /// A pack name, any case: it takes its family (`kubernetes` also takes `kubernetes-eks`);
    /// a name matching none answers the names containing it and close ones.
    pub name: Option<String>,
    /// Only packs of this layer.
    pub layer: Option<PackLayer>,
}

/// A pack's layer in a profile (closed set).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackLayer {
    Os,
    K8s,
    Cni,
    Csi,
    Addon,
}

impl PackLayer {
    pub fn as_str(self) -> &'static str {
        match self {
            PackLayer::Os => "os",
            PackLayer::K8s => "k8s",
            PackLayer::Cni => "cni",
            PackLayer::Csi => "csi",
            PackLayer::Addon => "addon",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewCluster {
    /// The cluster, as the Backstage wizard sends it to POST /clusters (metadata.name,
    /// spec.cloudType, spec.cloudAccountUid, spec.profiles, …); cloudType `virtual` creates a
    /// virtual cluster.
    pub cluster: serde_json::Map<String, serde_json::Value>,
}

/// Narrowing of the change history (`list_spectrocloud_fleet_changes`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeFilters {
    /// Only changes at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Comma-separated event types (cluster.state_changed, profile.version_published, ...).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Only changes of this cluster (its uid).
    pub cluster_uid: Option<String>,
    /// Only changes of objects in this project (its uid).
    pub project_uid: Option<String>,
}
