//! `/reports`: usage questions Palette cannot answer cheaply, from the mirror.

use actix_web::{HttpRequest, HttpResponse};

use super::extract::{Context, query_param};
use super::respond::json;
use crate::error::{AppError, AppResult};
use crate::service::reports::{self, ProfileUsageFilter};

/// Every profile with the number of clusters on each of its versions, most used first;
/// `name` (substring) and `unusedOnly=true` narrow it.
pub async fn profile_usage(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let unused_only = match query_param(&req, "unusedOnly").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::bad_request("unusedOnly must be true or false")),
    };
    let filter = ProfileUsageFilter {
        name: query_param(&req, "name").filter(|v| !v.is_empty()),
        unused_only,
    };
    Ok(json(reports::profile_usage(&ctx, &filter).await?))
}

/// Clusters per pack and tag; `name` (and `tag`) narrow it and list the clusters.
pub async fn pack_usage(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let name = query_param(&req, "name").filter(|v| !v.is_empty());
    let tag = query_param(&req, "tag").filter(|v| !v.is_empty());
    Ok(json(
        reports::pack_usage(&ctx, name.as_deref(), tag.as_deref()).await?,
    ))
}
