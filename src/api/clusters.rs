//! `/clusters`: list and details from the mirror; kubeconfig, pack manifests and creation live.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::extract::{Live, Mirror, Paging, Read, project_param, query_param, uid};
use super::respond::not_found;
use crate::auth::Caller;
use crate::auth::audit::{self, Action};
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::Listed;
use crate::store::clusters::{self, ClusterRecord};

pub async fn list(read: Read, page: Paging) -> AppResult<HttpResponse> {
    match read {
        Read::Mirror(m) => {
            m.listed("clusters", Listed::Clusters, Kind::Cluster, None, page.0)
                .await
        }
        Read::Through(t) => {
            t.everywhere("clusters", Kind::Cluster, page.0, |s| t.clusters_in(s))
                .await
        }
    }
}

/// A mirrored cluster the caller may see; with `projectUid`, only if it belongs there.
pub async fn visible(
    m: &Mirror,
    uid: &str,
    project: Option<&str>,
    what: &str,
) -> AppResult<ClusterRecord> {
    let c = clusters::get(&m.state.db, m.env.name(), uid)
        .await?
        .ok_or_else(|| not_found(what))?;
    let kind = if c.cloud_type == "nested" {
        Kind::VirtualCluster
    } else {
        Kind::Cluster
    };
    if !m.shows(kind, c.project_uid.as_deref(), project) {
        return Err(not_found(what));
    }
    Ok(c)
}

pub async fn detail(
    read: Read,
    path: web::Path<String>,
    req: HttpRequest,
    caller: Caller,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster uid", &path)?;
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let path = format!("/v1/dashboard/spectroclusters/{uid}");
            return t.object(t.get(path, project.as_deref()), "Cluster").await;
        }
    };
    let c = visible(&m, uid, project.as_deref(), "Cluster").await?;
    match c.detail_json {
        Some(d) => Ok(m.raw(d)),
        // Listed, details not synced yet.
        None => {
            let t = m.through(caller);
            let path = format!("/v1/dashboard/spectroclusters/{uid}");
            let project = project.or(c.project_uid);
            t.object(t.get(path, project.as_deref()), "Cluster").await
        }
    }
}

pub async fn profiles(
    read: Read,
    path: web::Path<String>,
    req: HttpRequest,
    caller: Caller,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster uid", &path)?;
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let path = format!("/v1/spectroclusters/{uid}/profiles");
            let call = t
                .get(path, project.as_deref())
                .query("includePackMeta", "schema,presets");
            return t.object(call, "Cluster").await;
        }
    };
    let c = visible(&m, uid, project.as_deref(), "Cluster").await?;
    match c.profiles_json {
        Some(p) => Ok(m.raw(p)),
        // Listed, details not synced yet.
        None => {
            let t = m.through(caller);
            let path = format!("/v1/spectroclusters/{uid}/profiles");
            let project = project.or(c.project_uid);
            let call = t
                .get(path, project.as_deref())
                .query("includePackMeta", "schema,presets");
            t.object(call, "Cluster").await
        }
    }
}

/// The cluster's project for a live call: `given` when there is one, else the mirror's.
async fn project_for(live: &Live, uid: &str, given: Option<String>) -> AppResult<Option<String>> {
    if given.is_some() {
        return Ok(given);
    }
    Ok(clusters::get(&live.state.db, live.env.name(), uid)
        .await?
        .and_then(|c| c.project_uid))
}

/// The kubeconfig of a cluster or virtual cluster, live (`frp`: through Palette's reverse
/// proxy). Every download is audited. Shared by the HTTP route and the MCP tools.
pub async fn fetch_kubeconfig(
    live: &Live,
    uid: &str,
    project: Option<String>,
    frp: bool,
) -> AppResult<Vec<u8>> {
    let project = project_for(live, uid, project).await?;
    let result = live
        .send(
            live.env
                .client
                .get(format!("/v1/spectroclusters/{uid}/assets/kubeconfig"))
                .query("frp", frp.to_string())
                .project(project.as_deref())
                .raw(),
        )
        .await;
    audit::record(
        &live.state.db,
        audit::Event {
            subject: &live.caller.subject,
            user: Some(&live.user),
            action: Action::KubeconfigDownload,
            env: live.env.name(),
            object_uid: Some(uid),
            success: result.is_ok(),
            detail: result.as_ref().err().map(|e| e.message.clone()),
        },
    )
    .await;
    result.map(|a| a.body).map_err(|e| match e.code {
        crate::error::ErrorCode::NotFound => not_found("Kubeconfig"),
        _ => e,
    })
}

/// A pack manifest of a cluster, live and audited. Shared by the HTTP route and MCP.
pub async fn fetch_manifest(
    live: &Live,
    uid: &str,
    manifest: &str,
    project: Option<String>,
) -> AppResult<Vec<u8>> {
    let project = project_for(live, uid, project).await?;
    let result = live
        .send(
            live.env
                .client
                .get(format!(
                    "/v1/spectroclusters/{uid}/pack/manifests/{manifest}"
                ))
                .project(project.as_deref()),
        )
        .await;
    audit::record(
        &live.state.db,
        audit::Event {
            subject: &live.caller.subject,
            user: Some(&live.user),
            action: Action::ManifestView,
            env: live.env.name(),
            object_uid: Some(manifest),
            success: result.is_ok(),
            detail: Some(format!("cluster {uid}")),
        },
    )
    .await;
    result.map(|a| a.body).map_err(|e| match e.code {
        crate::error::ErrorCode::NotFound => not_found("Manifest"),
        _ => e,
    })
}

/// YAML kubeconfig as an attachment (`frp` defaults to true; only `frp=false` disables it).
pub async fn kubeconfig_answer(
    live: &Live,
    uid: &str,
    req: &HttpRequest,
    filename: String,
) -> AppResult<HttpResponse> {
    let frp = query_param(req, "frp").as_deref() != Some("false");
    let body = fetch_kubeconfig(live, uid, project_param(req)?, frp).await?;
    Ok(HttpResponse::Ok()
        .insert_header((super::respond::SOURCE, "live"))
        .content_type("application/x-yaml")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}

pub async fn kubeconfig(
    live: Live,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster uid", &path)?;
    kubeconfig_answer(&live, uid, &req, format!("{uid}-kubeconfig.yaml")).await
}

pub async fn manifest(
    live: Live,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (c, m) = path.into_inner();
    let uid = uid("cluster uid", &c)?;
    let manifest = super::extract::uid("manifest uid", &m)?;
    let body = fetch_manifest(&live, uid, manifest, project_param(&req)?).await?;
    Ok(Live::json_bytes(body))
}

pub async fn create(
    body: web::Json<Value>,
    live: Live,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    creation(&live, &req, body.into_inner(), false).await
}

/// POST /clusters and POST /virtualclusters: plain inputs for `create`, its answer as HTTP.
pub async fn creation(
    live: &Live,
    req: &HttpRequest,
    body: Value,
    virtual_cluster: bool,
) -> AppResult<HttpResponse> {
    let project = project_param(req)?;
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{1}"));
    let on_denied = || {
        if live.user.has_token() {
            live.user.rejected(&live.state.tokens);
        }
    };
    let input = crate::create::Request {
        db: &live.state.db,
        env: &live.env,
        caller: crate::create::Caller {
            subject: &live.caller.subject,
            user: &live.user,
        },
        project: project.as_deref(),
        idempotency_key: key,
        on_denied: &on_denied,
    };
    let created = if virtual_cluster {
        crate::create::create_virtual(&input, body).await?
    } else {
        crate::create::create(&input, body).await?
    };
    let status = actix_web::http::StatusCode::from_u16(created.status)
        .unwrap_or(actix_web::http::StatusCode::CREATED);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((super::respond::SOURCE, "live"));
    if created.replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(resp.json(created.body))
}
