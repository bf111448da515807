//! MCP tools for AI agents (rmcp, Streamable HTTP at `<base_path>/mcp`): the original plugin's
//! actions under their names, answered from the mirror (kubeconfigs and manifests live), with
//! the same bearer tokens as the HTTP API. Each tool names its permission once, in [`TOOLS`];
//! `tools/list` shows a caller only the tools it may call, and `tools/call` checks before any
//! tool runs. The tools call the same `service` functions as the HTTP routes.

pub mod actions;
pub mod oauth;
pub mod sessions;

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, schemars, tool, tool_router};
use rmcp_actix_web::transport::{
    LocalSessionManager, StreamableHttpService, on_request_extensions,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::palette_user::PaletteUser;
use crate::auth::permissions::Permission::{self, *};
use crate::config::{AuthMode, Config};
use crate::domain::{CloudType, ProfileNames, ProfileType, Uid};
use crate::error::AppError;
use crate::palette::models;
use crate::service::{
    self, Answer, Ctx, Origin, clusters, infra, profiles, projects, reports, status,
};
use crate::store::Page;

/// THE tool table: every tool and the permission it needs. A tool missing here is refused.
pub const TOOLS: &[(&str, Permission)] = &[
    ("get_spectrocloud_health_for_cluster", ClusterViewInfo),
    (
        "get_spectrocloud_kubeconfig_for_cluster",
        ClusterDownloadKubeconfig,
    ),
    (
        "get_spectrocloud_pack_details_for_profile",
        ClusterViewPackValues,
    ),
    (
        "find_spectrocloud_clusters_for_profile",
        ProfileViewClusters,
    ),
    ("list_spectrocloud_clusters", ClusterViewInfo),
    ("list_spectrocloud_virtual_clusters", ClusterViewInfo),
    ("list_spectrocloud_projects", ClusterViewInfo),
    ("list_spectrocloud_cluster_groups", ClusterViewInfo),
    ("search_spectrocloud_profiles_by_names", ProfileViewInfo),
    ("get_spectrocloud_profile_variables", ProfileViewInfo),
    ("list_spectrocloud_profiles_for_project", ProfileViewInfo),
    (
        "get_spectrocloud_pack_manifest_for_cluster",
        ClusterViewPackManifests,
    ),
    ("get_spectrocloud_cluster_profiles", ClusterViewPackValues),
    ("get_spectrocloud_virtual_cluster_details", ClusterViewInfo),
    (
        "get_spectrocloud_kubeconfig_for_virtual_cluster",
        ClusterDownloadKubeconfig,
    ),
    ("get_spectrocloud_cluster_group", ClusterViewInfo),
    ("list_spectrocloud_cloud_accounts", ClusterViewInfo),
    ("get_spectrocloud_profile_usage", ProfileViewClusters),
    ("get_spectrocloud_sync_status", ClusterViewInfo),
];

pub fn permission_of(tool: &str) -> Option<Permission> {
    TOOLS.iter().find(|(t, _)| *t == tool).map(|(_, p)| *p)
}

#[derive(Clone)]
pub struct McpServer {
    state: web::Data<AppState>,
    tool_router: ToolRouter<McpServer>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvArgs {
    /// Environment (Palette instance) name; the first configured one when absent.
    pub instance_name: Option<String>,
    /// Only this project.
    pub project_uid: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterArgs {
    /// The cluster's name in Palette (its catalog title).
    pub cluster_name: Option<String>,
    /// Or its uid.
    pub cluster_uid: Option<String>,
    /// Narrows a name that exists in several projects.
    pub project_uid: Option<String>,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeconfigArgs {
    pub cluster_name: Option<String>,
    pub cluster_uid: Option<String>,
    pub project_uid: Option<String>,
    /// Through Palette's reverse proxy (default true).
    pub frp: Option<bool>,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileArgs {
    /// The profile's name (case-insensitive).
    pub profile_name: Option<String>,
    /// Or any of its version uids.
    pub profile_uid: Option<String>,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchArgs {
    /// Exact profile names, case-insensitive.
    pub names: Vec<String>,
    pub project_uid: Option<String>,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectProfilesArgs {
    pub project_uid: String,
    /// eks, aws, aks, azure, vsphere, ...
    pub cloud_type: Option<String>,
    /// infra, cluster, add-on or system (default: infra and cluster).
    pub profile_type: Option<String>,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestArgs {
    pub cluster_name: Option<String>,
    pub cluster_uid: Option<String>,
    pub manifest_uid: String,
    pub project_uid: Option<String>,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualClusterArgs {
    pub virtual_cluster_uid: String,
    pub project_uid: Option<String>,
    /// For the kubeconfig: through Palette's reverse proxy (default true).
    pub frp: Option<bool>,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGroupArgs {
    pub cluster_group_uid: String,
    pub instance_name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudAccountsArgs {
    /// aws, azure or vsphere.
    pub cloud_type: String,
    pub instance_name: Option<String>,
}

type ToolResult = Result<CallToolResult, McpError>;

/// A tool's answer: its JSON, or `{error, code}` marked as an error (which the calling model
/// can read, unlike a protocol error).
fn answer(result: Result<Value, AppError>) -> ToolResult {
    Ok(match result {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => {
            CallToolResult::structured_error(json!({ "error": e.message, "code": e.code.as_str() }))
        }
    })
}

fn caller(ctx: &RequestContext<RoleServer>) -> Option<Caller> {
    on_request_extensions(&ctx.extensions)
        .and_then(|e| e.get::<Caller>())
        .cloned()
}

/// Where a service answer came from, for the model: `{source, syncedAt, stale}`.
fn origin(a: &Answer) -> Value {
    match a.origin {
        Origin::Mirror(f) => json!({
            "source": "mirror",
            "syncedAt": f.synced_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            "stale": f.stale,
        }),
        Origin::Live => json!({ "source": "live" }),
    }
}

/// `{uid, name, type, cloudType, version}` of listed profiles (no pack values: small for a
/// model).
fn profile_briefs(list: &Value) -> Vec<Value> {
    items(list, "profiles")
        .iter()
        .map(|p| {
            let published = &p["specSummary"]["published"];
            json!({
                "uid": p["metadata"]["uid"],
                "name": p["metadata"]["name"],
                "type": published["type"],
                "cloudType": published["cloudType"],
                "version": p["specSummary"]["version"],
            })
        })
        .collect()
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `{uid, name, state, health, cloudType, projectUid, kubernetesVersion}` of listed clusters.
fn cluster_briefs(list: &Value, key: &str) -> Vec<Value> {
    items(list, key)
        .iter()
        .map(|c| {
            json!({
                "uid": c["metadata"]["uid"],
                "name": c["metadata"]["name"],
                "state": c["status"]["state"],
                "health": c["status"]["health"]["state"],
                "cloudType": models::cloud_type(c),
                "projectUid": models::project_uid(c),
                "kubernetesVersion": c["status"]["kubeMeta"]["kubernetesVersion"],
            })
        })
        .collect()
}

fn uid_arg(what: &str, v: &Option<String>) -> Result<Option<Uid>, AppError> {
    Uid::optional(what, v.as_deref())
}

impl McpServer {
    pub fn new(state: web::Data<AppState>) -> McpServer {
        McpServer {
            state,
            tool_router: Self::tool_router(),
        }
    }

    /// The service context of a tool call: the environment, the tool's caller, and the
    /// environment's key (agents carry no Palette user token).
    fn ctx(
        &self,
        instance: Option<&str>,
        rc: &RequestContext<RoleServer>,
    ) -> Result<Ctx, AppError> {
        Ok(Ctx {
            state: self.state.clone(),
            env: service::environment(&self.state, instance)?,
            user: Arc::new(PaletteUser::none()),
            caller: caller(rc).ok_or_else(|| AppError::unauthenticated("no caller"))?,
        })
    }
}

#[tool_router]
impl McpServer {
    #[tool(
        description = "Get health and state of a SpectroCloud cluster (by name or uid): overall status, conditions, Kubernetes version, cloud type, project."
    )]
    async fn get_spectrocloud_health_for_cluster(
        &self,
        Parameters(a): Parameters<ClusterArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let project = uid_arg("projectUid", &a.project_uid)?;
            let uid = clusters::resolve(&ctx, a.cluster_name.as_deref(), uid_arg("clusterUid", &a.cluster_uid)?, project.as_ref()).await?;
            let got = clusters::detail(&ctx, &uid, project.as_ref()).await?;
            let d = got.value()?;
            let health = &d["status"]["health"];
            let state = d["status"]["state"].as_str().unwrap_or_default();
            Ok(json!({ "mirror": origin(&got),
                "cluster": { "name": models::name(&d), "uid": uid.as_str(), "state": state, "cloudType": models::cloud_type(&d),
                             "projectUid": models::project_uid(&d), "kubernetesVersion": d["status"]["kubeMeta"]["kubernetesVersion"] },
                "health": {
                    "overallStatus": health["state"].as_str().filter(|s| !s.is_empty()).unwrap_or(state),
                    "lastHeartBeat": health["lastHeartBeatTimestamp"],
                    "conditions": health["conditions"].as_array().cloned().unwrap_or_default(),
                },
            }))
        }.await)
    }

    #[tool(
        description = "Download a client (OIDC) kubeconfig for a SpectroCloud cluster, by name or uid; frp (default true) goes through Palette's reverse proxy."
    )]
    async fn get_spectrocloud_kubeconfig_for_cluster(
        &self,
        Parameters(a): Parameters<KubeconfigArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let project = uid_arg("projectUid", &a.project_uid)?;
            let uid = clusters::resolve(&ctx, a.cluster_name.as_deref(), uid_arg("clusterUid", &a.cluster_uid)?, project.as_ref()).await?;
            let body = clusters::kubeconfig(&ctx, &uid, project.as_ref(), a.frp.unwrap_or(true)).await?;
            Ok(json!({ "cluster": { "name": a.cluster_name, "uid": uid.as_str() }, "kubeconfig": String::from_utf8_lossy(&body), "accessType": "client-oidc" }))
        }.await)
    }

    #[tool(
        description = "Show the packs (name, version, layer) of a cluster profile's newest version, by profile name or any version uid."
    )]
    async fn get_spectrocloud_pack_details_for_profile(
        &self,
        Parameters(a): Parameters<ProfileArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let uid = profiles::resolve(&ctx, a.profile_name.as_deref(), uid_arg("profileUid", &a.profile_uid)?).await?;
            let got = profiles::packs(&ctx, &uid, None, None).await?;
            let p = got.value()?;
            let published = &p["spec"]["published"];
            let packs: Vec<Value> = items(published, "packs")
                .iter()
                .map(|k| json!({ "name": k["name"], "version": k["tag"], "layer": k["layer"] }))
                .collect();
            Ok(json!({ "mirror": origin(&got),
                "profile": { "name": p["metadata"]["name"], "uid": uid.as_str(), "type": published["type"], "cloudType": published["cloudType"],
                             "version": p["spec"]["version"], "status": if p["status"]["isPublished"] == true { "published" } else { "draft" } },
                "packs": packs,
            }))
        }.await)
    }

    #[tool(
        description = "List every cluster using a cluster profile, on any of its versions (reverse lookup), by profile name or any version uid."
    )]
    async fn find_spectrocloud_clusters_for_profile(
        &self,
        Parameters(a): Parameters<ProfileArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let uid = profiles::resolve(
                    &ctx,
                    a.profile_name.as_deref(),
                    uid_arg("profileUid", &a.profile_uid)?,
                )
                .await?;
                let got = profiles::clusters(&ctx, &uid, Page::ALL).await?;
                let mut v = got.value()?;
                v["mirror"] = origin(&got);
                Ok(v)
            }
            .await,
        )
    }

    #[tool(
        description = "List SpectroCloud clusters (uid, name, state, health, cloud type, project), optionally of one project."
    )]
    async fn list_spectrocloud_clusters(
        &self,
        Parameters(a): Parameters<EnvArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let project = uid_arg("projectUid", &a.project_uid)?;
                let got = clusters::list(&ctx, Page::ALL).await?;
                let mut list = cluster_briefs(&got.value()?, "clusters");
                // Virtual clusters have their own tool.
                list.retain(|c| c["cloudType"] != CloudType::Nested.as_str());
                list.retain(|c| {
                    project
                        .as_ref()
                        .is_none_or(|p| c["projectUid"] == p.as_str())
                });
                Ok(json!({ "mirror": origin(&got), "clusters": list }))
            }
            .await,
        )
    }

    #[tool(description = "List SpectroCloud virtual clusters (uid, name, state).")]
    async fn list_spectrocloud_virtual_clusters(
        &self,
        Parameters(a): Parameters<EnvArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let project = uid_arg("projectUid", &a.project_uid)?;
                let got = clusters::list_virtual(&ctx, Page::ALL).await?;
                let mut list = cluster_briefs(&got.value()?, "virtualClusters");
                list.retain(|c| {
                    project
                        .as_ref()
                        .is_none_or(|p| c["projectUid"] == p.as_str())
                });
                Ok(json!({ "mirror": origin(&got), "virtualClusters": list }))
            }
            .await,
        )
    }

    #[tool(description = "List SpectroCloud projects (uid, name).")]
    async fn list_spectrocloud_projects(
        &self,
        Parameters(a): Parameters<EnvArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let got = projects::mine(&ctx).await?;
                let mut v = got.value()?;
                v["mirror"] = origin(&got);
                Ok(v)
            }
            .await,
        )
    }

    #[tool(
        description = "List SpectroCloud cluster groups (uid, name, project), optionally of one project (with the tenant's)."
    )]
    async fn list_spectrocloud_cluster_groups(
        &self,
        Parameters(a): Parameters<EnvArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let project = uid_arg("projectUid", &a.project_uid)?;
            let got = infra::cluster_groups(&ctx, project.as_ref(), Page::ALL).await?;
            let list: Vec<Value> = items(&got.value()?, "items")
                .iter()
                .map(|g| json!({ "uid": g["metadata"]["uid"], "name": g["metadata"]["name"], "projectUid": models::project_uid(g) }))
                .collect();
            Ok(json!({ "mirror": origin(&got), "clusterGroups": list }))
        }.await)
    }

    #[tool(
        description = "Find cluster profiles by exact names (case-insensitive): uid, name, type, cloud type, newest version."
    )]
    async fn search_spectrocloud_profiles_by_names(
        &self,
        Parameters(a): Parameters<SearchArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let names = ProfileNames::parse(a.names)?;
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let project = uid_arg("projectUid", &a.project_uid)?;
                let got = profiles::search(&ctx, &names, project.as_ref()).await?;
                Ok(json!({ "mirror": origin(&got), "profiles": profile_briefs(&got.value()?) }))
            }
            .await,
        )
    }

    #[tool(description = "Get the variables of a cluster profile, by name or any version uid.")]
    async fn get_spectrocloud_profile_variables(
        &self,
        Parameters(a): Parameters<ProfileArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let uid = match uid_arg("profileUid", &a.profile_uid)? {
                Some(u) => u,
                None => profiles::resolve(&ctx, a.profile_name.as_deref(), None).await?,
            };
            let got = profiles::variables(&ctx, &uid, None).await?;
            Ok(json!({ "mirror": origin(&got), "profileUid": uid.as_str(), "variables": got.value()?["variables"] }))
        }.await)
    }

    #[tool(
        description = "List the cluster profiles usable in a project (its own and the tenant's), filtered by cloud type and profile type (default infra and cluster)."
    )]
    async fn list_spectrocloud_profiles_for_project(
        &self,
        Parameters(a): Parameters<ProjectProfilesArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let project = Uid::parse("projectUid", &a.project_uid)?;
                let cloud = CloudType::optional(a.cloud_type.as_deref())?;
                let types = ProfileType::filter(a.profile_type.as_deref())?;
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let got =
                    projects::profiles(&ctx, &project, cloud.as_ref(), &types, Page::ALL).await?;
                Ok(json!({ "mirror": origin(&got), "profiles": profile_briefs(&got.value()?) }))
            }
            .await,
        )
    }

    #[tool(
        description = "Get a pack manifest (its YAML content) of a cluster, by cluster name or uid and manifest uid."
    )]
    async fn get_spectrocloud_pack_manifest_for_cluster(
        &self,
        Parameters(a): Parameters<ManifestArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let project = uid_arg("projectUid", &a.project_uid)?;
            let uid = clusters::resolve(&ctx, a.cluster_name.as_deref(), uid_arg("clusterUid", &a.cluster_uid)?, project.as_ref()).await?;
            let manifest = Uid::parse("manifestUid", &a.manifest_uid)?;
            let got = clusters::manifest(&ctx, &uid, &manifest, project.as_ref()).await?;
            Ok(json!({ "clusterUid": uid.as_str(), "manifestUid": manifest.as_str(), "manifest": got.value().unwrap_or(Value::Null) }))
        }.await)
    }

    #[tool(
        description = "Get the profiles attached to a cluster with their packs (name, version, layer), by cluster name or uid."
    )]
    async fn get_spectrocloud_cluster_profiles(
        &self,
        Parameters(a): Parameters<ClusterArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let project = uid_arg("projectUid", &a.project_uid)?;
            let uid = clusters::resolve(&ctx, a.cluster_name.as_deref(), uid_arg("clusterUid", &a.cluster_uid)?, project.as_ref()).await?;
            let got = clusters::profiles(&ctx, &uid, project.as_ref()).await?;
            // Pack values and schemas are left out: large, and rarely what a model needs.
            let list: Vec<Value> = items(&got.value()?, "profiles")
                .iter()
                .map(|p| {
                    let packs: Vec<Value> = items(&p["spec"], "packs")
                        .iter()
                        .map(|k| json!({ "name": k["spec"]["name"], "version": k["spec"]["version"], "layer": k["spec"]["layer"] }))
                        .collect();
                    json!({ "uid": p["metadata"]["uid"], "name": p["metadata"]["name"], "type": p["spec"]["type"], "version": p["spec"]["version"], "packs": packs })
                })
                .collect();
            Ok(json!({ "mirror": origin(&got), "clusterUid": uid.as_str(), "profiles": list }))
        }.await)
    }

    #[tool(description = "Get a virtual cluster's name, state, host cluster and cluster group.")]
    async fn get_spectrocloud_virtual_cluster_details(
        &self,
        Parameters(a): Parameters<VirtualClusterArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let uid = Uid::parse("virtualClusterUid", &a.virtual_cluster_uid)?;
            let project = uid_arg("projectUid", &a.project_uid)?;
            let got = clusters::detail_virtual(&ctx, &uid, project.as_ref()).await?;
            let d = got.value()?;
            Ok(json!({ "mirror": origin(&got), "cluster": { "name": models::name(&d), "uid": uid.as_str(), "state": d["status"]["state"], "projectUid": models::project_uid(&d),
                                    "hostCluster": d["status"]["virtual"]["hostCluster"], "clusterGroup": d["status"]["virtual"]["clusterGroup"] } }))
        }.await)
    }

    #[tool(
        description = "Download a kubeconfig for a virtual cluster; frp (default true) goes through Palette's reverse proxy."
    )]
    async fn get_spectrocloud_kubeconfig_for_virtual_cluster(
        &self,
        Parameters(a): Parameters<VirtualClusterArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
            let uid = Uid::parse("virtualClusterUid", &a.virtual_cluster_uid)?;
            let project = uid_arg("projectUid", &a.project_uid)?;
            let body = clusters::kubeconfig(&ctx, &uid, project.as_ref(), a.frp.unwrap_or(true)).await?;
            Ok(json!({ "cluster": { "uid": uid.as_str() }, "kubeconfig": String::from_utf8_lossy(&body), "accessType": "client-oidc" }))
        }.await)
    }

    #[tool(description = "Get a cluster group: its host clusters and settings.")]
    async fn get_spectrocloud_cluster_group(
        &self,
        Parameters(a): Parameters<ClusterGroupArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let uid = Uid::parse("clusterGroupUid", &a.cluster_group_uid)?;
                let got = infra::cluster_group(&ctx, &uid, None).await?;
                Ok(json!({ "mirror": origin(&got), "clusterGroup": got.value()? }))
            }
            .await,
        )
    }

    #[tool(
        description = "List cloud accounts (uid, name) of a cloud type: aws, azure, vsphere or any other Palette cloud."
    )]
    async fn list_spectrocloud_cloud_accounts(
        &self,
        Parameters(a): Parameters<CloudAccountsArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let cloud = CloudType::parse(&a.cloud_type)?;
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let got = infra::accounts(&ctx, &cloud, None, Page::ALL).await?;
                let list: Vec<Value> = items(&got.value()?, "accounts")
                    .iter()
                    .map(|c| json!({ "uid": c["metadata"]["uid"], "name": c["metadata"]["name"] }))
                    .collect();
                Ok(json!({ "mirror": origin(&got), "accounts": list }))
            }
            .await,
        )
    }

    #[tool(
        description = "Report how many clusters run each cluster profile and each of its versions, most used first (unused profiles included)."
    )]
    async fn get_spectrocloud_profile_usage(
        &self,
        Parameters(a): Parameters<EnvArgs>,
        rc: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(
            async {
                let ctx = self.ctx(a.instance_name.as_deref(), &rc)?;
                let got = reports::profile_usage(&ctx, &Default::default()).await?;
                let mut v = got.value()?;
                v["mirror"] = origin(&got);
                Ok(v)
            }
            .await,
        )
    }

    #[tool(
        description = "How fresh the mirror of each SpectroCloud environment is: last successful sync, staleness, a run under way."
    )]
    async fn get_spectrocloud_sync_status(&self, Parameters(a): Parameters<EnvArgs>) -> ToolResult {
        answer(
            async {
                let only = match a.instance_name.as_deref().filter(|n| !n.is_empty()) {
                    Some(n) => Some(service::environment(&self.state, Some(n))?),
                    None => None,
                };
                let list =
                    status::sync_status(&self.state, only.as_ref().map(|e| e.name())).await?;
                Ok(json!({ "environments": list }))
            }
            .await,
        )
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("spectrocloud-backend", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Spectro Cloud Palette clusters, cluster profiles, projects and cloud accounts, from a local mirror \
                 kept fresh by background sync. Tools take an optional instanceName (the Palette environment).",
            )
    }

    /// Only the tools the caller may call.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = caller(&ctx);
        let tools = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| match (permission_of(&t.name), &caller) {
                (Some(p), Some(c)) => c.may(p),
                _ => false,
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    /// The permission check of every tool, before it runs.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let Some(permission) = permission_of(&name) else {
            return Err(McpError::invalid_params(
                format!("unknown tool {name}"),
                None,
            ));
        };
        let permission = Some(permission);
        let allowed = match (permission, caller(&ctx)) {
            (Some(p), Some(c)) => {
                if !c.may(p) {
                    tracing::info!(subject = %c.subject, tool = %name, permission = p.id(), "MCP tool denied");
                }
                c.may(p)
            }
            _ => false,
        };
        if !allowed {
            let p = permission.map(Permission::id).unwrap_or("unknown tool");
            if let Some(c) = caller(&ctx) {
                // A refused tool call is a denial on record, as on the HTTP routes.
                crate::auth::audit::record_denied(
                    &self.state.db,
                    crate::auth::audit::Event {
                        subject: &c.subject,
                        user: None,
                        action: crate::auth::audit::Action::Access,
                        env: "",
                        object_uid: None,
                        success: false,
                        detail: Some(format!("MCP tool {name}: permission {p} missing")),
                    },
                )
                .await;
            }
            return Ok(CallToolResult::structured_error(json!({
                "error": format!("Permission denied: {p} is not granted to this caller"),
                "code": "permission_denied",
                "permission": p,
            }))
            .into());
        }
        self.tool_router
            .call(ToolCallContext::new(self, request, ctx))
            .await
    }
}

/// Authenticates MCP requests with the API's bearer tokens; the caller reaches the tools.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let resp = AppError::internal("authorizing", "no application state").error_response();
        return Ok(req.into_response(resp));
    };
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match state.auth.authenticate(auth.as_deref()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(reason) => {
            tracing::info!(reason = %reason, "MCP authentication failed");
            let mut resp = AppError::unauthenticated(
                "authentication required: send Authorization: Bearer <token>",
            )
            .error_response();
            // RFC 9728: the challenge says where the protected-resource metadata is.
            let challenge = oauth::challenge(req.request(), &state.config);
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
            Ok(req.into_response(resp))
        }
    }
}

/// The Streamable HTTP service, built once and shared by every worker (sessions live in it).
pub fn service(
    state: web::Data<AppState>,
    config: &Config,
    shutdown: CancellationToken,
    sessions: Arc<LocalSessionManager>,
) -> StreamableHttpService<McpServer, LocalSessionManager> {
    // rmcp's Host check guards unauthenticated loopback servers against DNS rebinding; with
    // bearer tokens required, a rebinding page has no token, so any Host is accepted.
    let hosts: Vec<String> = match config.auth.mode {
        AuthMode::None => vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        _ => Vec::new(),
    };
    StreamableHttpService::builder()
        .service_factory(Arc::new(move || Ok(McpServer::new(state.clone()))))
        .session_manager(sessions)
        .on_request_fn(|req, ext| {
            if let Some(c) = req.extensions().get::<Caller>() {
                ext.insert(c.clone());
            }
        })
        .allowed_hosts(hosts)
        // A plain request/response answers application/json, not a one-event SSE stream,
        // wherever the request is served statelessly (2026-07-28 clients, or every client
        // with `mcp.legacy_sessions = false`).
        .json_response(true)
        .stateful_mode(config.mcp.legacy_sessions)
        .cancellation_token(shutdown)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_names_its_permission() {
        let router = McpServer::tool_router();
        let tools = router.list_all();
        assert_eq!(tools.len(), TOOLS.len());
        for t in tools {
            assert!(
                permission_of(&t.name).is_some(),
                "tool {} has no permission",
                t.name
            );
        }
    }
}
