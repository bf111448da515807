//! Usage reports Palette cannot answer cheaply; they need the mirror.

use serde_json::json;

use super::{Answer, Ctx};
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::reports;

/// Every profile with the number of clusters on each of its versions, most used first.
pub async fn profile_usage(ctx: &Ctx) -> AppResult<Answer> {
    let m = ctx.mirror().await?;
    let (pf, cf) = (m.filter(Kind::Profile), m.filter(Kind::Cluster));
    let profiles = reports::profile_usage(m.db(), m.env(), &pf, &cf).await?;
    let unused = profiles.iter().filter(|p| p.clusters == 0).count();
    m.json(&json!({ "environment": m.env(), "unused": unused, "profiles": profiles }))
}

/// Clusters per pack and tag; `name` (and `tag`) narrow it and list the clusters.
pub async fn pack_usage(ctx: &Ctx, name: Option<&str>, tag: Option<&str>) -> AppResult<Answer> {
    let m = ctx.mirror().await?;
    let f = m.filter(Kind::Cluster);
    let packs = reports::pack_usage(m.db(), m.env(), name, tag, &f).await?;
    m.json(&json!({ "environment": m.env(), "packs": packs }))
}
