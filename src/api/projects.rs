//! `/projects` and `/projects/{projectUid}/profiles`, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};

use serde_json::{Value, json};

use super::extract::{Live, Paging, Read, query_param, uid};
use super::respond::not_found;
use super::through::page_of;
use crate::auth::scope::Kind;
use crate::error::{AppError, AppResult};
use crate::palette::models;
use crate::store::{profiles, projects};

pub async fn list(read: Read, page: Paging) -> AppResult<HttpResponse> {
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let items = page_of(t.projects().await?, page.0);
            return Ok(Live::json(&json!({ "projects": items })));
        }
    };
    let items = projects::list(&m.state.db, m.env.name(), m.vis.projects(), page.0).await?;
    Ok(m.list("projects", &items))
}

/// Profiles usable in a project (its own and tenant ones), newest first. As the original:
/// `profileType` filters one type, default infra and cluster profiles; `cloudType` filters.
pub async fn profiles(
    read: Read,
    path: web::Path<String>,
    page: Paging,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let project = uid("project uid", &path)?;
    let cloud_type = query_param(&req, "cloudType").filter(|c| !c.is_empty());
    let types = match query_param(&req, "profileType").filter(|t| !t.is_empty()) {
        Some(t) if ["infra", "cluster", "add-on", "system"].contains(&t.as_str()) => vec![t],
        Some(t) => {
            return Err(AppError::bad_request(format!(
                "unknown profileType `{t}`: use infra, cluster, add-on or system"
            )));
        }
        None => vec!["infra".to_string(), "cluster".to_string()],
    };
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let known = t.projects().await?;
            if !known.iter().any(|p| models::uid(p) == Some(project)) {
                return Err(not_found("Project"));
            }
            // The original's query; Palette filters, and so do we in case it did not.
            let mut filter = json!({"profileType": types, "resourceType": "spectrocluster"});
            if let Some(c) = &cloud_type {
                filter["environment"] = json!([c]);
            }
            let body = json!({"filter": filter, "sort": [{"field": "lastModifiedTimestamp", "order": "desc"}]});
            let items: Vec<Value> = t
                .profiles_in(Some(project), body)
                .await?
                .into_iter()
                .filter(|p| {
                    types.iter().any(|t| t == models::profile_type(p))
                        && cloud_type
                            .as_deref()
                            .is_none_or(|c| c == models::profile_cloud_type(p))
                })
                .collect();
            return Ok(Live::json(&json!({ "profiles": page_of(items, page.0) })));
        }
    };
    let visible = m
        .vis
        .projects()
        .is_none_or(|p| p.iter().any(|x| x == project));
    if !visible || !projects::exists(&m.state.db, m.env.name(), project).await? {
        return Err(not_found("Project"));
    }
    let filter = m.filter(Kind::Profile);
    let items = profiles::for_project(
        &m.state.db,
        m.env.name(),
        project,
        cloud_type.as_deref(),
        &types,
        &filter,
        page.0,
    )
    .await?;
    Ok(m.list("profiles", &items))
}
