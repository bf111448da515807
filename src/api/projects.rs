//! `/projects` and `/projects/{projectUid}/profiles`, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Context, Paging, query_param, uid};
use super::respond::json;
use crate::domain::{CloudType, ProfileType};
use crate::error::AppResult;
use crate::service::projects;

pub async fn list(Context(ctx): Context, page: Paging) -> AppResult<HttpResponse> {
    Ok(json(projects::list(&ctx, page.0).await?))
}

/// Profiles usable in a project (its own and tenant ones), newest first. As the original:
/// `profileType` filters one type, default infra and cluster profiles; `cloudType` filters.
pub async fn profiles(
    Context(ctx): Context,
    path: web::Path<String>,
    page: Paging,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let project = uid("project uid", &path)?;
    let cloud = CloudType::optional(query_param(&req, "cloudType").as_deref())?;
    let types = ProfileType::filter(query_param(&req, "profileType").as_deref())?;
    let answer = projects::profiles(&ctx, &project, cloud.as_ref(), &types, page.0).await?;
    Ok(json(answer))
}
