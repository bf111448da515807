//! `/profiles`: details, search, packs, variables and the reverse lookup, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::extract::{Context, Paging, project_param, query_param, uid};
use super::respond::json;
use crate::domain::{ProfileNames, Uid};
use crate::error::{AppError, AppResult};
use crate::service::profiles;

/// Any version uid: that version (Palette's `GET /v1/clusterprofiles/{uid}`).
pub async fn detail(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("profile uid", &path)?;
    let project = project_param(&req)?;
    Ok(json(profiles::detail(&ctx, &uid, project.as_ref()).await?))
}

/// The profile with packs (values, schema, presets); `versionUid` picks another version of
/// the same profile.
pub async fn packs(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("profile uid", &path)?;
    let version = Uid::optional("versionUid", query_param(&req, "versionUid").as_deref())?;
    let project = project_param(&req)?;
    let answer = profiles::packs(&ctx, &uid, version.as_ref(), project.as_ref()).await?;
    Ok(json(answer))
}

pub async fn variables(
    Context(ctx): Context,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("profile uid", &path)?;
    let project = project_param(&req)?;
    Ok(json(
        profiles::variables(&ctx, &uid, project.as_ref()).await?,
    ))
}

/// The body of `POST /profiles/search`.
#[derive(Deserialize)]
pub struct SearchBody {
    names: Option<Vec<String>>,
}

/// `{names: [...]}` → `{profiles: [...]}`: exact names, case-insensitive.
pub async fn search(
    body: web::Json<serde_json::Value>,
    Context(ctx): Context,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    // Any other shape (names missing, not an array of strings) is the original's 400.
    let names = serde_json::from_value::<SearchBody>(body.into_inner())
        .ok()
        .and_then(|b| b.names)
        .ok_or_else(|| AppError::bad_request("names array is required in request body"))?;
    let names = ProfileNames::parse(names)?;
    let project = project_param(&req)?;
    Ok(json(
        profiles::search(&ctx, &names, project.as_ref()).await?,
    ))
}

/// The reverse lookup: every cluster on ANY version of the profile.
pub async fn clusters(
    Context(ctx): Context,
    path: web::Path<String>,
    page: Paging,
) -> AppResult<HttpResponse> {
    let uid = uid("profile uid", &path)?;
    Ok(json(profiles::clusters(&ctx, &uid, page.0).await?))
}
