//! `/virtualclusters`: list and details from the mirror; kubeconfig and creation live.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::clusters::{kubeconfig_answer, visible};
use super::extract::{Live, Paging, Read, project_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::palette::models;
use crate::store::Listed;

pub async fn list(read: Read, page: Paging) -> AppResult<HttpResponse> {
    match read {
        Read::Mirror(m) => {
            m.listed(
                "virtualClusters",
                Listed::VirtualClusters,
                Kind::VirtualCluster,
                None,
                page.0,
            )
            .await
        }
        Read::Through(t) => {
            t.everywhere("virtualClusters", Kind::VirtualCluster, page.0, |s| {
                t.virtual_clusters_in(s)
            })
            .await
        }
    }
}

/// Details of a cluster only if it is virtual (cloud type `nested`), as the original.
pub async fn detail(
    read: Read,
    path: web::Path<String>,
    req: HttpRequest,
    caller: crate::auth::Caller,
) -> AppResult<HttpResponse> {
    let uid = uid("virtual cluster uid", &path)?;
    let project = project_param(&req)?;
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let path = format!("/v1/dashboard/spectroclusters/{uid}");
            let v = t
                .value(t.get(path, project.as_deref()), "Virtual cluster")
                .await?;
            if models::cloud_type(&v) != "nested" {
                return Err(not_found("Virtual cluster"));
            }
            return Ok(Live::json(&v));
        }
    };
    let c = visible(&m, uid, project.as_deref(), "Virtual cluster").await?;
    if c.cloud_type != "nested" {
        return Err(not_found("Virtual cluster"));
    }
    match c.detail_json {
        Some(d) => Ok(m.raw(d)),
        // Listed, details not synced yet.
        None => {
            let t = m.through(caller);
            let path = format!("/v1/dashboard/spectroclusters/{uid}");
            let project = project.or(c.project_uid);
            let v = t
                .value(t.get(path, project.as_deref()), "Virtual cluster")
                .await?;
            Ok(Live::json(&v))
        }
    }
}

pub async fn kubeconfig(
    live: Live,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let uid = uid("virtual cluster uid", &path)?;
    kubeconfig_answer(&live, uid, &req, format!("{uid}-vcluster-kubeconfig.yaml"))
        .await
        .map_err(|e| match e.code {
            ErrorCode::NotFound => AppError::not_found("Kubeconfig not found for virtual cluster"),
            _ => e,
        })
}

pub async fn create(
    body: web::Json<Value>,
    live: Live,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    super::clusters::creation(&live, &req, body.into_inner(), true).await
}
