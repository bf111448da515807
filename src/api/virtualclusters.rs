//! `/virtualclusters`: list and details from the mirror; kubeconfig and creation live.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::clusters::{kubeconfig_answer, visible};
use super::extract::{Live, Mirror, Paging, project_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::Listed;

pub async fn list(m: Mirror, page: Paging) -> AppResult<HttpResponse> {
    m.listed(
        "virtualClusters",
        Listed::VirtualClusters,
        Kind::VirtualCluster,
        None,
        page.0,
    )
    .await
}

/// Details of a cluster only if it is virtual (cloud type `nested`), as the original.
pub async fn detail(
    m: Mirror,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("virtual cluster uid", &path)?;
    let c = visible(&m, uid, project_param(&req)?.as_deref(), "Virtual cluster").await?;
    if c.cloud_type != "nested" {
        return Err(not_found("Virtual cluster"));
    }
    Ok(m.raw(c.detail_json.ok_or_else(|| not_found("Virtual cluster"))?))
}

pub async fn kubeconfig(
    live: Live,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("virtual cluster uid", &path)?;
    kubeconfig_answer(&live, uid, &req, format!("{uid}-vcluster-kubeconfig.yaml")).await
}

pub async fn create(
    body: web::Json<Value>,
    live: Live,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    crate::create::create_virtual(&live, project.as_deref(), body.into_inner()).await
}
