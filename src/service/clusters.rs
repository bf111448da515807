//! Clusters and virtual clusters: lists and details from the mirror (or read through before the
//! first sync), kubeconfigs and pack manifests live and audited.

use super::view::{Mirror, View};
use super::{Answer, Ctx, not_found};
use crate::auth::audit::{self, Action};
use crate::auth::scope::Kind;
use crate::domain::{CloudType, Uid};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::palette::models;
use crate::store::clusters::{self, ClusterRecord};
use crate::store::{Listed, Page};

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
    let kind = if c.cloud_type == CloudType::Nested.as_str() {
        Kind::VirtualCluster
    } else {
        Kind::Cluster
    };
    if !m.shows(kind, c.project_uid.as_deref(), project.map(Uid::as_str)) {
        return Err(not_found(what));
    }
    Ok(c)
}

/// A mirror read of a listed cluster whose details have not arrived yet, answered live.
fn pending(m: Mirror<'_>) -> super::through::Through<'_> {
    super::through::Through {
        ctx: m.ctx,
        vis: m.vis,
    }
}

/// Palette's cluster object.
pub async fn detail(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    match ctx.view().await? {
        View::Mirror(m) => {
            let c = visible(&m, uid, project, "Cluster").await?;
            match c.detail_json {
                Some(d) => Ok(m.raw(d)),
                // Listed, details not synced yet (a progressive sync): live, never a 404.
                None => {
                    let t = pending(m);
                    let path = format!("/v1/dashboard/spectroclusters/{uid}");
                    let p = project.map(|p| p.as_str().to_string()).or(c.project_uid);
                    t.object(t.get(path, p.as_deref()), "Cluster").await
                }
            }
        }
        View::Through(t) => {
            let path = format!("/v1/dashboard/spectroclusters/{uid}");
            let p = project.map(Uid::as_str);
            t.object(t.get(path, p), "Cluster").await
        }
    }
}

/// A virtual cluster's object: a cluster only if it is virtual (cloud type `nested`).
pub async fn detail_virtual(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    const WHAT: &str = "Virtual cluster";
    match ctx.view().await? {
        View::Mirror(m) => {
            let c = visible(&m, uid, project, WHAT).await?;
            if c.cloud_type != CloudType::Nested.as_str() {
                return Err(not_found(WHAT));
            }
            match c.detail_json {
                Some(d) => Ok(m.raw(d)),
                // Listed, details not synced yet (a progressive sync): live, never a 404.
                None => {
                    let t = pending(m);
                    let path = format!("/v1/dashboard/spectroclusters/{uid}");
                    let p = project.map(|p| p.as_str().to_string()).or(c.project_uid);
                    let v = t.value(t.get(path, p.as_deref()), WHAT).await?;
                    Answer::live_json(&v)
                }
            }
        }
        View::Through(t) => {
            let path = format!("/v1/dashboard/spectroclusters/{uid}");
            let v = t.value(t.get(path, project.map(Uid::as_str)), WHAT).await?;
            if models::cloud_type(&v) != CloudType::Nested.as_str() {
                return Err(not_found(WHAT));
            }
            Answer::live_json(&v)
        }
    }
}

/// The profiles of a cluster with packs, values, schema and presets.
pub async fn profiles(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    match ctx.view().await? {
        View::Mirror(m) => {
            let c = visible(&m, uid, project, "Cluster").await?;
            match c.profiles_json {
                Some(text) => Ok(m.raw(text)),
                // Listed, details not synced yet (a progressive sync): live.
                None => {
                    let t = pending(m);
                    let path = format!("/v1/spectroclusters/{uid}/profiles");
                    let p = project.map(|p| p.as_str().to_string()).or(c.project_uid);
                    let call = t
                        .get(path, p.as_deref())
                        .query("includePackMeta", "schema,presets");
                    t.object(call, "Cluster").await
                }
            }
        }
        View::Through(t) => {
            let path = format!("/v1/spectroclusters/{uid}/profiles");
            let call = t
                .get(path, project.map(Uid::as_str))
                .query("includePackMeta", "schema,presets");
            t.object(call, "Cluster").await
        }
    }
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
    let p = project.map(Uid::as_str);
    let found = clusters::named(m.db(), m.env(), name, virtual_clusters, p, &f).await?;
    let known: Vec<String> = if found.is_empty() {
        let narrow = crate::service::lists::ClusterFilter {
            project: project.cloned(),
            ..Default::default()
        };
        let all = crate::service::lists::cluster_briefs(ctx, virtual_clusters, &narrow).await?;
        all.into_iter().map(|c| c.name).collect()
    } else {
        Vec::new()
    };
    let narrow = format!("projectName, projectUid or {field}Uid");
    let one = super::names::pick(what, name, m.env(), found, &known, &narrow)?;
    Uid::parse(&format!("{field}Uid"), &one.uid)
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
