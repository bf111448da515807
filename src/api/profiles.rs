//! `/profiles`: details, search, packs, variables and the reverse lookup, from the mirror.

use actix_web::{HttpRequest, web};
use serde::Deserialize;

use super::extract::{Context, Paging, Project, Target, query_param};
use super::respond::{Reply, json};
use crate::domain::{ProfileNames, Uid};
use crate::error::AppError;
use crate::service::profiles;

/// Any version uid: that version (Palette's `GET /v1/clusterprofiles/{uid}`).
pub async fn detail(Context(ctx): Context, t: Target) -> Reply {
    Ok(json(profiles::detail(&ctx, &t.uid, t.project()).await?))
}

/// The profile with packs (values, schema, presets); `versionUid` picks another version of
/// the same profile.
pub async fn packs(Context(ctx): Context, t: Target, req: HttpRequest) -> Reply {
    let version = Uid::optional("versionUid", query_param(&req, "versionUid").as_deref())?;
    let answer = profiles::packs(&ctx, &t.uid, version.as_ref(), t.project()).await?;
    Ok(json(answer))
}

pub async fn variables(Context(ctx): Context, t: Target) -> Reply {
    Ok(json(profiles::variables(&ctx, &t.uid, t.project()).await?))
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
    Project(project): Project,
) -> Reply {
    // Any other shape (names missing, not an array of strings) is the original's 400.
    let names = serde_json::from_value::<SearchBody>(body.into_inner())
        .ok()
        .and_then(|b| b.names)
        .ok_or_else(|| AppError::bad_request("names array is required in request body"))?;
    let names = ProfileNames::parse(names)?;
    Ok(json(
        profiles::search(&ctx, &names, project.as_ref()).await?,
    ))
}

/// The reverse lookup: every cluster on ANY version of the profile.
pub async fn clusters(Context(ctx): Context, t: Target, page: Paging) -> Reply {
    Ok(json(profiles::clusters(&ctx, &t.uid, page.0).await?))
}
