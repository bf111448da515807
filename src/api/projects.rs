//! `/projects` and `/projects/{projectUid}/profiles`, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Mirror, Paging, query_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::{AppError, AppResult};
use crate::store::{profiles, projects};

pub async fn list(m: Mirror, page: Paging) -> AppResult<HttpResponse> {
    let items = projects::list(&m.state.db, m.env.name(), m.vis.projects(), page.0).await?;
    Ok(m.list("projects", &items))
}

/// Profiles usable in a project (its own and tenant ones), newest first. As the original:
/// `profileType` filters one type, default infra and cluster profiles; `cloudType` filters.
pub async fn profiles(
    m: Mirror,
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
