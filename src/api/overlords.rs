//! `/overlords` (private cloud gateways) from the mirror; their vSphere IP pools live.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Live, Paging, Read, project_param, uid};
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::Listed;

/// `{items: [...]}`, Palette's own shape.
pub async fn list(read: Read, page: Paging, req: HttpRequest) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            return t
                .items("items", "/v1/overlords", project.as_deref(), page.0)
                .await;
        }
    };
    m.listed(
        "items",
        Listed::Overlords,
        Kind::Overlord,
        project.as_deref(),
        page.0,
    )
    .await
}

pub async fn ip_pools(
    live: Live,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let overlord = uid("overlord uid", &path)?;
    let project = project_param(&req)?;
    let answer = live
        .send(
            live.env
                .client
                .get(format!("/v1/overlords/vsphere/{overlord}/pools"))
                .project(project.as_deref()),
        )
        .await?;
    Ok(Live::json_bytes(answer.body))
}
