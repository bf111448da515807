//! `/clusters`: list and details from the mirror; kubeconfig, pack manifests and creation live.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::extract::{Context, Paging, Project, Target, path_uid, query_param};
use super::respond::{Reply, SOURCE, json};
use crate::service::creation::{self, Kind};
use crate::service::{Ctx, clusters};

pub async fn list(Context(ctx): Context, page: Paging) -> Reply {
    Ok(json(clusters::list(&ctx, page.0).await?))
}

pub async fn detail(Context(ctx): Context, t: Target) -> Reply {
    Ok(json(clusters::detail(&ctx, &t.uid, t.project()).await?))
}

/// Its profiles with packs, values, schema and presets.
pub async fn profiles(Context(ctx): Context, t: Target) -> Reply {
    Ok(json(clusters::profiles(&ctx, &t.uid, t.project()).await?))
}

/// YAML kubeconfig as an attachment (`frp` defaults to true; only `frp=false` disables it).
pub async fn kubeconfig_answer(
    ctx: &Ctx,
    t: &Target,
    req: &HttpRequest,
    filename: String,
) -> Reply {
    let frp = query_param(req, "frp").as_deref() != Some("false");
    let body = clusters::kubeconfig(ctx, &t.uid, t.project(), frp).await?;
    Ok(HttpResponse::Ok()
        .insert_header((SOURCE, "live"))
        .content_type("application/x-yaml")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}

pub async fn kubeconfig(Context(ctx): Context, t: Target, req: HttpRequest) -> Reply {
    let name = format!("{}-kubeconfig.yaml", t.uid);
    kubeconfig_answer(&ctx, &t, &req, name).await
}

pub async fn manifest(Context(ctx): Context, t: Target, req: HttpRequest) -> Reply {
    let manifest = path_uid(&req, "manifestUid")?;
    let answer = clusters::manifest(&ctx, &t.uid, &manifest, t.project()).await?;
    Ok(json(answer))
}

pub async fn create(body: web::Json<Value>, ctx: Context, p: Project, req: HttpRequest) -> Reply {
    creation(body, ctx, p, &req, Kind::Cluster).await
}

/// POST /clusters and POST /virtualclusters: the service's creation, its answer as HTTP.
pub async fn creation(
    body: web::Json<Value>,
    Context(live): Context,
    Project(project): Project,
    req: &HttpRequest,
    kind: Kind,
) -> Reply {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{1}"));
    let body = body.into_inner();
    let created = creation::create(&live, kind, project.as_ref(), key, body).await?;
    let status = actix_web::http::StatusCode::from_u16(created.status)
        .unwrap_or(actix_web::http::StatusCode::CREATED);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((super::respond::SOURCE, "live"));
    if created.replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(resp.json(created.body))
}
