//! `/profiles`: details, search, packs, variables and the reverse lookup, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::extract::{Mirror, Paging, project_param, query_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::{AppError, AppResult};
use crate::store::profiles::{self, VersionRecord};

/// A profile version the caller may see.
async fn visible_version(m: &Mirror, uid: &str) -> AppResult<VersionRecord> {
    let v = profiles::version(&m.state.db, m.env.name(), uid)
        .await?
        .ok_or_else(|| not_found("Profile"))?;
    if !m.vis.sees(Kind::Profile, v.project_uid.as_deref()) {
        return Err(not_found("Profile"));
    }
    Ok(v)
}

/// Any version uid: that version (Palette's `GET /v1/clusterprofiles/{uid}`).
pub async fn detail(m: Mirror, path: web::Path<String>) -> AppResult<HttpResponse> {
    let v = visible_version(&m, uid("profile uid", &path)?).await?;
    Ok(m.raw(v.json))
}

/// The profile with packs (values, schema, presets); `versionUid` picks another version of
/// the same profile.
pub async fn packs(
    m: Mirror,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let base = visible_version(&m, uid("profile uid", &path)?).await?;
    let Some(version) = query_param(&req, "versionUid").filter(|v| !v.is_empty() && *v != base.uid)
    else {
        return Ok(m.raw(base.json));
    };
    let other = visible_version(&m, uid("versionUid", &version)?).await?;
    if other.profile_uid != base.profile_uid {
        return Err(not_found("Profile version"));
    }
    Ok(m.raw(other.json))
}

pub async fn variables(m: Mirror, path: web::Path<String>) -> AppResult<HttpResponse> {
    let v = visible_version(&m, uid("profile uid", &path)?).await?;
    let vars = profiles::variables(&m.state.db, m.env.name(), &v.uid).await?;
    Ok(m.raw(vars.unwrap_or_else(|| "{\"variables\":[]}".into())))
}

/// `{names: [...]}` → `{profiles: [...]}`: exact names, case-insensitive.
pub async fn search(
    body: web::Json<Value>,
    m: Mirror,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let names: Vec<String> = match body.get("names").and_then(Value::as_array) {
        Some(a) if !a.is_empty() && a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        _ => {
            return Err(AppError::bad_request(
                "names array is required in request body",
            ));
        }
    };
    let project = project_param(&req)?;
    let items = profiles::search_by_names(
        &m.state.db,
        m.env.name(),
        &names,
        project.as_deref(),
        &m.filter(Kind::Profile),
    )
    .await?;
    Ok(m.list("profiles", &items))
}

/// The reverse lookup: every cluster on ANY version of the profile (given by any of its version
/// uids), each with the version it runs, state, project and cloud type.
pub async fn clusters(m: Mirror, path: web::Path<String>, page: Paging) -> AppResult<HttpResponse> {
    let v = visible_version(&m, uid("profile uid", &path)?).await?;
    let profile = profiles::lineage(&m.state.db, m.env.name(), &v.uid)
        .await?
        .ok_or_else(|| not_found("Profile"))?;
    let (clusters, total) = profiles::clusters_on(
        &m.state.db,
        m.env.name(),
        &v.profile_uid,
        &m.filter(Kind::Cluster),
        page.0,
    )
    .await?;
    Ok(m.json(&json!({ "profile": profile, "clusters": clusters, "total": total })))
}
