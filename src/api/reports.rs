//! `/reports`: usage questions Palette cannot answer cheaply, from the mirror.

use actix_web::{HttpRequest, HttpResponse};

use super::extract::{Context, query_param};
use super::respond::json;
use crate::error::AppResult;
use crate::service::reports;

/// Every profile with the number of clusters on each of its versions, most used first.
pub async fn profile_usage(Context(ctx): Context) -> AppResult<HttpResponse> {
    Ok(json(reports::profile_usage(&ctx).await?))
}

/// Clusters per pack and tag; `name` (and `tag`) narrow it and list the clusters.
pub async fn pack_usage(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let name = query_param(&req, "name").filter(|v| !v.is_empty());
    let tag = query_param(&req, "tag").filter(|v| !v.is_empty());
    Ok(json(
        reports::pack_usage(&ctx, name.as_deref(), tag.as_deref()).await?,
    ))
}
