//! `/virtualclusters`: list and details from the mirror; kubeconfig and creation live.

use actix_web::{HttpRequest, web};
use serde_json::Value;

use super::clusters::kubeconfig_answer;
use super::extract::{Context, Paging, Project, Target};
use super::respond::{Reply, json};
use crate::error::{AppError, ErrorCode};
use crate::service::clusters;
use crate::service::creation::Kind;

pub async fn list(Context(ctx): Context, page: Paging) -> Reply {
    Ok(json(clusters::list_virtual(&ctx, page.0).await?))
}

/// Details of a cluster only if it is virtual (cloud type `nested`), as the original.
pub async fn detail(Context(ctx): Context, t: Target) -> Reply {
    Ok(json(
        clusters::detail_virtual(&ctx, &t.uid, t.project()).await?,
    ))
}

pub async fn kubeconfig(Context(ctx): Context, t: Target, req: HttpRequest) -> Reply {
    let name = format!("{}-vcluster-kubeconfig.yaml", t.uid);
    kubeconfig_answer(&ctx, &t, &req, name)
        .await
        .map_err(|e| match e.code {
            ErrorCode::NotFound => AppError::not_found("Kubeconfig not found for virtual cluster"),
            _ => e,
        })
}

pub async fn create(body: web::Json<Value>, ctx: Context, p: Project, req: HttpRequest) -> Reply {
    super::clusters::creation(body, ctx, p, &req, Kind::Virtual).await
}
