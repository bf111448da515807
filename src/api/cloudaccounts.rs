//! `/cloudaccounts`: aws, azure and vSphere accounts from the mirror (secrets removed); other
//! cloud types and the vSphere properties live.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Context, Paging, project_param, query_param, uid};
use super::respond::json;
use crate::domain::{CloudType, Uid};
use crate::error::{AppError, AppResult};
use crate::service::infra;

/// `{accounts: [...]}`.
pub async fn list(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
    page: Paging,
) -> AppResult<HttpResponse> {
    let cloud = CloudType::parse(&path)?;
    let project = project_param(&req)?;
    Ok(json(
        infra::accounts(&ctx, &cloud, project.as_ref(), page.0).await?,
    ))
}

pub async fn detail(
    Context(ctx): Context,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (c, a) = path.into_inner();
    let cloud = CloudType::parse(&c)?;
    let account = uid("cloud account uid", &a)?;
    let project = project_param(&req)?;
    let answer = infra::account(&ctx, &cloud, &account, project.as_ref()).await?;
    Ok(json(answer))
}

pub async fn vsphere_metadata(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let account = uid("cloud account uid", &path)?;
    let project = project_param(&req)?;
    let path = format!("/v1/cloudaccounts/vsphere/{account}/properties/datacenters");
    Ok(json(
        ctx.get_live(path, project.as_ref().map(Uid::as_str))
            .await?,
    ))
}

pub async fn vsphere_resources(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let account = uid("cloud account uid", &path)?;
    let (Some(dc), Some(cc)) = (
        query_param(&req, "datacenter").filter(|v| !v.is_empty()),
        query_param(&req, "computecluster").filter(|v| !v.is_empty()),
    ) else {
        return Err(AppError::bad_request(
            "datacenter and computecluster are required",
        ));
    };
    let project = project_param(&req)?;
    let call = ctx
        .env
        .client
        .get(format!(
            "/v1/cloudaccounts/vsphere/{account}/properties/computecluster/resources"
        ))
        .query("datacenter", dc)
        .query("computecluster", cc)
        .project(project.as_ref().map(Uid::as_str));
    let answer = ctx.send(call).await?;
    Ok(super::respond::live_bytes(answer.body))
}
