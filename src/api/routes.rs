//! THE route table: every route with its permission and where its answer comes from. The same
//! list registers the handlers and drives authorization (`api::authorize`), the OpenAPI
//! document and the route table in docs/http-api.md: a route cannot exist without its permission.

use actix_web::http::Method;
use actix_web::web;
use serde::Serialize;

use super::{
    audit, auth_debug, cloudaccounts, clustergroups, clusters, events, health, openapi, overlords,
    profiles, projects, reports, sync, users, virtualclusters,
};
use crate::domain::Permission;

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
    /// The query parameters the route reads, besides `instance` (every route's).
    pub params: &'static [&'static str],
    pub summary: &'static str,
}

use Access::{Authenticated, Permission as Perm, Public};
use Permission::*;
use Source::{Live, Mirror, Service};

macro_rules! route_table {
    ($( $method:ident $path:literal => $handler:path, $access:expr, $source:expr, $params:expr, $summary:literal; )*) => {
        pub const ROUTES: &[RouteSpec] = &[
            $( RouteSpec { method: stringify!($method), path: $path, access: $access, source: $source, params: $params, summary: $summary }, )*
        ];

        /// Registers every route of the table on `scope`, in table order (more specific paths
        /// first where two could match).
        pub fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $( .route($path, web::route().method(Method::$method).to($handler)) )*
        }
    };
}

route_table! {
    GET "/health" => health::health, Public, Service, &[], "Liveness";
    GET "/auth/debug" => auth_debug::debug, Authenticated, Service, &[], "Who the caller is; Palette token presence (never its value)";
    GET "/openapi.json" => openapi::document, Authenticated, Service, &[], "This API as OpenAPI 3";
    GET "/users/me/projects" => users::my_projects, Authenticated, Mirror, &[], "Projects the Palette user can access";
    GET "/users/sshkeys" => users::ssh_keys, Authenticated, Live, &["projectUid"], "The user's SSH keys";
    GET "/clusters" => clusters::list, Perm(ClusterViewInfo), Mirror, &["limit", "offset"], "Clusters the caller can see";
    POST "/clusters" => clusters::create, Perm(ClusterCreate), Live, &["projectUid"], "Create a cluster (eks, aws, aks, azure, vsphere; nested/virtual)";
    GET "/clusters/{clusterUid}" => clusters::detail, Perm(ClusterViewInfo), Mirror, &["projectUid"], "Cluster details";
    GET "/clusters/{clusterUid}/kubeconfig" => clusters::kubeconfig, Perm(ClusterDownloadKubeconfig), Live, &["projectUid", "frp"], "Download the cluster's kubeconfig (frp=true by default)";
    GET "/clusters/{clusterUid}/profiles" => clusters::profiles, Perm(ClusterViewPackValues), Mirror, &["projectUid"], "Profiles of a cluster with packs, values, schema and presets";
    GET "/clusters/{clusterUid}/pack/manifests/{manifestUid}" => clusters::manifest, Perm(ClusterViewPackManifests), Live, &["projectUid"], "A pack manifest of a cluster";
    GET "/virtualclusters" => virtualclusters::list, Perm(ClusterViewInfo), Mirror, &["limit", "offset"], "Virtual clusters";
    POST "/virtualclusters" => virtualclusters::create, Perm(ClusterCreate), Live, &["projectUid"], "Create a virtual cluster";
    GET "/virtualclusters/{clusterUid}" => virtualclusters::detail, Perm(ClusterViewInfo), Mirror, &["projectUid"], "Virtual cluster details";
    GET "/virtualclusters/{clusterUid}/kubeconfig" => virtualclusters::kubeconfig, Perm(ClusterDownloadKubeconfig), Live, &["projectUid", "frp"], "Download a virtual cluster's kubeconfig";
    GET "/clustergroups" => clustergroups::list, Authenticated, Mirror, &["projectUid", "limit", "offset"], "Cluster groups";
    GET "/clustergroups/{clusterGroupUid}" => clustergroups::detail, Perm(ClusterViewInfo), Mirror, &["projectUid"], "Cluster group details";
    GET "/projects" => projects::list, Perm(ClusterViewInfo), Mirror, &["limit", "offset"], "All projects";
    GET "/projects/{projectUid}/profiles" => projects::profiles, Perm(ProfileViewInfo), Mirror, &["cloudType", "profileType", "limit", "offset"], "Profiles usable in a project (cloudType, profileType filters)";
    POST "/profiles/search" => profiles::search, Perm(ProfileViewInfo), Mirror, &["projectUid"], "Profiles by exact names, case-insensitive";
    GET "/profiles/{profileUid}" => profiles::detail, Perm(ProfileViewInfo), Mirror, &["projectUid"], "Profile (any version uid)";
    GET "/profiles/{profileUid}/packs" => profiles::packs, Perm(ClusterViewPackValues), Mirror, &["projectUid", "versionUid"], "Profile or one of its versions (versionUid) with packs";
    GET "/profiles/{profileUid}/variables" => profiles::variables, Authenticated, Mirror, &["projectUid"], "Profile variables";
    GET "/profiles/{profileUid}/clusters" => profiles::clusters, Perm(ProfileViewClusters), Mirror, &["projectUid", "limit", "offset"], "Every cluster on any version of the profile";
    GET "/cloudaccounts/vsphere/{accountUid}/metadata" => cloudaccounts::vsphere_metadata, Authenticated, Live, &["projectUid"], "vSphere datacenters, folders, compute clusters";
    GET "/cloudaccounts/vsphere/{accountUid}/computecluster/resources" => cloudaccounts::vsphere_resources, Authenticated, Live, &["projectUid", "datacenter", "computecluster"], "vSphere datastores, networks, resource pools (datacenter, computecluster required)";
    GET "/cloudaccounts/{cloudType}" => cloudaccounts::list, Perm(ClusterViewInfo), Mirror, &["projectUid", "limit", "offset"], "Cloud accounts of a type (secrets removed)";
    GET "/cloudaccounts/{cloudType}/{accountUid}" => cloudaccounts::detail, Perm(ClusterViewInfo), Mirror, &["projectUid"], "One cloud account (secrets removed)";
    GET "/overlords" => overlords::list, Authenticated, Mirror, &["projectUid", "limit", "offset"], "Private cloud gateways";
    GET "/overlords/vsphere/{overlordUid}/pools" => overlords::ip_pools, Authenticated, Live, &["projectUid"], "vSphere IP pools of a gateway";
    GET "/reports/profile-usage" => reports::profile_usage, Perm(ProfileViewClusters), Mirror, &["projectUid", "profileType", "cloudType", "name", "unusedOnly", "include", "format"], "Clusters per profile and version (projectUid, profileType, cloudType, name, unusedOnly, include=clusters, format=csv)";
    GET "/reports/pack-usage" => reports::pack_usage, Perm(ProfileViewClusters), Mirror, &["name", "version", "tag", "format"], "Clusters per pack and version (name: the pack and its family, any case; version: a prefix up to a dot, dash or plus; tag; format=csv); `search` says what matched";
    GET "/reports/fleet" => reports::fleet, Perm(ClusterViewInfo), Mirror, &[], "Clusters per environment by state, health, cloud, kubernetes version, project; freshness";
    GET "/events" => events::list, Perm(ClusterViewInfo), Mirror, &["since", "type", "clusterUid", "projectUid", "limit", "cursor"], "Fleet changes seen by the sync, newest first (since, type, clusterUid, projectUid, limit, cursor)";
    GET "/sync/status" => sync::status, Perm(ClusterViewInfo), Service, &[], "Mirror freshness per environment";
    POST "/sync" => sync::trigger, Perm(ClusterCreate), Service, &[], "Start a sync run";
    GET "/audit" => audit::list, Perm(AuditView), Service, &["limit", "offset"], "Audit log, newest first";
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

/// Parameters a Backstage client may send to any route (the original read both on almost
/// every route): accepted everywhere, part of the answer only where the route reads them.
pub const EVERYWHERE: &[&str] = &["instance", "projectUid"];

impl RouteSpec {
    /// The query as it decides this route's answer: the parameters the route reads, sorted by
    /// name (a repeated name keeps its order), encoded again, so spellings of one question are
    /// one answer. An unknown or repeated parameter is refused, naming the accepted ones.
    pub fn canonical_query(&self, query: &str) -> Result<String, crate::error::AppError> {
        let mut kept: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let reads = name == "instance" || self.params.contains(&name.as_ref());
            if !reads && !EVERYWHERE.contains(&name.as_ref()) {
                return Err(crate::error::AppError::bad_request(format!(
                    "unknown query parameter `{name}` for {} {}; accepted: {}",
                    self.method,
                    self.path,
                    self.accepted().join(", ")
                )));
            }
            if seen.iter().any(|s| *s == name) {
                return Err(crate::error::AppError::bad_request(format!(
                    "query parameter `{name}` given more than once"
                )));
            }
            seen.push(name.to_string());
            if reads {
                kept.push((name.into_owned(), value.into_owned()));
            }
        }
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        out.extend_pairs(kept);
        Ok(out.finish())
    }

    /// Every query parameter this route accepts, sorted.
    pub fn accepted(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = EVERYWHERE.iter().chain(self.params).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str) -> &'static RouteSpec {
        find("GET", path).expect("route")
    }

    #[test]
    fn a_query_is_canonical_and_unknown_parameters_are_refused() {
        let clusters = spec("/clusters");
        assert_eq!(
            clusters.canonical_query("offset=2&limit=5").unwrap(),
            clusters.canonical_query("limit=5&offset=%32").unwrap()
        );
        assert_eq!(clusters.canonical_query("").unwrap(), "");
        // Accepted everywhere, but not read here: no part of the key.
        assert_eq!(
            clusters.canonical_query("projectUid=abc&limit=1").unwrap(),
            "limit=1"
        );
        let err = clusters.canonical_query("limit=1&junk=7").unwrap_err();
        assert!(err.message.contains("`junk`"), "{}", err.message);
        assert!(
            err.message.contains("instance, limit, offset, projectUid"),
            "{}",
            err.message
        );
        assert!(clusters.canonical_query("limit=1&limit=2").is_err());
        let usage = spec("/reports/profile-usage");
        assert_eq!(
            usage.canonical_query("projectUid=p&format=csv").unwrap(),
            "format=csv&projectUid=p"
        );
    }

    #[test]
    fn every_parameter_a_handler_reads_is_listed() {
        // Spot checks against the handlers (a route missing one would refuse its own input).
        assert!(
            spec("/clusters/{clusterUid}/kubeconfig")
                .params
                .contains(&"frp")
        );
        assert!(
            spec("/profiles/{profileUid}/packs")
                .params
                .contains(&"versionUid")
        );
        assert!(spec("/events").params.contains(&"cursor"));
        assert!(spec("/reports/pack-usage").params.contains(&"tag"));
    }
}
