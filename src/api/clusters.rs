//! `/clusters`: list and details from the mirror; kubeconfig, pack manifests and creation live.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::extract::{Context, Paging, project_param, query_param, uid};
use super::respond::{SOURCE, json};
use crate::domain::Uid;
use crate::error::AppResult;
use crate::service::{Ctx, clusters};

pub async fn list(Context(ctx): Context, page: Paging) -> AppResult<HttpResponse> {
    Ok(json(clusters::list(&ctx, page.0).await?))
}

pub async fn detail(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster uid", &path)?;
    let project = project_param(&req)?;
    Ok(json(clusters::detail(&ctx, &uid, project.as_ref()).await?))
}

pub async fn profiles(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster uid", &path)?;
    let project = project_param(&req)?;
    Ok(json(
        clusters::profiles(&ctx, &uid, project.as_ref()).await?,
    ))
}

/// YAML kubeconfig as an attachment (`frp` defaults to true; only `frp=false` disables it).
pub async fn kubeconfig_answer(
    ctx: &Ctx,
    uid: &Uid,
    req: &HttpRequest,
    filename: String,
) -> AppResult<HttpResponse> {
    let frp = query_param(req, "frp").as_deref() != Some("false");
    let project = project_param(req)?;
    let body = clusters::kubeconfig(ctx, uid, project.as_ref(), frp).await?;
    Ok(HttpResponse::Ok()
        .insert_header((SOURCE, "live"))
        .content_type("application/x-yaml")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}

pub async fn kubeconfig(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster uid", &path)?;
    let name = format!("{uid}-kubeconfig.yaml");
    kubeconfig_answer(&ctx, &uid, &req, name).await
}

pub async fn manifest(
    Context(ctx): Context,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (c, m) = path.into_inner();
    let uid = uid("cluster uid", &c)?;
    let manifest = super::extract::uid("manifest uid", &m)?;
    let project = project_param(&req)?;
    let answer = clusters::manifest(&ctx, &uid, &manifest, project.as_ref()).await?;
    Ok(json(answer))
}

pub async fn create(
    body: web::Json<Value>,
    Context(live): Context,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    creation(&live, &req, body.into_inner(), false).await
}

/// POST /clusters and POST /virtualclusters: plain inputs for `create`, its answer as HTTP.
pub async fn creation(
    live: &Ctx,
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
        project: project.as_ref().map(Uid::as_str),
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
