//! THE route table: every route with its permission and where its answer comes from. The same
//! list registers the handlers and drives authorization (`auth::middleware`), the OpenAPI
//! document and the README's table, so a route cannot exist without its permission.

use actix_web::http::Method;
use actix_web::web;
use serde::Serialize;

use super::{
    audit, auth_debug, cloudaccounts, clustergroups, clusters, events, health, openapi, overlords,
    profiles, projects, reports, sync, users, virtualclusters,
};
use crate::auth::permissions::Permission;

/// Where a route's answer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The SQLite mirror (`X-SpectroCloud-Source: mirror`).
    Mirror,
    /// Palette, live (`X-SpectroCloud-Source: live`).
    Live,
    /// The service itself.
    Service,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication (`/health` only).
    Public,
    /// Any authenticated caller (the original plugin checked no permission here).
    Authenticated,
    /// An authenticated caller holding this permission.
    Permission(Permission),
}

#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    /// Relative to `server.base_path`, in actix syntax (`/clusters/{clusterUid}`).
    pub path: &'static str,
    pub access: Access,
    pub source: Source,
    pub summary: &'static str,
}

use Access::{Authenticated, Permission as Perm, Public};
use Permission::*;
use Source::{Live, Mirror, Service};

macro_rules! route_table {
    ($( $method:ident $path:literal => $handler:path, $access:expr, $source:expr, $summary:literal; )*) => {
        pub const ROUTES: &[RouteSpec] = &[
            $( RouteSpec { method: stringify!($method), path: $path, access: $access, source: $source, summary: $summary }, )*
        ];

        /// Registers every route of the table on `scope`, in table order (more specific paths
        /// first where two could match).
        pub fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $( .route($path, web::route().method(Method::$method).to($handler)) )*
        }
    };
}

route_table! {
    GET  "/health" => health::health, Public, Service, "Liveness";
    GET  "/auth/debug" => auth_debug::debug, Authenticated, Service, "Who the caller is; Palette token presence (never its value)";
    GET  "/openapi.json" => openapi::document, Authenticated, Service, "This API as OpenAPI 3";
    GET  "/users/me/projects" => users::my_projects, Authenticated, Mirror, "Projects the Palette user can access";
    GET  "/users/sshkeys" => users::ssh_keys, Authenticated, Live, "The user's SSH keys";
    GET  "/clusters" => clusters::list, Perm(ClusterViewInfo), Mirror, "Clusters the caller can see";
    POST "/clusters" => clusters::create, Perm(ClusterCreate), Live, "Create a cluster (eks, aws, aks, azure, vsphere; nested/virtual)";
    GET  "/clusters/{clusterUid}" => clusters::detail, Perm(ClusterViewInfo), Mirror, "Cluster details";
    GET  "/clusters/{clusterUid}/kubeconfig" => clusters::kubeconfig, Perm(ClusterDownloadKubeconfig), Live, "Download the cluster's kubeconfig (frp=true by default)";
    GET  "/clusters/{clusterUid}/profiles" => clusters::profiles, Perm(ClusterViewPackValues), Mirror, "Profiles of a cluster with packs, values, schema and presets";
    GET  "/clusters/{clusterUid}/pack/manifests/{manifestUid}" => clusters::manifest, Perm(ClusterViewPackManifests), Live, "A pack manifest of a cluster";
    GET  "/virtualclusters" => virtualclusters::list, Perm(ClusterViewInfo), Mirror, "Virtual clusters";
    POST "/virtualclusters" => virtualclusters::create, Perm(ClusterCreate), Live, "Create a virtual cluster";
    GET  "/virtualclusters/{clusterUid}" => virtualclusters::detail, Perm(ClusterViewInfo), Mirror, "Virtual cluster details";
    GET  "/virtualclusters/{clusterUid}/kubeconfig" => virtualclusters::kubeconfig, Perm(ClusterDownloadKubeconfig), Live, "Download a virtual cluster's kubeconfig";
    GET  "/clustergroups" => clustergroups::list, Authenticated, Mirror, "Cluster groups";
    GET  "/clustergroups/{clusterGroupUid}" => clustergroups::detail, Perm(ClusterViewInfo), Mirror, "Cluster group details";
    GET  "/projects" => projects::list, Perm(ClusterViewInfo), Mirror, "All projects";
    GET  "/projects/{projectUid}/profiles" => projects::profiles, Perm(ProfileViewInfo), Mirror, "Profiles usable in a project (cloudType, profileType filters)";
    POST "/profiles/search" => profiles::search, Perm(ProfileViewInfo), Mirror, "Profiles by exact names, case-insensitive";
    GET  "/profiles/{profileUid}" => profiles::detail, Perm(ProfileViewInfo), Mirror, "Profile (any version uid)";
    GET  "/profiles/{profileUid}/packs" => profiles::packs, Perm(ClusterViewPackValues), Mirror, "Profile or one of its versions (versionUid) with packs";
    GET  "/profiles/{profileUid}/variables" => profiles::variables, Authenticated, Mirror, "Profile variables";
    GET  "/profiles/{profileUid}/clusters" => profiles::clusters, Perm(ProfileViewClusters), Mirror, "Every cluster on any version of the profile";
    GET  "/cloudaccounts/vsphere/{accountUid}/metadata" => cloudaccounts::vsphere_metadata, Authenticated, Live, "vSphere datacenters, folders, compute clusters";
    GET  "/cloudaccounts/vsphere/{accountUid}/computecluster/resources" => cloudaccounts::vsphere_resources, Authenticated, Live, "vSphere datastores, networks, resource pools (datacenter, computecluster required)";
    GET  "/cloudaccounts/{cloudType}" => cloudaccounts::list, Perm(ClusterViewInfo), Mirror, "Cloud accounts of a type (secrets removed)";
    GET  "/cloudaccounts/{cloudType}/{accountUid}" => cloudaccounts::detail, Perm(ClusterViewInfo), Mirror, "One cloud account (secrets removed)";
    GET  "/overlords" => overlords::list, Authenticated, Mirror, "Private cloud gateways";
    GET  "/overlords/vsphere/{overlordUid}/pools" => overlords::ip_pools, Authenticated, Live, "vSphere IP pools of a gateway";
    GET  "/reports/profile-usage" => reports::profile_usage, Perm(ProfileViewClusters), Mirror, "Clusters per profile and version (projectUid, profileType, cloudType, name, unusedOnly, include=clusters, format=csv)";
    GET  "/reports/pack-usage" => reports::pack_usage, Perm(ProfileViewClusters), Mirror, "Clusters per pack and version (name, version prefix, tag; format=csv)";
    GET  "/reports/fleet" => reports::fleet, Perm(ClusterViewInfo), Mirror, "Clusters per environment by state, health, cloud, kubernetes version, project; freshness";
    GET  "/events" => events::list, Perm(ClusterViewInfo), Mirror, "Fleet changes seen by the sync, newest first (since, type, clusterUid, projectUid, limit, cursor)";
    GET  "/sync/status" => sync::status, Perm(ClusterViewInfo), Service, "Mirror freshness per environment";
    POST "/sync" => sync::trigger, Perm(ClusterCreate), Service, "Start a sync run";
    GET  "/audit" => audit::list, Perm(ClusterCreate), Service, "Audit log, newest first";
}

/// The spec of `method path` (path relative to the base path, actix syntax).
pub fn find(method: &str, path: &str) -> Option<&'static RouteSpec> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// Whether any route has this path (to tell 405 from 404).
pub fn path_exists(path: &str) -> bool {
    ROUTES.iter().any(|r| r.path == path)
}

/// Methods registered for a path (the `Allow` header of a 405).
pub fn methods_for(path: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect()
}
