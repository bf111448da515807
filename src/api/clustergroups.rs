//! `/clustergroups`, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Mirror, Paging, project_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::{Listed, infra};

/// `{items: [...]}`, as the original normalises Palette's `summaries`.
pub async fn list(m: Mirror, page: Paging, req: HttpRequest) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    m.listed(
        "items",
        Listed::ClusterGroups,
        Kind::ClusterGroup,
        project.as_deref(),
        page.0,
    )
    .await
}

pub async fn detail(m: Mirror, path: web::Path<String>) -> AppResult<HttpResponse> {
    let uid = uid("cluster group uid", &path)?;
    let (project, json) = infra::cluster_group(&m.state.db, m.env.name(), uid)
        .await?
        .ok_or_else(|| not_found("Cluster group"))?;
    if !m.vis.sees(Kind::ClusterGroup, project.as_deref()) {
        return Err(not_found("Cluster group"));
    }
    Ok(m.raw(json))
}
