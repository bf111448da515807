//! `/clustergroups`, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Context, Paging, project_param, uid};
use super::respond::json;
use crate::error::AppResult;
use crate::service::infra;

/// `{items: [...]}`, as the original normalises Palette's `summaries`.
pub async fn list(
    Context(ctx): Context,
    page: Paging,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    Ok(json(
        infra::cluster_groups(&ctx, project.as_ref(), page.0).await?,
    ))
}

pub async fn detail(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster group uid", &path)?;
    let project = project_param(&req)?;
    Ok(json(
        infra::cluster_group(&ctx, &uid, project.as_ref()).await?,
    ))
}
