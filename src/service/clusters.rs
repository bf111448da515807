//! Clusters and virtual clusters: lists and details from the mirror (or read through before the
//! first sync), kubeconfigs and pack manifests live and audited.

use super::through::Through;
use super::view::{Mirror, View};
use super::{Answer, Ctx, not_found};
use crate::auth::audit::{self, Action};
use crate::auth::scope::Kind;
use crate::domain::{CloudType, Uid};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::palette::models;
use crate::store::clusters::{self, ClusterRecord};
use crate::store::{ByName, Listed, Page};

pub use crate::store::clusters::Naming;

/// `{clusters: [...]}`: every cluster the caller can see (virtual ones are listed apart).
pub async fn list(ctx: &Ctx, page: Page) -> AppResult<Answer> {
    match ctx.view().await? {
        View::Mirror(m) => {
            m.listed("clusters", Listed::Clusters, Kind::Cluster, None, page)
                .await
        }
        View::Through(t) => {
            t.everywhere("clusters", Kind::Cluster, page, |s| t.clusters_in(s))
                .await
        }
    }
}

/// `{virtualClusters: [...]}`.
pub async fn list_virtual(ctx: &Ctx, page: Page) -> AppResult<Answer> {
    match ctx.view().await? {
        View::Mirror(m) => {
            let (key, what) = ("virtualClusters", Listed::VirtualClusters);
            m.listed(key, what, Kind::VirtualCluster, None, page).await
        }
        View::Through(t) => {
            t.everywhere("virtualClusters", Kind::VirtualCluster, page, |s| {
                t.virtual_clusters_in(s)
            })
            .await
        }
    }
}

/// A mirrored cluster the caller may see; with `project`, only if it belongs there.
async fn visible(
    m: &Mirror<'_>,
    uid: &Uid,
    project: Option<&Uid>,
    what: &str,
) -> AppResult<ClusterRecord> {
    let c = clusters::get(m.db(), m.env(), uid)
        .await?
        .ok_or_else(|| not_found(what))?;
    let kind = if c.cloud_type == CloudType::Nested {
        Kind::VirtualCluster
    } else {
        Kind::Cluster
    };
    if !m.shows(kind, c.project_uid.as_deref(), project.map(Uid::as_str)) {
        return Err(not_found(what));
    }
    Ok(c)
}

/// Who answers a read of a cluster's own data when the mirror cannot: Palette, through the
/// caller's view, in the project asked for or else the cluster's own.
fn through<'a>(
    t: Through<'a>,
    project: Option<&Uid>,
    own: Option<String>,
    listed: bool,
) -> Live<'a> {
    let project = project.map(|p| p.as_str().to_string()).or(own);
    Live { t, project, listed }
}

struct Live<'a> {
    t: Through<'a>,
    project: Option<String>,
    /// The mirror lists the cluster (its details are still to come).
    listed: bool,
}

#[derive(Clone, Copy)]
enum Part {
    Detail,
    Profiles,
}

/// One of a cluster's two answers, live. A listed cluster has both fetched, shared by
/// identical reads and kept in the mirror (`enrich`); before any listing there is nowhere to
/// keep them, so only the one asked for.
async fn live_part(live: &Live<'_>, uid: &Uid, part: Part) -> AppResult<Vec<u8>> {
    let (t, p) = (&live.t, live.project.as_deref());
    if live.listed {
        let got = super::enrich::cluster(t, uid, p).await;
        return match part {
            Part::Detail => got.detail.clone(),
            Part::Profiles => got.profiles.clone(),
        };
    }
    let call = match part {
        Part::Detail => super::enrich::detail_call(t, uid, p),
        Part::Profiles => super::enrich::profiles_call(t, uid, p),
    };
    Ok(t.object(call, "Cluster").await?.into_bytes())
}

/// A mirrored cluster's stored JSON (`field` of its record), or — listed but its details not
/// synced yet (a progressive sync), or before the first sync — who must answer live.
async fn stored<'a>(
    ctx: &'a Ctx,
    uid: &Uid,
    project: Option<&Uid>,
    what: &str,
    field: fn(&mut ClusterRecord) -> Option<String>,
) -> AppResult<Result<Answer, Live<'a>>> {
    match ctx.view().await? {
        View::Mirror(m) => {
            let mut c = visible(&m, uid, project, what).await?;
            if what == VIRTUAL && c.cloud_type != CloudType::Nested {
                return Err(not_found(what));
            }
            Ok(match field(&mut c) {
                Some(text) => Ok(m.raw(text)),
                None => {
                    let t = Through {
                        ctx: m.ctx,
                        vis: m.vis,
                    };
                    Err(through(t, project, c.project_uid, true))
                }
            })
        }
        View::Through(t) => Ok(Err(through(t, project, None, false))),
    }
}

const VIRTUAL: &str = "Virtual cluster";

/// Palette's cluster object.
pub async fn detail(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    let live = match stored(ctx, uid, project, "Cluster", |c| c.detail_json.take()).await? {
        Ok(answer) => return Ok(answer),
        Err(live) => live,
    };
    Ok(Answer::live_bytes(
        live_part(&live, uid, Part::Detail).await?,
    ))
}

/// A virtual cluster's object: a cluster only if it is virtual (cloud type `nested`).
pub async fn detail_virtual(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    let live = match stored(ctx, uid, project, VIRTUAL, |c| c.detail_json.take()).await? {
        Ok(answer) => return Ok(answer),
        Err(live) => live,
    };
    let v: serde_json::Value = match live_part(&live, uid, Part::Detail).await {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            AppError::from(crate::palette::PaletteError::Decode {
                path: format!("/v1/dashboard/spectroclusters/{uid}"),
                message: e.to_string(),
            })
        })?,
        Err(e) if e.code == ErrorCode::NotFound => return Err(not_found(VIRTUAL)),
        Err(e) => return Err(e),
    };
    if CloudType::from(models::cloud_type(&v)) != CloudType::Nested {
        return Err(not_found(VIRTUAL));
    }
    Answer::live_json(&v)
}

/// The profiles of a cluster with packs, values, schema and presets.
pub async fn profiles(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    let live = match stored(ctx, uid, project, "Cluster", |c| c.profiles_json.take()).await? {
        Ok(answer) => return Ok(answer),
        Err(live) => live,
    };
    Ok(Answer::live_bytes(
        live_part(&live, uid, Part::Profiles).await?,
    ))
}

/// A profile a cluster runs, with its packs.
#[derive(Debug)]
pub struct ClusterProfile {
    pub uid: Option<String>,
    pub name: Option<String>,
    pub profile_type: Option<String>,
    pub version: Option<String>,
    pub packs: Vec<super::profiles::PackSummary>,
}

#[derive(Debug)]
pub struct ClusterProfiles {
    pub origin: super::Origin,
    pub profiles: Vec<ClusterProfile>,
}

/// [`profiles`], summarised.
pub async fn profile_summaries(
    ctx: &Ctx,
    uid: &Uid,
    project: Option<&Uid>,
) -> AppResult<ClusterProfiles> {
    let got = profiles(ctx, uid, project).await?;
    let v = got.value()?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let list = v["profiles"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let profiles = list
        .iter()
        .map(|p| ClusterProfile {
            uid: text(&p["metadata"]["uid"]),
            name: text(&p["metadata"]["name"]),
            profile_type: text(&p["spec"]["type"]),
            version: text(&p["spec"]["version"]),
            packs: super::profiles::PackSummary::all(&p["spec"]["packs"]),
        })
        .collect();
    Ok(ClusterProfiles {
        origin: got.origin,
        profiles,
    })
}

/// The uid of a cluster given by uid, or by a name (any case) that must be unambiguous (names
/// are unique per project only); among the clusters the caller can see. Several matches list
/// the candidates; none lists the closest names.
pub async fn resolve(
    ctx: &Ctx,
    name: Option<&str>,
    uid: Option<Uid>,
    project: Option<&Uid>,
) -> AppResult<Uid> {
    resolve_kind(ctx, false, name, uid, project).await
}

/// [`resolve`] for virtual clusters.
pub async fn resolve_virtual(
    ctx: &Ctx,
    name: Option<&str>,
    uid: Option<Uid>,
    project: Option<&Uid>,
) -> AppResult<Uid> {
    resolve_kind(ctx, true, name, uid, project).await
}

async fn resolve_kind(
    ctx: &Ctx,
    virtual_clusters: bool,
    name: Option<&str>,
    uid: Option<Uid>,
    project: Option<&Uid>,
) -> AppResult<Uid> {
    let (what, field) = match virtual_clusters {
        true => ("virtual cluster", "virtualCluster"),
        false => ("cluster", "cluster"),
    };
    if let Some(u) = uid {
        return Ok(u);
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(AppError::bad_request(format!(
            "Provide either {field}Name or {field}Uid"
        )));
    };
    let m = ctx.mirror().await?;
    let kind = if virtual_clusters {
        Kind::VirtualCluster
    } else {
        Kind::Cluster
    };
    let f = m.filter(kind);
    let by = ByName {
        env: m.env(),
        name,
        project: project.map(Uid::as_str),
    };
    let found = clusters::named(m.db(), by, virtual_clusters, &f).await?;
    let known: Vec<String> = if found.is_empty() {
        let narrow = crate::service::lists::ClusterFilter {
            project: project.cloned(),
            ..Default::default()
        };
        use crate::service::lists::Which;
        let which = if virtual_clusters {
            Which::Virtual
        } else {
            Which::NotVirtual
        };
        let all = crate::service::lists::cluster_briefs(ctx, which, &narrow).await?;
        all.into_iter().map(|c| c.name).collect()
    } else {
        Vec::new()
    };
    let narrow = format!("projectName, projectUid or {field}Uid");
    let lookup = super::names::Lookup {
        what,
        name,
        env: m.env(),
        project: project.map(Uid::as_str),
        narrow: &narrow,
    };
    let one = super::names::pick(&lookup, found, &known)?;
    Uid::parse(&format!("{field}Uid"), &one.uid)
}

/// A mirrored cluster's name and project (uid and name), for naming it in answers; `None`
/// when the mirror does not list it.
pub async fn naming(ctx: &Ctx, uid: &Uid) -> AppResult<Option<Naming>> {
    Ok(clusters::naming(&ctx.state.db, ctx.env.name(), uid).await?)
}

/// The cluster's project for a live call: `given` when there is one, else the mirror's.
async fn project_for(ctx: &Ctx, uid: &Uid, given: Option<&Uid>) -> AppResult<Option<String>> {
    if let Some(p) = given {
        return Ok(Some(p.to_string()));
    }
    Ok(clusters::get(&ctx.state.db, ctx.env.name(), uid)
        .await?
        .and_then(|c| c.project_uid))
}

/// The kubeconfig (YAML) of a cluster or virtual cluster, live (`frp`: through Palette's
/// reverse proxy). Every download is audited.
pub async fn kubeconfig(
    ctx: &Ctx,
    uid: &Uid,
    project: Option<&Uid>,
    frp: bool,
) -> AppResult<Vec<u8>> {
    let project = project_for(ctx, uid, project).await?;
    let call = ctx
        .env
        .client
        .get(format!("/v1/spectroclusters/{uid}/assets/kubeconfig"))
        .query("frp", frp.to_string())
        .project(project.as_deref())
        .raw();
    let result = ctx.send(call).await;
    let detail = result.as_ref().err().map(|e| e.message.clone());
    record(ctx, Action::KubeconfigDownload, uid, result.is_ok(), detail).await;
    result.map(|a| a.body).map_err(|e| match e.code {
        ErrorCode::NotFound => not_found("Kubeconfig"),
        _ => e,
    })
}

/// A pack manifest of a cluster, live and audited.
pub async fn manifest(
    ctx: &Ctx,
    uid: &Uid,
    manifest: &Uid,
    project: Option<&Uid>,
) -> AppResult<Answer> {
    let project = project_for(ctx, uid, project).await?;
    let path = format!("/v1/spectroclusters/{uid}/pack/manifests/{manifest}");
    let call = ctx.env.client.get(path).project(project.as_deref());
    let result = ctx.send(call).await;
    let detail = Some(format!("cluster {uid}"));
    record(ctx, Action::ManifestView, manifest, result.is_ok(), detail).await;
    result
        .map(|a| Answer::live_bytes(a.body))
        .map_err(|e| match e.code {
            ErrorCode::NotFound => not_found("Manifest"),
            _ => e,
        })
}

/// A pack manifest as Palette sent it: JSON when it is, else its text.
#[derive(Debug)]
pub enum Manifest {
    Json(serde_json::Value),
    Text(String),
}

/// [`manifest`], read.
pub async fn manifest_body(
    ctx: &Ctx,
    uid: &Uid,
    manifest_uid: &Uid,
    project: Option<&Uid>,
) -> AppResult<Manifest> {
    let got = manifest(ctx, uid, manifest_uid, project).await?;
    Ok(match got.value() {
        Ok(v) => Manifest::Json(v),
        Err(_) => Manifest::Text(String::from_utf8_lossy(got.bytes()).into_owned()),
    })
}

/// A virtual cluster as a listing shows it: who it is, its state, host and group.
#[derive(Debug)]
pub struct VirtualSummary {
    pub origin: super::Origin,
    pub brief: super::Brief,
    pub state: serde_json::Value,
    /// Palette's references, as they are.
    pub host_cluster: serde_json::Value,
    pub cluster_group: serde_json::Value,
}

/// [`detail_virtual`], summarised.
pub async fn virtual_summary(
    ctx: &Ctx,
    uid: &Uid,
    project: Option<&Uid>,
) -> AppResult<VirtualSummary> {
    let got = detail_virtual(ctx, uid, project).await?;
    let d = got.value()?;
    let (status, virt) = (&d["status"], &d["status"]["virtual"]);
    Ok(VirtualSummary {
        origin: got.origin,
        brief: super::Brief::of(&d),
        state: status["state"].clone(),
        host_cluster: virt["hostCluster"].clone(),
        cluster_group: virt["clusterGroup"].clone(),
    })
}

async fn record(ctx: &Ctx, action: Action, object: &Uid, success: bool, detail: Option<String>) {
    let event = audit::Event {
        subject: &ctx.caller.subject,
        user: Some(&ctx.user),
        action,
        env: ctx.env.name(),
        object_uid: Some(object),
        success,
        detail,
    };
    audit::record(&ctx.state.db, event).await;
}
