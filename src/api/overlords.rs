//! `/overlords` (private cloud gateways) from the mirror; their vSphere IP pools live.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Context, Paging, project_param, uid};
use super::respond::json;
use crate::domain::Uid;
use crate::error::AppResult;
use crate::service::infra;

/// `{items: [...]}`, Palette's own shape.
pub async fn list(
    Context(ctx): Context,
    page: Paging,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    Ok(json(
        infra::overlords(&ctx, project.as_ref(), page.0).await?,
    ))
}

pub async fn ip_pools(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let overlord = uid("overlord uid", &path)?;
    let project = project_param(&req)?;
    let path = format!("/v1/overlords/vsphere/{overlord}/pools");
    let p = project.as_ref().map(Uid::as_str);
    Ok(json(ctx.get_live(path, p).await?))
}
