//! `/cloudaccounts`: aws, azure and vSphere accounts from the mirror (secrets removed); other
//! cloud types and the vSphere properties live.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::extract::{Live, Mirror, Paging, project_param, query_param, uid};
use super::respond::not_found;
use crate::auth::scope::Kind;
use crate::error::{AppError, AppResult};
use crate::palette::models;
use crate::store::infra;
use crate::sync::run::ACCOUNT_CLOUDS;

fn cloud_type(raw: &str) -> AppResult<String> {
    let c = raw.to_ascii_lowercase();
    if c.is_empty() || c.len() > 32 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(AppError::bad_request(format!(
            "invalid cloud type `{}`",
            raw.chars().take(32).collect::<String>()
        )));
    }
    Ok(c)
}

/// `{accounts: [...]}`.
pub async fn list(
    path: web::Path<String>,
    req: HttpRequest,
    page: Paging,
) -> AppResult<HttpResponse> {
    let cloud = cloud_type(&path)?;
    let project = project_param(&req)?;
    if !ACCOUNT_CLOUDS.contains(&cloud.as_str()) {
        // Not mirrored (gcp, maas, ...): ask Palette, and still never pass secrets on.
        let live = Live::extract(&req).await?;
        let answer = live
            .send(
                live.env
                    .client
                    .get(format!("/v1/cloudaccounts/{cloud}"))
                    .project(project.as_deref()),
            )
            .await?;
        let mut v: Value = answer.json("/v1/cloudaccounts").map_err(AppError::from)?;
        let mut items = match v.get_mut("items").map(Value::take) {
            Some(Value::Array(a)) => a,
            _ => match v {
                Value::Array(a) => a,
                _ => Vec::new(),
            },
        };
        items.iter_mut().for_each(models::strip_secrets);
        return Ok(Live::json(&json!({ "accounts": items })));
    }
    let m = Mirror::extract(&req).await?;
    let items = infra::accounts(
        &m.state.db,
        m.env.name(),
        &cloud,
        project.as_deref(),
        &m.filter(Kind::CloudAccount),
        page.0,
    )
    .await?;
    Ok(m.list("accounts", &items))
}

pub async fn detail(
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (c, a) = path.into_inner();
    let cloud = cloud_type(&c)?;
    let account = uid("cloud account uid", &a)?;
    if !ACCOUNT_CLOUDS.contains(&cloud.as_str()) {
        // Not mirrored: ask Palette, secrets stripped.
        let live = Live::extract(&req).await?;
        let project = project_param(&req)?;
        let answer = live
            .send(
                live.env
                    .client
                    .get(format!("/v1/cloudaccounts/{cloud}/{account}"))
                    .project(project.as_deref()),
            )
            .await?;
        let mut v: Value = answer.json("/v1/cloudaccounts").map_err(AppError::from)?;
        models::strip_secrets(&mut v);
        return Ok(Live::json(&v));
    }
    let m = Mirror::extract(&req).await?;
    let (project, json) = infra::account(&m.state.db, m.env.name(), &cloud, account)
        .await?
        .ok_or_else(|| not_found("Cloud account"))?;
    if !m.vis.sees(Kind::CloudAccount, project.as_deref()) {
        return Err(not_found("Cloud account"));
    }
    Ok(m.raw(json))
}

pub async fn vsphere_metadata(
    live: Live,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let account = uid("cloud account uid", &path)?;
    let project = project_param(&req)?;
    let answer = live
        .send(
            live.env
                .client
                .get(format!(
                    "/v1/cloudaccounts/vsphere/{account}/properties/datacenters"
                ))
                .project(project.as_deref()),
        )
        .await?;
    Ok(Live::json_bytes(answer.body))
}

pub async fn vsphere_resources(
    live: Live,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let account = uid("cloud account uid", &path)?;
    let (Some(dc), Some(cc)) = (
        query_param(&req, "datacenter").filter(|v| !v.is_empty()),
        query_param(&req, "computecluster").filter(|v| !v.is_empty()),
    ) else {
        return Err(AppError::bad_request(
            "datacenter and computecluster are required",
        ));
    };
    let project = project_param(&req)?;
    let answer = live
        .send(
            live.env
                .client
                .get(format!(
                    "/v1/cloudaccounts/vsphere/{account}/properties/computecluster/resources"
                ))
                .query("datacenter", dc)
                .query("computecluster", cc)
                .project(project.as_deref()),
        )
        .await?;
    Ok(Live::json_bytes(answer.body))
}
