//! `/profiles`: details, search, packs, variables and the reverse lookup, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::extract::{Live, Mirror, Paging, Read, project_param, query_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::{AppError, AppResult};
use crate::palette::models;
use crate::store::profiles::{self, VersionRecord};

/// A profile version the caller may see (in project `asked`, when given).
async fn visible_version(m: &Mirror, uid: &str, asked: Option<&str>) -> AppResult<VersionRecord> {
    let v = profiles::version(&m.state.db, m.env.name(), uid)
        .await?
        .ok_or_else(|| not_found("Profile"))?;
    if !m.shows(Kind::Profile, v.project_uid.as_deref(), asked) {
        return Err(not_found("Profile"));
    }
    Ok(v)
}

/// Any version uid: that version (Palette's `GET /v1/clusterprofiles/{uid}`).
pub async fn detail(
    read: Read,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("profile uid", &path)?;
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let call = t
                .get(format!("/v1/clusterprofiles/{uid}"), project.as_deref())
                .query("includePackMeta", "schema,presets");
            return t.object(call, "Profile").await;
        }
    };
    let v = visible_version(&m, uid, project.as_deref()).await?;
    Ok(m.raw(v.json))
}

/// The profile with packs (values, schema, presets); `versionUid` picks another version of
/// the same profile.
pub async fn packs(
    read: Read,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("profile uid", &path)?;
    let version = match query_param(&req, "versionUid").filter(|v| !v.is_empty() && v != uid) {
        Some(v) => Some(super::extract::uid("versionUid", &v)?.to_string()),
        None => None,
    };
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            // As the original: the profile, or one of its versions.
            let path = match &version {
                Some(v) => format!("/v1/clusterprofiles/{uid}/versions/{v}"),
                None => format!("/v1/clusterprofiles/{uid}"),
            };
            let call = t
                .get(path, project.as_deref())
                .query("includePackMeta", "schema,presets");
            return t.object(call, "Profile").await;
        }
    };
    let base = visible_version(&m, uid, project.as_deref()).await?;
    let Some(version) = version.filter(|v| *v != base.uid) else {
        return Ok(m.raw(base.json));
    };
    let other = visible_version(&m, &version, project.as_deref()).await?;
    if other.profile_uid != base.profile_uid {
        return Err(not_found("Profile version"));
    }
    Ok(m.raw(other.json))
}

pub async fn variables(
    read: Read,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("profile uid", &path)?;
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let path = format!("/v1/clusterprofiles/{uid}/variables");
            return t.object(t.get(path, project.as_deref()), "Profile").await;
        }
    };
    let v = visible_version(&m, uid, project.as_deref()).await?;
    let vars = profiles::variables(&m.state.db, m.env.name(), &v.uid).await?;
    Ok(m.raw(vars.unwrap_or_else(|| "{\"variables\":[]}".into())))
}

/// `{names: [...]}` → `{profiles: [...]}`: exact names, case-insensitive.
pub async fn search(
    body: web::Json<Value>,
    read: Read,
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
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            // Every page (the original read only the first), then exact names, any case.
            let lowered: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
            let body = json!({"filter": {}, "sort": [{"field": "profileName", "order": "asc"}]});
            let items: Vec<Value> = t
                .profiles_in(project.as_deref(), body)
                .await?
                .into_iter()
                .filter(|p| lowered.contains(&models::name(p).to_lowercase()))
                .collect();
            return Ok(Live::json(&json!({ "profiles": items })));
        }
    };
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
    let v = visible_version(&m, uid("profile uid", &path)?, None).await?;
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
