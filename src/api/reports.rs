//! `/reports`: usage questions Palette cannot answer cheaply, from the mirror; JSON, or CSV
//! with `format=csv`.

use actix_web::{HttpRequest, HttpResponse};

use super::extract::{Context, project_param, query_param};
use super::respond::{csv, json};
use crate::domain::{CloudType, ProfileType};
use crate::error::{AppError, AppResult};
use crate::service::reports::{self, PackUsageFilter, ProfileUsageFilter};

/// A `true|false` query parameter (absent = false).
fn flag(req: &HttpRequest, name: &str) -> AppResult<bool> {
    match query_param(req, name).as_deref() {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(AppError::bad_request(format!(
            "{name} must be true or false"
        ))),
    }
}

/// `format=json` (default) or `format=csv`.
fn wants_csv(req: &HttpRequest) -> AppResult<bool> {
    match query_param(req, "format").as_deref() {
        None | Some("") | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(AppError::bad_request("format must be json or csv")),
    }
}

fn text(req: &HttpRequest, name: &str) -> Option<String> {
    query_param(req, name).filter(|v| !v.is_empty())
}

/// Every profile with the clusters on each of its versions, most used first.
pub async fn profile_usage(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let include = match text(&req, "include").as_deref() {
        None => false,
        Some("clusters") => true,
        Some(_) => return Err(AppError::bad_request("include must be `clusters`")),
    };
    let filter = ProfileUsageFilter {
        name: text(&req, "name"),
        unused_only: flag(&req, "unusedOnly")?,
        project_uid: project_param(&req)?,
        profile_type: text(&req, "profileType")
            .map(|t| ProfileType::parse(&t))
            .transpose()?,
        cloud_type: CloudType::optional(query_param(&req, "cloudType").as_deref())?,
        include_clusters: include,
    };
    if wants_csv(&req)? {
        let answer = reports::profile_usage_csv(&ctx, &filter).await?;
        return Ok(csv(answer, "profile-usage.csv"));
    }
    Ok(json(reports::profile_usage(&ctx, &filter).await?))
}

/// Clusters per pack and version; `name` (and `version` as a prefix, or an exact `tag`)
/// narrow it and list the clusters.
pub async fn pack_usage(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let filter = PackUsageFilter {
        name: text(&req, "name"),
        tag: text(&req, "tag"),
        version: text(&req, "version"),
    };
    if wants_csv(&req)? {
        let answer = reports::pack_usage_csv(&ctx, &filter).await?;
        return Ok(csv(answer, "pack-usage.csv"));
    }
    Ok(json(reports::pack_usage(&ctx, &filter).await?))
}

/// Clusters per environment by state, health, cloud type, kubernetes version and project,
/// with each mirror's freshness; `instance` narrows it to one environment.
pub async fn fleet(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let all = text(&req, "instance").is_none();
    Ok(json(reports::fleet(&ctx, all).await?))
}
