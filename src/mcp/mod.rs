//! MCP tools for AI agents (rmcp, Streamable HTTP at `<base_path>/mcp`): the original plugin's
//! actions under their names, answered from the mirror (kubeconfigs and manifests live), with
//! the same bearer tokens as the HTTP API. Each tool names its permission once, in [`TOOLS`];
//! `tools/list` shows a caller only the tools it may call, and `tools/call` checks before any
//! tool runs. The tools call the same store and service functions as the HTTP routes.

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

use crate::api::clusters::{fetch_kubeconfig, fetch_manifest};
use crate::api::extract::{Live, mirror_ready};
use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::palette_user::PaletteUser;
use crate::auth::permissions::Permission::{self, *};
use crate::auth::scope::Visibility;
use crate::config::{AuthMode, Config};
use crate::error::{AppError, ErrorCode};
use crate::palette::Environment;
use crate::store::{Page, clusters, infra, profiles, projects, reports};

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

fn checked_uid(what: &str, v: &str) -> Result<String, AppError> {
    crate::api::extract::uid(what, v).map(str::to_string)
}

/// An optional `projectUid` argument, checked like the HTTP routes check theirs.
fn project_arg(p: &Option<String>) -> Result<Option<String>, AppError> {
    p.as_deref()
        .filter(|p| !p.is_empty())
        .map(|p| checked_uid("projectUid", p))
        .transpose()
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

/// `{uid, name, type, cloudType}` of listed profiles (no pack values: small for a model).
fn profile_briefs(items: &[String]) -> Vec<Value> {
    items
        .iter()
        .map(|t| {
            let p = parse(t);
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

impl McpServer {
    pub fn new(state: web::Data<AppState>) -> McpServer {
        McpServer {
            state,
            tool_router: Self::tool_router(),
        }
    }

    fn env(&self, name: Option<&str>) -> Result<Arc<Environment>, AppError> {
        let name = name.filter(|n| !n.is_empty());
        self.state
            .envs
            .get(name)
            .cloned()
            .ok_or_else(|| match name {
                Some(n) => AppError::unknown_instance(n),
                None => AppError::new(
                    ErrorCode::UnknownInstance,
                    "no SpectroCloud environment is configured",
                ),
            })
    }

    /// A live call as the tool's caller, with the environment's key (agents carry no Palette
    /// user token).
    fn live(
        &self,
        env: Arc<Environment>,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Live, AppError> {
        Ok(Live {
            state: self.state.clone(),
            env,
            user: Arc::new(PaletteUser::none()),
            caller: caller(ctx).ok_or_else(|| AppError::unauthenticated("no caller"))?,
        })
    }

    /// The uid of a cluster given by uid, or by a name that must be unambiguous.
    async fn cluster_uid(
        &self,
        env: &Environment,
        name: Option<&str>,
        uid: Option<&str>,
        project: Option<&str>,
    ) -> Result<String, AppError> {
        if let Some(u) = uid.filter(|u| !u.is_empty()) {
            return checked_uid("clusterUid", u);
        }
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Err(AppError::bad_request(
                "Provide either clusterName or clusterUid",
            ));
        };
        let found = clusters::uids_named(&self.state.db, env.name(), name, project).await?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(AppError::not_found(format!("No cluster named {name}"))),
            _ => Err(AppError::bad_request(format!(
                "Multiple clusters are named {name}; give projectUid or clusterUid"
            ))),
        }
    }

    /// The version uid a profile is listed under, given by any version uid or by a name.
    async fn profile_uid(
        &self,
        env: &Environment,
        name: Option<&str>,
        uid: Option<&str>,
    ) -> Result<String, AppError> {
        if let Some(u) = uid.filter(|u| !u.is_empty()) {
            let u = checked_uid("profileUid", u)?;
            return profiles::version(&self.state.db, env.name(), &u)
                .await?
                .map(|v| v.profile_uid)
                .ok_or_else(|| AppError::not_found(format!("No profile {u}")));
        }
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Err(AppError::bad_request(
                "Provide either profileName or profileUid",
            ));
        };
        let found = profiles::uids_named(&self.state.db, env.name(), name).await?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(AppError::not_found(format!("No profile named {name}"))),
            _ => Err(AppError::bad_request(format!(
                "Multiple profiles are named {name} (tenant and project ones); give profileUid"
            ))),
        }
    }

    /// The environment, once its mirror holds data (its first sync done, or 503 `not_synced`
    /// as on the HTTP routes), and how fresh that data is.
    async fn mirror(&self, name: Option<&str>) -> Result<(Arc<Environment>, Value), AppError> {
        let env = self.env(name)?;
        let f = mirror_ready(&self.state, env.name()).await?;
        let fresh = json!({ "syncedAt": f.synced_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)), "stale": f.stale });
        Ok((env, fresh))
    }

    async fn cluster_record(
        &self,
        env: &Environment,
        uid: &str,
    ) -> Result<clusters::ClusterRecord, AppError> {
        clusters::get(&self.state.db, env.name(), uid)
            .await?
            .ok_or_else(|| AppError::not_found(format!("Cluster not found: {uid}")))
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
    ) -> ToolResult {
        answer(async {
            let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
            let project = project_arg(&a.project_uid)?;
            let uid = self.cluster_uid(&env, a.cluster_name.as_deref(), a.cluster_uid.as_deref(), project.as_deref()).await?;
            let c = self.cluster_record(&env, &uid).await?;
            let detail = c.detail_json.as_deref().map(parse).unwrap_or(Value::Null);
            let health = &detail["status"]["health"];
            Ok(json!({ "mirror": fresh, 
                "cluster": { "name": c.name, "uid": c.uid, "state": c.state, "cloudType": c.cloud_type, "projectUid": c.project_uid,
                             "kubernetesVersion": detail["status"]["kubeMeta"]["kubernetesVersion"] },
                "health": {
                    "overallStatus": health["state"].as_str().filter(|s| !s.is_empty()).unwrap_or(&c.state),
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
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let env = self.env(a.instance_name.as_deref())?;
            let project = project_arg(&a.project_uid)?;
            let uid = self.cluster_uid(&env, a.cluster_name.as_deref(), a.cluster_uid.as_deref(), project.as_deref()).await?;
            let c = self.cluster_record(&env, &uid).await?;
            let live = self.live(env, &ctx)?;
            let body = fetch_kubeconfig(&live, &uid, project, a.frp.unwrap_or(true)).await?;
            Ok(json!({ "cluster": { "name": c.name, "uid": uid }, "kubeconfig": String::from_utf8_lossy(&body), "accessType": "client-oidc" }))
        }.await)
    }

    #[tool(
        description = "Show the packs (name, version, layer) of a cluster profile's newest version, by profile name or any version uid."
    )]
    async fn get_spectrocloud_pack_details_for_profile(
        &self,
        Parameters(a): Parameters<ProfileArgs>,
    ) -> ToolResult {
        answer(async {
            let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
            let uid = self.profile_uid(&env, a.profile_name.as_deref(), a.profile_uid.as_deref()).await?;
            let v = profiles::version(&self.state.db, env.name(), &uid).await?.ok_or_else(|| AppError::not_found("Profile not found"))?;
            let p = parse(&v.json);
            let published = &p["spec"]["published"];
            let packs: Vec<Value> = published["packs"]
                .as_array()
                .map(|a| a.iter().map(|k| json!({ "name": k["name"], "version": k["tag"], "layer": k["layer"] })).collect())
                .unwrap_or_default();
            Ok(json!({ "mirror": fresh, 
                "profile": { "name": p["metadata"]["name"], "uid": uid, "type": published["type"], "cloudType": published["cloudType"],
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
    ) -> ToolResult {
        answer(
            async {
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let uid = self
                    .profile_uid(&env, a.profile_name.as_deref(), a.profile_uid.as_deref())
                    .await?;
                let profile = profiles::lineage(&self.state.db, env.name(), &uid)
                    .await?
                    .ok_or_else(|| AppError::not_found("Profile not found"))?;
                let (clusters, total) = profiles::clusters_on(
                    &self.state.db,
                    env.name(),
                    &uid,
                    &Visibility::All.filter(crate::auth::scope::Kind::Cluster),
                    Page::ALL,
                )
                .await?;
                Ok(json!({ "mirror": fresh,  "profile": profile, "clusters": clusters, "total": total }))
            }
            .await,
        )
    }

    #[tool(
        description = "List SpectroCloud clusters (uid, name, state, health, cloud type, project), optionally of one project."
    )]
    async fn list_spectrocloud_clusters(&self, Parameters(a): Parameters<EnvArgs>) -> ToolResult {
        answer(async {
            let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
            let project = project_arg(&a.project_uid)?;
            Ok(json!({ "mirror": fresh,  "clusters": clusters::summaries(&self.state.db, env.name(), project.as_deref(), false).await? }))
        }.await)
    }

    #[tool(description = "List SpectroCloud virtual clusters (uid, name, state).")]
    async fn list_spectrocloud_virtual_clusters(
        &self,
        Parameters(a): Parameters<EnvArgs>,
    ) -> ToolResult {
        answer(async {
            let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
            let project = project_arg(&a.project_uid)?;
            Ok(json!({ "mirror": fresh,  "virtualClusters": clusters::summaries(&self.state.db, env.name(), project.as_deref(), true).await? }))
        }.await)
    }

    #[tool(description = "List SpectroCloud projects (uid, name).")]
    async fn list_spectrocloud_projects(&self, Parameters(a): Parameters<EnvArgs>) -> ToolResult {
        answer(
            async {
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let list: Vec<Value> = projects::names(&self.state.db, env.name(), None)
                    .await?
                    .into_iter()
                    .map(|(uid, name)| json!({ "uid": uid, "name": name }))
                    .collect();
                Ok(json!({ "mirror": fresh,  "projects": list }))
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
    ) -> ToolResult {
        answer(async {
            let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
            let project = project_arg(&a.project_uid)?;
            let list: Vec<Value> = infra::group_names(&self.state.db, env.name(), project.as_deref())
                .await?
                .into_iter()
                .map(|(uid, name, project)| json!({ "uid": uid, "name": name, "projectUid": project }))
                .collect();
            Ok(json!({ "mirror": fresh,  "clusterGroups": list }))
        }.await)
    }

    #[tool(
        description = "Find cluster profiles by exact names (case-insensitive): uid, name, type, cloud type, newest version."
    )]
    async fn search_spectrocloud_profiles_by_names(
        &self,
        Parameters(a): Parameters<SearchArgs>,
    ) -> ToolResult {
        answer(
            async {
                if a.names.is_empty() {
                    return Err(AppError::bad_request(
                        "names must list at least one profile name",
                    ));
                }
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let project = a
                    .project_uid
                    .as_deref()
                    .map(|p| checked_uid("projectUid", p))
                    .transpose()?;
                let all = Visibility::All.filter(crate::auth::scope::Kind::Profile);
                let items = profiles::search_by_names(
                    &self.state.db,
                    env.name(),
                    &a.names,
                    project.as_deref(),
                    &all,
                )
                .await?;
                Ok(json!({ "mirror": fresh,  "profiles": profile_briefs(&items) }))
            }
            .await,
        )
    }

    #[tool(description = "Get the variables of a cluster profile, by name or any version uid.")]
    async fn get_spectrocloud_profile_variables(
        &self,
        Parameters(a): Parameters<ProfileArgs>,
    ) -> ToolResult {
        answer(
            async {
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let uid = match a.profile_uid.as_deref().filter(|u| !u.is_empty()) {
                    Some(u) => checked_uid("profileUid", u)?,
                    None => {
                        self.profile_uid(&env, a.profile_name.as_deref(), None)
                            .await?
                    }
                };
                let vars = profiles::variables(&self.state.db, env.name(), &uid)
                    .await?
                    .ok_or_else(|| AppError::not_found("Profile not found"))?;
                Ok(json!({ "mirror": fresh,  "profileUid": uid, "variables": parse(&vars)["variables"] }))
            }
            .await,
        )
    }

    #[tool(
        description = "List the cluster profiles usable in a project (its own and the tenant's), filtered by cloud type and profile type (default infra and cluster)."
    )]
    async fn list_spectrocloud_profiles_for_project(
        &self,
        Parameters(a): Parameters<ProjectProfilesArgs>,
    ) -> ToolResult {
        answer(
            async {
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let project = checked_uid("projectUid", &a.project_uid)?;
                let types = match a.profile_type.filter(|t| !t.is_empty()) {
                    Some(t) => vec![t],
                    None => vec!["infra".to_string(), "cluster".to_string()],
                };
                let all = Visibility::All.filter(crate::auth::scope::Kind::Profile);
                let items = profiles::for_project(
                    &self.state.db,
                    env.name(),
                    &project,
                    a.cloud_type.as_deref(),
                    &types,
                    &all,
                    Page::ALL,
                )
                .await?;
                Ok(json!({ "mirror": fresh,  "profiles": profile_briefs(&items) }))
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
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let env = self.env(a.instance_name.as_deref())?;
            let project = project_arg(&a.project_uid)?;
            let uid = self.cluster_uid(&env, a.cluster_name.as_deref(), a.cluster_uid.as_deref(), project.as_deref()).await?;
            let manifest = checked_uid("manifestUid", &a.manifest_uid)?;
            let live = self.live(env, &ctx)?;
            let body = fetch_manifest(&live, &uid, &manifest, project).await?;
            Ok(json!({ "clusterUid": uid, "manifestUid": manifest, "manifest": serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null) }))
        }.await)
    }

    #[tool(
        description = "Get the profiles attached to a cluster with their packs (name, version, layer), by cluster name or uid."
    )]
    async fn get_spectrocloud_cluster_profiles(
        &self,
        Parameters(a): Parameters<ClusterArgs>,
    ) -> ToolResult {
        answer(async {
            let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
            let project = project_arg(&a.project_uid)?;
            let uid = self.cluster_uid(&env, a.cluster_name.as_deref(), a.cluster_uid.as_deref(), project.as_deref()).await?;
            let c = self.cluster_record(&env, &uid).await?;
            let all = c.profiles_json.as_deref().map(parse).unwrap_or(Value::Null);
            // Pack values and schemas are left out: large, and rarely what a model needs.
            let list: Vec<Value> = all["profiles"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let packs: Vec<Value> = p["spec"]["packs"]
                                .as_array()
                                .map(|k| k.iter().map(|k| json!({ "name": k["spec"]["name"], "version": k["spec"]["version"], "layer": k["spec"]["layer"] })).collect())
                                .unwrap_or_default();
                            json!({ "uid": p["metadata"]["uid"], "name": p["metadata"]["name"], "type": p["spec"]["type"], "version": p["spec"]["version"], "packs": packs })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(json!({ "mirror": fresh,  "clusterUid": uid, "profiles": list }))
        }.await)
    }

    #[tool(description = "Get a virtual cluster's name, state, host cluster and cluster group.")]
    async fn get_spectrocloud_virtual_cluster_details(
        &self,
        Parameters(a): Parameters<VirtualClusterArgs>,
    ) -> ToolResult {
        answer(async {
            let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
            let uid = checked_uid("virtualClusterUid", &a.virtual_cluster_uid)?;
            let c = self.cluster_record(&env, &uid).await?;
            if c.cloud_type != "nested" {
                return Err(AppError::not_found(format!("Virtual cluster not found: {uid}")));
            }
            let d = c.detail_json.as_deref().map(parse).unwrap_or(Value::Null);
            Ok(json!({ "mirror": fresh,  "cluster": { "name": c.name, "uid": uid, "state": c.state, "projectUid": c.project_uid,
                                    "hostCluster": d["status"]["virtual"]["hostCluster"], "clusterGroup": d["status"]["virtual"]["clusterGroup"] } }))
        }.await)
    }

    #[tool(
        description = "Download a kubeconfig for a virtual cluster; frp (default true) goes through Palette's reverse proxy."
    )]
    async fn get_spectrocloud_kubeconfig_for_virtual_cluster(
        &self,
        Parameters(a): Parameters<VirtualClusterArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        answer(async {
            let env = self.env(a.instance_name.as_deref())?;
            let uid = checked_uid("virtualClusterUid", &a.virtual_cluster_uid)?;
            let project = project_arg(&a.project_uid)?;
            let name = clusters::get(&self.state.db, env.name(), &uid).await?.map(|c| c.name);
            let live = self.live(env, &ctx)?;
            let body = fetch_kubeconfig(&live, &uid, project, a.frp.unwrap_or(true)).await?;
            Ok(json!({ "cluster": { "uid": uid, "name": name }, "kubeconfig": String::from_utf8_lossy(&body), "accessType": "client-oidc" }))
        }.await)
    }

    #[tool(description = "Get a cluster group: its host clusters and settings.")]
    async fn get_spectrocloud_cluster_group(
        &self,
        Parameters(a): Parameters<ClusterGroupArgs>,
    ) -> ToolResult {
        answer(
            async {
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let uid = checked_uid("clusterGroupUid", &a.cluster_group_uid)?;
                let (_, json) = infra::cluster_group(&self.state.db, env.name(), &uid)
                    .await?
                    .ok_or_else(|| AppError::not_found("Cluster group not found"))?;
                Ok(json!({ "mirror": fresh,  "clusterGroup": parse(&json) }))
            }
            .await,
        )
    }

    #[tool(description = "List cloud accounts (uid, name) of a cloud type: aws, azure or vsphere.")]
    async fn list_spectrocloud_cloud_accounts(
        &self,
        Parameters(a): Parameters<CloudAccountsArgs>,
    ) -> ToolResult {
        answer(
            async {
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let cloud = a.cloud_type.to_ascii_lowercase();
                if !crate::sync::run::ACCOUNT_CLOUDS.contains(&cloud.as_str()) {
                    return Err(AppError::bad_request(format!(
                        "cloudType must be aws, azure or vsphere, not {cloud}"
                    )));
                }
                let list: Vec<Value> = infra::account_names(&self.state.db, env.name(), &cloud)
                    .await?
                    .into_iter()
                    .map(|(uid, name)| json!({ "uid": uid, "name": name }))
                    .collect();
                Ok(json!({ "mirror": fresh,  "accounts": list }))
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
    ) -> ToolResult {
        answer(
            async {
                let (env, fresh) = self.mirror(a.instance_name.as_deref()).await?;
                let all_profiles = Visibility::All.filter(crate::auth::scope::Kind::Profile);
                let all_clusters = Visibility::All.filter(crate::auth::scope::Kind::Cluster);
                let usage = reports::profile_usage(
                    &self.state.db,
                    env.name(),
                    &all_profiles,
                    &all_clusters,
                )
                .await?;
                Ok(json!({ "mirror": fresh,  "environment": env.name(), "profiles": usage }))
            }
            .await,
        )
    }

    #[tool(
        description = "How fresh the mirror of each SpectroCloud environment is: last successful sync, staleness, a run under way."
    )]
    async fn get_spectrocloud_sync_status(
        &self,
        Parameters(_a): Parameters<EnvArgs>,
    ) -> ToolResult {
        let list: Vec<Value> = self
            .state
            .envs
            .all()
            .iter()
            .map(|e| {
                let f = self.state.sync.freshness(e.name());
                json!({ "name": e.name(), "lastSuccessAt": f.synced_at.map(|t| t.to_rfc3339()), "stale": f.stale,
                        "running": self.state.sync.env_state(e.name()).running.is_some() })
            })
            .collect();
        answer(Ok(json!({ "environments": list })))
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
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
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
