//! `/cloudaccounts`: aws, azure and vSphere accounts from the mirror (secrets removed); other
//! cloud types and the vSphere properties live.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::extract::{Live, Paging, Read, project_param, query_param, uid};
use super::respond::not_found;
use super::through::page_of;
use crate::auth::scope::Kind;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::palette::models;
use crate::store::{Page, infra};
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

/// `{accounts: [...]}` live from Palette, secrets stripped.
async fn live_accounts(
    live: &Live,
    cloud: &str,
    project: Option<&str>,
    page: Page,
) -> AppResult<HttpResponse> {
    let path = format!("/v1/cloudaccounts/{cloud}");
    let answer = live
        .send(live.env.client.get(path.clone()).project(project))
        .await?;
    let mut v: Value = answer.json(&path).map_err(AppError::from)?;
    let mut items = match v.get_mut("items").map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => match v {
            Value::Array(a) => a,
            _ => Vec::new(),
        },
    };
    items.iter_mut().for_each(models::strip_secrets);
    Ok(Live::json(&json!({ "accounts": page_of(items, page) })))
}

/// One account live from Palette, secrets stripped.
async fn live_account(
    live: &Live,
    cloud: &str,
    account: &str,
    project: Option<&str>,
) -> AppResult<HttpResponse> {
    let path = format!("/v1/cloudaccounts/{cloud}/{account}");
    let answer = live
        .send(live.env.client.get(path.clone()).project(project))
        .await
        .map_err(|e| match e.code {
            ErrorCode::NotFound => not_found("Cloud account"),
            _ => e,
        })?;
    let mut v: Value = answer.json(&path).map_err(AppError::from)?;
    models::strip_secrets(&mut v);
    Ok(Live::json(&v))
}

/// `{accounts: [...]}`: aws, azure and vSphere from the mirror, other clouds (not mirrored:
/// gcp, maas, ...) from Palette.
pub async fn list(
    path: web::Path<String>,
    req: HttpRequest,
    page: Paging,
) -> AppResult<HttpResponse> {
    let cloud = cloud_type(&path)?;
    let project = project_param(&req)?;
    if !ACCOUNT_CLOUDS.contains(&cloud.as_str()) {
        let live = Live::extract(&req).await?;
        return live_accounts(&live, &cloud, project.as_deref(), page.0).await;
    }
    let m = match Read::extract(&req).await? {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            return live_accounts(&t.live, &cloud, project.as_deref(), page.0)
                .await
                .map_err(|e| t.unreachable(e));
        }
    };
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
    let project = project_param(&req)?;
    if !ACCOUNT_CLOUDS.contains(&cloud.as_str()) {
        let live = Live::extract(&req).await?;
        return live_account(&live, &cloud, account, project.as_deref()).await;
    }
    let m = match Read::extract(&req).await? {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            return live_account(&t.live, &cloud, account, project.as_deref())
                .await
                .map_err(|e| t.unreachable(e));
        }
    };
    let (owner, json) = infra::account(&m.state.db, m.env.name(), &cloud, account)
        .await?
        .ok_or_else(|| not_found("Cloud account"))?;
    if !m.shows(Kind::CloudAccount, owner.as_deref(), project.as_deref()) {
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
