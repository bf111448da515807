//! The tools' bodies: each parses its arguments into domain types, calls the service
//! function its HTTP route calls, and shapes a compact answer (names beside uids, no pack
//! values unless asked, lists paged). One function per tool, named as the tool.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix_web::web;
use serde_json::{Value, json};

use super::args::{self, Env, Paging, ProjectRef};
use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::palette_user::PaletteUser;
use crate::domain::{CloudType, ProfileNames, ProfileType, Uid};
use crate::error::{AppError, AppResult};
use crate::palette::models;
use crate::service::lists::{self, ClusterFilter, Window};
use crate::service::{
    self, Answer, Ctx, Origin, clusters, diagnose, infra, profiles, projects, reports, status,
};
use crate::store::Page;

/// Who calls a tool, on which service.
pub struct Call<'a> {
    pub state: &'a web::Data<AppState>,
    pub caller: &'a Caller,
}

impl Call<'_> {
    /// The service context: the environment, the caller, and the environment's key (agents
    /// carry no Palette user token).
    fn ctx(&self, env: &Env) -> AppResult<Ctx> {
        Ok(Ctx {
            state: self.state.clone(),
            env: service::environment(self.state, env.instance_name.as_deref())?,
            user: Arc::new(PaletteUser::none()),
            caller: self.caller.clone(),
        })
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

fn items(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
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

/// Project uid → name of the projects the caller sees.
async fn project_names(ctx: &Ctx) -> AppResult<HashMap<String, String>> {
    let v = projects::mine(ctx).await?.value()?;
    Ok(items(&v, "projects")
        .iter()
        .filter_map(|p| {
            Some((
                p["uid"].as_str()?.to_string(),
                p["name"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// `{uid, name, scope, projectUid?, projectName?}` of a Palette object, plus `extra`.
fn brief(o: &Value, names: &HashMap<String, String>, extra: Value) -> Value {
    let mut v =
        json!({ "uid": models::uid(o), "name": models::name(o), "scope": models::scope(o) });
    if let Some(p) = models::project_uid(o) {
        v["projectUid"] = json!(p);
        if let Some(n) = names.get(p) {
            v["projectName"] = json!(n);
        }
    }
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

fn profile_brief(p: &Value, names: &HashMap<String, String>) -> Value {
    let published = &p["specSummary"]["published"];
    let extra = json!({ "type": published["type"], "cloudType": published["cloudType"],
                        "version": p["specSummary"]["version"] });
    brief(p, names, extra)
}

/// A pack as an agent needs it: name, version, layer, its manifests' uids; `values` on request.
fn pack(k: &Value, values: bool) -> Value {
    let s = if k["spec"].is_object() { &k["spec"] } else { k };
    let manifests: Vec<Value> = items(s, "manifests")
        .iter()
        .map(|m| json!({ "name": m["name"], "uid": m["uid"] }))
        .collect();
    let version = if s["tag"].is_string() {
        &s["tag"]
    } else {
        &s["version"]
    };
    let mut v = json!({ "name": s["name"], "version": version, "layer": s["layer"], "manifests": manifests });
    if values {
        v["values"] = s["values"].clone();
    }
    v
}

async fn cluster_uid(ctx: &Ctx, c: &args::ClusterRef, project: Option<&Uid>) -> AppResult<Uid> {
    let uid = Uid::optional("clusterUid", c.cluster_uid.as_deref())?;
    clusters::resolve(ctx, c.cluster_name.as_deref(), uid, project).await
}

async fn virtual_uid(
    ctx: &Ctx,
    c: &args::VirtualClusterRef,
    project: Option<&Uid>,
) -> AppResult<Uid> {
    let uid = Uid::optional("virtualClusterUid", c.virtual_cluster_uid.as_deref())?;
    clusters::resolve_virtual(ctx, c.virtual_cluster_name.as_deref(), uid, project).await
}

async fn profile_uid(ctx: &Ctx, p: &args::ProfileRef, project: Option<&Uid>) -> AppResult<Uid> {
    let uid = Uid::optional("profileUid", p.profile_uid.as_deref())?;
    let (name, version) = (p.profile_name.as_deref(), p.version.as_deref());
    profiles::resolve(ctx, name, uid, version, project).await
}

pub async fn get_spectrocloud_health_for_cluster(
    c: &Call<'_>,
    a: args::Cluster,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = cluster_uid(&ctx, &a.cluster, project.as_ref()).await?;
    let d = diagnose::cluster(&ctx, &uid, project.as_ref()).await?;
    Ok(json!({
        "mirror": { "source": d.source, "syncedAt": d.synced_at },
        "cluster": { "name": d.name, "uid": d.uid, "state": d.state, "cloudType": d.cloud_type,
                     "projectUid": d.project_uid, "kubernetesVersion": d.kubernetes_version },
        "health": { "overallStatus": d.health, "lastHeartBeat": d.last_heartbeat, "agentVersion": d.agent_version,
                    "conditions": d.conditions, "machinePools": d.machine_pools },
    }))
}

pub async fn diagnose_spectrocloud_cluster(c: &Call<'_>, a: args::Cluster) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = cluster_uid(&ctx, &a.cluster, project.as_ref()).await?;
    let d = diagnose::cluster(&ctx, &uid, project.as_ref()).await?;
    serde_json::to_value(d).map_err(|e| AppError::internal("writing an answer", e))
}

pub async fn get_spectrocloud_kubeconfig_for_cluster(
    c: &Call<'_>,
    a: args::Kubeconfig,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = cluster_uid(&ctx, &a.cluster, project.as_ref()).await?;
    let body = clusters::kubeconfig(&ctx, &uid, project.as_ref(), a.frp.unwrap_or(true)).await?;
    Ok(
        json!({ "cluster": { "name": a.cluster.cluster_name, "uid": uid.as_str() },
               "kubeconfig": String::from_utf8_lossy(&body), "accessType": "client-oidc" }),
    )
}

pub async fn get_spectrocloud_kubeconfig_for_virtual_cluster(
    c: &Call<'_>,
    a: args::VirtualKubeconfig,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = virtual_uid(&ctx, &a.cluster, project.as_ref()).await?;
    let body = clusters::kubeconfig(&ctx, &uid, project.as_ref(), a.frp.unwrap_or(true)).await?;
    Ok(
        json!({ "cluster": { "name": a.cluster.virtual_cluster_name, "uid": uid.as_str() },
               "kubeconfig": String::from_utf8_lossy(&body), "accessType": "client-oidc" }),
    )
}

pub async fn get_spectrocloud_pack_details_for_profile(
    c: &Call<'_>,
    a: args::ProfilePacks,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = profile_uid(&ctx, &a.profile, project.as_ref()).await?;
    let got = profiles::packs(&ctx, &uid, None, project.as_ref()).await?;
    let p = got.value()?;
    let published = &p["spec"]["published"];
    let values = a.include_values.unwrap_or(false);
    let packs: Vec<Value> = items(published, "packs")
        .iter()
        .map(|k| pack(k, values))
        .collect();
    let names = project_names(&ctx).await?;
    let extra = json!({ "type": published["type"], "cloudType": published["cloudType"], "version": p["spec"]["version"],
                        "status": if p["status"]["isPublished"] == true { "published" } else { "draft" } });
    Ok(json!({ "mirror": origin(&got), "profile": brief(&p, &names, extra), "packs": packs }))
}

pub async fn get_spectrocloud_profile_variables(
    c: &Call<'_>,
    a: args::Profile,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = profile_uid(&ctx, &a.profile, project.as_ref()).await?;
    let got = profiles::variables(&ctx, &uid, project.as_ref()).await?;
    Ok(
        json!({ "mirror": origin(&got), "profileUid": uid.as_str(), "variables": got.value()?["variables"] }),
    )
}

pub async fn find_spectrocloud_clusters_for_profile(
    c: &Call<'_>,
    a: args::ProfileClusters,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = profile_uid(&ctx, &a.profile, project.as_ref()).await?;
    let got = profiles::clusters(&ctx, &uid, Page::ALL).await?;
    let v = got.value()?;
    let keep = |c: &Value| {
        project
            .as_ref()
            .is_none_or(|p| c["projectUid"] == p.as_str())
    };
    let mut out = lists::values(
        items(&v, "clusters"),
        keep,
        window(&a.paging)?,
        summary(&a.paging),
    )?;
    out["profile"] = v["profile"].clone();
    out["mirror"] = origin(&got);
    Ok(out)
}

async fn cluster_list(c: &Call<'_>, a: args::Clusters, virtual_clusters: bool) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let filter = ClusterFilter {
        project: project(&ctx, &a.project).await?,
        cloud_type: CloudType::optional(a.cloud_type.as_deref())?.map(|c| c.as_str().to_string()),
        name: a.name,
        state: a.state,
        health: a.health,
        kubernetes_version: a.kubernetes_version,
        tag: a.tag,
    };
    let w = window(&a.paging)?;
    lists::clusters(&ctx, virtual_clusters, &filter, w, summary(&a.paging)).await
}

pub async fn list_spectrocloud_clusters(c: &Call<'_>, a: args::Clusters) -> AppResult<Value> {
    cluster_list(c, a, false).await
}

pub async fn list_spectrocloud_virtual_clusters(
    c: &Call<'_>,
    a: args::Clusters,
) -> AppResult<Value> {
    cluster_list(c, a, true).await
}

pub async fn list_spectrocloud_projects(c: &Call<'_>, a: args::Named) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let only = project(&ctx, &a.project).await?;
    let got = projects::mine(&ctx).await?;
    let keep = |p: &Value| {
        lists::name_has(p, "name", a.name.as_deref())
            && only.as_ref().is_none_or(|o| p["uid"] == o.as_str())
    };
    lists::values(
        items(&got.value()?, "projects"),
        keep,
        window(&a.paging)?,
        summary(&a.paging),
    )
}

pub async fn list_spectrocloud_cluster_groups(c: &Call<'_>, a: args::Named) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let got = infra::cluster_groups(&ctx, project.as_ref(), Page::ALL).await?;
    let names = project_names(&ctx).await?;
    let list = items(&got.value()?, "items")
        .iter()
        .map(|g| brief(g, &names, json!({})))
        .collect();
    let keep = |g: &Value| lists::name_has(g, "name", a.name.as_deref());
    lists::values(list, keep, window(&a.paging)?, summary(&a.paging))
}

pub async fn get_spectrocloud_cluster_group(
    c: &Call<'_>,
    a: args::ClusterGroup,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = match Uid::optional("clusterGroupUid", a.cluster_group_uid.as_deref())? {
        Some(u) => u,
        None => group_named(&ctx, a.cluster_group_name.as_deref(), project.as_ref()).await?,
    };
    let got = infra::cluster_group(&ctx, &uid, project.as_ref()).await?;
    Ok(json!({ "mirror": origin(&got), "clusterGroup": got.value()? }))
}

/// The uid of the one visible cluster group named `name` (any case).
async fn group_named(ctx: &Ctx, name: Option<&str>, project: Option<&Uid>) -> AppResult<Uid> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(AppError::bad_request(
            "Provide either clusterGroupName or clusterGroupUid",
        ));
    };
    let all = items(
        &infra::cluster_groups(ctx, project, Page::ALL)
            .await?
            .value()?,
        "items",
    );
    let names = project_names(ctx).await?;
    let known: Vec<String> = all.iter().map(|g| models::name(g).to_string()).collect();
    let rows = all
        .iter()
        .filter(|g| models::name(g).eq_ignore_ascii_case(name))
        .map(|g| crate::store::NamedRow {
            uid: models::uid(g).unwrap_or_default().to_string(),
            name: models::name(g).to_string(),
            scope: models::scope(g).to_string(),
            project_uid: models::project_uid(g).map(str::to_string),
            project_name: models::project_uid(g).and_then(|p| names.get(p).cloned()),
        })
        .collect();
    let narrow = "projectName, projectUid or clusterGroupUid";
    let one = service::names::pick("cluster group", name, ctx.env.name(), rows, &known, narrow)?;
    Uid::parse("clusterGroupUid", &one.uid)
}

pub async fn search_spectrocloud_profiles_by_names(
    c: &Call<'_>,
    a: args::ProfileSearch,
) -> AppResult<Value> {
    let names = ProfileNames::parse(a.names)?;
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let got = profiles::search(&ctx, &names, project.as_ref()).await?;
    let pnames = project_names(&ctx).await?;
    let list = items(&got.value()?, "profiles")
        .iter()
        .map(|p| profile_brief(p, &pnames))
        .collect();
    lists::values(list, |_| true, window(&a.paging)?, summary(&a.paging))
}

pub async fn list_spectrocloud_profiles_for_project(
    c: &Call<'_>,
    a: args::ProjectProfiles,
) -> AppResult<Value> {
    let cloud = CloudType::optional(a.cloud_type.as_deref())?;
    let types = ProfileType::filter(a.profile_type.map(args::ProfileKind::as_str))?;
    let ctx = c.ctx(&a.env)?;
    let refs = ProjectRef {
        project_name: a.project_name,
        project_uid: a.project_uid,
    };
    let Some(project) = project(&ctx, &refs).await? else {
        return Err(AppError::bad_request(
            "Provide either projectName or projectUid",
        ));
    };
    let got = projects::profiles(&ctx, &project, cloud.as_ref(), &types, Page::ALL).await?;
    let names = project_names(&ctx).await?;
    let list = items(&got.value()?, "profiles")
        .iter()
        .map(|p| profile_brief(p, &names))
        .collect();
    let keep = |p: &Value| lists::name_has(p, "name", a.name.as_deref());
    lists::values(list, keep, window(&a.paging)?, summary(&a.paging))
}

pub async fn get_spectrocloud_pack_manifest_for_cluster(
    c: &Call<'_>,
    a: args::Manifest,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = cluster_uid(&ctx, &a.cluster, project.as_ref()).await?;
    let manifest = Uid::parse("manifestUid", &a.manifest_uid)?;
    let got = clusters::manifest(&ctx, &uid, &manifest, project.as_ref()).await?;
    // Palette answers JSON; anything else is passed on as text.
    let body = got
        .value()
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(got.bytes())));
    Ok(json!({ "clusterUid": uid.as_str(), "manifestUid": manifest.as_str(), "manifest": body }))
}

pub async fn get_spectrocloud_cluster_profiles(
    c: &Call<'_>,
    a: args::ClusterProfiles,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = cluster_uid(&ctx, &a.cluster, project.as_ref()).await?;
    let got = clusters::profiles(&ctx, &uid, project.as_ref()).await?;
    let values = a.include_values.unwrap_or(false);
    let list: Vec<Value> = items(&got.value()?, "profiles")
        .iter()
        .map(|p| {
            let packs: Vec<Value> = items(&p["spec"], "packs").iter().map(|k| pack(k, values)).collect();
            json!({ "uid": p["metadata"]["uid"], "name": p["metadata"]["name"], "type": p["spec"]["type"],
                    "version": p["spec"]["version"], "packs": packs })
        })
        .collect();
    Ok(json!({ "mirror": origin(&got), "clusterUid": uid.as_str(), "profiles": list }))
}

pub async fn get_spectrocloud_virtual_cluster_details(
    c: &Call<'_>,
    a: args::VirtualCluster,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let uid = virtual_uid(&ctx, &a.cluster, project.as_ref()).await?;
    let got = clusters::detail_virtual(&ctx, &uid, project.as_ref()).await?;
    let d = got.value()?;
    let names = project_names(&ctx).await?;
    let virt = &d["status"]["virtual"];
    let extra = json!({ "state": d["status"]["state"], "hostCluster": virt["hostCluster"], "clusterGroup": virt["clusterGroup"] });
    Ok(json!({ "mirror": origin(&got), "cluster": brief(&d, &names, extra) }))
}

pub async fn list_spectrocloud_cloud_accounts(
    c: &Call<'_>,
    a: args::CloudAccounts,
) -> AppResult<Value> {
    let cloud = CloudType::parse(&a.cloud_type)?;
    let ctx = c.ctx(&a.env)?;
    let got = infra::accounts(&ctx, &cloud, None, Page::ALL).await?;
    let names = project_names(&ctx).await?;
    let list = items(&got.value()?, "accounts")
        .iter()
        .map(|c| brief(c, &names, json!({})))
        .collect();
    let keep = |c: &Value| lists::name_has(c, "name", a.name.as_deref());
    lists::values(list, keep, window(&a.paging)?, summary(&a.paging))
}

pub async fn get_spectrocloud_profile_usage(
    c: &Call<'_>,
    a: args::ProfileUsage,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let filter = reports::ProfileUsageFilter {
        name: a.name,
        unused_only: a.unused_only.unwrap_or(false),
    };
    let got = reports::profile_usage(&ctx, &filter).await?;
    // With a project: the profiles usable there (its own and the tenant's).
    let keep = |p: &Value| {
        project
            .as_ref()
            .is_none_or(|u| p["projectUid"].is_null() || p["projectUid"] == u.as_str())
    };
    let mut out = lists::values(
        items(&got.value()?, "profiles"),
        keep,
        window(&a.paging)?,
        summary(&a.paging),
    )?;
    out["mirror"] = origin(&got);
    Ok(out)
}

pub async fn get_spectrocloud_sync_status(c: &Call<'_>, a: Env) -> AppResult<Value> {
    let only = match a.instance_name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => Some(service::environment(c.state, Some(n))?),
        None => None,
    };
    let list = status::sync_status(c.state, only.as_ref().map(|e| e.name())).await?;
    Ok(json!({ "environments": list }))
}

pub async fn find_spectrocloud_clusters_by_pack(
    c: &Call<'_>,
    a: args::PackClusters,
) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let project = project(&ctx, &a.project).await?;
    let got = reports::pack_usage(&ctx, Some(&a.pack_name), a.version.as_deref()).await?;
    // Cluster uid → the pack versions it runs.
    let mut on: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in items(&got.value()?, "packs") {
        for uid in items(&p, "clusterUids") {
            let tag = p["tag"].as_str().unwrap_or_default().to_string();
            on.entry(uid.as_str().unwrap_or_default().to_string())
                .or_default()
                .push(tag);
        }
    }
    let filter = ClusterFilter {
        project,
        ..Default::default()
    };
    let list: Vec<Value> = lists::cluster_briefs(&ctx, false, &filter)
        .await?
        .into_iter()
        .filter_map(|b| {
            let versions = on.get(&b.uid)?.clone();
            let mut v = serde_json::to_value(b).ok()?;
            v["packVersions"] = json!(versions);
            Some(v)
        })
        .collect();
    let mut out = lists::values(list, |_| true, window(&a.paging)?, summary(&a.paging))?;
    out["pack"] = json!({ "name": a.pack_name, "version": a.version });
    Ok(out)
}

pub async fn search_spectrocloud_packs(c: &Call<'_>, a: args::Packs) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let got = reports::pack_usage(&ctx, None, None).await?;
    let layer = a.layer.map(args::PackLayer::as_str);
    // One entry per pack name, its versions in use, most used first (the report's order).
    let mut packs: Vec<Value> = Vec::new();
    for p in items(&got.value()?, "packs") {
        let version = json!({ "version": p["tag"], "clusters": p["clusters"] });
        match packs.iter_mut().find(|k| k["name"] == p["name"]) {
            Some(k) => {
                k["clusters"] = json!(k["clusters"].as_i64().unwrap_or(0) + p["clusters"].as_i64().unwrap_or(0));
                if let Some(v) = k["versions"].as_array_mut() {
                    v.push(version);
                }
            }
            None => packs.push(json!({ "name": p["name"], "layer": p["layer"], "clusters": p["clusters"], "versions": [version] })),
        }
    }
    let keep = |k: &Value| {
        lists::name_has(k, "name", a.name.as_deref()) && layer.is_none_or(|l| k["layer"] == l)
    };
    lists::values(packs, keep, window(&a.paging)?, summary(&a.paging))
}

pub async fn create_spectrocloud_cluster(c: &Call<'_>, a: args::CreateCluster) -> AppResult<Value> {
    let ctx = c.ctx(&a.env)?;
    let refs = ProjectRef {
        project_name: a.project_name,
        project_uid: a.project_uid,
    };
    let project = project(&ctx, &refs).await?;
    let input = crate::create::Request {
        db: &ctx.state.db,
        env: &ctx.env,
        caller: crate::create::Caller {
            subject: &ctx.caller.subject,
            user: &ctx.user,
        },
        project: project.as_ref().map(Uid::as_str),
        idempotency_key: None,
        on_denied: &|| {},
    };
    let created = crate::create::create(&input, Value::Object(a.cluster)).await?;
    Ok(json!({ "status": created.status, "cluster": created.body }))
}

pub async fn trigger_spectrocloud_sync(c: &Call<'_>, a: Env) -> AppResult<Value> {
    let only = match a.instance_name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => Some(service::environment(c.state, Some(n))?),
        None => None,
    };
    let user = PaletteUser::none();
    let subject = &c.caller.subject;
    let runs = status::trigger(c.state, subject, &user, only.as_ref().map(|e| e.name())).await?;
    Ok(json!({ "runs": runs }))
}
