//! `/clustergroups`, from the mirror.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Paging, Read, project_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::{Listed, infra};

/// `{items: [...]}`, as the original normalises Palette's `summaries`.
pub async fn list(read: Read, page: Paging, req: HttpRequest) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            return t
                .items(
                    "items",
                    "/v1/clustergroups/hostCluster",
                    project.as_deref(),
                    page.0,
                )
                .await;
        }
    };
    m.listed(
        "items",
        Listed::ClusterGroups,
        Kind::ClusterGroup,
        project.as_deref(),
        page.0,
    )
    .await
}

pub async fn detail(
    read: Read,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("cluster group uid", &path)?;
    let asked = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let project = asked;
            let path = format!("/v1/clustergroups/{uid}");
            return t
                .object(t.get(path, project.as_deref()), "Cluster group")
                .await;
        }
    };
    let (project, json) = infra::cluster_group(&m.state.db, m.env.name(), uid)
        .await?
        .ok_or_else(|| not_found("Cluster group"))?;
    if !m.shows(Kind::ClusterGroup, project.as_deref(), asked.as_deref()) {
        return Err(not_found("Cluster group"));
    }
    Ok(m.raw(json))
}
