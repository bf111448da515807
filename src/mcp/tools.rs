//! The tools' bodies: each parses its arguments into domain types, calls the service
//! function its HTTP route calls, and shapes a compact answer (names beside uids, no pack
//! values unless asked, lists paged). One function per tool, named as the tool.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actix_web::web;
use serde_json::{Value, json};

use super::args::{self, ClusterRef, Env, Listed, Pages, Paging, ProjectRef, Scoped};
use super::entity;
use crate::auth::Caller;
use crate::auth::palette_user::{self, PaletteUser};
use crate::domain::{CloudType, ProfileNames, ProfileType, Uid, vocab};
use crate::error::{AppError, AppResult};
use crate::service::AppState;
use crate::service::creation::{self, Kind};
use crate::service::lists::{self, ClusterFilter, Which, Window};
use crate::service::{
    self, Ctx, Origin, clusters, diagnose, events, infra, profiles, projects, reports, status,
};
use crate::store::Page;

/// Who calls a tool, on which service, with which request headers (a Palette user token in
/// `X-SpectroCloud-Token`, as on the HTTP routes).
pub struct Call<'a> {
    pub state: &'a web::Data<AppState>,
    pub caller: &'a Caller,
    headers: HeaderMap,
}

impl<'a> Call<'a> {
    pub fn new(state: &'a web::Data<AppState>, caller: &'a Caller) -> Call<'a> {
        Call {
            state,
            caller,
            headers: HeaderMap::new(),
        }
    }

    /// The request's headers, for the Palette user.
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// The service context: the environment, the caller, and its Palette user resolved as
    /// on the HTTP routes (a personal caller's token, carried or cached; else the key).
    async fn ctx(&self, env: &Env) -> AppResult<Ctx> {
        let env = service::environment(self.state, env.instance_name.as_deref())?;
        let binding = self.caller.binding();
        let who = palette_user::Request {
            headers: &self.headers,
            env: Some(&env),
            subject: &self.caller.subject,
            binding: &binding,
        };
        let s = self.state;
        let user = PaletteUser::resolve(who, &s.tokens, &s.scopes, &s.db).await;
        // As on the HTTP routes: no view of such an environment through the key.
        if env.config.requires_user_token(&s.config.auth) && !user.usable() {
            return Err(AppError::unauthenticated(
                "this environment requires a Palette user token: sign in to Palette again (X-SpectroCloud-Token)",
            ));
        }
        Ok(Ctx {
            state: self.state.clone(),
            env,
            user: Arc::new(user),
            caller: self.caller.clone(),
        })
    }

    /// The context and the project (`None`: every project) of a tool's arguments.
    async fn scope(&self, env: &Env, p: &ProjectRef) -> AppResult<(Ctx, Option<Uid>)> {
        let ctx = self.ctx(env).await?;
        let project = project(&ctx, p).await?;
        Ok((ctx, project))
    }
}

async fn project(ctx: &Ctx, p: &ProjectRef) -> AppResult<Option<Uid>> {
    let uid = Uid::optional("projectUid", p.project_uid.as_deref())?;
    projects::resolve(ctx, p.project_name.as_deref(), uid.as_ref()).await
}

fn window(p: &Paging) -> AppResult<Window> {
    Window::parse(p.limit, p.cursor.as_deref())
}

fn summary(p: &Paging) -> bool {
    p.summary.unwrap_or(false)
}

/// Typed service rows as the JSON items the paging helpers keep and count.
fn to_values<T: serde::Serialize>(rows: &[T]) -> AppResult<Vec<Value>> {
    rows.iter().map(to_json).collect()
}

fn items(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

/// Where a service answer came from, for the model: `{source, syncedAt, stale, partial}`
/// (`partial`: some clusters' profiles and packs are still being fetched, so counts by profile
/// or pack may be short).
fn origin(o: &Origin) -> Value {
    match *o {
        Origin::Mirror(f) => json!({
            "source": "mirror",
            "syncedAt": f.synced_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            "stale": f.stale,
            "partial": f.partial(),
        }),
        Origin::Live => json!({ "source": "live" }),
    }
}

/// Project uid → name of the projects the caller sees.
async fn project_names(ctx: &Ctx) -> AppResult<HashMap<String, String>> {
    Ok(projects::visible(ctx).await?.names())
}

/// The object without its null fields: an absent value is left out, never `null`, where a
/// schema says what type a field has.
fn no_nulls(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !x.is_null());
    }
    v
}

/// `{uid, name, scope, projectUid?, projectName?}` of a listed object.
fn brief_of(b: &service::Brief, names: &HashMap<String, String>) -> Value {
    let mut v = json!({ "uid": b.uid, "name": b.name, "scope": b.scope });
    if let Some(p) = &b.project_uid {
        v["projectUid"] = json!(p);
        if let Some(n) = names.get(p) {
            v["projectName"] = json!(n);
        }
    }
    v
}

fn profile_brief(p: &profiles::ProfileSummary, names: &HashMap<String, String>) -> Value {
    let mut v = brief_of(&p.brief, names);
    v["type"] = json!(p.profile_type);
    v["cloudType"] = json!(p.cloud_type);
    v["version"] = json!(p.version);
    v
}

/// A pack as an agent needs it: name, version, layer, its manifests' uids; `values` on request.
fn pack(k: &profiles::PackSummary, values: bool) -> Value {
    let manifests: Vec<Value> = k
        .manifests
        .iter()
        .map(|m| json!({ "name": m.name, "uid": m.uid }))
        .collect();
    let mut v =
        json!({ "name": k.name, "version": k.version, "layer": k.layer, "manifests": manifests });
    if values {
        v["values"] = json!(k.values);
    }
    v
}

/// An object named by name or uid in a tool's arguments.
pub trait Named: Sync {
    /// The name given, if any.
    fn name(&self) -> Option<&str>;

    /// Its uid, among what the caller sees (in `project`, when given).
    fn uid(
        &self,
        ctx: &Ctx,
        project: Option<&Uid>,
    ) -> impl std::future::Future<Output = AppResult<Uid>> + Send;
}

impl Named for ClusterRef {
    fn name(&self) -> Option<&str> {
        self.cluster_name.as_deref()
    }

    async fn uid(&self, ctx: &Ctx, project: Option<&Uid>) -> AppResult<Uid> {
        let uid = Uid::optional("clusterUid", self.cluster_uid.as_deref())?;
        clusters::resolve(ctx, self.cluster_name.as_deref(), uid, project).await
    }
}

impl Named for args::VirtualClusterRef {
    fn name(&self) -> Option<&str> {
        self.virtual_cluster_name.as_deref()
    }

    async fn uid(&self, ctx: &Ctx, project: Option<&Uid>) -> AppResult<Uid> {
        let uid = Uid::optional("virtualClusterUid", self.virtual_cluster_uid.as_deref())?;
        let name = self.virtual_cluster_name.as_deref();
        clusters::resolve_virtual(ctx, name, uid, project).await
    }
}

impl Named for args::ProfileRef {
    fn name(&self) -> Option<&str> {
        self.profile_name.as_deref()
    }

    async fn uid(&self, ctx: &Ctx, project: Option<&Uid>) -> AppResult<Uid> {
        let uid = Uid::optional("profileUid", self.profile_uid.as_deref())?;
        let (name, version) = (self.profile_name.as_deref(), self.version.as_deref());
        profiles::resolve(ctx, name, uid, version, project).await
    }
}

/// Context, project and the object `r` names.
async fn on(
    call: &Call<'_>,
    r: &impl Named,
    p: &ProjectRef,
    env: &Env,
) -> AppResult<(Ctx, Option<Uid>, Uid)> {
    let (ctx, project) = call.scope(env, p).await?;
    let uid = r.uid(&ctx, project.as_ref()).await?;
    Ok((ctx, project, uid))
}

/// A kubeconfig answer, live and audited (in the service); with its context and uid.
async fn kubeconfig(
    c: &Call<'_>,
    a: Scoped<args::WithFrp<impl Named>>,
) -> AppResult<(Ctx, Uid, Value)> {
    let (ctx, project, uid) = on(c, &a.of.of, &a.project, &a.env).await?;
    let frp = a.of.frp.unwrap_or(true);
    let body = clusters::kubeconfig(&ctx, &uid, project.as_ref(), frp).await?;
    let kubeconfig = String::from_utf8_lossy(&body);
    let cluster = no_nulls(json!({ "name": a.of.of.name(), "uid": uid.as_str() }));
    let out = json!({ "cluster": cluster, "kubeconfig": kubeconfig, "accessType": "client-oidc" });
    Ok((ctx, uid, out))
}

/// The original's catalog entity of a mirrored cluster (its project by name, else by uid).
fn cluster_ref(ctx: &Ctx, n: &clusters::Naming) -> String {
    let project = n.project_name.as_deref().or(n.project_uid.as_deref());
    entity::resource_ref(ctx.env.name(), project, &n.name)
}

type ClusterIn = Scoped<ClusterRef>;

pub async fn get_spectrocloud_health_for_cluster(c: &Call<'_>, a: ClusterIn) -> AppResult<Value> {
    let (ctx, project, uid) = on(c, &a.of, &a.project, &a.env).await?;
    let d = diagnose::cluster(&ctx, &uid, project.as_ref()).await?;
    let entity_ref = match clusters::naming(&ctx, &uid).await? {
        Some(n) => cluster_ref(&ctx, &n),
        None => entity::resource_ref(ctx.env.name(), d.project_uid.as_deref(), &d.name),
    };
    // The original's overall status: the health, else the state (a Pending cluster has none).
    let overall = if d.health == vocab::UNKNOWN {
        &d.state
    } else {
        &d.health
    };
    Ok(json!({
        "mirror": { "source": d.source, "syncedAt": d.synced_at },
        "cluster": no_nulls(json!({ "name": d.name, "uid": d.uid, "state": d.state,
                     "entityRef": entity_ref, "cloudType": d.cloud_type,
                     "projectUid": d.project_uid, "kubernetesVersion": d.kubernetes_version })),
        "health": no_nulls(json!({ "overallStatus": overall, "lastHeartBeat": d.last_heartbeat,
                    "agentVersion": d.agent_version, "conditions": d.conditions,
                    "machinePools": d.machine_pools })),
    }))
}

pub async fn diagnose_spectrocloud_cluster(c: &Call<'_>, a: ClusterIn) -> AppResult<Value> {
    let (ctx, project, uid) = on(c, &a.of, &a.project, &a.env).await?;
    let d = diagnose::cluster(&ctx, &uid, project.as_ref()).await?;
    serde_json::to_value(d).map_err(|e| AppError::internal("writing an answer", e))
}

pub async fn get_spectrocloud_kubeconfig_for_cluster(
    c: &Call<'_>,
    a: Scoped<args::WithFrp<ClusterRef>>,
) -> AppResult<Value> {
    let (ctx, uid, mut out) = kubeconfig(c, a).await?;
    // The original named the cluster and its catalog entity; a cluster the mirror does not
    // list yet keeps the name it was asked by.
    if let Some(n) = clusters::naming(&ctx, &uid).await? {
        out["cluster"]["entityRef"] = json!(cluster_ref(&ctx, &n));
        out["cluster"]["name"] = json!(n.name);
    }
    Ok(out)
}

pub async fn get_spectrocloud_kubeconfig_for_virtual_cluster(
    c: &Call<'_>,
    a: Scoped<args::WithFrp<args::VirtualClusterRef>>,
) -> AppResult<Value> {
    Ok(kubeconfig(c, a).await?.2)
}

pub async fn get_spectrocloud_pack_details_for_profile(
    c: &Call<'_>,
    a: Scoped<args::WithValues<args::ProfileRef>>,
) -> AppResult<Value> {
    let (ctx, project, uid) = on(c, &a.of.of, &a.project, &a.env).await?;
    let got = profiles::pack_summaries(&ctx, &uid, project.as_ref()).await?;
    let values = a.of.include_values.unwrap_or(false);
    // As the original: every pack has a name, version and layer (text).
    let packs: Vec<Value> = got
        .packs
        .iter()
        .map(|k| {
            let mut p = pack(k, values);
            p["name"] = json!(k.name.as_deref().unwrap_or("unknown"));
            p["version"] = json!(k.version.as_deref().unwrap_or_default());
            p["layer"] = json!(k.layer.as_deref().unwrap_or_default());
            p
        })
        .collect();
    let names = project_names(&ctx).await?;
    let status = if got.published { "published" } else { "draft" };
    let b = &got.brief;
    let entity = scoped_ref(&ctx, &b.scope, b.project_uid.as_deref(), &b.name, &names);
    let mut profile = brief_of(b, &names);
    profile["type"] = json!(got.profile_type);
    profile["cloudType"] = json!(got.cloud_type);
    profile["version"] = json!(got.version);
    profile["status"] = json!(status);
    profile["entityRef"] = json!(entity);
    let profile = no_nulls(profile);
    Ok(json!({ "mirror": origin(&got.origin), "profile": profile, "packs": packs }))
}

pub async fn get_spectrocloud_profile_variables(
    c: &Call<'_>,
    a: Scoped<args::ProfileRef>,
) -> AppResult<Value> {
    let (ctx, project, uid) = on(c, &a.of, &a.project, &a.env).await?;
    let got = profiles::variables_of(&ctx, &uid, project.as_ref()).await?;
    let mirror = origin(&got.origin);
    Ok(json!({ "mirror": mirror, "profileUid": uid.as_str(), "variables": got.variables }))
}

pub async fn find_spectrocloud_clusters_for_profile(
    c: &Call<'_>,
    a: Listed<args::ProfileRef>,
) -> AppResult<Value> {
    let (ctx, project, uid) = on(c, &a.of, &a.project, &a.env).await?;
    let on = profiles::clusters_on(&ctx, &uid, Page::ALL).await?;
    let keep = |c: &Value| {
        project
            .as_ref()
            .is_none_or(|p| c["projectUid"] == p.as_str())
    };
    let mut out = paged(to_values(&on.clusters)?, keep, &a.paging)?;
    let names = project_names(&ctx).await?;
    let env = ctx.env.name();
    // The original's fields beside the page: `clusters` as its catalog entities, the profile
    // with its entity.
    let on_profile: Vec<Value> = items(&out, "items")
        .iter()
        .map(|c| {
            let project = c["projectName"].as_str().or(c["projectUid"].as_str());
            let name = c["name"].as_str().unwrap_or_default();
            let mut e = json!({ "name": name, "uid": c["uid"], "state": c["state"],
                                "entityRef": entity::resource_ref(env, project, name) });
            if c["projectUid"].is_string() {
                e["projectId"] = c["projectUid"].clone();
            }
            e
        })
        .collect();
    let p = &on.profile;
    let entity = scoped_ref(&ctx, &p.scope, p.project_uid.as_deref(), &p.name, &names);
    let mut profile = to_json(p)?;
    profile["entityRef"] = json!(entity);
    out["clusters"] = json!(on_profile);
    out["profile"] = profile;
    out["mirror"] = origin(&Origin::Mirror(on.freshness));
    Ok(out)
}

/// The catalog entity of an object of `scope`: in its project (by name when known) when
/// project-scoped.
fn scoped_ref(
    ctx: &Ctx,
    scope: &str,
    project: Option<&str>,
    name: &str,
    names: &HashMap<String, String>,
) -> String {
    let project = project
        .filter(|_| scope == "project")
        .map(|u| names.get(u).map_or(u, String::as_str));
    entity::resource_ref(ctx.env.name(), project, name)
}

/// A page (or the count) of `all` kept by `keep`, per the paging arguments.
fn paged(all: Vec<Value>, keep: impl Fn(&Value) -> bool, p: &Paging) -> AppResult<Value> {
    lists::values(all, keep, window(p)?, summary(p))
}

async fn cluster_list(
    c: &Call<'_>,
    a: Listed<args::ClusterFilters>,
    which: Which,
) -> AppResult<Value> {
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let f = a.of;
    let filter = ClusterFilter {
        project,
        cloud_type: CloudType::optional(f.cloud_type.as_deref())?.map(|c| c.as_str().to_string()),
        name: f.name,
        state: f.state,
        health: f.health,
        kubernetes_version: f.kubernetes_version,
        tag: f.tag,
    };
    let w = window(&a.paging)?;
    lists::clusters(&ctx, which, &filter, w, summary(&a.paging)).await
}

pub async fn list_spectrocloud_clusters(
    c: &Call<'_>,
    a: Listed<args::ClusterFilters>,
) -> AppResult<Value> {
    // Virtual clusters count among clusters, as in the fleet report and on Palette's dashboard.
    cluster_list(c, a, Which::All).await
}

pub async fn list_spectrocloud_virtual_clusters(
    c: &Call<'_>,
    a: Listed<args::ClusterFilters>,
) -> AppResult<Value> {
    cluster_list(c, a, Which::Virtual).await
}

pub async fn list_spectrocloud_projects(
    c: &Call<'_>,
    a: Listed<args::NameFilter>,
) -> AppResult<Value> {
    let (ctx, only) = c.scope(&a.env, &a.project).await?;
    let mine = projects::visible(&ctx).await?;
    let keep = |p: &Value| {
        lists::name_has(p, "name", a.of.name.as_deref())
            && only.as_ref().is_none_or(|o| p["uid"] == o.as_str())
    };
    paged(to_values(&mine.projects)?, keep, &a.paging)
}

pub async fn list_spectrocloud_cluster_groups(
    c: &Call<'_>,
    a: Listed<args::NameFilter>,
) -> AppResult<Value> {
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let got = infra::cluster_group_briefs(&ctx, project.as_ref(), Page::ALL).await?;
    briefs_named(&ctx, &got, a.of.name.as_deref(), &a.paging).await
}

/// A page of listed objects as briefs (project names added), kept by a name substring.
async fn briefs_named(
    ctx: &Ctx,
    got: &service::Briefs,
    name: Option<&str>,
    paging: &Paging,
) -> AppResult<Value> {
    let names = project_names(ctx).await?;
    let list = got.items.iter().map(|b| brief_of(b, &names)).collect();
    paged(list, |o| lists::name_has(o, "name", name), paging)
}

pub async fn get_spectrocloud_cluster_group(
    c: &Call<'_>,
    a: Scoped<args::ClusterGroupRef>,
) -> AppResult<Value> {
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let uid = match Uid::optional("clusterGroupUid", a.of.cluster_group_uid.as_deref())? {
        Some(u) => u,
        None => {
            let name = a.of.cluster_group_name.as_deref();
            infra::group_named(&ctx, name, project.as_ref()).await?
        }
    };
    let got = infra::cluster_group_object(&ctx, &uid, project.as_ref()).await?;
    Ok(json!({ "mirror": origin(&got.origin), "clusterGroup": got.object }))
}

pub async fn search_spectrocloud_profiles_by_names(
    c: &Call<'_>,
    a: Listed<args::ProfileNamesArg>,
) -> AppResult<Value> {
    let names = ProfileNames::parse(a.of.names)?;
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let got = profiles::search_summaries(&ctx, &names, project.as_ref()).await?;
    let pnames = project_names(&ctx).await?;
    let list = got
        .profiles
        .iter()
        .map(|p| profile_brief(p, &pnames))
        .collect();
    paged(list, |_| true, &a.paging)
}

pub async fn list_spectrocloud_profiles_for_project(
    c: &Call<'_>,
    a: Listed<args::ProfileFilters>,
) -> AppResult<Value> {
    let cloud = CloudType::optional(a.of.cloud_type.as_deref())?;
    let types = ProfileType::filter(a.of.profile_type.map(args::ProfileKind::as_str))?;
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let Some(project) = project else {
        return Err(AppError::bad_request(
            "Provide either projectName or projectUid",
        ));
    };
    let got =
        projects::profile_summaries(&ctx, &project, cloud.as_ref(), &types, Page::ALL).await?;
    let names = project_names(&ctx).await?;
    let list = got
        .profiles
        .iter()
        .map(|p| profile_brief(p, &names))
        .collect();
    let keep = |p: &Value| lists::name_has(p, "name", a.of.name.as_deref());
    paged(list, keep, &a.paging)
}

pub async fn get_spectrocloud_pack_manifest_for_cluster(
    c: &Call<'_>,
    a: Scoped<args::Manifest>,
) -> AppResult<Value> {
    let manifest = Uid::parse("manifestUid", &a.of.manifest_uid)?;
    let (ctx, project, uid) = on(c, &a.of.cluster, &a.project, &a.env).await?;
    let got = clusters::manifest_body(&ctx, &uid, &manifest, project.as_ref()).await?;
    // Palette answers JSON; anything else is passed on as text.
    let body = match got {
        clusters::Manifest::Json(v) => v,
        clusters::Manifest::Text(t) => json!(t),
    };
    Ok(json!({ "clusterUid": uid.as_str(), "manifestUid": manifest.as_str(), "manifest": body }))
}

pub async fn get_spectrocloud_cluster_profiles(
    c: &Call<'_>,
    a: Scoped<args::WithValues<ClusterRef>>,
) -> AppResult<Value> {
    let (ctx, project, uid) = on(c, &a.of.of, &a.project, &a.env).await?;
    let got = clusters::profile_summaries(&ctx, &uid, project.as_ref()).await?;
    let values = a.of.include_values.unwrap_or(false);
    let list: Vec<Value> = got
        .profiles
        .iter()
        .map(|p| {
            let packs: Vec<Value> = p.packs.iter().map(|k| pack(k, values)).collect();
            json!({ "uid": p.uid, "name": p.name, "type": p.profile_type,
                    "version": p.version, "packs": packs })
        })
        .collect();
    let mirror = origin(&got.origin);
    Ok(json!({ "mirror": mirror, "clusterUid": uid.as_str(), "profiles": list }))
}

pub async fn get_spectrocloud_virtual_cluster_details(
    c: &Call<'_>,
    a: Scoped<args::VirtualClusterRef>,
) -> AppResult<Value> {
    let (ctx, project, uid) = on(c, &a.of, &a.project, &a.env).await?;
    let got = clusters::virtual_summary(&ctx, &uid, project.as_ref()).await?;
    let names = project_names(&ctx).await?;
    let mut cluster = brief_of(&got.brief, &names);
    cluster["state"] = got.state;
    cluster["hostCluster"] = got.host_cluster;
    cluster["clusterGroup"] = got.cluster_group;
    Ok(json!({ "mirror": origin(&got.origin), "cluster": cluster }))
}

pub async fn list_spectrocloud_cloud_accounts(
    c: &Call<'_>,
    a: Listed<args::AccountFilters>,
) -> AppResult<Value> {
    let cloud = CloudType::parse(&a.of.cloud_type)?;
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let got = infra::account_briefs(&ctx, &cloud, project.as_ref(), Page::ALL).await?;
    briefs_named(&ctx, &got, a.of.name.as_deref(), &a.paging).await
}

pub async fn get_spectrocloud_profile_usage(
    c: &Call<'_>,
    a: Listed<args::UsageFilters>,
) -> AppResult<Value> {
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let filter = reports::ProfileUsageFilter {
        name: a.of.name,
        unused_only: a.of.unused_only.unwrap_or(false),
        ..Default::default()
    };
    let (fresh, report) = reports::profile_usage_report(&ctx, &filter).await?;
    let names = project_names(&ctx).await?;
    // With a project: the profiles usable there (its own and the tenant's).
    let keep = |p: &Value| {
        project
            .as_ref()
            .is_none_or(|u| p["projectUid"].is_null() || p["projectUid"] == u.as_str())
    };
    let list = report
        .profiles
        .iter()
        .map(|p| usage_brief(p, &names))
        .collect::<AppResult<_>>()?;
    let mut out = paged(list, keep, &a.paging)?;
    out["mirror"] = origin(&Origin::Mirror(fresh));
    Ok(out)
}

/// A profile-usage row made compact for a model: `versions` as `{label: clusters}` (version
/// uids come with get_spectrocloud_pack_details_for_profile), the project's name added.
fn usage_brief(
    u: &crate::store::reports::ProfileUsage,
    names: &HashMap<String, String>,
) -> AppResult<Value> {
    let versions: serde_json::Map<String, Value> = u
        .versions
        .iter()
        .map(|v| (v.version.to_string(), json!(v.clusters)))
        .collect();
    let mut p = to_json(u)?;
    p["versions"] = Value::Object(versions);
    if let Some(n) = u.project_uid.as_deref().and_then(|p| names.get(p)) {
        p["projectName"] = json!(n);
    }
    Ok(p)
}

/// The environment `env` names, or every one when absent.
fn only(c: &Call<'_>, env: &Env) -> AppResult<Option<String>> {
    match env.instance_name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => Ok(Some(
            service::environment(c.state, Some(n))?.name().to_string(),
        )),
        None => Ok(None),
    }
}

pub async fn list_spectrocloud_fleet_changes(
    c: &Call<'_>,
    a: Pages<args::ChangeFilters>,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env).await?;
    let filter = events::filter_from_args(&events::RawFilter {
        since: a.of.since.as_deref(),
        types: a.of.event_type.as_deref(),
        cluster_uid: a.of.cluster_uid.as_deref(),
        project_uid: a.of.project_uid.as_deref(),
        limit: a.paging.limit.map(i64::from),
        cursor: a.paging.cursor.as_deref(),
    })?;
    let (fresh, page) = events::list_events(&ctx, &filter).await?;
    let mirror = origin(&Origin::Mirror(fresh));
    // Absent at the end, as on the other list tools: the schema promises a string.
    let mut out = json!({ "items": page.events, "mirror": mirror });
    if let Some(next) = page.next_cursor {
        out["nextCursor"] = json!(next);
    }
    Ok(out)
}

pub async fn get_spectrocloud_sync_status(c: &Call<'_>, a: Env) -> AppResult<Value> {
    let only = only(c, &a)?;
    let closed = status::closed_to(c.state, &c.headers, c.caller, only.as_deref()).await;
    let list = status::sync_status(c.state, only.as_deref(), &closed).await?;
    Ok(json!({ "environments": list }))
}

pub async fn find_spectrocloud_clusters_by_pack(
    c: &Call<'_>,
    a: Listed<args::PackRef>,
) -> AppResult<Value> {
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let (name, version) = (a.of.pack_name.as_str(), a.of.version.as_deref());
    let filter = reports::PackUsageFilter {
        name: Some(name.to_string()),
        // The report's rules: the name's family in any case, the version a prefix up to a dot.
        tag: None,
        version: version.map(str::to_string),
    };
    let (_, report) = reports::pack_usage_report(&ctx, &filter).await?;
    // Cluster uid → the packs (each by its own name) and versions it runs.
    let mut on: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for p in &report.packs {
        for uid in p.cluster_uids.iter().flatten() {
            let entry = on.entry(uid.clone()).or_default();
            entry.push((p.name.clone(), p.tag.clone()));
        }
    }
    let filter = ClusterFilter {
        project,
        ..Default::default()
    };
    let list: Vec<Value> = lists::cluster_briefs(&ctx, Which::All, &filter)
        .await?
        .into_iter()
        .filter_map(|b| {
            let runs = on.get(&b.uid)?;
            let mut v = serde_json::to_value(b).ok()?;
            v["packVersions"] = json!(runs.iter().map(|(_, t)| t).collect::<Vec<_>>());
            v["packs"] = json!(
                runs.iter()
                    .map(|(n, t)| json!({ "name": n, "version": t }))
                    .collect::<Vec<_>>()
            );
            Some(v)
        })
        .collect();
    let mut out = paged(list, |_| true, &a.paging)?;
    let mut pack = json!({ "name": name, "version": version });
    if let (Some(o), Ok(Value::Object(s))) = (pack.as_object_mut(), to_json(&report.search)) {
        o.extend(s);
    }
    out["pack"] = pack;
    Ok(out)
}

fn to_json<T: serde::Serialize>(v: &T) -> AppResult<Value> {
    serde_json::to_value(v).map_err(|e| AppError::internal("writing an answer", e))
}

pub async fn search_spectrocloud_packs(
    c: &Call<'_>,
    a: Pages<args::PackFilters>,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env).await?;
    let filter = reports::PackUsageFilter {
        name: a.of.name.clone(),
        ..Default::default()
    };
    let (_, report) = reports::pack_usage_report(&ctx, &filter).await?;
    let layer = a.of.layer.map(args::PackLayer::as_str);
    // One entry per pack name, its versions in use, most used first (the report's order).
    let mut packs: Vec<Value> = Vec::new();
    for p in &report.packs {
        let version = json!({ "version": p.tag, "clusters": p.clusters });
        match packs.iter_mut().find(|k| k["name"] == p.name.as_str()) {
            Some(k) => {
                k["clusters"] = json!(k["clusters"].as_i64().unwrap_or(0) + p.clusters);
                if let Some(v) = k["versions"].as_array_mut() {
                    v.push(version);
                }
            }
            None => packs.push(json!({ "name": p.name, "layer": p.layer,
                                       "clusters": p.clusters, "versions": [version] })),
        }
    }
    packs.sort_by(|a, b| {
        let n = |v: &Value| v["clusters"].as_i64().unwrap_or(0);
        n(b).cmp(&n(a))
            .then_with(|| a["name"].as_str().cmp(&b["name"].as_str()))
    });
    let keep = |k: &Value| layer.is_none_or(|l| k["layer"] == l);
    let mut out = paged(packs, keep, &a.paging)?;
    if let Some(search) = &report.search {
        out["search"] = to_json(search)?;
    }
    Ok(out)
}

pub async fn create_spectrocloud_cluster(
    c: &Call<'_>,
    a: Scoped<args::NewCluster>,
) -> AppResult<Value> {
    let (ctx, project) = c.scope(&a.env, &a.project).await?;
    let body = Value::Object(a.of.cluster);
    let created = creation::create(&ctx, Kind::Cluster, project.as_ref(), None, body).await?;
    Ok(json!({ "status": created.status, "cluster": created.body }))
}

pub async fn trigger_spectrocloud_sync(c: &Call<'_>, a: Env) -> AppResult<Value> {
    let user = PaletteUser::none();
    let subject = &c.caller.subject;
    let runs = status::trigger(c.state, subject, &user, only(c, &a)?.as_deref()).await?;
    Ok(json!({ "runs": runs }))
}
