//! `/reports`: usage questions Palette cannot answer cheaply, from the mirror.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::{Mirror, query_param};
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::reports;

/// Every profile with the number of clusters on each of its versions, most used first.
pub async fn profile_usage(m: Mirror) -> AppResult<HttpResponse> {
    let profiles = reports::profile_usage(
        &m.state.db,
        m.env.name(),
        &m.filter(Kind::Profile),
        &m.filter(Kind::Cluster),
    )
    .await?;
    let unused = profiles.iter().filter(|p| p.clusters == 0).count();
    Ok(m.json(&json!({ "environment": m.env.name(), "unused": unused, "profiles": profiles })))
}

/// Clusters per pack and tag; `name` (and `tag`) narrow it and list the clusters.
pub async fn pack_usage(m: Mirror, req: HttpRequest) -> AppResult<HttpResponse> {
    let name = query_param(&req, "name").filter(|v| !v.is_empty());
    let tag = query_param(&req, "tag").filter(|v| !v.is_empty());
    let packs = reports::pack_usage(
        &m.state.db,
        m.env.name(),
        name.as_deref(),
        tag.as_deref(),
        &m.filter(Kind::Cluster),
    )
    .await?;
    Ok(m.json(&json!({ "environment": m.env.name(), "packs": packs })))
}
