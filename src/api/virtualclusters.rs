//! `/virtualclusters`: list and details from the mirror; kubeconfig and creation live.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::clusters::kubeconfig_answer;
use super::extract::{Context, Paging, project_param, uid};
use super::respond::json;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::clusters;

pub async fn list(Context(ctx): Context, page: Paging) -> AppResult<HttpResponse> {
    Ok(json(clusters::list_virtual(&ctx, page.0).await?))
}

/// Details of a cluster only if it is virtual (cloud type `nested`), as the original.
pub async fn detail(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("virtual cluster uid", &path)?;
    let project = project_param(&req)?;
    Ok(json(
        clusters::detail_virtual(&ctx, &uid, project.as_ref()).await?,
    ))
}

pub async fn kubeconfig(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("virtual cluster uid", &path)?;
    let name = format!("{uid}-vcluster-kubeconfig.yaml");
    kubeconfig_answer(&ctx, &uid, &req, name)
        .await
        .map_err(|e| match e.code {
            ErrorCode::NotFound => AppError::not_found("Kubeconfig not found for virtual cluster"),
            _ => e,
        })
}

pub async fn create(
    body: web::Json<Value>,
    Context(live): Context,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    super::clusters::creation(&live, &req, body.into_inner(), true).await
}
