//! `/cloudaccounts`: aws, azure and vSphere accounts from the mirror (secrets removed); other
//! cloud types and the vSphere properties live.

use actix_web::HttpRequest;

use super::extract::{Context, Paging, Project, Target, query_param};
use super::respond::{Reply, json};
use crate::domain::{CloudType, Uid};
use crate::error::AppError;
use crate::service::infra;

/// The `{cloudType}` path segment.
fn cloud(req: &HttpRequest) -> Result<CloudType, AppError> {
    CloudType::parse(req.match_info().get("cloudType").unwrap_or_default())
}

/// `{accounts: [...]}`.
pub async fn list(ctx: Context, project: Project, page: Paging, req: HttpRequest) -> Reply {
    let answer = infra::accounts(&ctx.0, &cloud(&req)?, project.0.as_ref(), page.0).await?;
    Ok(json(answer))
}

pub async fn detail(Context(ctx): Context, t: Target, req: HttpRequest) -> Reply {
    let answer = infra::account(&ctx, &cloud(&req)?, &t.uid, t.project()).await?;
    Ok(json(answer))
}

pub async fn vsphere_metadata(Context(ctx): Context, t: Target) -> Reply {
    let path = format!("/v1/cloudaccounts/vsphere/{}/properties/datacenters", t.uid);
    Ok(json(
        ctx.get_live(path, t.project().map(Uid::as_str)).await?,
    ))
}

pub async fn vsphere_resources(Context(ctx): Context, t: Target, req: HttpRequest) -> Reply {
    let account = &t.uid;
    let (Some(dc), Some(cc)) = (
        query_param(&req, "datacenter").filter(|v| !v.is_empty()),
        query_param(&req, "computecluster").filter(|v| !v.is_empty()),
    ) else {
        return Err(AppError::bad_request(
            "datacenter and computecluster are required",
        ));
    };
    let call = ctx
        .env
        .client
        .get(format!(
            "/v1/cloudaccounts/vsphere/{account}/properties/computecluster/resources"
        ))
        .query("datacenter", dc)
        .query("computecluster", cc)
        .project(t.project().map(Uid::as_str));
    let answer = ctx.send(call).await?;
    Ok(super::respond::live_bytes(answer.body))
}
